/**
 * The per-pipeline engine: decode → flow table → bounded TCP reassembly → dissector driver,
 * plus the payload features measured on the packet path (entropy, small-record cadence).
 * One engine per worker; everything in packet time. Finished flows go to `onFlow`.
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { copyTunnel, DecodeStatus, PacketMeta, TcpFlag, TunnelType } from '../decode/packet-meta.js';
import { noteTeredo } from '../flow/teredo.js';
import { decode } from '../decode/decode.js';
import { FragmentTable, defaultFragmentLimits, type FragmentLimits } from '../decode/fragments.js';
import type { PacketBatch } from '../capture/source.js';
import type { Dir, DissectorRecord } from '../contract/api.js';
import { Driver, type DriverHost } from '../dissect/driver.js';
import type { Registry } from '../dissect/registry.js';
import type { CertCache } from '../dissect/cert-cache.js';
import { AppState, Flow, FlowList, type TableEntry, type Tomb } from '../flow/flow.js';
import { FlowTable, defaultTableLimits, type TableLimits } from '../flow/table.js';
import { TcpStream, defaultReassemblyLimits, type ReassemblyLimits } from '../flow/tcp-reassembly.js';
import type { EndReason } from '../flow/record.js';
import { addrWords } from '../flow/community-id.js';

export interface FeatureLimits {
  /** Payload bytes per direction sampled for entropy after the handshake. */
  entropyBytes: number;
  /** A payload packet at most this long counts as a "small record". */
  smallRecordBytes: number;
  /** Small records kept per direction. */
  smallRecordsCount: number;
  /** Payload sizes kept per direction after the handshake (TLS app-data record sizes). */
  appSizesCount: number;
  /** Leading stream bytes kept per direction for content classification. */
  headBytes: number;
  /**
   * Measure entropy also on flows a dissector named. Only the per-flow entropy fields of the full
   * output and the SIEM feed's records show it for those: the encrypted-channel check (AN1389)
   * reads it only for flows no protocol claimed, and the lean document leaves it out. The CLI turns
   * it off for a lean output without a SIEM feed.
   */
  namedEntropy: boolean;
}

export const defaultFeatureLimits: FeatureLimits = {
  entropyBytes: 1024,
  smallRecordBytes: 160,
  smallRecordsCount: 64,
  appSizesCount: 16,
  headBytes: 256,
  namedEntropy: true,
};

/** Entropy histograms kept for reuse (1 KiB each). */
const HIST_POOL_MAX = 1024;

/** Slots of the completed-flow memory (a power of two) and how long a copy counts as one. */
const DONE_SLOTS = 1024;
const DONE_WINDOW_MS = 1000;

