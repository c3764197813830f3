import { describe, expect, it } from 'vitest';
import { BeaconTracker, scoreSortedBeacon } from './beacon.js';
import { scoreBeacon } from '../../test/helpers/beacon-reference.js';
import { T0, makeFlow } from '../../test/helpers/flows.js';

describe('scoreSortedBeacon against scoreBeacon, wider inputs', () => {
  it('agrees on long pairs, hourly cadences filling every bin, duplicates and gaps', () => {
    let x = 11;
    const rnd = (m: number): number => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return (x >>> 8) % m; };
    for (let trial = 0; trial < 300; trial++) {
      const n = 4 + rnd(trial % 4 === 0 ? 400 : 40);
      const kind = trial % 5;
      const ts = Array.from({ length: n }, (_, i) => {
        if (kind === 0) return 2_000_000 + i * 3600 + rnd(30); // hourly: all 24 bins
        if (kind === 1) return 2_000_000 + (i % 7) * 60; // many duplicates
        if (kind === 2) return 2_000_000 + (rnd(3) === 0 ? 40_000 : 0) + rnd(600); // two clusters, empty bins between
        return 2_000_000 + rnd(86_400);
      });
      const bytes = ts.map(() => (kind === 1 ? 500 : 200 + rnd(kind === 3 ? 5000 : 20)));
      const winMax = Math.max(...ts);
      const winMin = Math.min(...ts);
      const slow = scoreBeacon({ ts, bytes, windowMin: winMin, windowMax: winMax });
      const fast = scoreSortedBeacon([...ts].sort((a, b) => a - b), [...bytes].sort((a, b) => a - b), winMin, winMax);
      expect(fast).toEqual(slow);
    }
  });

  it('agrees when connections sit exactly on bin edges and deviations tie either side of the median', () => {
    let x = 29;
    const rnd = (m: number): number => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return (x >>> 8) % m; };
    for (let trial = 0; trial < 400; trial++) {
      const n = 4 + rnd(trial % 3 === 0 ? 300 : 30);
      const winMin = 1_000_000 + rnd(1000);
      const span = [24, 240, 86_400, 1_000, 7][trial % 5]!;
      const winMax = winMin + span;
      const step = span / 24;
      // starts on the bin edges winMin + i·step (as the scorer computes them), between them, and at both window ends
      const ts = Array.from({ length: n }, () => {
        const k = rnd(4);
        if (k === 0) return winMin + rnd(25) * step;
        if (k === 1) return winMin;
        if (k === 2) return winMax;
        return winMin + rnd(span + 1);
      });
      // sizes symmetric about a middle value, so deviations on both sides of the median tie
      const mid = 500 + rnd(50);
      const bytes = ts.map(() => { const d = rnd(trial % 2 === 0 ? 4 : 40); return rnd(2) === 0 ? mid - d : mid + d; });
      const slow = scoreBeacon({ ts, bytes, windowMin: winMin, windowMax: winMax });
      const fast = scoreSortedBeacon([...ts].sort((a, b) => a - b), [...bytes].sort((a, b) => a - b), winMin, winMax);
      expect(fast).toEqual(slow);
    }
  });

  it('the tracker keeps other ports of the same host and destination apart and evicts cleanly', () => {
    const t = new BeaconTracker({ maxPairsCount: 6 });
    for (let i = 0; i < 12; i++) {
      for (const port of [443, 8443, 8883]) t.observe(makeFlow({ startTs: T0 + i * 60_000, sni: 'c2.example', server: { ip: '198.51.100.9', port } }));
    }
    const a = t.observe(makeFlow({ startTs: T0 + 12 * 60_000, sni: 'C2.EXAMPLE', server: { ip: '198.51.100.9', port: 8443 } }))!;
    expect(a.connections).toBe(13);
    for (let h = 0; h < 20; h++) t.observe(makeFlow({ host: `WS${h}.corp.example`, startTs: T0 + 13 * 60_000 + h, sni: 'c2.example' }));
    expect(t.size).toBe(6);
    // evicted pairs start over, their index entries gone with them
    expect(t.observe(makeFlow({ startTs: T0 + 14 * 60_000, sni: 'c2.example', server: { ip: '198.51.100.9', port: 8883 } }))).toBeNull();
  });
});

