import { describe, expect, it } from 'vitest';
import { latin1Bounded } from '../../src/util/bytes.js';
import { clientHelloBody, extAlpn, extKeyShare, extSni, extU16List } from './fixtures/builder.js';
import { parseClientHello } from './client-hello.js';
import { ListScratch, sharedLatin1, sharedList } from './shared.js';
import { defaultTlsLimits, type TlsClientHello } from './types.js';

const scratch = (vals: number[]) => { const s = new ListScratch(); for (const v of vals) s.push(v); return s; };
const parse = (body: Uint8Array, limits = defaultTlsLimits) => parseClientHello(body, limits) as TlsClientHello;

describe('hello fields shared between hellos', () => {
  it('a list met before comes back as the same frozen array; a list with GREASE is a fresh one each time', () => {
    const a = sharedList(scratch([0x1301, 0x1302, 0xc02b]));
    const b = sharedList(scratch([0x1301, 0x1302, 0xc02b]));
    expect(a).toEqual([0x1301, 0x1302, 0xc02b]);
    expect(b).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(sharedList(scratch([0x1301, 0x1302]))).toEqual([0x1301, 0x1302]);
    const g1 = sharedList(scratch([0x2a2a, 0x1301]));
    const g2 = sharedList(scratch([0x2a2a, 0x1301]));
    expect(g1).toEqual([0x2a2a, 0x1301]);
    expect(g2).not.toBe(g1);
    expect(sharedList(scratch([]))).toEqual([]);
    // A scratch that grew past its first buffer keeps every value.
    const long = Array.from({ length: 300 }, (_, i) => i * 7);
    expect(sharedList(scratch(long))).toEqual(long);
  });

  it('lists that collide in the table never mix: 20,000 distinct lists, each read back twice, all exact', () => {
    const lists = Array.from({ length: 20_000 }, (_, i) => [i & 0xffff, (i * 31) & 0xffff, 7]);
    for (let round = 0; round < 2; round++) for (const l of lists) expect(sharedList(scratch(l))).toEqual(l);
  });

  it('names: the text latin1Bounded gives, truncation included, for repeats and colliding slots', () => {
    const enc = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 6000; i++) {
        const b = enc(`host-${i}.example.test`);
        expect(sharedLatin1(b, 255)).toBe(latin1Bounded(b, 255));
        expect(sharedLatin1(b, 8)).toBe(latin1Bounded(b, 8));
      }
    }
    expect(sharedLatin1(Uint8Array.of(0xe9, 0x41), 255)).toBe('\u00e9A');
  });

  it('a hello parsed twice is equal field for field and shares its lists, name and ALPN lists', () => {
    const body = clientHelloBody({
      ciphers: [0x1301, 0x1302, 0x1303, 0xc02b],
      extensions: [extSni('shared.example'), extAlpn(['h2', 'http/1.1']), extU16List(0x0d, [0x0403, 0x0804]), extU16List(0x0a, [0x1d, 0x17]), extU16List(0x2b, [0x0304, 0x0303], 1), extKeyShare([{ group: 0x1d, bytes: 32 }])],
    });
    const a = parse(body);
    const b = parse(body);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(a.cipherSuites).toEqual([0x1301, 0x1302, 0x1303, 0xc02b]);
    expect(a.alpn).toEqual(['h2', 'http/1.1']);
    expect(a.supportedVersions).toEqual([0x0304, 0x0303]);
    expect(a.keyShareGroups).toEqual([0x1d]);
    for (const k of ['cipherSuites', 'extensions', 'signatureAlgorithms', 'supportedGroups', 'supportedVersions', 'keyShareGroups', 'alpn', 'alpnRaw'] as const) expect(b[k], k).toBe(a[k]);
    expect(b.events).not.toBe(a.events);
  });

  it('ALPN lists read under higher limits are not handed to a parser with lower ones: it cuts and says so', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [extAlpn(['h2', 'http/1.1', 'spdy/3'])] });
    expect(parse(body).alpn).toEqual(['h2', 'http/1.1', 'spdy/3']);
    const fewer = parse(body, { ...defaultTlsLimits, maxAlpnCount: 2 });
    expect(fewer.alpn).toEqual(['h2', 'http/1.1']);
    expect(fewer.events).toContain('tls.limit.alpn');
    const shorter = parse(body, { ...defaultTlsLimits, maxNameBytes: 4 });
    expect(shorter.alpn).toEqual(['h2', 'http', 'spdy']);
    expect(shorter.events).toContain('tls.limit.alpn');
    expect(parse(body).events).toEqual([]);
  });

  it('a duplicate ALPN extension after an empty first one is still read (the first empty list is not kept)', () => {
    const empty = { type: 0x10, data: Uint8Array.of(0, 0) };
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [empty, extAlpn(['h2'])] });
    for (let i = 0; i < 2; i++) {
      const h = parse(body);
      expect(h.alpn).toEqual(['h2']);
      expect(h.events).toContain('tls.duplicate_extension');
    }
  });
});
