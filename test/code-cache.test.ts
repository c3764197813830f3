// The CLI's V8 code cache (src/cli/boot.ts, src/util/code-cache.ts): the built CLI starts from it,
// and a cache that is missing, made from another bundle, damaged or refused by V8 is not used while
// the output stays the same. The built loader, bundle and cache are copied to a folder of the test's
// own (with the packages linked beside them) so each case can spoil its copy.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleName, decodeCodeCache, encodeCodeCache } from '../src/util/code-cache.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const demo = join(root, 'pcaps/demo/demo.pcap');
const dir = mkdtempSync(join(tmpdir(), 'ndr-code-cache-'));
const dist = join(dir, 'dist');
const cache = join(dist, 'ndr-sensor-main.cache');
const bundle = join(dist, 'ndr-sensor-main.cjs');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run { state: string | undefined; out: string; stderr: string }

/** A demo replay through the loader in `folder`; the loader's cache state from the bench mark. */
function replay(folder: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Run {
  const out = join(dir, `out-${Math.random().toString(36).slice(2)}.jsonl`);
  const r = spawnSync(process.execPath, [join(folder, 'ndr-sensor.mjs'), 'replay', demo, '-o', out, '-q', '--no-summary', '--sensor-id', 's1', '-w', '1', ...args], {
    encoding: 'utf8',
    env: { ...process.env, NDR_BENCH_MARK: '1', ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return { state: /code-cache (\S+)/.exec(r.stderr)?.[1], out: readFileSync(out, 'utf8'), stderr: r.stderr };
}

const builtCache = (): Buffer => readFileSync(join(root, 'dist/ndr-sensor-main.cache'));
const restore = (): void => copyFileSync(join(root, 'dist/ndr-sensor-main.cache'), cache);

describe('the CLI code cache', () => {
  let reference: Run;
  beforeAll(() => {
    mkdirSync(dist);
    for (const f of readdirSync(join(root, 'dist'))) {
      if (/^(ndr-sensor\.(cjs|mjs)|ndr-sensor-main\.(cjs|cache)|node-roots\.json|worker\.mjs|pcap-helper\.mjs|chunk-.*\.mjs)$/.test(f)) copyFileSync(join(root, 'dist', f), join(dist, f));
    }
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    reference = replay(dist);
  });

  it('the bundle is strict code, named by the digest of its text', () => {
    const text = readFileSync(join(root, 'dist/ndr-sensor-main.cjs'));
    expect(text.toString('latin1', 0, 14)).toBe('"use strict";\n');
    const name = bundleName(text);
    expect(name).toBe(createHash('sha256').update(text.subarray(0, text.length - '//# ndr-bundle \n'.length - 64)).digest('hex'));
  });

  it('the build made one, and the built CLI starts from it', () => {
    expect(existsSync(join(root, 'dist/ndr-sensor-main.cache'))).toBe(true);
    expect(replay(join(root, 'dist')).state).toBe('used');
    expect(reference.state).toBe('used');
    expect(reference.out.split('\n').filter((l) => l.includes('"network"')).length).toBeGreaterThan(10);
  });

  it('without a cache file the CLI compiles from source, same output', () => {
    rmSync(cache);
    try {
      const r = replay(dist);
      expect(r.state).toBe('missing');
      expect(r.out).toBe(reference.out);
    } finally {
      restore();
    }
  });

  it('a cache made for another bundle, or a bundle without its name, is stale: not used, same output', () => {
    const original = readFileSync(bundle);
    const name = bundleName(original);
    expect(name).toMatch(/^[0-9a-f]{64}$/);
    const other = name!.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const renamed = Buffer.from(original.toString('latin1').replace(`//# ndr-bundle ${name!}\n`, `//# ndr-bundle ${other}\n`), 'latin1');
    try {
      for (const b of [renamed, Buffer.concat([original, Buffer.from('// edited\n')])]) {
        writeFileSync(bundle, b);
        const r = replay(dist);
        expect(r.state).toBe('stale');
        expect(r.out).toBe(reference.out);
      }
    } finally {
      writeFileSync(bundle, original);
    }
  });

  it('a damaged cache (a byte flipped inside, cut short, no header) is corrupt: not used, same output', () => {
    const good = builtCache();
    const flipped = Buffer.from(good);
    flipped[good.length >> 1]! ^= 0x55; // inside V8's data: V8 alone would take it in
    for (const bad of [flipped, good.subarray(0, good.length - 1000), good.subarray(200)]) {
      writeFileSync(cache, bad);
      const r = replay(dist);
      expect(r.state).toBe('corrupt');
      expect(r.out).toBe(reference.out);
    }
    restore();
  });

  it('a cache V8 refuses (whole and for this bundle, but not its code) is rejected: same output', () => {
    // Cached data of another script, in a file whose digests are right: only V8 can tell.
    writeFileSync(cache, encodeCodeCache(bundleName(readFileSync(bundle))!, new Script('1 + 1').createCachedData()));
    try {
      const r = replay(dist);
      expect(r.state).toBe('rejected');
      expect(r.out).toBe(reference.out);
    } finally {
      restore();
    }
  });

  it('the warm-up run (as the build starts it) writes a cache the next process takes', () => {
    rmSync(cache);
    const warm = replay(dist, ['--memcap-mib', '0'], { NDR_CODE_CACHE_WRITE: '1' });
    expect(warm.state).toBe('writing');
    expect(warm.out).toBe(reference.out);
    expect(existsSync(cache)).toBe(true);
    const r = replay(dist);
    expect(r.state).toBe('used');
    expect(r.out).toBe(reference.out);
    restore();
  });

  it('without the bundle the loader says what is missing and exits 1', () => {
    const original = readFileSync(bundle);
    rmSync(bundle);
    try {
      const r = spawnSync(process.execPath, [join(dist, 'ndr-sensor.mjs'), 'replay', demo, '-o', join(dir, 'none.jsonl')], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^ndr-sensor: cannot read the CLI bundle .*ndr-sensor-main\.cjs \(ENOENT\): run npm run build\n$/);
    } finally {
      writeFileSync(bundle, original);
    }
  });

  it('the bundle finds its worker: two workers give the same documents as one', () => {
    const two = replay(dist, ['-w', '2']);
    expect(two.stderr).not.toMatch(/error/i);
    const sorted = (s: string): string[] => s.split('\n').filter((l) => l !== '').sort();
    expect(sorted(two.out)).toEqual(sorted(reference.out));
  });
});

describe('the cache file', () => {
  const src = 'a'.repeat(64);
  const data = Buffer.from('V8 data');
  const file = encodeCodeCache(src, data);

  it('gives back the data for its own bundle only', () => {
    expect(decodeCodeCache(src, file)).toEqual({ data, state: 'used' });
    expect(decodeCodeCache('b'.repeat(64), file)).toEqual({ data: null, state: 'stale' });
    expect(decodeCodeCache(null, file)).toEqual({ data: null, state: 'stale' });
  });

  it('a bundle is named by its last line only', () => {
    const line = `//# ndr-bundle ${'c'.repeat(64)}\n`;
    expect(bundleName(Buffer.from(`code\n${line}`))).toBe('c'.repeat(64));
    expect(bundleName(Buffer.from(`code\n${line}// more\n`))).toBeNull();
    expect(bundleName(Buffer.from(line.slice(1)))).toBeNull();
  });

  it('refuses a file whose data or header is damaged', () => {
    const flipped = Buffer.from(file);
    flipped[file.length - 1]! ^= 1;
    expect(decodeCodeCache(src, flipped).state).toBe('corrupt');
    expect(decodeCodeCache(src, file.subarray(0, file.length - 1)).state).toBe('corrupt');
    expect(decodeCodeCache(src, Buffer.from('ndr-code-cache 2' + file.toString('latin1').slice(16), 'latin1')).state).toBe('corrupt');
    expect(decodeCodeCache(src, Buffer.alloc(0)).state).toBe('corrupt');
  });
});
