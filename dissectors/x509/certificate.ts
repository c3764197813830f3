/**
 * Certificate → X509Record (RFC 5280 §4.1). Fatal structure problems return an event id;
 * problems inside optional parts (times, extensions) are kept as events on the record.
 */
import { hex } from '../../src/util/bytes.js';
import { Der, oidToString, Tag } from './der.js';
import type { X509EventId } from './events.js';
import { type ExtOut, parseExtensions } from './extensions.js';
import { type NameOut, parseName } from './name.js';
import { derTimeToMs } from './time.js';
import type { X509Limits, X509Record } from './types.js';

const SIG_ALGS: { readonly [oid: string]: string } = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'rsassaPss',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.1': 'ecdsa-with-SHA224',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
  '2.16.840.1.101.3.4.3.2': 'dsa-with-sha256',
  '1.3.101.112': 'ed25519',
  '1.3.101.113': 'ed448',
};

const CURVES: { readonly [oid: string]: readonly [string, number] } = {
  '1.2.840.10045.3.1.7': ['P-256', 256],
  '1.3.132.0.34': ['P-384', 384],
  '1.3.132.0.35': ['P-521', 521],
  '1.3.132.0.33': ['P-224', 224],
  '1.2.840.10045.3.1.1': ['P-192', 192],
  '1.3.132.0.10': ['secp256k1', 256],
  '1.3.36.3.3.2.8.1.1.7': ['brainpoolP256r1', 256],
  '1.3.36.3.3.2.8.1.1.11': ['brainpoolP384r1', 384],
  '1.3.36.3.3.2.8.1.1.13': ['brainpoolP512r1', 512],
};

function addEvent(events: X509EventId[], id: X509EventId): void {
  if (events.indexOf(id) < 0) events.push(id);
}

/** Bit length of an unsigned big-endian INTEGER's content. */
function intBits(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  let top = b[i] as number;
  let bits = 0;
  while (top > 0) {
    bits++;
    top >>>= 1;
  }
  return (b.length - i - 1) * 8 + bits;
}

interface KeyOut {
  type: string | null;
  bits: number | null;
  curve: string | null;
}

/** SubjectPublicKeyInfo (RFC 5280 §4.1.2.7; RFC 3279, 5480, 8410). */
function parseSpki(d: Der, lim: X509Limits, out: KeyOut, events: X509EventId[]): void {
  const spki = d.enter(Tag.Sequence);
  if (spki < 0) return;
  const alg = d.enter(Tag.Sequence);
  const oid = oidToString(d.prim(Tag.Oid));
  let paramTag = -1;
  let params: Uint8Array = new Uint8Array(0);
  if (d.remaining > 0) {
    paramTag = d.any();
    params = d.last;
  }
  d.leave(alg);
  const key = d.prim(Tag.BitString);
  d.leave(spki);
  if (d.err !== null || oid === null) return;
  switch (oid) {
    case '1.2.840.113549.1.1.1':
    case '1.2.840.113549.1.1.10': {
      out.type = oid === '1.2.840.113549.1.1.1' ? 'rsa' : 'rsa-pss';
      // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1)
      const k = new Der(key.subarray(1), lim.maxDerDepth, lim.maxDerElementsCount);
      const s = k.enter(Tag.Sequence);
      const n = k.prim(Tag.Integer);
      if (s >= 0 && k.err === null) out.bits = intBits(n);
      return;
    }
    case '1.2.840.10045.2.1': {
      out.type = 'ec';
      if (paramTag === Tag.Oid) {
        const c = oidToString(params);
        const known = c !== null ? CURVES[c] : undefined;
        out.curve = known !== undefined ? known[0] : c;
        out.bits = known !== undefined ? known[1] : null;
      } else if (paramTag === Tag.Sequence) {
        out.curve = 'explicit';
        addEvent(events, 'x509.explicit_ec_params');
        // uncompressed point 04||X||Y: field size from the point length
        if (key.length > 2 && key[1] === 4) out.bits = ((key.length - 2) >>> 1) * 8;
      }
      return;
    }
    case '1.3.101.112':
      out.type = 'ed25519';
      out.bits = 256;
      return;
    case '1.3.101.113':
      out.type = 'ed448';
      out.bits = 456;
      return;
    case '1.2.840.10040.4.1': {
      out.type = 'dsa';
      if (paramTag === Tag.Sequence) {
        const p = new Der(params, lim.maxDerDepth, lim.maxDerElementsCount);
        const pv = p.prim(Tag.Integer);
        if (p.err === null) out.bits = intBits(pv);
      }
      return;
    }
    default:
      out.type = oid;
  }
}

