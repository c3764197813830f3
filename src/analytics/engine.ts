/**
 * Runs the five analytics on each enriched flow, in this order per flow:
 *   1. beacon: the flow's connection joins its (host, destination, port) pair in the BeaconTracker
 *      (RITA v5 score), and the small-record cadence inside the flow is scored (TS maths);
 *      `flow.beacon` is filled when empty (connection basis preferred);
 *   2. AN0002, AN0922, AN1389, AN1413, AN0759 evaluate against the baseline as it was BEFORE this flow;
 *   3. the baseline learns the flow;
 *   4. alerts are deduplicated per (analytic, host, process, destination) within `dedupWindowMs` of
 *      packet time: the first is returned, later ones only raise its `count` (see `drain()`).
 */
import type { FlowRecord } from '../flow/record.js';
import type { Alert, AnalyticId } from './alert.js';
import { BaselineStore } from '../baseline/store.js';
import { BeaconTracker, scoreRecords, type BeaconTrackerOptions } from './beacon.js';
import { DEFAULT_ANALYTICS_CONFIG, resolveConfig, type AnalyticsConfig, type ResolvedConfig } from './config.js';
import { alertKey, type Analytic, type AnalyticContext } from './context.js';
import { an0002 } from './an0002.js';
import { an0922 } from './an0922.js';
import { an1389 } from './an1389.js';
import { an1413 } from './an1413.js';
import { an0759 } from './an0759.js';
import type { StateReport } from '../util/state.js';
import { MapFront } from '../util/map-front.js';

export const ANALYTICS: readonly (readonly [AnalyticId, Analytic])[] = [
  ['AN0002', an0002], ['AN0922', an0922], ['AN1389', an1389], ['AN1413', an1413], ['AN0759', an0759],
];

/**
 * What a fleet of sensors shares beyond the baseline (src/analytics/fleet-store.ts wires it): each
 * connection start, and each later occurrence of an alert this sensor already raised.
 */
export interface FleetHooks {
  connection(flow: FlowRecord): void;
  fold(alert: Alert, flow: FlowRecord): void;
}

export interface EngineOptions {
  fleet?: FleetHooks;
  config?: AnalyticsConfig;
  /** Baseline store; default an in-memory one with the default learning period. */
  baseline?: BaselineStore;
  beacon?: BeaconTrackerOptions;
  /** Most alert keys kept for dedup (expired ones are pruned first). */
  maxDedupKeysCount?: number;
}

interface DedupEntry {
  alert: Alert;
  firstTs: number;
}

export interface EngineStats {
  flows: number;
  alerts: number;
  folded: number;
  perAnalytic: Record<AnalyticId, number>;
}

export class AnalyticsEngine {
  config: ResolvedConfig;
  readonly baseline: BaselineStore;
  readonly beacons: BeaconTracker;
  private readonly dedup = new Map<string, DedupEntry>();
  /** Keys leave the dedup map only through prune (and drain's clear), and a set never moves one. */
  private readonly dedupFront = new MapFront(this.dedup);
  private readonly done: Alert[] = [];
  private readonly maxDedup: number;
  private readonly fleet: FleetHooks | null;
  private readonly ctx: { -readonly [K in keyof AnalyticContext]: AnalyticContext[K] };
  /** Dedup keys dropped while still inside their window because the cap was reached. */
  dedupEvictions = 0;
  readonly stats: EngineStats = { flows: 0, alerts: 0, folded: 0, perAnalytic: { AN0002: 0, AN0922: 0, AN1389: 0, AN1413: 0, AN0759: 0 } };

  constructor(opts: EngineOptions = {}) {
    this.config = resolveConfig(opts.config ?? DEFAULT_ANALYTICS_CONFIG);
    this.baseline = opts.baseline ?? BaselineStore.open();
    this.beacons = new BeaconTracker(opts.beacon ?? {});
    this.maxDedup = opts.maxDedupKeysCount ?? 100_000;
    this.fleet = opts.fleet ?? null;
    this.ctx = { config: this.config, baseline: this.baseline, beacon: null, recordBeacon: null };
  }

  /** Swap the analytics config (SIGHUP reload of lists and allowlists); state is kept. */
  reconfigure(config: AnalyticsConfig): void {
    this.config = resolveConfig(config);
  }

