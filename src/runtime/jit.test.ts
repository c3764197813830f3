import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFlags, replayWorkers, v8PoolSize } from './jit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('V8 background threads for a sensor process', () => {
  it('leaves one core to the packet thread, 1 to 4 threads', () => {
    expect([1, 2, 3, 4, 5, 8, 64].map((c) => v8PoolSize(c))).toEqual([1, 1, 2, 3, 4, 4, 4]);
  });

  it('a replay leaves one core to the main thread: one worker (all in one thread) on two cores', () => {
    expect([1, 2, 3, 4, 8, 64].map((c) => replayWorkers(c))).toEqual([1, 1, 2, 3, 7, 63]);
  });

  it('NDR_V8_POOL_SIZE overrides the rule; a bad value does not', () => {
    const before = process.env.NDR_V8_POOL_SIZE;
    try {
      process.env.NDR_V8_POOL_SIZE = '3';
      expect(nodeFlags()).toEqual(['--v8-pool-size=3']);
      process.env.NDR_V8_POOL_SIZE = 'many';
      expect(nodeFlags()).toEqual([`--v8-pool-size=${v8PoolSize()}`]);
    } finally {
      if (before === undefined) delete process.env.NDR_V8_POOL_SIZE;
      else process.env.NDR_V8_POOL_SIZE = before;
    }
  });

  // The launcher is a shell script: run it with a `node` first on PATH that prints its arguments.
  const dir = mkdtempSync(path.join(tmpdir(), 'ndr-launcher-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const fake = path.join(dir, 'node');
  writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n');
  chmodSync(fake, 0o755);
  const launch = (pool?: string): string[] => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` };
    delete env.NDR_V8_POOL_SIZE;
    if (pool !== undefined) env.NDR_V8_POOL_SIZE = pool;
    return execFileSync('sh', [path.join(root, 'bin/ndr-sensor'), 'replay', 'a b.pcap'], { env, encoding: 'utf8' }).trim().split('\n');
  };

  it('bin/ndr-sensor starts node with the same pool size as nodeFlags(), then the bundle and the arguments unchanged', () => {
    const args = launch();
    expect(args[0]).toBe(`--v8-pool-size=${v8PoolSize()}`);
    expect(path.resolve(args[1] as string)).toBe(path.join(root, 'dist/ndr-sensor.cjs'));
    expect(args.slice(2)).toEqual(['replay', 'a b.pcap']);
    expect(launch('6')[0]).toBe('--v8-pool-size=6');
  });
});
