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
 *
 * Order: the later stages (DNS naming, analytics: beacon timelines, baselines, alert dedup) see
 * records in the order one thread emits them, so that a sharded run writes the same lines. The
 * main thread numbers every packet it reads; each worker is told where the capture's clock
 * crossed into a new second (so it expires its flows at exactly those places) and tags what it
 * emits (records, DNS answers) with where one thread would have emitted it: at a packet, at an
 * expiry (then by the table's list and the place the flow went to its tail), or at the end (then
 * in the table's drain order, which the main thread rebuilds from every worker's flows and tombs).
 * The main thread merges the workers' streams by these keys, releasing an item once no worker can
 * still emit anything before it. In a replay of files (WorkerInit.seqIds) flow ids are one table's
 * too: workers number flows by the place of their first packet and report each creation, and the
 * main thread counts the creations up to that place; elsewhere (live, where that list would grow
 * without end) ids are worker-local id × N + worker. A table full enough to evict is per worker,
 * so evictions (and so records) differ from one thread's.
 *
 * A replay on no more cores than shards (localShard; ShardedRunner's `local`) runs shard 0 in this
 * thread, as a worker would run it (the same createShard code), and n - 1 worker threads the others: n shards cost n - 1 isolates
 * to start and warm up, not n, and shard 0's records are handed over as the objects its engine
 * built. Its batches are handled when sent; its answers come back through a microtask, in order
 * with the workers' through the same merge, so the output is the one the all-thread runner (and
 * one thread) writes.
 *
 * Live capture through the eBPF feed can skip this thread altogether (openFeeds): the kernel puts
 * each flow's packets on its worker's ring, the loader relays each ring to a FIFO that worker
 * reads. There is no capture-wide packet order then, so records and DNS answers are released as
 * each worker sends them (in that worker's order), as a live dispatcher's would be in any order.
 */
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaptureSource, PacketBatch } from '../capture/source.js';
import { openSharedCaptureFile } from '../capture/pcap-file.js';
import { decode } from '../decode/decode.js';
import { DecodeStatus, PacketMeta } from '../decode/packet-meta.js';
import { FragmentTable, defaultFragmentLimits } from '../decode/fragments.js';
import type { Pipeline } from './pipeline.js';
import type { FlowRecord } from '../flow/record.js';
import { KEY_WORDS, createShard, type BatchMsg, type BypassedFlow, type DnsOut, type FromWorker, type ToWorker, type WorkerInit } from './worker.js';
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

/**
 * Whether a replay's main thread should run a shard itself (ShardedRunner's `local`): when the
 * shards are at least as many as the cores, so that no core is left for this thread alone. Then
 * CPU is what is short, and the local shard saves an isolate's start and half the records'
 * crossing (0.93-0.94 of the CPU of all-worker shards at 2 on 2 cores). With a core to spare,
 * every shard is a worker: this thread, which also reads, dispatches, names, analyses and
 * writes, is the serial part, and a shard of its own would make it the slowest thread
 * (docs/PERFORMANCE.md, "the main thread's own shard").
 */
export function localShard(shards: number, cores = availableParallelism()): boolean {
  return shards >= cores;
}

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
  seq = new Float64Array(BATCH_PACKETS);
  /** Expiry points (BatchMsg.marks). */
  marks: number[] = [];
}

/** Something a worker emitted: a record or a DNS answer, with its order key (KEY_WORDS numbers). */
interface Item {
  key: Float64Array | number[];
  at: number;
  rec: FlowRecord | null;
  dns: DnsOut | null;
}

