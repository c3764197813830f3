/**
 * Per-flow state owned by the flow table. Direction 0 is the client (originator) side.
 * Per-direction state lives in two FlowSide objects indexed by Dir (no allocation per packet).
 */
import type { DissectorRecord, FlowDissector, AnyDissectorSpec } from '../contract/api.js';
import type { TcpStream } from './tcp-reassembly.js';
import type { FlowRecord, FlowTunnel } from './record.js';

export const FlowList = { TcpOpen: 0, TcpClosing: 1, Udp: 2 } as const;
export type FlowList = (typeof FlowList)[keyof typeof FlowList];

/** Where a flow stands with its dissector. */
export const AppState = {
  Unclassified: 0, // probing
  Attached: 1, // a dissector is fed
  Unknown: 2, // nothing recognised the content
  Finished: 3, // dissector done (or aborted): counting only
} as const;
export type AppState = (typeof AppState)[keyof typeof AppState];

export interface SynOptions {
  opts: Uint8Array | null;
  win: number;
  ackOpts: Uint8Array | null;
  ackWin: number;
}

/** One direction of a flow: counters, TCP sequence state, reassembly and payload features. */
export class FlowSide {
  // counters
  packets = 0;
  /** Payload bytes (as the headers state them). */
  bytes = 0;
  ipBytes = 0;
  retrans = 0;
  flags = 0;
  firstTs = 0;
  lastTs = 0;

  // TCP sequence tracking (for retransmission counting in counting-only mode)
  isn = -1;
  /** Highest relative sequence end seen. */
  seqHigh = 0;
  fin = false;
  /** The ACK number that acknowledges this direction's FIN (-1: no FIN yet), and whether seen. */
  finAck = -1;
  finAcked = false;

  // reassembly and dissection (null once counting only)
  stream: TcpStream | null = null;
  need = 0;
  /** The dissector wants no more bytes of this direction. */
  done = false;
  probeBytes = 0;
  /** Stream offset classification looks from (moves past an HTTP CONNECT / upgrade). */
  probeFrom = 0;

  // payload features
  /** First bytes of the stream (copied), for content classification of unknown flows. */
  head: Uint8Array | null = null;
  /** Stream offset where application payload starts (-1: not yet known). */
  payloadStart = -1;
  /** Stream offset fed into the entropy histogram so far. */
  entropyFed = 0;
  entropyHist: Uint32Array | null = null;
  entropyN = 0;
  /** Times and sizes of the first small payload packets (the record's smallRecords entry). */
  small: { ts: number[]; sizes: number[] } | null = null;
  /** Payload sizes after the payload start (TLS application-data records), first few. */
  appSizes: number[] | null = null;
  /** SHA-256 (hex) of certificates handed off, in message order. */
  certs: string[] | null = null;

  /** Back to the state of a new side (every field above, with the same initial value). */
  reset(): void {
    this.packets = 0; this.bytes = 0; this.ipBytes = 0; this.retrans = 0; this.flags = 0; this.firstTs = 0; this.lastTs = 0;
    this.isn = -1; this.seqHigh = 0; this.fin = false; this.finAck = -1; this.finAcked = false;
    this.stream = null; this.need = 0; this.done = false; this.probeBytes = 0; this.probeFrom = 0;
    this.head = null; this.payloadStart = -1; this.entropyFed = 0; this.entropyHist = null; this.entropyN = 0;
    this.small = null; this.appSizes = null; this.certs = null;
  }
}

export class Flow {
  /** Discriminates the table's entries: a Flow, or the Tomb a closed connection leaves. */
  readonly tomb = false as const;
  // identity (client side = a*, server side = b*)
  hash = 0;
  id = 0;
  ipVersion: 4 | 6 = 4;
  proto = 6;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0; aPort = 0;
  b0 = 0; b1 = 0; b2 = 0; b3 = 0; bPort = 0;
  vlan = 0;
  tunnelDepth = 0;
  /** The outermost tunnel that carried the flow's first packet (null when not tunnelled). */
  tunnel: FlowTunnel | null = null;
  directionFromSyn = false;

