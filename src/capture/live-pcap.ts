/**
 * libpcap live capture through the `pcap` package (DESIGN §2.1), the fallback when the eBPF feed
 * cannot run.
 *
 * The session lives in a small helper process (this Node binary running pcap-helper.ts) that writes
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
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';
import type { PcapHelperOptions } from './pcap-helper.js';
import type { SourceStats } from './source.js';
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

/**
 * The helper program: dist/pcap-helper.mjs beside the bundle this code runs in, or the built one
 * under dist/ when this file runs from source (tests). It is a file of its own, type-checked like
 * the rest, and the only part that needs CAP_NET_RAW.
 */
function helperPath(): string {
  for (const cand of ['./pcap-helper.mjs', '../../dist/pcap-helper.mjs']) {
    const p = fileURLToPath(new URL(cand, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('pcap: the capture helper (dist/pcap-helper.mjs) is missing: run npm run build');
}

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
      } satisfies PcapHelperOptions),
    };
    const argv = [...(o.spawnPrefix ?? []), process.execPath, helperPath()];
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
