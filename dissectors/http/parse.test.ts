/**
 * The byte parser against a plain string reading of the same rules (decode the head, split into
 * lines, slice, lower-case, trim): every field, event and error must agree on valid, mutated and
 * random heads. The reference is slow on purpose: it reads the rules the way RFC 9112 states them.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../test/helpers/fuzz-dissector.js';
import { newParsedHead, parseRequestHead, parseResponseHead, textEntropy, type ParsedHead } from './parse.js';
import { defaultHttpLimits, type HttpLimits } from './types.js';

interface RefHead {
  start: string[]; // method, uri, version (requests) or version, code (responses)
  host: string | null;
  userAgent: string | null;
  upgrade: string | null;
  wsProtocol: string | null;
  contentLength: number | null;
  chunked: boolean;
  events: string[];
}

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

function refLines(b: Uint8Array): string[] {
  let t = '';
  for (const c of b) t += String.fromCharCode(c);
  const lines = t.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function refVersion(s: string): string | null {
  return /^HTTP\/1\.[0-9]$/.test(s) ? s.slice(5) : null;
}

function refFields(lines: string[], lim: HttpLimits, events: string[], start: string[]): RefHead {
  const h: RefHead = { start, host: null, userAgent: null, upgrade: null, wsProtocol: null, contentLength: null, chunked: false, events };
  const keep = (v: string): string => {
    if (v.length <= lim.maxStringBytes) return v;
    if (!events.includes('http.limit.max_string_bytes')) events.push('http.limit.max_string_bytes');
    return v.slice(0, lim.maxStringBytes);
  };
  if (start.length === 3) start[1] = keep(start[1] as string);
  if (lines.length - 1 > lim.maxHeadersCount) events.push('http.limit.max_headers_count');
  let bad = false;
  const lengths: string[] = [];
  for (const line of lines.slice(1, 1 + lim.maxHeadersCount)) {
    if (line.startsWith(' ') || line.startsWith('\t')) continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (name === '' || [...name].some((ch) => !TCHARS.includes(ch))) {
      if (!events.includes('http.bad_header_line')) events.push('http.bad_header_line');
      continue;
    }
    const value = line.slice(colon + 1).trim();
    const n = name.toLowerCase();
    if (n === 'host') h.host ??= keep(value);
    else if (n === 'user-agent') h.userAgent ??= keep(value);
    else if (n === 'upgrade') h.upgrade ??= keep(value);
    else if (n === 'sec-websocket-protocol') h.wsProtocol ??= keep(value);
    else if (n === 'content-length') lengths.push(...value.split(',').map((v) => v.trim()));
    else if (n === 'transfer-encoding') h.chunked = value.toLowerCase().split(',').pop()?.trim() === 'chunked';
  }
  for (const v of lengths) {
    if (!/^[0-9]{1,15}$/.test(v)) bad = true;
    else if (h.contentLength !== null && h.contentLength !== Number(v)) bad = true;
    else h.contentLength = Number(v);
  }
  if (bad) {
    events.push('http.bad_content_length');
    h.contentLength = null;
  }
  return h;
}

function refRequest(b: Uint8Array, lim: HttpLimits): RefHead | string {
  const lines = refLines(b);
  const parts = (lines[0] ?? '').split(' ');
  const version = parts.length === 3 ? refVersion(parts[2] as string) : null;
  const method = parts[0] as string;
  if (version === null || method === '' || [...method].some((ch) => !TCHARS.includes(ch)) || parts[1] === '') return 'http.bad_request_line';
  return refFields(lines, lim, [], [method, parts[1] as string, version]);
}

function refResponse(b: Uint8Array, lim: HttpLimits): RefHead | string {
  const lines = refLines(b);
  const m = /^(HTTP\/1\.[0-9]) ([1-5][0-9][0-9])( .*)?$/s.exec(lines[0] ?? '');
  if (m === null) return 'http.bad_status_line';
  return refFields(lines, lim, [], [(m[1] as string).slice(5), m[2] as string]);
}

function fast(p: ParsedHead, start: string[]): RefHead {
  return {
    start, host: p.host, userAgent: p.userAgent, upgrade: p.upgrade, wsProtocol: p.wsProtocol,
    contentLength: p.contentLength, chunked: p.chunked, events: [...p.events],
  };
}

const LIM: HttpLimits = { ...defaultHttpLimits, maxHeadersCount: 6, maxStringBytes: 12 };
const latin1 = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));

/** The head inside a larger buffer, as the dissector sees it: bytes around it must not count. */
function both(b: Uint8Array, lim: HttpLimits) {
  const buf = new Uint8Array(b.length + 6).fill(0x0a);
  buf.set(b, 3);
  const out = newParsedHead();
  const limited = () => out.events.some((e) => e.startsWith('http.limit.'));
  const rq = parseRequestHead(buf, 3, 3 + b.length, lim, out);
  if (rq === null) expect(out.truncated).toBe(limited());
  const req = rq !== null ? rq : fast(out, [out.method, out.uri, out.version]);
  const rs = parseResponseHead(buf, 3, 3 + b.length, lim, out);
  if (rs === null) expect(out.truncated).toBe(limited());
  const res = rs !== null ? rs : fast(out, [out.version, String(out.statusCode)]);
  return { req, res };
}