  // hash chain + activity list links
  chain: TableEntry | null = null;
  prev: TableEntry | null = null;
  next: TableEntry | null = null;
  list: FlowList = FlowList.Udp;

  /** Per-direction state: two objects of scalars (not an array per field, nor a tuple of two). */
  toServer = new FlowSide();
  toClient = new FlowSide();
  startTs = 0;
  lastSeen = 0;
  /** The table's `seq` when this flow last went to the tail of its activity list (sharded replays). */
  seq = 0;
  rst = false;

  // reassembly and dissection (null/empty once counting only)
  app: AppState = AppState.Unclassified;
  spec: AnyDissectorSpec | null = null;
  dissector: FlowDissector | null = null;
  records: DissectorRecord[] | null = null;
  /** Candidates ruled out by probes (bit i = registry index i). */
  probeNo = 0;
  confirmed = false;
  /** Dissectors that finished before a re-probe (e.g. HTTP before CONNECT → TLS), with their records. */
  earlier: { spec: AnyDissectorSpec; records: DissectorRecord[] }[] | null = null;
  /** The protocol the flow switched to in place (STARTTLS → 'tls'), keeping its label; null if none. */
  upgraded: string | null = null;
  /** After an upgrade: whether the new dissector was given any byte (a switch may go unanswered). */
  upgradeFed = false;
  /** Protocol decided without a dissector (e.g. 'ssh' by banner) or by the dissector. */
  protocol: string | null = null;

  events: string[] | null = null;
  limits: string[] | null = null;

  /**
   * Closed by FIN both ways: dissection ended and the record was built then (`record`); the flow
   * stays in the table for the close delay so late ACKs and retransmissions still count.
   */
  closed = false;
  record: FlowRecord | null = null;
  /**
   * The record went out when both FINs were acknowledged; from then on a Tomb stands in the table
   * in this flow's place until the close delay ends (see Tomb).
   */
  emitted = false;

  /** JA4T/JA4TS inputs (SYN / SYN-ACK TCP options, copied), only when JA4+ is on. */
  syn: SynOptions | null = null;

  /**
   * Back to the state of a new Flow, for the table to reuse (FlowTable.recycle). Every field is
   * set to its initial value; arrays and objects a record took with it are replaced, not cleared.
   */
  reset(): void {
    this.hash = 0; this.id = 0; this.ipVersion = 4; this.proto = 6;
    this.a0 = 0; this.a1 = 0; this.a2 = 0; this.a3 = 0; this.aPort = 0;
    this.b0 = 0; this.b1 = 0; this.b2 = 0; this.b3 = 0; this.bPort = 0;
    this.vlan = 0; this.tunnelDepth = 0; this.tunnel = null; this.directionFromSyn = false;
    this.chain = null; this.prev = null; this.next = null; this.list = FlowList.Udp;
    this.toServer.reset(); this.toClient.reset();
    this.startTs = 0; this.lastSeen = 0; this.seq = 0; this.rst = false;
    this.app = AppState.Unclassified; this.spec = null; this.dissector = null; this.records = null;
    this.probeNo = 0; this.confirmed = false; this.earlier = null; this.upgraded = null; this.upgradeFed = false; this.protocol = null;
    this.events = null; this.limits = null; this.closed = false; this.record = null; this.emitted = false;
    this.syn = null;
  }

  /**
   * True while the flow has carried no payload either way and holds no dissection state: what
   * a flood, a scan or an unanswered SYN leaves. Once its record is built nothing else refers to
   * such a flow, so the table may reuse the object.
   */
  get embryonic(): boolean {
    return this.toServer.bytes === 0 && this.toClient.bytes === 0 && this.app === AppState.Unclassified && this.spec === null && this.dissector === null && this.earlier === null && this.record === null && !this.emitted && this.toServer.stream === null && this.toClient.stream === null;
  }

