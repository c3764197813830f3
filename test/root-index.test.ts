import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTrustStore, nodeRootIndex, readRootIndex, rootSetKey } from '../src/fingerprint/trust.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-root-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('prebuilt index of Node\'s bundled roots', () => {
  const index = nodeRootIndex();
  const file = join(dir, 'node-roots.json');
  writeFileSync(file, JSON.stringify(index));

  it('holds what parsing the roots gives: subject, key id and hash of each, in order', () => {
    // From source there is no index beside trust.ts, so this store parses every root itself.
    const parsed = buildTrustStore();
    expect(parsed.roots.length).toBeGreaterThan(100);
    expect(index.roots.map(([, s, k, h]) => [s, k, h])).toEqual(parsed.roots.map((r) => [r.subject, r.subjectKeyId, r.sha256]));
    expect(index.roots.every(([i]) => rootCertificates[i] !== undefined)).toBe(true);
  });

  it('is used only when made from the same root set', () => {
    expect(readRootIndex(file)).toEqual(index.roots);
    const stale = join(dir, 'stale.json');
    writeFileSync(stale, JSON.stringify({ ...index, key: rootSetKey().replace(/^./, (c) => (c === '0' ? '1' : '0')) }));
    expect(readRootIndex(stale)).toBeNull();
    writeFileSync(stale, '{"key": ');
    expect(readRootIndex(stale)).toBeNull();
    expect(readRootIndex(join(dir, 'absent.json'))).toBeNull();
  });

  it('a store built from the index equals the parsed one, certificates included', () => {
    const parsed = buildTrustStore();
    const fromIndex = buildTrustStore({ rootIndexFile: file });
    const view = (t: typeof parsed) => t.roots.map((r) => [r.subject, r.subjectKeyId, r.sha256, r.cert.fingerprint256.replace(/:/g, '').toLowerCase()]);
    expect(view(fromIndex)).toEqual(view(parsed));
    for (const r of fromIndex.roots) expect(r.cert.fingerprint256.replace(/:/g, '').toLowerCase()).toBe(r.sha256);
    expect([...fromIndex.bySubject.keys()]).toEqual([...parsed.bySubject.keys()]);
    // A stale index is not used: the roots are parsed again and come out the same.
    const stale = join(dir, 'stale2.json');
    writeFileSync(stale, JSON.stringify({ key: 'x', roots: [[0, 'CN=wrong', null, '00']] }));
    expect(view(buildTrustStore({ rootIndexFile: stale }))).toEqual(view(parsed));
  });

  it('the build wrote the index for this Node beside the bundle', () => {
    const built = new URL('../dist/node-roots.json', import.meta.url);
    // The suite runs after the build (scripts/setup.sh --test); the file is the build's output.
    expect(existsSync(built)).toBe(true);
    expect(JSON.parse(readFileSync(built, 'utf8'))).toEqual(index);
  });
});
