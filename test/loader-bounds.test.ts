// The eBPF loader's ring size: bounded in the loader (bpf/loader.c, NDR_RINGBUF_MAX_MIB in
// bpf/flow.h) and, with the same number, in the sensor's config validation (capture.bufferMiB).
// 4096 MiB used to wrap to a 0-byte ring in 32-bit arithmetic; now it is a usage error.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, RINGBUF_MAX_MIB, validateConfig } from '../src/config/config.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const loader = join(root, 'bpf', 'build', 'ndr-loader');
const EXIT_USAGE = 2;
const EXIT_IFACE = 6;

describe('eBPF ring buffer size', () => {
  it('the loader and the config share one bound', () => {
    const m = /#define NDR_RINGBUF_MAX_MIB (\d+)/.exec(readFileSync(join(root, 'bpf', 'flow.h'), 'utf8'));
    expect(Number(m?.[1])).toBe(RINGBUF_MAX_MIB);
    // Its size in bytes fits the ring map's 32-bit max_entries.
    expect(RINGBUF_MAX_MIB * 2 ** 20).toBeLessThanOrEqual(2 ** 32 - 1);
  });

  it('config validation rejects a larger buffer, naming the key', () => {
    expect(validateConfig({ capture: { bufferMiB: RINGBUF_MAX_MIB } }).capture.bufferMiB).toBe(RINGBUF_MAX_MIB);
    for (const bad of [RINGBUF_MAX_MIB + 1, 4096, 0]) {
      expect(() => validateConfig({ capture: { bufferMiB: bad } })).toThrow(ConfigError);
      expect(() => validateConfig({ capture: { bufferMiB: bad } })).toThrow(`config: capture.bufferMiB: expected an integer in 1..${RINGBUF_MAX_MIB}, got ${bad}`);
    }
  });

  it('the loader refuses sizes past the bound with a usage error, and accepts the bound', () => {
    expect(existsSync(loader)).toBe(true);
    for (const bad of ['4096', String(RINGBUF_MAX_MIB + 1), '0', '-1', '4294967297', '12x']) {
      const r = spawnSync(loader, ['--iface', 'lo', '--ringbuf-mib', bad], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status, bad).toBe(EXIT_USAGE);
      expect(r.stderr).toBe(`loader: --ringbuf-mib: expected an integer in [1, ${RINGBUF_MAX_MIB}], got "${bad}"\n`);
    }
    // The bound itself passes the argument checks: the next check (the interface) is what stops it.
    const ok = spawnSync(loader, ['--iface', 'nonexist0', '--ringbuf-mib', String(RINGBUF_MAX_MIB)], { encoding: 'utf8', timeout: 10_000 });
    expect(ok.stderr).toBe('loader: no such interface: nonexist0\n');
    expect(ok.status).toBe(EXIT_IFACE);
  });
});
