// Golden files: every capture under pcaps/ with a `<name>.expected.jsonl` beside it is replayed
// and its ECS JSON lines (flows and alerts, sorted) must equal the file. A `<name>.sysmon.jsonl`
// (or `sysmon.jsonl` in the folder) beside it is given to the embedded EDR, and JA4+ is on for
// captures whose folder has a `ja4plus` marker file.
// A `<name>.full.expected.jsonl` beside a capture holds its `--output-detail full` lines as well.
// Regenerate after an intended change: `UPDATE_GOLDEN=1 npx vitest run test/pcap-golden.test.ts`.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EcsSerializer, type OutputDetail } from '../src/output/ecs.js';
import { captures, expectedPath, replayCapture } from './helpers/golden.js';

const cases = [...captures()].filter((p) => existsSync(expectedPath(p)) || process.env.UPDATE_GOLDEN === '1');

/**
 * The lines the JSON-lines output writes for the capture (one stream: certificate documents
 * included, each before the first flow that names it), sorted. `full`: today's one-line documents.
 */
export async function goldenLines(capture: string, detail: OutputDetail = 'lean'): Promise<string[]> {
  const { flows, alerts } = await replayCapture(capture);
  const lines: string[] = [];
  const ser = new EcsSerializer({ detail, onRef: (json) => lines.push(json) });
  for (const f of flows) lines.push(ser.flow(f));
  for (const a of alerts) lines.push(ser.alert(a));
  return lines.sort();
}

/** Captures whose full-detail documents are held to a golden file of their own too. */
const fullCases = cases.filter((p) => existsSync(expectedPath(p, 'full.expected')));

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
  for (const cap of fullCases) {
    it(`${basename(dirname(cap))}/${basename(cap)} (--output-detail full)`, async () => {
      const lines = await goldenLines(cap, 'full');
      if (process.env.UPDATE_GOLDEN === '1') {
        writeFileSync(expectedPath(cap, 'full.expected'), lines.join('\n') + '\n');
        return;
      }
      const expected = readFileSync(expectedPath(cap, 'full.expected'), 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines).toEqual(expected);
    });
  }
});