  /**
   * True when, once its record is built, nothing but the table refers to the flow, so the table may
   * reuse the object: an embryonic flow, or a UDP flow. UDP has no streams and no close to wait
   * for, and a UDP dissector's state belongs to its flow and ends with it (the dissector and its
   * records go when the flow is reset). A flood of lookups makes a UDP flow per query, and each
   * lives long enough to reach the old generation before it ends.
   */
  get reusable(): boolean {
    if (this.proto !== 17) return this.embryonic;
    return this.record === null && !this.emitted && this.toServer.stream === null && this.toClient.stream === null;
  }

  /**
   * The record is out and a Tomb took this flow's place in the table: let go of what the record
   * took with it (events, limits, small-record lists) and what dissection left behind, so none
   * of it is kept alive by whoever still holds the flow.
   */
  shed(): void {
    this.spec = null;
    this.dissector = null;
    this.records = null;
    this.earlier = null;
    this.events = null;
    this.limits = null;
    this.record = null;
    this.syn = null;
    shedSide(this.toServer);
    shedSide(this.toClient);
  }

  /**
   * The other endpoint is the client after all (a flow picked up mid-stream, whose first packet's
   * ports guessed wrong): endpoints and per-direction state change places. The table's key is
   * direction-free, so the flow stays where it is.
   */
  swapRoles(): void {
    const { a0, a1, a2, a3, aPort } = this;
    this.a0 = this.b0; this.a1 = this.b1; this.a2 = this.b2; this.a3 = this.b3; this.aPort = this.bPort;
    this.b0 = a0; this.b1 = a1; this.b2 = a2; this.b3 = a3; this.bPort = aPort;
    const s = this.toServer;
    this.toServer = this.toClient;
    this.toClient = s;
    const t = this.tunnel;
    if (t !== null) { const c = t.outerClient; t.outerClient = t.outerServer; t.outerServer = c; }
  }

  /** Direction d's state (0 = client → server). */
  side(d: number): FlowSide {
    return d === 0 ? this.toServer : this.toClient;
  }

  addEvent(id: string): void {
    const ev = this.events ?? (this.events = []);
    if (ev.length < 64 && !ev.includes(id)) ev.push(id);
  }

  addLimit(id: string): void {
    const l = this.limits ?? (this.limits = []);
    if (!l.includes(id)) l.push(id);
  }
}

/** Streams are already released when dissection ended (Engine.release); the rest goes here. */
function shedSide(s: FlowSide): void {
  s.head = null;
  s.small = null;
  s.appSizes = null;
  s.certs = null;
}

/**
 * What a cleanly closed TCP connection leaves in the flow table once its record is out (both FINs
 * acknowledged): identity and table links only, for the close delay, so late ACKs and
 * retransmissions are counted (engine stats) instead of making a new flow, and a SYN reusing the
 * ports starts a new one. About a sixth of a Flow with its two sides: a busy sensor keeps one per
 * connection closed in the last few seconds, and these are what outlives the young generation.
 */
export class Tomb {
  readonly tomb = true as const;
  hash = 0;
  proto = 0;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0; aPort = 0;
  b0 = 0; b1 = 0; b2 = 0; b3 = 0; bPort = 0;
  chain: TableEntry | null = null;
  prev: TableEntry | null = null;
  next: TableEntry | null = null;
  list: FlowList = FlowList.TcpClosing;
  startTs = 0;
  lastSeen = 0;
  seq = 0;

  constructor(f: Flow) {
    this.init(f);
  }

  /** Stand in for `f` (a new tomb, or one the table reuses). */
  init(f: Flow): this {
    this.hash = f.hash;
    this.proto = f.proto;
    this.a0 = f.a0; this.a1 = f.a1; this.a2 = f.a2; this.a3 = f.a3; this.aPort = f.aPort;
    this.b0 = f.b0; this.b1 = f.b1; this.b2 = f.b2; this.b3 = f.b3; this.bPort = f.bPort;
    this.chain = null; this.prev = null; this.next = null;
    this.list = f.list;
    this.startTs = f.startTs;
    this.lastSeen = f.lastSeen;
    this.seq = 0;
    return this;
  }
}

/** An entry of the flow table. */
export type TableEntry = Flow | Tomb;
