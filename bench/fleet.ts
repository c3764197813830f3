/**
 * The analytics stage on the fleet's shared store (issue 24): flows per second through the five
 * analytics when the baseline, the beacon timelines and the alert claims live in Redis (one
 * server, or a 3-master/3-replica cluster with WAIT 1), beside the same flows on lmdb; the
 * network round trips per flow; and the memory one tracked (host, destination, port) pair takes
 * in Redis (MEMORY USAGE of its keys).
 *
 * The flows are bench/analytics.ts's mix. The baseline is made warm first (the first flows
 * learned and shared), then a new stage (a sensor starting with a cold local cache) processes
 * the timed flows; the clock stops once every operation is acknowledged and every pair scored.
 */
import { Redis } from 'ioredis';
import { FleetStore } from '../src/analytics/fleet-store.js';
import { createAnalyticsStage } from '../src/analytics/stage.js';
import { T0 } from '../test/helpers/flows.js';
import { portBase, startCluster, startSingle } from '../lab/redis.js';
import { FlowMaker } from './analytics.js';

export interface FleetBenchResult {
  store: 'redis' | 'redis cluster';
  flows: number;
  ms: number;
  flowsPerSecond: number;
  alerts: number;
  /** Write-path round trips (one per node per flush, and the WAITs) per flow. */
  roundTripsPerFlow: number;
  flushes: number;
  /** Store operations (fact writes and reads, connections, claims) per flow. */
  opsPerFlow: number;
  readTimeouts: number;
  scorings: number;
  /** Pairs in the store and the mean MEMORY USAGE of one pair's four keys (sampled). */
  pairs: number;
  bytesPerPair: number;
  connectionsPerPair: number;
}

// Flows handed over at a time: about what a sensor at this rate finishes in half a second.
const CHUNK = 1_000;

export async function benchFleet(kind: 'redis' | 'redis cluster', n = 50_000): Promise<FleetBenchResult> {
  const base = await portBase(9);
  const single = kind === 'redis' ? await startSingle(base + 10) : null;
  const cluster = kind === 'redis cluster' ? await startCluster(base) : null;
  const spec = single ? single.url : cluster!.seeds;
  try {
    const learningPeriodMs = 3_600_000;
    const prime = new FleetStore({ store: spec, sensorId: 'prime' });
    await prime.connected(5000);
    const warm = prime.baseline({ learningPeriodMs });
    for (const f of new FlowMaker(T0, 1).next(Math.min(n, 50_000))) warm.learn(f);
    await warm.close();

    const fleet = new FleetStore({ store: spec, sensorId: 'bench' });
    await fleet.connected(5000);
    const stage = createAnalyticsStage({ fleet, learningPeriodMs });
    let alerts = 0;
    stage.attach(() => { alerts++; });
    await stage.settle(); // the fleet's learning start, as a starting sensor asks for it
    const maker = new FlowMaker(T0 + learningPeriodMs + 1000, 2);
    let ms = 0;
    for (let done = 0; done < n; done += CHUNK) {
      const flows = maker.next(Math.min(CHUNK, n - done));
      const t0 = performance.now();
      // As the pipeline does: each flow's reads are asked first, then flows are analysed in order,
      // each once its answers are in (or its bounded wait is over).
      const waits = flows.map((f) => stage.prepare(f));
      for (let i = 0; i < flows.length; i++) {
        const w = waits[i];
        if (w) await w;
        stage.process(flows[i]!);
      }
      await new Promise((res) => setImmediate(res));
      if (done + CHUNK >= n) await fleet.settle(120_000);
      ms += performance.now() - t0;
    }
    const st = { ...fleet.stats };
    const mem = await pairMemory(fleet);
    await stage.close();
    return {
      store: kind,
      flows: n,
      ms: Math.round(ms),
      flowsPerSecond: Math.round((n / ms) * 1000),
      alerts,
      roundTripsPerFlow: st.roundTrips / n,
      flushes: st.flushes,
      opsPerFlow: (st.sharedFacts + st.sharedConnections + st.sharedClaims + st.sharedFolds + st.fetchedOps) / n,
      readTimeouts: st.readTimeouts,
      scorings: st.scorings,
      ...mem,
    };
  } finally {
    await single?.stop();
    await cluster?.stop();
  }
}

/** Pairs in the store and MEMORY USAGE of a sample of them (timeline, version, score, scored version). */
async function pairMemory(fleet: FleetStore): Promise<{ pairs: number; bytesPerPair: number; connectionsPerPair: number }> {
  const nodes: Redis[] = fleet.isCluster ? (fleet.client as unknown as { nodes(r: string): Redis[] }).nodes('master') : [fleet.client as Redis];
  let pairs = 0;
  let bytes = 0;
  let conns = 0;
  let sampled = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', 'ndr:{b:*}:t', 'COUNT', 2000);
      cursor = next;
      pairs += keys.length;
      for (const k of keys) {
        if (sampled >= 600) break;
        const tag = k.slice(0, -2);
        const sizes = await Promise.all(['t', 'v', 's', 'sv'].map((x) => node.call('MEMORY', 'USAGE', `${tag}:${x}`, 'SAMPLES', '0') as Promise<number | null>));
        bytes += sizes.reduce((a: number, b) => a + (b ?? 0), 0);
        conns += await node.zcard(k);
        sampled++;
      }
    } while (cursor !== '0');
  }
  return { pairs, bytesPerPair: sampled ? Math.round(bytes / sampled) : 0, connectionsPerPair: sampled ? Math.round((conns / sampled) * 10) / 10 : 0 };
}
