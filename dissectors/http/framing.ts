/**
 * HTTP/1.x framing: where a header block ends and where a chunk-size line ends. Allocation-free;
 * these are the only functions that answer "need more" (STYLE.md rule 3).
 */

export const NEED_MORE = 0;
export const INVALID = -1;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Length of the header block at the start of `b` (start line through the empty line, inclusive),
 * NEED_MORE when the empty line is not there yet, INVALID when none was found within `maxBytes`.
 * Accepts CRLF and bare LF line ends (RFC 9112 §2.2 lets a recipient recognise a lone LF).
 * `scanFrom` lets a caller resume where the previous (incomplete) scan stopped.
 */
export function httpHeadLength(b: Uint8Array, maxBytes: number, scanFrom = 0): number {
  const limit = Math.min(b.length, maxBytes);
  let p = b.indexOf(LF, scanFrom);
  while (p !== -1 && p < limit) {
    // After this LF: either LF (bare) or CR LF ends the block.
    const n1 = p + 1;
    if (n1 < limit && b[n1] === LF) return n1 + 1;
    if (n1 + 1 < limit && b[n1] === CR && b[n1 + 1] === LF) return n1 + 2;
    p = b.indexOf(LF, n1);
  }
  return b.length >= maxBytes ? INVALID : NEED_MORE;
}

/** Where to resume scanning after an incomplete httpHeadLength() over `available` bytes. */
export function headResumeAt(available: number): number {
  // The terminator is at most 3 bytes (LF CR LF); back off so a split one is still found.
  return available > 3 ? available - 3 : 0;
}

/** Length of one line (LF included) at the start of `b`, NEED_MORE, or INVALID past maxBytes. */
export function lineLength(b: Uint8Array, maxBytes: number): number {
  const limit = Math.min(b.length, maxBytes);
  const p = b.indexOf(LF);
  if (p !== -1 && p < limit) return p + 1;
  return b.length >= maxBytes ? INVALID : NEED_MORE;
}

/** Number of leading CR/LF bytes (empty lines before a start line, RFC 9112 §2.2). */
export function leadingNewlines(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && (b[i] === CR || b[i] === LF)) i++;
  return i;
}
