// Floods, scans and churn through the whole pipeline (issue 25): the per-key structures after the
// flow table stay within their bounds and count what they evict, flood summaries stand for every
// flow they replace, and the beacon analytic still finds the one real beacon in a crowd. The
// captures come from lab/gen-floods.ts at a fraction of the bench's size (the full shapes are the
// bench's "floods" table; see docs/PERFORMANCE.md); no timing is asserted here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFlood, CROWD_BEACON_PERIOD_MS, CROWD_SPAN_MS, type FloodShape } from '../lab/gen-floods.js';
import { replayFiles, type ReplayOptions, type ReplayResult } from '../src/runtime/replay.js';
import { BeaconTracker, scoreSortedBeacon } from '../src/analytics/beacon.js';
import { BaselineStore } from '../src/baseline/store.js';
import { AnalyticsEngine } from '../src/analytics/engine.js';
import { newFlowRecord } from '../src/flow/record.js';
import { floodToEcs } from '../src/output/ecs.js';
import { Flow } from '../src/flow/flow.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import type { FlowRecord } from '../src/flow/record.js';
import { spawnSync } from 'node:child_process';
import { dnsOf } from '../dissectors/dns/record.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-floods-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function replayShape(shape: FloodShape, scale: number, opts: ReplayOptions = {}): Promise<{ r: ReplayResult; flows: number; empty: number; beacon?: { client: string; server: string; port: number; connections: number } }> {
  const file = join(dir, `${shape}-${scale}.pcap`);
  const info = generateFlood(shape, file, { scale });
  const r = await replayFiles([file], { workers: 1, ...opts });
  return { r, flows: info.flows, empty: info.emptyFlows, ...(info.beacon ? { beacon: info.beacon } : {}) };
}

const shedTotal = (r: ReplayResult): number => r.floods.reduce((n, f) => n + f.flows, 0);
const stateOf = (r: ReplayResult, s: string) => {
  const e = r.state.find((x) => x.structure === s);
  if (!e) throw new Error(`no state report for ${s}`);
  return e;
};

