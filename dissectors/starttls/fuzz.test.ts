/**
 * Seeded mutation fuzzing of every dissector of the family (a small count here; `npm run fuzz`
 * runs a million cases per dissector from the captures): no throw, no case slower than the
 * bound, and the same records and events whether the input comes whole or in random pieces.
 */
import { describe, expect, it } from 'vitest';
import { fuzzDissector, type Conversation } from '../../test/helpers/fuzz-dissector.js';
import { starttlsSpecs } from './index.js';
import { CASES, SMTP_TURNS, type Turn } from './fixtures/dialogues.js';

const conv = (turns: readonly Turn[]): Conversation => turns.map(([dir, p]) => ({ dir, bytes: typeof p === 'string' ? new TextEncoder().encode(p) : p }));
// What follows an upgrade is TLS: a ClientHello's first bytes end each accepted seed.
const HELLO = Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03);

describe('STARTTLS family fuzz', () => {
  for (const spec of starttlsSpecs) {
    it(`${spec.name}: 3,000 mutated dialogues, whole and in pieces`, () => {
      const cases = spec.name === 'smtp' ? [{ turns: SMTP_TURNS, refused: undefined }] : CASES.filter((c) => c.name === spec.name);
      const seeds: Conversation[] = [];
      for (const c of cases) {
        seeds.push([...conv(c.turns), { dir: 0, bytes: HELLO }]);
        if (c.refused !== undefined) seeds.push(conv(c.refused));
      }
      expect(seeds.length).toBeGreaterThan(0);
      const r = fuzzDissector(spec, seeds, 3000, 20261207);
      expect(r.throws).toEqual([]);
      expect(r.splitMismatches).toEqual([]);
      expect(r.slow).toEqual([]);
      expect(r.records).toBeGreaterThan(0);
    });
  }
});
