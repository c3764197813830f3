// A fleet of sensors on one Redis (issue 24): the demo capture split by connection between two
// sensor processes (three on a Redis Cluster) gives the alerts of one sensor replaying it whole,
// alert for alert with the same fleet-wide counts, and the same fleet beacon scores as one sensor
// replaying it whole on the store. Real redis-server processes on loopback ports of their own.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewritePcap } from '../lab/pcap-rewrite.js';
import { replayFiles } from '../src/runtime/replay.js';
import { FleetStore, type FleetBeacon } from '../src/analytics/fleet-store.js';
import { portBase, redisCli, startCluster, startSingle, type Cluster, type Single } from '../lab/redis.js';

const root = resolve(import.meta.dirname, '..');
const demo = join(root, 'pcaps', 'demo');
const pcap = join(demo, 'demo.pcap');
const sysmon = join(demo, 'sysmon.jsonl');
const config = join(demo, 'analytics-config.json');
const dir = mkdtempSync(join(tmpdir(), 'ndr-fleet-split-'));

/**
 * Write `n` captures from one, whole connections each: the j-th connection between a client and a
 * server endpoint goes to capture (j + the endpoint pair's own number) mod n, so a beacon's
 * connections alternate between the sensors and the one-connection pairs spread over all of them.
 */
function splitByConnection(input: string, n: number): string[] {
  const buf = readFileSync(input);
  const part = new Map<string, number>();
  const perPair = new Map<string, number>();
  const pairs = new Map<string, number>();
  rewritePcap(buf, (p) => {
    const a = `${p.src}:${p.sport}`;
    const b = `${p.dst}:${p.dport}`;
    const conn = `${p.proto}|${a < b ? a : b}|${a < b ? b : a}`;
    if (!part.has(conn)) {
      // The first packet of a connection is the client's (SYN, or the first datagram).
      const pair = `${p.proto}|${p.src}|${b}`;
      if (!pairs.has(pair)) pairs.set(pair, pairs.size);
      const j = perPair.get(pair) ?? 0;
      perPair.set(pair, j + 1);
      part.set(conn, (j + pairs.get(pair)!) % n);
    }
    return null;
  });
  const out: string[] = [];
  for (let k = 0; k < n; k++) {
    const f = join(dir, `part${k}-of-${n}.pcap`);
    writeFileSync(f, rewritePcap(buf, (p) => {
      const a = `${p.src}:${p.sport}`;
      const b = `${p.dst}:${p.dport}`;
      return part.get(`${p.proto}|${a < b ? a : b}|${a < b ? b : a}`) === k ? {} : null;
    }));
    out.push(f);
  }
  return out;
}

interface SensorAlert { id: string; rule: string; count: number }

