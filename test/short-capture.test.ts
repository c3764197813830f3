// A short replay (src/runtime/jit.ts) runs in one thread unless shards are asked for, and holds V8's
// young generation at its starting size: which inputs count as short, the default number of
// workers, and that the built CLI keeps the young generation small on a small scan of many
// surviving flows while the same packets from stdin (never held) let it grow. The young
// generation's size is read in the replaying process by a preload script at its exit.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { generateFlood } from '../lab/gen-floods.js';
import { defaultReplayWorkers, isShortCapture, replayWorkers, SHORT_CAPTURE_BYTES } from '../src/runtime/jit.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ndr-young-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('which replays are short', () => {
  const small = join(dir, 'small.pcap');
  copyFileSync(join(root, 'pcaps/demo/demo.pcap'), small);

  it('regular uncompressed files up to the bound together', () => {
    expect(isShortCapture([small])).toBe(true);
    // Each file alone is under the bound, both together one byte over it.
    const rest = join(dir, 'rest.pcap');
    writeFileSync(rest, Buffer.alloc(SHORT_CAPTURE_BYTES - readFileSync(small).length + 1));
    expect(isShortCapture([rest])).toBe(true);
    expect(isShortCapture([small, rest])).toBe(false);
    writeFileSync(rest, Buffer.alloc(SHORT_CAPTURE_BYTES - readFileSync(small).length));
    expect(isShortCapture([small, rest])).toBe(true);
    rmSync(rest);
  });

  it('never stdin, a gzip-compressed file, a directory or a file that cannot be opened', () => {
    expect(isShortCapture(['-'])).toBe(false);
    expect(isShortCapture([small, '-'])).toBe(false);
    const gz = join(dir, 'small.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(small)));
    expect(isShortCapture([gz])).toBe(false);
    expect(isShortCapture([dir])).toBe(false);
    expect(isShortCapture([join(dir, 'missing.pcap')])).toBe(false);
  });
});

describe('workers for a replay not told how many', () => {
  it('one for a short capture whatever the cores; cores - 1 otherwise', () => {
    for (const cores of [1, 2, 4, 8]) {
      expect(defaultReplayWorkers(true, cores)).toBe(1);
      expect(defaultReplayWorkers(false, cores)).toBe(replayWorkers(cores));
    }
    expect(defaultReplayWorkers(false, 4)).toBe(3);
  });
});

describe('the built CLI on a small scan', () => {
  const scan = join(dir, 'vertical-scan.pcap');
  const preload = join(dir, 'young.cjs');
  generateFlood('vertical-scan', scan, { scale: 0.5 });
  // The size is read when the replay lets the young generation grow again (its last flag, set as
  // the replay ends), else at exit: a scavenge in between, while the summary is written, may
  // already grow it under the default factor.
  writeFileSync(
    preload,
    [
      "const v8 = require('node:v8');",
      "const young = () => v8.getHeapSpaceStatistics().find((x) => x.space_name === 'new_space').space_size;",
      'let atRelease = null;',
      'const set = v8.setFlagsFromString;',
      "v8.setFlagsFromString = (f) => { if (f === '--semi-space-growth-factor=2' && atRelease === null) atRelease = young(); return set(f); };",
      "process.on('exit', () => { process.stderr.write(`young-generation ${atRelease ?? young()}\\n`); });",
      '',
    ].join('\n'),
  );

  /** The young generation's size at exit, and the output, of a replay of `input` (a file or '-'). */
  function replay(input: string): { young: number; out: string } {
    const out = join(dir, `out-${Math.random().toString(36).slice(2)}.jsonl`);
    const r = spawnSync(process.execPath, ['-r', preload, join(root, 'dist/ndr-sensor.mjs'), 'replay', input, '-o', out, '-q', '--no-summary', '--sensor-id', 's1', '-w', '1'], {
      encoding: 'utf8',
      ...(input === '-' ? { input: readFileSync(scan) } : {}),
    });
    expect(r.status, r.stderr).toBe(0);
    const m = /young-generation (\d+)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    return { young: Number(m![1]), out: readFileSync(out, 'utf8') };
  }

  it('the file replay keeps the young generation at 4 MiB; from stdin it grows; same flows', () => {
    const held = replay(scan);
    const grown = replay('-');
    expect(held.young).toBeLessThanOrEqual(4 << 20);
    expect(grown.young).toBeGreaterThan(4 << 20);
    // The input's name is in no record: the two outputs are the same bytes.
    expect(held.out.split('\n').length).toBeGreaterThan(5000);
    expect(held.out).toBe(grown.out);
  });
});
