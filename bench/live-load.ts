/**
 * Live capture under load, eBPF feed vs libpcap, on the SPAN lab: iperf3 saturates the client ↔
 * server veth while `handshakes` TLS handshakes run; the sensor side only reads and counts (no
 * decode), plus a cheap ClientHello check per packet. Reports, per source: packets the kernel saw,
 * what user space received, drops, ClientHellos seen, and CPU (capture process, consumer, and for
 * eBPF the program's own run time from kernel.bpf_stats_enabled).
 *
 * Called by `npm run bench` (bench/extra.ts, `runLoadComparison()`), and by test/live/load.test.ts with small
 * settings. Needs root, iperf3, tc, bpftool, and the loader built (make -C bpf).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EbpfSource, defaultLoaderPath } from '../src/capture/ebpf.js';
import { LivePcapSource } from '../src/capture/live-pcap.js';
import type { CaptureSource, PacketBatch } from '../src/capture/source.js';
import { createSpanLab, type SpanLab } from '../lab/span-lab.js';

export interface LoadOptions {
  /** iperf3 duration (s). */
  seconds?: number;
  handshakes?: number;
  concurrency?: number;
  /** Keep segments at MTU size on the lab's veths (no 64 KiB GSO frames), as on a real tap. */
  mtuSegments?: boolean;
  sources?: Array<'ebpf' | 'pcap'>;
  loaderPath?: string;
}

export interface LoadFigures {
  source: 'ebpf' | 'pcap';
  seconds: number;
  iperfGbps: number;
  handshakes: number;
  handshakesDone: number;
  /** Packets the kernel side saw on the tap (eBPF program / pcap ps_recv). */
  kernelPackets: number;
  /** eBPF: forwarded by the program; pcap: = kernelPackets − drops. */
  kernelForwarded: number;
  kernelDrops: number;
  userPackets: number;
  userBytes: number;
  clientHellosSeen: number;
  cpuMs: { captureProcess: number; consumer: number; bpfProgram: number };
}

function procCpuMs(pid: number | null): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    const tick = 100; // USER_HZ
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / tick;
  } catch {
    return 0;
  }
}

function bpfRunMs(): number {
  try {
    const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '-j']).toString()) as Array<{ name?: string; run_time_ns?: number }>;
    return progs.filter((p) => p.name === 'ndr_tc').reduce((s, p) => s + (p.run_time_ns ?? 0), 0) / 1e6;
  } catch {
    return 0;
  }
}

/** Cheap per-packet check: an Ethernet/IPv4/TCP frame whose payload starts a TLS ClientHello. */
function isClientHello(b: PacketBatch, i: number): boolean {
  const o = b.off[i] as number;
  const cap = b.capLen[i] as number;
  const u = b.buf;
  if (cap < 60 || u[o + 12] !== 0x08 || u[o + 13] !== 0x00 || u[o + 23] !== 6) return false;
  const ip = o + 14;
  const tcp = ip + ((u[ip] as number) & 15) * 4;
  const pl = tcp + ((u[tcp + 12] as number) >> 4) * 4;
  return pl + 6 <= o + cap && u[pl] === 0x16 && u[pl + 1] === 0x03 && u[pl + 5] === 0x01;
}

