import { describe, expect, it } from 'vitest';
import { parseClientHello, parseDtlsClientHello } from '../../dissectors/tls/client-hello.js';
import { clientHelloBody, extAlpn, extRaw, extSni, extU16List, type HelloSpec } from '../../dissectors/tls/fixtures/builder.js';
import { defaultTlsLimits, type TlsClientHello } from '../../dissectors/tls/types.js';
import { hash12 } from './hash.js';
import { alpnChars, ja4, ja4All } from './ja4.js';
import { ja3, ja3String } from './ja3.js';

function hello(spec: HelloSpec, dtls = false): TlsClientHello {
  const body = clientHelloBody(spec);
  const r = dtls ? parseDtlsClientHello(body, defaultTlsLimits) : parseClientHello(body, defaultTlsLimits);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

// SPEC-NOTES.md §1.13 worked check: a Chrome-like hello with GREASE everywhere.
const CHROME_CIPHERS = [0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
const SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
function chromeExtensions(sigs = SIGS, alpn: (string | Uint8Array)[] = ['h2', 'http/1.1']) {
  return [
    extRaw(0x1a1a),
    extSni('www.example.com'),
    extRaw(0x0017),
    extRaw(0xff01, [0]),
    extU16List(0x000a, [0x2a2a, 0x001d, 0x0017, 0x0018]),
    { type: 0x000b, data: Uint8Array.of(1, 0) },
    extRaw(0x0023),
    extAlpn(alpn),
    extRaw(0x0005, [1, 0, 0, 0, 0]),
    extU16List(0x000d, sigs),
    extRaw(0x0012),
    extRaw(0x0033, [0, 0]),
    extRaw(0x002d, [1, 1]),
    extU16List(0x002b, [0x3a3a, 0x0304, 0x0303], 1),
    extRaw(0x001b, [2, 0, 2]),
    extRaw(0x4469, [0, 3, 2, 0x68, 0x32]),
    extRaw(0x0015, [0, 0, 0]),
    extRaw(0x4a4a, [0]),
  ];
}

describe('JA4', () => {
  it('reproduces the SPEC-NOTES §1.13 worked check (GREASE in ciphers, extensions, groups, versions)', () => {
    const h = hello({ ciphers: CHROME_CIPHERS, extensions: chromeExtensions() });
    const r = ja4All(h, 't');
    expect(r.ja4).toBe('t13d1516h2_8daaf6152771_e5627efa2ab1');
    expect(r.ja4_r).toBe('t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601');
    expect(r.ja4_ro.split('_')[2]).toBe('0000,0017,ff01,000a,000b,0023,0010,0005,000d,0012,0033,002d,002b,001b,4469,0015');
    expect(ja4(h, 't')).toBe(r.ja4);
    expect(ja4(h, 'q').startsWith('q13d1516h2_')).toBe(true);
  });

  it('GREASE inside signature_algorithms is dropped by default (JA4.md), kept on request', () => {
    const withGrease = hello({ ciphers: CHROME_CIPHERS, extensions: chromeExtensions([0x0a0a, ...SIGS]) });
    expect(withGrease.signatureAlgorithms[0]).toBe(0x0a0a); // the parser keeps it
    expect(ja4(withGrease, 't')).toBe('t13d1516h2_8daaf6152771_e5627efa2ab1');
    const kept = ja4All(withGrease, 't', { keepSigAlgGrease: true });
    expect(kept.ja4_r.endsWith('_0a0a,0403,0804,0401,0503,0805,0501,0806,0601')).toBe(true);
    expect(kept.ja4).not.toBe('t13d1516h2_8daaf6152771_e5627efa2ab1');
  });

  it('ALPN characters: single character, non-ASCII, punctuation, empty (both rules)', () => {
    const one = hello({ ciphers: [0x1301], extensions: [extAlpn(['h'])] });
    expect(ja4(one, 't').substring(8, 10)).toBe('h0');
    expect(ja4(one, 't', { alpnRule: 'spec' }).substring(8, 10)).toBe('hh');
    const nonAscii = hello({ ciphers: [0x1301], extensions: [extAlpn([Uint8Array.of(0xba, 0xad)])] });
    expect(ja4(nonAscii, 't').substring(8, 10)).toBe('99');
    expect(ja4(nonAscii, 't', { alpnRule: 'spec' }).substring(8, 10)).toBe('bd');
    expect(alpnChars(new TextEncoder().encode('http/1.1'))).toBe('h1');
    expect(alpnChars(new TextEncoder().encode('x-'))).toBe('x-');
    expect(alpnChars(new TextEncoder().encode('x-'), 'spec')).toBe('7d');
    expect(alpnChars(new Uint8Array(0))).toBe('00');
    expect(alpnChars(null)).toBe('00');
  });

  it('counts are capped at 99 and empty lists hash to zeros', () => {
    const many = hello({ ciphers: Array.from({ length: 120 }, (_, i) => 0x1000 + i), extensions: [] });
    const r = ja4All(many, 't');
    expect(r.ja4.substring(0, 10)).toBe('t12i990000');
    expect(r.ja4.endsWith('_000000000000')).toBe(true);
    const none = hello({ ciphers: [], extensions: null });
    expect(ja4(none, 't')).toBe('t12i000000_000000000000_000000000000');
    // SNI as the only extension: c is empty (https3-301-get / socks-https-example case)
    const sniOnly = hello({ version: 0x0301, ciphers: [0x002f], extensions: [extSni('a.example')] });
    const s = ja4All(sniOnly, 't');
    expect(s.ja4).toBe('t10d010100_' + hash12('002f') + '_000000000000');
    expect(s.ja4_o.endsWith('_' + hash12('0000'))).toBe(true);
  });

  it('version: highest non-GREASE supported_versions, else legacy_version; DTLS counts down', () => {
    const v = hello({ ciphers: [1], extensions: [extU16List(0x2b, [0xfafa, 0x0303, 0x0302], 1)] });
    expect(ja4(v, 't').substring(0, 3)).toBe('t12');
    const legacy = hello({ version: 0x0302, ciphers: [1], extensions: [] });
    expect(ja4(legacy, 't').substring(0, 3)).toBe('t11');
    const dtls = hello({ version: 0xfefd, ciphers: [0xc02b], extensions: [extU16List(0x2b, [0xfefd, 0xfeff], 1)], cookie: Uint8Array.of(1, 2, 3) }, true);
    expect(dtls.cookieLength).toBe(3);
    expect(ja4(dtls, 'd').substring(0, 3)).toBe('dd2');
  });
});

describe('JA3', () => {
  it('decimal string without GREASE, md5', () => {
    const h = hello({ ciphers: [0x0a0a, 0x1301, 0x1302], extensions: [extRaw(0x2a2a), extSni('a'), extU16List(0x0a, [0x3a3a, 0x1d, 0x17]), { type: 0x0b, data: Uint8Array.of(1, 0) }] });
    expect(ja3String(h)).toBe('771,4865-4866,0-10-11,29-23,0');
    expect(ja3(h).ja3).toMatch(/^[0-9a-f]{32}$/);
  });
});