describe('the tracker\'s sorted intervals and sizes, kept connection by connection', () => {
  it('score every flow as scoreSortedBeacon does on the pair\'s live connections: late, duplicate, leaving the window, past the cap', () => {
    let x = 47;
    const rnd = (m: number): number => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return (x >>> 8) % m; };
    for (const [maxTs, windowS] of [[40, 86_400], [12, 86_400], [64, 3_000], [7, 900]] as const) {
      const t = new BeaconTracker({ maxTsPerPairCount: maxTs, windowS });
      // The model: the pair's live connections in start order (a late one after its equals), the
      // window's leavers dropped from the front, then the oldest past the cap.
      const live: { t: number; b: number }[] = [];
      let first = Infinity;
      let last = -Infinity;
      let now = 2_000_000;
      let scored = 0;
      for (let k = 0; k < 1500; k++) {
        const shape = rnd(10);
        now += shape === 0 ? 0 : shape === 1 ? rnd(4000) : 20 + rnd(40);
        // a late connection now and then (flows end out of start order), sometimes far behind
        const tS = shape === 2 ? now - rnd(200) : shape === 3 ? now - rnd(5000) : now;
        const bytes = [100, 100, 1000 + rnd(3), 40 + rnd(5000)][rnd(4)]!;
        const got = t.observe(makeFlow({ startTs: tS * 1000 + rnd(1000), sni: 'c2.example', bytes: [bytes, 10], server: { ip: '198.51.100.7', port: 443 } }));
        first = Math.min(first, tS);
        last = Math.max(last, tS);
        const ipBytes = bytes + 52 * makeFlow({ bytes: [bytes, 10] }).dirs[0].packets;
        let at = live.length;
        while (at > 0 && live[at - 1]!.t > tS) at--;
        live.splice(at, 0, { t: tS, b: ipBytes });
        const winMin = Math.max(first, last - windowS);
        while (live.length > 0 && live[0]!.t < winMin) live.shift();
        if (live.length > maxTs) live.splice(0, live.length - maxTs);
        const want = live.length < 4 ? null : scoreSortedBeacon(live.map((c) => c.t), live.map((c) => c.b).sort((a, b) => a - b), winMin, last);
        expect(got, `maxTs ${maxTs}, window ${windowS}, flow ${k}`).toEqual(want);
        if (want !== null) scored++;
      }
      expect(scored).toBeGreaterThan(500);
    }
  });
});

describe('the tracker\'s index when the pair evicted is the new pair\'s own host\'s', () => {
  it('drops the evicted pair from the host\'s entry before the new one joins it', () => {
    const t = new BeaconTracker({ maxPairsCount: 2 });
    const at = (i: number, sni: string, host = 'WS01.corp.example') => makeFlow({ startTs: T0 + i * 60_000, sni, host });
    let last = null;
    for (let i = 0; i < 4; i++) last = t.observe(at(i, 'd1.example'));
    expect(last?.connections).toBe(4);
    t.observe(at(4, 'x.example', 'WS02.corp.example'));
    // the host's new destination evicts its own oldest pair (d1)
    expect(t.observe(at(5, 'd2.example'))).toBeNull();
    expect(t.size).toBe(2);
    // d1 starts over: one connection, below the gates
    expect(t.observe(at(6, 'd1.example'))).toBeNull();
    for (let i = 7; i < 10; i++) last = t.observe(at(i, 'd1.example'));
    expect(last?.connections).toBe(4);
    expect(t.size).toBe(2);
  });
});
