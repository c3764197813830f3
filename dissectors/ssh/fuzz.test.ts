/** Seeded fuzz: random and mutated SSH banners never throw, terminate, and splitting changes nothing. */
import { describe, expect, it } from 'vitest';
import { harness } from '../../test/helpers/dissect-harness.js';
import { prng as rng } from '../../test/helpers/fuzz-dissector.js';
import { Dir } from '../../src/contract/api.js';
import { sshSpec } from './index.js';

const enc = (s: string) => new TextEncoder().encode(s);
const SEEDS = ['SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x04\x5c', 'banner line\r\nSSH-1.99-Cisco-1.25\r\n', 'SSH-2.0-x\n'];

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  const b = Array.from(src);
  for (let i = 0, n = 1 + Math.floor(r() * 5); i < n; i++) {
    const at = Math.floor(r() * (b.length + 1));
    const pick = [0x0d, 0x0a, 0x2d, 0x53, 0x20, Math.floor(r() * 256)][Math.floor(r() * 6)] as number;
    const op = r();
    if (op < 0.4) b[at] = pick;
    else if (op < 0.7) b.splice(at, 0, pick);
    else if (op < 0.9) b.splice(at, 1);
    else b.splice(at, 0, ...new Array(Math.floor(r() * 300)).fill(0x41));
  }
  return Uint8Array.from(b);
}
function splitsOf(r: () => number, b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let p = 0; p < b.length; ) {
    const n = 1 + Math.floor(r() * Math.min(40, b.length - p));
    out.push(b.subarray(p, p + n));
    p += n;
  }
  return out;
}
function run(c: Uint8Array[], s: Uint8Array[]) {
  const h = harness(sshSpec);
  for (const x of s) h.feed(Dir.ToClient, x);
  for (const x of c) h.feed(Dir.ToServer, x);
  return { records: JSON.stringify(h.records), events: JSON.stringify(h.events), n: h.records.length };
}

describe('ssh fuzz', () => {
  it('random and mutated input: no throw, at most one banner per side, split-invariant', () => {
    const r = rng(7);
    for (let i = 0; i < 800; i++) {
      const c = i % 4 === 0 ? Uint8Array.from({ length: Math.floor(r() * 400) }, () => Math.floor(r() * 256)) : mutate(r, enc(SEEDS[i % 3] as string));
      const s = mutate(r, enc(SEEDS[(i + 1) % 3] as string));
      const whole = run([c], [s]);
      expect(whole.n).toBeLessThanOrEqual(2);
      const split = run(splitsOf(r, c), splitsOf(r, s));
      expect(split.records).toBe(whole.records);
      expect(split.events).toBe(whole.events);
    }
  });
});
