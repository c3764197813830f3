/**
 * Builds the enrichment and analytics stages a command asks for: the embedded reference EDR from
 * Sysmon logs (the replay default), or a remote EDR over gRPC; the five analytics with an
 * in-memory or lmdb baseline, or the fleet's Redis store.
 */
import type { PipelineOptions } from './pipeline.js';
import type { Enricher } from '../enrich/edr-client.js';
import type { TlsFiles } from '../grpc/tls.js';
import type { FlowRecord, Attribution } from '../flow/record.js';
import type { AnalyticsStage } from '../analytics/stage.js';
import type { FleetStats } from '../analytics/fleet-store.js';
import type { StateLimits } from '../util/state.js';

export interface StageRequest {
  sysmon: string[];
  edr: string | null;
  analytics: boolean;
  baseline: string | null;
  /** The fleet's Redis (redis://host:port or cluster seeds): the baseline, beacons and alert dedup live there. */
  store?: string | readonly string[] | null;
  /** This sensor's name in the fleet (locks, claims). */
  sensorId?: string;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Longest a flow waits for the EDR (ms). */
  maxWaitMs?: number;
  /** Analytics configuration (lists, thresholds, allowlists); defaults when absent. */
  analyticsConfig?: unknown;
  /** Bounds of the per-key structures (beacon pairs, baseline facts, alert dedup, EDR cache). */
  state?: Partial<StateLimits>;
  log?: (line: string) => void;
}

/** The five analytics with their baseline store, as a pipeline stage. */
async function analyticsStage(req: StageRequest): Promise<(NonNullable<PipelineOptions['analytics']> & { stage: AnalyticsStage; late?(flow: FlowRecord, a: Attribution): void }) | null> {
  if (!req.analytics) return null;
  const { createAnalyticsStage } = await import('../analytics/stage.js');
  const { validateAnalyticsConfig } = await import('../analytics/config.js');
  let config;
  if (req.analyticsConfig !== undefined) {
    const v = validateAnalyticsConfig(req.analyticsConfig);
    if (v.errors.length > 0) throw new Error(`analytics config: ${v.errors.join('; ')}`);
    config = v.config;
  }
  const { openFleet } = await import('../analytics/stage.js');
  const fleet = req.store && (typeof req.store === 'string' || req.store.length > 0) ? await openFleet(req.store, req.sensorId, config) : null;
  const st = createAnalyticsStage({ baseline: req.baseline, fleet, ...(config ? { config } : {}), ...(req.state ? { state: req.state } : {}) });
  // The fleet's learning start and the like are asked at once; their answers come before the first flow.
  if (fleet) await st.settle();
  return {
    stage: st,
    state: () => st.state(),
    process: (r) => st.process(r),
    drain: () => st.drain(),
    attach: (e) => st.attach(e),
    prepare: (r) => st.prepare(r),
    settle: () => st.settle(),
    close: () => st.close(),
    late: (f, a) => st.late(f, a),
    reload: (c) => {
      const v = validateAnalyticsConfig(c);
      if (v.errors.length === 0) st.reconfigure(v.config);
    },
  };
}

export type BuiltStages = Pick<PipelineOptions, 'enrich' | 'analytics'> & {
  /** The fleet store's counters (null without one): what was shared, retried and lost. */
  fleetStats?: () => FleetStats | null;
};

export async function buildStages(req: StageRequest): Promise<BuiltStages> {
  const analytics = await analyticsStage(req);
  let enrich: Enricher | null = null;
  const onLate = (flow: FlowRecord, a: Attribution): void => analytics?.late?.(flow, a);
  try {
    enrich = await enricher(req, onLate);
  } catch (e) {
    // The baseline store is open by now; a refused EDR channel must not leave it holding the process.
    await analytics?.close?.();
    throw e;
  }
  return { ...(enrich ? { enrich } : {}), ...(analytics ? { analytics, fleetStats: () => analytics.stage.fleetStats() } : {}) };
}

async function enricher(req: StageRequest, onLate: (flow: FlowRecord, a: Attribution) => void): Promise<Enricher | null> {
  if (req.edr === null && req.sysmon.length === 0) return null;
  // Loaded only when attribution is asked for: the EDR client brings grpc-js, which takes longer to
  // load than a small capture takes to replay.
  const { Enricher, createEmbeddedEdr } = await import('../enrich/edr-client.js');
  let enrich: Enricher | null = null;
  if (req.edr !== null) {
    enrich = new Enricher({
      endpoint: req.edr,
      tls: req.tls ?? null,
      allowPlaintextRemote: req.allowPlaintextRemote ?? false,
      ...(req.maxWaitMs !== undefined ? { maxWaitMs: req.maxWaitMs } : {}),
      onLate,
      ...(req.state?.edrCacheEntries !== undefined ? { cacheMax: req.state.edrCacheEntries } : {}),
      ...(req.log ? { log: req.log } : {}),
    });
  } else if (req.sysmon.length > 0) {
    enrich = new Enricher({ embedded: createEmbeddedEdr(req.sysmon), onLate, ...(req.state?.edrCacheEntries !== undefined ? { cacheMax: req.state.edrCacheEntries } : {}), ...(req.log ? { log: req.log } : {}) });
  }
  return enrich;
}
