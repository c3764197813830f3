/**
 * Pure DNS message parser (RFC 1035 §4.1) over exactly one message: header, questions, answer
 * section; names with compression pointers (backward-only, count-limited: no loops possible).
 */
import { Cursor } from '../../src/util/cursor.js';
import { hex, latin1Bounded } from '../../src/util/bytes.js';
import type { DnsEventId } from './events.js';
import type { DnsAnswer, DnsLimits, DnsQuestion } from './types.js';

export const RrType = { A: 1, NS: 2, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28, OPT: 41 } as const;

export interface ParsedMessage {
  id: number;
  qr: boolean;
  opcode: number;
  rcode: number;
  tc: boolean;
  qdCount: number;
  anCount: number;
  questions: DnsQuestion[];
  answers: DnsAnswer[];
  events: DnsEventId[];
}

const nameCursor = new Cursor(new Uint8Array(0));

function labelText(c: Cursor, n: number): string {
  const v = c.view(n);
  let s = '';
  for (let i = 0; i < v.length; i++) {
    const ch = v[i] as number;
    // Printable except '.' and '\\' as-is; everything else \DDD (RFC 4343 §2.1 presentation form).
    if (ch > 0x20 && ch < 0x7f && ch !== 0x2e && ch !== 0x5c) s += String.fromCharCode(ch);
    else s += '\\' + String(ch).padStart(3, '0');
  }
  return s;
}

/**
 * Read a (possibly compressed) name starting at `start` of `msg`. Returns the name (root = '.')
 * and the offset just after the name at its original place, or an event id.
 */
export function readName(msg: Uint8Array, start: number, lim: DnsLimits): { name: string; next: number } | DnsEventId {
  const c = nameCursor.reset(msg, start);
  let name = '';
  let wireLen = 0;
  let next = -1;
  let pointers = 0;
  let floor = start; // a pointer must point before the place it was read from
  for (;;) {
    const at = c.pos;
    const len = c.u8();
    if (c.err) return 'dns.bad_name';
    if (len === 0) break;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      const target = ((len & 0x3f) << 8) | c.u8();
      if (c.err) return 'dns.bad_name';
      if (next < 0) next = c.pos;
      if (++pointers > lim.maxPointerCount) return 'dns.limit.max_pointer_count';
      if (target >= floor || target >= at) return 'dns.bad_pointer';
      floor = target;
      c.pos = target;
      continue;
    }
    if (kind !== 0) return 'dns.bad_label_type';
    wireLen += len + 1;
    if (wireLen > 254) return 'dns.bad_name'; // 255 octets including the root label
    const text = labelText(c, len);
    if (c.err) return 'dns.bad_name';
    name = name.length === 0 ? text : name + '.' + text;
  }
  return { name: name.length === 0 ? '.' : name, next: next >= 0 ? next : c.pos };
}

/** RFC 5952 text form of a 16-byte IPv6 address (lowercase, longest zero run ≥ 2 as ::). */
export function ipv6Text(b: Uint8Array): string {
  const c = new Cursor(b);
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(c.u16());
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestAt = i; bestLen = j - i; }
    i = j;
  }
  const part = (from: number, to: number) => w.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return part(0, 8);
  return part(0, bestAt) + '::' + part(bestAt + bestLen, 8);
}

function rdataText(msg: Uint8Array, type: number, at: number, len: number, lim: DnsLimits, events: DnsEventId[]): string | DnsEventId {
  const c = new Cursor(msg, at, at + len);
  switch (type) {
    case RrType.A:
      if (len !== 4) return 'dns.bad_rdata';
      return `${c.u8()}.${c.u8()}.${c.u8()}.${c.u8()}`;
    case RrType.AAAA:
      if (len !== 16) return 'dns.bad_rdata';
      return ipv6Text(c.view(16));
    case RrType.CNAME:
    case RrType.NS:
    case RrType.PTR: {
      const n = readName(msg, at, lim);
      if (typeof n === 'string') return n;
      if (n.next > at + len) return 'dns.bad_rdata';
      return n.name;
    }
    case RrType.MX: {
      const pref = c.u16();
      if (c.err) return 'dns.bad_rdata';
      const n = readName(msg, at + 2, lim);
      if (typeof n === 'string') return n;
      if (n.next > at + len) return 'dns.bad_rdata';
      return `${pref} ${n.name}`;
    }
    case RrType.TXT: {
      const parts: string[] = [];
      let total = 0;
      while (c.remaining > 0) {
        const n = c.u8();
        const v = c.view(n);
        if (c.err) return 'dns.bad_rdata';
        if (total + n > lim.maxStringBytes) {
          parts.push(latin1Bounded(v, lim.maxStringBytes - total));
          events.push('dns.limit.max_string_bytes');
          break;
        }
        total += n;
        parts.push(latin1Bounded(v, n));
      }
      return parts.join(' ');
    }
    default: {
      const max = lim.maxStringBytes >> 1; // hex doubles the size
      if (len > max) events.push('dns.limit.max_string_bytes');
      return hex(msg, at, at + Math.min(len, max));
    }
  }
}