describe('flood shedding', () => {
  it('a SYN flood: the summaries and the flows written add up to the capture, one service summary names the port', async () => {
    const { r, flows } = await replayShape('syn-flood', 0.05);
    expect(flows).toBe(50_000);
    // 1,000 empty flows a second over a 10 s interval are written one by one, the rest summarised.
    expect(r.flows.length).toBeGreaterThanOrEqual(10_000);
    expect(r.flows.length).toBeLessThan(flows);
    expect(r.flows.length + shedTotal(r)).toBe(flows);
    const service = r.floods.filter((f) => f.scope === 'service');
    expect(service.length).toBeGreaterThanOrEqual(1);
    for (const f of service) {
      expect(f.server).toEqual({ ip: '198.51.100.10', port: 80 });
      expect(f.unanswered).toBe(f.flows);
      expect(f.clients).toBe(f.flows); // every SYN came from a client of its own
    }
    const doc = floodToEcs(service[0]!) as { event: { kind: string; dataset: string }; ndr: { flood: { flows: number } }; destination: { port: number } };
    expect(doc.event).toMatchObject({ kind: 'metric', dataset: 'ndr.flood' });
    expect(doc.destination.port).toBe(80);
    expect(doc.ndr.flood.flows).toBe(service[0]!.flows);
  });

  it('below the rate every flow is written; above it a horizontal scan is one source, not a summary per port', async () => {
    // 16 hosts x 1,311 ports over 60 s: about 3,500 empty flows per 10 s, under the default rate.
    const below = await replayShape('horizontal-scan', 0.02);
    expect(below.r.floods).toEqual([]);
    expect(below.r.flows.length).toBe(below.flows);
    const above = await replayShape('horizontal-scan', 0.02, { flood: { emptyFlowsPerSecond: 10 } });
    expect(above.r.flows.length + shedTotal(above.r)).toBe(above.flows);
    expect(above.r.flows.length).toBeLessThan(above.flows / 10);
    const sources = above.r.floods.filter((f) => f.scope === 'source');
    expect(sources.length).toBeGreaterThan(0);
    expect(above.r.floods.filter((f) => f.scope === 'service')).toEqual([]);
    for (const f of sources) {
      expect(f.client).toBe('203.0.113.66');
      expect(f.servers).toBe(16);
      expect(f.rejected).toBe(f.flows);
    }
    expect(sources.reduce((n, f) => n + f.flows, 0)).toBe(shedTotal(above.r));
  });

  it('a vertical scan (one port on many hosts) is one source with one port', async () => {
    const { r, flows } = await replayShape('vertical-scan', 0.2, { flood: { emptyFlowsPerSecond: 10 } });
    expect(r.flows.length + shedTotal(r)).toBe(flows);
    const src = r.floods.filter((f) => f.scope === 'source');
    expect(src.length).toBeGreaterThan(0);
    for (const f of src) {
      expect(f.client).toBe('203.0.113.77');
      expect(f.ports).toBe(1);
      expect(f.servers).toBe(f.flows);
      expect(f.unanswered + f.rejected + f.answeredEmpty).toBe(f.flows);
    }
  });

  it('flows shed before their records are built are summarised as from their records', async () => {
    // One worker sheds a flow from the flow itself; with two, the main thread sheds the records
    // the workers send. A horizontal scan answered by resets and a SYN flood, over the rate.
    for (const [shape, scale] of [['horizontal-scan', 0.03], ['syn-flood', 0.02]] as const) {
      const file = join(dir, `${shape}-shed-${scale}.pcap`);
      const info = generateFlood(shape, file, { scale });
      const opts: ReplayOptions = { flood: { emptyFlowsPerSecond: 50, maxGroups: 500, distinctMax: 100 } };
      const one = await replayFiles([file], { ...opts, workers: 1 });
      const two = await replayFiles([file], { ...opts, workers: 2 });
      // The scan's 60 s are six intervals, one source summary each; the flood's 10 s one service.
      expect(one.floods.map((f) => f.scope)).toEqual(shape === 'syn-flood' ? ['service'] : Array(6).fill('source'));
      expect(one.floods.every((f) => f.distinctCapped)).toBe(true); // counts past distinctMax stop
      expect(one.floods).toEqual(two.floods);
      expect(one.flows.map((f) => f.id)).toEqual(two.flows.map((f) => f.id));
      expect(one.flows.length + shedTotal(one)).toBe(info.flows);
    }
  });

  it('flows with payload are never shed, whatever the rate', async () => {
    const { r, flows } = await replayShape('dns-names', 0.002, { flood: { emptyFlowsPerSecond: 0 } });
    expect(r.floods).toEqual([]);
    expect(r.flows.length).toBe(flows);
  });
});

