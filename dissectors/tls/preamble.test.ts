import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, harness, type Harness } from '../../test/helpers/dissect-harness.js';
import { concat } from './fixtures/builder.js';
import { probeTls, tlsDissector } from './index.js';
import type { TlsClientHelloRecord } from './types.js';

const fx = (name: string) => fromHex(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8'));
const ascii = (s: string) => new TextEncoder().encode(s);

const CASES: [string, Uint8Array, Uint8Array][] = [
  ['HTTP CONNECT', ascii('CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n'), ascii('HTTP/1.1 200 Connection established\r\n\r\n')],
  ['SOCKS5 (domain)', Uint8Array.of(5, 1, 0, 5, 1, 0, 3, 12, ...ascii('example.test'), 1, 0xbb), Uint8Array.of(5, 0, 5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90)],
  ['SOCKS5 (user/pass)', Uint8Array.of(5, 2, 0, 2, 1, 1, 0x75, 2, 0x70, 0x77, 5, 1, 0, 1, 10, 0, 0, 1, 1, 0xbb), Uint8Array.of(5, 2, 1, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0)],
  ['SOCKS4a', Uint8Array.of(4, 1, 1, 0xbb, 0, 0, 0, 1, 0x75, 0, ...ascii('example.test'), 0), Uint8Array.of(0, 0x5a, 0, 0, 0, 0, 0, 0)],
];

function run(c: Uint8Array, s: Uint8Array): Harness {
  const h = harness(tlsDissector);
  h.feed(0, c, 1);
  h.feed(1, s, 2);
  h.end();
  return h;
}

describe('TLS behind a proxy preamble', () => {
  const tc = fx('tls12-chain.client');
  const ts = fx('tls12-chain.server');
  const plain = run(tc, ts);
  const plainHello = JSON.stringify((plain.records.find((r) => r.kind === 'tls.client_hello') as TlsClientHelloRecord).hello);

  for (const [name, pc, ps] of CASES) {
    it(`${name}: probe says yes, the hello and certificates are found, every split agrees`, () => {
      const c = concat([pc, tc]);
      const s = concat([ps, ts]);
      expect(probeTls(c.subarray(0, 64), 0)).toBe('yes');
      const h = run(c, s);
      expect(h.events).toEqual([{ id: 'tls.tunnel_preamble', dir: 0 }]);
      const ch = h.records.find((r) => r.kind === 'tls.client_hello') as TlsClientHelloRecord;
      expect(JSON.stringify(ch.hello)).toBe(plainHello);
      expect(h.certs.length).toBe(2);
      expect(h.payloadStarts[0]).toBe(plain.payloadStarts[0]! + pc.length);
      const want = JSON.stringify([h.records, h.events]);
      for (let i = 1; i < pc.length + 10; i++) {
        const g = harness(tlsDissector);
        g.feed(0, c.subarray(0, i), 1);
        g.feed(0, c.subarray(i), 1);
        g.feed(1, s.subarray(0, Math.min(i, s.length)), 2);
        g.feed(1, s.subarray(Math.min(i, s.length)), 2);
        g.end();
        expect(JSON.stringify([g.records, g.events]), `split ${i}`).toBe(want);
      }
    });
  }

  it('a refused CONNECT (407) and a failed SOCKS5 reply raise tls.bad_preamble', () => {
    const h = run(concat([CASES[0]![1], tc]), ascii('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'));
    // the client side already confirmed TLS, so the server-side failure is an event
    expect(h.events).toContainEqual({ id: 'tls.bad_preamble', dir: 1 });
    const g = run(concat([CASES[1]![1], tc]), Uint8Array.of(5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0));
    expect(g.events).toContainEqual({ id: 'tls.bad_preamble', dir: 1 });
  });

  it('a preamble longer than maxPreambleBytes is refused (limit)', () => {
    const big = ascii('CONNECT a:443 HTTP/1.1\r\nX: ' + 'y'.repeat(200) + '\r\n\r\n');
    const h = harness(tlsDissector, { ...tlsDissector.defaultLimits, maxPreambleBytes: 64 });
    h.feed(0, big);
    expect(h.violations).toEqual(['tls.bad_preamble']);
  });

  it('plain HTTP and SSH are not claimed', () => {
    expect(probeTls(ascii('GET / HTTP/1.1\r\nHost: x\r\n'), 0)).toBe('no');
    expect(probeTls(ascii('SSH-2.0-OpenSSH_9.2p1\r\n'), 0)).toBe('no');
    expect(probeTls(ascii('CONNEC'), 0)).toBe('unsure');
  });
});
