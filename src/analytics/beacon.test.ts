import { describe, expect, it } from 'vitest';
import { BeaconTracker, scoreSortedBeacon, bowley, durationScore, quartiles, scoreRecords, timestampScore } from './beacon.js';
import {
  bimodalFit, bucketedSeverity, cvScore, dataSizeScore, histogram, histogramScore, intervalScore, scoreBeacon,
} from '../../test/helpers/beacon-reference.js';
import { T0, makeFlow } from '../../test/helpers/flows.js';

describe('RITA v5 published TS vectors (analysis/beacons_test.go)', () => {
  it('intervals all 60 s score 1', () => {
    expect(intervalScore(new Array(20).fill(60))).toBe(1);
  });
  it('{98..102} scores 0.995 with quartiles (99, 100, 101)', () => {
    const iv = [98, 99, 99, 100, 100, 100, 101, 101, 102];
    expect(quartiles(iv)).toEqual({ q1: 99, q2: 100, q3: 101 });
    expect(intervalScore(iv)).toBe(0.995);
  });
  it('alternating 98/300 scores 0.746 (skew forced to 0, MAD 101)', () => {
    const iv = [98, 300, 98, 300, 98, 300, 98, 300, 98, 300];
    const sorted = [...iv].sort((a, b) => a - b);
    expect(quartiles(sorted)).toEqual({ q1: 98, q2: 199, q3: 300 });
    expect(bowley(sorted).skew).toBe(0);
    expect(intervalScore(iv)).toBe(0.746);
  });
  it('timestamps are turned into sorted non-zero deltas first', () => {
    // duplicates (0 deltas) are dropped; 60 s cadence otherwise
    expect(timestampScore([0, 60, 60, 120, 180, 240])).toBe(1);
    expect(timestampScore([0, 60, 60])).toBeNull(); // < 4 timestamps
    expect(timestampScore([0, 0, 60, 60, 120])).toBeNull(); // only 2 non-zero deltas
  });
});

describe('hand-derived DS vectors', () => {
  it('constant sizes → 1', () => expect(dataSizeScore([500, 500, 500, 500])).toBe(1));
  it('[100,200,300]: Q=(100,200,300), skew 0, MAD 100 → (1 + 0.5)/2 = 0.75', () => {
    expect(dataSizeScore([300, 100, 200])).toBe(0.75);
  });
  it('[10,20,100,200,210]: Q=(15,100,205), skew 20/190, MAD 90 → 0.497', () => {
    expect(dataSizeScore([10, 20, 100, 200, 210])).toBe(0.497);
  });
  it('median below 1 takes defaultMad 0 (DS) but 1 (TS)', () => {
    expect(dataSizeScore([0, 0, 0, 0])).toBe(0.5);
    expect(intervalScore([0.5, 0.5, 0.5])).toBe(1);
  });
  it('fewer than 3 sizes → null', () => expect(dataSizeScore([1, 2])).toBeNull());
  it('skew needs IQR ≥ 10', () => {
    // Q=(1, 2, 9): IQR 8 → skew 0
    expect(bowley([1, 1, 2, 9, 9]).skew).toBe(0);
  });
});

