// Worker threads sharded by flow hash give the same set of records as one thread
// (flow ids aside: they are unique per run, not equal across runs).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { replayFiles } from '../src/runtime/replay.js';
import type { FlowRecord } from '../src/flow/record.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { ShardedRunner, localShard } from '../src/runtime/shard.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import { CaptureFormatError } from '../src/capture/source.js';

const shared = join(new URL('.', import.meta.url).pathname, '..', '..', 'shared');
const canon = (fs: FlowRecord[]) => fs.map((f) => JSON.stringify({ ...f, id: 0 })).sort();

describe('sharded replay', () => {
  for (const cap of ['conformance/ja4/pcaps/tls-handshake.pcapng', 'conformance/ja4/pcaps/gre-erspan-vxlan.pcap', 'conformance/ja4/pcaps/ipv6.pcapng', 'datasets/otrf-empire-psremoting/workstation5.cap']) {
    it(`2 workers = 1 worker on ${cap}`, async () => {
      const path = join(shared, cap);
      const one = await replayFiles([path], { workers: 1, withAnalytics: false });
      const two = await replayFiles([path], { workers: 2, withAnalytics: false });
      expect(one.flows.length).toBeGreaterThan(0);
      expect(canon(two.flows)).toEqual(canon(one.flows));
      expect(two.stats.packets).toBe(one.stats.packets);
      expect(new Set(two.flows.map((f) => f.id)).size).toBe(two.flows.length);
    });
  }

  it('3 workers = 1 worker (the main thread reads the file and hands each worker its share)', async () => {
    const path = join(shared, 'conformance/ja4/pcaps/tls-handshake.pcapng');
    const one = await replayFiles([path], { workers: 1, withAnalytics: false });
    const three = await replayFiles([path], { workers: 3, withAnalytics: false });
    expect(canon(three.flows)).toEqual(canon(one.flows));
    expect(three.stats.packets).toBe(one.stats.packets);
    expect(three.stats.flowsCreated).toBe(one.stats.flowsCreated);
  });

  it('a stream source is dispatched by this thread and gives the same records', async () => {
    const path = join(shared, 'conformance/ja4/pcaps/ipv6.pcapng');
    const one = await replayFiles([path], { workers: 1, withAnalytics: false });
    const flows: FlowRecord[] = [];
    const p = new Pipeline({ onFlow: (r) => flows.push(r) });
    const runner = new ShardedRunner(p, 2, {});
    await runner.run(openCaptureFile(path));
    await runner.finish();
    await p.finish();
    expect(canon(flows)).toEqual(canon(one.flows));
    expect(runner.mainStats.packets).toBe(one.stats.packets);
  });

  it('a truncated capture: every complete packet, the warning and the flag, as with one thread', async () => {
    const path = join(shared, 'datasets/otrf-covenant-psremoting/capture.cap');
    const one = await replayFiles([path], { workers: 1, withAnalytics: false });
    const two = await replayFiles([path], { workers: 2, withAnalytics: false });
    expect(one.truncated).toBe(true);
    expect(two.truncated).toBe(true);
    expect(two.warnings).toEqual(one.warnings);
    expect(canon(two.flows)).toEqual(canon(one.flows));
    expect(two.stats.packets).toBe(one.stats.packets);
  });

  it('the read ring cycles many times (1 MiB buffers, two of them): same records and ids as one thread', async () => {
    // The demo capture four times over, each copy an hour after the previous (a classic
    // little-endian pcap: 24-byte header, then 16-byte record headers), about 5.4 MB.
    const demo = readFileSync(join(new URL('.', import.meta.url).pathname, '..', 'pcaps', 'demo', 'demo.pcap'));
    expect(demo.readUInt32LE(0)).toBe(0xa1b2c3d4);
    const parts: Buffer[] = [demo.subarray(0, 24)];
    for (let copy = 0; copy < 4; copy++) {
      const body = Buffer.from(demo.subarray(24));
      for (let at = 0; at + 16 <= body.length; at += 16 + body.readUInt32LE(at + 8)) body.writeUInt32LE(body.readUInt32LE(at) + copy * 3600, at);
      parts.push(body);
    }
    const dir = mkdtempSync(join(tmpdir(), 'ndr-shard-ring-'));
    const path = join(dir, 'demo-x4.pcap');
    writeFileSync(path, Buffer.concat(parts));
    const one = await replayFiles([path], { workers: 1, withAnalytics: false });
    // local: shard 0 in this thread (a replay's runner), the others in worker threads.
    for (const [n, local] of [[2, false], [3, false], [2, true], [3, true]] as const) {
      const flows: FlowRecord[] = [];
      const p = new Pipeline({ onFlow: (r) => flows.push(r) });
      const runner = new ShardedRunner(p, n, { seqIds: true }, { buffers: 2, chunkBytes: 1 << 20, local });
      expect(runner.threads).toBe(local ? n - 1 : n);
      await runner.runFile(path);
      await runner.finish();
      await p.finish();
      expect(flows.length).toBe(one.flows.length);
      expect(flows.map((f) => JSON.stringify(f)).sort()).toEqual(one.flows.map((f) => JSON.stringify(f)).sort());
      expect(runner.mainStats.packets).toBe(one.stats.packets);
      // Every shard, this thread's included, owned some of the flows.
      expect(runner.workerStats).toHaveLength(n);
      for (const w of runner.workerStats) expect((w as { flowsCreated: number }).flowsCreated).toBeGreaterThan(0);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('flows still open at the end come out in one table\'s order (a flow last in its shard\'s list but not in the whole table)', async () => {
    // 24 UDP flows between two hosts, all still open at the end: each sends a datagram in turn,
    // then again in the reverse turn, so a flow is often the last of its own shard's activity list
    // while another shard's flows came after it in the whole table. At the end one table drains
    // its list in activity order; the shards' lists merged must give that order.
    const frames: Buffer[] = [];
    const ports = Array.from({ length: 24 }, (_, i) => 40000 + i * 7);
    const order = [...ports, ...[...ports].reverse(), ...ports.filter((_, i) => i % 3 === 0)];
    const t0 = 1_700_000_000;
    order.forEach((port, k) => {
      const rec = Buffer.alloc(16 + 14 + 20 + 8 + 4);
      rec.writeUInt32LE(t0, 0);
      rec.writeUInt32LE(1000 * (k + 1), 4);
      rec.writeUInt32LE(rec.length - 16, 8);
      rec.writeUInt32LE(rec.length - 16, 12);
      const e = 16;
      rec.writeUInt16BE(0x0800, e + 12);
      const ip = e + 14;
      rec.writeUInt8(0x45, ip);
      rec.writeUInt16BE(20 + 8 + 4, ip + 2);
      rec.writeUInt8(64, ip + 8);
      rec.writeUInt8(17, ip + 9);
      Buffer.from([10, 9, 0, 1, 10, 9, 0, 2]).copy(rec, ip + 12);
      const udp = ip + 20;
      rec.writeUInt16BE(port, udp);
      rec.writeUInt16BE(5555, udp + 2);
      rec.writeUInt16BE(8 + 4, udp + 4);
      rec.writeUInt32BE(k, udp + 8);
      frames.push(rec);
    });
    const head = Buffer.alloc(24);
    head.writeUInt32LE(0xa1b2c3d4, 0);
    head.writeUInt16LE(2, 4);
    head.writeUInt16LE(4, 6);
    head.writeUInt32LE(65535, 16);
    head.writeUInt32LE(1, 20);
    const dir = mkdtempSync(join(tmpdir(), 'ndr-shard-drain-'));
    const path = join(dir, 'open-flows.pcap');
    writeFileSync(path, Buffer.concat([head, ...frames]));
    const emitted = async (n: number, local: boolean): Promise<number[]> => {
      const flows: FlowRecord[] = [];
      const p = new Pipeline({ onFlow: (r) => flows.push(r) });
      if (n === 1) {
        await p.run(openCaptureFile(path));
      } else {
        const runner = new ShardedRunner(p, n, { seqIds: true }, { local });
        await runner.runFile(path);
        await runner.finish();
      }
      await p.finish();
      return flows.map((f) => f.client.port);
    };
    const one = await emitted(1, false);
    expect(one).toHaveLength(ports.length);
    // One table's order is not the order of first packets: the flows sent last came out last.
    expect(one).not.toEqual(ports);
    for (const [n, local] of [[2, true], [3, true], [2, false]] as const) expect(await emitted(n, local)).toEqual(one);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the main thread runs a shard itself only when there is no core to spare for it', () => {
    expect(localShard(2, 2)).toBe(true);
    expect(localShard(3, 2)).toBe(true);
    expect(localShard(2, 3)).toBe(false);
    expect(localShard(3, 8)).toBe(false);
  });

  it('a file that is not a capture fails with the same one-line error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-shard-'));
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'this is not a capture file at all\n');
    await expect(replayFiles([bad], { workers: 2, withAnalytics: false })).rejects.toBeInstanceOf(CaptureFormatError);
  });
});
