/**
 * Beacon scoring as RITA v5 does it (EDR-ANALYTICS.md §3.1), plus a bounded tracker that feeds it
 * connection start times and originator IP bytes per (host, destination, port).
 *
 * Score = round3(0.25·TS + 0.25·DS + 0.25·Duration + 0.25·Histogram), each sub-score in [0, 1]:
 *  - TS: statistical score of the sorted non-zero deltas between connection starts (default MAD 1);
 *  - DS: statistical score of the sorted per-connection originator IP bytes (default MAD 0);
 *  - Histogram: max(1 − CV of 24 hourly bin counts, bimodal fit of the bin heights);
 *  - Duration: max(coverage of the window, longest run of non-empty bins / 12, with wraparound),
 *    only when at least 6 bins are non-empty.
 * The statistical score is round3((1 − |Bowley skew| + MAD score) / 2) with montanaflynn quartiles.
 * Times inside the maths are whole seconds, as RITA stores them.
 */
import type { BeaconInfo, FlowRecord, SmallRecords } from '../flow/record.js';
import { destLower, hostKey, hostTableKey } from '../baseline/store.js';
import { tlsOf } from '../../dissectors/tls/record.js';

/** RITA v5 defaults (default_config.hjson). */
export const BEACON_DEFAULTS = {
  uniqueConnectionThreshold: 4,
  strobeConnections: 86_400,
  windowS: 86_400,
  histogramBins: 24,
  histModeSensitivity: 0.05,
  histBimodalOutlierRemoval: 1,
  histBimodalMinHours: 11,
  durMinHours: 6,
  durIdealConsistentHours: 12,
  tsWeight: 0.25,
  dsWeight: 0.25,
  durWeight: 0.25,
  histWeight: 0.25,
} as const;

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;
export const ceil3 = (x: number): number => Math.ceil(x * 1000) / 1000;

/** Median of an ascending array (mean of the two middle values when even). */
export function medianSorted(a: ArrayLike<number>, from = 0, to = a.length): number {
  const n = to - from;
  if (n <= 0) return NaN;
  const mid = from + (n >> 1);
  return n % 2 === 1 ? a[mid]! : (a[mid - 1]! + a[mid]!) / 2;
}

/**
 * Quartiles the way montanaflynn/stats `Quartile` takes them: Q2 is the median; Q1/Q3 are the
 * medians of the lower/upper halves, the middle element left out of both halves when n is odd.
 */
export function quartiles(sorted: ArrayLike<number>): { q1: number; q2: number; q3: number } {
  const n = sorted.length;
  const half = n >> 1;
  const upperFrom = n % 2 === 1 ? half + 1 : half;
  return {
    q1: medianSorted(sorted, 0, half),
    q2: medianSorted(sorted, 0, n),
    q3: medianSorted(sorted, upperFrom, n),
  };
}

/** Bowley skew and its score (1 − |skew|); skew is 0 unless IQR ≥ 10 and Q2 differs from Q1 and Q3. */
export function bowley(sorted: ArrayLike<number>): { skew: number; score: number } {
  const { q1, q2, q3 } = quartiles(sorted);
  const den = q3 - q1;
  let skew = 0;
  if (den >= 10 && q2 !== q1 && q2 !== q3) skew = (q1 + q3 - 2 * q2) / den;
  return { skew, score: 1 - Math.abs(skew) };
}

/** Median absolute deviation about the median and the normalised score (median − mad)/median. */
export function madScore(sorted: ArrayLike<number>, defaultMad: number): { mad: number; score: number } {
  const n = sorted.length;
  const med = medianSorted(sorted);
  const dev = new Float64Array(n);
  for (let i = 0; i < n; i++) dev[i] = Math.abs(sorted[i]! - med);
  dev.sort();
  const mad = medianSorted(dev);
  let score = med >= 1 ? (med - mad) / med : defaultMad;
  if (!(score >= 0)) score = 0; // negative or NaN
  return { mad, score };
}

/** round3((bowley score + MAD score) / 2) on ascending values. */
export function statisticalScore(sorted: ArrayLike<number>, defaultMad: number): number {
  if (sorted.length === 0) return 0;
  return round3((bowley(sorted).score + madScore(sorted, defaultMad).score) / 2);
}

/**
 * TS score from connection times (any unit; RITA uses whole seconds). Returns null when fewer than
 * 4 timestamps or fewer than 3 non-zero intervals (RITA's gate).
 */
