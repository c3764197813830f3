/**
 * The reference implementation of RITA v5 beacon scoring, written for clarity over speed, that
 * the tests hold the sensor's allocation-free scorer (scoreSortedBeacon in
 * src/analytics/beacon.ts) to: the whole score for one pair from unsorted inputs, the hourly
 * histogram with its bar-height buckets, the CV and bimodal sub-scores, and RITA's bucketed
 * severity. The pieces the sensor shares with it (quartiles, Bowley, MAD, the duration score, the
 * weights and the bin-edge rule) are imported from the product, so a test failure points at the
 * fast path.
 */
import type { BeaconInfo } from '../../src/flow/record.js';
import {
  BEACON_DEFAULTS, binOf, combineScore, durationScore, medianSorted, round3, statisticalScore,
} from '../../src/analytics/beacon.js';

/** Timestamp score from already-computed intervals (used by the published test vectors). */
export function intervalScore(intervals: readonly number[]): number {
  const nz = Float64Array.from(intervals.filter((d) => d > 0)).sort();
  return statisticalScore(nz, 1);
}


/** DS score from per-connection originator bytes; null with fewer than 3 sizes. */
export function dataSizeScore(bytes: readonly number[]): number | null {
  if (bytes.length < 3) return null;
  return statisticalScore(Float64Array.from(bytes).sort(), 0);
}


export interface Histogram {
  counts: number[];
  /** Bucketed bar height → number of bars of that height. */
  freq: Map<number, number>;
  totalBars: number;
  longestRun: number;
}


/** Connections per bin over [min, max] (the last edge is inclusive), bar-height buckets, longest wrapped run. */
export function histogram(min: number, max: number, ts: Iterable<number>, bins: number = BEACON_DEFAULTS.histogramBins, sensitivity: number = BEACON_DEFAULTS.histModeSensitivity): Histogram {
  const counts = new Array<number>(bins).fill(0);
  const step = (max - min) / bins;
  for (const t of ts) counts[binOf(t, min, step, bins)]!++;
  let totalBars = 0;
  let largest = 0;
  for (const c of counts) {
    if (c > 0) totalBars++;
    if (c > largest) largest = c;
  }
  const bucket = Math.ceil(largest * sensitivity);
  const freq = new Map<number, number>();
  for (const c of counts) {
    if (c <= 0) continue;
    const b = Math.floor(c / bucket) * bucket;
    freq.set(b, (freq.get(b) ?? 0) + 1);
  }
  // Longest run of non-empty bins, allowed to wrap from the end of the window to the start.
  let longestRun = 0;
  let run = 0;
  for (let k = 0; k < bins * 2; k++) {
    if (counts[k % bins]! > 0) run++;
    else { if (run > longestRun) longestRun = run; run = 0; }
  }
  if (run > longestRun) longestRun = run;
  if (longestRun > bins) longestRun = bins;
  return { counts, freq, totalBars, longestRun };
}

/** 1 − population CV of the bin counts, rounded to 3 places; 0 when CV > 1. */
export function cvScore(counts: readonly number[]): number {
  const n = counts.length;
  let total = 0;
  for (const c of counts) total += c;
  if (n === 0 || total <= 0) return 0;
  const mean = total / n;
  let ss = 0;
  for (const c of counts) ss += (c - mean) ** 2;
  const cv = Math.sqrt(ss / n) / mean;
  if (cv > 1) return 0;
  return Math.min(1, round3(1 - cv));
}

/** Share of bars in the two most common height buckets, one outlier bar forgiven; 0 below the bar minimum. */
export function bimodalFit(freq: ReadonlyMap<number, number>, totalBars: number, outlierRemoval: number = BEACON_DEFAULTS.histBimodalOutlierRemoval, minBars: number = BEACON_DEFAULTS.histBimodalMinHours): number {
  if (totalBars <= 0 || freq.size === 0) return 0;
  if (minBars < 6) minBars = 11;
  if (totalBars < minBars) return 0;
  let a = 0;
  let b = 0;
  for (const v of freq.values()) {
    if (v > a) { b = a; a = v; } else if (v > b) b = v;
  }
  return Math.min(1, round3((a + b) / Math.max(totalBars - outlierRemoval, 1)));
}

export function histogramScore(h: Histogram): number {
  return Math.max(cvScore(h.counts), bimodalFit(h.freq, h.totalBars));
}


/**
 * RITA's bucketed severity from a 0..1 beacon score: below 0.5 → 0 (not reported); 0.5–0.7 → 0.2–0.4;
 * 0.7–0.9 → 0.4–0.6; ≥ 0.9 → 0.6–0.8.
 */
export function bucketedSeverity(score: number): number {
  const s = score * 100;
  if (s < 50) return 0;
  const lerp = (x: number, x0: number, x1: number, y0: number, y1: number): number => y0 + ((x - x0) / (x1 - x0)) * (y1 - y0);
  if (s < 70) return lerp(s, 50, 70, 0.2, 0.4);
  if (s < 90) return lerp(s, 70, 90, 0.4, 0.6);
  return Math.min(0.8, lerp(s, 90, 100, 0.6, 0.8));
}


export interface BeaconInput {
  /** Connection start times, whole seconds. */
  ts: readonly number[];
  /** Originator IP bytes per connection. */
  bytes: readonly number[];
  /** Analysis window (seconds): RITA uses [max − 24 h, max] clipped to the data. */
  windowMin: number;
  windowMax: number;
}

/** Full RITA v5 score for one pair; null when the pair does not pass the gates. */
export function scoreBeacon(input: BeaconInput): BeaconInfo | null {
  const n = input.ts.length;
  if (n < BEACON_DEFAULTS.uniqueConnectionThreshold || n >= BEACON_DEFAULTS.strobeConnections) return null;
  const sorted = Float64Array.from(input.ts).sort();
  // Non-zero deltas (sorted input): their count is unique timestamps − 1.
  const nz: number[] = [];
  for (let i = 1; i < n; i++) {
    const d = sorted[i]! - sorted[i - 1]!;
    if (d > 0) nz.push(d);
  }
  if (nz.length + 1 < BEACON_DEFAULTS.uniqueConnectionThreshold) return null;
  const deltas = Float64Array.from(nz).sort();
  const tsS = statisticalScore(deltas, 1);
  const dsS = dataSizeScore(input.bytes) ?? 0;
  const first = sorted[0]!;
  const last = sorted[n - 1]!;
  let winMin = input.windowMin;
  const winMax = Math.max(input.windowMax, last);
  if (winMax <= winMin) winMin = winMax - 1;
  let inWindow: ArrayLike<number> & Iterable<number> = sorted;
  if (first < winMin) inWindow = sorted.filter((t) => t >= winMin && t <= winMax);
  const h = histogram(winMin, winMax, inWindow);
  const histS = histogramScore(h);
  const durS = durationScore(winMin, winMax, Math.max(first, winMin), last, h.totalBars, h.longestRun);
  // Median interval over all deltas (zero ones included), for display.
  const all = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) all[i - 1] = sorted[i]! - sorted[i - 1]!;
  all.sort();
  return {
    score: combineScore(tsS, dsS, durS, histS),
    connections: n,
    medianIntervalS: all.length ? medianSorted(all) : null,
    tsScore: tsS,
    dsScore: dsS,
    durScore: durS,
    histScore: histS,
    basis: 'connections',
  };
}
