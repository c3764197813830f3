import { describe, expect, it } from 'vitest';
import { benchClassify, classifyLines } from './classify.js';

describe('bench classify', () => {
  it('times each case with every registry and prints one line per case', () => {
    const rows = benchClassify(1, 2000);
    expect(rows).toHaveLength(2);
    for (const r of rows) for (const v of [r.every, r.leads, r.everyPlus10, r.leadsPlus10]) expect(v).toBeGreaterThan(0);
    const lines = classifyLines(rows);
    expect(lines[0]).toMatch(/^an HTTP request head .*: every probe \d+ ns, by lead bytes \d+ ns; with 10 more dissectors \d+ ns and \d+ ns$/);
  });
});
