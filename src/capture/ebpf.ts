/**
 * The eBPF feed (DESIGN §5): `EbpfSource` runs the privileged C loader (`bpf/loader.c`) and reads
 * its record stream, either from the loader's stdout (the sensor spawns it) or from the unix
 * socket a separately started loader listens on (`loaderSocket`, the systemd deployment).
 *
 * Framing (little-endian), shared with the libpcap helper of live-pcap.ts:
 *   u32 len (bytes after this field), u8 type, u8[3] 0, payload (len - 4 bytes)
 *   1 PACKET   u64 ts_ns (epoch), u32 orig_len, u32 ifindex (libpcap helper: 0), frame bytes
 *   2 FLOW_END see parseFlowEnd (tuple, reason, per-direction final counters)
 *   3 STATS    u32 count, u32 0, count x u64
 *   4 READY    u32 ifindex (libpcap helper: link type), u32 mode (1 tcx, 2 tc clsact, 3 libpcap), name
 * Commands to the loader: 40 bytes, see encodeCommand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, isIPv4, isIPv6, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import { LinkType, newBatch, type CaptureSource, type PacketBatch, type SourceStats } from './source.js';

export const FeedRecord = { Packet: 1, FlowEnd: 2, Stats: 3, Ready: 4 } as const;
export const AttachMode = { Tcx: 1, TcClsact: 2, Libpcap: 3 } as const;
export const FlowEndReason = { Fin: 1, Rst: 2, Idle: 3 } as const;

/** Order of the loader's STATS values (bpf/flow.h NDR_CTR_* then loader-side counters). */
export const LOADER_STAT_NAMES = [
  'packets', // every packet the kernel program saw
  'bytes',
  'fwdPackets', // forwarded to user space
  'fwdBytes',
  'ringbufFull', // reserve failed: a packet that should have come up was lost
  'mapFull', // flow insert failed
  'flowsNew',
  'hintLost',
  'nonFlow',
  'fragments',
  'doneSkipped', // payload packets not forwarded because the flow was marked done
  'flowsEnded',
  'doneCommands',
  'recordsUnsent', // socket mode: records produced while no sensor was connected
] as const;
export type LoaderStatName = (typeof LOADER_STAT_NAMES)[number];
export type LoaderStats = Record<LoaderStatName, number>;

/** A flow's 5-tuple; for flow-end records src is the initiator (the SYN sender, else the first talker). */
export interface FlowTuple {
  ipVersion: 4 | 6;
  proto: number;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

export interface FlowEndDir {
  packets: number;
  /** IP bytes (IP total length summed). */
  bytes: number;
  payloadBytes: number;
  firstMs: number;
  lastMs: number;
  /** Payload packets / bytes the kernel forwarded to user space. */
  fwdPackets: number;
  fwdBytes: number;
  /** OR of all TCP flag bytes seen. */
  tcpFlags: number;
}

export interface FlowEndRecord {
  tuple: FlowTuple;
  reason: 'fin' | 'rst' | 'idle';
  /** True when the initiator is known from a SYN (else it is the first packet's sender). */
  sawSyn: boolean;
  /** Counters of the initiator → responder direction and the reverse. */
  orig: FlowEndDir;
  reply: FlowEndDir;
}

export interface LoaderExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** One line: the loader's last stderr line or what happened. */
  reason: string;
}

// ───────────────────────── framing ─────────────────────────

const RECORD_HEADER_BYTES = 8;
const MAX_RECORD_BYTES = 1 << 20;

/** ns since the epoch held as two u32 halves → epoch milliseconds (with the sub-ms fraction). */
function nsToMs(lo: number, hi: number): number {
  return hi * 4294.967296 + lo / 1e6;
}

function u64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * 4294967296 + b.readUInt32LE(off);
}