/** Parse one whole DNS message. Header damage → event id; damage later → partial result + events. */
export function parseMessage(msg: Uint8Array, lim: DnsLimits): ParsedMessage | DnsEventId {
  const c = new Cursor(msg);
  const id = c.u16();
  const flags = c.u16();
  const qd = c.u16();
  const an = c.u16();
  c.u16(); // nscount
  c.u16(); // arcount
  if (c.err) return 'dns.truncated_message';
  const m: ParsedMessage = {
    id, qr: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, rcode: flags & 0xf, tc: (flags & 0x0200) !== 0,
    qdCount: qd, anCount: an, questions: [], answers: [], events: [],
  };
  let pos = 12;
  const qn = Math.min(qd, lim.maxQuestionsCount);
  for (let i = 0; i < qn; i++) {
    if (pos >= msg.length) { m.events.push('dns.truncated_message'); return m; }
    const n = readName(msg, pos, lim);
    if (typeof n === 'string') { m.events.push(n); return m; }
    c.pos = n.next;
    const type = c.u16();
    const cls = c.u16();
    if (c.err) { m.events.push('dns.truncated_message'); return m; }
    pos = c.pos;
    m.questions.push({ name: n.name, type, class: cls });
  }
  if (qd > qn) {
    m.events.push('dns.limit.max_questions_count');
    return m; // the answer section starts after questions we did not walk
  }
  const ann = Math.min(an, lim.maxAnswersCount);
  for (let i = 0; i < ann; i++) {
    if (pos >= msg.length) { m.events.push('dns.truncated_message'); return m; }
    const n = readName(msg, pos, lim);
    if (typeof n === 'string') { m.events.push(n); return m; }
    c.pos = n.next;
    const type = c.u16();
    c.u16(); // class
    const ttl = c.u32();
    const rdlen = c.u16();
    const at = c.pos;
    c.skip(rdlen);
    if (c.err) { m.events.push('dns.truncated_message'); return m; }
    pos = c.pos;
    const data = rdataText(msg, type, at, rdlen, lim, m.events);
    if (data === 'dns.bad_rdata' || data === 'dns.bad_name' || data === 'dns.bad_pointer' || data === 'dns.bad_label_type' || data === 'dns.limit.max_pointer_count') {
      m.events.push(data);
      continue;
    }
    m.answers.push({ name: n.name, type, ttl, data });
  }
  if (an > ann) m.events.push('dns.limit.max_answers_count');
  return m;
}

/**
 * Probe one DNS message at `off` (allocation-free): sane header for the direction and a
 * well-formed uncompressed first question. `complete` = the bytes are the whole message (UDP).
 */
export function probeDnsMessage(b: Uint8Array, off: number, toServer: boolean, complete: boolean): 'yes' | 'no' | 'unsure' {
  if (b.length - off < 12) return complete ? 'no' : 'unsure';
  const f1 = b[off + 2] as number;
  const f2 = b[off + 3] as number;
  const qr = (f1 & 0x80) !== 0;
  const opcode = (f1 >> 3) & 0xf;
  if (qr === toServer) return 'no';
  if (opcode === 3 || opcode > 6) return 'no'; // 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE, 6 DSO
  if ((f2 & 0x40) !== 0) return 'no'; // Z bit must be zero (RFC 1035 §4.1.1; AD/CD are bits 5/4)
  if (toServer && (f2 & 0x0f) !== 0) return 'no'; // queries carry rcode 0
  const qd = ((b[off + 4] as number) << 8) | (b[off + 5] as number);
  const an = ((b[off + 6] as number) << 8) | (b[off + 7] as number);
  const ar = ((b[off + 10] as number) << 8) | (b[off + 11] as number);
  if (qd < 1 || qd > 4) return 'no';
  if (toServer && opcode === 0 && (an > 8 || ar > 4)) return 'no';
  let p = off + 12;
  for (let labels = 0; ; labels++) {
    if (p >= b.length) return complete ? 'no' : 'unsure';
    const len = b[p] as number;
    if (len === 0) break;
    if (len > 63 || labels > 127) return 'no';
    p += len + 1;
  }
  if (p + 5 > b.length) return complete ? 'no' : 'unsure';
  const cls = (((b[p + 3] as number) << 8) | (b[p + 4] as number)) & 0x7fff; // mDNS QU bit masked
  return cls === 1 || cls === 3 || cls === 4 || cls === 254 || cls === 255 ? 'yes' : 'no';
}
