/**
 * Per-flow driving of dissectors (STYLE.md §6.2 "How the driver uses these"):
 * classify by content with port hints and a probe budget, feed reassembled bytes (TCP) or
 * datagrams (UDP) with consume/needAtLeast, translate verdicts into bypass, and a fault fuse:
 * a throw from a dissector is a bug, recorded as 'app.dissector_fault', never a crash.
 */
import { MidUnsure, Role, type AnyDissectorSpec, type Dir, type DissectorContext, type DissectorRecord, type FlowDissector, type FlowInfo, type StreamView, type UpgradeRecord, type Verdict } from '../contract/api.js';
import { AppEvent } from './events.js';
import { AppState, type Flow } from '../flow/flow.js';
import type { Registry } from './registry.js';

/** Engine services the driver needs (implemented by the engine). */
export interface DriverHost {
  now: number;
  handoffCert(flow: Flow, dir: Dir, index: number, der: Uint8Array): void;
  payloadStart(flow: Flow, dir: Dir, streamOffset: number): void;
  /** The flow's dissection is over: release buffers (counting only from now on). */
  finish(flow: Flow): void;
  /** A direction is done: release that direction's buffer. */
  finishDir(flow: Flow, dir: Dir): void;
  dissectorEvent(id: string): void;
  /** Every record a dissector emits, at packet time (e.g. DNS answers naming later flows). */
  recordTap(flow: Flow, record: DissectorRecord): void;
  /** The flow's dissector says every exchange it began is answered (DissectorContext.complete). */
  exchangesDone(flow: Flow): void;
}

/** Reused mutable StreamView handed to feed(); valid only during the call. */
class View implements StreamView {
  bytes: Uint8Array = new Uint8Array(0);
  streamOffset = 0;
  eof = false;
  ts = 0;
  consumed = 0;
  wanted = 0;
  consume(n: number): void {
    if (n > 0) this.consumed = Math.min(this.bytes.length, this.consumed + n);
  }
  needAtLeast(n: number): void {
    this.wanted = n;
  }
}

/**
 * The context object a dissector instance gets (one per flow). It is its own FlowInfo (`flow`
 * returns it), so a flow's dissection starts with one object here, not two.
 */
class FlowContext implements DissectorContext<DissectorRecord, string>, FlowInfo {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly transport: 'tcp' | 'udp';
  readonly startTs: number;
  readonly midstream: boolean;
  private readonly f: Flow;
  private readonly host: DriverHost;
  private readonly records: DissectorRecord[];
  private readonly maxRecords: number;
  constructor(f: Flow, host: DriverHost, records: DissectorRecord[], maxRecords: number, midstream: boolean) {
    this.f = f;
    this.host = host;
    this.records = records;
    this.maxRecords = maxRecords;
    this.srcPort = f.aPort;
    this.dstPort = f.bPort;
    this.transport = f.proto === 6 ? 'tcp' : 'udp';
    this.startTs = f.startTs;
    this.midstream = midstream;
  }
  get flow(): FlowInfo { return this; }
  now(): number { return this.host.now; }
  emit(record: DissectorRecord): void {
    if (this.records.length < this.maxRecords) this.records.push(record);
    else this.f.addLimit(AppEvent.tooManyRecords);
    this.host.recordTap(this.f, record);
  }
  event(id: string, _dir: Dir): void {
    this.f.addEvent(id);
    this.host.dissectorEvent(id);
  }
  confirm(): void { this.f.confirmed = true; }
  violation(id: string): void {
    this.f.addEvent(id);
    this.host.dissectorEvent(id);
  }
  handoff(_kind: 'x509', dir: Dir, index: number, der: Uint8Array): void {
    this.host.handoffCert(this.f, dir, index, der);
  }
  payloadStart(dir: Dir, streamOffset: number): void {
    this.host.payloadStart(this.f, dir, streamOffset);
  }
  complete(): void {
    this.host.exchangesDone(this.f);
  }
}

/**
 * Stream bytes a mid-stream probe may look at before its 'unsure' becomes 'no' (each probe's own
 * scan budget decides first; this bounds how long a flow nothing recognises stays buffered): a
 * whole TLS record of the largest size and the next header fit.
 */
export const MIDSTREAM_MAX_BYTES = 32 * 1024;

export class Driver {
  private readonly view = new View();
  faults = 0;
  maxRecordsCount = 256;

  private readonly reg: Registry;
  private readonly host: DriverHost;
  constructor(reg: Registry, host: DriverHost) {
    this.reg = reg;
    this.host = host;
  }