/** One sensor process replaying `file` into the fleet store; its alerts (ECS lines) and its summary. */
function sensor(file: string, store: string, id: string): Promise<{ alerts: SensorAlert[]; stderr: string }> {
  const out = join(dir, `${id}.jsonl`);
  return new Promise((res, rej) => {
    const p = spawn(join(root, 'bin', 'ndr-sensor'), ['replay', file, '--sysmon', sysmon, '--analytics-config', config, '--store', store, '--sensor-id', id, '--alerts-only', '-o', out, '-q', '--workers', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('error', rej);
    p.on('exit', (code) => {
      if (code !== 0) { rej(new Error(`sensor ${id} exited ${code}: ${stderr}`)); return; }
      const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '');
      const alerts = lines.map((l) => JSON.parse(l) as { rule: { id: string }; event: { count: number }; ndr: { alert: { id: string } } })
        .map((a) => ({ id: a.ndr.alert.id, rule: a.rule.id, count: a.event.count }));
      res({ alerts, stderr });
    });
  });
}

async function fleetView(store: string | string[]): Promise<{ scores: Omit<FleetBeacon, 'scoredBy'>[]; counts: Map<string, number> }> {
  const f = new FleetStore({ store });
  try {
    await f.connected(5000);
    const scores = (await f.beaconScores()).map(({ scoredBy: _by, ...rest }) => rest);
    const counts = new Map<string, number>();
    for (const { alert, count } of await f.alerts()) counts.set((alert as { id: string }).id, count);
    return { scores, counts };
  } finally {
    await f.close(1000);
  }
}

let single: Single;
let cluster: Cluster;
let reference: Map<string, { rule: string; count: number }>;

beforeAll(async () => {
  const base = await portBase(1);
  [single, cluster] = await Promise.all([startSingle(base + 10), startCluster(base)]);
  const whole = await replayFiles([pcap], { sysmon: [sysmon], analyticsConfig: (JSON.parse(readFileSync(config, 'utf8')) as { analytics: unknown }).analytics });
  reference = new Map(whole.alerts.map((a) => [a.id, { rule: a.analytic, count: a.count }]));
});

afterAll(async () => {
  await Promise.all([single?.stop(), cluster?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function expectSameAlerts(emitted: SensorAlert[], counts: Map<string, number>): void {
  // Each alert is emitted by exactly one sensor of the fleet...
  const ids = emitted.map((a) => a.id).sort();
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids).toEqual([...reference.keys()].sort());
  for (const a of emitted) expect(a.rule).toBe(reference.get(a.id)!.rule);
  // ...and the fleet counts every occurrence, whichever sensor saw it.
  expect(new Map([...counts].sort())).toEqual(new Map([...reference].map(([id, r]) => [id, r.count] as const).sort()));
}

describe('a fleet on one Redis', () => {
  it('two sensors replaying the two halves give the whole replay\'s alerts, counts and beacon scores', async () => {
    expect(reference.size).toBeGreaterThanOrEqual(5);
    const whole = await sensor(pcap, single.url, 'whole');
    expectSameAlerts(whole.alerts, (await fleetView(single.url)).counts);
    const wholeScores = (await fleetView(single.url)).scores;
    // The rundll32 check-ins (f02-f07) and chrome (f01) share WS01 -> 192.0.2.80:4444: 7 connections.
    const c2 = wholeScores.find((s) => s.dst === '192.0.2.80' && s.port === 4444);
    expect(c2?.connections).toBe(7);
    expect(c2!.score).toBeGreaterThan(0.5);

    redisCli(single.node.port, 'flushall');
    const halves = splitByConnection(pcap, 2);
    const [a, b] = await Promise.all([sensor(halves[0]!, single.url, 'sensor-a'), sensor(halves[1]!, single.url, 'sensor-b')]);
    // Both halves carry alerts of their own (the split is a real one).
    expect(a.alerts.length).toBeGreaterThan(0);
    expect(b.alerts.length).toBeGreaterThan(0);
    const view = await fleetView(single.url);
    expectSameAlerts([...a.alerts, ...b.alerts], view.counts);
    expect(view.scores).toEqual(wholeScores);
    // `fleet show` prints the same: each scored pair, each alert with its fleet-wide count.
    const shown = execFileSync(join(root, 'bin', 'ndr-sensor'), ['fleet', 'show', '--store', single.url], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l) as { kind: string; fleetCount?: number; alert?: { id: string } });
    expect(shown.filter((r) => r.kind === 'beacon').length).toBe(wholeScores.length);
    expect(new Map(shown.filter((r) => r.kind === 'alert').map((r) => [r.alert!.id, r.fleetCount!] as const).sort())).toEqual(new Map([...view.counts].sort()));
    expect(a.stderr).toMatch(/fleet: NOT shared\s+0 still queued, 0 dropped/);
    // The C2 check-ins went to both sensors: one raised AN0922, the other found it raised.
    const folded = [a, b].map((r) => Number(/(\d+) already raised elsewhere/.exec(r.stderr)?.[1]));
    expect(folded[0]! + folded[1]!).toBeGreaterThanOrEqual(1);
    expect([...reference.values()].find((r) => r.rule === 'AN0922')?.count).toBe(6);
  });
});

describe('a fleet on a 3-master/3-replica Redis Cluster', () => {
  it('three sensors replaying a third each give the whole replay\'s alerts, counts and beacon scores', async () => {
    const wholeScores = (await fleetView(single.url)).scores;
    const thirds = splitByConnection(pcap, 3);
    const seeds = cluster.seeds.slice(0, 2).join(',');
    const runs = await Promise.all(thirds.map((f, i) => sensor(f, seeds, `cluster-${i}`)));
    const view = await fleetView(cluster.seeds);
    expectSameAlerts(runs.flatMap((r) => r.alerts), view.counts);
    expect(view.scores).toEqual(wholeScores);
    // The pair's keys share one slot: every key of the C2 pair sits on one master.
    const slots = new Set(['t', 'v', 's', 'sv'].map((k) => redisCli(cluster.nodes[0]!.port, 'cluster', 'keyslot', `ndr:{b:ws01.corp.example|192.0.2.80|4444}:${k}`)));
    expect(slots.size).toBe(1);
  });
});
