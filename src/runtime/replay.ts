/**
 * Replay capture files through the pipeline and collect what comes out. The programmatic
 * entry point used by tests, golden files and `ndr-sensor replay`.
 */
import { openCaptureFile } from '../capture/pcap-file.js';
import type { FlowRecord } from '../flow/record.js';
import type { Alert } from '../analytics/alert.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import type { EngineStats } from './engine.js';
import { buildStages } from './stages.js';
import { ShardedRunner, localShard } from './shard.js';
import type { WorkerInit } from './worker.js';
import type { FloodSummary } from './flood.js';
import type { StateReport } from '../util/state.js';

/** What a worker needs of the options (serialisable). */
export function workerInit(o: ReplayOptions): WorkerInit {
  return {
    ...(o.ja4Plus !== undefined ? { ja4Plus: o.ja4Plus } : {}),
    ...(o.extraRoots !== undefined ? { extraRoots: o.extraRoots } : {}),
    ...(o.brokerSniSuffixes !== undefined ? { brokerSniSuffixes: o.brokerSniSuffixes } : {}),
    ...(o.limits !== undefined ? { limits: o.limits } : {}),
    ...(o.disabledDissectors !== undefined ? { disabledDissectors: o.disabledDissectors } : {}),
  };
}

/** Engine counters of a sharded run: the main thread's decode counts plus every worker's. */
export function mergeStats(r: ShardedRunner): EngineStats {
  const m = r.mainStats;
  const out: EngineStats = {
    packets: m.packets, bytes: m.bytes, flowPackets: 0, notIp: m.notIp, otherL4: m.otherL4, fragmentsHeld: m.fragmentsHeld,
    malformed: m.malformed, unsupported: 0, events: new Map(m.events), flowsCreated: 0, flowsEvicted: 0, flowsEvictedMemcap: 0, flowsExpired: 0, flowsCompleted: 0, latePackets: 0, dissectorFaults: 0,
  };
  for (const w of r.workerStats) {
    const s = w as unknown as EngineStats & { events: [string, number][] };
    out.flowPackets += s.flowPackets;
    out.malformed += s.malformed;
    out.flowsCreated += s.flowsCreated;
    out.flowsEvicted += s.flowsEvicted;
    out.flowsEvictedMemcap += s.flowsEvictedMemcap ?? 0;
    out.flowsExpired += s.flowsExpired;
    out.flowsCompleted += s.flowsCompleted ?? 0;
    out.latePackets += s.latePackets ?? 0;
    out.dissectorFaults += s.dissectorFaults;
    for (const [k, v] of s.events) out.events.set(k, (out.events.get(k) ?? 0) + v);
  }
  return out;
}

export interface ReplayOptions extends Omit<PipelineOptions, 'onFlow' | 'onAlert'> {
  /** Sysmon logs for the embedded reference EDR (attribution). */
  sysmon?: string[];
  /** Run the five analytics (default true). */
  withAnalytics?: boolean;
  /** Worker threads sharded by flow hash (default 1: this thread). */
  workers?: number;
  /** Analytics configuration (the `analytics` section of sensor.yaml). */
  analyticsConfig?: unknown;
  /** lmdb baseline directory (in memory when absent). */
  baseline?: string | null;
  /** The fleet's Redis (redis://host:port or cluster seeds) instead of the lmdb baseline. */
  store?: string | readonly string[] | null;
  sensorId?: string;
}

export interface ReplayResult {
  flows: FlowRecord[];
  /** Summaries of the flows shed in a flood (they are not in `flows`). */
  floods: FloodSummary[];
  /** The per-key structures after the flow table at the end: sizes, bounds, evictions. */
  state: StateReport[];
  alerts: Alert[];
  stats: EngineStats;
  warnings: string[];
  truncated: boolean;
}


export async function replayFiles(paths: string[], opts: ReplayOptions = {}): Promise<ReplayResult> {
  const flows: FlowRecord[] = [];
  const alerts: Alert[] = [];
  const floods: FloodSummary[] = [];
  const stages = opts.enrich !== undefined || opts.analytics !== undefined
    ? {}
    : await buildStages({ sysmon: opts.sysmon ?? [], edr: null, analytics: opts.withAnalytics ?? true, baseline: opts.baseline ?? null, store: opts.store ?? null, ...(opts.state ? { state: opts.state } : {}), ...(opts.sensorId ? { sensorId: opts.sensorId } : {}), ...(opts.analyticsConfig !== undefined ? { analyticsConfig: opts.analyticsConfig } : {}) });
  const p = new Pipeline({ ...opts, ...stages, onFlow: (r) => flows.push(r), onAlert: (a) => alerts.push(a), onFlood: (f) => floods.push(f) });
  let stats: EngineStats = p.engine.stats;
  if ((opts.workers ?? 1) > 1) {
    // Files only: flow ids as one thread numbers them (stdin is dispatched like a live source).
    const runner = new ShardedRunner(p, opts.workers as number, { ...workerInit(opts), seqIds: !paths.includes('-') }, { local: localShard(opts.workers as number) });
    try {
      for (const path of paths) {
        if (path === '-') await runner.run(openCaptureFile(path));
        else await runner.runFile(path);
      }
    } catch (e) {
      await runner.abort();
      throw e;
    }
    await runner.finish();
    await p.finish('eof');
    stats = mergeStats(runner);
  } else {
    for (const path of paths) await p.run(openCaptureFile(path));
    await p.finish('eof');
  }
  const state = p.state();
  await p.close();
  flows.sort((a, b) => a.startTs - b.startTs || a.client.ip.localeCompare(b.client.ip) || a.client.port - b.client.port || a.server.port - b.server.port);
  return { flows, floods, state, alerts, stats, warnings: p.sourceWarnings, truncated: p.truncated };
}