async function one(lab: SpanLab, kind: 'ebpf' | 'pcap', o: Required<Omit<LoadOptions, 'sources'>>): Promise<LoadFigures> {
  const src: EbpfSource | LivePcapSource = kind === 'ebpf'
    ? new EbpfSource({ iface: lab.tapIface, loaderPath: o.loaderPath, spawnPrefix: lab.nsPrefix(lab.tap), statsIntervalMs: 500 })
    : new LivePcapSource({ iface: lab.tapIface, spawnPrefix: lab.nsPrefix(lab.tap), bufferMiB: 32, snapLen: 1600 }); // same snap as the eBPF feed
  await src.start();
  const bpf0 = bpfRunMs();
  const proc0 = procCpuMs(src.pid);
  const cpu0 = process.cpuUsage();
  let userPackets = 0;
  let userBytes = 0;
  let hellos = 0;
  const consume = (async (s: CaptureSource) => {
    for await (const b of s.batches()) {
      userPackets += b.n;
      for (let i = 0; i < b.n; i++) {
        userBytes += b.capLen[i] as number;
        if (isClientHello(b, i)) hellos++;
      }
    }
  })(src);
  const iperf = lab.start(lab.client, 'iperf3', ['-c', lab.serverIp, '-t', String(o.seconds), '-J']);
  let iperfOut = '';
  iperf.stdout?.on('data', (d: Buffer) => { iperfOut += d.toString(); });
  await sleep(300);
  let ports: number[] = [];
  try {
    ports = await lab.runTlsClients({ count: o.handshakes, concurrency: o.concurrency, messages: 1, timeoutMs: (o.seconds + 120) * 1000 });
  } catch { /* counted as not done */ }
  await new Promise<void>((res) => { if (iperf.exitCode !== null) res(); else iperf.once('exit', () => res()); });
  await sleep(1500); // let the feed drain
  await src.refreshStats();
  const cpu = process.cpuUsage(cpu0);
  const procMs = procCpuMs(src.pid) - proc0;
  const bpfMs = kind === 'ebpf' ? bpfRunMs() - bpf0 : 0;
  let gbps = 0;
  try {
    const j = JSON.parse(iperfOut) as { end?: { sum_received?: { bits_per_second?: number } } };
    gbps = (j.end?.sum_received?.bits_per_second ?? 0) / 1e9;
  } catch { /* no report */ }
  let fig: LoadFigures;
  if (src instanceof EbpfSource) {
    const k = src.loaderStats();
    fig = {
      source: kind, seconds: o.seconds, iperfGbps: gbps, handshakes: o.handshakes, handshakesDone: ports.length,
      kernelPackets: k.packets, kernelForwarded: k.fwdPackets, kernelDrops: k.ringbufFull + k.mapFull,
      userPackets, userBytes, clientHellosSeen: hellos,
      cpuMs: { captureProcess: procMs, consumer: (cpu.user + cpu.system) / 1000, bpfProgram: bpfMs },
    };
  } else {
    const k = src.kernelStats();
    fig = {
      source: kind, seconds: o.seconds, iperfGbps: gbps, handshakes: o.handshakes, handshakesDone: ports.length,
      kernelPackets: k.received, kernelForwarded: k.received - k.dropped, kernelDrops: k.dropped + k.ifDropped,
      userPackets, userBytes, clientHellosSeen: hellos,
      cpuMs: { captureProcess: procMs, consumer: (cpu.user + cpu.system) / 1000, bpfProgram: 0 },
    };
  }
  await src.close();
  await consume;
  return fig;
}

/** Run the comparison; each source gets a fresh lab. */
export async function runLoadComparison(opts: LoadOptions = {}): Promise<LoadFigures[]> {
  const o = {
    seconds: opts.seconds ?? 10,
    handshakes: opts.handshakes ?? 1000,
    concurrency: opts.concurrency ?? 16,
    mtuSegments: opts.mtuSegments ?? true,
    loaderPath: opts.loaderPath ?? defaultLoaderPath(),
  };
  let statsWas = '0';
  try { statsWas = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim(); } catch { /* absent */ }
  execFileSync('sysctl', ['-qw', 'kernel.bpf_stats_enabled=1']);
  const out: LoadFigures[] = [];
  try {
    for (const kind of opts.sources ?? ['ebpf', 'pcap'] as const) {
      const lab = await createSpanLab('ld');
      const servers: ChildProcess[] = [];
      try {
        if (o.mtuSegments) {
          execFileSync('ip', ['-n', lab.client, 'link', 'set', 'dev', lab.clientIface, 'gso_max_segs', '1']);
          execFileSync('ip', ['-n', lab.server, 'link', 'set', 'dev', lab.serverIface, 'gso_max_segs', '1']);
        }
        servers.push(await lab.startTlsServer());
        servers.push(lab.start(lab.server, 'iperf3', ['-s', '-B', lab.serverIp]));
        await sleep(300);
        out.push(await one(lab, kind, o));
      } finally {
        for (const s of servers) s.kill();
        await lab.close();
      }
    }
  } finally {
    execFileSync('sysctl', ['-qw', `kernel.bpf_stats_enabled=${statsWas}`]);
  }
  return out;
}

/** One line per source, for the bench's report. */
export function formatLoadFigures(f: LoadFigures[]): string {
  return f.map((x) => [
    `${x.source.padEnd(4)} iperf ${x.iperfGbps.toFixed(2)} Gbit/s over ${x.seconds}s, handshakes ${x.handshakesDone}/${x.handshakes}`,
    `kernel saw ${x.kernelPackets} pkts, forwarded ${x.kernelForwarded}, dropped ${x.kernelDrops}`,
    `user got ${x.userPackets} pkts (${(x.userBytes / 1e6).toFixed(1)} MB), ClientHellos ${x.clientHellosSeen}`,
    `cpu ms: capture ${x.cpuMs.captureProcess.toFixed(0)}, consumer ${x.cpuMs.consumer.toFixed(0)}, bpf ${x.cpuMs.bpfProgram.toFixed(0)}`,
  ].join('; ')).join('\n');
}
