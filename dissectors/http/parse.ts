/**
 * Pure parsers over exactly one header block (start line … empty line). One latin1 decode per
 * message (bounded by maxHeaderBytes upstream); field values are cut at maxStringBytes.
 */
import { latin1Bounded } from '../../src/util/bytes.js';
import type { HttpEventId } from './events.js';
import type { HttpLimits } from './types.js';

export interface ParsedFields {
  host: string | null;
  userAgent: string | null;
  upgrade: string | null;
  wsProtocol: string | null;
  contentLength: number | null;
  chunked: boolean;
  events: HttpEventId[];
}

export interface ParsedRequest extends ParsedFields {
  method: string;
  uri: string;
  version: string;
}

export interface ParsedResponse extends ParsedFields {
  version: string;
  statusCode: number;
}

/** RFC 9110 §5.6.2 tchar. */
function isTokenChar(c: number): boolean {
  if (c >= 0x30 && c <= 0x39) return true; // DIGIT
  if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) return true; // ALPHA
  return "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) !== -1;
}

function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenChar(s.charCodeAt(i))) return false;
  return true;
}

/** 'HTTP/1.x' → '1.x', anything else → null (RFC 9112 §2.3 HTTP-version). */
function parseVersion(s: string): string | null {
  if (s.length !== 8 || !s.startsWith('HTTP/1.')) return null;
  const d = s.charCodeAt(7);
  return d >= 0x30 && d <= 0x39 ? s.slice(5) : null;
}

function cap(s: string, lim: HttpLimits, events: HttpEventId[]): string {
  if (s.length <= lim.maxStringBytes) return s;
  if (!events.includes('http.limit.max_string_bytes')) events.push('http.limit.max_string_bytes');
  return s.slice(0, lim.maxStringBytes);
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] as string;
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  // The block ends with an empty line; drop it and the empty remainder after the final LF.
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function parseFields(lines: string[], lim: HttpLimits, events: HttpEventId[]): ParsedFields {
  const f: ParsedFields = { host: null, userAgent: null, upgrade: null, wsProtocol: null, contentLength: null, chunked: false, events };
  let badLength = false;
  const n = lines.length - 1;
  if (n > lim.maxHeadersCount) events.push('http.limit.max_headers_count');
  const last = Math.min(n, lim.maxHeadersCount);
  for (let i = 1; i <= last; i++) {
    const line = lines[i] as string;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) continue; // obs-fold continuation (RFC 9112 §5.2): ignored
    const colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line.slice(0, colon))) {
      if (!events.includes('http.bad_header_line')) events.push('http.bad_header_line');
      continue;
    }
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    switch (name) {
      case 'host':
        if (f.host === null) f.host = cap(value, lim, events);
        break;
      case 'user-agent':
        if (f.userAgent === null) f.userAgent = cap(value, lim, events);
        break;
      case 'upgrade':
        if (f.upgrade === null) f.upgrade = cap(value, lim, events);
        break;
      case 'sec-websocket-protocol':
        if (f.wsProtocol === null) f.wsProtocol = cap(value, lim, events);
        break;
      case 'content-length': {
        // RFC 9110 §8.6: a list of identical values is acceptable; anything else is invalid.
        for (const part of value.split(',')) {
          const v = part.trim();
          if (!/^[0-9]{1,15}$/.test(v)) { badLength = true; continue; }
          const num = Number(v);
          if (f.contentLength !== null && f.contentLength !== num) badLength = true;
          f.contentLength = num;
        }
        break;
      }
      case 'transfer-encoding': {
        const codings = value.toLowerCase().split(',');
        f.chunked = (codings[codings.length - 1] as string).trim() === 'chunked';
        break;
      }
      default:
        break;
    }
  }
  if (badLength) {
    events.push('http.bad_content_length');
    f.contentLength = null;
  }
  return f;
}

/** Request head: `method SP request-target SP HTTP-version` (RFC 9112 §3) and its fields. */
export function parseRequestHead(head: Uint8Array, lim: HttpLimits): ParsedRequest | HttpEventId {
  const lines = splitLines(latin1Bounded(head, head.length));
  const start = lines[0];
  if (start === undefined) return 'http.bad_request_line';
  const sp1 = start.indexOf(' ');
  const sp2 = start.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 <= sp1 + 1) return 'http.bad_request_line';
  const method = start.slice(0, sp1);
  const target = start.slice(sp1 + 1, sp2);
  const version = parseVersion(start.slice(sp2 + 1));
  if (!isToken(method) || version === null || target.indexOf(' ') !== -1) return 'http.bad_request_line';
  const events: HttpEventId[] = [];
  const uri = cap(target, lim, events);
  const fields = parseFields(lines, lim, events);
  return { ...fields, method, uri, version };
}

/** Response head: `HTTP-version SP 3DIGIT SP [reason]` (RFC 9112 §4) and its fields. */
export function parseResponseHead(head: Uint8Array, lim: HttpLimits): ParsedResponse | HttpEventId {
  const lines = splitLines(latin1Bounded(head, head.length));
  const start = lines[0];
  if (start === undefined) return 'http.bad_status_line';
  const version = parseVersion(start.slice(0, 8));
  if (version === null || start.charCodeAt(8) !== 0x20) return 'http.bad_status_line';
  const code = start.slice(9, 12);
  if (!/^[1-5][0-9][0-9]$/.test(code)) return 'http.bad_status_line';
  const after = start.charCodeAt(12);
  if (start.length > 12 && after !== 0x20) return 'http.bad_status_line';
  const events: HttpEventId[] = [];
  const fields = parseFields(lines, lim, events);
  return { ...fields, version, statusCode: Number(code) };
}

/** Parse a chunk-size line (`1a;ext=1\r\n`) → size, or -1 when not hex (RFC 9112 §7.1). */
export function parseChunkSize(line: Uint8Array): number {
  let size = 0;
  let digits = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as number;
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

/** Shannon entropy in bits per character of a string (0 for ''). */
export function textEntropy(s: string): number {
  if (s.length === 0) return 0;
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
