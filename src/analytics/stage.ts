/**
 * The analytics as a pipeline stage (src/runtime/pipeline.ts AlertStage); src/runtime/stages.ts
 * builds it for replay and live runs.
 *
 * Alerts are emitted at their first occurrence; later duplicates inside the dedup window only raise
 * `count` on that same Alert object (so collectors holding the object see the final count), and
 * nothing is held back: `drain()` returns [].
 *
 * With a fleet store (Redis) the baseline's facts live there, every connection start joins the
 * fleet's beacon timeline, and a new alert is first claimed in the fleet: it is emitted (through
 * the emitter the pipeline attaches) only when no other sensor raised it, or at once when the store
 * cannot answer. Later occurrences are shared too, so the fleet counts every one.
 */
import type { Attribution, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { BaselineStore, DEFAULT_LEARNING_PERIOD_MS, destLower, hostKey } from '../baseline/store.js';
import type { FleetStats, FleetStore } from './fleet-store.js';
import { DEFAULT_ANALYTICS_CONFIG, type AnalyticsConfig } from './config.js';
import { AnalyticsEngine, type FleetHooks } from './engine.js';
import { DEFAULT_STATE_LIMITS, type StateLimits, type StateReport } from '../util/state.js';
import { tlsOf } from '../../dissectors/tls/record.js';

export interface AnalyticsStageOptions {
  /** LMDB directory for the baselines; null/absent = in memory. */
  baseline?: string | null;
  /** The fleet's shared store; when given the baseline lives there (not in `baseline`). */
  fleet?: FleetStore | null;
  config?: AnalyticsConfig;
  learningPeriodMs?: number;
  /** Bounds of the beacon pairs, the baseline's in-memory facts and the alert dedup keys. */
  state?: Partial<StateLimits>;
}

export interface AnalyticsStage {
  readonly engine: AnalyticsEngine;
  process(rec: FlowRecord): Alert[];
  drain(): Alert[];
  close(): Promise<void>;
  late(flow: FlowRecord, a: Attribution): void;
  reconfigure(config: AnalyticsConfig): void;
  /** Where alerts decided later (fleet claims) go. */
  attach(emit: (a: Alert) => void): void;
  /** Wait until what this sensor shares is in the fleet store (no-op without one). */
  settle(): Promise<void>;
  fleetStats(): FleetStats | null;
  /** With a fleet store: the store's answers this flow's analysis needs, bounded (see prepare in pipeline.ts). */
  prepare(rec: FlowRecord): Promise<unknown> | null;
  state(): StateReport[];
}

/** The name of one occurrence of an alert: the flow's Community ID and start, the same at any sensor. */
function occurrence(flow: FlowRecord): string {
  return `${flow.communityId}@${flow.startTs}`;
}

export function createAnalyticsStage(opts: AnalyticsStageOptions = {}): AnalyticsStage {
  const fleet = opts.fleet ?? null;
  const lim = { ...DEFAULT_STATE_LIMITS, ...opts.state };
  const learningPeriodMs = opts.learningPeriodMs ?? DEFAULT_LEARNING_PERIOD_MS;
  const baseline = fleet
    ? fleet.baseline({ learningPeriodMs, memoryMaxKeysCount: lim.baselineKeys })
    : BaselineStore.open({ path: opts.baseline ?? null, learningPeriodMs, memoryMaxKeysCount: lim.baselineKeys });
  const hooks: FleetHooks | undefined = fleet ? {
    connection(flow) {
      fleet.addConnection(hostKey(flow), destLower.of(tlsOf(flow)?.sni ?? flow.server.ip), flow.server.port, Math.floor(flow.startTs / 1000), flow.dirs[0].ipBytes, flow.communityId || `${flow.client.ip}:${flow.client.port}-${flow.server.ip}:${flow.server.port}@${flow.startTs}`);
    },
    fold(alert, flow) {
      fleet.foldAlert(alert.id, occurrence(flow));
    },
  } : undefined;
  const engine = new AnalyticsEngine({
    config: opts.config ?? DEFAULT_ANALYTICS_CONFIG,
    baseline,
    beacon: { maxPairsCount: lim.beaconPairs, maxTsPerPairCount: lim.beaconConnectionsPerPair },
    maxDedupKeysCount: lim.alertDedupKeys,
    ...(hooks ? { fleet: hooks } : {}),
  });
  let emit: ((a: Alert) => void) | null = null;
  return {
    engine,
    process(rec) {
      const alerts = engine.process(rec);
      if (!fleet || alerts.length === 0) return alerts;
      const occ = occurrence(rec);
      for (const a of alerts) {
        fleet.claimAlert(a.id, occ, JSON.stringify(a), (won) => {
          if (won) emit?.(a);
        });
      }
      return [];
    },
    drain: () => [],
    close: () => baseline.close(),
    late(flow, a) {
      flow.attribution = a;
      engine.late(flow);
    },
    reconfigure: (config) => engine.reconfigure(config),
    attach(e) {
      emit = e;
    },
    async settle() {
      if (fleet) await fleet.settle();
    },
    fleetStats: () => (fleet ? fleet.stats : null),
    prepare(rec) {
      // Before the learning period ends the analytics read nothing from the baseline.
      if (!fleet || !baseline.isWarm(rec.startTs)) return null;
      baseline.touch(rec);
      const asked = fleet.takeAsked();
      if (asked.length === 0) return null;
      return fleet.bounded(Promise.all(asked));
    },
    state: () => engine.state(),
  };
}

/** Cache: the fleet store's module, loaded on first use so a sensor without a fleet never loads ioredis. */
let fleetModule: typeof import('./fleet-store.js') | null = null;

/** Connect to the fleet store (loads ioredis only when a fleet is configured). */
export async function openFleet(spec: string | readonly string[], sensorId?: string, config?: AnalyticsConfig): Promise<FleetStore> {
  fleetModule ??= await import('./fleet-store.js');
  // An alert claim lives as long as the engine folds repeats of an alert: the dedup window.
  const dedupWindowMs = (config ?? DEFAULT_ANALYTICS_CONFIG).dedupWindowMs;
  const fleet = new fleetModule.FleetStore({ store: spec, dedupWindowMs, ...(sensorId ? { sensorId } : {}) });
  // A short wait for the first connection, so the first flows are shared rather than queued; an
  // unreachable store does not stop the sensor (it runs on the local fallback and catches up).
  if (!(await fleet.connected(1000))) process.emitWarning(`fleet store ${String(spec)} unreachable (${fleet.lastErrorMessage || 'no answer'}): running on the local fallback`);
  return fleet;
}