export function timestampScore(ts: readonly number[]): number | null {
  if (ts.length < 4) return null;
  const sorted = Float64Array.from(ts).sort();
  const deltas: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const d = sorted[i]! - sorted[i - 1]!;
    if (d > 0) deltas.push(d);
  }
  if (deltas.length < 3) return null;
  return statisticalScore(Float64Array.from(deltas).sort(), 1);
}

/** The bin of `t` among `bins` bins of width `step` from `min` (clamped; the last edge inclusive). */
export function binOf(t: number, min: number, step: number, bins: number): number {
  let i = step > 0 ? Math.floor((t - min) / step) : 0;
  if (i < 0) i = 0;
  if (i >= bins) i = bins - 1;
  // Bin edges are min + i·step; guard against float error right at an edge.
  while (i + 1 < bins && t >= min + (i + 1) * step) i++;
  while (i > 0 && t < min + i * step) i--;
  return i;
}

/** Duration score: max(coverage, consistency) once enough bins are non-empty, else 0. */
export function durationScore(winMin: number, winMax: number, first: number, last: number, totalBars: number, longestRun: number, minBars: number = BEACON_DEFAULTS.durMinHours, idealRun: number = BEACON_DEFAULTS.durIdealConsistentHours): number {
  if (winMax <= winMin || last <= first || totalBars < minBars) return 0;
  const coverage = Math.min(1, ceil3((last - first) / (winMax - winMin)));
  const consistency = Math.min(1, ceil3(longestRun / idealRun));
  return Math.max(coverage, consistency);
}

export function combineScore(ts: number, ds: number, dur: number, hist: number): number {
  const w = BEACON_DEFAULTS;
  return round3(ts * w.tsWeight + ds * w.dsWeight + dur * w.durWeight + hist * w.histWeight);
}

/**
 * Cadence of the small records inside one long flow (MQTT PINGREQ, AMQP heartbeats, C2 check-ins):
 * the TS maths only, on record times in seconds (fractions kept, so a compressed cadence still
 * scores). Records closer than `burstGapMs` to the previous one belong to the same check-in (a
 * request and its follow-ups, the records right after the handshake) and count once. The score is
 * the TS score; the other sub-scores are 0. Null below 4 check-ins.
 */
export function scoreRecords(records: SmallRecords, burstGapMs = 1000): BeaconInfo | null {
  if (records.ts.length < BEACON_DEFAULTS.uniqueConnectionThreshold) return null;
  const sorted = [...records.ts].sort((a, b) => a - b);
  const events: number[] = [];
  let prev = -Infinity;
  for (const t of sorted) {
    if (t - prev >= burstGapMs) events.push(t / 1000);
    prev = t;
  }
  const tsS = timestampScore(events);
  if (tsS === null) return null;
  const deltas: number[] = [];
  for (let i = 1; i < events.length; i++) deltas.push(events[i]! - events[i - 1]!);
  deltas.sort((a, b) => a - b);
  return {
    score: tsS,
    connections: 1,
    medianIntervalS: round3(medianSorted(deltas)),
    tsScore: tsS,
    dsScore: 0,
    durScore: 0,
    histScore: 0,
    basis: 'records',
  };
}

export interface BeaconTrackerOptions {
  /** Most (host, destination, port) pairs kept; least recently used go first. */
  maxPairsCount?: number;
  /** Most connection starts kept per pair (oldest dropped). */
  maxTsPerPairCount?: number;
  windowS?: number;
}

interface PairState {
  // The pair's connections once it holds more than two; null while it holds at most two, which
  // are then kept inline (n, t0/b0, t1/b1): most pairs of a scan, a flood or a crowd of hosts.
  c: PairConnections | null;
  // Inline connections while c is null: starts as seconds after the tracker's originS (small
  // integers, so the fields hold them without a heap number each) and originator IP bytes.
  n: number;
  t0: number;
  b0: number;
  t1: number;
  b1: number;
  placed: number; // tick at which the pair was put at the young end of the placement list
  older: PairState | null; // neighbours in the placement list (null at its ends)
  newer: PairState | null;
  // The lowercase host and destination as index keys (textKey) and the port: the pair's entry in
  // the lookup index.
  host: number | string;
  dst: number | string;
  port: number;
}

