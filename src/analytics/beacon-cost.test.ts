import { describe, expect, it } from 'vitest';
import { BeaconTracker, sortPrefix } from './beacon.js';
import { T0, makeFlow } from '../../test/helpers/flows.js';

/** A small deterministic PRNG, so a failure names its case. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return x / 2 ** 32; };
}

const shapes: Record<string, (i: number, n: number, r: () => number) => number> = {
  random: (_i, _n, r) => Math.floor(r() * 1_000_000),
  'few distinct': (_i, _n, r) => 1500 + Math.floor(r() * 3),
  equal: () => 1234,
  ascending: (i) => i,
  descending: (i, n) => n - i,
  'organ pipe': (i, n) => (i < n / 2 ? i : n - i),
  sawtooth: (i) => i % 17,
  fractions: (_i, _n, r) => r() * 100 - 50,
};

describe('sortPrefix (the beacon scorer\'s sort)', () => {
  for (const [name, gen] of Object.entries(shapes)) {
    it(`orders ${name} values as TypedArray#sort does, and leaves the rest of the buffer alone`, () => {
      const r = lcg(name.length * 7919);
      for (const n of [0, 1, 2, 3, 15, 16, 17, 33, 100, 1024, 2500]) {
        const a = new Float64Array(n + 5).fill(-7);
        for (let i = 0; i < n; i++) a[i] = gen(i, n, r);
        const want = a.slice(0, n).sort();
        sortPrefix(a, n);
        expect(Array.from(a.subarray(0, n)), `${name}, n=${n}`).toEqual(Array.from(want));
        expect(Array.from(a.subarray(n)), `${name}, n=${n}: past the prefix`).toEqual([-7, -7, -7, -7, -7]);
      }
    });
  }

});

describe('BeaconTracker on a burst pair (connections inside the same few seconds)', () => {
  it('keeps the below-the-gates answer like a score: null through the burst, a score within n/16 flows once it passes the gates', () => {
    const t = new BeaconTracker();
    const flow = (ms: number, i: number) => makeFlow({ startTs: T0 + ms, client: { ip: '10.1.0.5', port: 1024 + (i % 60_000) }, sni: 'burst.example' });
    // 300 connections inside one second: no non-zero interval, so RITA's gates hold the score back.
    for (let i = 0; i < 300; i++) expect(t.observe(flow(i, i)), `burst flow ${i}`).toBeNull();
    // Then one a minute: exact scoring would answer from the third; the kept null may last n/16 more.
    let firstScored = -1;
    for (let k = 1; k <= 40; k++) {
      const b = t.observe(flow(k * 60_000, 300 + k));
      if (b !== null && firstScored < 0) {
        firstScored = k;
        expect(b.connections).toBe(300 + k);
      }
    }
    expect(firstScored).toBeGreaterThanOrEqual(3);
    expect(firstScored).toBeLessThanOrEqual(3 + ((300 + 3) >> 4) + 1);
  });
});
