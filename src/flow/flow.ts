/**
 * Per-flow state owned by the flow table. Direction 0 is the client (originator) side.
 * Counters are plain numeric fields and two-element arrays indexed by Dir (no allocation per packet).
 */
import type { DissectorRecord, FlowDissector, AnyDissectorSpec } from '../dissect/api.js';
import type { TcpStream } from './tcp-reassembly.js';
import type { FlowRecord } from './record.js';

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

export class Flow {
  // identity (client side = a*, server side = b*)
  hash = 0;
  id = 0;
  ipVersion: 4 | 6 = 4;
  proto = 6;
  a0 = 0; a1 = 0; a2 = 0; a3 = 0; aPort = 0;
  b0 = 0; b1 = 0; b2 = 0; b3 = 0; bPort = 0;
  vlan = 0;
  tunnelDepth = 0;
  directionFromSyn = false;

  // hash chain + activity list links
  chain: Flow | null = null;
  prev: Flow | null = null;
  next: Flow | null = null;
  list: FlowList = FlowList.Udp;

  // counters per direction
  packets: [number, number] = [0, 0];
  bytes: [number, number] = [0, 0];
  ipBytes: [number, number] = [0, 0];
  retrans: [number, number] = [0, 0];
  flags: [number, number] = [0, 0];
  firstTs: [number, number] = [0, 0];
  lastTs: [number, number] = [0, 0];
  startTs = 0;
  lastSeen = 0;

  // TCP sequence tracking (for retransmission counting in counting-only mode)
  isn: [number, number] = [-1, -1];
  seqHigh: [number, number] = [0, 0]; // highest relative seq end seen
  fin: [boolean, boolean] = [false, false];
  rst = false;

  // reassembly and dissection (null/empty once counting only)
  streams: [TcpStream | null, TcpStream | null] = [null, null];
  app: AppState = AppState.Unclassified;
  spec: AnyDissectorSpec | null = null;
  dissector: FlowDissector | null = null;
  records: DissectorRecord[] | null = null;
  need: [number, number] = [0, 0];
  dirDone: [boolean, boolean] = [false, false];
  /** Candidates ruled out by probes (bit i = registry index i). */
  probeNo = 0;
  probeBytes: [number, number] = [0, 0];
  confirmed = false;
  /** Stream offset classification looks from (moves past an HTTP CONNECT / upgrade). */
  probeFrom: [number, number] = [0, 0];
  /** Dissectors that finished before a re-probe (e.g. HTTP before CONNECT → TLS), with their records. */
  earlier: { spec: AnyDissectorSpec; records: DissectorRecord[] }[] | null = null;
  /** Protocol decided without a dissector (e.g. 'ssh' by banner) or by the dissector. */
  protocol: string | null = null;

  // payload features
  /** First bytes of each direction's stream (copied, ≤ 64), for content classification of unknown flows. */
  head: [Uint8Array | null, Uint8Array | null] = [null, null];
  /** Stream offset where application payload starts (-1: not yet known). */
  payloadStart: [number, number] = [-1, -1];
  /** Stream offset fed into the entropy histogram so far. */
  entropyFed: [number, number] = [0, 0];
  entropyHist: [Uint32Array | null, Uint32Array | null] = [null, null];
  entropyN: [number, number] = [0, 0];
  smallTs: [number[] | null, number[] | null] = [null, null];
  smallSizes: [number[] | null, number[] | null] = [null, null];
  /** Payload sizes after the payload start (TLS application-data records), first few. */
  appSizes: [number[] | null, number[] | null] = [null, null];

  /** Sha-256 (hex) of certificates handed off, per direction, in message order. */
  certs: [string[] | null, string[] | null] = [null, null];
  events: string[] | null = null;
  limits: string[] | null = null;

  /**
   * Closed by FIN both ways: dissection ended and the record was built then (`record`); the flow
   * stays in the table for the close delay so late ACKs and retransmissions still count.
   */
  closed = false;
  record: FlowRecord | null = null;
  /** The ACK number that acknowledges each direction's FIN (-1: no FIN yet), and whether seen. */
  finAck: [number, number] = [-1, -1];
  finAcked: [boolean, boolean] = [false, false];
  /**
   * The record went out when both FINs were acknowledged; the entry stays until the close delay
   * ends only to absorb late retransmissions (counted in engine stats, never a new flow).
   */
  emitted = false;

  // JA4T inputs (SYN / SYN-ACK TCP options), copied
  synOpts: Uint8Array | null = null;
  synWin = 0;
  synAckOpts: Uint8Array | null = null;
  synAckWin = 0;

  addEvent(id: string): void {
    const ev = this.events ?? (this.events = []);
    if (ev.length < 64 && !ev.includes(id)) ev.push(id);
  }

  addLimit(id: string): void {
    const l = this.limits ?? (this.limits = []);
    if (!l.includes(id)) l.push(id);
  }
}