/** The connections of a pair that holds more than two. */
interface PairConnections {
  ts: number[]; // connection starts, seconds, ascending; the pair's connections are ts[head..]
  tb: number[]; // originator IP bytes, aligned with ts
  head: number; // connections before it left the window or the cap and wait to be cut off
  // The live connections' intervals (zeros included) and originator IP bytes, each ascending,
  // kept up to date connection by connection (n − 1 and n values), so a scoring reads them
  // instead of sorting the pair's values again.
  sd: Float64Array;
  sb: Float64Array;
  scored: BeaconInfo | null | undefined; // the pair's last full score (large pairs are rescored now and then): null below RITA's gates, undefined when not scored yet
  sinceScored: number; // connections added since `scored` was computed
}

/** A (host, destination)'s pairs: the one pair while it has one port, a map by port once it has more. */
type PortSlot = PairState | Map<number, PairState>;

/**
 * A host's pairs: the one pair while the host has one (destination, port), a map by destination
 * once it has more. Most hosts in a crowd, a scan or a flood have a single pair, and a Map per
 * host cost more memory than the pair itself (and the garbage collector's time to copy it).
 */
type HostSlot = PairState | Map<number | string, PortSlot>;

/**
 * Connection starts and originator IP bytes per (host, destination, port), bounded both ways,
 * scored per flow with the full RITA v5 maths. The destination is the TLS SNI when there is one
 * (RITA's SNI beacons take precedence), else the server IP. The host is the EDR host name when
 * the flow is attributed, else the client IP.
 *
 * Pairs are found through a host → destination index (lookups on the flow's own keys, addresses
 * as integers (textKey), no joined key per flow); a doubly linked list through the pair states, in the order they were
 * placed, keeps an approximate LRU order (links in the pairs themselves: no hash table beside
 * the index, and a move costs four pointer writes). A hit moves a pair to the young end only once half the cap's worth of
 * observations went by since it was last placed, so a busy pair costs one move per maxPairs/2
 * flows; eviction always takes the oldest-placed pair, one delete per new pair. A pair reaches the
 * old end only after maxPairs placements behind it, and any use in the last maxPairs/2 of those
 * would have moved it: a pair used within the last maxPairs/2 observations is never evicted, and
 * no flow walks the list however many pairs are new.
 */
export class BeaconTracker {
  /** The placement list's oldest and newest pairs, and its length. */
  private oldest: PairState | null = null;
  private newest: PairState | null = null;
  private pairs = 0;
  private readonly index = new Map<number | string, HostSlot>();
  private readonly maxPairs: number;
  private readonly maxTs: number;
  private readonly windowS: number;
  private firstS = Infinity;
  private lastS = -Infinity;
  private tick = 0;
  /**
   * The first connection start seen: inline connection starts are kept relative to it. It starts
   * as 0 beside a flag rather than as NaN: a field that ever held a non-integer has V8 box every
   * value read from it, and the pairs' starts computed from a boxed origin were boxed in turn (two
   * heap numbers in every pair).
   */
  private originS = 0;
  private hasOrigin = false;
  private readonly scratch = new BeaconScratch();
  /** An inline pair's connections and the new one, in start order (observeInline). */
  private readonly inlineT: number[] = [0, 0, 0];
  private readonly inlineB: number[] = [0, 0, 0];
  /** Pairs dropped by the LRU cap (for stats). */
  evictedPairs = 0;

  constructor(opts: BeaconTrackerOptions = {}) {
    this.maxPairs = opts.maxPairsCount ?? 100_000;
    this.maxTs = opts.maxTsPerPairCount ?? 1_024;
    this.windowS = opts.windowS ?? BEACON_DEFAULTS.windowS;
  }

  static keyOf(flow: FlowRecord): string {
    return `${hostKey(flow)}|${destLower.of(tlsOf(flow)?.sni ?? flow.server.ip)}|${flow.server.port}`;
  }

  get size(): number {
    return this.pairs;
  }

  /** The most pairs kept. */
  get capacity(): number {
    return this.maxPairs;
  }

  /** The pair of (dst, port) among a host's pairs `h` (the index's entry for the host). */
  private static find(h: HostSlot | undefined, dst: number | string, port: number): PairState | undefined {
    if (h === undefined) return undefined;
    if (!(h instanceof Map)) return h.port === port && h.dst === dst ? h : undefined;
    const slot = h.get(dst);
    if (slot === undefined) return undefined;
    if (slot instanceof Map) return slot.get(port);
    return slot.port === port ? slot : undefined;
  }

  private unindex(st: PairState): void {
    const h = this.index.get(st.host);
    if (h === undefined) return;
    if (!(h instanceof Map)) {
      if (h === st) this.index.delete(st.host);
      return;
    }
    const slot = h.get(st.dst);
    if (slot === st || (slot instanceof Map && slot.delete(st.port) && slot.size === 0)) {
      h.delete(st.dst);
      if (h.size === 0) this.index.delete(st.host);
    }
  }

