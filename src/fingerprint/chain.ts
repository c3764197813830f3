/**
 * Certificate-chain features (DESIGN.md §2.5): length, self-signed leaf, SNI in SAN, validity at
 * flow time, linkage (each cert issued by the next) and whether the chain ends in a trusted root.
 */
import type { CertInfo, ChainFeatures, X509Record } from '../../dissectors/x509/types.js';
import { endsInTrustedRoot, issuedBy, toX509, type TrustStore } from './trust.js';

/** One chain element: the CertInfo plus, when the cache still has them, the parsed record and DER. */
export interface ChainCert {
  readonly info: CertInfo;
  readonly record?: X509Record | null;
  readonly der?: Uint8Array | null;
}

/**
 * CertInfo per parsed certificate: the engine's certificate cache hands out one record object per
 * distinct certificate, so a certificate seen on many flows is described once and shared by their
 * records (treat CertInfo as read-only).
 */
const infoByRecord = new WeakMap<X509Record, CertInfo>();

/** CertInfo from a parsed certificate (selfSigned verified with the DER when given). */
export function certInfoFromX509(rec: X509Record, sha256: string, der?: Uint8Array | null): CertInfo {
  const known = infoByRecord.get(rec);
  if (known !== undefined && known.sha256 === sha256) return known;
  const info = describe(rec, sha256, der);
  // Kept only when complete: a self-issued certificate is checked against its DER when there is one.
  if (der || !rec.selfIssued) infoByRecord.set(rec, info);
  return info;
}

function describe(rec: X509Record, sha256: string, der?: Uint8Array | null): CertInfo {
  let selfSigned = rec.selfIssued;
  if (selfSigned && der) {
    const x = toX509(der);
    if (x !== null) selfSigned = issuedBy(x, x);
  }
  const san: string[] = [];
  for (const d of rec.sanDns) san.push(d);
  for (const ip of rec.sanIp) san.push(ip);
  return {
    sha256,
    subject: rec.subject,
    issuer: rec.issuer,
    subjectCn: rec.subjectCn,
    issuerCn: rec.issuerCn,
    serial: rec.serial,
    notBefore: rec.notBefore ?? 0,
    notAfter: rec.notAfter ?? 0,
    san,
    isCa: rec.isCa,
    keyType: rec.keyType,
    keyBits: rec.keyBits,
    curve: rec.curve,
    signatureAlgorithm: rec.signatureAlgorithm || null,
    selfSigned,
  };
}

/** RFC 6125 §6.4: case-insensitive; a wildcard covers exactly one left-most label. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p === h) return true;
  if (!p.startsWith('*.')) return false;
  const suffix = p.substring(1); // '.example.com'
  if (!h.endsWith(suffix)) return false;
  const label = h.substring(0, h.length - suffix.length);
  return label.length > 0 && label.indexOf('.') < 0;
}

export function sniMatchesCert(sni: string, leaf: CertInfo): boolean {
  if (leaf.san.length > 0) {
    for (const s of leaf.san) if (hostMatches(s, sni)) return true;
    return false;
  }
  // legacy certificates without SAN: the subject CN
  return leaf.subjectCn !== null && hostMatches(leaf.subjectCn, sni);
}

/** What a chain's features are apart from flow time and SNI: computed once per distinct chain. */
interface ChainVerdict {
  readonly certs: readonly CertInfo[];
  readonly trust: TrustStore;
  readonly linked: boolean;
  readonly trustedRoot: boolean;
  /** SNI → matches the leaf (a few names per leaf; bounded). */
  readonly sni: Map<string, boolean>;
}

/** Keyed by the leaf's shared CertInfo (chain.ts describes each certificate once). */
const verdictByLeaf = new WeakMap<CertInfo, ChainVerdict>();
const SNI_MEMO_MAX = 64;

function sameChain(a: readonly CertInfo[], b: readonly ChainCert[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== (b[i] as ChainCert).info) return false;
  return true;
}

function judge(chain: readonly ChainCert[], trust: TrustStore): ChainVerdict {
  const n = chain.length;
  let linked = true;
  for (let i = 0; i + 1 < n; i++) {
    const child = chain[i] as ChainCert;
    const parent = chain[i + 1] as ChainCert;
    if (child.info.issuer !== parent.info.subject) {
      linked = false;
      break;
    }
    const cx = toX509(child.der);
    const px = toX509(parent.der);
    if (cx !== null && px !== null && !issuedBy(cx, px)) {
      linked = false;
      break;
    }
  }
  let trustedRoot = false;
  if (n > 0) {
    const last = chain[n - 1] as ChainCert;
    trustedRoot = endsInTrustedRoot(trust, last.info.sha256, last.info.issuer, last.record?.authorityKeyId ?? null, last.der ?? null);
  }
  return { certs: chain.map((c) => c.info), trust, linked, trustedRoot, sni: new Map() };
}

function verdict(chain: readonly ChainCert[], trust: TrustStore): ChainVerdict {
  const leaf = (chain[0] as ChainCert).info;
  const known = verdictByLeaf.get(leaf);
  // Memoised only with the DERs at hand (the signature checks need them).
  if (known !== undefined && known.trust === trust && sameChain(known.certs, chain)) return known;
  const v = judge(chain, trust);
  if (chain.every((c) => c.der)) verdictByLeaf.set(leaf, v);
  return v;
}

export function chainFeatures(chain: readonly ChainCert[], sni: string | null, flowTs: number, trust: TrustStore): ChainFeatures {
  const n = chain.length;
  const leaf = n > 0 ? (chain[0] as ChainCert).info : null;
  let expired = false;
  let notYetValid = false;
  for (const c of chain) {
    if (c.info.notAfter !== 0 && c.info.notAfter < flowTs) expired = true;
    if (c.info.notBefore !== 0 && c.info.notBefore > flowTs) notYetValid = true;
  }
  const v = n > 0 ? verdict(chain, trust) : null;
  const linked = v === null ? true : v.linked;
  const trustedRoot = v === null ? false : v.trustedRoot;
  const leafSelfSigned = leaf !== null && leaf.selfSigned;
  let sniInSan: boolean | null = null;
  if (sni !== null && leaf !== null && v !== null) {
    const memo = v.sni.get(sni);
    if (memo !== undefined) sniInSan = memo;
    else {
      sniInSan = sniMatchesCert(sni, leaf);
      if (v.sni.size < SNI_MEMO_MAX) v.sni.set(sni, sniInSan);
    }
  }
  const anomalies: string[] = [];
  if (leafSelfSigned && !trustedRoot) anomalies.push('self_signed');
  else if (n > 0 && !trustedRoot) anomalies.push('unknown_root');
  if (!linked) anomalies.push('broken_chain');
  if (expired) anomalies.push('expired');
  if (notYetValid) anomalies.push('not_yet_valid');
  if (sniInSan === false) anomalies.push('sni_mismatch');
  return { length: n, leafSelfSigned, sniInSan, expired, notYetValid, linked, trustedRoot, anomalies };
}
