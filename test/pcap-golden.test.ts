// Golden files: every capture under pcaps/ with a `<name>.expected.jsonl` beside it is replayed
// and its ECS JSON lines (flows and alerts, sorted) must equal the file. A `<name>.sysmon.jsonl`
// (or `sysmon.jsonl` in the folder) beside it is given to the embedded EDR, and JA4+ is on for
// captures whose folder has a `ja4plus` marker file.
// Regenerate after an intended change: `UPDATE_GOLDEN=1 npx vitest run test/pcap-golden.test.ts`.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { alertToEcs, flowToEcs } from '../src/output/ecs.js';

const root = join(dirname(new URL(import.meta.url).pathname), '..', 'pcaps');

function* captures(dir: string): Generator<string> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) { if (e !== 'bench') yield* captures(p); }
    else if (/\.(pcap|pcapng|cap)$/.test(e)) yield p;
  }
}

const cases = [...captures(root)].filter((p) => existsSync(p.replace(/\.(pcap|pcapng|cap)$/, '.expected.jsonl')) || process.env.UPDATE_GOLDEN === '1');

export async function goldenLines(capture: string): Promise<string[]> {
  const stem = capture.replace(/\.(pcap|pcapng|cap)$/, '');
  const sysmon = [`${stem}.sysmon.jsonl`, join(dirname(capture), 'sysmon.jsonl')].filter(existsSync);
  const ja4Plus = existsSync(join(dirname(capture), 'ja4plus'));
  const cfgFile = join(dirname(capture), 'analytics-config.json');
  const analyticsConfig = existsSync(cfgFile) ? (JSON.parse(readFileSync(cfgFile, 'utf8')) as { analytics: unknown }).analytics : undefined;
  const { flows, alerts } = await replayFiles([capture], { ja4Plus, ...(analyticsConfig !== undefined ? { analyticsConfig } : {}), ...(sysmon.length > 0 ? { sysmon: [sysmon[0] as string] } : {}) });
  return [...flows.map((f) => JSON.stringify(flowToEcs(f))), ...alerts.map((a) => JSON.stringify(alertToEcs(a)))].sort();
}

describe('pcap golden files', () => {
  it('has golden cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });
  for (const cap of cases) {
    it(`${basename(dirname(cap))}/${basename(cap)}`, async () => {
      const expectedPath = cap.replace(/\.(pcap|pcapng|cap)$/, '.expected.jsonl');
      const lines = await goldenLines(cap);
      if (process.env.UPDATE_GOLDEN === '1') {
        writeFileSync(expectedPath, lines.join('\n') + '\n');
        return;
      }
      const expected = readFileSync(expectedPath, 'utf8').split('\n').filter((l) => l.length > 0);
      expect(lines.length).toBe(expected.length);
      expect(lines).toEqual(expected);
    });
  }
});