  /** Index a new pair; `h` is the index's entry for its host (looked up by the caller). */
  private addIndex(st: PairState, h: HostSlot | undefined): void {
    if (h === undefined) { this.index.set(st.host, st); return; }
    let byDst: Map<number | string, PortSlot>;
    if (h instanceof Map) byDst = h;
    else this.index.set(st.host, (byDst = new Map<number | string, PortSlot>([[h.dst, h]])));
    const slot = byDst.get(st.dst);
    if (slot === undefined) byDst.set(st.dst, st);
    else if (slot instanceof Map) slot.set(st.port, st);
    else byDst.set(st.dst, new Map([[slot.port, slot], [st.port, st]]));
  }

  /** Add this flow's connection and score its pair (null while the pair is below the gates). */
  observe(flow: FlowRecord): BeaconInfo | null {
    const host = hostTableKey(flow);
    const dst = destLower.keyOf(tlsOf(flow)?.sni ?? flow.server.ip);
    const port = flow.server.port;
    const tS = Math.floor(flow.startTs / 1000);
    if (tS < this.firstS) this.firstS = tS;
    if (tS > this.lastS) this.lastS = tS;
    // The host's entry is looked up once for both the search and, for a new pair, the insert.
    let h = this.index.get(host);
    let st = BeaconTracker.find(h, dst, port);
    const tick = ++this.tick;
    if (st) {
      if (tick - st.placed > this.maxPairs >> 1) { this.unlink(st); this.link(st); st.placed = tick; }
    } else {
      st = { c: null, n: 0, t0: 0, b0: 0, t1: 0, b1: 0, placed: tick, older: null, newer: null, host, dst, port };
      if (this.pairs >= this.maxPairs && this.oldest !== null) {
        const old = this.oldest;
        this.unlink(old);
        this.pairs--;
        this.unindex(old);
        this.evictedPairs++;
        // The evicted pair may have been this host's: its entry is read again.
        if (old.host === host) h = this.index.get(host);
      }
      this.link(st);
      this.pairs++;
      this.addIndex(st, h);
    }
    if (!this.hasOrigin) { this.originS = tS; this.hasOrigin = true; }
    const b = flow.dirs[0].ipBytes;
    const c = st.c;
    if (c === null) return this.observeInline(st, tS, b);
    const ts = c.ts;
    const tb = c.tb;
    // Keep ts sorted (flows mostly end in start order, so the insert is near the end) and the
    // bytes aligned with it. Connections that leave (the window, the cap) only move `head`; the
    // arrays are cut once the dead prefix is as long as the live part, so each connection is moved
    // O(1) times however long the pair lives.
    const len = ts.length;
    const h0 = c.head;
    let i = len;
    while (i > h0 && ts[i - 1]! > tS) i--;
    // The pair had at least three live connections, [h0, len): the new one's intervals replace
    // the one it falls into (or extend either end).
    let nd = len - h0 - 1;
    if (i > h0) {
      if (i < len) { sortedRemove(c.sd, nd--, ts[i]! - ts[i - 1]!); c.sd = sortedInsert(c.sd, nd++, ts[i]! - tS); }
      c.sd = sortedInsert(c.sd, nd++, tS - ts[i - 1]!);
    } else {
      c.sd = sortedInsert(c.sd, nd++, ts[i]! - tS);
    }
    c.sb = sortedInsert(c.sb, len - h0, b);
    if (i === len) { ts.push(tS); tb.push(b); } else { insertAt(ts, i, tS); insertAt(tb, i, b); }
    const winMax = this.lastS;
    const winMin = Math.max(this.firstS, winMax - this.windowS);
    // Only connections inside the window take part, as RITA's query does; the window only moves
    // forward, so older connections go for good. Past the cap the oldest go too.
    let head = h0;
    while (head < ts.length && ts[head]! < winMin) head++;
    if (ts.length - head > this.maxTs) head = ts.length - this.maxTs;
    const n = ts.length - head;
    if (n <= 2) {
      // Back to at most two: inline again (see observeInline).
      st.c = null;
      st.n = n;
      const o = this.originS;
      if (n > 0) { st.t0 = ts[head]! - o; st.b0 = tb[head]!; }
      if (n > 1) { st.t1 = ts[head + 1]! - o; st.b1 = tb[head + 1]!; }
      return null;
    }
    c.head = head;
    // Connections that left (the window, the cap) take their bytes and the interval to the next
    // connection with them.
    let nb = nd + 1;
    for (let k = h0; k < head; k++) {
      sortedRemove(c.sb, nb--, tb[k]!);
      sortedRemove(c.sd, nd--, ts[k + 1]! - ts[k]!);
    }
    if (head > 0 && head >= ts.length - head) cut(c);
    if (n < BEACON_DEFAULTS.uniqueConnectionThreshold) { c.scored = undefined; return null; }
    // Scoring reads every connection the pair holds, so a busy pair (a resolver, a proxy, an
    // update server: up to maxTsPerPairCount connections) would cost that much per flow. Small
    // pairs are scored on every flow; a pair past EXACT_PAIR_MAX connections is rescored once a
    // sixteenth of it is new, and in between its flows carry that score with the current
    // connection count. One more connection among hundreds moves the score by little; the cost
    // per flow stays bounded whatever the pair's size. A score below RITA's gates (null: a burst
    // of connections inside the same few seconds) is kept the same way, or a burst pair would be
    // rescored on every one of its flows.
    if (++c.sinceScored <= n >> 4 && c.scored !== undefined && n > EXACT_PAIR_MAX) {
      if (c.scored === null) return null;
      return c.scored.connections === n ? c.scored : { ...c.scored, connections: n };
    }
    c.sinceScored = 0;
    if (c.head > 0) cut(c);
    c.scored = scoreTracked(c.ts, c.sd, c.sb, winMin, winMax, this.scratch);
    return c.scored;
  }

