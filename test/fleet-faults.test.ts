// The fleet store under real faults (issue 24), with real redis-server processes stopped, killed
// and restarted by PID: the sensor keeps analysing on its local fallback, counts what it could not
// share, and catches up when the store is back; a cluster master killed mid-run (its replica takes
// over) loses no acknowledged connection.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { replayFiles } from '../src/runtime/replay.js';
import { createAnalyticsStage } from '../src/analytics/stage.js';
import { validateAnalyticsConfig } from '../src/analytics/config.js';
import { FleetStore, pairKeys } from '../src/analytics/fleet-store.js';
import type { Alert } from '../src/analytics/alert.js';
import type { FlowRecord } from '../src/flow/record.js';
import { portBase, startCluster, startRedis, stopRedis, waitClusterOk, type Cluster, type RedisNode } from '../lab/redis.js';

const root = resolve(import.meta.dirname, '..');
const demo = join(root, 'pcaps', 'demo');
const sysmon = join(demo, 'sysmon.jsonl');
const config = (JSON.parse(readFileSync(join(demo, 'analytics-config.json'), 'utf8')) as { analytics: unknown }).analytics;
const dir = mkdtempSync(join(tmpdir(), 'ndr-fleet-faults-'));
let base = 0;
let flows: FlowRecord[];
let cluster: Cluster;

beforeAll(async () => {
  base = await portBase(3);
  [flows, cluster] = await Promise.all([
    replayFiles([join(demo, 'demo.pcap')], { sysmon: [sysmon], withAnalytics: false }).then((r) => r.flows),
    startCluster(base),
  ]);
});
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A copy of each flow (the analytics write into records: each run gets its own). */
const fresh = (): FlowRecord[] => flows.map((f) => structuredClone(f));

function stageOn(fleet: FleetStore): { process(f: FlowRecord): void; alerts: Alert[]; settle(): Promise<void> } {
  const st = createAnalyticsStage({ fleet, config: validateAnalyticsConfig(config).config });
  const alerts: Alert[] = [];
  st.attach((a) => alerts.push(a));
  return { process: (f) => { for (const a of st.process(f)) alerts.push(a); }, alerts, settle: () => st.settle() };
}

async function c2Connections(url: string): Promise<number> {
  const r = new Redis(url);
  try {
    return await r.zcard(pairKeys('ws01.corp.example', '192.0.2.80', 4444).t);
  } finally {
    r.disconnect();
  }
}

