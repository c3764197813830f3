/**
 * HTTP/1.x picked up mid-stream (the capture started inside a body or a head): a message boundary
 * is a line start (offset 0 or after LF) that opens a request line `METHOD SP target SP HTTP/1.x`
 * or a status line `HTTP/1.x SP 3DIGIT` (RFC 9112 §3, §4). A request names its sender the client,
 * a status line the server. Allocation-free.
 */
import { MidNo, MidUnsure, Role } from '../../src/contract/api.js';

/** Bytes scanned for the first message boundary. */
export const HTTP_RESYNC_SCAN_BYTES = 8192;
/** Longest request line taken for a boundary (longer lines are left to the head parser's limits). */
const MAX_LINE_BYTES = 4096;

const HTTP1 = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e] as const; // "HTTP/1."

function isTchar(c: number): boolean {
  return c >= 0x41 && c <= 0x5a; // methods in use are upper-case tokens
}

function httpVersionAt(b: Uint8Array, p: number): boolean {
  if (b.length - p < 8) return false;
  for (let i = 0; i < 7; i++) if (b[p + i] !== HTTP1[i]) return false;
  return b[p + 7] === 0x30 || b[p + 7] === 0x31;
}

const LINE_NO = -1;
const LINE_SHORT = -2;

/** At a line start: Role.Client for a request line, Role.Server for a status line, LINE_NO or LINE_SHORT. */
function lineAt(b: Uint8Array, p: number): number {
  const end = b.length;
  if (end - p < 4) return LINE_SHORT;
  if (b[p] === 0x48 && b[p + 1] === 0x54) {
    if (end - p < 13) return LINE_SHORT;
    if (!httpVersionAt(b, p) || b[p + 8] !== 0x20) return LINE_NO;
    for (let i = 9; i < 12; i++) { const c = b[p + i] as number; if (c < 0x30 || c > 0x39) return LINE_NO; }
    return b[p + 12] === 0x20 || b[p + 12] === 0x0d || b[p + 12] === 0x0a ? Role.Server : LINE_NO;
  }
  let i = p;
  while (i < end && i - p < 16 && isTchar(b[i] as number)) i++;
  if (i - p < 3) return i === end ? LINE_SHORT : LINE_NO;
  if (i === end) return LINE_SHORT;
  if (b[i] !== 0x20 || i - p >= 16) return LINE_NO;
  // the target, then " HTTP/1.x" and the line end
  let j = i + 1;
  while (j < end && j - p < MAX_LINE_BYTES && b[j] !== 0x20 && b[j] !== 0x0a && b[j] !== 0x0d && (b[j] as number) > 0x20 && (b[j] as number) < 0x7f) j++;
  if (j === end) return LINE_SHORT;
  if (j === i + 1 || b[j] !== 0x20) return LINE_NO;
  if (end - (j + 1) < 10) return LINE_SHORT;
  if (!httpVersionAt(b, j + 1)) return LINE_NO;
  const e = j + 9;
  return b[e] === 0x0d || b[e] === 0x0a ? Role.Client : LINE_NO;
}

/**
 * Where a resyncing direction's next scan starts. Every offset before it was already ruled out
 * with bytes that cannot change (a line start is only ever short of bytes, never wrong, until it
 * is decided), so a direction arriving in many small pieces is scanned once, not once per piece.
 */
export interface ResyncScan { from: number }

/**
 * The first message boundary in `b` that opens what `want` sends (Role.Unknown: either) as
 * `offset * 4 + Role`, or MidUnsure (a line start that may still open one; for `resync`, any
 * bytes short of the scan) / MidNo. With `scan`, starts at `scan.from` and leaves there where
 * it stopped.
 */
export function httpBoundary(b: Uint8Array, want: Role, resync = false, scan: ResyncScan | null = null): number {
  const last = Math.min(b.length, HTTP_RESYNC_SCAN_BYTES);
  let unsure = false;
  let p = scan === null ? 0 : Math.min(scan.from, last);
  for (; p < last; p++) {
    if (p > 0 && b[p - 1] !== 0x0a) continue;
    const r = lineAt(b, p);
    if (r >= 0 && (want === Role.Unknown || r === want)) return p * 4 + r;
    // A line start still too short to tell: decide nothing past it, so the answer does not depend
    // on how the bytes were cut into deliveries.
    if (r === LINE_SHORT) { unsure = true; break; }
  }
  if (scan !== null) scan.from = p;
  // A dissector resyncing waits for the whole scan (a body may run that long before the next
  // message); the probe gives up sooner on bytes with no message line in them.
  return unsure || (resync && b.length < HTTP_RESYNC_SCAN_BYTES) ? MidUnsure : MidNo;
}

/** ProbeSpec.midstream for HTTP: MidNo, MidUnsure, or the sender's Role. */
export function probeHttpMidstream(b: Uint8Array): number {
  const r = httpBoundary(b, Role.Unknown);
  return r < 0 ? r : r & 3;
}