  /**
   * observe() for a pair holding at most two connections (inline): the same insert, window and cap
   * on at most three connections in the tracker's scratch, so a pair of a scan, a flood or a crowd
   * of hosts costs no array at all (nothing of it but the pair outlives the flow); a third live
   * connection gives the pair its arrays. Below RITA's gates, so never a score.
   */
  private observeInline(st: PairState, tS: number, b: number): null {
    const o = this.originS;
    const T = this.inlineT;
    const B = this.inlineB;
    // The new connection goes after those starting at or before it, as the arrays' insert does.
    let len = 0;
    let placed = false;
    for (let k = 0; k < st.n; k++) {
      const t = (k === 0 ? st.t0 : st.t1) + o;
      if (!placed && t > tS) { T[len] = tS; B[len++] = b; placed = true; }
      T[len] = t;
      B[len++] = k === 0 ? st.b0 : st.b1;
    }
    if (!placed) { T[len] = tS; B[len++] = b; }
    const winMin = Math.max(this.firstS, this.lastS - this.windowS);
    let head = 0;
    while (head < len && T[head]! < winMin) head++;
    if (len - head > this.maxTs) head = len - this.maxTs;
    const n = len - head;
    if (n <= 2) {
      st.n = n;
      if (n > 0) { st.t0 = T[head]! - o; st.b0 = B[head]!; }
      if (n > 1) { st.t1 = T[head + 1]! - o; st.b1 = B[head + 1]!; }
      return null;
    }
    // Three live connections (so head is 0): the pair's arrays and sorted values start here.
    let sd: Float64Array = new Float64Array(8);
    let sb: Float64Array = new Float64Array(8);
    for (let k = 0; k < 3; k++) {
      sb = sortedInsert(sb, k, B[k]!);
      if (k > 0) sd = sortedInsert(sd, k - 1, T[k]! - T[k - 1]!);
    }
    st.c = { ts: [T[0]!, T[1]!, T[2]!], tb: [B[0]!, B[1]!, B[2]!], head: 0, sd, sb, scored: undefined, sinceScored: 0 };
    return null;
  }

  /** Put a pair (not in the list) at the list's young end. */
  private link(st: PairState): void {
    st.older = this.newest;
    st.newer = null;
    if (this.newest === null) this.oldest = st;
    else this.newest.newer = st;
    this.newest = st;
  }

  /** Take a pair out of the list. */
  private unlink(st: PairState): void {
    if (st.older === null) this.oldest = st.newer;
    else st.older.newer = st.newer;
    if (st.newer === null) this.newest = st.older;
    else st.newer.older = st.older;
    st.older = st.newer = null;
  }
}

/** Drop the connections before `head`. */
function cut(c: PairConnections): void {
  c.ts.splice(0, c.head);
  c.tb.splice(0, c.head);
  c.head = 0;
}

/** Pairs up to this many connections are scored on every flow (see BeaconTracker.observe). */
const EXACT_PAIR_MAX = 64;

