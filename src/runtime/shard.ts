/**
 * Sharding across worker threads (DESIGN §7, STYLE §5 "one owner per flow"). The main thread
 * reads and decodes each packet once (fragments are reassembled here, tunnels peeled), hashes the
 * canonical 5-tuple and gives the packet to that worker only. Workers own their flows entirely;
 * they return finished FlowRecords, which enter the main pipeline's later stages (DNS naming,
 * enrichment, analytics, outputs) exactly as single-threaded records do.
 *
 * A capture file is read into a ring of shared buffers (runFile): a plain packet (no tunnel, not
 * reassembled) reaches its worker as an offset into the ring, not a copy, and the worker decodes
 * the whole frame as a single thread would; a ring buffer is read into again once every batch that
 * points into it has been answered. Other packets (and every packet of a stream or a live source)
 * are copied, innermost IP header first, into the batch, which is transferred, not cloned.
 * Back-pressure: at most `maxInFlight` batches per worker are outstanding.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CaptureSource, PacketBatch } from '../capture/source.js';
import { openSharedCaptureFile } from '../capture/pcap-file.js';
import { decode } from '../decode/decode.js';
import { DecodeStatus, PacketMeta } from '../decode/packet-meta.js';
import { FragmentTable, defaultFragmentLimits } from '../decode/fragments.js';
import type { Pipeline } from './pipeline.js';
import type { FlowRecord } from '../flow/record.js';
import type { BatchMsg, BypassedFlow, FromWorker, ToWorker, WorkerInit } from './worker.js';
import { tupleMeta, type KernelFlowEnd } from './engine.js';
import { countNotOk, OUTER_WORDS, packTunnel, shardHash } from './shard-hash.js';
import { RecordDecoder, type EncodedBatch } from './record-codec.js';

const BATCH_BYTES = 1 << 20;
const EMPTY_U8 = new Uint8Array(0);
const EMPTY_U16 = new Uint16Array(0);
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_F64 = new Float64Array(0);
const BATCH_PACKETS = 4096;
/**
 * Read buffers of a file replay: the reader may be this many chunks ahead of the slowest worker,
 * so a worker does not wait for the next chunk while another is still on an earlier one.
 */
const RING_BUFFERS = 4;

export { shardHash } from './shard-hash.js';

class Outgoing {
  /** Copied packets; allocated on the first one (a file replay's plain packets are not copied). */
  buf: Uint8Array = EMPTY_U8;
  off = new Uint32Array(BATCH_PACKETS);
  len = new Uint32Array(BATCH_PACKETS);
  orig = new Uint32Array(BATCH_PACKETS);
  ts = new Float64Array(BATCH_PACKETS);
  link = new Uint16Array(BATCH_PACKETS);
  vlan = new Uint16Array(BATCH_PACKETS);
  tunnel = new Uint8Array(BATCH_PACKETS);
  where = new Uint8Array(BATCH_PACKETS);
  /** Outer addresses of tunnelled packets, made for the first one in the batch. */
  outer: Uint32Array | null = null;
  n = 0;
  used = 0;
  maxTs = 0;
  /** Bit i: a packet of this batch lies in ring buffer i. */
  holds = 0;
}

/** The ring a file replay reads into, as the dispatcher sees it. */
interface RingView {
  src: ReturnType<typeof openSharedCaptureFile>;
  /** Offset of the ring's first byte in its SharedArrayBuffer. */
  base: number;
}

/** The worker entry file: the bundled dist/worker.mjs, or this folder's worker.ts under vitest. */
function workerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  for (const cand of ['./worker.mjs', '../dist/worker.mjs', '../../dist/worker.mjs']) {
    const u = new URL(cand, import.meta.url);
    if (existsSync(fileURLToPath(u))) return u;
  }
  throw new Error(`worker entry not found next to ${here}: run the build (node scripts/build.mjs)`);
}

