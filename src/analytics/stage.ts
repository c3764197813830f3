/**
 * The analytics as a pipeline stage (src/runtime/pipeline.ts AlertStage); src/runtime/stages.ts
 * builds it for replay and live runs.
 *
 * Alerts are emitted at their first occurrence; later duplicates inside the dedup window only raise
 * `count` on that same Alert object (so collectors holding the object see the final count), and
 * nothing is held back: `drain()` returns [].
 */
import type { Attribution, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { BaselineStore, DEFAULT_LEARNING_PERIOD_MS } from '../baseline/store.js';
import { DEFAULT_ANALYTICS_CONFIG, type AnalyticsConfig } from './config.js';
import { AnalyticsEngine } from './engine.js';

export interface AnalyticsStageOptions {
  /** LMDB directory for the baselines; null/absent = in memory. */
  baseline?: string | null;
  config?: AnalyticsConfig;
  learningPeriodMs?: number;
}

export interface AnalyticsStage {
  readonly engine: AnalyticsEngine;
  process(rec: FlowRecord): Alert[];
  drain(): Alert[];
  close(): Promise<void>;
  late(flow: FlowRecord, a: Attribution): void;
  reconfigure(config: AnalyticsConfig): void;
}

export function createAnalyticsStage(opts: AnalyticsStageOptions = {}): AnalyticsStage {
  const baseline = BaselineStore.open({ path: opts.baseline ?? null, learningPeriodMs: opts.learningPeriodMs ?? DEFAULT_LEARNING_PERIOD_MS });
  const engine = new AnalyticsEngine({ config: opts.config ?? DEFAULT_ANALYTICS_CONFIG, baseline });
  return {
    engine,
    process: (rec) => engine.process(rec),
    drain: () => [],
    close: () => baseline.close(),
    late(flow, a) {
      flow.attribution = a;
      engine.late(flow);
    },
    reconfigure: (config) => engine.reconfigure(config),
  };
}