/** a.splice(at, 0, x) without the removed-elements array splice returns. */
function insertAt(a: number[], at: number, x: number): void {
  let k = a.length;
  a.push(x);
  for (; k > at; k--) a[k] = a[k - 1]!;
  a[at] = x;
}

/**
 * Insert x into ascending a[0..len), growing a when full (the array to keep is returned). Values
 * equal to x keep their order before it; the move is one memmove.
 */
function sortedInsert(a: Float64Array, len: number, x: number): Float64Array {
  if (len === a.length) {
    const g = new Float64Array(len * 2);
    g.set(a);
    a = g;
  }
  let at = len;
  if (len > 0 && a[len - 1]! > x) {
    at = upperBound(a, x, 0, len);
    if (len - at > 8) a.copyWithin(at + 1, at, len);
    else for (let k = len; k > at; k--) a[k] = a[k - 1]!;
  }
  a[at] = x;
  return a;
}

/**
 * Remove one value equal to x from ascending a[0..len) (x is there). Equal values cannot be told
 * apart, so the last of them goes: only the values above x move. A busy pair's intervals are
 * mostly equal (zeros, whole seconds) and so are its sizes, and taking the first of them moved
 * nearly the whole array on every connection.
 */
function sortedRemove(a: Float64Array, len: number, x: number): void {
  const at = upperBound(a, x, 0, len) - 1;
  if (len - at > 8) a.copyWithin(at, at + 1, len);
  else for (let k = at + 1; k < len; k++) a[k - 1] = a[k]!;
}

/** Index of the first of a[from..to) above x (a ascending); `to` when there is none. */
function upperBound(a: ArrayLike<number>, x: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- allocation-free scoring for the tracker (one call per flow) ----

/**
 * Work buffers for scoreSortedBeacon, reused from call to call: the tracker scores most flows, and
 * fresh typed arrays, quartile objects and histogram maps per flow were a large share of the
 * analytics' garbage. Each tracker owns one, so trackers (and worker threads) never share buffers.
 */
export class BeaconScratch {
  deltas: Float64Array = new Float64Array(64);
  readonly bins = new Float64Array(BEACON_DEFAULTS.histogramBins);
  /** Non-empty bins per bucketed height (see histDurScores): room for 1 / histModeSensitivity + 1 and float error. */
  readonly heights = new Float64Array(Math.ceil(1 / BEACON_DEFAULTS.histModeSensitivity) + 8);
}

function grown(buf: Float64Array, n: number): Float64Array {
  if (buf.length >= n) return buf;
  let len = buf.length;
  while (len < n) len *= 2;
  return new Float64Array(len);
}

/** Ascending sort of a[0..n): insertion sort for the short runs pairs usually hold. */
export function sortPrefix(a: Float64Array, n: number): void {
  if (n > 32) { a.subarray(0, n).sort(); return; }
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && a[j]! > v) { a[j + 1] = a[j]!; j--; }
    a[j + 1] = v;
  }
}

/** Index of the first of a[from..to) not below x (a ascending); `to` when there is none. */
function lowerBound(a: ArrayLike<number>, x: number, from: number, to: number): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The k-th smallest (from 0) absolute deviation |a[i] − q2| of ascending a[from..from + n), where
 * `split` is the first index with a[split] ≥ q2. Left of the split the deviations ascend as i goes down,
 * right of it as i goes up: two sorted runs, so the k-th of their merge is found by bisecting how
 * many come from the left run (O(log n)), with no array of deviations at all.
 */
function kthDeviation(a: ArrayLike<number>, from: number, n: number, split: number, q2: number, k: number): number {
  const nl = split - from;
  const nr = from + n - split;
  // i deviations from the left run and k + 1 − i from the right are the k + 1 smallest.
  let lo = Math.max(0, k + 1 - nr);
  let hi = Math.min(k + 1, nl);
  for (;;) {
    const i = (lo + hi) >> 1;
    const j = k + 1 - i;
    // left run's m-th deviation: a[split − 1 − m]; right run's m-th: a[split + m]
    if (i < hi && j > 0 && a[split + j - 1]! - q2 > q2 - a[split - 1 - i]!) lo = i + 1;
    else if (i > lo && j < nr && q2 - a[split - i]! > a[split + j]! - q2) hi = i - 1;
    else {
      const l = i > 0 ? q2 - a[split - i]! : -Infinity;
      const r = j > 0 ? a[split + j - 1]! - q2 : -Infinity;
      return l > r ? l : r;
    }
  }
}

