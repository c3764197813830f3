/**
 * Pure parsers over exactly one header block (start line … empty line), read on the bytes: lines,
 * the colon and the names we keep are found by byte scans, and only the start line's parts and the
 * kept values are decoded (latin1, one char per byte), cut at maxStringBytes. Every HTTP flow on a
 * tap pays this once per message, so nothing is decoded, split or lower-cased that is then thrown
 * away, and the result is one caller-owned object of a fixed shape.
 */
import type { HttpEventId } from './events.js';
import type { HttpLimits } from './types.js';

/**
 * One parsed head. Requests fill method, uri and version (statusCode 0); responses version and
 * statusCode (method and uri ''). `events` is the shared empty NO_EVENTS until a first event, then
 * a fresh array per message, so a record may keep it.
 */
export interface ParsedHead {
  method: string;
  uri: string;
  version: string;
  statusCode: number;
  host: string | null;
  userAgent: string | null;
  upgrade: string | null;
  wsProtocol: string | null;
  contentLength: number | null;
  chunked: boolean;
  events: HttpEventId[];
  /** An http.limit.* event is among `events` (the record's status is then 'truncated'). */
  truncated: boolean;
}

/** Frozen: a message without events shares it, and nobody may push into it. */
export const NO_EVENTS: HttpEventId[] = Object.freeze([] as HttpEventId[]) as HttpEventId[];

export function newParsedHead(): ParsedHead {
  return {
    method: '', uri: '', version: '', statusCode: 0, host: null, userAgent: null, upgrade: null, wsProtocol: null,
    contentLength: null, chunked: false, events: NO_EVENTS, truncated: false,
  };
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const COMMA = 0x2c;

/** RFC 9110 §5.6.2 tchar, as a table: one load per byte in the header-name scan. */
const TCHAR = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c | 0x20] = 1;
for (const ch of "!#$%&'*+-.^_`|~") TCHAR[ch.charCodeAt(0)] = 1;

/**
 * The characters String.prototype.trim removes, within latin1 (HTAB, LF, VT, FF, CR, SP, NBSP):
 * the values were trimmed as strings before, and what is reported must not change.
 */
