// Per-worker eBPF rings (issue 21): with two flow workers the kernel program puts each flow's
// packets on the ring of the worker that owns it and the loader relays each ring to a FIFO that
// worker reads, so the sensor's main thread reads no packet at all. Two sensors watch the same tap
// interface at the same time (tcx takes several programs on one hook): one with a single thread,
// one with two workers fed by their rings. They see the same packets, so their flow documents must
// be equal but for what a clock or a run names differently; each flow must be whole (both
// directions in one worker: one document per connection, with the kernel's counters), the flows
// must fall on the workers as the sensor's own shard hash says, and both workers must get some.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpanLab, type SpanLab } from '../../lab/span-lab.js';
import { PacketMeta } from '../../src/decode/packet-meta.js';
import { tupleMeta } from '../../src/runtime/engine.js';
import { shardHash } from '../../src/runtime/shard-hash.js';

const root = join(new URL('.', import.meta.url).pathname, '..', '..');
const cli = join(root, 'dist', 'ndr-sensor.mjs');
let lab: SpanLab;

beforeAll(async () => {
  lab = await createSpanLab('rg');
  await lab.startTlsServer();
});
afterAll(async () => { await lab.close(); });

type Doc = Record<string, any>;

/** A sensor on the tap; resolves once it captures, with its log so far and a stop that waits for its exit. */
async function sensor(name: string, workers: number, capture = ''): Promise<{ out: string; pid: number; log: () => string; stop: () => Promise<number | null> }> {
  const out = join(lab.dir, `${name}.jsonl`);
  const cfg = join(lab.dir, `${name}.yaml`);
  writeFileSync(cfg, `sensor:\n  workers: ${workers}\ncapture:\n  interfaces: [${lab.tapIface}]\n  source: ebpf\n${capture}output:\n  jsonLines: ${out}\nmetrics:\n  listen: ''\n`);
  const p: ChildProcess = spawn('ip', ['netns', 'exec', lab.tap, process.execPath, cli, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  p.stderr?.on('data', (d: Buffer) => { log += d.toString(); });
  for (let i = 0; i < 150 && !log.includes('capturing with'); i++) await sleep(100);
  expect(log, log).toContain('capturing with the eBPF feed');
  return {
    out,
    pid: p.pid as number,
    log: () => log,
    stop: async () => {
      p.kill('SIGTERM');
      return await new Promise<number | null>((res) => { if (p.exitCode !== null) res(p.exitCode); else p.once('exit', (c) => res(c)); });
    },
  };
}

/** What a clock, a run or a flow's place in the table names: everything else must be equal. */
function comparable(d: Doc): Doc {
  const x = structuredClone(d);
  delete x['@timestamp'];
  delete x.observer;
  delete x.event.start;
  delete x.event.end;
  delete x.event.duration;
  delete x.event.id;
  if (x.ndr?.flow) delete x.ndr.flow.id;
  return x;
}

describe('eBPF feed with one ring per flow worker', () => {
  it('splits flows over the workers by the shard hash, whole, with the records of one thread', async () => {
    const one = await sensor('one', 1);
    const two = await sensor('two', 2);
    expect(two.log()).toContain('one ring per flow worker (2)');
    await sleep(500);
    const ports = await lab.runTlsClients({ count: 16, concurrency: 8, messages: 3, intervalMs: 10 });
    expect(ports).toHaveLength(16);
    await sleep(3000); // FIN + the loaders' linger: flow-end records with the final counters
    expect(await two.stop()).toBe(0);
    expect(await one.stop()).toBe(0);

    // The main thread read nothing; each worker read packets and made flows.
    const m = /flow workers: #0 (\d+) packets, (\d+) flows; #1 (\d+) packets, (\d+) flows; packets read by the main thread: (\d+)/.exec(two.log());
    expect(m, two.log()).not.toBeNull();
    const [p0, f0, p1, f1, here] = (m as RegExpExecArray).slice(1).map(Number) as [number, number, number, number, number];
    expect(here).toBe(0);
    expect(p0).toBeGreaterThan(0);
    expect(p1).toBeGreaterThan(0);

    const read = (f: string): Doc[] => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc).filter((d) => d.source?.port !== undefined);
    const a = read(one.out);
    const b = read(two.out);
    // Every flow on the tap, by the worker the sensor's hash gives it: the workers' own counts.
    const meta = new PacketMeta();
    const want = [0, 0];
    for (const d of b) {
      const w = shardHash(tupleMeta(meta, { proto: d.network.iana_number === '17' ? 17 : 6, srcIp: d.source.ip, srcPort: d.source.port, dstIp: d.destination.ip, dstPort: d.destination.port })) % 2;
      want[w] = (want[w] as number) + 1;
    }
    expect([f0, f1]).toEqual(want);
    expect(f0).toBeGreaterThan(0);
    expect(f1).toBeGreaterThan(0);

    for (const port of ports) {
      const x = a.filter((d) => d.source.port === port && d.destination.port === 4433);
      const y = b.filter((d) => d.source.port === port && d.destination.port === 4433);
      expect(x, `one thread, client port ${port}`).toHaveLength(1);
      expect(y, `two workers, client port ${port}`).toHaveLength(1);
      const [dx, dy] = [x[0] as Doc, y[0] as Doc];
      expect(dy.tls.client.server_name).toBe('lab.test');
      expect(dy.event.reason).toBe('fin');
      expect(dy.source.packets).toBeGreaterThan(3);
      expect(dy.destination.packets).toBeGreaterThan(3);
      expect(comparable(dy)).toEqual(comparable(dx));
    }
    expect(b.length).toBe(a.length);
  });

  it('a restarted loader gets new rings; the workers drop the old ones', async () => {
    const s = await sensor('restart', 2, '  onLoaderExit: restart\n');
    const loaderPid = Number(execFileSync('pgrep', ['-P', String(s.pid), '-f', 'ndr-loader']).toString().trim().split('\n')[0]);
    expect(loaderPid).toBeGreaterThan(0);
    process.kill(loaderPid, 'SIGKILL');
    const started = (): number => s.log().split('one ring per flow worker (2)').length - 1;
    for (let i = 0; i < 100 && started() < 2; i++) await sleep(100);
    expect(started(), s.log()).toBe(2);
    // The FIFOs the workers hold: the new pair only (the folder is removed once both ends are open).
    // The workers swap their feeds after the log line, each at its own pace: on a loaded machine the
    // old pair can still be open for a moment, so wait (bounded) for the count to settle.
    const held = (): string[] => readdirSync(`/proc/${s.pid}/fd`).map((fd) => { try { return readlinkSync(`/proc/${s.pid}/fd/${fd}`); } catch { return ''; } }).filter((l) => l.includes('ndr-rings-'));
    let fifos = held();
    for (let i = 0; i < 50 && fifos.length !== 2; i++) { await sleep(100); fifos = held(); }
    expect(fifos).toHaveLength(2);
    await sleep(500);
    const ports = await lab.runTlsClients({ count: 6, concurrency: 6, messages: 2, intervalMs: 10 });
    await sleep(3000);
    expect(await s.stop()).toBe(0);
    expect(s.log()).toMatch(/packets read by the main thread: 0\b/);
    const docs = readFileSync(s.out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Doc);
    for (const port of ports) {
      const d = docs.filter((x) => x.source?.port === port && x.destination?.port === 4433);
      expect(d, `client port ${port}`).toHaveLength(1);
      expect(d[0]?.event.reason).toBe('fin');
      expect(d[0]?.tls.client.server_name).toBe('lab.test');
    }
  });
});