/**
 * statisticalScore(a[from..from + n)) for ascending input without allocating: the quartiles are
 * read off the sorted values, and the median absolute deviation is taken from the two sorted runs
 * of deviations either side of the median (kthDeviation), so a pair of any size costs O(log n).
 */
function statScore(a: ArrayLike<number>, from: number, n: number, defaultMad: number): number {
  if (n === 0) return 0;
  const half = n >> 1;
  const end = from + n;
  const q1 = medianSorted(a, from, from + half);
  const q2 = medianSorted(a, from, end);
  const q3 = medianSorted(a, n % 2 === 1 ? from + half + 1 : from + half, end);
  const den = q3 - q1;
  let skew = 0;
  if (den >= 10 && q2 !== q1 && q2 !== q3) skew = (q1 + q3 - 2 * q2) / den;
  const bowleyScore = 1 - Math.abs(skew);
  const split = lowerBound(a, q2, from, end);
  const mad = n % 2 === 1 ? kthDeviation(a, from, n, split, q2, half) : (kthDeviation(a, from, n, split, q2, half - 1) + kthDeviation(a, from, n, split, q2, half)) / 2;
  let madS = q2 >= 1 ? (q2 - mad) / q2 : defaultMad;
  if (!(madS >= 0)) madS = 0; // negative or NaN
  return round3((bowleyScore + madS) / 2);
}

/** The histogram and duration sub-scores, which come from the same bins. */
interface HistDurScores { hist: number; dur: number }

/**
 * The reference histogram score (hourly bins, bar heights bucketed by the default sensitivity,
 * max of the CV and bimodal scores) and durationScore(lo, hi, max(first, lo), last, …), computed
 * in the scratch bins without maps or per-call arrays.
 */
function histDurScores(lo: number, hi: number, ts: readonly number[], first: number, last: number, scratch: BeaconScratch): HistDurScores {
  const bins = BEACON_DEFAULTS.histogramBins;
  const counts = scratch.bins;
  const step = (hi - lo) / bins;
  // binOf(t) is the number of edges lo + i·step (i = 1 … bins − 1) at or below t, and the edges
  // ascend, so one walk over the ascending ts moves the bin forward as the edges are passed (no
  // binOf per connection, no search per edge: most pairs scored hold a few dozen connections).
  counts.fill(0);
  const n = ts.length;
  let bin = 0;
  let edge = lo + step;
  for (let k = 0; k < n; k++) {
    const t = ts[k]!;
    while (bin < bins - 1 && t >= edge) edge = lo + (++bin + 1) * step;
    counts[bin]++;
  }
  let totalBars = 0;
  let largest = 0;
  let total = 0;
  // Longest run of non-empty bins, wrapping from the last bin to the first: the longest run inside
  // the window, or the run at the end joined to the run at the start (all bins when none is empty).
  let longestRun = 0;
  let run = 0;
  let lead = -1;
  for (let i = 0; i < bins; i++) {
    const c = counts[i]!;
    total += c;
    if (c > largest) largest = c;
    if (c > 0) { totalBars++; run++; }
    else {
      if (lead < 0) lead = run;
      if (run > longestRun) longestRun = run;
      run = 0;
    }
  }
  if (lead < 0) longestRun = bins;
  else {
    if (run > longestRun) longestRun = run;
    if (lead + run > longestRun) longestRun = lead + run;
  }
  // cvScore
  let cvS = 0;
  if (total > 0) {
    const mean = total / bins;
    let ss = 0;
    for (let i = 0; i < bins; i++) ss += (counts[i]! - mean) ** 2;
    const cv = Math.sqrt(ss / bins) / mean;
    cvS = cv > 1 ? 0 : Math.min(1, round3(1 - cv));
  }
  // bimodalFit: the two largest counts of bars per bucketed height.
  let fit = 0;
  const minBars = BEACON_DEFAULTS.histBimodalMinHours < 6 ? 11 : BEACON_DEFAULTS.histBimodalMinHours;
  if (totalBars > 0 && totalBars >= minBars) {
    // Bars per bucketed height, counted by the height's bucket number floor(c / bucket), which is
    // at most largest / bucket ≤ 1 / histModeSensitivity (20) plus float error: no sort.
    const bucket = Math.ceil(largest * BEACON_DEFAULTS.histModeSensitivity);
    const perHeight = scratch.heights;
    perHeight.fill(0);
    let top = 0;
    for (let i = 0; i < bins; i++) {
      const c = counts[i]!;
      if (c > 0) {
        const h = Math.floor(c / bucket);
        perHeight[h]++;
        if (h > top) top = h;
      }
    }
    let a = 0;
    let b = 0;
    for (let h = 0; h <= top; h++) {
      const v = perHeight[h]!;
      if (v > a) { b = a; a = v; } else if (v > b) b = v;
    }
    fit = Math.min(1, round3((a + b) / Math.max(totalBars - BEACON_DEFAULTS.histBimodalOutlierRemoval, 1)));
  }
  return { hist: Math.max(cvS, fit), dur: durationScore(lo, hi, Math.max(first, lo), last, totalBars, longestRun) };
}