const SEEDS = [
  'GET /a?b=1 HTTP/1.1\r\nHost: h.example:80\r\nUser-Agent: ua/1\r\nAccept: */*\r\n\r\n',
  'POST /x HTTP/1.0\r\nContent-Length: 5, 5\r\nTransfer-Encoding: gzip, Chunked \r\n\r\n',
  'GET /ws HTTP/1.1\r\nupgrade: websocket\r\nSEC-WEBSOCKET-PROTOCOL: mqtt, v2\r\n\tfolded\r\n\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b\r\n\r\n',
  'HTTP/1.0 101 Switching\r\nUpgrade: h2c\r\ncontent-length: 1,2\r\n\r\n',
  'HTTP/1.1 204\r\n\r\n',
  'GET * HTTP/1.1\nA: 1\nB: 2\r\nC: 3\nD: 4\nE: 5\nF: 6\nHost: past-the-limit\n\n',
];
const PICKS = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x30, 0x41, 0x61, 0x0b, 0xa0, 0x85, 0x00, 0xff, 0x2d];

describe('http head parser', () => {
  it('agrees with the string reading on the seeds', () => {
    for (const s of SEEDS) {
      const b = latin1(s);
      const got = both(b, LIM);
      expect(got.req).toEqual(refRequest(b, LIM));
      expect(got.res).toEqual(refResponse(b, LIM));
    }
    // and the seeds say what they were written to say
    const ok = both(latin1(SEEDS[1] as string), LIM).req as RefHead;
    expect([ok.contentLength, ok.chunked]).toEqual([5, true]);
    const many = both(latin1(SEEDS[6] as string), LIM).req as RefHead;
    expect([many.host, many.events]).toEqual([null, ['http.limit.max_headers_count']]);
  });

  it('agrees on mutated and random heads (fields, events, errors)', () => {
    const r = prng(7);
    let parsed = 0;
    const events = new Set<string>();
    for (let i = 0; i < 6000; i++) {
      let b: number[];
      if (i % 5 === 4) b = Array.from({ length: Math.floor(r() * 80) }, () => Math.floor(r() * 256));
      else {
        b = Array.from(latin1(SEEDS[Math.floor(r() * SEEDS.length)] as string));
        for (let k = 1 + Math.floor(r() * 5); k > 0; k--) {
          const at = Math.floor(r() * (b.length + 1));
          const pick = r() < 0.8 ? (PICKS[Math.floor(r() * PICKS.length)] as number) : Math.floor(r() * 256);
          const op = r();
          if (op < 0.4) b[at] = pick;
          else if (op < 0.75) b.splice(at, 0, pick);
          else b.splice(at, 1 + Math.floor(r() * 3));
        }
      }
      const bytes = Uint8Array.from(b);
      const lim = i % 3 === 0 ? defaultHttpLimits : LIM;
      const got = both(bytes, lim);
      const want = { req: refRequest(bytes, lim), res: refResponse(bytes, lim) };
      expect(got).toEqual(want);
      for (const x of [got.req, got.res]) {
        if (typeof x === 'string') events.add(x);
        else {
          parsed++;
          for (const e of x.events) events.add(e);
        }
      }
    }
    // the mutations reach every outcome the parser has
    expect(parsed).toBeGreaterThan(2000);
    expect([...events].sort()).toEqual([
      'http.bad_content_length', 'http.bad_header_line', 'http.bad_request_line', 'http.bad_status_line',
      'http.limit.max_headers_count', 'http.limit.max_string_bytes',
    ]);
  });

  it('marks a message truncated exactly when a limit event is among its events', () => {
    const out = newParsedHead();
    const cut = latin1('GET /0123456789abcdef HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(parseRequestHead(cut, 0, cut.length, LIM, out)).toBeNull();
    expect([out.uri, out.truncated, out.events]).toEqual(['/0123456789a', true, ['http.limit.max_string_bytes']]);
    const bad = latin1('GET / HTTP/1.1\r\nBad Name: x\r\n\r\n');
    expect(parseRequestHead(bad, 0, bad.length, LIM, out)).toBeNull();
    expect([out.truncated, out.events]).toEqual([false, ['http.bad_header_line']]);
    // a new message starts with no events, and an earlier message's array is not reused
    const kept = out.events;
    expect(parseRequestHead(cut, 0, cut.length, LIM, out)).toBeNull();
    expect(kept).toEqual(['http.bad_header_line']);
  });
});

describe('textEntropy', () => {
  const byMap = (s: string): number => {
    const counts = new Map<string, number>();
    for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    let h = 0;
    for (const k of counts.values()) h -= (k / s.length) * Math.log2(k / s.length);
    return h;
  };

  it('equals the sum over counts in first-seen order, bit for bit, call after call', () => {
    const r = prng(3);
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(r() * 90);
      const alphabet = 1 + Math.floor(r() * 255);
      const s = String.fromCharCode(...Array.from({ length: n }, () => Math.floor(r() * alphabet)));
      expect(Object.is(textEntropy(s), byMap(s))).toBe(true);
    }
    expect(textEntropy('')).toBe(0);
    expect(textEntropy('aaaa')).toBe(0);
    expect(textEntropy('ab')).toBe(1);
    // beyond latin1 (not from a head, but the function takes any string)
    expect(Object.is(textEntropy('a\u0100b\u0100'), byMap('a\u0100b\u0100'))).toBe(true);
    // the counts of a string that left for the wide path were reset
    expect(textEntropy('ab')).toBe(1);
  });
});
