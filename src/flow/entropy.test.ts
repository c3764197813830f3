import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Dir } from '../contract/api.js';
import { EntropyAccumulator, entropyOf, millerMadow, randomExpected, shannonBits } from './entropy.js';

describe('entropy', () => {
  it('shannonBits from the table filled on demand equals the direct sum, in any order of sizes', () => {
    const direct = (hist: Uint32Array, n: number): number => {
      let sum = 0;
      for (const c of hist) if (c > 1) sum += c * Math.log2(c);
      return Math.max(0, Math.log2(n) - sum / n);
    };
    // Small, then past the table, then between: each needs entries the one before did not fill.
    for (const n of [3, 40, 1024, 9000, 600, 8192, 8193, 5000]) {
      const hist = new Uint32Array(256);
      for (let i = 0; i < n; i++) hist[(i * 37 + (i >> 3)) % 17]! += 1;
      expect(shannonBits(hist, n)).toBeCloseTo(direct(hist, n), 10);
    }
  });

  it('randomExpected matches the mean plug-in entropy of crypto.randomBytes (exact, all sizes)', () => {
    for (const [n, trials] of [[16, 3000], [64, 1500], [256, 800], [1024, 300], [4096, 100]] as const) {
      let sum = 0;
      let sq = 0;
      for (let t = 0; t < trials; t++) {
        const h = entropyOf(randomBytes(n)).bits;
        sum += h;
        sq += h * h;
      }
      const mean = sum / trials;
      const sd = Math.sqrt(sq / trials - mean * mean);
      const se = sd / Math.sqrt(trials);
      // within 5 standard errors of the sample mean (false failure odds < 1e-6)
      expect(Math.abs(mean - randomExpected(n)), `n=${n}`).toBeLessThan(5 * se + 1e-9);
    }
  });

  it('exact expectation: small-n limits and agreement with Miller–Madow for large n', () => {
    expect(randomExpected(0)).toBe(0);
    expect(randomExpected(1)).toBe(0);
    // two bytes: equal with p = 1/256 (H = 0), else H = 1
    expect(randomExpected(2)).toBeCloseTo(255 / 256, 12);
    expect(randomExpected(256)).toBeCloseTo(7.175, 2);
    // Miller–Madow is useless for short samples (negative at n=16) but converges for large n
    expect(millerMadow(16)).toBeLessThan(0);
    expect(Math.abs(randomExpected(4096) - millerMadow(4096))).toBeLessThan(0.001);
    expect(Math.abs(randomExpected(65536) - millerMadow(65536))).toBeLessThan(1e-5);
    expect(randomExpected(1 << 20)).toBeLessThan(8);
  });

  it('justifies the 0.97 score threshold: random ≥ 0.97 at n ≥ 256, text/base64/hex far below', () => {
    // Measured: at n=256 the score of random bytes has mean 1.000, sd ≈ 0.0074, so 0.97 is ≈ 4 sd
    // below the mean; at n=4096, sd ≈ 0.0005 (≈ 60 sd).
    let below = 0;
    for (let t = 0; t < 2000; t++) if (entropyOf(randomBytes(256)).score < 0.97) below++;
    expect(below).toBeLessThanOrEqual(2); // expected ≈ 0.06 of 2000
    const text = Buffer.from('GET /index.html HTTP/1.1 Host: www.example.com User-Agent: Mozilla/5.0 Accept: text/html '.repeat(60));
    expect(entropyOf(text.subarray(0, 4096)).score).toBeLessThan(0.7);
    expect(entropyOf(Buffer.from(randomBytes(3072).toString('base64'))).score).toBeLessThan(0.8);
    expect(entropyOf(Buffer.from(randomBytes(2048).toString('hex'))).score).toBeLessThan(0.55);
  });

  it('accumulator: window after payload start, capped, idempotent on re-feed, no double counting', () => {
    const acc = new EntropyAccumulator(100);
    const data = randomBytes(300);
    acc.add(Dir.ToServer, data.subarray(0, 50), 0); // handshake bytes, counted provisionally
    acc.setPayloadStart(Dir.ToServer, 40); // handshake ended at 40: restart there
    acc.add(Dir.ToServer, data.subarray(40, 120), 40);
    acc.add(Dir.ToServer, data.subarray(40, 160), 40); // same view re-fed with more bytes
    acc.add(Dir.ToServer, data.subarray(160, 300), 160);
    expect(acc.n[0]).toBe(100);
    expect(acc.full(Dir.ToServer)).toBe(true);
    const ref = new Uint32Array(256);
    for (const b of data.subarray(40, 140)) ref[b] = (ref[b] as number) + 1;
    expect(Array.from(acc.hist[0])).toEqual(Array.from(ref));
    expect(acc.info(Dir.ToServer)?.bits).toBeCloseTo(shannonBits(ref, 100), 12);
    expect(acc.info(Dir.ToClient)).toBeNull();
    expect(acc.n[1]).toBe(0);
    // announcing the same start again keeps the sample
    acc.setPayloadStart(Dir.ToServer, 40);
    expect(acc.n[0]).toBe(100);
  });
});
