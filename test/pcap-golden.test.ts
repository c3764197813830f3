// Golden files: every capture under pcaps/ with a `<name>.expected.jsonl` beside it is replayed
// and its ECS JSON lines (flows and alerts, sorted) must equal the file. A `<name>.sysmon.jsonl`
// (or `sysmon.jsonl` in the folder) beside it is given to the embedded EDR, and JA4+ is on for
// captures whose folder has a `ja4plus` marker file.
// Regenerate after an intended change: `UPDATE_GOLDEN=1 npx vitest run test/pcap-golden.test.ts`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertToEcs, flowToEcs } from '../src/output/ecs.js';
import { captures, expectedPath, replayCapture } from './helpers/golden.js';

const cases = [...captures()].filter((p) => existsSync(expectedPath(p)) || process.env.UPDATE_GOLDEN === '1');

export async function goldenLines(capture: string): Promise<string[]> {
  const { flows, alerts } = await replayCapture(capture);
  return [...flows.map((f) => JSON.stringify(flowToEcs(f))), ...alerts.map((a) => JSON.stringify(alertToEcs(a)))].sort();
}

describe('pcap golden files', () => {
  it('has golden cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  for (const cap of cases) {
    it(`${basename(dirname(cap))}/${basename(cap)}`, async () => {
      const lines = await goldenLines(cap);
      if (process.env.UPDATE_GOLDEN === '1') {
        writeFileSync(expectedPath(cap), lines.join('\n') + '\n');
        return;
      }
      const expected = readFileSync(expectedPath(cap), 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines.length).toBe(expected.length);
      expect(lines).toEqual(expected);
    });
  }
});
