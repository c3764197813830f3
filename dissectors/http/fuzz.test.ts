/** Seeded fuzz: random and mutated HTTP never throws, always terminates, and splitting changes nothing. */
import { describe, expect, it } from 'vitest';
import { harness } from '../../test/helpers/dissect-harness.js';
import { prng as rng } from '../../test/helpers/fuzz-dissector.js';
import { Dir } from '../../src/contract/api.js';
import { httpSpec } from './index.js';


const enc = (s: string) => new TextEncoder().encode(s);
const SEEDS_CLIENT = [
  'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPUT /c HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
  'CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01',
  'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n',
];
const SEEDS_SERVER = [
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n',
  'HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03',
  'HTTP/1.1 101 Switching Protocols\r\n\r\n\x82\x00',
];

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  const b = Array.from(src);
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (b.length + 1));
    const op = r();
    const pick = [0x0d, 0x0a, 0x20, 0x3a, 0x30, 0x66, 0x00, 0xff, Math.floor(r() * 256)][Math.floor(r() * 9)] as number;
    if (op < 0.4) b[at] = pick;
    else if (op < 0.7) b.splice(at, 0, pick);
    else if (op < 0.9) b.splice(at, 1 + Math.floor(r() * 4));
    else b.splice(at, 0, ...b.slice(0, Math.floor(r() * 40)));
  }
  return Uint8Array.from(b);
}

function randomSplits(r: () => number, b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < b.length) {
    const n = 1 + Math.floor(r() * Math.min(64, b.length - p));
    out.push(b.subarray(p, p + n));
    p += n;
  }
  return out;
}

const LIMITS = { ...httpSpec.defaultLimits, maxHeaderBytes: 512, maxRequestsCount: 8, maxStringBytes: 64 };

function run(c: Uint8Array[], s: Uint8Array[]) {
  const h = harness(httpSpec, LIMITS);
  // interleave: all client chunks, then server chunks (requests before responses)
  for (const x of c) h.feed(Dir.ToServer, x);
  for (const x of s) h.feed(Dir.ToClient, x);
  h.end();
  return { records: JSON.stringify(h.records), events: JSON.stringify(h.events), n: h.records.length, ids: h.events.map((e) => e.id) };
}

describe('http fuzz', () => {
  it('random bytes: no throw, bounded records', () => {
    const r = rng(1);
    for (let i = 0; i < 400; i++) {
      const len = Math.floor(r() * 600);
      const b = Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
      const res = run([b], [b]);
      expect(res.n).toBeLessThanOrEqual(2 * LIMITS.maxRequestsCount);
    }
  });

  it('mutated valid exchanges: no throw; whole vs random splits give identical records and events', () => {
    const r = rng(42);
    let total = 0;
    const ids = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const k = Math.floor(r() * SEEDS_CLIENT.length);
      const c = mutate(r, enc(SEEDS_CLIENT[k] as string));
      const s = mutate(r, enc(SEEDS_SERVER[k] as string));
      const whole = run([c], [s]);
      const split = run(randomSplits(r, c), randomSplits(r, s));
      expect(split.records).toBe(whole.records);
      expect(split.events).toBe(whole.events);
      expect(whole.n).toBeLessThanOrEqual(2 * LIMITS.maxRequestsCount + 1);
      total += whole.n;
      for (const id of whole.ids) ids.add(id);
    }
    // the mutations keep most exchanges parseable and reach many error paths
    expect(total).toBeGreaterThan(300);
    expect(ids.size).toBeGreaterThanOrEqual(5);
  });
});
