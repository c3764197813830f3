import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { summarizeTls, tlsDissector } from '../../dissectors/tls/index.js';
import type { TlsRecord } from '../../dissectors/tls/types.js';
import { parseCertificate } from '../../dissectors/x509/certificate.js';
import { defaultX509Limits, type X509Record } from '../../dissectors/x509/types.js';
import { fromHex, harness } from '../../test/helpers/dissect-harness.js';
import { type ChainCert, certInfoFromX509, chainFeatures, hostMatches } from './chain.js';
import { x509Sha256 } from './hash.js';
import { buildTlsInfo, tlsInfoFromCache } from './tls-info.js';
import { buildTrustStore, defaultTrustStore, issuedBy, toX509 } from './trust.js';

const der = (name: string) => fromHex(readFileSync(new URL(`../../dissectors/x509/fixtures/${name}.der.hex`, import.meta.url), 'utf8'));
const tlsFx = (name: string) => fromHex(readFileSync(new URL(`../../dissectors/tls/fixtures/${name}.hex`, import.meta.url), 'utf8'));
function pem(d: Uint8Array): string {
  return toX509(d)!.toString();
}
function rec(d: Uint8Array): X509Record {
  const r = parseCertificate(d, defaultX509Limits);
  if (typeof r === 'string') throw new Error(r);
  return r;
}
function chainOf(...names: string[]): ChainCert[] {
  return names.map((n) => {
    const d = der(n);
    const r = rec(d);
    return { info: certInfoFromX509(r, x509Sha256(d), d), record: r, der: d };
  });
}

const enterprise = buildTrustStore({ nodeRoots: false, extraPem: [pem(der('ca'))] });
const leafTime = () => rec(der('leaf')).notBefore! + 86_400_000;

describe('trust store', () => {
  it("Node's bundled roots load and parse", () => {
    const s = defaultTrustStore();
    expect(s.roots.length).toBeGreaterThan(100);
    expect(s.bySubject.size).toBeGreaterThan(100);
  });

  it('issuedBy verifies signatures, not only names', () => {
    const leaf = toX509(der('leaf'))!;
    const int = toX509(der('int'))!;
    const ca = toX509(der('ca'))!;
    expect(issuedBy(leaf, int)).toBe(true);
    expect(issuedBy(int, ca)).toBe(true);
    expect(issuedBy(leaf, ca)).toBe(false);
  });
});

describe('chain features', () => {
  it('leaf + intermediate ending in a configured enterprise root', () => {
    const f = chainFeatures(chainOf('leaf', 'int'), 'www.example.test', leafTime(), enterprise);
    expect(f).toEqual({ length: 2, leafSelfSigned: false, sniInSan: true, expired: false, notYetValid: false, linked: true, trustedRoot: true, anomalies: [] });
  });

  it('the same chain without the enterprise root: unknown_root; reversed: broken_chain', () => {
    const f = chainFeatures(chainOf('leaf', 'int'), 'example.test', leafTime(), defaultTrustStore());
    expect(f.trustedRoot).toBe(false);
    expect(f.anomalies).toEqual(['unknown_root']);
    const g = chainFeatures(chainOf('int', 'leaf'), 'example.test', leafTime(), enterprise);
    expect(g.linked).toBe(false);
    expect(g.anomalies).toContain('broken_chain');
  });

  it('self-signed leaf with a non-matching SNI, expired and not-yet-valid', () => {
    const self = chainOf('self');
    expect(self[0]!.info.selfSigned).toBe(true);
    const t = self[0]!.info.notBefore + 1000;
    expect(chainFeatures(self, 'wrong.test', t, enterprise).anomalies).toEqual(['self_signed', 'sni_mismatch']);
    expect(chainFeatures(self, 'self.test', self[0]!.info.notAfter + 1, enterprise).anomalies).toEqual(['self_signed', 'expired']);
    expect(chainFeatures(self, null, self[0]!.info.notBefore - 1, enterprise)).toMatchObject({ notYetValid: true, sniInSan: null });
  });

  it('wildcards cover exactly one label', () => {
    expect(hostMatches('*.example.test', 'a.example.test')).toBe(true);
    expect(hostMatches('*.example.test', 'a.b.example.test')).toBe(false);
    expect(hostMatches('*.example.test', 'example.test')).toBe(false);
    expect(hostMatches('Example.TEST', 'example.test.')).toBe(true);
  });
});

