// Seeded mutation fuzzing of the decoder and the whole engine with real packets from the shared
// captures as seeds (the full million-case runs are `npm run fuzz`). No throw may escape the
// engine, and no dissector throw may reach the driver's fuse.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fuzzEngine, loadSeeds } from '../../bench/fuzz-engine.js';

const shared = join(new URL('.', import.meta.url).pathname, '..', '..', '..', 'shared');
const pcaps = join(shared, 'conformance', 'ja4', 'pcaps');

describe('engine fuzz (seeded subset)', () => {
  it('60,000 mutated real packets: no throw, no dissector fault, bounded memory', async () => {
    const files = readdirSync(pcaps).filter((f) => !f.includes('notest')).map((f) => join(pcaps, f));
    files.push(join(shared, 'datasets', 'otrf-empire-psremoting', 'workstation6.cap'));
    const seeds = await loadSeeds(files, 400);
    expect(seeds.length).toBeGreaterThan(1000);
    const r = fuzzEngine(seeds, 60_000, 7);
    expect(r.firstError).toBeNull();
    expect(r.thrown).toBe(0);
    expect(r.faults).toBe(0);
    expect(r.heapGrowthMiB).toBeLessThan(256);
  });
});
