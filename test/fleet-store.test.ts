// One test suite for both baseline backends behind the FactBackend seam (issue 24): lmdb (the
// default) and the fleet's Redis, a single server and a 3-master/3-replica cluster started here.
// A second store opened on the same backend (a restart, or another sensor) knows what the first
// learned; a small cache still answers everything (read-through); counters count each fact once.
// Redis reads are answered later (the packet path never waits), so every read is asked once,
// the store is settled, and then asked again: on lmdb the first answer is already there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaselineStore, type BaselineOptions } from '../src/baseline/store.js';
import { FleetStore } from '../src/analytics/fleet-store.js';
import { createAnalyticsStage } from '../src/analytics/stage.js';
import { T0, makeFlow } from './helpers/flows.js';
import { portBase, redisCli, startCluster, startSingle, type Cluster, type Single } from '../lab/redis.js';

const dirs: string[] = [];
let single: Single;
let cluster: Cluster;
const fleets: FleetStore[] = [];

beforeAll(async () => {
  const base = await portBase(2);
  [single, cluster] = await Promise.all([startSingle(base + 10), startCluster(base)]);
});

afterAll(async () => {
  for (const f of fleets) await f.close(500);
  await Promise.all([single?.stop(), cluster?.stop()]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Backend {
  name: string;
  /** A fresh, empty place for facts; open() then opens stores on it (each one a sensor or a restart). */
  fresh(): void;
  open(opts?: Omit<BaselineOptions, 'path' | 'backend'>): BaselineStore;
  flush(): void;
}

function lmdb(): Backend {
  let dir = '';
  return {
    name: 'lmdb',
    fresh: () => { dir = mkdtempSync(join(tmpdir(), 'ndr-shared-lmdb-')); dirs.push(dir); },
    open: (o = {}) => BaselineStore.open({ ...o, path: dir }),
    flush: () => {},
  };
}

function redis(name: string, store: () => string | string[], port: () => number): Backend {
  return {
    name,
    fresh: () => {},
    open: (o = {}) => {
      const f = new FleetStore({ store: store() });
      fleets.push(f);
      return f.baseline(o);
    },
    flush: () => {
      for (const p of (typeof store() === 'string' ? [port()] : cluster.masters())) redisCli(p, 'flushall');
    },
  };
}

const backends: Backend[] = [
  lmdb(),
  redis('redis', () => single.url, () => single.node.port),
  redis('redis cluster', () => cluster.seeds, () => 0),
];

/** Ask, let the store answer (Redis answers later), ask again. */
async function ask<T>(s: BaselineStore, q: () => T): Promise<T> {
  q();
  await s.flushed();
  return q();
}

const flows = [
  makeFlow({ host: 'WS01.corp.example', user: 'CORP\\alice', sni: 'a.example', ja4: 'J1', imageLoads: [{ path: 'C:\\Windows\\System32\\SCHANNEL.dll', ts: T0 - 1, signed: true }] }),
  makeFlow({ host: 'WS02.corp.example', user: 'CORP\\bob', sni: 'a.example', ja4: 'J1', startTs: T0 + 5000 }),
  makeFlow({ host: 'WS02.corp.example', user: 'CORP\\bob', sni: 'a.example', ja4: 'J1', startTs: T0 + 9000 }),
];

describe.each(backends)('baseline on $name', (b) => {
  it('a store opened later knows every fact, first-seen time and count the first one learned', async () => {
    b.fresh();
    b.flush();
    const a = b.open({ learningPeriodMs: 60_000 });
    for (const f of flows) a.learn(f);
    await a.flushed();
    await a.close();
    const s = b.open({ learningPeriodMs: 60_000 });
    expect(await ask(s, () => s.hostDestinationFirstSeen('ws01.corp.example', 'A.example'))).toBe(T0);
    expect(await ask(s, () => s.hostDestinationFirstSeen('ws02.corp.example', 'a.example'))).toBe(T0 + 5000);
    expect(await ask(s, () => s.hostDestinationFirstSeen('ws01.corp.example', 'b.example'))).toBeNull();
    expect(await ask(s, () => s.userDestinationFirstSeen('corp\\bob', 'a.example'))).toBe(T0 + 5000);
    expect(await ask(s, () => s.imageLibraryFirstSeen(flows[0]!.attribution!.process!.executable!, 'schannel.dll'))).toBe(T0 - 1);
    expect(await ask(s, () => s.imageNetworkFirstSeen(flows[0]!.attribution!.process!.executable!))).toBe(T0);
    expect(await ask(s, () => s.ja4HostCount('J1'))).toBe(2);
    expect(await ask(s, () => s.destinationHostCount('a.example'))).toBe(2);
    expect(await ask(s, () => s.hostCount())).toBe(2);
    // The learning period runs from the first flow ever learned, across restarts and sensors.
    expect(await ask(s, () => s.learningEndsAt())).toBe(T0 + 60_000);
    expect(s.isWarm(T0 + 60_000)).toBe(true);
    await s.close();
  });

  it('a cache far smaller than the facts still answers all of them (read-through)', async () => {
    b.fresh();
    b.flush();
    const a = b.open({ cacheMaxKeysCount: 8 });
    for (let i = 0; i < 60; i++) a.learn(makeFlow({ host: `h${i}.corp.example`, sni: `d${i % 7}.example`, startTs: T0 + i }));
    await a.flushed();
    const s = b.open({ cacheMaxKeysCount: 8 });
    for (let i = 0; i < 60; i++) expect(await ask(s, () => s.hostDestinationFirstSeen(`h${i}.corp.example`, `d${i % 7}.example`))).toBe(T0 + i);
    expect(await ask(s, () => s.hostCount())).toBe(60);
    expect(await ask(s, () => s.destinationHostCount('d0.example'))).toBe(9);
    await a.close();
    await s.close();
  });
});

describe.each(backends.slice(1))('fleet facts on $name', (b) => {
  it('two sensors learning the same new facts at once count them once; the earliest time wins; facts expire', async () => {
    b.flush();
    const x = b.open();
    const y = b.open();
    for (let i = 0; i < 40; i++) {
      x.learn(makeFlow({ host: `h${i}`, sni: 'shared.example', ja4: 'J9', startTs: T0 + 1000 + i }));
      y.learn(makeFlow({ host: `h${i}`, sni: 'shared.example', ja4: 'J9', startTs: T0 + i }));
    }
    await Promise.all([x.flushed(), y.flushed()]);
    for (const s of [x, y]) {
      expect(await ask(s, () => s.destinationHostCount('shared.example'))).toBe(40);
      expect(await ask(s, () => s.ja4HostCount('J9'))).toBe(40);
      expect(await ask(s, () => s.hostCount())).toBe(40);
    }
    const z = b.open();
    expect(await ask(z, () => z.hostDestinationFirstSeen('h7', 'shared.example'))).toBe(T0 + 7);
    // Facts carry the TTL (90 days by default); the fleet's first flow does not expire.
    const nodeOf = (key: string): number => (b.name === 'redis' ? single.node.port : cluster.masters().find((p) => redisCli(p, 'exists', key) === '1')!);
    const fact = 'ndr:{d:shared.example}:hd:h7';
    const pttl = Number(redisCli(nodeOf(fact), 'pttl', fact));
    expect(pttl).toBeGreaterThan(89 * 86_400_000);
    expect(pttl).toBeLessThanOrEqual(90 * 86_400_000);
    expect(redisCli(nodeOf('ndr:{meta}:first'), 'pttl', 'ndr:{meta}:first')).toBe('-1');
    await Promise.all([x.close(), y.close(), z.close()]);
  });
});

describe.each(backends.slice(1))('a sensor starting on a warm fleet baseline ($name)', (b) => {
  it('asks the store for what a flow\'s analysis reads, and has the answers when the flow is analysed', async () => {
    b.flush();
    const learned = b.open({ learningPeriodMs: 60_000 });
    learned.learn(makeFlow({ host: 'WS09.corp.example', sni: 'known.example', startTs: T0 }));
    await learned.close();
    const fleet = new FleetStore({ store: b.name === 'redis' ? single.url : cluster.seeds });
    fleets.push(fleet);
    const stage = createAnalyticsStage({ fleet, learningPeriodMs: 60_000 });
    await stage.settle(); // the fleet's learning start
    const later = makeFlow({ host: 'WS09.corp.example', sni: 'known.example', startTs: T0 + 120_000 });
    // Its cache is cold: the fact is not known here until the store answers.
    expect(stage.engine.baseline.hostDestinationFirstSeen('ws09.corp.example', 'known.example')).toBeNull();
    const wait = stage.prepare(later);
    expect(wait).not.toBeNull();
    await wait;
    expect(stage.engine.baseline.hostDestinationFirstSeen('ws09.corp.example', 'known.example')).toBe(T0);
    expect(fleet.stats.readTimeouts).toBe(0);
    await stage.close();
  });
});