function addrText(b: Buffer, off: number, family: number): string {
  if (family === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const parts: string[] = [];
  for (let i = 0; i < 8; i++) parts.push(b.readUInt16BE(off + 2 * i).toString(16));
  // RFC 5952 zero compression.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (parts[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return parts.join(':');
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + bestLen).join(':')}`;
}

function dirAt(b: Buffer, off: number): FlowEndDir {
  return {
    packets: u64(b, off),
    bytes: u64(b, off + 8),
    firstMs: nsToMs(b.readUInt32LE(off + 16), b.readUInt32LE(off + 20)),
    lastMs: nsToMs(b.readUInt32LE(off + 24), b.readUInt32LE(off + 28)),
    payloadBytes: b.readUInt32LE(off + 32),
    fwdPackets: b.readUInt32LE(off + 36),
    fwdBytes: b.readUInt32LE(off + 40),
    tcpFlags: b[off + 44] as number,
  };
}

/** Decode a FLOW_END payload (starting at `off`, 144 bytes). */
export function parseFlowEnd(b: Buffer, off: number): FlowEndRecord {
  const family = b[off] as number;
  const proto = b[off + 1] as number;
  const reasonCode = b[off + 2] as number;
  const firstDir = b[off + 3] as number;
  const synDir = b[off + 4] as number;
  const portA = b.readUInt16LE(off + 8);
  const portB = b.readUInt16LE(off + 10);
  const ipA = addrText(b, off + 16, family);
  const ipB = addrText(b, off + 32, family);
  const d0 = dirAt(b, off + 48);
  const d1 = dirAt(b, off + 96);
  const initDir = synDir ? synDir - 1 : firstDir;
  const aFirst = initDir === 0;
  return {
    tuple: {
      ipVersion: family === 6 ? 6 : 4,
      proto,
      srcIp: aFirst ? ipA : ipB,
      srcPort: aFirst ? portA : portB,
      dstIp: aFirst ? ipB : ipA,
      dstPort: aFirst ? portB : portA,
    },
    reason: reasonCode === FlowEndReason.Rst ? 'rst' : reasonCode === FlowEndReason.Idle ? 'idle' : 'fin',
    sawSyn: synDir !== 0,
    orig: aFirst ? d0 : d1,
    reply: aFirst ? d1 : d0,
  };
}

function ipBytes(ip: string, out: Buffer, off: number): 4 | 6 {
  if (isIPv4(ip)) {
    const p = ip.split('.');
    for (let i = 0; i < 4; i++) out[off + i] = Number(p[i]);
    return 4;
  }
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  const m = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (m) {
    const q = m.slice(2, 6).map(Number) as [number, number, number, number];
    text = `${m[1] as string}${((q[0] << 8) | q[1]).toString(16)}:${((q[2] << 8) | q[3]).toString(16)}`;
  }
  const hex = (part: string): number[] => part.split(':').filter((x) => x !== '').map((x) => parseInt(x, 16));
  const dbl = text.indexOf('::');
  let groups: number[];
  if (dbl < 0) groups = hex(text);
  else {
    const head = hex(text.slice(0, dbl));
    const tail = hex(text.slice(dbl + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i] ?? 0, off + 2 * i);
  return 6;
}

/** 40-byte command: u8 cmd, u8 family, u8 proto, u8 0, u16 sport, u16 dport, saddr[16], daddr[16]. */
export function encodeCommand(cmd: 1 | 2, t?: FlowTuple): Buffer {
  const b = Buffer.alloc(40);
  b[0] = cmd;
  if (t) {
    const f = ipBytes(t.srcIp, b, 8);
    ipBytes(t.dstIp, b, 24);
    b[1] = f;
    b[2] = t.proto;
    b.writeUInt16LE(t.srcPort, 4);
    b.writeUInt16LE(t.dstPort, 6);
  }
  return b;
}

/**
 * Accumulates the byte stream and cuts it into records. Packet records are handed out zero-copy:
 * a batch's `buf` is this reader's buffer and stays valid until the next `fill`.
 */
export class FeedReader {
  private buf = Buffer.alloc(1 << 20);
  private start = 0;
  private end = 0;

  get unread(): number {
    return this.end - this.start;
  }

  append(chunk: Buffer): void {
    if (this.end + chunk.length > this.buf.length) {
      // Never move bytes in place here: the current batch may still point at them.
      const need = this.unread + chunk.length;
      let cap = this.buf.length;
      while (cap < need * 2) cap *= 2;
      const nb = Buffer.allocUnsafe(cap);
      this.buf.copy(nb, 0, this.start, this.end);
      this.buf = nb;
      this.end -= this.start;
      this.start = 0;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** Type of the next complete record, or 0. Throws on a corrupt length. */
  peekType(): number {
    if (this.unread < RECORD_HEADER_BYTES) return 0;
    const len = this.buf.readUInt32LE(this.start);
    if (len < 4 || len > MAX_RECORD_BYTES) throw new Error(`feed: corrupt record length ${len}`);
    if (this.unread < 4 + len) return 0;
    return this.buf[this.start + 4] as number;
  }

  /** Take the next complete record: [buffer, payload offset, payload length]. Call after peekType() > 0. */
  take(): [Buffer, number, number] {
    const len = this.buf.readUInt32LE(this.start);
    const off = this.start + RECORD_HEADER_BYTES;
    this.start += 4 + len;
    return [this.buf, off, len - 4];
  }

  /**
   * Fill `batch` with packet records (up to `max`), handling other records through `other`.
   * A FLOW_END record ends the batch when packets precede it, so it is delivered after them.
   */
  fill(batch: PacketBatch, max: number, linkType: number, other: (type: number, b: Buffer, off: number, len: number) => void): number {
    if (this.start > 0 && this.start === this.end) { this.start = 0; this.end = 0; }
    else if (this.start > this.buf.length / 2) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    let n = 0;
    batch.buf = this.buf;
    for (;;) {
      if (n >= max) break;
      const type = this.peekType();
      if (type === 0) break;
      if (type === FeedRecord.FlowEnd && n > 0) break;
      const [b, off, len] = this.take();
      if (type !== FeedRecord.Packet || len < 16) {
        other(type, b, off, len);
        continue;
      }
      batch.tsMs[n] = nsToMs(b.readUInt32LE(off), b.readUInt32LE(off + 4));
      batch.origLen[n] = b.readUInt32LE(off + 8);
      batch.off[n] = off + 16;
      batch.capLen[n] = len - 16;
      batch.linkType[n] = linkType;
      n++;
    }
    batch.n = n;
    return n;
  }
}

// ───────────────────────── the source ─────────────────────────

export interface EbpfOptions {
  iface: string;
  /** Path of the loader binary (default: $NDR_LOADER, then bpf/build/ndr-loader, /usr/lib/ndr-sensor/ndr-loader). */
  loaderPath?: string;
  /** Connect to a loader already running with `--socket PATH` instead of spawning one. */
  loaderSocket?: string;
  egress?: boolean;
  snapLen?: number;
  maxPacketsPerDir?: number;
  maxBytesPerDir?: number;
  maxFlows?: number;
  ringbufMiB?: number;
  idleTimeoutMs?: number;
  lingerMs?: number;
  statsIntervalMs?: number;
  attach?: 'auto' | 'tcx' | 'tc';
  /** Packets per batch (default 1024). */
  batchSize?: number;
  /** Time allowed for the loader to attach (default 10 s). */
  startTimeoutMs?: number;
  /** Command prefix for the loader, e.g. ['ip', 'netns', 'exec', 'tap'] or ['nsenter', ...]. */
  spawnPrefix?: string[];
  /**
   * Per-worker rings: FIFOs, one per flow worker, each already open for reading by its worker
   * (ShardedRunner.openFeeds). The kernel puts every flow's packets on its worker's ring and the
   * loader relays ring i to ringOut[i] with those flows' flow-end records; this source then
   * carries only what has no worker of its own (fragments, UDP tunnels: see bpf/flow.h).
   * Not with loaderSocket.
   */
  ringOut?: readonly string[];
}

export function defaultLoaderPath(): string {
  const env = process.env['NDR_LOADER'];
  if (env) return env;
  const candidates = [
    fileURLToPath(new URL('../../bpf/build/ndr-loader', import.meta.url)), // src/capture → repo
    fileURLToPath(new URL('../bpf/build/ndr-loader', import.meta.url)), // dist/ bundle → repo
    '/usr/lib/ndr-sensor/ndr-loader',
  ];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

const FEED_HIGH_WATER_BYTES = 64 << 20;
const FEED_LOW_WATER_BYTES = 16 << 20;

/** Shared plumbing for sources that read the feed framing from a stream (eBPF loader, libpcap helper). */
export abstract class FeedSource implements CaptureSource {
  abstract readonly name: string;
  protected readonly reader = new FeedReader();
  protected readonly batch: PacketBatch;
  protected input: Readable | null = null;
  protected output: Writable | null = null;
  protected ended = false;
  protected closing = false;
  protected linkType: number = LinkType.Ethernet;
  protected packets = 0;
  protected bytes = 0;
  protected readonly warnings: string[] = [];
  private waiter: (() => void) | null = null;
  private paused = false;
  private readyResolve: ((mode: number) => void) | null = null;
  protected statsWaiters: Array<() => void> = [];
  protected exitCbs: Array<(e: LoaderExit) => void> = [];
  protected exitInfo: LoaderExit | null = null;
  protected lastStderr = '';

  constructor(batchSize: number) {
    this.batch = newBatch(batchSize);
  }

  /** Wire a readable byte stream; resolves with the READY mode once the peer says it is attached. */
  protected attachInput(input: Readable, output: Writable | null): Promise<number> {
    this.input = input;
    this.output = output;
    const ready = new Promise<number>((res) => { this.readyResolve = res; });
    input.on('data', (chunk: Buffer) => {
      this.reader.append(chunk);
      if (this.readyResolve) this.consumeLeadingReady();
      if (this.reader.unread > FEED_HIGH_WATER_BYTES && !this.paused) { this.paused = true; input.pause(); }
      this.wake();
    });
    input.on('end', () => { this.ended = true; this.wake(); });
    input.on('close', () => { this.ended = true; this.wake(); });
    input.on('error', () => { this.ended = true; this.wake(); });
    return ready;
  }

  private consumeLeadingReady(): void {
    while (this.readyResolve) {
      const t = this.reader.peekType();
      if (t === 0) return;
      if (t !== FeedRecord.Ready && t !== FeedRecord.Stats) return; // packets first: leave them
      const [b, off, len] = this.reader.take();
      this.onRecord(t, b, off, len);
    }
  }

  protected wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  protected onRecord(type: number, b: Buffer, off: number, len: number): void {
    if (type === FeedRecord.Ready && len >= 8) {
      const mode = b.readUInt32LE(off + 4);
      if (mode === AttachMode.Libpcap) this.linkType = b.readUInt32LE(off);
      const r = this.readyResolve;
      this.readyResolve = null;
      r?.(mode);
    } else if (type === FeedRecord.Stats && len >= 8) {
      const count = b.readUInt32LE(off);
      const vals: number[] = [];
      for (let i = 0; i < count && 8 + 8 * i + 8 <= len; i++) vals.push(u64(b, off + 8 + 8 * i));
      this.onStats(vals);
      const ws = this.statsWaiters;
      this.statsWaiters = [];
      for (const w of ws) w();
    } else if (type === FeedRecord.FlowEnd && len >= 144) {
      this.onFlowEndRecord(parseFlowEnd(b, off));
    }
  }

  protected abstract onStats(vals: number[]): void;
  protected onFlowEndRecord(_r: FlowEndRecord): void { /* sources without flow-end records */ }

  async *batches(): AsyncIterable<PacketBatch> {
    const other = (t: number, b: Buffer, off: number, len: number): void => this.onRecord(t, b, off, len);
    for (;;) {
      const n = this.reader.fill(this.batch, this.batch.off.length, this.linkType, other);
      if (this.paused && this.reader.unread < FEED_LOW_WATER_BYTES) { this.paused = false; this.input?.resume(); }
      if (n > 0) {
        this.packets += n;
        for (let i = 0; i < n; i++) this.bytes += this.batch.origLen[i] as number;
        yield this.batch;
        continue;
      }
      if (this.reader.peekType() !== 0) continue; // a flow-end record was dispatched, more may follow
      if (this.ended || this.closing) return;
      await new Promise<void>((res) => { this.waiter = res; });
    }
  }

  /** After close: handle the control records still buffered (final stats, flow ends); drop packets. */
  protected drainControl(): void {
    for (;;) {
      let t: number;
      try { t = this.reader.peekType(); } catch { return; }
      if (t === 0) return;
      const [b, off, len] = this.reader.take();
      if (t !== FeedRecord.Packet) this.onRecord(t, b, off, len);
    }
  }

  abstract stats(): SourceStats;
  abstract close(): Promise<void>;

  /** Called once when the peer (loader / helper) goes away without close(). */
  onExit(cb: (e: LoaderExit) => void): void {
    if (this.exitInfo) cb(this.exitInfo);
    else this.exitCbs.push(cb);
  }

  /** Keep the last complete stderr line of a child (its failure reason). */
  protected collectStderr(child: ChildProcess): void {
    let partial = '';
    child.stderr?.on('data', (d: Buffer) => {
      const text = partial + d.toString();
      const nl = text.lastIndexOf('\n');
      partial = nl < 0 ? text : text.slice(nl + 1);
      if (partial.length > 4096) partial = partial.slice(-4096);
      const line = oneLine(nl < 0 ? '' : text.slice(0, nl));
      if (line) this.lastStderr = line;
    });
    child.stderr?.on('end', () => { const l = oneLine(partial); if (l) this.lastStderr = l; });
  }

  protected reportExit(e: LoaderExit): void {
    if (this.exitInfo || this.closing) return;
    this.exitInfo = e;
    for (const cb of this.exitCbs) cb(e);
    this.exitCbs = [];
  }

  /** Ask the peer for a STATS record now; resolves when one arrives (or after `timeoutMs`). */
  async refreshStats(timeoutMs = 2000): Promise<SourceStats> {
    if (this.output && !this.ended) {
      const got = new Promise<void>((res) => {
        this.statsWaiters.push(res);
        setTimeout(res, timeoutMs).unref();
      });
      this.output.write(encodeCommand(2));
      await got;
    }
    return this.stats();
  }
}

function oneLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? '';
}

export class EbpfSource extends FeedSource {
  readonly name: string;
  private child: ChildProcess | null = null;
  private socket: Socket | null = null;
  private flowEndCbs: Array<(r: FlowEndRecord) => void> = [];
  private kstats: LoaderStats = Object.fromEntries(LOADER_STAT_NAMES.map((k) => [k, 0])) as LoaderStats;
  attachMode = 0;

  private readonly opts: EbpfOptions;

  constructor(opts: EbpfOptions) {
    super(opts.batchSize ?? 1024);
    this.opts = opts;
    this.name = `ebpf:${opts.iface}`;
  }

  loaderArgs(): string[] {
    const o = this.opts;
    const a = ['--iface', o.iface];
    if (o.egress) a.push('--egress');
    if (o.snapLen !== undefined) a.push('--snap', String(o.snapLen));
    if (o.maxPacketsPerDir !== undefined) a.push('--max-pkts', String(o.maxPacketsPerDir));
    if (o.maxBytesPerDir !== undefined) a.push('--max-bytes', String(o.maxBytesPerDir));
    if (o.maxFlows !== undefined) a.push('--max-flows', String(o.maxFlows));
    if (o.ringbufMiB !== undefined) a.push('--ringbuf-mib', String(o.ringbufMiB));
    if (o.idleTimeoutMs !== undefined) a.push('--idle-ms', String(o.idleTimeoutMs));
    if (o.lingerMs !== undefined) a.push('--linger-ms', String(o.lingerMs));
    if (o.statsIntervalMs !== undefined) a.push('--stats-ms', String(o.statsIntervalMs));
    if (o.attach) a.push('--attach', o.attach);
    for (const p of o.ringOut ?? []) a.push('--ring-out', p);
    return a;
  }

  /** Start (spawn or connect) and wait until the program is attached. Rejects with a one-line reason. */
  async start(): Promise<void> {
    const timeoutMs = this.opts.startTimeoutMs ?? 10_000;
    let ready: Promise<number>;
    let failed: Promise<never>;
    if (this.opts.loaderSocket) {
      if ((this.opts.ringOut ?? []).length > 0) throw new Error('ebpf: per-worker rings need a loader the sensor spawns, not loaderSocket');
      const path = this.opts.loaderSocket;
      const sock = createConnection(path);
      this.socket = sock;
      failed = new Promise<never>((_res, rej) => {
        sock.once('error', (e: NodeJS.ErrnoException) => rej(new Error(`ebpf: cannot connect to the loader socket ${path}: ${e.code ?? e.message}`)));
        sock.once('close', () => rej(new Error(`ebpf: the loader closed ${path} before it was ready`)));
      });
      sock.on('close', () => this.reportExit({ code: null, signal: null, reason: `ebpf: loader socket ${path} closed` }));
      sock.on('error', () => { /* reported through close */ });
      ready = this.attachInput(sock, sock);
    } else {
      const path = this.opts.loaderPath ?? defaultLoaderPath();
      if (!existsSync(path)) throw new Error(`ebpf: loader not found at ${path} (build it with make -C bpf)`);
      const pre = this.opts.spawnPrefix ?? [];
      const argv = [...pre, path, ...this.loaderArgs()];
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      this.child = child;
      this.collectStderr(child);
      child.stdin?.on('error', () => { /* loader gone: reported through exit */ });
      failed = new Promise<never>((_res, rej) => {
        child.once('error', (e) => rej(new Error(`ebpf: cannot run the loader ${path}: ${e.message}`)));
        // 'close' comes after stderr ended: the reason line is complete by then.
        child.once('close', (code, signal) => {
          rej(new Error(this.lastStderr ? `ebpf: ${this.lastStderr}` : `ebpf: loader exited (code ${code}, signal ${signal})`));
        });
      });
      child.once('close', (code, signal) => {
        this.reportExit({
          code, signal,
          reason: this.lastStderr ? `ebpf: loader died: ${this.lastStderr}` : `ebpf: loader died (code ${code}, signal ${signal})`,
        });
      });
      ready = this.attachInput(child.stdout as Readable, child.stdin as Writable);
    }
    failed.catch(() => { /* observed by the race below; later exits go through onExit */ });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_res, rej) => {
      timer = setTimeout(() => rej(new Error(`ebpf: the loader did not attach within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      this.attachMode = await Promise.race([ready, failed, timeout]);
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Flow-end records (FIN/RST after a short linger, idle eviction) with the kernel's final counters. */
  onFlowEnd(cb: (r: FlowEndRecord) => void): void {
    this.flowEndCbs.push(cb);
  }

  protected override onFlowEndRecord(r: FlowEndRecord): void {
    for (const cb of this.flowEndCbs) cb(r);
  }

  protected onStats(vals: number[]): void {
    LOADER_STAT_NAMES.forEach((k, i) => { if (i < vals.length) this.kstats[k] = vals[i] as number; });
  }

  /** User space is finished with this flow: the kernel stops forwarding its packets at once. */
  markDone(t: FlowTuple): void {
    if (!this.output || this.ended) return;
    this.output.write(encodeCommand(1, t));
  }

  /** The kernel-side counters last reported by the loader. */
  loaderStats(): LoaderStats {
    return { ...this.kstats };
  }

  stats(): SourceStats {
    return {
      packets: this.packets,
      bytes: this.bytes,
      kernelDrops: this.kstats.ringbufFull + this.kstats.mapFull,
      truncated: false,
      warnings: [...this.warnings],
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.socket) {
      this.socket.destroy();
      this.drainControl();
      this.ended = true;
      this.wake();
      return;
    }
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((res) => c.once('close', () => res()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
    this.drainControl();
  }

  /** PID of the spawned loader (tests; null in socket mode). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }
}