describe('hand-derived histogram and duration vectors', () => {
  const hourly = Array.from({ length: 24 }, (_, i) => i * 3600);
  it('one connection per hour: flat histogram, CV 0, full run', () => {
    const h = histogram(0, 86_400, hourly);
    expect(h.counts).toEqual(new Array(24).fill(1));
    expect(h.totalBars).toBe(24);
    expect(h.longestRun).toBe(24);
    expect(cvScore(h.counts)).toBe(1);
    // coverage ceil3(82800/86400) = 0.959, consistency min(1, 24/12) = 1
    expect(durationScore(0, 86_400, 0, 82_800, h.totalBars, h.longestRun)).toBe(1);
  });
  it('bars of 2 and 4 alternating: CV 1/3 → 0.667, bimodal fit (12+12)/23 capped → 1', () => {
    const counts = Array.from({ length: 24 }, (_, i) => (i % 2 ? 4 : 2));
    expect(cvScore(counts)).toBe(0.667);
    const ts: number[] = [];
    counts.forEach((c, i) => { for (let k = 0; k < c; k++) ts.push(i * 3600 + k * 60); });
    const h = histogram(0, 86_400, ts);
    expect(h.counts).toEqual(counts);
    expect(h.freq.get(2)).toBe(12);
    expect(h.freq.get(4)).toBe(12);
    expect(bimodalFit(h.freq, h.totalBars)).toBe(1);
    expect(histogramScore(h)).toBe(1);
  });
  it('six busy hours then silence: CV √3 > 1 → 0, too few bars for bimodal → hist 0; duration 6/12 = 0.5', () => {
    const ts = Array.from({ length: 6 }, (_, i) => i * 3600);
    const h = histogram(0, 86_400, ts);
    expect(cvScore(h.counts)).toBe(0);
    expect(bimodalFit(h.freq, h.totalBars)).toBe(0);
    expect(histogramScore(h)).toBe(0);
    // coverage ceil3(18000/86400 = 0.20833) = 0.209 < consistency 0.5
    expect(durationScore(0, 86_400, 0, 18_000, h.totalBars, h.longestRun)).toBe(0.5);
    // five bars: below duration_min_hours_seen → 0
    expect(durationScore(0, 86_400, 0, 14_400, 5, 5)).toBe(0);
  });
  it('the run wraps from the last hour to the first', () => {
    const ts = [20, 21, 22, 23, 0, 1, 2, 3].map((h) => h * 3600 + 10);
    const h = histogram(0, 86_400, ts);
    expect(h.totalBars).toBe(8);
    expect(h.longestRun).toBe(8);
    // coverage ceil3(3600/86400 = 0.041667) = 0.042, consistency ceil3(8/12) = 0.667
    expect(durationScore(0, 86_400, 0, 3600, 8, 8)).toBe(0.667);
  });
  it('a timestamp on the last edge counts in the last bin', () => {
    expect(histogram(0, 86_400, [86_400]).counts[23]).toBe(1);
  });
});

describe('full score and gating', () => {
  it('a perfect hourly beacon with constant sizes over 24 h scores 1', () => {
    const ts = Array.from({ length: 24 }, (_, i) => i * 3600);
    const b = scoreBeacon({ ts, bytes: ts.map(() => 620), windowMin: 0, windowMax: 86_400 })!;
    expect(b).toMatchObject({ score: 1, tsScore: 1, dsScore: 1, histScore: 1, durScore: 1, basis: 'connections', connections: 24, medianIntervalS: 3600 });
  });
  it('a short burst of 5 s check-ins in a 24 h window scores TS+DS only', () => {
    const ts = Array.from({ length: 10 }, (_, i) => 80_000 + i * 5);
    const b = scoreBeacon({ ts, bytes: ts.map(() => 400), windowMin: 0, windowMax: 86_400 })!;
    expect(b.tsScore).toBe(1);
    expect(b.dsScore).toBe(1);
    expect(b.durScore).toBe(0);
    expect(b.histScore).toBe(0);
    expect(b.score).toBe(0.5);
  });
  it('needs 4 unique timestamps', () => {
    expect(scoreBeacon({ ts: [1, 2, 3, 3, 3], bytes: [1, 1, 1, 1, 1], windowMin: 0, windowMax: 10 })).toBeNull();
  });
  it('bucketed severity follows RITA thresholds', () => {
    expect(bucketedSeverity(0.49)).toBe(0);
    expect(bucketedSeverity(0.6)).toBeCloseTo(0.3);
    expect(bucketedSeverity(0.8)).toBeCloseTo(0.5);
    expect(bucketedSeverity(1)).toBeCloseTo(0.8);
  });
});

describe('BeaconTracker', () => {
  it('scores per (host, destination, port) from the 4th connection', () => {
    const t = new BeaconTracker();
    const out = [];
    for (let i = 0; i < 6; i++) {
      out.push(t.observe(makeFlow({ startTs: 1_700_000_000_000 + i * 30_000, client: { ip: '10.1.0.5', port: 50_000 + i }, sni: 'c2.example' })));
    }
    expect(out.slice(0, 3)).toEqual([null, null, null]);
    expect(out[5]!.basis).toBe('connections');
    expect(out[5]!.connections).toBe(6);
    expect(out[5]!.tsScore).toBe(1);
    expect(out[5]!.medianIntervalS).toBe(30);
    // another destination port is another pair
    expect(t.observe(makeFlow({ startTs: 1_700_000_200_000, client: { ip: '10.1.0.5', port: 1 }, sni: 'c2.example', server: { ip: '198.51.100.7', port: 8443 } }))).toBeNull();
    expect(t.size).toBe(2);
  });
  it('is bounded: LRU pairs and capped timestamps per pair', () => {
    const t = new BeaconTracker({ maxPairsCount: 3, maxTsPerPairCount: 5 });
    for (let h = 0; h < 5; h++) t.observe(makeFlow({ host: null, client: { ip: `10.0.0.${h}`, port: 1000 } }));
    expect(t.size).toBe(3);
    expect(t.evictedPairs).toBe(2);
    let last = null;
    for (let i = 0; i < 50; i++) last = t.observe(makeFlow({ startTs: T0 + i * 10_000, client: { ip: '10.9.9.9', port: 2000 + i } }));
    expect(last!.connections).toBe(5);
  });
});