describe('bounded state after the flow table', () => {
  it('the beacon in a crowd of hosts each with its own destination still scores, with the tracker far below the crowd', async () => {
    // 2,000 hosts (the full shape has 100,000) through a tracker of 500 pairs: every crowd pair
    // is evicted in turn; the beacon's pair, used every 2 minutes, never is.
    const { r, beacon } = await replayShape('beacon-crowd', 0.02, { state: { beaconPairs: 500 } });
    expect(beacon).toBeDefined();
    expect(beacon!.connections).toBe(CROWD_SPAN_MS / CROWD_BEACON_PERIOD_MS);
    const pairs = stateOf(r, 'beacon_pairs');
    expect(pairs.capacity).toBe(500);
    expect(pairs.size).toBe(500);
    // 2,000 crowd pairs (each put back when its second connection comes after its eviction) and
    // the beacon's: at least every pair beyond the bound was evicted, at most every connection's.
    expect(pairs.evictions).toBeGreaterThanOrEqual(2_001 - 500);
    expect(pairs.evictions).toBeLessThanOrEqual(4_001 - 500);
    const mine = r.flows.filter((f) => f.client.ip === beacon!.client && f.server.ip === beacon!.server);
    expect(mine.length).toBe(beacon!.connections);
    const last = mine[mine.length - 1]!;
    expect(last.beacon?.basis).toBe('connections');
    // Every one of its connections is in the pair's score: the pair was never evicted.
    expect(last.beacon!.connections).toBe(beacon!.connections);
    expect(last.beacon!.score).toBeGreaterThanOrEqual(0.7);
    // The crowd's own pairs never reach the gates (two connections each).
    expect(r.flows.filter((f) => f.client.ip !== beacon!.client && f.beacon?.basis === 'connections')).toEqual([]);
  });

  it('the DNS names cache stays at its bound and counts every name it drops', async () => {
    const { r, flows } = await replayShape('dns-names', 0.01, { state: { dnsNames: 1_000 } });
    const dns = stateOf(r, 'dns_names');
    expect(dns.size).toBe(1_000);
    // Each of the 10,000 answers is a (client, address) key of its own.
    expect(dns.evictions).toBe(flows - 1_000);
  });

  it('beacon tracker: a hot pair among 10,000 new ones stays, the size never passes the cap', () => {
    const t = new BeaconTracker({ maxPairsCount: 100 });
    const t0 = Date.UTC(2026, 0, 1);
    let hot = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = newFlowRecord({ id: i, client: { ip: `10.1.${i >> 8}.${i & 255}`, port: 40000 }, server: { ip: '192.0.2.9', port: 443 }, startTs: t0 + i * 1000 });
      t.observe(f);
      expect(t.size).toBeLessThanOrEqual(100);
      if (i % 10 === 0) {
        const h = newFlowRecord({ id: 1e6 + i, client: { ip: '10.0.0.1', port: 40001 }, server: { ip: '192.0.2.1', port: 443 }, startTs: t0 + i * 1000 });
        hot = t.observe(h)?.connections ?? hot;
      }
    }
    expect(t.evictedPairs).toBe(10_001 - 100);
    expect(hot).toBe(1_000);
  });

  it('a busy pair is rescored once a sixteenth of it is new, and every flow carries its count', () => {
    const t = new BeaconTracker();
    const t0 = Date.UTC(2026, 0, 1);
    const ts: number[] = [];
    const bytes: number[] = [];
    for (let i = 0; i < 600; i++) {
      const start = t0 + i * 30_000 + ((i * 7919) % 2000);
      const f = newFlowRecord({ id: i, client: { ip: '10.4.0.1', port: 40000 + i }, server: { ip: '192.0.2.50', port: 443 }, startTs: start });
      f.dirs[0].ipBytes = 300 + ((i * 31) % 50);
      ts.push(Math.floor(start / 1000));
      bytes.push(f.dirs[0].ipBytes);
      const got = t.observe(f);
      const n = i + 1;
      if (n < 4) { expect(got).toBeNull(); continue; }
      expect(got!.connections).toBe(n);
      // The score is the exact score of the pair as it was at most n/16 connections ago.
      const exact = (m: number) => scoreSortedBeacon(ts.slice(0, m), [...bytes.slice(0, m)].sort((a, b) => a - b), ts[0]!, ts[m - 1]!)!.score;
      let m = n;
      while (m > 0 && exact(m) !== got!.score) m--;
      expect(n - m).toBeLessThanOrEqual(Math.max(0, n >> 4));
      if (n <= 64) expect(m).toBe(n);
    }
  });

  it('baseline store in memory: facts stay within the bound and the forgotten ones are counted', () => {
    const b = BaselineStore.open({ memoryMaxKeysCount: 2_000 });
    const t0 = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 5_000; i++) b.learn(newFlowRecord({ id: i, client: { ip: `10.2.${i >> 8}.${i & 255}`, port: 1 }, server: { ip: `192.0.${i >> 8}.${i & 255}`, port: 443 }, startTs: t0 + i }));
    const [s] = b.state();
    expect(s!.capacity).toBe(2_000);
    expect(s!.size).toBeLessThanOrEqual(2_000);
    // Each flow adds a host, a (host, destination) and a destination count: 15,000 facts in all.
    expect(s!.size + s!.evictions).toBe(15_000);
    // The newest facts are still known, the host count (a pinned meta fact) is whole.
    expect(b.hostDestinationFirstSeen('10.2.19.135', '192.0.19.135')).toBe(t0 + 4_999);
    expect(b.hostCount()).toBe(5_000);
  });

  it('alert dedup: keys past the bound go oldest first and are counted', () => {
    const e = new AnalyticsEngine({ maxDedupKeysCount: 50 });
    const t0 = Date.UTC(2026, 0, 1);
    const fold = (e as unknown as { fold(a: unknown, f: unknown): boolean }).fold.bind(e);
    for (let i = 0; i < 500; i++) {
      const f = newFlowRecord({ id: i, client: { ip: '10.3.0.1', port: 1 }, server: { ip: `192.0.2.${i % 250}`, port: 1000 + i }, startTs: t0 + i });
      expect(fold({ analytic: 'AN0922', ts: t0 + i, count: 1 }, f)).toBe(false);
    }
    const d = e.state().find((x) => x.structure === 'alert_dedup')!;
    expect(d.size).toBe(50);
    expect(d.evictions).toBe(450);
  });
});