describe('buildTlsInfo', () => {
  function flow() {
    const h = harness(tlsDissector);
    h.feed(0, tlsFx('tls12-chain.client'), 1);
    h.feed(1, tlsFx('tls12-chain.server'), 2);
    h.end();
    return { summary: summarizeTls(h.records as TlsRecord[]), ders: h.certs.map((c) => c.der) };
  }

  it('JA4/JA3 always, JA4S/JA4X only with JA4+ on; chain features from the handed-off certificates', () => {
    const { summary, ders } = flow();
    const x509 = ders.map(rec);
    const certs = ders.map((d, i) => certInfoFromX509(x509[i]!, x509Sha256(d), d));
    const off = buildTlsInfo(summary, certs, { ja4Plus: false, trust: enterprise, flowTs: leafTime(), x509, ders });
    expect(off.version).toBe('1.2');
    expect(off.sni).toBe('example.test');
    expect(off.alpnOffered).toEqual(['h2', 'http/1.1']);
    expect(off.nextProtocol).toBe('h2');
    expect(off.cipher).toBe('c030');
    expect(off.ja4).toMatch(/^t12d\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect(off.ja3).toMatch(/^[0-9a-f]{32}$/);
    expect(off.ja3s).toMatch(/^[0-9a-f]{32}$/);
    expect(off.ja4s).toBeNull();
    expect(off.ja4x).toEqual([]);
    expect(off.established).toBe(true);
    expect(off.chain.map((c) => c.subjectCn)).toEqual(['example.test', 'NDR Test Intermediate']);
    expect(off.chainFeatures).toMatchObject({ length: 2, linked: true, trustedRoot: true, sniInSan: true, anomalies: [] });
    expect(off.supportedCiphers.length).toBeGreaterThan(10);
    const on = buildTlsInfo(summary, certs, { ja4Plus: true, trust: enterprise, flowTs: leafTime(), x509, ders });
    expect(on.ja4s).toMatch(/^t12\d{2}h2_c030_[0-9a-f]{12}$/);
    expect(on.ja4x.length).toBe(2);
    // through the engine-cache adapter: same result
    const byShaRec = new Map(ders.map((d, i) => [x509Sha256(d), x509[i]]));
    const byShaDer = new Map(ders.map((d) => [x509Sha256(d), d]));
    const viaCache = tlsInfoFromCache(summary, ders.map((d) => x509Sha256(d)), { get: (s) => byShaRec.get(s) ?? null, der: (s) => byShaDer.get(s) ?? null }, { ja4Plus: true, trust: enterprise, flowTs: leafTime() });
    expect(viaCache).toEqual(on);
  });

  it('HRR flow: extraJa4 holds the second ClientHello, version from the real ServerHello', () => {
    const h = harness(tlsDissector);
    h.feed(0, tlsFx('tls13-hrr.client'), 1);
    h.feed(1, tlsFx('tls13-hrr.server'), 2);
    h.end();
    const info = buildTlsInfo(summarizeTls(h.records as TlsRecord[]), [], { ja4Plus: true, trust: enterprise, flowTs: 0 });
    expect(info.version).toBe('1.3');
    expect(info.extraJa4.length).toBe(1);
    expect(info.ja4s?.startsWith('t1302')).toBe(true); // JA4S is of the first ServerHello (the HRR)
    expect(info.chainFeatures).toBeNull();
  });
});
