/**
 * UTCTime / GeneralizedTime → epoch ms (RFC 5280 §4.1.2.5: "YYMMDDHHMMSSZ" / "YYYYMMDDHHMMSSZ";
 * UTCTime years ≥ 50 are 19YY). Returns NaN for a malformed value; never throws.
 */
import { Tag } from './der.js';

function digits(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = (b[at + i] as number) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

export function derTimeToMs(tag: number, b: Uint8Array): number {
  let year: number;
  let p: number;
  if (tag === Tag.UtcTime) {
    if (b.length !== 13) return NaN;
    const yy = digits(b, 0, 2);
    if (yy < 0) return NaN;
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = 2;
  } else if (tag === Tag.GeneralizedTime) {
    // fractional seconds are forbidden by RFC 5280 but tolerated: "YYYYMMDDHHMMSS[.f+]Z"
    if (b.length < 15) return NaN;
    year = digits(b, 0, 4);
    if (year < 0) return NaN;
    p = 4;
  } else {
    return NaN;
  }
  const mo = digits(b, p, 2);
  const d = digits(b, p + 2, 2);
  const h = digits(b, p + 4, 2);
  const mi = digits(b, p + 6, 2);
  const s = digits(b, p + 8, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return NaN;
  let q = p + 10;
  let ms = 0;
  if (tag === Tag.GeneralizedTime && q < b.length && b[q] === 0x2e) {
    q++;
    let scale = 100;
    const start = q;
    while (q < b.length - 1) {
      const c = (b[q] as number) - 0x30;
      if (c < 0 || c > 9) return NaN;
      ms += c * scale;
      scale /= 10;
      q++;
    }
    if (q === start) return NaN;
    ms = Math.floor(ms);
  }
  if (q !== b.length - 1 || b[q] !== 0x5a) return NaN; // must end in 'Z'
  const t = Date.UTC(year, mo - 1, d, h, mi, s, ms);
  // reject rolled-over dates such as 31 February
  if (new Date(t).getUTCDate() !== d) return NaN;
  return t;
}