/** Is item x (key words at xa) before item y? (Same worker on a tie of the place: its own order.) */
function before(x: Item, y: Item): boolean {
  const a = x.key;
  const b = y.key;
  for (let j = 0; j < 5; j++) {
    const d = (a[x.at + j] as number) - (b[y.at + j] as number);
    if (d !== 0) return d < 0;
  }
  return false;
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

/** What the runner needs of a shard: a worker thread, or the main thread's own shard (LocalShard). */
interface ShardHandle {
  postMessage(msg: ToWorker, transfer?: never): void;
  terminate(): Promise<unknown>;
}

/**
 * The shard the main thread runs itself (ShardedRunner's `local`). It answers as a worker does, but
 * in this thread: a batch is handled when it is sent, and its records come back as the objects
 * the engine built (no encoding, no rebuilding), through a microtask, as a worker's answer comes
 * through the event loop, so the runner never handles an answer inside its own send.
 */
class LocalShard implements ShardHandle {
  private readonly handle: (msg: ToWorker) => Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  private readonly failed: (e: Error) => void;

  constructor(init: WorkerInit, deliver: (m: FromWorker) => void, failed: (e: Error) => void) {
    this.failed = failed;
    this.handle = createShard(init, { postMessage: (m) => { queueMicrotask(() => deliver(m)); } }, true);
    queueMicrotask(() => deliver({ type: 'ready' }));
  }

  postMessage(msg: ToWorker): void {
    // A batch is handled now (its arrays are the runner's no more once sent); only the end is
    // asynchronous (it waits for the shard's pipeline), and nothing is sent after it.
    if (msg.type === 'finish') { this.chain = this.chain.then(() => this.handle(msg)).catch((e: unknown) => this.failed(e as Error)); return; }
    this.handle(msg).catch((e: unknown) => this.failed(e as Error));
  }

  terminate(): Promise<unknown> {
    return this.chain;
  }
}

export class ShardedRunner {
  private readonly workers: ShardHandle[] = [];
  private readonly out: Outgoing[] = [];
  private readonly inFlight: number[] = [];
  /** Per worker, what it emitted and the main thread has not released yet, in its order. */
  private readonly queues: Item[][] = [];
  private readonly queueHead: number[] = [];
  /** Per worker, the place in the capture up to which everything it will emit has come back (Infinity once done). */
  private readonly covered: number[] = [];
  /** What the workers emitted while draining their tables at the end, and their tombs. */
  private readonly drained: Item[] = [];
  private readonly tombs: { list: number; seq: number; startTs: number }[] = [];
  /** Flow ids as one table gives them (WorkerInit.seqIds): per worker, the places its flows were created at. */
  private readonly globalIds: boolean;
  private readonly born: number[][] = [];
  /** Packets read so far (every one, whatever it decodes to): the next packet's place. */
  private seqNext = 0;
  /** The last packet handled (given to its worker, or counted as not IP, malformed...). */
  private handled = -1;
  /** The capture's clock as one engine keeps it (its expiry grid: whole seconds). */
  private clockNow = 0;
  private clockSec = 0;
  private readonly lastSentTs: number[] = [];
  private readonly waiters: (() => void)[] = [];
  private readonly meta = new PacketMeta();
  /** Fragments are reassembled here, before the hash: the pipeline's limits and overlap policy. */
  private readonly frags: FragmentTable;
  private readonly pipe: Pipeline;
  private readonly maxInFlight = 4;
  readonly workerStats: Record<string, unknown>[] = [];
  /** packets, bytes: every packet (with openFeeds, the workers' own feeds' too); `here`: those this thread read. */
  mainStats = { packets: 0, bytes: 0, here: 0, notIp: 0, otherL4: 0, malformed: 0, fragmentsHeld: 0, events: new Map<string, number>() };
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
  /** Records are released as they come back, not merged by capture place (openFeeds). */
  private direct = false;
  private readonly feedDirs: string[] = [];
  private feedsOpen = 0;
  private feedError: string | null = null;
  /** Per worker, packets and bytes it read from its own feeds (as of its last tick answer). */
  private readonly feedCounts: number[][] = [];

  private readonly ringBuffers: number;
  private readonly chunkBytes: number | undefined;

  /**
   * `ring`: the file replay's read buffers (count, and bytes each, at least 1 MiB: tests make them
   * cycle). `local`: shard 0 runs in this thread and n - 1 worker threads run the others (a
   * replay: one isolate fewer to start and warm up, and shard 0's records are not encoded and
   * rebuilt); otherwise (live) every shard is a worker thread and this thread only dispatches.
   */
  constructor(pipe: Pipeline, n: number, init: WorkerInit, ring: { buffers?: number; chunkBytes?: number; local?: boolean } = {}) {
    this.pipe = pipe;
    this.frags = new FragmentTable({ ...defaultFragmentLimits, ...init.limits?.fragments });
    // Decoding happens here, so the decoder's events are counted here, as one engine counts them.
    this.frags.onEvent = (ev) => this.countEvent(ev);
    this.ringBuffers = Math.min(32, Math.max(2, ring.buffers ?? RING_BUFFERS));
    this.chunkBytes = ring.chunkBytes;
    this.globalIds = init.seqIds === true;
    const local = ring.local === true;
    const url = n > 1 || !local ? workerUrl() : null;
    for (let i = 0; i < n; i++) {
      if (local && i === 0) {
        this.workers.push(new LocalShard(init, (m) => this.onMessage(0, m), (e) => { this.failure = e; this.wake(); }));
      } else {
        const w = new Worker(url as URL, { workerData: { ndrWorker: true, init } });
        w.on('message', (m: FromWorker) => this.onMessage(i, m));
        w.on('error', (e) => { this.failure = e; this.wake(); });
        this.workers.push(w as unknown as ShardHandle);
      }
      this.out.push(new Outgoing());
      this.inFlight.push(0);
      this.queues.push([]);
      this.queueHead.push(0);
      this.covered.push(-1);
      this.born.push([]);
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
    if (m.type === 'feed-open') {
      if (m.error !== undefined) this.feedError = `${m.path}: ${m.error}`;
      this.feedsOpen++;
      this.wake();
      return;
    }
    if (m.type === 'feed-out') {
      this.releaseNow(i, m.flows, m.keys, m.dns);
      (this.workers[i] as ShardHandle).postMessage({ type: 'feed-ack' } satisfies ToWorker);
      return;
    }
    if (m.type === 'out') {
      if (m.size !== undefined) this.tableSizes[i] = m.size;
      if (m.events !== undefined) this.workerEvents[i] = m.events;
      if (m.feedPackets !== undefined && m.feedBytes !== undefined) {
        const [p0, b0] = this.feedCounts[i] ?? [0, 0];
        this.mainStats.packets += m.feedPackets - (p0 as number);
        this.mainStats.bytes += m.feedBytes - (b0 as number);
        this.feedCounts[i] = [m.feedPackets, m.feedBytes];
      }
      this.inFlight[i] = (this.inFlight[i] as number) - 1;
      const holds = (this.sentHolds[i] as number[]).shift() ?? 0;
      for (let b = 0; holds >>> b !== 0; b++) if ((holds >>> b) & 1) (this.ringHolders[b] as number)--;
      const born = this.born[i] as number[];
      for (let j = 0; j < m.born.length; j++) born.push(m.born[j] as number);
      if (this.direct) { this.releaseNow(i, m.flows, m.keys, m.dns); this.wake(); return; }
      this.take(i, m.flows, m.keys, m.dns, this.queues[i] as Item[]);
      this.covered[i] = m.upTo;
    } else {
      this.take(i, m.flows, m.keys, m.dns, this.drained);
      for (let j = 0; j + 2 < m.tombs.length; j += 3) this.tombs.push({ list: m.tombs[j] as number, seq: m.tombs[j + 1] as number, startTs: m.tombs[j + 2] as number });
      this.workerStats[i] = m.stats;
      this.inFlight[i] = -1000; // done marker
      this.covered[i] = Infinity;
    }
    this.release();
    this.wake();
  }

  /**
   * A worker's records and DNS answers, as items. Ids: with globalIds a record's id is the place its
   * flow was created at (made an id when released); else worker-local, made unique in this run here
   * (id × N + worker).
   */
  private take(i: number, b: EncodedBatch | FlowRecord[], keys: Float64Array, dns: DnsOut[], into: Item[]): void {
    const n = this.workers.length;
    const recs = Array.isArray(b) ? b : b.count === 0 && b.codeLen === 0 ? [] : (this.decoders[i] as RecordDecoder).decode(b);
    const items: Item[] = [];
    for (let j = 0; j < recs.length; j++) {
      const f = recs[j] as FlowRecord;
      if (!this.globalIds) f.id = f.id * n + i;
      items.push({ key: keys, at: j * KEY_WORDS, rec: f, dns: null });
    }
    for (const d of dns) items.push({ key: d.key, at: 0, rec: null, dns: d });
    // Records and answers each come in the worker's order; k (the fifth word) interleaves them.
    if (dns.length > 0 && recs.length > 0) items.sort((x, y) => (x.key[x.at + 4] as number) - (y.key[y.at + 4] as number));
    for (const it of items) into.push(it);
  }

  /** Direct mode: a worker's items go to the later stages at once, in its order. */
  private releaseNow(i: number, b: EncodedBatch | FlowRecord[], keys: Float64Array, dns: DnsOut[]): void {
    const items: Item[] = [];
    this.take(i, b, keys, dns, items);
    for (const it of items) this.deliver(it);
  }

  private deliver(it: Item): void {
    if (it.dns !== null) {
      this.pipe.learnDns(it.dns.client, it.dns.m, it.dns.ts);
      return;
    }
    const f = it.rec as FlowRecord;
    if (this.globalIds) f.id = this.idAt(f.id);
    this.pipe.accept(f);
  }

  /**
   * One table's id for the flow created at place g: the flows created at or before g by every
   * worker (each place creates at most one). Every worker has reported its creations up to g by
   * the time a record of that flow is released (see release).
   */
  private idAt(g: number): number {
    let id = 0;
    for (const b of this.born) {
      let lo = 0;
      let hi = b.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((b[mid] as number) <= g) lo = mid + 1;
        else hi = mid;
      }
      id += lo;
    }
    return id;
  }

  /**
   * Hand the later stages what no worker can precede any more: the first item by key across the
   * workers' queues, while every worker with nothing queued has come back past its place.
   */
  private release(): void {
    const nw = this.workers.length;
    for (;;) {
      let best = -1;
      let item: Item | null = null;
      for (let w = 0; w < nw; w++) {
        const q = this.queues[w] as Item[];
        const h = this.queueHead[w] as number;
        if (h < q.length && (item === null || before(q[h] as Item, item))) { item = q[h] as Item; best = w; }
      }
      if (item === null) return;
      const g = item.key[item.at] as number;
      for (let w = 0; w < nw; w++) {
        if ((this.queueHead[w] as number) >= (this.queues[w] as Item[]).length && (this.covered[w] as number) < g) return;
      }
      const q = this.queues[best] as Item[];
      const h = (this.queueHead[best] as number) + 1;
      if (h === q.length) { q.length = 0; this.queueHead[best] = 0; }
      else if (h > 1024 && h * 2 > q.length) { q.splice(0, h); this.queueHead[best] = 0; }
      else this.queueHead[best] = h;
      this.deliver(item);
    }
  }

  /**
   * The end: every worker drained its table. One table drains by taking, again and again, the
   * oldest-started of its three lists' first entries (tombs included, which emit nothing); the
   * workers' lists merged by their place give that table's lists.
   */
  private releaseDrained(): void {
    const lists: { seq: number; startTs: number; items: Item[] }[][] = [[], [], []];
    const byEntry = new Map<string, { seq: number; startTs: number; items: Item[] }>();
    for (const it of this.drained) {
      const l = it.key[it.at + 2] as number;
      const seq = it.key[it.at + 3] as number;
      const id = `${l}/${seq}`;
      let e = byEntry.get(id);
      if (e === undefined) {
        e = { seq, startTs: it.key[it.at + 5] as number, items: [] };
        byEntry.set(id, e);
        (lists[l] as { seq: number; startTs: number; items: Item[] }[]).push(e);
      }
      e.items.push(it);
    }
    for (const t of this.tombs) (lists[t.list] as { seq: number; startTs: number; items: Item[] }[]).push({ seq: t.seq, startTs: t.startTs, items: [] });
    for (const l of lists) l.sort((a, b) => a.seq - b.seq);
    const heads = [0, 0, 0];
    for (;;) {
      let best = -1;
      for (let l = 0; l < 3; l++) {
        const e = (lists[l] as { startTs: number }[])[heads[l] as number];
        if (e !== undefined && (best < 0 || e.startTs < ((lists[best] as { startTs: number }[])[heads[best] as number] as { startTs: number }).startTs)) best = l;
      }
      if (best < 0) break;
      const e = (lists[best] as { items: Item[] }[])[heads[best] as number] as { items: Item[] };
      heads[best] = (heads[best] as number) + 1;
      e.items.sort((x, y) => (x.key[x.at + 4] as number) - (y.key[y.at + 4] as number));
      for (const it of e.items) this.deliver(it);
    }
    this.drained.length = 0;
    this.tombs.length = 0;
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
    const marks = o.marks.length === 0 ? EMPTY_F64 : new Float64Array(o.marks);
    if (o.n === 0) {
      // Time only: no buffers to hand over, keep this batch's arrays.
      const tick: BatchMsg = { type: 'batch', n: 0, buf: EMPTY_U8, off: EMPTY_U32, len: EMPTY_U32, orig: EMPTY_U32, ts: EMPTY_F64, link: EMPTY_U16, vlan: EMPTY_U16, tunnel: EMPTY_U8, where: EMPTY_U8, outer: null, maxTs: o.maxTs, seq: EMPTY_F64, marks, upTo: this.handled };
      o.marks = [];
      (this.workers[i] as ShardHandle).postMessage(tick);
      return;
    }
    const msg: BatchMsg = { type: 'batch', n: o.n, buf: o.buf, off: o.off, len: o.len, orig: o.orig, ts: o.ts, link: o.link, vlan: o.vlan, tunnel: o.tunnel, where: o.where, outer: o.outer, maxTs: o.maxTs, seq: o.seq, marks, upTo: this.handled };
    const moved: ArrayBufferLike[] = [o.off.buffer, o.len.buffer, o.orig.buffer, o.ts.buffer, o.link.buffer, o.vlan.buffer, o.tunnel.buffer, o.where.buffer, o.seq.buffer];
    if (o.buf.length > 0) moved.push(o.buf.buffer);
    if (o.outer !== null) moved.push(o.outer.buffer);
    (this.workers[i] as ShardHandle).postMessage(msg, moved as never);
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
    (this.workers[i] as ShardHandle).postMessage({ type: 'kernel-end', r } satisfies ToWorker);
  }

  /**
   * Per-worker rings of the eBPF feed (EbpfOptions.ringOut): one FIFO per worker, opened by that
   * worker for reading before this resolves; from now on records are released as they come back.
   * The FIFOs' folder goes with finish() (or removeFeeds once the loader has them open). `key`
   * names the interface: feeds opened again for it (a restarted loader) replace its old ones.
   */
  async openFeeds(key: string): Promise<string[]> {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-rings-'));
    this.feedDirs.push(dir);
    const paths = this.workers.map((_, i) => join(dir, `worker-${i}`));
    execFileSync('mkfifo', ['-m', '0600', ...paths], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.direct = true;
    const want = this.feedsOpen + paths.length;
    this.workers.forEach((w, i) => w.postMessage({ type: 'feed', path: paths[i] as string, key } satisfies ToWorker));
    await this.waitFor(() => this.feedsOpen >= want);
    if (this.feedError !== null) throw new Error(`worker feed: ${this.feedError}`);
    return paths;
  }

  /** Remove the FIFOs of openFeeds (the loader and the workers keep what they opened). */
  removeFeeds(): void {
    for (const d of this.feedDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }

  /** Worker threads started (n, or n - 1 with `local`: shard 0 runs in this thread). */
  get threads(): number {
    return this.workers.filter((w) => !(w instanceof LocalShard)).length;
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
          const ts = b.tsMs[k] as number;
          const g = this.seqNext++;
          // One engine's clock: the first packet past a whole second expires idle flows before it
          // is handled. Every worker is told, at this place in its stream.
          if (ts > this.clockNow) {
            this.clockNow = ts;
            const sec = Math.floor(ts / 1000);
            if (sec > this.clockSec) {
              this.clockSec = sec;
              for (const o of this.out) o.marks.push(o.n, sec, g);
            }
          }
          m.tsMs = ts;
          st.packets++;
          st.here++;
          st.bytes += cap;
          const status = decode(b.buf, off, cap, b.linkType[k] as number, m, this.frags);
          if (status !== DecodeStatus.Ok) {
            countNotOk(status, st);
            if (m.event !== '' && status !== DecodeStatus.Fragment) this.countEvent(m.event);
            this.handled = g;
            continue;
          }
          const wi = shardHash(m) % nw;
          const o = this.out[wi] as Outgoing;
          if (rb >= 0 && !m.reassembled && m.tunnelDepth === 0) {
            if (o.n === BATCH_PACKETS) await this.send(wi);
            this.addShared(this.out[wi] as Outgoing, b, k, rbase + off, rb, g);
          } else {
            const end = m.reassembled ? m.ipOff + m.ipLen : Math.min(off + cap, m.ipOff + m.ipLen);
            if (o.n === BATCH_PACKETS || o.used + (end - m.ipOff) > BATCH_BYTES) await this.send(wi);
            this.addCopy(this.out[wi] as Outgoing, m, end, g);
          }
          this.handled = g;
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

  private countEvent(id: string): void {
    const ev = this.mainStats.events;
    ev.set(id, (ev.get(id) ?? 0) + 1);
  }

  /** A plain packet of a ring buffer: its worker reads the whole frame in place. */
  private addShared(o: Outgoing, b: PacketBatch, k: number, at: number, rb: number, g: number): void {
    const j = o.n;
    o.seq[j] = g;
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
  private addCopy(o: Outgoing, m: PacketMeta, end: number, g: number): void {
    const len = end - m.ipOff;
    if (o.buf.length === 0) o.buf = new Uint8Array(BATCH_BYTES);
    o.buf.set(m.data.subarray(m.ipOff, end), o.used);
    const j = o.n;
    o.seq[j] = g;
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
    const src = openSharedCaptureFile(path, { ...(this.chunkBytes !== undefined ? { chunkBytes: this.chunkBytes } : {}), ring: { buffers: this.ringBuffers, reuse: (b) => this.reuse(b) } });
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
    this.removeFeeds();
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Send what is left, end every flow in the workers and wait for their records. */
  async finish(reason: 'eof' | 'shutdown' = 'eof'): Promise<void> {
    for (let i = 0; i < this.workers.length; i++) await this.send(i);
    for (const w of this.workers) w.postMessage({ type: 'finish', reason } satisfies ToWorker);
    await this.waitFor(() => this.inFlight.every((x) => x < -100));
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.removeFeeds();
    this.releaseDrained();
  }
}
