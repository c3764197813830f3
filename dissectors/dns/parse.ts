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
  questions: readonly DnsQuestion[];
  answers: readonly DnsAnswer[];
  events: readonly DnsEventId[];
}

/**
 * A name's presentation form is built as bytes here and turned into a string once. Built label by
 * label with `+`, a name became a tree of string pieces (V8 joins strings of 13 characters or
 * more lazily), and every DNS flow kept that tree alive until its record was written: in a flood
 * of lookups those pieces were a good part of what each flow held. 255 wire octets escaped as
 * \DDD fit in 1,024 bytes.
 */
const nameBytes = Buffer.alloc(1024);

/** Where the name decodeName() read ends at its original place (the caller's next field). */
let nameNext = 0;
/** Why decodeName() returned null. */
let nameError: DnsEventId = 'dns.bad_name';

/**
 * Names already decoded in the message being parsed, by the offset they start at: an answer's
 * owner is nearly always a pointer to the question, and taking the question's string for it keeps
 * one copy of the name instead of two. Valid for one message (parseMessage resets it).
 */
const MEMO_MAX = 8;
const memoAt: number[] = [];
const memoName: string[] = [];
const memoPointers: number[] = [];
let memoMsg: Uint8Array | null = null;
let memoCount = 0;

function memoFind(msg: Uint8Array, at: number): number {
  if (memoMsg !== msg) return -1;
  for (let i = 0; i < memoCount; i++) if (memoAt[i] === at) return i;
  return -1;
}

function memoAdd(msg: Uint8Array, at: number, name: string, pointers: number): void {
  if (memoMsg !== msg || memoCount >= MEMO_MAX) return;
  memoAt[memoCount] = at;
  memoName[memoCount] = name;
  memoPointers[memoCount] = pointers;
  memoCount++;
}

/**
 * Decode the (possibly compressed) name starting at `start` of `msg`: its text (root = '.'), with
 * nameNext set to the offset just after it at its original place; or null with nameError set.
 * Pointers must point backwards (each before the place it was read from, and before the previous
 * target), so no loop is possible; their number is bounded by maxPointerCount.
 */
function decodeName(msg: Uint8Array, start: number, lim: DnsLimits): string | null {
  const end = msg.length;
  let p = start;
  // A name that is only a pointer to one already decoded: the same string.
  if (p + 1 < end && ((msg[p] as number) & 0xc0) === 0xc0) {
    const target = (((msg[p] as number) & 0x3f) << 8) | (msg[p + 1] as number);
    const k = target < start ? memoFind(msg, target) : -1;
    if (k >= 0 && 1 + (memoPointers[k] as number) <= lim.maxPointerCount) {
      nameNext = p + 2;
      return memoName[k] as string;
    }
  }
  const out = nameBytes;
  let o = 0;
  let wireLen = 0;
  let next = -1;
  let pointers = 0;
  let floor = start; // a pointer must point before the place it was read from
  for (;;) {
    const at = p;
    if (p >= end) { nameError = 'dns.bad_name'; return null; }
    const len = msg[p++] as number;
    if (len === 0) break;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (p >= end) { nameError = 'dns.bad_name'; return null; }
      const target = ((len & 0x3f) << 8) | (msg[p++] as number);
      if (next < 0) next = p;
      if (++pointers > lim.maxPointerCount) { nameError = 'dns.limit.max_pointer_count'; return null; }
      if (target >= floor || target >= at) { nameError = 'dns.bad_pointer'; return null; }
      floor = target;
      p = target;
      continue;
    }
    if (kind !== 0) { nameError = 'dns.bad_label_type'; return null; }
    wireLen += len + 1;
    if (wireLen > 254) { nameError = 'dns.bad_name'; return null; } // 255 octets including the root label
    if (p + len > end) { nameError = 'dns.bad_name'; return null; }
    if (o > 0) out[o++] = 0x2e;
    for (let i = 0; i < len; i++) {
      const ch = msg[p + i] as number;
      // Printable except '.' and '\\' as-is; everything else \DDD (RFC 4343 §2.1 presentation form).
      if (ch > 0x20 && ch < 0x7f && ch !== 0x2e && ch !== 0x5c) out[o++] = ch;
      else {
        out[o] = 0x5c;
        out[o + 1] = 0x30 + ((ch / 100) | 0);
        out[o + 2] = 0x30 + (((ch / 10) | 0) % 10);
        out[o + 3] = 0x30 + (ch % 10);
        o += 4;
      }
    }
    p += len;
  }
  nameNext = next >= 0 ? next : p;
  const name = o === 0 ? '.' : out.toString('latin1', 0, o);
  memoAdd(msg, start, name, pointers);
  return name;
}

/**
 * Read a (possibly compressed) name starting at `start` of `msg`. Returns the name (root = '.')
 * and the offset just after the name at its original place, or an event id.
 */
export function readName(msg: Uint8Array, start: number, lim: DnsLimits): { name: string; next: number } | DnsEventId {
  memoMsg = null;
  const name = decodeName(msg, start, lim);
  return name === null ? nameError : { name, next: nameNext };
}

