// Worker threads sharded by flow hash give the same set of records as one thread
// (flow ids aside: they are unique per run, not equal across runs).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { replayFiles } from '../src/runtime/replay.js';
import type { FlowRecord } from '../src/flow/record.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { ShardedRunner } from '../src/runtime/shard.js';
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

  it('a file that is not a capture fails with the same one-line error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-shard-'));
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'this is not a capture file at all\n');
    await expect(replayFiles([bad], { workers: 2, withAnalytics: false })).rejects.toBeInstanceOf(CaptureFormatError);
  });
});