  /**
   * An EDR answer that arrived after the flow was analysed: the analytics do not run again, but the
   * baseline learns what the attribution adds (host/user destinations, the image, its libraries).
   */
  late(flow: FlowRecord): void {
    if (flow.attribution?.status === 'attributed') this.baseline.learn(flow);
  }

  /** Evaluate one enriched flow; returns the alerts that are new (not folded into an earlier one). */
  process(flow: FlowRecord): Alert[] {
    this.stats.flows++;
    const beacon = this.beacons.observe(flow);
    this.fleet?.connection(flow);
    const keepAlives = flow.features.keepAliveTs;
    const recordBeacon = scoreRecords(keepAlives !== undefined && keepAlives.length >= 4 ? { ts: [...keepAlives], sizes: [] } : flow.smallRecords[0]);
    if (flow.beacon === null) flow.beacon = beacon ?? recordBeacon;
    // One context object per engine, refilled per flow (the analytics do not keep it).
    const ctx = this.ctx;
    ctx.config = this.config;
    ctx.beacon = beacon;
    ctx.recordBeacon = recordBeacon;
    let out: Alert[] | null = null;
    for (let i = 0; i < ANALYTICS.length; i++) {
      const alerts = ANALYTICS[i]![1](flow, ctx);
      for (let j = 0; j < alerts.length; j++) {
        const a = alerts[j]!;
        if (this.fold(a, flow)) continue;
        (out ??= []).push(a);
        this.stats.alerts++;
        this.stats.perAnalytic[a.analytic]++;
      }
    }
    this.baseline.learn(flow);
    return out ?? [];
  }

  /** True when `a` folds into an alert already raised inside the window. */
  private fold(a: Alert, flow: FlowRecord): boolean {
    const key = alertKey(a.analytic, flow);
    const prev = this.dedup.get(key);
    if (prev && a.ts - prev.firstTs <= this.config.dedupWindowMs && a.ts >= prev.firstTs - this.config.dedupWindowMs) {
      prev.alert.count++;
      this.stats.folded++;
      this.fleet?.fold(prev.alert, flow);
      return true;
    }
    if (prev) this.done.push(prev.alert);
    if (this.dedup.size >= this.maxDedup) this.prune(a.ts);
    this.dedup.set(key, { alert: a, firstTs: a.ts });
    return false;
  }

  /**
   * Make room for one key. Keys sit in the map in the order they were set, which is the order of
   * their first alert's packet time give or take the flows' end order, so expired keys are at the
   * front: drop those, stopping at the first one still inside its window, then the oldest until
   * there is room. Each key is dropped at most once, so this is O(1) amortised per alert however
   * many keys are held.
   */
  private prune(now: number): void {
    for (let k = this.dedupFront.peek(); k !== undefined; k = this.dedupFront.peek()) {
      const e = this.dedup.get(k)!;
      if (now - e.firstTs <= this.config.dedupWindowMs) break;
      this.done.push(e.alert);
      this.dedup.delete(k);
      this.dedupFront.take();
    }
    while (this.dedup.size >= this.maxDedup) {
      const k = this.dedupFront.take();
      if (k === undefined) break;
      this.done.push(this.dedup.get(k)!.alert);
      this.dedup.delete(k);
      this.dedupEvictions++;
    }
  }

  /** Sizes, bounds and evictions of the engine's per-key structures. */
  state(): StateReport[] {
    return [
      { structure: 'beacon_pairs', size: this.beacons.size, capacity: this.beacons.capacity, evictions: this.beacons.evictedPairs },
      { structure: 'alert_dedup', size: this.dedup.size, capacity: this.maxDedup, evictions: this.dedupEvictions },
      ...this.baseline.state(),
    ];
  }

  /** Every alert raised so far with its final `count`, in first-seen order; clears the state. */
  drain(): Alert[] {
    const all = [...this.done, ...[...this.dedup.values()].map((e) => e.alert)];
    this.done.length = 0;
    this.dedup.clear();
    this.dedupFront.reset();
    return all.sort((x, y) => x.ts - y.ts || x.flowId - y.flowId);
  }
}