/** FNV-1a over b[off, off + len), with the length mixed in: a copy of a datagram is byte-equal. */
function payloadHash(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5 ^ len;
  for (let i = off, e = off + len; i < e; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return h >>> 0;
}

export interface EngineOptions {
  registry: Registry;
  certs: CertCache;
  table?: Partial<TableLimits>;
  reassembly?: Partial<ReassemblyLimits>;
  features?: Partial<FeatureLimits>;
  fragments?: Partial<FragmentLimits>;
  /** A flow ended: read it during the call (its histograms are reused afterwards). */
  onFlow: (f: Flow, reason: EndReason) => void;
  /** Records as dissectors emit them (packet time). */
  onRecord?: (f: Flow, r: DissectorRecord) => void;
  /** Keep SYN/SYN-ACK TCP options (for JA4T/JA4TS, FoxIO License 1.1). */
  keepSynOptions?: boolean;
  /**
   * A TCP flow closed with FIN both ways: its dissection has ended, so its record can be built
   * now; `onFlow` still follows after the close delay, with the final counters.
   */
  onClosed?: (f: Flow) => void;
}

/** What the eBPF feed reports when a flow ends (see src/capture/ebpf.ts FlowEndRecord). */
export interface KernelFlowEnd {
  proto: number;
  srcIp: string; // the initiator
  srcPort: number;
  dstIp: string;
  dstPort: number;
  reason: 'fin' | 'rst' | 'idle';
  orig: { packets: number; bytes: number; payloadBytes: number; firstMs: number; lastMs: number; tcpFlags: number };
  reply: { packets: number; bytes: number; payloadBytes: number; firstMs: number; lastMs: number; tcpFlags: number };
}

/** Fill `m` with a tuple's protocol, addresses and ports (for a table lookup or a shard hash). */
export function tupleMeta(m: PacketMeta, t: Pick<KernelFlowEnd, 'proto' | 'srcIp' | 'srcPort' | 'dstIp' | 'dstPort'>): PacketMeta {
  m.proto = t.proto;
  const a = addrWords(t.srcIp);
  const b = addrWords(t.dstIp);
  m.src0 = a[0]; m.src1 = a[1]; m.src2 = a[2]; m.src3 = a[3];
  m.dst0 = b[0]; m.dst1 = b[1]; m.dst2 = b[2]; m.dst3 = b[3];
  m.sport = t.srcPort;
  m.dport = t.dstPort;
  return m;
}

export interface EngineStats {
  packets: number;
  bytes: number;
  flowPackets: number;
  notIp: number;
  otherL4: number;
  fragmentsHeld: number;
  malformed: number;
  unsupported: number;
  /** Decoder and dissector events by id. */
  events: Map<string, number>;
  flowsCreated: number;
  flowsEvicted: number;
  /** Of those, evicted because the heap was over limits.heapMemcapMiB. */
  flowsEvictedMemcap: number;
  flowsExpired: number;
  /** Datagram flows ended when their dissector had every answer (DissectorContext.complete). */
  flowsCompleted: number;
  /** Packets after a connection's clean close was complete (its record already out). */
  latePackets: number;
  dissectorFaults: number;
}

export class Engine implements DriverHost {
  readonly meta = new PacketMeta();
  private readonly scratch = new PacketMeta();
  /** Called when a flow drops to counting only (the eBPF feed stops forwarding it). */
  onBypass: ((f: Flow) => void) | null = null;
  readonly frags: FragmentTable;
  readonly table: FlowTable;
  readonly driver: Driver;
  readonly lim: ReassemblyLimits;
  readonly feat: FeatureLimits;
  now = 0;
  private expireSec = 0;
  readonly stats: EngineStats = {
    packets: 0, bytes: 0, flowPackets: 0, notIp: 0, otherL4: 0, fragmentsHeld: 0, malformed: 0, unsupported: 0,
    events: new Map(), flowsCreated: 0, flowsEvicted: 0, flowsEvictedMemcap: 0, flowsExpired: 0, flowsCompleted: 0, latePackets: 0, dissectorFaults: 0,
  };
  /** Watches full GCs for the memcap (null when there is none). */
  private heapWatch: PerformanceObserver | null = null;
  private readonly onFlow: (f: Flow, reason: EndReason) => void;
  private readonly keepSynOptions: boolean;
  private readonly onRecord: ((f: Flow, r: DissectorRecord) => void) | null;
  private readonly onClosed: ((f: Flow) => void) | null;
  /** The flow whose end is being handled (its record and last DNS answers are on their way), else null. */
  emitting: Flow | null = null;
  /** Set by a sharded source before packet(): VLAN and tunnel depth the main thread decoded. */
  forcedVlan = -1;
  forcedTunnelDepth = 0;
  /** With a forced tunnel depth above 0: the decoded outer packet's tunnel fields (copyTunnel). */
  forcedOuter: PacketMeta | null = null;
  private readonly certs: CertCache;
  private readonly evictCb: (f: TableEntry) => void;
  /** Zeroed entropy histograms returned by ended flows (a flow ends after onFlow has read it). */
  private readonly histPool: Uint32Array[] = [];
  /** A view of the bytes histAdd last counted (the packet buffer, most of the time). */
  private histView: DataView = new DataView(new ArrayBuffer(0));
  private histBytes: Uint8Array | null = null;
  private readonly expireCb: (f: TableEntry) => void;

  constructor(opts: EngineOptions) {
    this.table = new FlowTable({ ...defaultTableLimits, ...opts.table });
    this.lim = { ...defaultReassemblyLimits, ...opts.reassembly };
    this.feat = { ...defaultFeatureLimits, ...opts.features };
    this.frags = new FragmentTable({ ...defaultFragmentLimits, ...opts.fragments });
    this.frags.onEvent = (ev) => this.countEvent(ev);
    this.driver = new Driver(opts.registry, this);
    this.onFlow = opts.onFlow;
    this.keepSynOptions = opts.keepSynOptions === true;
    this.onRecord = opts.onRecord ?? null;
    this.onClosed = opts.onClosed ?? null;
    this.certs = opts.certs;
    this.evictCb = (f) => {
      // The record takes 'flow.evicted' from its end reason (finalizeFlow, refreshCounters): a
      // flood's evicted flows are mostly shed before a record is built, and a list for each was
      // garbage.
      if (!f.tomb) this.end(f, 'evicted');
    };
    this.expireCb = (f) => {
      this.stats.flowsExpired++;
      if (f.tomb) return;
      const over = f.rst || (f.toServer.fin && f.toClient.fin);
      // A connection that carried payload and ended by RST (or FIN both ways without the last
      // ACK seen) leaves a tomb as a clean close does: a reset repeated or a FIN retransmitted
      // after its record is out is absorbed instead of making a one-packet flow. Connections
      // without payload (scans, refused SYNs) leave none: a flood of them would double the table.
      if (over && f.proto === 6 && f.toServer.bytes + f.toClient.bytes > 0) this.table.entomb(f, this.expireSec * 1000);
      this.end(f, over ? (f.rst ? 'rst' : 'fin') : 'idle');
    };
    if (this.table.lim.heapMemcapMiB > 0) this.watchHeap();
  }

  /** The last full collection found over half the memcap alive (V8's growing factor is fixed). */
  private heapTight = false;

  /**
   * The memcap: the flow table is most of what a busy sensor holds, but what one flow costs
   * depends on its protocol (a SYN's flow is a third of a DNS flow's), so a cap on the number of
   * flows alone does not bound memory. After each full GC the heap in use is about what is alive:
   * that is compared with the memcap, and the table holds fewer flows while it is over. The heap
   * in use between GCs also counts garbage, so it is not looked at then.
   */
  private watchHeap(): void {
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as { detail?: { kind?: number } }).detail?.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
          const used = getHeapStatistics().used_heap_size;
          this.table.heapAfterGc(used);
          // Once the soft cap is engaged (over half the memcap alive) it takes the heap to grow to
          // about twice what is alive before the next full collection; V8's own factor varies from
          // 1.1 to 4 with its speed figures, and at 4 a table held near the memcap took the
          // process past 1 GiB between two collections. Below that V8 keeps its own factor: fixed
          // at 2 it collected a smaller heap more often than it needed to.
          const tight = used > this.table.lim.heapMemcapMiB * 1048576 * 0.5;
          if (tight !== this.heapTight) {
            this.heapTight = tight;
            setFlagsFromString(tight ? '--heap-growing-percent=100' : '--heap-growing-percent=0');
          }
          return;
        }
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    this.heapWatch = obs;
  }

  processBatch(b: PacketBatch): void {
    const m = this.meta;
    for (let i = 0; i < b.n; i++) {
      m.tsMs = b.tsMs[i] as number;
      m.origLen = b.origLen[i] as number;
      this.packet(b.buf, b.off[i] as number, b.capLen[i] as number, b.linkType[i] as number);
    }
  }

  /** One packet (the bytes are valid only during the call). */
  packet(buf: Uint8Array, off: number, capLen: number, linkType: number): void {
    const m = this.meta;
    const st = this.stats;
    st.packets++;
    st.bytes += capLen;
    const ts = m.tsMs;
    if (ts > this.now) {
      this.now = ts;
      // Expiry runs on a fixed one-second grid of packet time, so a sharded run (where a worker
      // sees only its flows' packets) expires exactly the flows a single engine would.
      const sec = Math.floor(ts / 1000);
      if (sec > this.expireSec) {
        this.expireSec = sec;
        this.table.expire(sec * 1000, this.expireCb);
        this.frags.expire(sec * 1000);
      }
    }
    const status = decode(buf, off, capLen, linkType, m, this.frags);
    if (status !== DecodeStatus.Ok) {
      switch (status) {
        case DecodeStatus.NotIp: st.notIp++; break;
        case DecodeStatus.OtherL4: st.otherL4++; break;
        case DecodeStatus.Fragment: st.fragmentsHeld++; break;
        case DecodeStatus.Malformed: st.malformed++; this.countEvent(m.event); break;
        default: st.unsupported++; if (m.event) this.countEvent(m.event); break;
      }
      return;
    }
    st.flowPackets++;
    if (this.forcedVlan >= 0) {
      m.vlan = this.forcedVlan;
      m.tunnelDepth = this.forcedTunnelDepth;
      if (m.tunnelDepth > 0 && this.forcedOuter !== null) copyTunnel(m, this.forcedOuter);
    }
    const table = this.table;
    let e = table.lookup(m, this.evictCb);
    const newSyn = m.proto === 6 && (m.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    if (e.tomb) {
      if (!newSyn) {
        st.latePackets++; // the connection's record is out: nothing more to count
        return;
      }
      // A new SYN on the ports of a closed connection: the tomb goes, a new flow starts.
      table.remove(e);
      e = table.lookup(m, this.evictCb);
    } else if (newSyn && (e.rst || (e.toServer.fin && e.toClient.fin)) && e.toServer.packets + e.toClient.packets > 0) {
      // A new SYN on a finished connection (port reuse): the old flow ends, a new one starts.
      table.remove(e);
      this.end(e, e.rst ? 'rst' : 'fin');
      e = table.lookup(m, this.evictCb);
    }
    const f = e as Flow; // a lookup after a removal creates a flow
    const d = table.dir;
    if (f.toServer.packets + f.toClient.packets === 0) {
      if (m.proto === 17 && this.doneSeen && this.repeatsDone(f.hash, ts)) {
        // A copy of the packet that completed this tuple's last flow (a SPAN port mirroring both
        // directions): its record is out, so the copy is a late packet, not a lone answer's flow.
        table.remove(f);
        table.recycle(f);
        st.latePackets++;
        return;
      }
      st.flowsCreated++;
    }
    if (m.tunnelType === TunnelType.Teredo && (m.teredoOrigin | m.teredoAuth) !== 0) noteTeredo(f, m);
    const side = f.side(d);
    side.packets++;
    side.ipBytes += m.ipLen;
    const len = m.payloadLen; // captured payload (≤ what the headers state when a snap length cut it)
    side.bytes += m.payloadWireLen;
    if (side.firstTs === 0) side.firstTs = ts;
    if (ts > side.lastTs) side.lastTs = ts;

    if (m.proto === 6) this.tcp(f, d, len);
    else if (len > 0) {
      this.udp(f, d, len);
      if (this.completed === f) {
        // Its dissector has every answer: the flow ends now rather than sit out the idle timeout
        // (a lookup's flow held its parsed messages for 60 s, and a resolver's table filled with them).
        this.completed = null;
        this.noteDone(f.hash, ts);
        table.remove(f);
        st.flowsCompleted++;
        this.end(f, 'complete');
      }
    }
  }

  private tcp(f: Flow, d: Dir, len: number): void {
    const side = f.side(d);
    const m = this.meta;
    const fl = m.tcpFlags;
    side.flags |= fl;
    if ((fl & TcpFlag.SYN) !== 0) {
      if (side.isn === -1) side.isn = (m.seq + 1) >>> 0;
      if (!this.keepSynOptions) {
        // JA4T/JA4TS are off: nothing to keep
      } else if ((fl & TcpFlag.ACK) === 0) {
        const so = f.syn ?? (f.syn = { opts: null, win: 0, ackOpts: null, ackWin: 0 });
        if (so.opts === null) { so.opts = m.data.slice(m.tcpOptOff, m.tcpOptOff + m.tcpOptLen); so.win = m.window; }
      } else {
        const so = f.syn ?? (f.syn = { opts: null, win: 0, ackOpts: null, ackWin: 0 });
        if (so.ackOpts === null) { so.ackOpts = m.data.slice(m.tcpOptOff, m.tcpOptOff + m.tcpOptLen); so.ackWin = m.window; }
      }
    }
    if ((fl & (TcpFlag.RST | TcpFlag.FIN)) !== 0) {
      if ((fl & TcpFlag.RST) !== 0) f.rst = true;
      if ((fl & TcpFlag.FIN) !== 0) {
        side.fin = true;
        if (side.finAck === -1) side.finAck = (m.seq + len + 1) >>> 0; // a FIN takes one sequence number
      }
      if (f.rst || (f.toServer.fin && f.toClient.fin)) this.table.setList(f, FlowList.TcpClosing);
    }
    if (len === 0) {
      if (f.toServer.fin && f.toClient.fin) this.closing(f, d, fl);
      return;
    }
    // Data on a SYN (TCP Fast Open) starts after the SYN's own sequence number.
    const seq = (fl & TcpFlag.SYN) !== 0 ? (m.seq + 1) >>> 0 : m.seq;
    if (side.isn === -1) side.isn = seq; // missing SYN: the first data seen starts the stream
    const rel = (seq - side.isn) | 0;
    // Retransmitted bytes: anything at or below the highest sequence already seen.
    const high = side.seqHigh;
    if (rel < high) side.retrans += Math.min(len, high - rel);
    if (rel + len > high) side.seqHigh = rel + len;

    const app = f.app;
    const ps = side.stream;
    if (app === AppState.Attached && !side.done && ps !== null && f.spec !== null && f.spec.handsBack !== true && ps.canPassThrough(rel, len)) {
      // Nothing buffered and this segment is next: the dissector reads it in place, and only
      // what it leaves unconsumed is copied into the buffer.
      const used = this.driver.feedBytes(f, d, m.data, m.payloadOff, m.payloadOff + len, ps.next);
      if (side.stream === ps && !side.done) ps.passedThrough(m.data, m.payloadOff, len, used);
    } else if (app === AppState.Unclassified || (app === AppState.Attached && !side.done)) {
      let s = side.stream;
      if (s === null) {
        s = new TcpStream(this.lim);
        s.isn = side.isn;
        side.stream = s;
      }
      const delivered = s.add(seq, m.data.subarray(m.payloadOff, m.payloadOff + len));
      if (s.events.length > 0) this.drainStreamEvents(f, s);
      if (delivered > 0 || s.pendingGap > 0) {
        if (f.app === AppState.Unclassified) {
          this.tryClassify(f, d);
          if (f.side(d) !== side) d = (1 - d) as Dir; // the protocol named the other end the client
        }
        if (f.app === AppState.Attached) {
          this.driver.feedStream(f, d, false);
          if ((f.app as AppState) === AppState.Unclassified) {
            // The dissector handed the stream back (a tunnel): classify what follows, both ways.
            this.tryClassify(f, d);
            if ((f.app as AppState) === AppState.Unclassified) this.tryClassify(f, (1 - d) as Dir);
            if ((f.app as AppState) === AppState.Attached) {
              this.driver.feedStream(f, d, false);
              this.driver.feedStream(f, (1 - d) as Dir, false);
            }
          }
        }
        // What the dissector consumed is not kept (unless it may hand the stream back).
        if (f.app === AppState.Attached && f.spec !== null && f.spec.handsBack !== true && side.stream === s) s.trim();
        if (f.app === AppState.Attached && s.full && !side.done) {
          // Depth reached while the dissector still wants bytes: stop dissecting this direction.
          f.addLimit('flow.reassembly_depth');
          side.done = true;
          if (f.toServer.done && f.toClient.done) { f.app = AppState.Finished; this.finish(f); }
        }
      }
    }
    else if (app === AppState.Unknown && rel === 0 && side.head === null) {
      // An unrecognised flow keeps its first bytes per direction for content classification.
      side.head = m.data.slice(m.payloadOff, m.payloadOff + Math.min(len, this.feat.headBytes));
    }
    this.features(f, d, rel, len);
    if (f.toServer.fin && f.toClient.fin) this.closing(f, d, fl);
  }

  /**
   * FIN seen both ways (a RST instead leaves the flow to the close delay): dissection ends and
   * the record is built at once; when both FINs are acknowledged the record goes out.
   */
  private closing(f: Flow, d: Dir, fl: number): void {
    if (f.rst || this.onClosed === null) return;
    if (!f.closed) this.close(f);
    const o = 1 - d;
    const other = f.side(o);
    if ((fl & TcpFlag.ACK) !== 0 && other.finAck !== -1 && ((this.meta.ack - other.finAck) | 0) >= 0) other.finAcked = true;
    if (f.toServer.finAcked && f.toClient.finAcked) this.complete(f);
  }

  /** Both FINs acknowledged: the connection is over, its record goes out now and a tomb takes its place. */
  private complete(f: Flow): void {
    this.emitting = f;
    this.onFlow(f, 'fin');
    this.emitting = null;
    f.emitted = true;
    f.shed();
    this.table.bury(f);
  }

  /**
   * Both FINs seen (and this packet's payload handled): end dissection now and let the pipeline
   * build the record, so the flow's dissector state is garbage at once instead of living through
   * the close delay (most of a short connection's memory, and most of its GC cost when it did).
   */
  private close(f: Flow): void {
    this.endDissection(f);
    f.app = AppState.Finished;
    f.closed = true;
    this.onClosed?.(f);
    this.recycleHistograms(f);
  }

  /** Copy the first stream bytes of each direction (only for flows no dissector recognised). */
  private keepHead(f: Flow): void {
    for (let d = 0; d < 2; d++) {
      const side = f.side(d);
      const s = side.stream;
      if (side.head === null && s !== null && s.base === 0 && s.end > 0) side.head = s.buf.slice(0, Math.min(s.end, this.feat.headBytes));
    }
  }

  /** Classify from direction d's stream, starting at its probe offset. */
  private tryClassify(f: Flow, d: Dir, final = false): void {
    const side = f.side(d);
    const s = side.stream;
    if (s === null || s.end === 0) return;
    const from = side.probeFrom;
    if (from < s.base || from > s.base + s.end) {
      if (final) return;
      f.app = AppState.Unknown; // a gap before anything was recognised
    } else {
      const bytes = s.buf.subarray(from - s.base, s.end);
      if (bytes.length === 0) return;
      side.probeBytes = bytes.length;
      const os = (side === f.toServer ? f.toClient : f.toServer).stream;
      const ofrom = os === null ? -1 : (side === f.toServer ? f.toClient : f.toServer).probeFrom - os.base;
      const otherBytes = os !== null && ofrom >= 0 && ofrom <= os.end ? os.buf.subarray(ofrom, os.end) : null;
      // The dissector's stream starts at the probe offset: drop what came before.
      this.driver.classify(f, d, bytes, final, otherBytes);
      if (f.app === AppState.Attached && from > s.base + s.consumed) s.consumed = from - s.base;
      if (f.app === AppState.Attached) {
        // By identity, not index: a mid-stream pick-up may have swapped the flow's roles.
        const other = side === f.toServer ? f.toClient : f.toServer;
        const o = other.stream;
        const ofrom = other.probeFrom;
        if (o !== null && ofrom > o.base + o.consumed && ofrom <= o.base + o.end) o.consumed = ofrom - o.base;
      }
    }
    if (f.app === AppState.Unknown) this.unknown(f);
  }

  private udp(f: Flow, d: Dir, len: number): void {
    const side = f.side(d);
    const m = this.meta;
    const data = m.data.subarray(m.payloadOff, m.payloadOff + len);
    const off = side.seqHigh;
    side.seqHigh = off + len;
    if (f.app === AppState.Unclassified) {
      side.probeBytes += len;
      this.driver.classify(f, d, data);
      if (f.app === AppState.Unclassified && f.toServer.packets + f.toClient.packets >= 8) f.app = AppState.Unknown;
      if (f.app === AppState.Unknown) this.unknown(f);
      // The first bytes serve content classification of flows no protocol claimed (the encrypted
      // channel stage reads them only when the record has no protocol). A named flow lets them go:
      // a crowd of DNS flows kept two copies each for nothing, a sixth of each flow's memory.
      if (f.protocol !== null) { f.toServer.head = null; f.toClient.head = null; }
    }
    if (side.head === null && f.protocol === null) side.head = data.slice(0, Math.min(len, this.feat.headBytes));
    if (f.app === AppState.Attached && !side.done) this.driver.feedDatagram(f, d, data, off);
    this.features(f, d, off, len);
  }

  /** Entropy, small-record cadence and app-record sizes, from the payload start on. */
  private features(f: Flow, d: Dir, rel: number, len: number): void {
    const side = f.side(d);
    const ps = side.payloadStart;
    if (ps < 0) return;
    const feat = this.feat;
    if (rel >= ps) {
      if (len <= feat.smallRecordBytes) {
        const small = side.small ?? (side.small = { ts: [], sizes: [] });
        if (small.ts.length < feat.smallRecordsCount) { small.ts.push(this.now); small.sizes.push(len); }
      }
      let sizes = side.appSizes;
      if (sizes === null) sizes = side.appSizes = [];
      if (sizes.length < feat.appSizesCount) sizes.push(len);
    }
    // Entropy over contiguous bytes only (in-order packets), up to the sample size, from the
    // payload start on: also from inside this packet when the start falls in it (the dissector
    // read it in place, or the start lay beyond what was buffered when it was found).
    if (side.entropyN < feat.entropyBytes && (feat.namedEntropy || f.protocol === null)) {
      const fed = side.entropyFed;
      if (rel <= fed && fed < rel + len) {
        const m = this.meta;
        const from = m.payloadOff + (fed - rel);
        const take = Math.min(rel + len - fed, feat.entropyBytes - side.entropyN);
        this.histAdd(f, d, m.data, from, take);
        side.entropyFed = fed + take;
      }
    }
  }

  private histAdd(f: Flow, d: Dir, b: Uint8Array, from: number, n: number): void {
    const side = f.side(d);
    let h = side.entropyHist;
    if (h === null) h = side.entropyHist = this.histPool.pop() ?? new Uint32Array(256);
    const end = from + n;
    let i = from;
    // Eight bytes as two 32-bit loads before eight increments: the loads need not wait behind the
    // previous increment's store (as they do one byte at a time), and two loads replace eight.
    // Counting does not depend on the order the bytes are taken in.
    if (end - i >= 8) {
      let dv = this.histView;
      if (b !== this.histBytes) {
        dv = this.histView = new DataView(b.buffer, b.byteOffset, b.byteLength);
        this.histBytes = b;
      }
      for (; i + 7 < end; i += 8) {
        const w = dv.getUint32(i, true), v = dv.getUint32(i + 4, true);
        h[w & 255]++; h[v & 255]++;
        h[(w >>> 8) & 255]++; h[(v >>> 8) & 255]++;
        h[(w >>> 16) & 255]++; h[(v >>> 16) & 255]++;
        h[w >>> 24]++; h[v >>> 24]++;
      }
    }
    for (; i < end; i++) h[b[i] as number]++;
    side.entropyN += n;
  }

  // ---- DriverHost ---------------------------------------------------------------------------
  handoffCert(f: Flow, dir: Dir, _index: number, der: Uint8Array): void {
    const side = f.side(dir);
    const list = side.certs ?? (side.certs = []);
    if (list.length >= 16) { f.addLimit('tls.limit.certs'); return; }
    list.push(this.certs.put(der));
  }

  payloadStart(f: Flow, dir: Dir, streamOffset: number): void {
    const side = f.side(dir);
    if (side.payloadStart >= 0) return;
    side.payloadStart = streamOffset;
    side.entropyFed = streamOffset;
    // A flow's protocol, once named, stays named: nobody will read this flow's histogram.
    if (!this.feat.namedEntropy && f.protocol !== null) return;
    // Bytes already reassembled past the handshake feed the histogram now.
    const s = side.stream;
    if (s !== null && streamOffset >= s.base && streamOffset < s.base + s.end) {
      const from = streamOffset - s.base;
      const take = Math.min(s.end - from, this.feat.entropyBytes);
      this.histAdd(f, dir, s.buf, from, take);
      side.entropyFed = streamOffset + take;
    }
  }

  finish(f: Flow): void {
    if (this.onBypass !== null && (f.toServer.stream !== null || f.toClient.stream !== null)) this.onBypass(f);
    this.release(f);
  }

  private release(f: Flow): void {
    f.toServer.stream?.release();
    f.toClient.stream?.release();
    f.toServer.stream = null;
    f.toClient.stream = null;
  }

  finishDir(f: Flow, dir: Dir): void {
    const side = f.side(dir);
    side.stream?.release();
    side.stream = null;
  }

  dissectorEvent(id: string): void {
    this.countEvent(id);
  }

  recordTap(f: Flow, r: DissectorRecord): void {
    this.onRecord?.(f, r);
  }

  /**
   * The packets that completed UDP flows, by the flow hash's low bits: the hash, a hash of the
   * payload with its length, and the time. Fixed size, overwritten: a duplicate comes within
   * microseconds of its original, long before the slot is likely to be reused.
   */
  private readonly done = new Float64Array(DONE_SLOTS * 3);
  private doneSeen = false;

  private noteDone(hash: number, ts: number): void {
    const m = this.meta;
    const i = (hash & (DONE_SLOTS - 1)) * 3;
    this.done[i] = hash;
    this.done[i + 1] = payloadHash(m.data, m.payloadOff, m.payloadLen);
    this.done[i + 2] = ts;
    this.doneSeen = true;
  }

  /** This packet repeats the one that completed a flow of the same tuple within DONE_WINDOW_MS. */
  private repeatsDone(hash: number, ts: number): boolean {
    const i = (hash & (DONE_SLOTS - 1)) * 3;
    const d = this.done;
    if (d[i] !== hash || ts - (d[i + 2] as number) > DONE_WINDOW_MS) return false;
    const m = this.meta;
    return d[i + 1] === payloadHash(m.data, m.payloadOff, m.payloadLen);
  }

  /** The datagram flow being fed has every answer: packet() ends it once the datagram is counted. */
  private completed: Flow | null = null;

  exchangesDone(f: Flow): void {
    if (f.proto === 17) this.completed = f;
  }

  /** Nothing recognised the flow: measure it from its first byte, then count only. */
  private unknown(f: Flow): void {
    this.keepHead(f);
    this.payloadStart(f, 0, 0);
    this.payloadStart(f, 1, 0);
    this.finish(f);
  }

  private drainStreamEvents(f: Flow, s: TcpStream): void {
    for (const e of s.events) {
      if (e === 'flow.limit.reassembly_depth') f.addLimit('flow.reassembly_depth');
      else { f.addEvent(e); this.countEvent(e); }
    }
    s.events.length = 0;
  }

  countEvent(id: string): void {
    const ev = this.stats.events;
    ev.set(id, (ev.get(id) ?? 0) + 1);
  }

  private end(f: Flow, reason: EndReason): void {
    if (f.emitted) return; // its record went out when the close completed
    this.emitting = f;
    if (!f.closed) this.endDissection(f);
    this.onFlow(f, reason);
    this.emitting = null;
    this.recycleHistograms(f);
    // Every caller has taken the flow out of the table; its record is built.
    this.table.recycle(f);
  }

  private endDissection(f: Flow): void {
    // Nothing was ever buffered or dissected (a SYN, a scan's probe): nothing to end.
    if (f.app === AppState.Unclassified && f.dissector === null && f.toServer.stream === null && f.toClient.stream === null) return;
    if (f.app === AppState.Unclassified && f.proto === 6) {
      // A 'yes' that waited on a probe still unsure: the stream ends, so it is taken now.
      this.tryClassify(f, 0, true);
      if ((f.app as AppState) === AppState.Unclassified) this.tryClassify(f, 1, true);
      if ((f.app as AppState) === AppState.Attached) {
        this.driver.feedStream(f, 0, false);
        this.driver.feedStream(f, 1, false);
      }
    }
    // Flush what reassembly still holds behind a hole, then let the dissector finish.
    if (f.app === AppState.Attached) {
      for (let d = 0 as Dir; d < 2; d = (d + 1) as Dir) {
        const s = f.side(d).stream;
        if (s !== null && s.heldSegments > 0) {
          s.skipGap();
          this.drainStreamEvents(f, s);
          if (f.app === AppState.Attached) this.driver.feedStream(f, d, false);
        }
      }
    }
    this.driver.end(f);
    if (f.app === AppState.Unclassified) this.keepHead(f);
    this.release(f);
  }

  private recycleHistograms(f: Flow): void {
    for (let d = 0; d < 2; d++) {
      const side = f.side(d);
      const h = side.entropyHist;
      if (h === null) continue;
      side.entropyHist = null;
      if (this.histPool.length < HIST_POOL_MAX) { h.fill(0); this.histPool.push(h); }
    }
  }

  /**
   * A flow-end record from the eBPF feed: the kernel counted every packet, user space saw only
   * the first payload packets, so the kernel's counters replace ours and the flow ends now.
   * Returns false when the flow is not tracked here.
   */
  kernelFlowEnd(r: KernelFlowEnd): boolean {
    const m = tupleMeta(this.scratch, r);
    const f = this.table.find(m);
    if (f === null) return false;
    if (f.tomb) {
      this.table.remove(f); // the record went out at the clean close
      return true;
    }
    const o = this.table.dir; // direction of the kernel's initiator in our flow
    const dirs = [r.orig, r.reply];
    for (let k = 0; k < 2; k++) {
      const d = (k === 0 ? o : 1 - o) as Dir;
      const c = dirs[k] as KernelFlowEnd['orig'];
      const side = f.side(d);
      side.packets = c.packets;
      side.ipBytes = c.bytes;
      side.bytes = c.payloadBytes;
      side.flags |= c.tcpFlags;
      if (c.firstMs > 0 && (side.firstTs === 0 || c.firstMs < side.firstTs)) side.firstTs = c.firstMs;
      if (c.lastMs > side.lastTs) side.lastTs = c.lastMs;
    }
    this.table.remove(f);
    this.end(f, r.reason);
    return true;
  }

  /** Advance packet time without a packet (live idle), expiring flows. */
  tick(ts: number): void {
    if (ts > this.now) this.now = ts;
    const sec = Math.floor(this.now / 1000);
    if (sec > this.expireSec) {
      this.expireSec = sec;
      this.table.expire(sec * 1000, this.expireCb);
    }
  }

  /**
   * End every flow (end of a replay, or shutdown). `onTomb` hears of each tomb drained (a sharded
   * replay's main thread needs them to merge the workers' drains into one table's order).
   */
  flush(reason: EndReason = 'eof', onTomb?: (t: Tomb) => void): void {
    this.table.drain((f) => {
      if (!f.tomb) this.end(f, reason);
      else onTomb?.(f);
    });
    this.frags.clear();
    this.heapWatch?.disconnect();
    this.heapWatch = null;
    this.syncStats();
  }

  syncStats(): void {
    this.stats.flowsEvicted = this.table.evicted;
    this.stats.flowsEvictedMemcap = this.table.memcapEvicted;
    this.stats.dissectorFaults = this.driver.faults;
  }
}
