/**
 * libpcap live capture through the `pcap` package (DESIGN §2.1), the fallback when the eBPF feed
 * cannot run.
 *
 * The session lives in a small helper process (this Node binary running HELPER below) that writes
 * the same record framing as the eBPF loader (see ebpf.ts) to its stdout, and the sensor reads it
 * with the same FeedReader. Why not in-process: the package's close() only calls
 * pcap_breakloop(); the handle is really closed (and its libuv poll watcher stopped and unref'd)
 * on the next packet that passes the filter. With a filter and a quiet link that never happens,
 * so the process cannot exit (verified with libpcap 1.10.3: a dispatch after close() returns 0,
 * not -2, because the non-blocking TPACKET_V3 read only checks the break flag while packets come
 * in; running the session in a worker thread instead aborts Node at worker exit with "uv loop has
 * open handles"). A helper process closes at once: the sensor signals it and it exits.
 * The helper is also the only part that needs CAP_NET_RAW.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';
import { LinkType, type SourceStats } from './source.js';
import { FeedSource } from './ebpf.js';

export interface LivePcapOptions {
  iface: string;
  filter?: string;
  /** Kernel ring buffer (default 32 MiB). */
  bufferMiB?: number;
  snapLen?: number;
  promiscuous?: boolean;
  /** libpcap read timeout: packets may wait this long in the kernel block (default 50 ms; 0 = immediate mode). */
  bufferTimeoutMs?: number;
  batchSize?: number;
  startTimeoutMs?: number;
  /** Command prefix for the capture helper, e.g. ['ip', 'netns', 'exec', 'tap']. */
  spawnPrefix?: string[];
}

/** Kernel counters from pcap_stats(). */
export interface PcapKernelStats {
  received: number;
  dropped: number;
  ifDropped: number;
}

const LINK_TYPES: Record<string, number> = {
  LINKTYPE_ETHERNET: LinkType.Ethernet,
  LINKTYPE_NULL: LinkType.Null,
  LINKTYPE_RAW: LinkType.Raw,
  LINKTYPE_LINUX_SLL: LinkType.LinuxSll,
};

/**
 * The helper (CommonJS, run with `node -e`). Options arrive in NDR_PCAP_OPTS, the package path in
 * NDR_PCAP_MODULE. Records: READY (u32 link type, u32 3, iface), PACKET, STATS (3 values: recv,
 * drop, ifdrop). Commands on stdin: 40-byte records, cmd 2 = send stats now. SIGTERM or stdin EOF
 * = final stats and exit.
 */
const HELPER = String.raw`
'use strict';
const o = JSON.parse(process.env.NDR_PCAP_OPTS);
const pcap = require(process.env.NDR_PCAP_MODULE);
const fs = require('fs');
const LT = ${JSON.stringify(LINK_TYPES)};
pcap.warningHandler = () => {};
let s;
try {
  s = pcap.createSession(o.iface, { filter: o.filter, buffer_size: o.bufferBytes, snap_length: o.snap,
    promiscuous: o.promisc, buffer_timeout: o.timeoutMs });
} catch (e) {
  process.stderr.write('pcap: cannot capture on ' + o.iface + ': ' + String(e && e.message || e).split('\n')[0] + '\n');
  process.exit(5);
}
let out = Buffer.allocUnsafe(1 << 20);
let len = 0;
let scheduled = false;
function flush() {
  scheduled = false;
  let off = 0;
  while (off < len) {
    try { off += fs.writeSync(1, out, off, len - off); }
    catch (e) { if (e.code === 'EAGAIN') continue; process.exit(0); }
  }
  len = 0;
}
function room(n) {
  if (len + n > out.length) { flush(); if (n > out.length) out = Buffer.allocUnsafe(n * 2); }
  if (!scheduled) { scheduled = true; setImmediate(flush); }
}
function header(type, payload) {
  out.writeUInt32LE(4 + payload, len); out[len + 4] = type; out[len + 5] = 0; out[len + 6] = 0; out[len + 7] = 0;
  len += 8;
}
function stats() {
  let st = { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 };
  try { st = s.stats(); } catch (e) {}
  room(40); header(3, 32);
  out.writeUInt32LE(3, len); out.writeUInt32LE(0, len + 4);
  out.writeBigUInt64LE(BigInt(st.ps_recv >>> 0), len + 8);
  out.writeBigUInt64LE(BigInt(st.ps_drop >>> 0), len + 16);
  out.writeBigUInt64LE(BigInt(st.ps_ifdrop >>> 0), len + 24);
  len += 32;
}
const name = Buffer.from(o.iface);
room(16 + name.length); header(4, 8 + name.length);
out.writeUInt32LE(LT[s.link_type] ?? 1, len); out.writeUInt32LE(3, len + 4); name.copy(out, len + 8);
len += 8 + name.length;
flush();
s.on('packet', (p) => {
  const h = p.header;
  const sec = h.readUInt32LE(0), usec = h.readUInt32LE(4), cap = h.readUInt32LE(8), orig = h.readUInt32LE(12);
  room(24 + cap); header(1, 16 + cap);
  out.writeBigUInt64LE(BigInt(sec) * 1000000000n + BigInt(usec) * 1000n, len);
  out.writeUInt32LE(orig, len + 8); out.writeUInt32LE(0, len + 12);
  p.buf.copy(out, len + 16, 0, cap);
  len += 16 + cap;
});
setInterval(stats, o.statsMs);
let pending = Buffer.alloc(0);
process.stdin.on('data', (d) => {
  pending = Buffer.concat([pending, d]);
  while (pending.length >= 40) { if (pending[0] === 2) { stats(); flush(); } pending = pending.subarray(40); }
});
function bye() { stats(); flush(); process.exit(0); }
process.stdin.on('end', bye);
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
`;