/** Give every field of `o` (and of its nested plain objects) a value other than its initial one. */
function scribble(o: Record<string, unknown>): void {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (typeof v === 'number') o[k] = v + 7;
    else if (typeof v === 'boolean') o[k] = !v;
    else if (typeof v === 'string') o[k] = `${v}x`;
    else if (v === null) o[k] = [k];
    else if (typeof v === 'object') scribble(v as Record<string, unknown>);
  }
}

describe('flow objects reused under a flood', () => {
  it('a reset flow is a new flow: every field back to its initial value', () => {
    const f = new Flow();
    scribble(f as unknown as Record<string, unknown>);
    (f as unknown as { tomb: boolean }).tomb = false; // the readonly discriminator is not state
    expect(f).not.toEqual(new Flow());
    f.reset();
    expect(f).toStrictEqual(new Flow());
  });

  it('a SYN flood through a small table reuses the evicted flows and every record stays its own', async () => {
    const file = join(dir, 'syn-reuse.pcap');
    const info = generateFlood('syn-flood', file, { scale: 0.01 });
    const flows: FlowRecord[] = [];
    const p = new Pipeline({ limits: { table: { maxFlowsCount: 1024 } }, flood: { enabled: false }, onFlow: (r) => flows.push(r) });
    await p.run(openCaptureFile(file));
    await p.finish();
    const table = p.engine.table;
    expect(flows.length).toBe(info.flows);
    expect(table.evicted).toBe(info.flows - 1024);
    // Each eviction frees one flow just before the next SYN needs one.
    expect(table.reused).toBe(table.evicted);
    expect(new Set(flows.map((f) => f.id)).size).toBe(info.flows);
    expect(new Set(flows.map((f) => f.client.ip)).size).toBe(info.flows);
    expect(new Set(flows.map((f) => f.communityId)).size).toBe(info.flows);
    let evicted = 0;
    for (const f of flows) {
      expect(f.dirs[0].packets).toBe(1);
      expect(f.dirs[1].packets).toBe(0);
      expect(f.server).toEqual({ ip: '198.51.100.10', port: 80 });
      expect(f.directionFromSyn).toBe(true);
      expect(f.events).toEqual([]);
      if (f.endReason === 'evicted') { evicted++; expect(f.limits).toEqual(['flow.evicted']); }
      else expect(f.limits).toEqual([]);
    }
    expect(evicted).toBe(table.evicted);
  });
});

describe('UDP flow objects reused', () => {
  it('lookups through a small table: each answered DNS flow ends at its answer and is reused for the next, and every record keeps its own question and answer', async () => {
    const file = join(dir, 'dns-reuse.pcap');
    const info = generateFlood('dns-names', file, { scale: 0.005 });
    const flows: FlowRecord[] = [];
    const p = new Pipeline({ limits: { table: { maxFlowsCount: 256, heapMemcapMiB: 0 } }, flood: { enabled: false }, onFlow: (r) => flows.push(r) });
    await p.run(openCaptureFile(file));
    await p.finish();
    const table = p.engine.table;
    expect(flows.length).toBe(info.flows);
    // Each lookup's flow ends at its answer, before the next query: the table never fills, and
    // the one flow object made first serves every lookup after it.
    expect(table.evicted).toBe(0);
    expect(p.engine.stats.flowsCompleted).toBe(info.flows);
    expect(table.reused).toBe(info.flows - 1);
    const questions = new Set<string>();
    for (const f of flows) {
      expect(f.endReason).toBe('complete');
      const d = dnsOf(f);
      expect(d).not.toBeNull();
      expect(f.protocol).toBe('dns');
      expect(f.dirs[0].packets).toBe(1);
      expect(f.dirs[1].packets).toBe(1);
      const q = d?.queries[0] as string;
      expect(d?.queries).toEqual([q]);
      expect(d?.answers.map((a) => a.name)).toEqual([q]);
      // The generator answers name i (h<i in base 36>...) with address 100.96.0.0 + i.
      const i = parseInt(q.slice(1, q.indexOf('.')), 36);
      expect(d?.answers[0]?.data).toBe(`100.96.${(i >> 8) & 255}.${i & 255}`);
      questions.add(q);
    }
    expect(questions.size).toBe(info.flows);
    expect(new Set(flows.map((f) => f.id)).size).toBe(info.flows);
  });
});