describe('fleet store faults on a single Redis', () => {
  it('unreachable at start: alerts go out locally, everything is counted unshared, and shared once the store starts', async () => {
    const port = base + 10;
    const url = `redis://127.0.0.1:${port}`;
    const fleet = new FleetStore({ store: url, sensorId: 'late', reconnectWaitMs: 200 });
    expect(await fleet.connected(300)).toBe(false);
    const s = stageOn(fleet);
    for (const f of fresh()) s.process(f);
    await s.settle();
    expect(s.alerts.length).toBe(5);
    expect(fleet.stats.alertsLocal).toBe(5);
    expect(fleet.stats.sharedConnections).toBe(0);
    expect(fleet.stats.pending).toBeGreaterThanOrEqual(15 + 5);
    const node = await startRedis(port, dir);
    try {
      expect(await fleet.connected(5000)).toBe(true);
      const left = await fleet.close(10_000);
      expect(left).toEqual({ unsharedOps: 0, unscoredPairs: 0 });
      expect(fleet.stats.sharedConnections).toBe(15);
      expect(fleet.stats.sharedClaims).toBe(5);
      expect(fleet.stats.dropped).toBe(0);
      expect(await c2Connections(url)).toBe(7);
    } finally {
      await stopRedis(node);
    }
  });

  it('a sensor process with no store: exit 0, the alerts, and the unshared work in its summary', async () => {
    const out = join(dir, 'nostore.jsonl');
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((res) => {
      const p = spawn(join(root, 'bin', 'ndr-sensor'), ['replay', join(demo, 'demo.pcap'), '--sysmon', sysmon, '--analytics-config', join(demo, 'analytics-config.json'), '--store', `redis://127.0.0.1:${base + 11}`, '--alerts-only', '-o', out, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      p.on('exit', (c) => res({ code: c, stderr: err }));
    });
    expect(code).toBe(0);
    expect(readFileSync(out, 'utf8').trim().split('\n').length).toBe(5);
    expect(stderr).toMatch(/unreachable/);
    const queued = Number(/fleet: NOT shared\s+(\d+) still queued/.exec(stderr)?.[1]);
    expect(queued).toBeGreaterThanOrEqual(20);
    expect(stderr).toMatch(/5 emitted without the fleet/);
  });

  it('stopped (SIGSTOP) mid-run, then killed and restarted: the sensor goes on, and what it queued reaches the store', async () => {
    const port = base + 12;
    const url = `redis://127.0.0.1:${port}`;
    let node: RedisNode = await startRedis(port, dir);
    const fleet = new FleetStore({ store: url, sensorId: 'mid', claimWaitMs: 300, reconnectWaitMs: 5000 });
    try {
      expect(await fleet.connected(3000)).toBe(true);
      const s = stageOn(fleet);
      const all = fresh();
      for (const f of all.slice(0, 5)) s.process(f);
      await s.settle();
      const before = fleet.stats.sharedConnections;
      expect(before).toBe(5);
      process.kill(node.pid, 'SIGSTOP');
      for (const f of all.slice(5, 10)) s.process(f);
      await sleep(600); // past claimWaitMs: alerts of these flows went out locally
      expect(fleet.stats.sharedConnections).toBe(before);
      const alertsDuringStop = s.alerts.length;
      process.kill(node.pid, 'SIGCONT');
      await s.settle();
      expect(fleet.stats.sharedConnections).toBe(10);
      // Killed outright: the connection drops, the sensor queues and retries until a new server is up.
      process.kill(node.pid, 'SIGKILL');
      await sleep(100);
      for (const f of all.slice(10)) s.process(f);
      await sleep(300);
      expect(fleet.stats.sharedConnections).toBe(10);
      node = await node.restart();
      expect(await fleet.connected(5000)).toBe(true);
      const left = await fleet.close(10_000);
      expect(left).toEqual({ unsharedOps: 0, unscoredPairs: 0 });
      expect(fleet.stats.sharedConnections).toBe(15);
      expect(fleet.stats.retried + fleet.stats.errors).toBeGreaterThan(0);
      expect(s.alerts.length).toBe(5);
      expect(alertsDuringStop).toBeGreaterThanOrEqual(1);
      // The restarted server is empty (no persistence here): it holds what was queued after the kill.
      const r = new Redis(url);
      const onServer = await r.zcard(pairKeys('ws01.corp.example', '192.0.2.80', 4444).t);
      r.disconnect();
      const c2After = all.slice(10).filter((f) => f.server.port === 4444).length;
      expect(onServer).toBe(c2After);
    } finally {
      await stopRedis(node);
    }
  });
});

describe('fleet store on a Redis Cluster when a master dies', () => {
  it('a master killed mid-run: its replica takes over and no acknowledged connection is lost', async () => {
    const fleet = new FleetStore({ store: cluster.seeds, sensorId: 'failover', reconnectWaitMs: 15_000 });
    expect(await fleet.connected(5000)).toBe(true);
    const pairs = 60;
    const rounds = 40;
    const masters = cluster.masters();
    const victim = cluster.nodes.find((n) => n.port === masters[0])!;
    let ackedAtKill = -1;
    for (let r = 0; r < rounds; r++) {
      for (let p = 0; p < pairs; p++) fleet.addConnection(`host${p}`, `c2-${p}.example`, 443, 1_800_000_000 + r * 60, 300 + r, `conn-${p}-${r}`);
      if (r === 12) {
        await fleet.settle(5000);
        ackedAtKill = fleet.stats.sharedConnections;
        process.kill(victim.pid, 'SIGKILL');
      }
      await sleep(40);
    }
    expect(ackedAtKill).toBe(13 * pairs);
    const left = await fleet.close(30_000);
    expect(left.unsharedOps).toBe(0);
    expect(fleet.stats.sharedConnections).toBe(pairs * rounds);
    expect(fleet.stats.retried).toBeGreaterThan(0);
    await waitClusterOk(cluster.nodes.filter((n) => n !== victim).map((n) => n.port));
    // Every connection of every pair is on the cluster now run by the promoted replica.
    const check = new FleetStore({ store: cluster.seeds.filter((s) => !s.endsWith(`:${victim.port}`)) });
    try {
      await check.connected(5000);
      for (let p = 0; p < pairs; p++) expect(await check.client.zcard(pairKeys(`host${p}`, `c2-${p}.example`, 443).t)).toBe(rounds);
      const scored = await check.beaconScores();
      expect(scored.length).toBe(pairs);
      for (const b of scored) expect(b.connections).toBe(rounds);
    } finally {
      await check.close(1000);
    }
  });
});