describe('scoreSortedBeacon (the tracker fast path)', () => {
  it('agrees with scoreBeacon on random pairs', () => {
    let x = 7;
    const rnd = (m: number): number => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return (x >>> 8) % m; };
    for (let trial = 0; trial < 200; trial++) {
      const n = 4 + rnd(60);
      const ts = Array.from({ length: n }, () => 1_000_000 + rnd(trial % 2 ? 86_400 : 900));
      const bytes = ts.map(() => 300 + rnd(trial % 3 ? 5 : 4000));
      const winMax = Math.max(...ts);
      const winMin = Math.min(...ts);
      const slow = scoreBeacon({ ts, bytes, windowMin: winMin, windowMax: winMax });
      const fast = scoreSortedBeacon([...ts].sort((a, b) => a - b), [...bytes].sort((a, b) => a - b), winMin, winMax);
      expect(fast).toEqual(slow);
    }
  });
});

describe('BeaconTracker window', () => {
  it('drops connections older than 24 h before the latest', () => {
    const t = new BeaconTracker();
    const f = (ms: number, i: number) => makeFlow({ startTs: T0 + ms, client: { ip: '10.1.0.5', port: 3000 + i } });
    for (let i = 0; i < 5; i++) t.observe(f(i * 60_000, i));
    const day = 25 * 3600_000;
    expect(t.observe(f(day, 10))).toBeNull();
    expect(t.observe(f(day + 60_000, 11))).toBeNull();
    t.observe(f(day + 120_000, 12));
    expect(t.observe(f(day + 180_000, 13))!.connections).toBe(4);
  });
});

describe('BeaconTracker LRU', () => {
  it('evicts the least recently used pair, not one used recently', () => {
    const t = new BeaconTracker({ maxPairsCount: 4 });
    const f = (ip: string, i: number) => makeFlow({ host: null, startTs: T0 + i * 60_000, client: { ip, port: 1000 + i } });
    ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].forEach((ip, i) => t.observe(f(ip, i)));
    t.observe(f('10.0.0.1', 5)); // A used again
    t.observe(f('10.0.0.5', 6)); // E evicts B
    expect(t.evictedPairs).toBe(1);
    t.observe(f('10.0.0.1', 7));
    const a = t.observe(f('10.0.0.1', 8))!; // A kept its history: 4 connections now
    expect(a.connections).toBe(4);
    expect(t.observe(f('10.0.0.2', 9))).toBeNull(); // B starts over
  });
});

describe('scoreRecords (cadence inside one flow)', () => {
  it('steady keep-alive records score TS 1 with basis records', () => {
    const ts = Array.from({ length: 8 }, (_, i) => 1_700_000_000_000 + i * 15_000);
    const b = scoreRecords({ ts, sizes: ts.map(() => 2) })!;
    expect(b).toMatchObject({ basis: 'records', score: 1, tsScore: 1, medianIntervalS: 15, connections: 1 });
  });
  it('a burst of records (handshake follow-ups, a check-in and its reply) counts once', () => {
    const base = 1_700_000_000_000;
    const ts = [0, 250, 280, 30_000, 60_000, 60_400, 90_000, 120_000, 131_500].map((x) => base + x);
    const b = scoreRecords({ ts, sizes: [] })!;
    // check-ins at 0, 30, 60, 90, 120, 131.5 s: deltas 30,30,30,30,11.5 → MAD 0, IQR < 10 → 1
    expect(b.score).toBe(1);
    expect(b.medianIntervalS).toBe(30);
    // without burst collapsing the same records score lower
    expect(scoreRecords({ ts, sizes: [] }, 0)!.score).toBeLessThan(0.8);
  });
  it('irregular records score lower; fewer than 4 → null', () => {
    const ts = [0, 1000, 30_000, 31_000, 90_000, 200_000].map((x) => 1_700_000_000_000 + x);
    expect(scoreRecords({ ts, sizes: [] })!.score).toBeLessThan(0.6);
    expect(scoreRecords({ ts: [1, 2, 3], sizes: [] })).toBeNull();
  });
});