  /**
   * Try to classify the flow from `bytes` (the start of direction `dir`'s stream, or one datagram).
   * Returns true when a dissector was attached. On TCP a 'yes' waits while a probe earlier in the
   * order is still unsure (the earlier one is the more specific: MQTT's WebSocket upgrade before
   * plain HTTP), so the answer does not depend on how the first bytes were cut into segments;
   * `final` (the stream ends) takes the first 'yes' as it is, and leaves the flow alone if none.
   * `other` is the other direction's stream from its probe offset, for mid-stream pick-ups whose
   * bytes do not say which end is the client.
   */
  classify(f: Flow, dir: Dir, bytes: Uint8Array, final = false, other: Uint8Array | null = null): boolean {
    const tcp = f.proto === 6;
    const specs = tcp ? this.reg.tcp : this.reg.udp;
    // A TCP flow without its handshake may start inside a PDU: probes that can resync get a
    // second look at what their opening-bytes probe turned down.
    const mid = tcp && !f.directionFromSyn;
    // Only the probes that may claim a stream opening with this byte are called; the others are
    // passed over as the 'no' they would say, each at its place in the order.
    const plan = this.reg.plan(tcp ? 'tcp' : 'udp', f.aPort, f.bPort, dir, bytes.length > 0 ? (bytes[0] as number) : -1, mid);
    const call = plan.call;
    const pass = plan.pass;
    const short = this.reg.shortOf(tcp ? 'tcp' : 'udp', bytes.length);
    let unsure = false;
    // A mid-stream probe still unsure holds back a later mid-stream 'yes' only: opening bytes a
    // probe recognises outright (a request line) are the stronger evidence.
    let midUnsure = false;
    for (let k = 0; ; k++) {
      const passed = (pass[k] as number) & ~f.probeNo;
      if (passed !== 0) {
        // Too few bytes to probe is 'unsure' whatever the probe would say, as for a called one.
        if ((passed & short) !== 0) unsure = true;
        f.probeNo |= passed & ~short;
      }
      if (k === call.length) break;
      const i = call[k] as number;
      const bit = 1 << i;
      if ((f.probeNo & bit) !== 0) continue;
      const spec = specs[i] as AnyDissectorSpec;
      const p = spec.probe;
      if (bytes.length < p.minBytes) { unsure = true; continue; }
      let r: 'yes' | 'no' | 'unsure';
      let role = -1;
      try {
        r = p.probe(bytes, dir);
        if (r === 'no' && mid && p.midstream !== undefined) {
          const m = p.midstream(bytes, dir);
          if (m === MidUnsure && bytes.length < MIDSTREAM_MAX_BYTES) { midUnsure = true; continue; }
          if (m >= 0) {
            r = 'yes';
            role = m;
            if (m === Role.Unknown) {
              // These bytes do not name their sender: the other direction's may (a subscriber's
              // PINGREQ beside the broker's PUBLISH). Wait for them while there are none.
              const o = other !== null && other.length > 0 ? p.midstream(other, (1 - dir) as Dir) : MidUnsure;
              if (o === Role.Client) role = Role.Server;
              else if (o === Role.Server) role = Role.Client;
              else if (o === MidUnsure && (other === null || other.length === 0) && !final && bytes.length < MIDSTREAM_MAX_BYTES) { midUnsure = true; continue; }
              // Neither says: the protocol's well-known port names the server.
              else if (p.ports.includes(f.aPort) && !p.ports.includes(f.bPort)) role = dir === 0 ? Role.Server : Role.Client;
            }
          }
        }
      } catch {
        r = 'no';
        this.fault(f, spec.name);
      }
      if (r === 'yes') {
        if ((unsure || (midUnsure && role >= 0)) && !final && f.proto === 6) return false; // more bytes may make the earlier one sure
        // The protocol knows who the client is better than the port guess a missing SYN left.
        if ((role === Role.Server && dir === 0) || (role === Role.Client && dir === 1)) f.swapRoles();
        this.attach(f, spec, role >= 0);
        return true;
      }
      if (r === 'no' || bytes.length >= p.maxBytes) f.probeNo |= bit;
      else unsure = true;
    }
    if (final) return false;
    unsure ||= midUnsure;
    if (!unsure || f.proto === 17) {
      // UDP flows get a probe per datagram for a few datagrams; TCP gives up when nothing is unsure.
      if (!unsure && (f.proto === 6 || f.toServer.probeBytes + f.toClient.probeBytes > 4096)) {
        f.app = AppState.Unknown;
      }
    }
    return false;
  }

