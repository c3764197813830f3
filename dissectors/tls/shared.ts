/**
 * Hello fields shared between hellos with the same bytes. A network has few client stacks and
 * each sends the same lists (ciphers, groups, signature algorithms, ...), server names and ALPN
 * lists connection after connection; a hello whose list matches one met before gets that list's
 * array (frozen) instead of a new one, so a hello costs a few objects instead of a dozen growing
 * arrays and a name built one character at a time, and what the flow keeps until its end is
 * mostly shared. Lists with a GREASE value are not kept (RFC 8701: clients pick fresh GREASE per
 * connection, so such a list rarely repeats); they are built as before. The tables are bounded
 * and cleared when full (distinct stacks and names that repeat are few; the rest just miss).
 */
import { latin1Bounded } from '../../src/util/bytes.js';

const MAX_LISTS = 4096;
const MAX_NAMES = 4096;

/** The values of a list being read, in a reusable buffer (push/length as readU16Vector's output). */
export class ListScratch {
  vals = new Uint16Array(128);
  length = 0;

  push(v: number): void {
    if (this.length === this.vals.length) {
      const grown = new Uint16Array(this.vals.length * 2);
      grown.set(this.vals);
      this.vals = grown;
    }
    this.vals[this.length++] = v;
  }
}

export const NO_VALUES: readonly number[] = Object.freeze([]);
/** Shared lists by a hash of their values (one list per hash: a collision is a miss). */
const lists = new Map<number, readonly number[]>();

/** The list of `s`'s values: a shared (frozen) array when the same values were met before. */
export function sharedList(s: ListScratch): readonly number[] {
  const n = s.length;
  if (n === 0) return NO_VALUES;
  const v = s.vals;
  let h = n;
  let grease = false;
  for (let i = 0; i < n; i++) {
    const x = v[i] as number;
    if ((x & 0x0f0f) === 0x0a0a && (x >>> 8) === (x & 0xff)) grease = true; // GREASE (RFC 8701 §2)
    h = Math.imul(h ^ x, 0x5bd1e995);
    h ^= h >>> 15;
  }
  if (!grease) {
    const hit = lists.get(h);
    if (hit !== undefined && hit.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) if (hit[i] !== v[i]) { same = false; break; }
      if (same) return hit;
    }
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(v[i] as number);
  if (grease) return out;
  if (lists.size >= MAX_LISTS) lists.clear();
  lists.set(h, Object.freeze(out));
  return out;
}

interface Name {
  readonly bytes: Uint8Array;
  readonly text: string;
}
const names = new Map<number, Name>();

function bytesHash(b: Uint8Array, from: number, to: number): number {
  let h = to - from;
  for (let i = from; i < to; i++) {
    h = Math.imul(h ^ (b[i] as number), 0x01000193);
  }
  return h;
}

function sameBytes(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  if (a.length !== to - from) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[from + i]) return false;
  return true;
}

/** latin1Bounded(v, maxBytes), the same string for the same bytes as last time. */
export function sharedLatin1(v: Uint8Array, maxBytes: number): string {
  const n = Math.min(v.length, maxBytes);
  const h = bytesHash(v, 0, n);
  const hit = names.get(h);
  if (hit !== undefined && sameBytes(hit.bytes, v, 0, n)) return hit.text;
  const text = latin1Bounded(v, maxBytes);
  if (names.size >= MAX_NAMES) names.clear();
  names.set(h, { bytes: v.slice(0, n), text });
  return text;
}

/** What readAlpn made of one extension body, kept for the next hello with the same body. */
export interface AlpnLists {
  readonly bytes: Uint8Array;
  readonly raw: readonly Uint8Array[];
  readonly names: readonly string[];
  /** The longest name's length: a parser with lower limits would have cut it (then: not shared). */
  readonly longest: number;
}
const alpns = new Map<number, AlpnLists>();

/** The ALPN lists read before from the same extension body [from, to) of `b` within these limits, or null. */
export function knownAlpn(b: Uint8Array, from: number, to: number, maxCount: number, maxNameBytes: number): AlpnLists | null {
  const hit = alpns.get(bytesHash(b, from, to));
  if (hit === undefined || hit.raw.length > maxCount || hit.longest > maxNameBytes) return null;
  return sameBytes(hit.bytes, b, from, to) ? hit : null;
}

/** Keep the lists read from the extension body [from, to) of `b` (read whole, without a limit or error). */
export function keepAlpn(b: Uint8Array, from: number, to: number, raw: Uint8Array[], nameList: string[]): void {
  if (alpns.size >= MAX_NAMES) alpns.clear();
  let longest = 0;
  for (const r of raw) if (r.length > longest) longest = r.length;
  alpns.set(bytesHash(b, from, to), { bytes: b.slice(from, to), raw: Object.freeze(raw), names: Object.freeze(nameList), longest });
}
