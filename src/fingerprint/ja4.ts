/**
 * JA4 TLS client fingerprint (FoxIO, BSD 3-Clause; see ../shared/conformance/ja4/SPEC-NOTES.md §1).
 * a_b_c with a = P VV S CC EE AA; b = hash12(sorted ciphers); c = hash12(sorted extensions minus
 * SNI/ALPN [+ "_" + signature algorithms in wire order]). GREASE is dropped everywhere.
 */
import { hex4 } from '../util/bytes.js';
import { isGrease } from '../../dissectors/tls/extensions.js';
import type { TlsClientHello } from '../../dissectors/tls/types.js';
import { hash12, hash12Bytes } from './hash.js';

export type Ja4Transport = 't' | 'q' | 'd';

export interface Ja4Options {
  /**
   * ALPN characters: 'reference' = what the reference tools and the conformance data do
   * (non-ASCII byte → '9', single char → char + '0'); 'spec' = technical_details/JA4.md
   * (non-alphanumeric → first hex digit of the first byte + last hex digit of the last byte,
   * single char twice). Default 'reference'.
   */
  readonly alpnRule?: 'reference' | 'spec';
  /**
   * GREASE inside signature_algorithms: JA4.md and the Python tool drop it, the Rust/Wireshark/
   * Zeek tools keep it; no capture arbitrates (DISAGREEMENTS.md D3). Default false (drop).
   */
  readonly keepSigAlgGrease?: boolean;
}

export interface Ja4Result {
  ja4: string;
  ja4_r: string;
  ja4_o: string;
  ja4_ro: string;
}

const CHARS = '0123456789abcdef';

/** Two-char version code (SPEC-NOTES §1.2). */
export function tlsVersionCode(v: number): string {
  switch (v) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0002: return 's2';
    case 0xfeff: return 'd1';
    case 0xfefd: return 'd2';
    case 0xfefc: return 'd3';
    default: return '00';
  }
}

function isDtlsVersion(v: number): boolean {
  return v === 0xfeff || v === 0xfefd || v === 0xfefc;
}

/** Highest offered version: supported_versions without GREASE, else legacy_version. DTLS counts down. */
export function offeredVersion(h: TlsClientHello): number {
  let best = -1;
  const sv = h.supportedVersions;
  for (let i = 0; i < sv.length; i++) {
    const v = sv[i] as number;
    if (isGrease(v)) continue;
    if (best < 0) best = v;
    else if (isDtlsVersion(v) && isDtlsVersion(best)) {
      if (v < best) best = v;
    } else if (v > best) best = v;
  }
  return best < 0 ? h.legacyVersion : best;
}

export function count2(n: number): string {
  if (n > 99) return '99';
  return n < 10 ? '0' + n : '' + n;
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** First/last ALPN characters (SPEC-NOTES §1.5). */
export function alpnChars(name: Uint8Array | null | undefined, rule: 'reference' | 'spec' = 'reference'): string {
  if (!name || name.length === 0) return '00';
  const n = name.length;
  const f = name[0] as number;
  const l = name[n - 1] as number;
  if (rule === 'spec') {
    if (isAlnum(f) && isAlnum(l)) return String.fromCharCode(f) + String.fromCharCode(l);
    return (CHARS[f >>> 4] as string) + (CHARS[l & 0x0f] as string);
  }
  const first = f < 0x80 ? String.fromCharCode(f) : '9';
  const last = n > 1 ? (l < 0x80 ? String.fromCharCode(l) : '9') : '0';
  return first + last;
}

/** Allocation cache: one hex-string list reused by every call (cleared on entry, never escapes it). */
const hexScratch: string[] = [];

/** "0a0a,1301,…": joined from the shared table into one flat string. */
function hexList(vals: readonly number[]): string {
  hexScratch.length = vals.length;
  for (let i = 0; i < vals.length; i++) hexScratch[i] = hex4(vals[i] as number);
  return hexScratch.join(',');
}

function ascending(a: number, b: number): number {
  return a - b;
}

/** The 'a' section. */
export function ja4Prefix(h: TlsClientHello, transport: Ja4Transport, ciphers: number, exts: number, opts?: Ja4Options): string {
  const sni = h.extensions.indexOf(0x0000) >= 0 ? 'd' : 'i';
  return transport + tlsVersionCode(offeredVersion(h)) + sni + count2(ciphers) + count2(exts) + alpnChars(h.alpnRaw[0], opts?.alpnRule ?? 'reference');
}

interface Lists {
  ciphers: number[];
  exts: number[]; // GREASE removed, wire order
  sigs: string;
}

function lists(h: TlsClientHello, opts?: Ja4Options): Lists {
  const ciphers: number[] = [];
  const cs = h.cipherSuites;
  for (let i = 0; i < cs.length; i++) if (!isGrease(cs[i] as number)) ciphers.push(cs[i] as number);
  const exts: number[] = [];
  const es = h.extensions;
  for (let i = 0; i < es.length; i++) if (!isGrease(es[i] as number)) exts.push(es[i] as number);
  const keep = opts?.keepSigAlgGrease === true;
  let sigs = '';
  const sa = h.signatureAlgorithms;
  let first = true;
  for (let i = 0; i < sa.length; i++) {
    const v = sa[i] as number;
    if (!keep && isGrease(v)) continue;
    if (!first) sigs += ',';
    sigs += hex4(v);
    first = false;
  }
  return { ciphers, exts, sigs };
}

// Allocation cache for the hot path: hex lists are laid out as ASCII here and hashed without
// building strings. Grown on demand, one per thread, never escapes a call.
const HEXC = Uint8Array.from([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);
let scratch = new Uint8Array(8192);

function ensure(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(n * 2);
  return scratch;
}

/** Write "hhhh,hhhh,…" at `at`; returns the new end. */
function putHexList(buf: Uint8Array, at: number, vals: readonly number[], skipSniAlpn: boolean, skipGrease: boolean): number {
  let p = at;
  let first = true;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] as number;
    if (skipGrease && isGrease(v)) continue;
    if (skipSniAlpn && (v === 0x0000 || v === 0x0010)) continue;
    if (!first) buf[p++] = 44; // ','
    first = false;
    buf[p++] = HEXC[(v >>> 12) & 15] as number;
    buf[p++] = HEXC[(v >>> 8) & 15] as number;
    buf[p++] = HEXC[(v >>> 4) & 15] as number;
    buf[p++] = HEXC[v & 15] as number;
  }
  return p;
}