  private attach(f: Flow, spec: AnyDissectorSpec, midstream: boolean): void {
    f.spec = spec;
    f.records = [];
    f.protocol = spec.name;
    f.app = AppState.Attached;
    const ctx = new FlowContext(f, this.host, f.records, this.maxRecordsCount, midstream);
    try {
      f.dissector = spec.create(ctx, this.reg.limits(spec.name));
    } catch {
      this.fault(f, spec.name);
    }
  }

  /**
   * Feed a TCP direction from its reassembly buffer until the dissector wants more bytes
   * than there are, or says it is done.
   */
  feedStream(f: Flow, dir: Dir, eof: boolean): void {
    const side = f.side(dir);
    const s = side.stream;
    let d = f.dissector;
    if (s === null || d === null || side.done) return;
    if (s.pendingGap > 0) {
      const lost = s.pendingGap;
      s.pendingGap = 0;
      let gv: Verdict;
      try { gv = d.gap(dir, lost); } catch { gv = this.faulted(f); }
      if (!this.apply(f, dir, gv)) return;
    }
    for (let guard = 0; guard < 100_000; guard++) {
      const avail = s.end - s.consumed;
      if (avail === 0 && !eof) return;
      if (avail < side.need && !eof) return;
      const verdict = this.feedView(f, d, dir, s.buf.subarray(s.consumed, s.end), s.base + s.consumed, eof);
      const consumed = this.view.consumed;
      if (consumed > 0) s.consume(consumed);
      if (!this.apply(f, dir, verdict)) {
        // An in-place upgrade: the new dissector reads on from the next byte.
        if (f.dissector === null || f.dissector === d || side.done) return;
        d = f.dissector;
        continue;
      }
      if (consumed === 0 || eof) {
        // No progress: wait for more bytes (a dissector that neither consumes nor asks for more
        // gets called again only when new bytes arrive).
        if (side.need <= avail) side.need = avail + 1;
        return;
      }
    }
  }

  /**
   * Feed a TCP direction straight from a packet's payload, `bytes[from, to)` at `streamOffset`,
   * when its reassembly buffer holds nothing and the segment is the next in order (the engine
   * checks): the loop of feedStream without the copy into the buffer. Returns how many bytes the
   * dissector consumed; the engine keeps the rest in the buffer, as if they had been copied there.
   */
  feedBytes(f: Flow, dir: Dir, bytes: Uint8Array, from: number, to: number, streamOffset: number): number {
    const side = f.side(dir);
    let d = f.dissector;
    if (d === null || side.done) return 0;
    let pos = from;
    for (let guard = 0; guard < 100_000; guard++) {
      const avail = to - pos;
      if (avail === 0 || avail < side.need) break;
      const verdict = this.feedView(f, d, dir, bytes.subarray(pos, to), streamOffset + (pos - from), false);
      const consumed = this.view.consumed;
      pos += consumed;
      if (!this.apply(f, dir, verdict)) {
        if (f.dissector === null || f.dissector === d || side.done) break;
        d = f.dissector; // an in-place upgrade: the new dissector reads on from the next byte
        continue;
      }
      if (consumed === 0) {
        if (side.need <= avail) side.need = avail + 1;
        break;
      }
    }
    return pos - from;
  }

  /**
   * One call of the dissector's feed over `bytes` at `streamOffset` (the fault fuse around it);
   * leaves what it consumed in `this.view.consumed` and what it wants next in the side's `need`
   * (read by the TCP loops only).
   */
  private feedView(f: Flow, d: FlowDissector, dir: Dir, bytes: Uint8Array, streamOffset: number, eof: boolean): Verdict {
    const v = this.view;
    v.bytes = bytes;
    v.streamOffset = streamOffset;
    v.eof = eof;
    v.ts = this.host.now;
    v.consumed = 0;
    v.wanted = 0;
    if (f.upgraded !== null && bytes.length > 0) f.upgradeFed = true;
    let verdict: Verdict;
    try { verdict = d.feed(dir, v); } catch { verdict = this.faulted(f); }
    f.side(dir).need = v.wanted > 0 ? v.wanted : 0;
    return verdict;
  }

