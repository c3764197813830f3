import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../dissectors/tls/client-hello.js';
import { clientHelloBody, extAlpn, extRaw, extSni, extU16List, type ExtSpec } from '../../dissectors/tls/fixtures/builder.js';
import { defaultTlsLimits, type TlsClientHello } from '../../dissectors/tls/types.js';
import { clientPrints } from './client-prints.js';
import { ja4All } from './ja4.js';
import { ja3 } from './ja3.js';

function hello(ciphers: number[], exts: ExtSpec[]): TlsClientHello {
  const r = parseClientHello(clientHelloBody({ ciphers, extensions: exts }), defaultTlsLimits);
  if (typeof r === 'string') throw new Error(r);
  return r;
}

/** A browser-like hello whose GREASE values (as a browser would) change per connection. */
function browser(grease: number, opts: { alpn?: string[]; sigs?: number[]; order?: 'a' | 'b'; groups?: number[] } = {}): TlsClientHello {
  const g = grease;
  const exts = [
    extRaw(g),
    extSni('www.example.com'),
    extU16List(0x000a, [g, ...(opts.groups ?? [0x001d, 0x0017])]),
    extAlpn(opts.alpn ?? ['h2', 'http/1.1']),
    extU16List(0x000d, opts.sigs ?? [0x0403, 0x0804, 0x0401]),
    extU16List(0x002b, [g, 0x0304, 0x0303], 1),
    extRaw(0x0017),
  ];
  if (opts.order === 'b') exts.push(exts.splice(2, 1)[0] as ExtSpec);
  return hello([g, 0x1301, 0x1302, 0xc02b], exts);
}

function direct(h: TlsClientHello) {
  const a = ja4All(h, 't');
  const j = ja3(h);
  return { ja4: a.ja4, ja4_r: a.ja4_r, ja4_o: a.ja4_o, ja4_ro: a.ja4_ro, ja3: j.ja3, ja3_full: j.ja3_full };
}

describe('clientPrints (memoised on the hello shape)', () => {
  it('equals the direct computation, first time and from the memo', () => {
    const h = browser(0x0a0a);
    const want = direct(h);
    expect(clientPrints(h, 't')).toMatchObject(want);
    expect(clientPrints(h, 't')).toMatchObject(want);
    expect(clientPrints(h, 't').supportedCiphers).toEqual(['1301', '1302', 'c02b']);
  });

  it('hellos that differ only in GREASE values share one entry, and still match', () => {
    const a = clientPrints(browser(0x1a1a), 't');
    const b = clientPrints(browser(0xdada), 't');
    expect(b).toBe(a);
    expect(b).toMatchObject(direct(browser(0xdada)));
  });

  it('every field a fingerprint reads makes a different entry', () => {
    const base = browser(0x0a0a);
    const variants = [
      browser(0x0a0a, { alpn: ['http/1.1'] }),
      browser(0x0a0a, { alpn: ['h3'] }),
      browser(0x0a0a, { sigs: [0x0403, 0x0401] }),
      browser(0x0a0a, { order: 'b' }),
      browser(0x0a0a, { groups: [0x001d] }),
    ];
    for (const v of variants) {
      const p = clientPrints(v, 't');
      expect(p).toMatchObject(direct(v));
      expect(p).not.toBe(clientPrints(base, 't'));
    }
    // The transport letter is part of the shape.
    expect(clientPrints(base, 'q').ja4.startsWith('q')).toBe(true);
    expect(clientPrints(base, 't').ja4.startsWith('t')).toBe(true);
    // Options are part of the shape: keeping GREASE in signature algorithms changes _r.
    const sg = browser(0x0a0a, { sigs: [0x0a0a, 0x0403] });
    expect(clientPrints(sg, 't', { keepSigAlgGrease: true }).ja4_r).toContain('0a0a,0403');
    expect(clientPrints(sg, 't').ja4_r).not.toContain('0a0a,0403');
  });

  it('hellos of a stack without GREASE (shared lists) are found by their lists and still equal the direct computation', () => {
    // Same cipher list every time: the lists come back as the parser's shared arrays.
    const plain = (o: { alpn?: string[]; sigs?: number[]; groups?: number[]; order?: 'b'; version?: number; sni?: string } = {}): TlsClientHello => {
      const exts = [
        extSni(o.sni ?? 'api.example.net'),
        extU16List(0x000a, o.groups ?? [0x001d, 0x0017]),
        extAlpn(o.alpn ?? ['h2', 'http/1.1']),
        extU16List(0x000d, o.sigs ?? [0x0403, 0x0804, 0x0401]),
        extU16List(0x002b, [0x0304, 0x0303], 1),
        extRaw(0x0017),
      ];
      if (o.order === 'b') exts.push(exts.splice(1, 1)[0] as ExtSpec);
      const r = parseClientHello(clientHelloBody({ ciphers: [0x1301, 0x1302, 0xc02c], extensions: exts, ...(o.version !== undefined ? { version: o.version } : {}) }), defaultTlsLimits);
      if (typeof r === 'string') throw new Error(r);
      return r;
    };
    const base = plain();
    expect(Object.isFrozen(base.cipherSuites)).toBe(true);
    const first = clientPrints(base, 't');
    expect(first).toMatchObject(direct(base));
    // Another connection of the same stack (another server name): the same entry.
    const again = plain({ sni: 'other.example.org' });
    expect(again.cipherSuites).toBe(base.cipherSuites);
    expect(clientPrints(again, 't')).toBe(first);
    const variants = [
      plain({ alpn: ['http/1.1'] }), plain({ alpn: ['h3'] }), plain({ sigs: [0x0403, 0x0401] }), plain({ groups: [0x001d] }),
      plain({ order: 'b' }), plain({ version: 0x0301 }),
    ];
    for (let round = 0; round < 2; round++) {
      for (const v of variants) {
        expect(v.cipherSuites).toBe(base.cipherSuites);
        const p = clientPrints(v, 't');
        expect(p).toMatchObject(direct(v));
        expect(p).not.toBe(first);
      }
    }
    expect(clientPrints(base, 'q').ja4.startsWith('q')).toBe(true);
    expect(clientPrints(base, 't')).toBe(first);
    // Options are part of the key: the specification's ALPN rule reads the name differently.
    const spec = clientPrints(plain({ alpn: ['http/1.1'] }), 't', { alpnRule: 'spec' });
    expect(spec).toMatchObject({ ja4: ja4All(plain({ alpn: ['http/1.1'] }), 't', { alpnRule: 'spec' }).ja4 });
  });
});
