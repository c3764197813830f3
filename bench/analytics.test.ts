import { describe, expect, it } from 'vitest';
import { benchAnalytics } from './analytics.js';

describe('benchAnalytics', () => {
  it('runs all five analytics over a warm on-disk baseline and reports a rate', async () => {
    const r = await benchAnalytics(20_000);
    expect(r.flows).toBe(20_000);
    expect(r.baselineWarm).toBe(true);
    expect(r.alerts).toBeGreaterThan(0);
    expect(r.flowsPerSecond).toBeGreaterThan(1000);
  });
});