function isTrimSpace(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === SP || c === 0xa0;
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/**
 * Latin-1 text of b[start, end). Node's latin1Slice accepts any Uint8Array and makes one flat
 * string natively; a loop of String.fromCharCode concatenations builds a rope that is flattened
 * again where it is hashed or compared.
 */
function text(b: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(b, start, end);
}

/**
 * The last short value decoded at one place (the request target, Host, User-Agent): the same
 * bytes give the same string back. A beaconing host sends one URL, Host and User-Agent over and
 * over, and a tap sees a few of each per client: the records then share one string, not hold a
 * copy each (strings are immutable, so sharing is safe).
 */
const MEMO_MAX_BYTES = 96;

class TextMemo {
  private readonly bytes = new Uint8Array(MEMO_MAX_BYTES);
  private len = -1;
  private str = '';

  text(b: Uint8Array, start: number, end: number): string {
    const n = end - start;
    if (n > MEMO_MAX_BYTES) return text(b, start, end);
    if (n === this.len) {
      let i = 0;
      while (i < n && b[start + i] === this.bytes[i]) i++;
      if (i === n) return this.str;
    }
    const s = text(b, start, end);
    for (let i = 0; i < n; i++) this.bytes[i] = b[start + i] as number;
    this.len = n;
    this.str = s;
    return s;
  }
}

const URI_MEMO = new TextMemo();
const HOST_MEMO = new TextMemo();
const UA_MEMO = new TextMemo();

/** The methods and versions nearly every message carries, as constants rather than new strings. */
const COMMON_METHODS: readonly string[] = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH', 'TRACE'];
const METHOD_BYTES: readonly Uint8Array[] = COMMON_METHODS.map((m) => Uint8Array.from(m, (ch) => ch.charCodeAt(0)));
const VERSIONS: readonly string[] = Array.from({ length: 10 }, (_, d) => `1.${d}`);

function methodAt(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  for (let m = 0; m < METHOD_BYTES.length; m++) {
    const pat = METHOD_BYTES[m] as Uint8Array;
    if (pat.length !== n) continue;
    let i = 0;
    while (i < n && b[start + i] === pat[i]) i++;
    if (i === n) return COMMON_METHODS[m] as string;
  }
  return text(b, start, end);
}

/** 'HTTP/1.x' at b[start, end) → '1.x', anything else → null (RFC 9112 §2.3 HTTP-version). */
function versionAt(b: Uint8Array, start: number, end: number): string | null {
  if (end - start !== 8) return null;
  if (b[start] !== 0x48 || b[start + 1] !== 0x54 || b[start + 2] !== 0x54 || b[start + 3] !== 0x50) return null; // HTTP
  if (b[start + 4] !== 0x2f || b[start + 5] !== 0x31 || b[start + 6] !== 0x2e) return null; // /1.
  const d = (b[start + 7] as number) - 0x30;
  return d >= 0 && d <= 9 ? (VERSIONS[d] as string) : null;
}

function addEvent(out: ParsedHead, id: HttpEventId): void {
  if (out.events === NO_EVENTS) out.events = [id];
  else out.events.push(id);
}

/** Limit events are reported once per message, however many values were cut. */
function addLimitOnce(out: ParsedHead, id: HttpEventId): void {
  if (!out.events.includes(id)) addEvent(out, id);
  out.truncated = true;
}

/** b[start, end) as a kept string, cut at maxStringBytes. */
function capped(b: Uint8Array, start: number, end: number, lim: HttpLimits, out: ParsedHead, memo: TextMemo | null): string {
  let e = end;
  if (end - start > lim.maxStringBytes) {
    addLimitOnce(out, 'http.limit.max_string_bytes');
    e = start + lim.maxStringBytes;
  }
  return memo !== null ? memo.text(b, start, e) : text(b, start, e);
}

/**
 * End of the lines of the block b[start, stop): the block's final empty line(s) (a lone LF, or
 * CR LF) and the empty remainder after the last LF are not lines. -1: no line at all.
 */
function linesEnd(b: Uint8Array, start: number, stop: number): number {
  let end = stop;
  for (;;) {
    if (end === start) return -1;
    const c = b[end - 1];
    if (c === LF) {
      end -= 1; // an empty last segment
    } else if (c === CR && (end - 1 === start || b[end - 2] === LF)) {
      if (end - 1 === start) return -1;
      end -= 2; // a segment that is a lone CR
    } else return end;
  }
}

/** Index of the next LF in b[from, end), or end. */
function lineStop(b: Uint8Array, from: number, end: number): number {
  let i = from;
  while (i < end && b[i] !== LF) i++;
  return i;
}

/** Where a line ending at `stop` (its LF, or the block's end) ends without its one trailing CR. */
function withoutCr(b: Uint8Array, start: number, stop: number): number {
  return stop > start && b[stop - 1] === CR ? stop - 1 : stop;
}

/**
 * b[start, end) equals `lower` (lower-case ASCII letters and '-'), letters case-insensitively.
 * c | 0x20 equals a lower-case letter only for that letter and its upper case, whatever the byte;
 * it equals '-' for '-' and CR, and CR is no tchar: so a '-' in `lower` is only for tokens.
 */
function nameIs(b: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if (((b[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

const HOST = 1;
const USER_AGENT = 2;
const UPGRADE = 3;
const WS_PROTOCOL = 4;
const CONTENT_LENGTH = 5;
const TRANSFER_ENCODING = 6;

/** Which kept field a header name (a token) is, by its length first; 0 for the rest. */
function fieldOf(b: Uint8Array, start: number, end: number): number {
  switch (end - start) {
    case 4: return nameIs(b, start, end, 'host') ? HOST : 0;
    case 7: return nameIs(b, start, end, 'upgrade') ? UPGRADE : 0;
    case 10: return nameIs(b, start, end, 'user-agent') ? USER_AGENT : 0;
    case 14: return nameIs(b, start, end, 'content-length') ? CONTENT_LENGTH : 0;
    case 17: return nameIs(b, start, end, 'transfer-encoding') ? TRANSFER_ENCODING : 0;
    case 22: return nameIs(b, start, end, 'sec-websocket-protocol') ? WS_PROTOCOL : 0;
    default: return 0;
  }
}

/**
 * Content-Length's value b[start, end) (trimmed) into out.contentLength; false when invalid.
 * RFC 9110 §8.6: a list of identical values is acceptable; anything else is invalid. Each part
 * must be 1 to 15 digits (exact as a double).
 */
function contentLengthValue(b: Uint8Array, start: number, end: number, out: ParsedHead): boolean {
  let ok = true;
  let p = start;
  for (;;) {
    let stop = p;
    while (stop < end && b[stop] !== COMMA) stop++;
    let s = p;
    let e = stop;
    while (s < e && isTrimSpace(b[s] as number)) s++;
    while (e > s && isTrimSpace(b[e - 1] as number)) e--;
    let num = 0;
    let digits = e - s <= 15 && e > s;
    for (let i = s; digits && i < e; i++) {
      const d = (b[i] as number) - 0x30;
      if (d < 0 || d > 9) digits = false;
      else num = num * 10 + d;
    }
    if (!digits) ok = false;
    else {
      if (out.contentLength !== null && out.contentLength !== num) ok = false;
      out.contentLength = num;
    }
    if (stop >= end) return ok;
    p = stop + 1;
  }
}

/** The last transfer coding of b[start, end) is 'chunked' (any case), as RFC 9112 §6.3 rule 4 reads it. */
function lastCodingChunked(b: Uint8Array, start: number, end: number): boolean {
  let s = end;
  while (s > start && b[s - 1] !== COMMA) s--;
  let e = end;
  while (s < e && isTrimSpace(b[s] as number)) s++;
  while (e > s && isTrimSpace(b[e - 1] as number)) e--;
  return nameIs(b, s, e, 'chunked');
}

/**
 * The field lines after the start line (which ends at `from`, its LF or the end) up to `end`.
 * Lines beyond maxHeadersCount are not looked at; obs-fold continuations (RFC 9112 §5.2) are
 * ignored; the first of each kept field wins.
 */
function parseFields(b: Uint8Array, from: number, end: number, lim: HttpLimits, out: ParsedHead): void {
  out.host = null;
  out.userAgent = null;
  out.upgrade = null;
  out.wsProtocol = null;
  out.contentLength = null;
  out.chunked = false;
  if (end - from > lim.maxHeadersCount) {
    // Could hold more lines than the limit: count them (each field line is at least its LF).
    let n = 0;
    for (let i = from; i < end; i++) if (b[i] === LF) n++;
    if (n > lim.maxHeadersCount) addLimitOnce(out, 'http.limit.max_headers_count');
  }
  let badLength = false;
  let badLine = false;
  let pos = from + 1;
  for (let i = 0; i < lim.maxHeadersCount && pos <= end && from < end; i++) {
    const stop = lineStop(b, pos, end);
    const ls = pos;
    const le = withoutCr(b, ls, stop);
    pos = stop + 1;
    const c0 = ls < le ? b[ls] : -1;
    if (c0 === SP || c0 === HTAB) continue;
    let colon = ls;
    while (colon < le && b[colon] !== COLON) colon++;
    let token = colon > ls && colon < le;
    for (let k = ls; token && k < colon; k++) if (TCHAR[b[k] as number] === 0) token = false;
    if (!token) {
      if (!badLine) {
        badLine = true;
        addEvent(out, 'http.bad_header_line');
      }
      continue;
    }
    const field = fieldOf(b, ls, colon);
    if (field === 0) continue;
    let vs = colon + 1;
    let ve = le;
    while (vs < ve && isTrimSpace(b[vs] as number)) vs++;
    while (ve > vs && isTrimSpace(b[ve - 1] as number)) ve--;
    switch (field) {
      case HOST:
        if (out.host === null) out.host = capped(b, vs, ve, lim, out, HOST_MEMO);
        break;
      case USER_AGENT:
        if (out.userAgent === null) out.userAgent = capped(b, vs, ve, lim, out, UA_MEMO);
        break;
      case UPGRADE:
        if (out.upgrade === null) out.upgrade = capped(b, vs, ve, lim, out, null);
        break;
      case WS_PROTOCOL:
        if (out.wsProtocol === null) out.wsProtocol = capped(b, vs, ve, lim, out, null);
        break;
      case CONTENT_LENGTH:
        if (!contentLengthValue(b, vs, ve, out)) badLength = true;
        break;
      default:
        out.chunked = lastCodingChunked(b, vs, ve);
        break;
    }
  }
  if (badLength) {
    addEvent(out, 'http.bad_content_length');
    out.contentLength = null;
  }
}

function resetHead(out: ParsedHead): void {
  out.events = NO_EVENTS;
  out.truncated = false;
}

/**
 * Request head b[start, stop): `method SP request-target SP HTTP-version` (RFC 9112 §3) and its
 * fields, into `out`. Returns null, or the event naming a bad request line (`out` is then partial).
 */
export function parseRequestHead(b: Uint8Array, start: number, stop: number, lim: HttpLimits, out: ParsedHead): HttpEventId | null {
  resetHead(out);
  const end = linesEnd(b, start, stop);
  if (end < 0) return 'http.bad_request_line';
  const lf = lineStop(b, start, end);
  const se = withoutCr(b, start, lf);
  let sp1 = start;
  while (sp1 < se && b[sp1] !== SP) sp1++;
  if (sp1 === start || sp1 === se) return 'http.bad_request_line';
  let sp2 = sp1 + 1;
  while (sp2 < se && b[sp2] !== SP) sp2++;
  // The target holds no space: the second space is the last one.
  if (sp2 === sp1 + 1 || sp2 === se) return 'http.bad_request_line';
  const version = versionAt(b, sp2 + 1, se);
  if (version === null) return 'http.bad_request_line';
  for (let k = start; k < sp1; k++) if (TCHAR[b[k] as number] === 0) return 'http.bad_request_line';
  out.method = methodAt(b, start, sp1);
  out.version = version;
  out.statusCode = 0;
  out.uri = capped(b, sp1 + 1, sp2, lim, out, URI_MEMO);
  parseFields(b, lf, end, lim, out);
  return null;
}

/**
 * Response head b[start, stop): `HTTP-version SP 3DIGIT SP [reason]` (RFC 9112 §4) and its
 * fields, into `out`. Returns null, or the event naming a bad status line (`out` is then partial).
 */
export function parseResponseHead(b: Uint8Array, start: number, stop: number, lim: HttpLimits, out: ParsedHead): HttpEventId | null {
  resetHead(out);
  const end = linesEnd(b, start, stop);
  if (end < 0) return 'http.bad_status_line';
  const lf = lineStop(b, start, end);
  const se = withoutCr(b, start, lf);
  // Shorter than 'HTTP/1.1 200' cannot hold the version, a space and three digits.
  const version = se - start >= 12 ? versionAt(b, start, start + 8) : null;
  if (version === null || b[start + 8] !== SP) return 'http.bad_status_line';
  const d0 = (b[start + 9] as number) - 0x30;
  const d1 = (b[start + 10] as number) - 0x30;
  const d2 = (b[start + 11] as number) - 0x30;
  if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return 'http.bad_status_line';
  if (se - start > 12 && b[start + 12] !== SP) return 'http.bad_status_line';
  out.method = '';
  out.uri = '';
  out.version = version;
  out.statusCode = d0 * 100 + d1 * 10 + d2;
  parseFields(b, lf, end, lim, out);
  return null;
}

/** Parse a chunk-size line (`1a;ext=1\r\n`) at b[start, end) → size, or -1 when not hex (RFC 9112 §7.1). */
export function parseChunkSize(b: Uint8Array, start = 0, end = b.length): number {
  let size = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = b[i] as number;
    let v: number;
    if (c >= 0x30 && c <= 0x39) v = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) v = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) v = c - 0x37;
    else break;
    if (++digits > 12) return -1; // > 2^48: nonsense
    size = size * 16 + v;
  }
  return digits === 0 ? -1 : size;
}

/**
 * Counts per latin1 character and the characters in the order first seen: entropy sums its terms
 * in that order (the order a Map of counts iterated in), so the figures stay bit-identical.
 * Reset after each call by the characters seen, not by a fill of the whole table.
 */
const COUNTS = new Uint32Array(256);
const SEEN = new Uint8Array(256);

/** Shannon entropy in bits per character of a string (0 for ''). */
export function textEntropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  let distinct = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) break;
    if (COUNTS[c]++ === 0) SEEN[distinct++] = c;
  }
  if (i < n) {
    for (let k = 0; k < distinct; k++) COUNTS[SEEN[k] as number] = 0;
    return wideEntropy(s);
  }
  let h = 0;
  for (let k = 0; k < distinct; k++) {
    const c = SEEN[k] as number;
    const p = (COUNTS[c] as number) / n;
    COUNTS[c] = 0;
    h -= p * Math.log2(p);
  }
  return h;
}

/** textEntropy for strings beyond latin1 (not from HTTP heads, which are decoded as latin1). */
function wideEntropy(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const k of counts.values()) {
    const p = k / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}