export class ShardedRunner {
  private readonly workers: Worker[] = [];
  private readonly out: Outgoing[] = [];
  private readonly inFlight: number[] = [];
  /** Packet time each worker has processed up to (Infinity once done). */
  private readonly watermark: number[] = [];
  private held: FlowRecord[] = [];
  private readonly lastSentTs: number[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly meta = new PacketMeta();
  private readonly frags = new FragmentTable(defaultFragmentLimits);
  private readonly pipe: Pipeline;
  private readonly maxInFlight = 4;
  readonly workerStats: Record<string, unknown>[] = [];
  mainStats = { packets: 0, bytes: 0, notIp: 0, otherL4: 0, malformed: 0, fragmentsHeld: 0 };
  private failure: Error | null = null;
  /** Per worker, the ring buffers each sent batch points into, in sending order (answers come in that order). */
  private readonly sentHolds: number[][] = [];
  /** Per worker, the decoder of its records (its tables follow that worker's encoder). */
  private readonly decoders: RecordDecoder[] = [];
  /** Per ring buffer, the sent batches pointing into it and not answered yet. */
  private readonly ringHolders = new Int32Array(32);
  private ring: RingView | null = null;
  private started = 0;
  private readonly kernelMeta = new PacketMeta();
  private readonly tableSizes: number[] = [];
  private readonly workerEvents: [string, number][][] = [];
  /** A worker's flow dropped to counting only (the eBPF feed may stop forwarding it). */
  onBypass: ((flow: BypassedFlow) => void) | null = null;

  constructor(pipe: Pipeline, n: number, init: WorkerInit) {
    this.pipe = pipe;
    const url = workerUrl();
    for (let i = 0; i < n; i++) {
      const w = new Worker(url, { workerData: { ndrWorker: true, init } });
      w.on('message', (m: FromWorker) => this.onMessage(i, m));
      w.on('error', (e) => { this.failure = e; this.wake(); });
      this.workers.push(w);
      this.out.push(new Outgoing());
      this.inFlight.push(0);
      this.watermark.push(0);
      this.lastSentTs.push(0);
      this.sentHolds.push([]);
      this.decoders.push(new RecordDecoder());
    }
  }

  private onMessage(i: number, m: FromWorker): void {
    if (m.type === 'ready') {
      this.started++;
      this.wake();
      return;
    }
    if (m.type === 'bypass') {
      this.onBypass?.(m.flow);
      return;
    }
    if (m.type === 'out') {
      if (m.size !== undefined) this.tableSizes[i] = m.size;
      if (m.events !== undefined) this.workerEvents[i] = m.events;
      this.inFlight[i] = (this.inFlight[i] as number) - 1;
      const holds = (this.sentHolds[i] as number[]).shift() ?? 0;
      for (let b = 0; holds >>> b !== 0; b++) if ((holds >>> b) & 1) (this.ringHolders[b] as number)--;
      for (const d of m.dns) this.pipe.learnDns(d.client, d.m, d.ts);
      this.holdAll(i, m.flows);
      this.watermark[i] = m.wm;
    } else {
      this.holdAll(i, m.flows);
      this.workerStats[i] = m.stats;
      this.inFlight[i] = -1000; // done marker
      this.watermark[i] = Infinity;
    }
    this.release();
    this.wake();
  }

  /** Flow ids are per worker: make them unique in this run (worker-local id × N + worker). */
  private holdAll(i: number, b: EncodedBatch): void {
    if (b.count === 0 && b.codeLen === 0) return;
    const n = this.workers.length;
    for (const r of (this.decoders[i] as RecordDecoder).decode(b)) {
      const f = r as FlowRecord;
      f.id = f.id * n + i;
      this.held.push(f);
    }
  }

  /**
   * A record enters the main pipeline once every worker has processed packets up to its start:
   * by then each DNS answer that came before it (on whichever worker) has been learned, so a
   * sharded run names servers exactly as one thread does.
   */
  private release(): void {
    let wm = Infinity;
    for (const w of this.watermark) if (w < wm) wm = w;
    if (this.held.length === 0) return;
    const keep: FlowRecord[] = [];
    for (const f of this.held) {
      if (f.startTs <= wm) this.pipe.accept(f);
      else keep.push(f);
    }
    this.held = keep;
  }

  private wake(): void {
    const ws = this.waiters.splice(0);
    for (const w of ws) w();
  }

  private async waitFor(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.failure) throw this.failure;
      await new Promise<void>((res) => this.waiters.push(res));
    }
    if (this.failure) throw this.failure;
  }

  private async send(i: number, force = false): Promise<void> {
    if ((this.out[i] as Outgoing).n === 0 && !force) return;
    await this.waitFor(() => (this.inFlight[i] as number) < this.maxInFlight);
    // The batch is taken after the wait: with several sources (live interfaces) feeding this
    // runner, whoever gets here first sends what has accumulated, and nothing is sent twice.
    const o = this.out[i] as Outgoing;
    if (o.n === 0 && !force) return;
    this.lastSentTs[i] = o.maxTs;
    this.inFlight[i] = (this.inFlight[i] as number) + 1;
    (this.sentHolds[i] as number[]).push(o.holds);
    for (let b = 0; o.holds >>> b !== 0; b++) if ((o.holds >>> b) & 1) (this.ringHolders[b] as number)++;
    if (o.n === 0) {
      // Time only: no buffers to hand over, keep this batch's arrays.
      const tick: BatchMsg = { type: 'batch', n: 0, buf: EMPTY_U8, off: EMPTY_U32, len: EMPTY_U32, orig: EMPTY_U32, ts: EMPTY_F64, link: EMPTY_U16, vlan: EMPTY_U16, tunnel: EMPTY_U8, where: EMPTY_U8, outer: null, maxTs: o.maxTs };
      (this.workers[i] as Worker).postMessage(tick);
      return;
    }
    const msg: BatchMsg = { type: 'batch', n: o.n, buf: o.buf, off: o.off, len: o.len, orig: o.orig, ts: o.ts, link: o.link, vlan: o.vlan, tunnel: o.tunnel, where: o.where, outer: o.outer, maxTs: o.maxTs };
    const moved: ArrayBufferLike[] = [o.off.buffer, o.len.buffer, o.orig.buffer, o.ts.buffer, o.link.buffer, o.vlan.buffer, o.tunnel.buffer, o.where.buffer];
    if (o.buf.length > 0) moved.push(o.buf.buffer);
    if (o.outer !== null) moved.push(o.outer.buffer);
    (this.workers[i] as Worker).postMessage(msg, moved as never);
    this.out[i] = new Outgoing();
  }

  /**
   * The reader wants ring buffer `b` back: send every batch still gathering packets of it, then
   * wait until the workers have answered all batches that point into it.
   */
  private async reuse(b: number): Promise<void> {
    const bit = 1 << b;
    for (let i = 0; i < this.workers.length; i++) if (((this.out[i] as Outgoing).holds & bit) !== 0) await this.send(i);
    await this.waitFor(() => this.ringHolders[b] === 0);
  }

  /**
   * Live: packet time follows the wall clock. Every worker gets what has accumulated for it plus
   * the time, so idle flows expire and records come back even when traffic is thin.
   */
  async tick(now: number): Promise<void> {
    for (let i = 0; i < this.workers.length; i++) {
      const o = this.out[i] as Outgoing;
      if (now > o.maxTs) o.maxTs = now;
      await this.send(i, true);
    }
  }

  /**
   * A flow-end record of the eBPF feed goes to the worker that owns the flow, after the packets
   * of that flow still waiting here (postMessage keeps order per worker).
   */
  async kernelFlowEnd(r: KernelFlowEnd): Promise<void> {
    const m = tupleMeta(this.kernelMeta, r);
    const i = shardHash(m) % this.workers.length;
    await this.send(i);
    (this.workers[i] as Worker).postMessage({ type: 'kernel-end', r } satisfies ToWorker);
  }

  /** Flows in the workers' tables, as last reported. */
  get activeFlows(): number {
    let n = 0;
    for (const x of this.tableSizes) if (x !== undefined) n += x;
    return n;
  }

  /** Dissector and decoder events counted so far by the workers (reported with each tick). */
  events(): Map<string, number> {
    const out = new Map<string, number>();
    for (const ev of this.workerEvents) if (ev !== undefined) for (const [k, v] of ev) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }

  async run(src: CaptureSource, onBatch?: (packets: number) => void): Promise<void> {
    const m = this.meta;
    const nw = this.workers.length;
    const st = this.mainStats;
    const ring = this.ring;
    try {
      for await (const b of src.batches()) {
        // Where this batch's bytes sit in the ring (-1: not a ring buffer, every packet is copied).
        const rb = ring !== null ? ring.src.bufferOf(b) : -1;
        const rbase = rb >= 0 ? b.buf.byteOffset - (ring as RingView).base : 0;
        for (let k = 0; k < b.n; k++) {
          const off = b.off[k] as number;
          const cap = b.capLen[k] as number;
          m.tsMs = b.tsMs[k] as number;
          st.packets++;
          st.bytes += cap;
          const status = decode(b.buf, off, cap, b.linkType[k] as number, m, this.frags);
          if (status !== DecodeStatus.Ok) {
            countNotOk(status, st);
            continue;
          }
          const wi = shardHash(m) % nw;
          const o = this.out[wi] as Outgoing;
          if (rb >= 0 && !m.reassembled && m.tunnelDepth === 0) {
            if (o.n === BATCH_PACKETS) await this.send(wi);
            this.addShared(this.out[wi] as Outgoing, b, k, rbase + off, rb);
          } else {
            const end = m.reassembled ? m.ipOff + m.ipLen : Math.min(off + cap, m.ipOff + m.ipLen);
            if (o.n === BATCH_PACKETS || o.used + (end - m.ipOff) > BATCH_BYTES) await this.send(wi);
            this.addCopy(this.out[wi] as Outgoing, m, end);
          }
        }
        onBatch?.(st.packets);
        // Time moves for every worker, even one that got no packet in this batch.
        const lastTs = b.n > 0 ? (b.tsMs[b.n - 1] as number) : 0;
        for (let i = 0; i < nw; i++) {
          const o = this.out[i] as Outgoing;
          if (lastTs > o.maxTs) o.maxTs = lastTs;
          if (o.n >= BATCH_PACKETS / 4) await this.send(i);
          // An idle worker still gets packet time (an empty batch), so its flows expire and its
          // watermark moves: records held for DNS naming are not held up by it.
          else if (o.maxTs - (this.lastSentTs[i] as number) >= 1000) await this.send(i, true);
        }
      }
    } finally {
      const st2 = src.stats();
      if (st2.truncated) this.pipe.truncated = true;
      for (const w of st2.warnings) this.pipe.sourceWarnings.push(`${src.name}: ${w}`);
    }
  }

  /** A plain packet of a ring buffer: its worker reads the whole frame in place. */
  private addShared(o: Outgoing, b: PacketBatch, k: number, at: number, rb: number): void {
    const j = o.n;
    o.off[j] = at;
    o.len[j] = b.capLen[k] as number;
    o.orig[j] = b.origLen[k] as number;
    const ts = b.tsMs[k] as number;
    o.ts[j] = ts;
    o.link[j] = b.linkType[k] as number;
    o.where[j] = 1;
    o.holds |= 1 << rb;
    if (ts > o.maxTs) o.maxTs = ts;
    o.n = j + 1;
  }

  /** The innermost IP packet (reassembled, or under its tunnels), copied with what decoding it found. */
  private addCopy(o: Outgoing, m: PacketMeta, end: number): void {
    const len = end - m.ipOff;
    if (o.buf.length === 0) o.buf = new Uint8Array(BATCH_BYTES);
    o.buf.set(m.data.subarray(m.ipOff, end), o.used);
    const j = o.n;
    o.off[j] = o.used;
    o.len[j] = len;
    o.orig[j] = len;
    o.ts[j] = m.tsMs;
    o.vlan[j] = m.vlan;
    o.where[j] = 0;
    o.tunnel[j] = m.tunnelDepth > 0 ? packTunnel(m, o.outer ?? (o.outer = new Uint32Array(BATCH_PACKETS * OUTER_WORDS)), j) : 0;
    if (m.tsMs > o.maxTs) o.maxTs = m.tsMs;
    o.used += len;
    o.n = j + 1;
  }

  /**
   * A capture file: read once, here, into a ring of buffers the workers share; each worker is
   * given the packets of its flows (see the header).
   */
  async runFile(path: string, onBatch?: (packets: number) => void): Promise<void> {
    const src = openSharedCaptureFile(path, { ring: { buffers: RING_BUFFERS, reuse: (b) => this.reuse(b) } });
    const block = src.ring.block;
    for (const w of this.workers) w.postMessage({ type: 'ring', block } satisfies ToWorker);
    this.ring = { src, base: block.byteOffset };
    try {
      await this.run(src, onBatch);
    } finally {
      // Batches still gathering point into this ring: they go before another file's packets.
      for (let i = 0; i < this.workers.length; i++) if ((this.out[i] as Outgoing).holds !== 0) await this.send(i);
      this.ring = null;
    }
  }

  /** Resolves once every worker has loaded and is waiting for work. */
  async ready(): Promise<void> {
    await this.waitFor(() => this.started === this.workers.length);
  }

  /** Stop every worker now (after an error): nothing more comes back. */
  async abort(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Send what is left, end every flow in the workers and wait for their records. */
  async finish(reason: 'eof' | 'shutdown' = 'eof'): Promise<void> {
    for (let i = 0; i < this.workers.length; i++) await this.send(i);
    for (const w of this.workers) w.postMessage({ type: 'finish', reason } satisfies ToWorker);
    await this.waitFor(() => this.inFlight.every((x) => x < -100));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
