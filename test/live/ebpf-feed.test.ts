/**
 * Live capture on a SPAN port (root, network namespaces, real eBPF, real TLS): the eBPF feed
 * through bpf/build/ndr-loader (built here with `make -C bpf` when missing) and the libpcap source.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EbpfSource, type FlowEndRecord, type FlowTuple } from '../../src/capture/ebpf.js';
import { openLiveSource } from '../../src/capture/live.js';
import { LivePcapSource } from '../../src/capture/live-pcap.js';
import type { CaptureSource } from '../../src/capture/source.js';
import { createSpanLab, type SpanLab } from '../../lab/span-lab.js';
import { framesOf, readPcap, tlsHandshakeType, type Frame } from './frames.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const loader = join(repo, 'bpf/build/ndr-loader');

let lab: SpanLab;
let server: ChildProcess;

beforeAll(async () => {
  if (!existsSync(loader)) execFileSync('make', ['-C', join(repo, 'bpf')], { stdio: 'pipe' });
  lab = await createSpanLab('ef');
  server = await lab.startTlsServer();
});

afterAll(async () => {
  server?.kill();
  await lab?.close();
});

function pump(src: CaptureSource, frames: Frame[], onFrame?: (f: Frame) => void): Promise<void> {
  return (async () => {
    for await (const b of src.batches()) {
      for (const f of framesOf(b)) { frames.push(f); onFrame?.(f); }
    }
  })();
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (let t = 0; t < ms && !cond(); t += 20) await sleep(20);
}

function ebpf(extra: Partial<ConstructorParameters<typeof EbpfSource>[0]> = {}): EbpfSource {
  return new EbpfSource({ iface: lab.tapIface, loaderPath: loader, spawnPrefix: lab.nsPrefix(lab.tap), lingerMs: 300, statsIntervalMs: 200, ...extra });
}

describe('eBPF feed on a SPAN port', () => {
  // Two tcpdumps: an AF_PACKET capture was seen to miss a pure ACK the kernel program counted
  // (see feed-vs-replay.test.ts), so each flow's counters must equal at least one capture's.
  it('forwards the TLS handshakes; flow-end counters equal what tcpdump saw', async () => {
    const file = join(lab.dir, 'tap.pcap');
    const file2 = join(lab.dir, 'tap2.pcap');
    const stops = await Promise.all([lab.tapDump(file, ['tcp port 4433']), lab.tapDump(file2, ['tcp port 4433'])]);
    const src = ebpf();
    const ends: FlowEndRecord[] = [];
    src.onFlowEnd((r) => ends.push(r));
    await src.start();
    expect(src.attachMode === 1 || src.attachMode === 2).toBe(true);
    const frames: Frame[] = [];
    const done = pump(src, frames);
    const ports4 = await lab.runTlsClients({ count: 3, messages: 2 });
    const ports6 = await lab.runTlsClients({ count: 1, host: lab.serverIp6, messages: 1 });
    await until(() => ends.filter((e) => e.tuple.dstPort === 4433).length >= 4, 8000);
    for (const stop of stops) await stop();
    await src.refreshStats();
    await src.close();
    await done;

    const dumps = [readPcap(file), readPcap(file2)];
    for (const d of dumps) expect(d.length).toBeGreaterThan(30);
    const tlsEnds = ends.filter((e) => e.tuple.dstPort === 4433);
    expect(tlsEnds.length).toBe(4);
    for (const [port, v] of [...ports4.map((p) => [p, 4] as const), ...ports6.map((p) => [p, 6] as const)]) {
      const e = tlsEnds.find((x) => x.tuple.srcPort === port);
      expect(e, `flow-end for client port ${port}`).toBeDefined();
      const rec = e as FlowEndRecord;
      expect(rec.tuple.ipVersion).toBe(v);
      expect(rec.tuple.srcIp).toBe(v === 4 ? lab.clientIp : lab.clientIp6);
      expect(rec.sawSyn).toBe(true);
      expect(rec.reason).toBe('fin');
      const views = dumps.map((d) => ({
        orig: d.filter((f) => f.sport === port && f.dport === 4433),
        reply: d.filter((f) => f.dport === port && f.sport === 4433),
      }));
      const payload = (fs: Frame[]): number => fs.reduce((s, f) => s + f.payload.length, 0);
      const { orig, reply } = views.find((w) => w.orig.length === rec.orig.packets && w.reply.length === rec.reply.packets
        && payload(w.orig) === rec.orig.payloadBytes && payload(w.reply) === rec.reply.payloadBytes) ?? views[0]!;
      expect(rec.orig.packets).toBe(orig.length);
      expect(rec.reply.packets).toBe(reply.length);
      expect(rec.orig.payloadBytes).toBe(payload(orig));
      expect(rec.reply.payloadBytes).toBe(payload(reply));
      expect(rec.orig.tcpFlags & 0x03).toBe(0x03); // SYN and FIN
      expect(rec.orig.lastMs).toBeGreaterThanOrEqual(rec.orig.firstMs);
      expect(Math.abs(rec.orig.firstMs - (orig[0] as Frame).tsMs)).toBeLessThan(1000);
      // The handshake's first payload packets came up: the ClientHello and the ServerHello.
      const up = frames.filter((f) => (f.sport === port && f.dport === 4433) || (f.dport === port && f.sport === 4433));
      expect(up.filter((f) => f.sport === port && tlsHandshakeType(f.payload) === 1).length).toBe(1);
      expect(up.filter((f) => f.sport === 4433 && tlsHandshakeType(f.payload) === 2).length).toBe(1);
      // Only SYN / SYN-ACK and payload packets are forwarded, never the bare ACKs.
      expect(up.every((f) => f.payload.length > 0 || (f.tcpFlags & 0x02) !== 0)).toBe(true);
      expect(up.length).toBeLessThan(orig.length + reply.length);
    }
    const ks = src.loaderStats();
    expect(ks.packets).toBeGreaterThanOrEqual(Math.max(...dumps.map((d) => d.length)));
    expect(ks.ringbufFull).toBe(0);
    expect(src.stats().packets).toBe(frames.length);
  });

  it('stops forwarding a flow at once when user space marks it done', async () => {
    const src = ebpf({ maxPacketsPerDir: 500, maxBytesPerDir: 1 << 20 });
    const ends: FlowEndRecord[] = [];
    src.onFlowEnd((r) => ends.push(r));
    await src.start();
    const frames: Frame[] = [];
    let tuple: FlowTuple | null = null;
    let doneAt = 0;
    const afterDone: Frame[] = [];
    const done = pump(src, frames, (f) => {
      if (!tuple && f.sport === 4433 && tlsHandshakeType(f.payload) === 2) {
        tuple = { ipVersion: 4, proto: 6, srcIp: f.dst, srcPort: f.dport, dstIp: f.src, dstPort: f.sport };
        src.markDone(tuple);
        doneAt = Date.now();
      } else if (tuple && doneAt && Date.now() - doneAt > 150 && f.payload.length > 0 && (f.sport === tuple.srcPort || f.dport === tuple.srcPort)) {
        afterDone.push(f);
      }
    });
    await lab.runTlsClients({ count: 1, messages: 25, intervalMs: 20 });
    await until(() => ends.some((e) => e.tuple.dstPort === 4433), 8000);
    await src.refreshStats();
    await src.close();
    await done;
    expect(tuple).not.toBeNull();
    const end = ends.find((e) => e.tuple.dstPort === 4433) as FlowEndRecord;
    expect(end.orig.packets).toBeGreaterThan(25); // 25 application-data records went by …
    expect(afterDone.length).toBe(0); // … none reached user space once done was set
    expect(end.orig.fwdPackets + end.reply.fwdPackets).toBeLessThan(12);
    expect(src.loaderStats().doneSkipped).toBeGreaterThanOrEqual(40);
    expect(src.loaderStats().doneCommands).toBe(1);
  });

  it('ends idle flows (UDP) with their counters and forwards their first datagrams', async () => {
    const src = ebpf({ idleTimeoutMs: 400 });
    const ends: FlowEndRecord[] = [];
    src.onFlowEnd((r) => ends.push(r));
    await src.start();
    const frames: Frame[] = [];
    const done = pump(src, frames);
    const sendUdp = `const s = require('dgram').createSocket('udp4'); s.bind(0, () => { console.log(s.address().port); let i = 0;
      const t = setInterval(() => { s.send('hello ' + i, 9999, '${lab.serverIp}'); if (++i === 3) { clearInterval(t); setTimeout(() => s.close(), 50); } }, 20); });`;
    const port = Number(lab.exec(lab.client, process.execPath, ['-e', sendUdp]).trim());
    await until(() => ends.some((e) => e.tuple.srcPort === port), 4000);
    await src.close();
    await done;
    const e = ends.find((x) => x.tuple.srcPort === port) as FlowEndRecord;
    expect(e).toBeDefined();
    expect(e.reason).toBe('idle');
    expect(e.tuple).toEqual({ ipVersion: 4, proto: 17, srcIp: lab.clientIp, srcPort: port, dstIp: lab.serverIp, dstPort: 9999 });
    expect([e.orig.packets, e.orig.payloadBytes, e.reply.packets]).toEqual([3, 21, 0]);
    expect(frames.filter((f) => f.sport === port && f.proto === 17).map((f) => Buffer.from(f.payload).toString())).toEqual(['hello 0', 'hello 1', 'hello 2']);
  });

  it('falls back to a tc clsact filter when asked, and removes it on close', async () => {
    const src = ebpf({ attach: 'tc' });
    await src.start();
    expect(src.attachMode).toBe(2);
    const shown = lab.exec(lab.tap, 'tc', ['filter', 'show', 'dev', lab.tapIface, 'ingress']);
    expect(shown).toMatch(/ndr_tc/);
    const frames: Frame[] = [];
    const done = pump(src, frames);
    const [port] = await lab.runTlsClients({ count: 1 });
    await until(() => frames.some((f) => f.sport === port && tlsHandshakeType(f.payload) === 1), 3000);
    expect(frames.some((f) => f.sport === port && tlsHandshakeType(f.payload) === 1)).toBe(true);
    await src.close();
    await done;
    expect(lab.exec(lab.tap, 'tc', ['filter', 'show', 'dev', lab.tapIface, 'ingress'])).not.toMatch(/ndr_tc/);
    expect(lab.exec(lab.tap, 'tc', ['qdisc', 'show', 'dev', lab.tapIface])).not.toMatch(/clsact/);
  });

  it('reports the loader dying', async () => {
    const src = ebpf();
    await src.start();
    const frames: Frame[] = [];
    const done = pump(src, frames);
    const exited = new Promise<{ signal: string | null; reason: string }>((res) => src.onExit(res));
    process.kill(src.pid as number, 'SIGKILL');
    const e = await exited;
    expect(e.signal).toBe('SIGKILL');
    expect(e.reason).toMatch(/^ebpf: loader died/);
    await done; // the batch iterator ends
    await src.close();
  });

  it('says in one line why the loader cannot start, and auto falls back to libpcap', async () => {
    const bad = new EbpfSource({ iface: 'nope0', loaderPath: loader, spawnPrefix: lab.nsPrefix(lab.tap) });
    await expect(bad.start()).rejects.toThrow(/^ebpf: loader: no such interface: nope0$/);
    const { source, fallbackReason } = await openLiveSource({
      iface: lab.tapIface, source: 'auto', filter: 'tcp port 4433',
      ebpf: { loaderPath: '/nonexistent/ndr-loader' },
      pcap: { spawnPrefix: lab.nsPrefix(lab.tap) },
    });
    expect(fallbackReason).toMatch(/loader not found at \/nonexistent\/ndr-loader/);
    expect(source).toBeInstanceOf(LivePcapSource);
    await source.close();
    await expect(openLiveSource({ iface: lab.tapIface, source: 'ebpf', ebpf: { loaderPath: '/nonexistent/x' } })).rejects.toThrow(/loader not found/);
  });
});

describe('eBPF feed from a loader run separately (systemd socket mode)', () => {
  it('connects to the socket, gets packets and flow ends, reconnects, reports the loader going away', async () => {
    const sock = join(lab.dir, 'feed.sock');
    const ld = lab.start(lab.tap, loader, ['--iface', lab.tapIface, '--socket', sock, '--linger-ms', '300', '--stats-ms', '200']);
    await until(() => existsSync(sock), 5000);
    expect(existsSync(sock)).toBe(true);
    for (let round = 0; round < 2; round++) {
      const src = new EbpfSource({ iface: lab.tapIface, loaderSocket: sock });
      const ends: FlowEndRecord[] = [];
      src.onFlowEnd((r) => ends.push(r));
      await src.start();
      expect(src.pid).toBeNull();
      const frames: Frame[] = [];
      const done = pump(src, frames);
      const [port] = await lab.runTlsClients({ count: 1 });
      await until(() => ends.some((e) => e.tuple.srcPort === port), 5000);
      expect(frames.some((f) => f.sport === port && tlsHandshakeType(f.payload) === 1)).toBe(true);
      expect(ends.find((e) => e.tuple.srcPort === port)?.reply.packets).toBeGreaterThan(3);
      if (round === 0) {
        await src.close(); // the loader goes back to accepting
        await done;
        continue;
      }
      const gone = new Promise<string>((res) => src.onExit((e) => res(e.reason)));
      ld.kill('SIGTERM');
      expect(await gone).toMatch(/^ebpf: loader socket .* closed$/);
      await done;
      await src.close();
    }
    await until(() => ld.exitCode !== null, 3000);
    expect(ld.exitCode).toBe(0);
    expect(existsSync(sock)).toBe(false); // the loader removed its socket
  });
});

describe('libpcap live source on the same tap', () => {
  it('delivers packets, reads kernel drop counters, closes promptly with a filter set', async () => {
    const src = new LivePcapSource({ iface: lab.tapIface, filter: 'tcp port 4433', spawnPrefix: lab.nsPrefix(lab.tap), bufferTimeoutMs: 10 });
    await src.start();
    const frames: Frame[] = [];
    const done = pump(src, frames);
    const ports = await lab.runTlsClients({ count: 2, messages: 1 });
    await until(() => frames.filter((f) => tlsHandshakeType(f.payload) === 2).length >= 2, 5000);
    const st = await src.refreshStats();
    const k = src.kernelStats();
    expect(frames.filter((f) => tlsHandshakeType(f.payload) === 1).map((f) => f.sport).sort()).toEqual([...ports].sort());
    expect(frames.every((f) => f.sport === 4433 || f.dport === 4433)).toBe(true); // the filter applied
    expect(k.received).toBeGreaterThanOrEqual(frames.length);
    expect(k.dropped).toBe(0);
    expect(st.kernelDrops).toBe(0);
    expect(st.packets).toBeGreaterThan(0);
    // A quiet link with a filter: the pcap package's close() would never finish here.
    await sleep(300);
    const pid = src.pid as number;
    const t0 = Date.now();
    await src.close();
    const closeMs = Date.now() - t0;
    await done;
    expect(closeMs).toBeLessThan(1000);
    expect(src.stats().packets).toBe(frames.length);
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
