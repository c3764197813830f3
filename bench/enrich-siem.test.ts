import { expect, test } from 'vitest';
import { benchEnrich, benchSiem } from './enrich-siem.js';

// Smoke runs of the benchmark functions at small sizes (the figures come from `npm run bench`).
test('benchEnrich attributes every flow through the gRPC path', async () => {
  const r = await benchEnrich({ events: 20_000, flows: 5_000, hosts: 20 });
  expect(r.detail['attributed']).toBe(5_000);
  expect(r.perSecond).toBeGreaterThan(0);
});

test('benchSiem delivers every record', async () => {
  const r = await benchSiem({ records: 20_000 });
  expect(r.detail['delivered']).toBe(20_000);
  expect(r.detail['dropped']).toBe(0);
});
