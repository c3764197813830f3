import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonLinesSink } from './sinks.js';

describe('JsonLinesSink file output', () => {
  it('writes every line whole and in order across chunks, multi-byte text and a line longer than a chunk included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-sink-'));
    try {
      const file = join(dir, 'out.jsonl');
      const sink = new JsonLinesSink(file);
      const want: string[] = [];
      const texts = ['plain', 'café', '名前.example', 'pile of 💩', 'x'.repeat(3000)];
      for (let i = 0; i < 3000; i++) {
        const o = { i, name: texts[i % texts.length], pad: 'y'.repeat(i % 700) };
        sink.record(o);
        want.push(JSON.stringify(o));
        if (i === 1500) {
          // About 2 MiB of UTF-8 in one line: more than one chunk holds.
          const big = { i, big: 'é'.repeat(1 << 20) };
          sink.record(big);
          want.push(JSON.stringify(big));
        }
      }
      await sink.close();
      expect(sink.written).toBe(want.length);
      const got = readFileSync(file, 'utf8');
      expect(got.endsWith('\n')).toBe(true);
      const lines = got.slice(0, -1).split('\n');
      expect(lines.length).toBe(want.length);
      for (let k = 0; k < want.length; k++) expect(lines[k], `line ${k}`).toBe(want[k]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
