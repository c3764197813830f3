import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countOutput, headlineRow, headlineTable, ratios } from './headline.js';

describe('bench headline', () => {
  it('counts alerts apart from the flow documents and the documents they refer to', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-headline-'));
    try {
      const file = join(dir, 'out.jsonl');
      const lines = ['{"event":{"kind":"event"},"a":1}', '{"event":{"kind":"alert"}}', '{"event":{"kind":"event","dataset":"ndr.x509"}}', '{"event":{"kind":"event"}}'];
      writeFileSync(file, lines.join('\n') + '\n');
      const c = countOutput(file);
      expect(c.documents).toBe(4);
      expect(c.alerts).toBe(1);
      expect(c.nonAlertBytes).toBe([lines[0], lines[2], lines[3]].reduce((n, l) => n + l!.length + 1, 0));
      writeFileSync(file, lines[0]!);
      expect(() => countOutput(file)).toThrow(/without a newline/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('times bin/ndr-sensor replay and ndpiReader on the demo capture in alternating rounds', () => {
    const row = headlineRow(process.cwd(), { label: 'demo', file: 'pcaps/demo/demo.pcap', target: 1 }, 2);
    expect(row.sensor).toHaveLength(2);
    expect(row.peer).toHaveLength(2);
    expect(row.packets).toBeGreaterThan(1000);
    expect(row.flows).toBe(15);
    expect(row.bytesPerFlow).toBeGreaterThan(500);
    for (const t of [...row.sensor, ...row.peer]) {
      expect(t.wall).toBeGreaterThan(0);
      expect(t.rssMiB).toBeGreaterThan(1);
    }
    const r = ratios(row, 'wall'); // ndpiReader's CPU on so small a file can read 0.00 s
    expect(r.each).toHaveLength(2);
    expect(r.median).toBeGreaterThan(0);
    const table = headlineTable([row]);
    expect(table[2]).toMatch(/^\| demo, [\d.]+ M packets, 15 flows, wall \|/);
    expect(table.some((l) => l.includes('load average'))).toBe(true);
  });
});
