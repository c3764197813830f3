/** Byte helpers: copies at the boundary, hex, bounded string decoding (STYLE.md rule 6). */

/** An owned copy of a view (never `.slice()` on a Buffer: that is a view). */
export function copyBytes(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  out.set(src);
  return out;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

export function hex(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += HEX[b[i] as number];
  return s;
}

/** All 65,536 four-digit forms, built on first use (flat strings: no concatenation per call). */
let HEX4: string[] | null = null;

/** 4-digit lowercase hex of a 16-bit value, as JA4 writes cipher and extension codes. */
export function hex4(v: number): string {
  if (HEX4 === null) {
    HEX4 = new Array<string>(65536);
    for (let i = 0; i < 65536; i++) HEX4[i] = (HEX[i >>> 8] as string) + (HEX[i & 0xff] as string);
    for (let i = 0; i < 65536; i++) HEX4[i] = (HEX4[i] as string).split('').join(''); // flatten
  }
  return HEX4[v & 0xffff] as string;
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

/** True when every byte is printable ASCII (0x20..0x7e). */
export function isPrintableAscii(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
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
