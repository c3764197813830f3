/**
 * Certificate extensions (RFC 5280 §4.2): subjectAltName (dNSName, iPAddress), basicConstraints,
 * keyUsage, extKeyUsage, subject/authority key identifiers. Every extension's extnID is recorded
 * (hex content octets, encoded order) for JA4X, whether understood or not.
 */
import { hex, latin1Bounded } from '../../src/util/bytes.js';
import { Der, oidToString, Tag } from './der.js';
import type { X509EventId } from './events.js';
import type { X509Limits } from './types.js';

export interface ExtOut {
  oids: string[];
  sanDns: string[];
  sanIp: string[];
  isCa: boolean | null;
  pathLen: number | null;
  keyUsage: string[] | null;
  extKeyUsage: string[] | null;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  events: X509EventId[];
}

const KEY_USAGE = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'] as const;

const EKU: { readonly [oid: string]: string } = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

function addEvent(events: X509EventId[], id: X509EventId): void {
  if (events.indexOf(id) < 0) events.push(id);
}

export function formatIp(b: Uint8Array): string | null {
  if (b.length === 4) return (b[0] as number) + '.' + (b[1] as number) + '.' + (b[2] as number) + '.' + (b[3] as number);
  if (b.length !== 16) return null;
  // RFC 5952: longest run (≥ 2) of zero groups becomes '::'
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i] as number) << 8) | (b[i + 1] as number));
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += (g[i] as number).toString(16);
  }
  return s;
}

function parseSan(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const seq = d.enter(Tag.Sequence);
  if (seq < 0) return addEvent(out.events, 'x509.bad_extension');
  let n = 0;
  while (d.remaining > 0 && d.err === null) {
    const t = d.any();
    if (t < 0) break;
    if (t !== 0x82 && t !== 0x87) continue; // [2] dNSName, [7] iPAddress (IMPLICIT)
    if (++n > lim.maxSanCount) {
      addEvent(out.events, 'x509.limit.san');
      break;
    }
    if (t === 0x82) out.sanDns.push(latin1Bounded(d.last, 255));
    else {
      const ip = formatIp(d.last);
      if (ip !== null) out.sanIp.push(ip);
      else addEvent(out.events, 'x509.bad_extension');
    }
  }
  if (d.err !== null) addEvent(out.events, 'x509.bad_extension');
}

function parseBasicConstraints(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const seq = d.enter(Tag.Sequence);
  out.isCa = false;
  if (seq < 0) return addEvent(out.events, 'x509.bad_extension');
  if (d.peek() === Tag.Boolean) {
    const b = d.prim(Tag.Boolean);
    out.isCa = b.length === 1 && b[0] !== 0;
  }
  if (d.peek() === Tag.Integer) {
    const b = d.prim(Tag.Integer);
    let n = 0;
    for (let i = 0; i < b.length && i < 4; i++) n = n * 256 + (b[i] as number);
    out.pathLen = n;
  }
  if (d.err !== null) addEvent(out.events, 'x509.bad_extension');
}

function parseKeyUsage(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const bits = d.prim(Tag.BitString);
  if (d.err !== null || bits.length === 0) return addEvent(out.events, 'x509.bad_extension');
  const ku: string[] = [];
  for (let i = 0; i < KEY_USAGE.length; i++) {
    const byte = 1 + (i >>> 3);
    if (byte < bits.length && ((bits[byte] as number) & (0x80 >>> (i & 7))) !== 0) ku.push(KEY_USAGE[i] as string);
  }
  out.keyUsage = ku;
}

function parseEku(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const seq = d.enter(Tag.Sequence);
  if (seq < 0) return addEvent(out.events, 'x509.bad_extension');
  const eku: string[] = [];
  while (d.remaining > 0 && d.err === null && eku.length < lim.maxSanCount) {
    const o = oidToString(d.prim(Tag.Oid));
    if (o === null) break;
    eku.push(EKU[o] ?? o);
  }
  if (d.err !== null) addEvent(out.events, 'x509.bad_extension');
  out.extKeyUsage = eku;
}

function parseSki(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const k = d.prim(Tag.OctetString);
  if (d.err !== null) return addEvent(out.events, 'x509.bad_extension');
  out.subjectKeyId = hex(k);
}

function parseAki(v: Uint8Array, lim: X509Limits, out: ExtOut): void {
  const d = new Der(v, lim.maxDerDepth, lim.maxDerElementsCount);
  const seq = d.enter(Tag.Sequence);
  if (seq < 0) return addEvent(out.events, 'x509.bad_extension');
  if (d.peek() === 0x80) out.authorityKeyId = hex(d.prim(0x80)); // [0] keyIdentifier IMPLICIT
  if (d.err !== null) addEvent(out.events, 'x509.bad_extension');
}

/** Walk `[3] EXPLICIT Extensions` content (a SEQUENCE OF Extension) at the cursor. */
export function parseExtensions(d: Der, lim: X509Limits, out: ExtOut): void {
  const seq = d.enter(Tag.Sequence);
  if (seq < 0) return;
  const seen: string[] = [];
  while (d.remaining > 0 && d.err === null) {
    const ext = d.enter(Tag.Sequence);
    if (ext < 0) break;
    const oidBytes = d.prim(Tag.Oid);
    if (d.peek() === Tag.Boolean) d.prim(Tag.Boolean); // critical
    const value = d.prim(Tag.OctetString);
    d.leave(ext);
    if (d.err !== null) break;
    if (out.oids.length >= lim.maxExtensionsCount) {
      addEvent(out.events, 'x509.limit.extensions');
      continue;
    }
    const h = hex(oidBytes);
    out.oids.push(h);
    if (seen.indexOf(h) >= 0) addEvent(out.events, 'x509.duplicate_extension');
    seen.push(h);
    switch (h) {
      case '551d11': parseSan(value, lim, out); break; // 2.5.29.17
      case '551d13': parseBasicConstraints(value, lim, out); break; // 2.5.29.19
      case '551d0f': parseKeyUsage(value, lim, out); break; // 2.5.29.15
      case '551d25': parseEku(value, lim, out); break; // 2.5.29.37
      case '551d0e': parseSki(value, lim, out); break; // 2.5.29.14
      case '551d23': parseAki(value, lim, out); break; // 2.5.29.35
      default: break;
    }
  }
  d.leave(seq);
}