  /** Feed one UDP datagram. */
  feedDatagram(f: Flow, dir: Dir, data: Uint8Array, streamOffset: number): void {
    const d = f.dissector;
    if (d === null || f.side(dir).done) return;
    this.apply(f, dir, this.feedView(f, d, dir, data, streamOffset, false));
  }

  /** End of the flow: flush the dissector's open transactions. */
  end(f: Flow): void {
    const d = f.dissector;
    if (d === null) return;
    try { d.end(0); d.end(1); } catch { this.faulted(f); }
  }

  /** Returns false when feeding must stop for this direction. */
  private apply(f: Flow, dir: Dir, v: Verdict): boolean {
    switch (v) {
      case 'more':
        return true;
      case 'dir-done':
        f.side(dir).done = true;
        if (f.toServer.done && f.toClient.done) this.stop(f);
        else this.host.finishDir(f, dir);
        return false;
      case 'abort':
        f.addEvent(AppEvent.aborted);
        this.stop(f);
        return false;
      case 'done':
        if (this.upgrade(f, dir)) return false;
        if (this.tunnel(f)) return false;
        this.stop(f);
        return false;
    }
  }

  /**
   * A dissector that ends with a `*.tunnel` record (HTTP CONNECT 2xx, 101 upgrade) hands the rest
   * of the stream back for classification from the offsets it names (at most twice per flow).
   */
  private tunnel(f: Flow): boolean {
    const recs = f.records;
    const last = recs !== null && recs.length > 0 ? (recs[recs.length - 1] as DissectorRecord & { offsets?: [number, number] }) : null;
    if (last === null || !last.kind.endsWith('.tunnel') || last.offsets === undefined || f.spec === null) return false;
    const earlier = f.earlier ?? (f.earlier = []);
    if (earlier.length >= 2) return false;
    earlier.push({ spec: f.spec, records: recs as DissectorRecord[] });
    f.spec = null;
    f.dissector = null;
    f.records = null;
    f.app = AppState.Unclassified;
    f.probeNo = 0;
    f.toServer.done = false;
    f.toClient.done = false;
    f.toServer.need = 0;
    f.toClient.need = 0;
    f.toServer.probeFrom = last.offsets[0];
    f.toClient.probeFrom = last.offsets[1];
    return true;
  }

  /**
   * A dissector that ends with an upgrade record (STARTTLS accepted, RDP going to TLS) hands the
   * flow to the named dissector in place: no probing (the dialogue already said what follows),
   * the label stays (an SMTP session is still SMTP), and the first dissector's records are kept
   * for the record. The other direction's bytes already buffered are fed at once, since no new
   * packet of that direction may come to trigger it (the caller's own loop feeds this direction).
   */
  private upgrade(f: Flow, dir: Dir): boolean {
    const recs = f.records;
    const last = recs !== null && recs.length > 0 ? (recs[recs.length - 1] as Partial<UpgradeRecord> & DissectorRecord) : null;
    if (last === null || !last.kind.endsWith('.upgrade') || typeof last.upgrade !== 'string' || f.spec === null) return false;
    if (f.upgraded !== null) return false; // one upgrade per flow: TLS does not upgrade again
    const list = f.proto === 6 ? this.reg.tcp : this.reg.udp;
    const spec = list.find((s) => s.name === last.upgrade);
    if (spec === undefined) return false; // the target is switched off: the flow ends as it is
    const earlier = f.earlier ?? (f.earlier = []);
    earlier.push({ spec: f.spec, records: recs as DissectorRecord[] });
    const label = f.protocol;
    f.toServer.done = false;
    f.toClient.done = false;
    f.toServer.need = 0;
    f.toClient.need = 0;
    f.dissector = null;
    this.attach(f, spec, false);
    f.protocol = label;
    f.upgraded = spec.name;
    if (f.dissector !== null) this.feedStream(f, (1 - dir) as Dir, false);
    return true;
  }

  private stop(f: Flow): void {
    f.toServer.done = true;
    f.toClient.done = true;
    f.app = AppState.Finished;
    this.host.finish(f);
  }

  /** The fuse: a throw from a dissector stops it on this flow and is counted as a fault. */
  private faulted(f: Flow): Verdict {
    this.fault(f, f.spec?.name ?? 'unknown');
    return 'abort';
  }

  private fault(f: Flow, name: string): void {
    this.faults++;
    f.addEvent(AppEvent.dissectorFault);
    f.addEvent(`app.dissector_fault.${name}`);
    this.host.dissectorEvent(AppEvent.dissectorFault);
    f.dissector = null;
    f.app = AppState.Finished;
  }
}
