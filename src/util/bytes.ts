/** Byte helpers: copies at the boundary, hex, bounded string decoding (STYLE.md rule 6). */

/** An owned copy of a view (never `.slice()` on a Buffer: that is a view). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}

/** The parts one after another in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hex(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[b[i] as number];
  return s;
}

/** Four-digit forms, each built once on first use as a flat string (no concatenation per call). */
const HEX4: (string | undefined)[] = new Array<string | undefined>(65536).fill(undefined);
const HEXC = '0123456789abcdef';

/** 4-digit lowercase hex of a 16-bit value, as JA4 writes cipher and extension codes. */
export function hex4(v: number): string {
  const i = v & 0xffff;
  let s = HEX4[i];
  if (s === undefined) {
    s = String.fromCharCode(HEXC.charCodeAt(i >>> 12), HEXC.charCodeAt((i >>> 8) & 15), HEXC.charCodeAt((i >>> 4) & 15), HEXC.charCodeAt(i & 15));
    HEX4[i] = s;
  }
  return s;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** UTF-8 decode of at most maxBytes bytes (replacement chars for invalid sequences). */
export function utf8Bounded(b: Uint8Array, maxBytes: number): string {
  return utf8.decode(b.length > maxBytes ? b.subarray(0, maxBytes) : b);
}

/** Latin-1 decode of at most maxBytes bytes (one char per byte, never fails). */
export function latin1Bounded(b: Uint8Array, maxBytes: number): string {
  const n = Math.min(b.length, maxBytes);
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

export function startsWith(b: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (b.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

export function asciiBytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
  return out;
}
