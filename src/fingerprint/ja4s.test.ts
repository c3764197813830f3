import { describe, expect, it } from 'vitest';
import { extAlpn, extRaw, serverHelloBody } from '../../dissectors/tls/fixtures/builder.js';
import { parseServerHello } from '../../dissectors/tls/server-hello.js';
import { defaultTlsLimits, type TlsServerHello } from '../../dissectors/tls/types.js';
import { ja3sString } from './ja3.js';
import { ja4s } from './ja4s.js';
import { ja4t, ja4ts } from './ja4t.js';
import { ja4x, ja4xRaw } from './ja4x.js';

function sh(body: Uint8Array): TlsServerHello {
  const r = parseServerHello(body, defaultTlsLimits);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

describe('JA4S', () => {
  it('SPEC-NOTES §2 example and order sensitivity', () => {
    const a = sh(serverHelloBody(0x1301, [extRaw(0x33, [0, 0x1d, 0, 0]), extRaw(0x2b, [3, 4])]));
    expect(a.selectedVersion).toBe(0x0304);
    expect(ja4s(a, 't')).toEqual({ ja4s: 't130200_1301_234ea6891581', ja4s_r: 't130200_1301_0033,002b' });
    const b = sh(serverHelloBody(0x1301, [extRaw(0x2b, [3, 4]), extRaw(0x33, [0, 0x1d, 0, 0])]));
    expect(ja4s(b, 't').ja4s).toBe('t130200_1301_a56c5b993250');
  });

  it('ALPN selected and TLS 1.2 legacy version; JA3S string', () => {
    const h = sh(serverHelloBody(0xc02f, [extRaw(0xff01, [0]), extAlpn(['h2']), extRaw(0x0b, [1, 0])]));
    expect(h.alpn).toBe('h2');
    expect(ja4s(h, 't').ja4s_r).toBe('t1203h2_c02f_ff01,0010,000b');
    expect(ja3sString(h)).toBe('771,49199,65281-16-11');
  });

  it('HelloRetryRequest is detected from its random', () => {
    const hrrRandom = Uint8Array.from(Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex'));
    expect(sh(serverHelloBody(0x1301, [extRaw(0x2b, [3, 4])], 0x0303, hrrRandom)).helloRetryRequest).toBe(true);
    expect(sh(serverHelloBody(0x1301, [extRaw(0x2b, [3, 4])])).helloRetryRequest).toBe(false);
  });
});

describe('JA4X', () => {
  it('SPEC-NOTES §3 example; empty sections are zeros', () => {
    const rec = { issuerOids: ['550406', '55040a', '55040b', '550403'], subjectOids: [], extensionOids: ['551d11'] };
    expect(ja4x(rec).split('_')[0]).toBe('7d5dbb3783b4');
    expect(ja4x(rec).split('_')[1]).toBe('000000000000');
    expect(ja4xRaw(rec)).toBe('550406,55040a,55040b,550403__551d11');
  });
});

describe('JA4T / JA4TS', () => {
  it('macOS-style SYN options with EOL padding, and empty options', () => {
    // MSS 1460, NOP, WS 6, NOP, NOP, TS, SACK-permitted, EOL, EOL
    const opts = Uint8Array.of(2, 4, 0x05, 0xb4, 1, 3, 3, 6, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 4, 2, 0, 0);
    expect(ja4t(65535, opts)).toBe('65535_2-1-3-1-1-8-4-0-0_1460_6');
    expect(ja4t(8192, new Uint8Array(0))).toBe('8192__0_0');
    expect(ja4ts(64240, Uint8Array.of(2, 4, 0x05, 0xb4), [1, 2], false)).toBe('64240_2_1460_0_1-2');
    // a truncated option stops the walk without throwing
    expect(ja4t(1024, Uint8Array.of(2, 4, 0x05))).toBe('1024_2_0_0');
  });
});