function serialHex(b: Uint8Array): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return hex(b, i);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readTime(d: Der, events: X509EventId[]): number | null {
  const t = d.any();
  if (t < 0) return null;
  const ms = derTimeToMs(t, d.last);
  if (Number.isNaN(ms)) {
    addEvent(events, 'x509.bad_time');
    return null;
  }
  // RFC 5280 §4.1.2.5: dates 1950..2049 MUST be UTCTime
  if (t === Tag.GeneralizedTime) {
    const y = new Date(ms).getUTCFullYear();
    if (y >= 1950 && y <= 2049) addEvent(events, 'x509.time_out_of_range');
  }
  return ms;
}

export function parseCertificate(der: Uint8Array, lim: X509Limits): X509Record | X509EventId {
  if (der.length > lim.maxCertBytes) return 'x509.limit.size';
  const d = new Der(der, lim.maxDerDepth, lim.maxDerElementsCount);
  const events: X509EventId[] = [];
  const cert = d.enter(Tag.Sequence);
  if (cert < 0) return d.err ?? 'x509.malformed';
  const tbs = d.enter(Tag.Sequence);
  let version = 1;
  if (d.peek() === 0xa0) {
    const v = d.enter(0xa0); // [0] EXPLICIT Version
    const vb = d.prim(Tag.Integer);
    d.leave(v);
    version = vb.length === 1 ? (vb[0] as number) + 1 : 0;
    if (version < 1 || version > 3) addEvent(events, 'x509.bad_version');
  }
  const serial = serialHex(d.prim(Tag.Integer));
  const sigAlg = d.enter(Tag.Sequence);
  const sigOidBytes = d.prim(Tag.Oid);
  d.leave(sigAlg);
  const sigOid = oidToString(sigOidBytes);
  if (d.err === null && sigOid === null) return 'x509.bad_oid';
  const issuer: NameOut = { text: '', cn: null, oids: [], truncated: false, raw: der.subarray(0, 0) };
  parseName(d, lim.maxNameBytes, issuer);
  const validity = d.enter(Tag.Sequence);
  const notBefore = readTime(d, events);
  const notAfter = readTime(d, events);
  d.leave(validity);
  const subject: NameOut = { text: '', cn: null, oids: [], truncated: false, raw: der.subarray(0, 0) };
  parseName(d, lim.maxNameBytes, subject);
  if (issuer.truncated || subject.truncated) addEvent(events, 'x509.limit.name');
  const key: KeyOut = { type: null, bits: null, curve: null };
  parseSpki(d, lim, key, events);
  const ext: ExtOut = { oids: [], sanDns: [], sanIp: [], isCa: null, pathLen: null, keyUsage: null, extKeyUsage: null, subjectKeyId: null, authorityKeyId: null, events };
  while (d.remaining > 0 && d.err === null) {
    const t = d.peek();
    if (t === 0xa3) {
      const x = d.enter(0xa3); // [3] EXPLICIT Extensions
      parseExtensions(d, lim, ext);
      d.leave(x);
    } else {
      d.any(); // [1]/[2] unique identifiers
    }
  }
  d.leave(tbs);
  const outerAlg = d.enter(Tag.Sequence);
  d.leave(outerAlg);
  d.prim(Tag.BitString);
  d.leave(cert);
  if (d.err !== null) {
    // limits and bad OIDs inside names are fatal for the structure walk; report them as such
    return d.err;
  }
  if (d.remaining > 0) addEvent(events, 'x509.trailing_bytes');
  const sigName = sigOid !== null ? (SIG_ALGS[sigOid] ?? sigOid) : '';
  return {
    kind: 'x509.certificate',
    version,
    serial,
    signatureAlgorithmOid: sigOid ?? '',
    signatureAlgorithm: sigName,
    issuer: issuer.text,
    subject: subject.text,
    issuerCn: issuer.cn,
    subjectCn: subject.cn,
    selfIssued: equalBytes(issuer.raw, subject.raw),
    notBefore,
    notAfter,
    keyType: key.type,
    keyBits: key.bits,
    curve: key.curve,
    sanDns: ext.sanDns,
    sanIp: ext.sanIp,
    isCa: ext.isCa,
    pathLen: ext.pathLen,
    keyUsage: ext.keyUsage,
    extKeyUsage: ext.extKeyUsage,
    subjectKeyId: ext.subjectKeyId,
    authorityKeyId: ext.authorityKeyId,
    issuerOids: issuer.oids,
    subjectOids: subject.oids,
    extensionOids: ext.oids,
    events,
  };
}
