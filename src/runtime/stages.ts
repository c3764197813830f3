/**
 * Builds the enrichment and analytics stages a command asks for: the embedded reference EDR from
 * Sysmon logs (the replay default), or a remote EDR over gRPC; the five analytics with an
 * in-memory or lmdb baseline.
 */
import type { PipelineOptions } from './pipeline.js';
import { Enricher, createEmbeddedEdr } from '../enrich/edr-client.js';
import type { TlsFiles } from '../grpc/tls.js';
import type { FlowRecord, Attribution } from '../flow/record.js';

export interface StageRequest {
  sysmon: string[];
  edr: string | null;
  analytics: boolean;
  baseline: string | null;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Longest a flow waits for the EDR (ms). */
  maxWaitMs?: number;
  /** Analytics configuration (lists, thresholds, allowlists); defaults when absent. */
  analyticsConfig?: unknown;
  log?: (line: string) => void;
}

/** The five analytics with their baseline store, as a pipeline stage. */
async function analyticsStage(req: StageRequest): Promise<(NonNullable<PipelineOptions['analytics']> & { late?(flow: FlowRecord, a: Attribution): void }) | null> {
  if (!req.analytics) return null;
  const { createAnalyticsStage } = await import('../analytics/stage.js');
  const { validateAnalyticsConfig } = await import('../analytics/config.js');
  let config;
  if (req.analyticsConfig !== undefined) {
    const v = validateAnalyticsConfig(req.analyticsConfig);
    if (v.errors.length > 0) throw new Error(`analytics config: ${v.errors.join('; ')}`);
    config = v.config;
  }
  const st = createAnalyticsStage({ baseline: req.baseline, ...(config ? { config } : {}) });
  return {
    process: (r) => st.process(r),
    drain: () => st.drain(),
    close: () => st.close(),
    late: (f, a) => st.late(f, a),
    reload: (c) => {
      const v = validateAnalyticsConfig(c);
      if (v.errors.length === 0) st.reconfigure(v.config);
    },
  };
}

export async function buildStages(req: StageRequest): Promise<Pick<PipelineOptions, 'enrich' | 'analytics'>> {
  const analytics = await analyticsStage(req);
  let enrich: Enricher | null = null;
  const onLate = (flow: FlowRecord, a: Attribution): void => analytics?.late?.(flow, a);
  try {
    enrich = enricher(req, onLate);
  } catch (e) {
    // The baseline store is open by now; a refused EDR channel must not leave it holding the process.
    await analytics?.close?.();
    throw e;
  }
  return { ...(enrich ? { enrich } : {}), ...(analytics ? { analytics } : {}) };
}

function enricher(req: StageRequest, onLate: (flow: FlowRecord, a: Attribution) => void): Enricher | null {
  let enrich: Enricher | null = null;
  if (req.edr !== null) {
    enrich = new Enricher({
      endpoint: req.edr,
      tls: req.tls ?? null,
      allowPlaintextRemote: req.allowPlaintextRemote ?? false,
      ...(req.maxWaitMs !== undefined ? { maxWaitMs: req.maxWaitMs } : {}),
      onLate,
      ...(req.log ? { log: req.log } : {}),
    });
  } else if (req.sysmon.length > 0) {
    enrich = new Enricher({ embedded: createEmbeddedEdr(req.sysmon), onLate, ...(req.log ? { log: req.log } : {}) });
  }
  return enrich;
}
