/**
 * Finding a frame boundary in bytes that may start inside a PDU (a TCP flow picked up mid-stream,
 * as Suricata's stream.midstream): a protocol names how one frame looks (FrameAt), and an offset
 * is a boundary when the frames chained from it stay well-formed up to the end of the bytes.
 * Allocation-free, so probes can use it.
 */

/** The frame at b[p] is well-formed so far but runs past `end` (its header was checked whole). */
export const FRAME_CUT = 0;
/** Not a frame of this protocol. */
export const FRAME_BAD = -1;
/** Too few bytes at b[p] to check even the frame's header. */
export const FRAME_SHORT = -2;

/**
 * One protocol's frame check at b[p] (bytes up to `end`): the frame's total length when it lies
 * whole within the bytes, else FRAME_CUT, FRAME_SHORT or FRAME_BAD.
 */
export type FrameAt = (b: Uint8Array, p: number, end: number) => number;

/** Not a boundary: some frame from the offset on is malformed. */
export const CHAIN_BAD = -1;

/**
 * The chain from b[o]: CHAIN_BAD, or twice the number of frame headers that check out, plus 1 when
 * whole frames end exactly at the end of the bytes. Both answers in one number so that a probe's
 * scan allocates nothing.
 */
function chainScan(b: Uint8Array, o: number, frameAt: FrameAt): number {
  const end = b.length;
  let p = o;
  let headers = 0;
  while (p < end) {
    const n = frameAt(b, p, end);
    if (n === FRAME_BAD) return CHAIN_BAD;
    if (n === FRAME_SHORT) return headers * 2;
    headers++;
    if (n === FRAME_CUT) return headers * 2;
    p += n;
  }
  return headers * 2 + (headers > 0 ? 1 : 0);
}

/**
 * Frames whose headers check out when chained from b[o] to the end (a last frame running past the
 * end counts when its header was whole), or CHAIN_BAD.
 */
export function chainFrom(b: Uint8Array, o: number, frameAt: FrameAt): number {
  const c = chainScan(b, o, frameAt);
  return c === CHAIN_BAD ? CHAIN_BAD : c >> 1;
}

/** No boundary in the bytes scanned. */
export const SYNC_NONE = -1;
/** Not decided: some chain is well-formed but short (more bytes may tell). */
export const SYNC_UNSURE = -2;

/**
 * The first offset within `maxScan` bytes from which at least `minHeaders` frames chain to the end
 * (or whole frames fill the bytes from offset 0 exactly: a frame's length landing on the end of
 * what the peer sent is itself a check), `minHeadersLater` for an offset past 0, where a chance
 * match in the middle of unrelated bytes is likelier; SYNC_UNSURE while a chain is well-formed and
 * one frame short (or starts at 0), or while fewer than `blindBytes` have come (the most one frame
 * cut by the capture start can hide), and fewer than `maxScan` bytes have come; else SYNC_NONE.
 */
export function findBoundary(b: Uint8Array, frameAt: FrameAt, minHeaders: number, minHeadersLater: number, maxScan: number, blindBytes = 0): number {
  const scan = chainScan(b, 0, frameAt);
  const first = scan === CHAIN_BAD ? CHAIN_BAD : scan >> 1;
  if (first >= minHeaders || (scan !== CHAIN_BAD && (scan & 1) === 1)) return 0;
  let unsure = first >= 0 || b.length < blindBytes;
  const last = Math.min(b.length, maxScan);
  for (let o = 1; o < last; o++) {
    const n = chainFrom(b, o, frameAt);
    if (n >= minHeadersLater) return o;
    if (n > 0 && n >= minHeadersLater - 1) unsure = true;
  }
  // The scan budget spent without a boundary: more bytes would only be scanned past.
  return unsure && b.length < maxScan ? SYNC_UNSURE : SYNC_NONE;
}

/**
 * For a dissector resyncing a direction: the first offset from which `frames` whole frames are
 * well-formed, looking only at the first `maxScan` bytes, so the answer is the same however the
 * bytes were cut into deliveries. SYNC_UNSURE while an offset's frames need bytes that have not
 * come (and the scan budget is not spent); SYNC_NONE when no offset qualifies. At the end of the
 * stream (`eof`), whole frames that fill the bytes exactly from offset 0 also qualify (a direction
 * that sent one frame only).
 */
export function syncOffset(b: Uint8Array, frameAt: FrameAt, frames: number, maxScan: number, eof: boolean): number {
  if (eof) {
    const c = chainScan(b, 0, frameAt);
    if (c > 0 && (c & 1) === 1) return 0;
  }
  const full = eof || b.length >= maxScan;
  const w = b.length > maxScan ? b.subarray(0, maxScan) : b;
  for (let o = 0; o < w.length; o++) {
    let p = o;
    let i = 0;
    let more = false;
    for (; i < frames; i++) {
      const n = frameAt(w, p, w.length);
      if (n === FRAME_BAD) break;
      if (n <= 0) { more = true; break; } // cut or short: its end lies past the bytes
      p += n;
    }
    if (i === frames) return o;
    if (more && !full) return SYNC_UNSURE;
  }
  return SYNC_NONE;
}
