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