/** Dotted-quad text of the 4 bytes at `at`, as one flat string (see nameBytes). */
function ipv4Text(msg: Uint8Array, at: number): string {
  const out = nameBytes;
  let o = 0;
  for (let i = 0; i < 4; i++) {
    const v = msg[at + i] as number;
    if (i > 0) out[o++] = 0x2e;
    if (v >= 100) out[o++] = 0x30 + ((v / 100) | 0);
    if (v >= 10) out[o++] = 0x30 + (((v / 10) | 0) % 10);
    out[o++] = 0x30 + (v % 10);
  }
  return out.toString('latin1', 0, o);
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
  switch (type) {
    case RrType.A:
      if (len !== 4) return 'dns.bad_rdata';
      return ipv4Text(msg, at);
    case RrType.AAAA:
      if (len !== 16) return 'dns.bad_rdata';
      return ipv6Text(msg.subarray(at, at + 16));
    case RrType.CNAME:
    case RrType.NS:
    case RrType.PTR: {
      const n = decodeName(msg, at, lim);
      if (n === null) return nameError;
      if (nameNext > at + len) return 'dns.bad_rdata';
      return n;
    }
    case RrType.MX: {
      if (len < 2) return 'dns.bad_rdata';
      const pref = ((msg[at] as number) << 8) | (msg[at + 1] as number);
      const n = decodeName(msg, at + 2, lim);
      if (n === null) return nameError;
      if (nameNext > at + len) return 'dns.bad_rdata';
      return `${pref} ${n}`;
    }
    case RrType.TXT: {
      const c = new Cursor(msg, at, at + len);
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

/**
 * The lists of a message without entries, shared: most queries have no answers and most messages
 * no events, and an empty list of its own per record is memory every DNS flow holds until written.
 */
const NONE: readonly never[] = Object.freeze([]);

// Lists are gathered here and copied out at their exact length: an array grown by push keeps
// room for 16 entries, most of it empty for the one question and the one or two answers of a lookup.
const qScratch: DnsQuestion[] = [];
const aScratch: DnsAnswer[] = [];
const eScratch: DnsEventId[] = [];

const msgCursor = new Cursor(new Uint8Array(0));

/** Parse one whole DNS message. Header damage → event id; damage later → partial result + events. */
export function parseMessage(msg: Uint8Array, lim: DnsLimits): ParsedMessage | DnsEventId {
  const c = msgCursor.reset(msg);
  const id = c.u16();
  const flags = c.u16();
  const qd = c.u16();
  const an = c.u16();
  c.u16(); // nscount
  c.u16(); // arcount
  if (c.err) { c.reset(EMPTY_MSG); return 'dns.truncated_message'; }
  qScratch.length = 0;
  aScratch.length = 0;
  eScratch.length = 0;
  memoMsg = msg;
  memoCount = 0;
  readSections(msg, c, qd, an, lim);
  // Nothing here may keep the packet's bytes alive once the message is parsed.
  memoMsg = null;
  c.reset(EMPTY_MSG);
  return {
    id, qr: (flags & 0x8000) !== 0, opcode: (flags >> 11) & 0xf, rcode: flags & 0xf, tc: (flags & 0x0200) !== 0,
    qdCount: qd, anCount: an,
    questions: qScratch.length === 0 ? NONE : qScratch.slice(),
    answers: aScratch.length === 0 ? NONE : aScratch.slice(),
    events: eScratch.length === 0 ? NONE : eScratch.slice(),
  };
}

const EMPTY_MSG = new Uint8Array(0);

/** The question and answer sections into the scratch lists; damage ends the walk with an event. */
function readSections(msg: Uint8Array, c: Cursor, qd: number, an: number, lim: DnsLimits): void {
  const events = eScratch;
  let pos = 12;
  const qn = Math.min(qd, lim.maxQuestionsCount);
  for (let i = 0; i < qn; i++) {
    if (pos >= msg.length) { events.push('dns.truncated_message'); return; }
    const name = decodeName(msg, pos, lim);
    if (name === null) { events.push(nameError); return; }
    c.pos = nameNext;
    const type = c.u16();
    const cls = c.u16();
    if (c.err) { events.push('dns.truncated_message'); return; }
    pos = c.pos;
    qScratch.push({ name, type, class: cls });
  }
  if (qd > qn) {
    events.push('dns.limit.max_questions_count');
    return; // the answer section starts after questions we did not walk
  }
  const ann = Math.min(an, lim.maxAnswersCount);
  for (let i = 0; i < ann; i++) {
    if (pos >= msg.length) { events.push('dns.truncated_message'); return; }
    const name = decodeName(msg, pos, lim);
    if (name === null) { events.push(nameError); return; }
    c.pos = nameNext;
    const type = c.u16();
    c.u16(); // class
    const ttl = c.u32();
    const rdlen = c.u16();
    const at = c.pos;
    c.skip(rdlen);
    if (c.err) { events.push('dns.truncated_message'); return; }
    pos = c.pos;
    const data = rdataText(msg, type, at, rdlen, lim, events);
    if (data === 'dns.bad_rdata' || data === 'dns.bad_name' || data === 'dns.bad_pointer' || data === 'dns.bad_label_type' || data === 'dns.limit.max_pointer_count') {
      events.push(data);
      continue;
    }
    aScratch.push({ name, type, data, ttl });
  }
  if (an > ann) events.push('dns.limit.max_answers_count');
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
