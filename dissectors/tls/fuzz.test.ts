/** Seeded mutation fuzzing: never throws, split feeding equals unsplit, buffers stay bounded. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, harness } from '../../test/helpers/dissect-harness.js';
import { parseCertificate } from '../x509/certificate.js';
import { defaultX509Limits } from '../x509/types.js';
import { parseClientHello } from './client-hello.js';
import { tlsDissector } from './index.js';
import { parseServerHello } from './server-hello.js';
import { defaultTlsLimits } from './types.js';

const fx = (name: string) => fromHex(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8'));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const out = Uint8Array.from(b);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * out.length);
    const k = r();
    if (k < 0.5) out[at] = Math.floor(r() * 256);
    else if (k < 0.8) out[at] = out[at]! ^ (1 << Math.floor(r() * 8));
    else out[at] = r() < 0.5 ? 0 : 0xff;
  }
  return r() < 0.2 ? out.subarray(0, Math.floor(r() * out.length)) : out;
}

describe('tls fuzz', () => {
  it('mutated flows: no throw, split == unsplit, nothing left buffered beyond one record', () => {
    const r = rng(20261123);
    const names = ['tls12-chain', 'tls13', 'tls13-hrr', 'tls12-self'];
    for (let iter = 0; iter < 600; iter++) {
      const name = names[iter % names.length]!;
      const c = mutate(fx(`${name}.client`), r);
      const s = mutate(fx(`${name}.server`), r);
      const a = harness(tlsDissector);
      a.feed(0, c);
      a.feed(1, s);
      a.end();
      const cut = 1 + Math.floor(r() * Math.max(1, c.length - 1));
      const b = harness(tlsDissector);
      b.feed(0, c.subarray(0, cut));
      b.feed(0, c.subarray(cut));
      b.feed(1, s);
      b.end();
      expect(JSON.stringify([b.records, b.events, b.violations]), `iter ${iter}`).toBe(JSON.stringify([a.records, a.events, a.violations]));
      expect(a.pending(0)).toBeLessThanOrEqual(defaultTlsLimits.maxRecordBytes + 5);
      expect(a.pending(1)).toBeLessThanOrEqual(defaultTlsLimits.maxRecordBytes + 5);
    }
  });

  it('mutated hello bodies and certificates never throw', () => {
    const r = rng(7);
    const c = fx('tls12-chain.client');
    const chBody = c.subarray(9, 5 + ((c[3]! << 8) | c[4]!));
    const s = fx('tls12-chain.server');
    const shBody = s.subarray(9, 5 + ((s[3]! << 8) | s[4]!));
    const leaf = fromHex(readFileSync(new URL('../x509/fixtures/leaf.der.hex', import.meta.url), 'utf8'));
    let parsed = 0;
    for (let i = 0; i < 3000; i++) {
      const a = parseClientHello(mutate(chBody, r), defaultTlsLimits);
      const b = parseServerHello(mutate(shBody, r), defaultTlsLimits);
      const x = parseCertificate(mutate(leaf, r), defaultX509Limits);
      if (typeof a !== 'string') parsed++;
      expect(typeof b === 'string' || b.cipherSuite >= 0).toBe(true);
      expect(typeof x === 'string' || typeof x.subject === 'string').toBe(true);
    }
    expect(parsed).toBeGreaterThan(0);
  });
});