/** JA4 only (two hashes, no intermediate strings): the hot-path form. */
export function ja4(h: TlsClientHello, transport: Ja4Transport, opts?: Ja4Options): string {
  const cs = h.cipherSuites;
  const ciphers: number[] = [];
  for (let i = 0; i < cs.length; i++) if (!isGrease(cs[i] as number)) ciphers.push(cs[i] as number);
  const es = h.extensions;
  const exts: number[] = [];
  let extCount = 0;
  for (let i = 0; i < es.length; i++) {
    const v = es[i] as number;
    if (isGrease(v)) continue;
    extCount++;
    if (v !== 0x0000 && v !== 0x0010) exts.push(v);
  }
  const a = ja4Prefix(h, transport, ciphers.length, extCount, opts);
  ciphers.sort(ascending);
  exts.sort(ascending);
  const sa = h.signatureAlgorithms;
  const buf = ensure(5 * (ciphers.length + exts.length + sa.length) + 2);
  let end = putHexList(buf, 0, ciphers, false, false);
  const b = hash12Bytes(buf.subarray(0, end));
  end = putHexList(buf, 0, exts, false, false);
  const sigStart = end + 1;
  const sigEnd = putHexList(buf, sigStart, sa, false, opts?.keepSigAlgGrease !== true);
  if (sigEnd > sigStart) {
    buf[end] = 95; // '_'
    end = sigEnd;
  }
  return a + '_' + b + '_' + hash12Bytes(buf.subarray(0, end));
}

/** JA4 with its raw (_r), original-order (_o) and raw original-order (_ro) forms. */
export function ja4All(h: TlsClientHello, transport: Ja4Transport, opts?: Ja4Options): Ja4Result {
  const l = lists(h, opts);
  const a = ja4Prefix(h, transport, l.ciphers.length, l.exts.length, opts);
  const origC = hexList(l.ciphers);
  let origE = hexList(l.exts);
  const sortedE: number[] = [];
  for (let i = 0; i < l.exts.length; i++) {
    const v = l.exts[i] as number;
    if (v !== 0x0000 && v !== 0x0010) sortedE.push(v);
  }
  sortedE.sort(ascending);
  const sortedC = hexList(l.ciphers.slice().sort(ascending));
  let sortedEs = hexList(sortedE);
  if (l.sigs.length > 0) {
    sortedEs += '_' + l.sigs;
    origE += '_' + l.sigs;
  }
  return {
    ja4: a + '_' + hash12(sortedC) + '_' + hash12(sortedEs),
    ja4_r: a + '_' + sortedC + '_' + sortedEs,
    ja4_o: a + '_' + hash12(origC) + '_' + hash12(origE),
    ja4_ro: a + '_' + origC + '_' + origE,
  };
}