export class LivePcapSource extends FeedSource {
  readonly name: string;
  private child: ChildProcess | null = null;
  private kernel: PcapKernelStats = { received: 0, dropped: 0, ifDropped: 0 };

  private readonly opts: LivePcapOptions;

  constructor(opts: LivePcapOptions) {
    super(opts.batchSize ?? 1024);
    this.opts = opts;
    this.name = `pcap:${opts.iface}`;
  }

  async start(): Promise<void> {
    const o = this.opts;
    const req = createRequire(import.meta.url);
    let modPath: string;
    try {
      modPath = req.resolve('pcap');
    } catch {
      throw new Error('pcap: the pcap package is not installed');
    }
    const env = {
      ...process.env,
      NDR_PCAP_MODULE: modPath,
      NDR_PCAP_OPTS: JSON.stringify({
        iface: o.iface,
        filter: o.filter ?? '',
        bufferBytes: Math.round((o.bufferMiB ?? 32) * 1024 * 1024),
        snap: o.snapLen ?? 65535,
        promisc: o.promiscuous ?? true,
        timeoutMs: o.bufferTimeoutMs ?? 50,
        statsMs: 1000,
      }),
    };
    const argv = [...(o.spawnPrefix ?? []), process.execPath, '-e', HELPER];
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.collectStderr(child);
    child.stdin?.on('error', () => { /* helper gone: reported through exit */ });
    const ready = this.attachInput(child.stdout as Readable, child.stdin as Writable);
    const failed = new Promise<never>((_res, rej) => {
      child.once('error', (e) => rej(new Error(`pcap: cannot start the capture helper: ${e.message}`)));
      child.once('close', (code, signal) => rej(new Error(this.lastStderr || `pcap: capture helper exited (code ${code}, signal ${signal})`)));
    });
    child.once('close', (code, signal) => this.reportExit({
      code, signal, reason: this.lastStderr || `pcap: capture helper died (code ${code}, signal ${signal})`,
    }));
    failed.catch(() => { /* observed by the race below; later exits go through onExit */ });
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = o.startTimeoutMs ?? 10_000;
    const timeout = new Promise<never>((_res, rej) => {
      timer = setTimeout(() => rej(new Error(`pcap: capture did not start within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([ready, failed, timeout]);
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  protected onStats(vals: number[]): void {
    this.kernel = { received: vals[0] ?? 0, dropped: vals[1] ?? 0, ifDropped: vals[2] ?? 0 };
  }

  /** pcap_stats() as last reported (every second, on refreshStats(), and at close). */
  kernelStats(): PcapKernelStats {
    return { ...this.kernel };
  }

  stats(): SourceStats {
    return {
      packets: this.packets,
      bytes: this.bytes,
      kernelDrops: this.kernel.dropped + this.kernel.ifDropped,
      truncated: false,
      warnings: [...this.warnings],
    };
  }

  /** Stops the capture: the helper writes its final stats and exits; bounded by a SIGKILL after 2 s. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((res) => c.once('close', () => res()));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(t);
    this.drainControl();
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }
}
