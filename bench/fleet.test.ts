import { describe, expect, it } from 'vitest';
import { benchFleet } from './fleet.js';

describe('benchFleet', () => {
  it('runs the analytics on a real Redis and reports rate, round trips per flow and memory per pair', async () => {
    const r = await benchFleet('redis', 5_000);
    expect(r.flows).toBe(5_000);
    expect(r.flowsPerSecond).toBeGreaterThan(100);
    // Batched: far fewer round trips than flows.
    expect(r.roundTripsPerFlow).toBeLessThan(0.5);
    expect(r.pairs).toBeGreaterThan(100);
    expect(r.bytesPerPair).toBeGreaterThan(100);
    expect(r.alerts).toBeGreaterThan(0);
  });
});
