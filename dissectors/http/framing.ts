/**
 * HTTP/1.x framing: where a header block ends and where a chunk-size line ends. Allocation-free;
 * these are the only functions that answer "need more" (STYLE.md rule 3).
 */

export const NEED_MORE = 0;
export const INVALID = -1;

const LF = 0x0a;
const CR = 0x0d;

/**
 * Length of the header block at b[start] (start line through the empty line, inclusive),
 * NEED_MORE when the empty line is not there yet, INVALID when none was found within `maxBytes`.
 * Accepts CRLF and bare LF line ends (RFC 9112 §2.2 lets a recipient recognise a lone LF).
 * `scanFrom` (relative to start) lets a caller resume where the previous (incomplete) scan stopped.
 * Offsets rather than a subarray: a view object per message is garbage on a crowd of small flows.
 */
export function httpHeadLength(b: Uint8Array, start: number, maxBytes: number, scanFrom = 0): number {
  const avail = b.length - start;
  const limit = start + Math.min(avail, maxBytes);
  // A byte loop: the lines of a head are short, and indexOf's call costs more than it scans.
  for (let p = start + scanFrom; p < limit; p++) {
    if (b[p] !== LF) continue;
    // After this LF: either LF (bare) or CR LF ends the block.
    const n1 = p + 1;
    if (n1 < limit && b[n1] === LF) return n1 + 1 - start;
    if (n1 + 1 < limit && b[n1] === CR && b[n1 + 1] === LF) return n1 + 2 - start;
  }
  return avail >= maxBytes ? INVALID : NEED_MORE;
}

/** Where to resume scanning after an incomplete httpHeadLength() over `available` bytes. */
export function headResumeAt(available: number): number {
  // The terminator is at most 3 bytes (LF CR LF); back off so a split one is still found.
  return available > 3 ? available - 3 : 0;
}

/** Length of one line (LF included) at b[start], NEED_MORE, or INVALID past maxBytes. */
export function lineLength(b: Uint8Array, start: number, maxBytes: number): number {
  const avail = b.length - start;
  const limit = start + Math.min(avail, maxBytes);
  for (let p = start; p < limit; p++) if (b[p] === LF) return p + 1 - start;
  return avail >= maxBytes ? INVALID : NEED_MORE;
}

/** Number of CR/LF bytes from b[start] (empty lines before a start line, RFC 9112 §2.2). */
export function leadingNewlines(b: Uint8Array, start: number): number {
  let i = start;
  while (i < b.length && (b[i] === CR || b[i] === LF)) i++;
  return i - start;
}
