/**
 * The V8 code cache of the CLI bundle: its file format, and how the loader (src/cli/boot.ts) tells
 * the bundle what became of it.
 *
 * Node 20 has no compile cache of its own, and compiling the 1.4 MB bundle is a large part of a
 * short replay. The build runs the bundle once on the demo capture and keeps V8's bytecode of what
 * ran (vm.Script#createCachedData); later processes compile with it. V8 itself checks only its
 * version, its flags and the source's length, and deserialises whatever bytes it is given (a
 * flipped byte either aborts the process or is taken in as other bytecode). So the file names the
 * bundle it was made from and carries a SHA-256 digest of its own payload, and the loader uses it
 * only when both match.
 *
 * The bundle's name is the digest of its text, which the build writes as the bundle's last line
 * (`//# ndr-bundle <sha256 of everything before that line>`): reading it costs nothing where hashing
 * the 1.4 MB at every start would cost milliseconds. A bundle rebuilt or replaced gets another
 * name; one edited by hand in place keeps its name, and V8's length check is then the only guard.
 *
 * File: the header line `ndr-code-cache 1 <bundle name> <sha256 of the payload>\n`, then V8's
 * cached data.
 */
import { createHash } from 'node:crypto';

const MAGIC = 'ndr-code-cache 1';
/** The header's length: magic, the bundle's name and the payload's digest (hex), spaces, newline. */
const HEADER_BYTES = MAGIC.length + 1 + 64 + 1 + 64 + 1;

/**
 * What the loader did with the cache: used; missing (no file, e.g. a source checkout's first build
 * failed to make one); stale (made from another bundle); corrupt (its payload does not match its
 * digest, or no header); rejected (V8 refused it: another Node/V8 version or other V8 flags);
 * writing (the build's warm-up run, which makes it); none (not started through the loader).
 */
export type CodeCacheState = 'used' | 'missing' | 'stale' | 'corrupt' | 'rejected' | 'writing' | 'none';

/** Where the loader leaves the state for the bundle: a registry symbol, the same in both files. */
const STATE_KEY = Symbol.for('ndr-sensor.code-cache');

export function setCodeCacheState(state: CodeCacheState): void {
  (globalThis as Record<symbol, unknown>)[STATE_KEY] = state;
}

export function codeCacheState(): CodeCacheState {
  return ((globalThis as Record<symbol, unknown>)[STATE_KEY] as CodeCacheState | undefined) ?? 'none';
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The bundle's last line as the build writes it (scripts/build.mjs). */
const NAME_LINE = /\/\/# ndr-bundle ([0-9a-f]{64})\n$/;
const NAME_LINE_BYTES = '//# ndr-bundle '.length + 64 + 1;

/** The name the build wrote at the end of the bundle, or null when its last line is not one. */
export function bundleName(bundle: Buffer): string | null {
  if (bundle.length < NAME_LINE_BYTES) return null;
  return NAME_LINE.exec(bundle.toString('latin1', bundle.length - NAME_LINE_BYTES))?.[1] ?? null;
}

/** The cache file for V8's cached data of the bundle of this name. */
export function encodeCodeCache(name: string, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${MAGIC} ${name} ${sha256(data)}\n`, 'latin1'), data]);
}

/** V8's cached data from a cache file, if it was made for the bundle of this name and arrived whole. */
export function decodeCodeCache(name: string | null, file: Buffer): { data: Buffer | null; state: 'used' | 'stale' | 'corrupt' } {
  if (file.length <= HEADER_BYTES) return { data: null, state: 'corrupt' };
  const header = file.toString('latin1', 0, HEADER_BYTES);
  const m = /^ndr-code-cache 1 ([0-9a-f]{64}) ([0-9a-f]{64})\n$/.exec(header);
  if (m === null) return { data: null, state: 'corrupt' };
  if (name === null || m[1] !== name) return { data: null, state: 'stale' };
  const data = file.subarray(HEADER_BYTES);
  if (m[2] !== sha256(data)) return { data: null, state: 'corrupt' };
  return { data, state: 'used' };
}