/**
 * The RITA v5 score of one pair from inputs already sorted ascending and inside [winMin, winMax]
 * (the tracker's state); null below the gates. `scratch` is reused across calls by its owner.
 */
export function scoreSortedBeacon(ts: readonly number[], bytesSorted: ArrayLike<number>, winMin: number, winMax: number, scratch: BeaconScratch = new BeaconScratch()): BeaconInfo | null {
  const n = ts.length;
  if (n < BEACON_DEFAULTS.uniqueConnectionThreshold || n >= BEACON_DEFAULTS.strobeConnections) return null;
  scratch.deltas = grown(scratch.deltas, n);
  const deltas = scratch.deltas;
  let nzCount = 0;
  for (let k = 1; k < n; k++) { const d = ts[k]! - ts[k - 1]!; if (d > 0) deltas[nzCount++] = d; }
  if (nzCount + 1 < BEACON_DEFAULTS.uniqueConnectionThreshold) return null;
  sortPrefix(deltas, nzCount);
  const tsS = statScore(deltas, 0, nzCount, 1);
  const dsS = bytesSorted.length >= 3 ? statScore(bytesSorted, 0, bytesSorted.length, 0) : 0;
  const first = ts[0]!;
  const last = ts[n - 1]!;
  let lo = winMin;
  const hi = Math.max(winMax, last);
  if (hi <= lo) lo = hi - 1;
  const { hist: histS, dur: durS } = histDurScores(lo, hi, ts, first, last, scratch);
  // Median over all n−1 deltas: the zero deltas come first in sorted order, then `deltas`.
  const zeros = n - 1 - nzCount;
  const m = n - 1;
  const median = m % 2 === 1 ? deltaAt(deltas, zeros, m >> 1) : (deltaAt(deltas, zeros, m / 2 - 1) + deltaAt(deltas, zeros, m / 2)) / 2;
  return {
    score: combineScore(tsS, dsS, durS, histS),
    connections: n,
    medianIntervalS: median,
    tsScore: tsS,
    dsScore: dsS,
    durScore: durS,
    histScore: histS,
    basis: 'connections',
  };
}

function deltaAt(deltas: Float64Array, zeros: number, k: number): number {
  return k < zeros ? 0 : deltas[k - zeros]!;
}

/**
 * scoreSortedBeacon for a tracked pair: the same score from the pair's connections ts (ascending,
 * all inside the window) and its sorted intervals sd (n − 1 of them, zeros first) and bytes sb
 * (n), with nothing sorted here.
 */
function scoreTracked(ts: readonly number[], sd: Float64Array, sb: Float64Array, winMin: number, winMax: number, scratch: BeaconScratch): BeaconInfo | null {
  const n = ts.length;
  if (n < BEACON_DEFAULTS.uniqueConnectionThreshold || n >= BEACON_DEFAULTS.strobeConnections) return null;
  const m = n - 1;
  // Starts are whole seconds, so an interval is zero or at least one.
  const zeros = upperBound(sd, 0, 0, m);
  const nzCount = m - zeros;
  if (nzCount + 1 < BEACON_DEFAULTS.uniqueConnectionThreshold) return null;
  const tsS = statScore(sd, zeros, nzCount, 1);
  const dsS = statScore(sb, 0, n, 0);
  const first = ts[0]!;
  const last = ts[m]!;
  let lo = winMin;
  const hi = Math.max(winMax, last);
  if (hi <= lo) lo = hi - 1;
  const { hist: histS, dur: durS } = histDurScores(lo, hi, ts, first, last, scratch);
  return {
    score: combineScore(tsS, dsS, durS, histS),
    connections: n,
    medianIntervalS: medianSorted(sd, 0, m),
    tsScore: tsS,
    dsScore: dsS,
    durScore: durS,
    histScore: histS,
    basis: 'connections',
  };
}