describe('the heap memcap', () => {
  it('over the memcap after a full GC the table sheds to its share and counts it; well under, it grows back', async () => {
    const file = join(dir, 'syn-memcap.pcap');
    generateFlood('syn-flood', file, { scale: 0.01 });
    const p = new Pipeline({ limits: { table: { maxFlowsCount: 100_000, heapMemcapMiB: 64 } }, flood: { enabled: false } });
    const table = p.engine.table;
    const src = openCaptureFile(file);
    let fed = 0;
    let checked = false;
    for await (const b of src.batches()) {
      p.engine.processBatch(b);
      fed += b.n;
      if (!checked && table.size >= 4_000) {
        // A full GC reports twice the memcap in use: the table aims at 90 % of half its size.
        const size = table.size;
        table.heapAfterGc(128 * 1048576);
        expect(table.softCap).toBe(Math.floor(size * 0.9 / 2));
        checked = true;
      }
    }
    expect(checked).toBe(true);
    expect(table.size).toBeLessThanOrEqual(table.softCap);
    expect(table.memcapEvicted).toBeGreaterThan(0);
    expect(table.evicted).toBe(table.memcapEvicted);
    const low = table.softCap;
    table.heapAfterGc(16 * 1048576); // under half the memcap: a quarter more
    expect(table.softCap).toBe(Math.floor(low * 1.25));
    // Over half: the flows that fit 90 % of the memcap at the current cost per flow (here the
    // heap would hold 1.5 times the flows it holds now).
    const size = table.size;
    table.heapAfterGc(38.4 * 1048576);
    expect(table.softCap).toBe(Math.floor(size * 64 * 0.9 / 38.4));
    for (let i = 0; i < 20; i++) table.heapAfterGc(1);
    expect(table.softCap).toBe(Infinity);
    await p.finish();
    p.engine.syncStats();
    expect(p.engine.stats.flowsEvictedMemcap).toBe(table.memcapEvicted);
    expect(fed).toBe(10_000);
  });

  it('at the flow cap too, a heap over the memcap shrinks the table', async () => {
    const file = join(dir, 'syn-memcap-cap.pcap');
    generateFlood('syn-flood', file, { scale: 0.02 });
    // The memcap is set on the table after the engine is made, so the engine watches no real GCs:
    // one arriving between the reader's chunks would move the soft cap this test checks.
    const p = new Pipeline({ limits: { table: { maxFlowsCount: 8_192 } }, flood: { enabled: false } });
    const table = p.engine.table;
    (table.lim as { heapMemcapMiB: number }).heapMemcapMiB = 64;
    let checked = false;
    for await (const b of openCaptureFile(file).batches()) {
      p.engine.processBatch(b);
      if (!checked && table.evicted > 0) {
        expect(table.size).toBe(8_192);
        table.heapAfterGc(128 * 1048576);
        checked = true;
      }
    }
    expect(checked).toBe(true);
    expect(table.softCap).toBe(Math.floor(8_192 * 0.9 / 2));
    expect(table.size).toBeLessThanOrEqual(table.softCap);
    expect(table.memcapEvicted).toBeGreaterThanOrEqual(8_192 - table.softCap);
    await p.finish();
  });

  it('without a memcap nothing is shed whatever a GC reports', () => {
    const p = new Pipeline({});
    p.engine.table.heapAfterGc(1 << 40);
    expect(p.engine.table.softCap).toBe(Infinity);
  });

  it('replay with a tiny memcap: full GCs are watched, flows evicted by the memcap are counted, none lost', () => {
    // 200,000 SYNs: about 14 MB of capture, several of the reader's chunks, between which the
    // full GCs seen so far are reported.
    const file = join(dir, 'syn-cli.pcap');
    const info = generateFlood('syn-flood', file, { scale: 0.2 });
    const cli = join(__dirname, '..', 'dist', 'ndr-sensor.mjs');
    const r = spawnSync(process.execPath, [cli, 'replay', file, '-o', join(dir, 'cli.jsonl'), '-q', '--alerts-only', '--no-shed', '--memcap-mib', '1'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const m = /flows evicted by the cap\s+(\d+) \((\d+) by the memcap\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![2])).toBeGreaterThan(0);
    // Every flow still ends with its record: evicted early, not dropped.
    expect(/\n  flows\s+(\d+)/.exec(r.stderr)?.[1]).toBe(String(info.flows));
  });
});
