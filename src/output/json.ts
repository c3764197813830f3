/**
 * JSON written as it is produced, for the ECS documents: no object tree built first, no pass that
 * deletes empty fields, no Date object per timestamp. The same text JSON.stringify gives for the
 * pruned object form (src/output/ecs.ts), with the terminal-unsafe characters escaped as the
 * JSON-lines sink always did.
 */
import * as crypto from 'node:crypto';
import type { EcsRuns, EcsWriter, SectionMemo } from '../contract/api.js';
import { MapFront } from '../util/map-front.js';
import { jsonString, terminalSafeJson } from '../util/json-text.js';

// The string escapes live in src/util so a dissector's section writer can build JSON text with
// them (dissectors import no output module); re-exported for the output's own callers.
export { TERMINAL_UNSAFE, asciiBytes, jsonString, terminalSafeJson } from '../util/json-text.js';

/**
 * `lean` (the default): the fields a SIEM user searches and pivots on and the sensor's
 * conclusions. A certificate, a client fingerprint's sorted JA4 raw form and the sensor's own
 * observer.* are described once per output stream and UTC day in documents of their own, and flows
 * carry the keys (leaf SHA-256, ja4, observer.name); raw forms, the analytics' inputs and what a
 * document says already are left to `full` (docs/OPERATIONS.md lists them). `full`: every flow
 * document carries everything.
 */
export type OutputDetail = 'lean' | 'full';
export const OUTPUT_DETAILS: readonly OutputDetail[] = ['lean', 'full'];

// ---- timestamps from integers --------------------------------------------------------------

const TWO: string[] = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'));
const THREE: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
const DAY_MS = 86_400_000;
/** Year 10000: from there on toISOString writes a six-digit signed year. */
const FAST_LIMIT_MS = 253_402_300_800_000;
// Cache: the text of the day and of the second last written (records arrive in time order, so
// most timestamps share both with the one before).
let cachedDay = -1;
let dayPrefix = '';
let cachedSecond = -1;
let secondPrefix = '';

/**
 * The text of a timestamp up to its milliseconds ("2026-12-07T14:05:08."), for a whole second since
 * 1970 below FAST_LIMIT_MS: the date part is cached per UTC day and the time up to the second per
 * second, since a flow's timestamps mostly share both.
 */
function secondText(sec: number): string {
  if (sec === cachedSecond) return secondPrefix;
  const day = Math.floor(sec / 86_400);
  if (day !== cachedDay) {
    cachedDay = day;
    dayPrefix = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let r = sec - day * 86_400;
  const h = Math.floor(r / 3600);
  r -= h * 3600;
  const m = Math.floor(r / 60);
  cachedSecond = sec;
  secondPrefix = `${dayPrefix}${TWO[h] as string}:${TWO[m] as string}:${TWO[r - m * 60] as string}.`;
  return secondPrefix;
}

/**
 * secondText's 20 characters as five little-endian words for the writer (putTime stores them four
 * bytes at a time), for the last two seconds asked (a flow's start and end often fall in two): the
 * second each is of, and which of the two to replace next. Slot i's words are at 5i.
 */
const wordSeconds = [-1, -1];
const SECOND_WORDS = new Int32Array(10);
let wordsNext = 0;

/** The index in SECOND_WORDS of sec's five words. */
function secondWordsOf(sec: number): number {
  if (sec === wordSeconds[0]) return 0;
  if (sec === wordSeconds[1]) return 5;
  const i = wordsNext;
  wordsNext = 1 - i;
  const text = secondText(sec);
  for (let j = 0; j < 5; j++) {
    const c = 4 * j;
    SECOND_WORDS[5 * i + j] = text.charCodeAt(c) | (text.charCodeAt(c + 1) << 8) | (text.charCodeAt(c + 2) << 16) | (text.charCodeAt(c + 3) << 24);
  }
  wordSeconds[i] = sec;
  return 5 * i;
}

/**
 * `new Date(ms).toISOString()` without the Date (see secondText). Times outside 1970–9999 (or not
 * numbers) go to Date, which formats or rejects them as before.
 */
export function isoTime(ms: number): string {
  // Date's time value truncates fractional milliseconds (TimeClip); for ms >= 0 that is floor.
  if (!(ms >= 0 && ms < FAST_LIMIT_MS)) return new Date(ms).toISOString();
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  return `${secondText(sec)}${THREE[t - sec * 1000] as string}Z`;
}

/** The UTC day (days since 1970) of an epoch-milliseconds time. */
export const utcDay = (ms: number): number => Math.floor(ms / DAY_MS);

// ---- event ids --------------------------------------------------------------------------------

type OneShotHash = (algorithm: string, data: string, encoding: 'hex') => string;
const oneShot = (crypto as unknown as { hash?: OneShotHash }).hash;

/**
 * event.id: the same event gets the same id wherever and however often it is written (a replay to
 * two collectors, a resent batch), so a SIEM can deduplicate on it. crypto.hash (Node ≥ 20.12)
 * skips the Hash object; older runtimes take createHash for the same digest.
 */
export const eventId: (parts: string) => string = typeof oneShot === 'function'
  ? (parts) => oneShot('sha256', parts, 'hex').slice(0, 32)
  : (parts) => crypto.createHash('sha256').update(parts).digest('hex').slice(0, 32);

/** Two ASCII digits per value 0..99 (the tens at 2v, the units at 2v + 1): numbers written two digits a division. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 0x30 + ((i / 10) | 0);
  DIGIT_PAIRS[2 * i + 1] = 0x30 + (i % 10);
}

// msText's digits of the last whole second it wrote (floor(ms / 1000), ten digits for a capture's
// times) and the millisecond that second starts at: a flow's two times and the next flows' mostly
// fall in it, and each of those digits costs a division of a double (they pass 2^31).
let msSecondStart = Number.NaN;
const msSecondDigits = new Uint8Array(16);
let msSecondLength = 0;

/**
 * String(ms) written as bytes at b[p] for a time in milliseconds with at most three decimals (a
 * capture's microseconds), returning the end; -1 for any other number, which the caller formats
 * with String. Such a time is k / 1000 for an integer k, the double nearest that decimal (division
 * rounds correctly), and below 2^42 two doubles are less than 10^-3 / 2 apart, so the decimal is
 * the only one that short to round to it: the shortest form String gives.
 */
export function msText(b: Uint8Array, p: number, ms: number): number {
  if (!(ms >= 0 && ms < 4_398_046_511_104)) return -1;
  const k = Math.round(ms * 1000);
  if (k / 1000 !== ms) return -1;
  // k / 1000 is ms itself, so their whole parts are one
  const whole = Math.floor(ms);
  const frac = k - whole * 1000;
  if (whole < 1000) {
    // no second's digits before these (String writes no leading zeros)
    if (whole >= 100) b[p++] = 0x30 + ((whole / 100) | 0);
    const two = whole % 100;
    if (whole >= 10) b[p++] = DIGIT_PAIRS[2 * two] as number;
    b[p++] = DIGIT_PAIRS[2 * two + 1] as number;
  } else {
    let r = whole - msSecondStart;
    if (!(r >= 0 && r < 1000)) {
      const sec = Math.floor(whole / 1000);
      msSecondStart = sec * 1000;
      r = whole - msSecondStart;
      let n = 1;
      for (let t = sec; t >= 10; t = Math.floor(t / 10)) n++;
      msSecondLength = n;
      let t = sec;
      do {
        const d = Math.floor(t / 10);
        msSecondDigits[--n] = 0x30 + t - d * 10;
        t = d;
      } while (t !== 0);
    }
    for (let i = 0; i < msSecondLength; i++) b[p++] = msSecondDigits[i] as number;
    const h = (r / 100) | 0;
    const two = r - h * 100;
    b[p++] = 0x30 + h;
    b[p++] = DIGIT_PAIRS[2 * two] as number;
    b[p++] = DIGIT_PAIRS[2 * two + 1] as number;
  }
  if (frac !== 0) {
    const d1 = (frac / 100) | 0;
    const d2 = ((frac - d1 * 100) / 10) | 0;
    const d3 = frac - d1 * 100 - d2 * 10;
    b[p++] = 0x2e; // .
    b[p++] = 0x30 + d1;
    if (d2 !== 0 || d3 !== 0) b[p++] = 0x30 + d2;
    if (d3 !== 0) b[p++] = 0x30 + d3;
  }
  return p;
}

type OneShotBytes = (algorithm: string, data: Uint8Array, encoding: 'hex' | 'latin1') => string;
const ID_INPUT = Buffer.allocUnsafeSlow(256);
/** Views of ID_INPUT by length, made once: the hash takes a whole view, and a view per id is an object per flow. */
const idViews: Uint8Array[] = [];

/**
 * flowEventId's input (`flow|${communityId}|${startTs}|${endTs}`) written as bytes into ID_INPUT:
 * its length, or -1 when it must be made as a string (an ID other than the sensor's base64, a time
 * msText declines).
 */
function flowIdInput(communityId: string, startTs: number, endTs: number): number {
  const b = ID_INPUT;
  const n = communityId.length;
  if (n > 180) return -1;
  b[0] = 0x66; b[1] = 0x6c; b[2] = 0x6f; b[3] = 0x77; b[4] = 0x7c; // flow|
  let p = 5;
  for (let i = 0; i < n; i++) {
    const c = communityId.charCodeAt(i);
    // the sensor makes it from base64: anything else hashes its UTF-8 through the string
    if (c >= 0x80) return -1;
    b[p++] = c;
  }
  b[p++] = 0x7c;
  p = msText(b, p, startTs);
  if (p < 0) return -1;
  b[p++] = 0x7c;
  p = msText(b, p, endTs);
  return p;
}

/** The view of ID_INPUT's first n bytes. */
const idView = (n: number): Uint8Array => idViews[n] ?? (idViews[n] = ID_INPUT.subarray(0, n));

/**
 * A flow's event.id, eventId(`flow|${communityId}|${startTs}|${endTs}`), with its input written
 * as bytes: the two times as msText writes them (else String's text) and no string made.
 */
export function flowEventId(communityId: string, startTs: number, endTs: number): string {
  const n = flowIdInput(communityId, startTs, endTs);
  if (n < 0) return eventId(`flow|${communityId}|${startTs}|${endTs}`);
  const view = idView(n);
  return typeof oneShot === 'function'
    ? (oneShot as unknown as OneShotBytes)('sha256', view, 'hex').slice(0, 32)
    : crypto.createHash('sha256').update(view).digest('hex').slice(0, 32);
}

/** Two lowercase hex digits per byte value, for an id written straight from its digest. */
const HEX_PAIRS = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const h = i.toString(16).padStart(2, '0');
  HEX_PAIRS[2 * i] = h.charCodeAt(0);
  HEX_PAIRS[2 * i + 1] = h.charCodeAt(1);
}

// ---- direct writes: each writes at b[p] (the caller made room) and returns the end ----------------

/** Room putNum may take: String's longest form of a double ("-2.2250738585072014e-308"). */
export const NUM_ROOM = 25;
/** Room putTime may take: a quoted six-digit-year ISO text past the fast range. */
export const TIME_ROOM = 32;
/** Room putFlowId takes. */
export const FLOW_ID_ROOM = 32;

/** Constant bytes: a short run (a key and its punctuation) four bytes a store, a longer one in one native copy. */
export function putRun(b: Uint8Array, v: DataView, p: number, t: Uint8Array): number {
  const n = t.length;
  if (n > 24) {
    b.set(t, p);
    return p + n;
  }
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    v.setUint32(p, (t[i] as number) | ((t[i + 1] as number) << 8) | ((t[i + 2] as number) << 16) | ((t[i + 3] as number) << 24), true);
    p += 4;
  }
  for (; i < n; i++) b[p++] = t[i] as number;
  return p;
}

/** A non-negative int32's digits, counted by comparison and written two a division. */
function putUint(b: Uint8Array, p: number, v: number): number {
  const n = v < 100_000
    ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10_000 ? 4 : 5)
    : v < 10_000_000 ? (v < 1_000_000 ? 6 : 7) : v < 100_000_000 ? 8 : v < 1_000_000_000 ? 9 : 10;
  const end = p + n;
  p = end;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const two = (v - q * 100) << 1;
    b[--p] = DIGIT_PAIRS[two + 1] as number;
    b[--p] = DIGIT_PAIRS[two] as number;
    v = q;
  }
  if (v >= 10) {
    b[--p] = DIGIT_PAIRS[2 * v + 1] as number;
    b[--p] = DIGIT_PAIRS[2 * v] as number;
  } else {
    b[--p] = 0x30 + v;
  }
  return end;
}

/** A number as String(v) writes it (null when not finite, as JSON.stringify does): at most NUM_ROOM bytes. */
export function putNum(b: Uint8Array, p: number, v: number): number {
  // A non-negative int32 (counts, ports, sizes): its digits without making a string.
  if ((v | 0) === v && v >= 0) return putUint(b, p, v);
  if (v >= 2_147_483_648 && v <= 9_007_199_254_740_991 && Math.floor(v) === v) {
    // A larger integer (a duration in nanoseconds past 2 s, a byte count past 2 GiB): String gives
    // its plain digits below 2^53, written as the int32 above 10^9 and nine more digits.
    // v / 1e9 < 2^24 is rounded by at most 2^-30, less than the 10^-9 its fraction stays below
    // 1 by: the floor is the true quotient's
    const high = Math.floor(v / 1e9);
    let low = v - high * 1e9;
    const end = putUint(b, p, high) + 9;
    p = end;
    for (let i = 0; i < 4; i++) {
      const q = (low / 100) | 0;
      const two = (low - q * 100) << 1;
      b[--p] = DIGIT_PAIRS[two + 1] as number;
      b[--p] = DIGIT_PAIRS[two] as number;
      low = q;
    }
    b[--p] = 0x30 + low;
    return end;
  }
  // A number of at most 4 decimals (the lean output's rounded ratios and entropies, k / 1e4 for
  // an integer k) is written from k. String(v) gives the same digits: k / 1e4 is the double
  // nearest the decimal k·10⁻⁴, and any other decimal that short lies 10⁻⁴ away, far outside
  // the double's rounding interval at these magnitudes.
  let k = Math.round(v * 1e4);
  if (k / 1e4 === v && k > -2_147_483_648 && k < 2_147_483_648) {
    // (not a multiple of 10⁴ when k ≥ 0: those went the integer way)
    if (k < 0) {
      b[p++] = 0x2d; // -
      k = -k;
    }
    const whole = Math.floor(k / 1e4);
    let frac = k - whole * 1e4;
    p = putUint(b, p, whole);
    if (frac !== 0) {
      b[p++] = 0x2e; // .
      let div = 1000;
      while (frac !== 0) {
        const d = Math.floor(frac / div);
        b[p++] = 0x30 + d;
        frac -= d * div;
        div /= 10;
      }
    }
    return p;
  }
  // String's text of a number is ASCII
  const t = Number.isFinite(v) ? String(v) : 'null';
  for (let i = 0; i < t.length; i++) b[p++] = t.charCodeAt(i);
  return p;
}

/** A timestamp as time() writes it, quoted: at most TIME_ROOM bytes. Past 1970–9999 Date formats (or rejects) it. */
export function putTime(b: Uint8Array, v: DataView, p: number, ms: number): number {
  if (!(ms >= 0 && ms < FAST_LIMIT_MS)) {
    const t = `"${new Date(ms).toISOString()}"`;
    for (let i = 0; i < t.length; i++) b[p++] = t.charCodeAt(i);
    return p;
  }
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  const frac = t - sec * 1000;
  const w = secondWordsOf(sec);
  b[p++] = 0x22;
  v.setUint32(p, SECOND_WORDS[w] as number, true);
  v.setUint32(p + 4, SECOND_WORDS[w + 1] as number, true);
  v.setUint32(p + 8, SECOND_WORDS[w + 2] as number, true);
  v.setUint32(p + 12, SECOND_WORDS[w + 3] as number, true);
  v.setUint32(p + 16, SECOND_WORDS[w + 4] as number, true);
  p += 20;
  const hundreds = (frac / 100) | 0;
  const two = (frac - hundreds * 100) << 1;
  b[p++] = 0x30 + hundreds;
  b[p++] = DIGIT_PAIRS[two] as number;
  b[p++] = DIGIT_PAIRS[two + 1] as number;
  b[p++] = 0x5a; // Z
  b[p++] = 0x22;
  return p;
}

/**
 * A string value quoted as it is (length + 2 bytes), or -1 when something in it needs escaping
 * (JSON's own escapes, and everything past ASCII: DEL, C1, the terminal-unsafe set, surrogates,
 * plain UTF-8 too), which the caller leaves to jsonString.
 */
export function putQuoted(b: Uint8Array, p: number, s: string): number {
  const n = s.length;
  b[p++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return -1;
    b[p++] = c;
  }
  b[p++] = 0x22;
  return p;
}

/**
 * The sensor's own ASCII text (an address, a Community ID) as it is (its length in bytes), or -1
 * when it holds a character past ASCII, which the caller writes as UTF-8 (raw).
 */
export function putAscii(b: Uint8Array, p: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    b[p++] = c;
  }
  return p;
}

/**
 * A flow's event.id as flowEventId gives it (FLOW_ID_ROOM bytes), its hex written from the
 * digest's bytes (the digest taken as latin1, one character a byte): no hex text of the whole
 * digest and no slice of it. -1 when its input must be made as a string (flowIdInput declines).
 */
export function putFlowId(b: Uint8Array, p: number, communityId: string, startTs: number, endTs: number): number {
  const n = typeof oneShot === 'function' ? flowIdInput(communityId, startTs, endTs) : -1;
  if (n < 0) return -1;
  const d = (oneShot as unknown as OneShotBytes)('sha256', idView(n), 'latin1');
  for (let i = 0; i < 16; i++) {
    const c = d.charCodeAt(i) << 1;
    b[p++] = HEX_PAIRS[c] as number;
    b[p++] = HEX_PAIRS[c + 1] as number;
  }
  return p;
}

// ---- writers ---------------------------------------------------------------------------------

const FIRST_BYTES = 1 << 16;
/** Flow ids a writer defers at most before it writes them (deferFlowId). */
const PENDING_IDS = 256;

const viewOf = (b: Buffer): DataView => new DataView(b.buffer, b.byteOffset, b.length);

const EMPTY = new Uint8Array(0);

/** A kept part: its bytes (no leading comma), whether they are ASCII, and the record info that made it. */
interface Kept {
  readonly bytes: Uint8Array;
  readonly ascii: boolean;
  readonly info: unknown;
}

/** Copies kept per slot and key: a few records under one key write different parts (several clients of a server). */
export const MEMO_VARIANTS = 8;
/** Keys kept per writer, all slots together, before the oldest is dropped. */
export const DEFAULT_MEMO_KEYS = 1024;

/**
 * SectionMemo for a JsonWriter: per slot, a Map from key to up to MEMO_VARIANTS kept copies (the
 * newest replacing the oldest), bounded by key count; the oldest key of a slot goes first once the
 * writer's keys exceed the bound (evictions counted). Per output stream, as its writer is.
 */
export class JsonSectionMemo implements SectionMemo {
  evictions = 0;
  hits = 0;
  misses = 0;
  size = 0;
  readonly max: number;
  private readonly w: JsonWriter;
  private readonly slots = new Map<string, { readonly m: Map<string, Kept[]>; readonly front: MapFront<string> }>();
  private slotOrder: string[] = [];
  private nextVictim = 0;

  constructor(w: JsonWriter, max = DEFAULT_MEMO_KEYS) {
    this.w = w;
    this.max = max;
  }

  part<I>(
    slot: string,
    key: string,
    info: I,
    same: (kept: I, info: I, full: boolean) => boolean,
    copy: (info: I) => I,
    write: (info: I, w: EcsWriter) => void,
  ): void {
    if (this.replay(slot, key, info, same)) return;
    const start = this.w.partStart();
    write(info, this.w);
    this.keep(slot, key, copy(info), start);
  }

  /** The kept copy for slot and key that `same` accepts for `info`, written; false when none is. */
  private replay<I>(slot: string, key: string, info: I, same: (kept: I, info: I, full: boolean) => boolean): boolean {
    const s = this.slots.get(slot);
    const list = s?.m.get(key);
    if (list !== undefined) {
      const full = this.w.full;
      for (let i = 0; i < list.length; i++) {
        const k = list[i] as Kept;
        if (same(k.info as I, info, full)) {
          this.w.copy(k.bytes, k.ascii);
          this.hits++;
          return true;
        }
      }
    }
    this.misses++;
    return false;
  }

  /** What was written since `start` (-1: nothing can be kept here) kept for slot and key, as `info`'s. */
  private keep<I>(slot: string, key: string, info: I, start: number): void {
    if (start < 0) return;
    const part = this.w.partEnd(start);
    if (part === null) return;
    let s = this.slots.get(slot);
    if (s === undefined) {
      const m = new Map<string, Kept[]>();
      s = { m, front: new MapFront(m) };
      this.slots.set(slot, s);
      this.slotOrder = [...this.slots.keys()];
    }
    const kept: Kept = { bytes: part.bytes, ascii: part.ascii, info };
    const list = s.m.get(key);
    if (list !== undefined) {
      // newest first; the oldest of a full list makes room
      if (list.length >= MEMO_VARIANTS) list.pop();
      list.unshift(kept);
      return;
    }
    s.m.set(key, [kept]);
    if (++this.size > this.max) this.evictOne();
  }

  /** The oldest key of a slot, taking the slots in turn so that no slot is emptied for another. */
  private evictOne(): void {
    for (let tries = 0; tries < this.slotOrder.length; tries++) {
      const slot = this.slotOrder[this.nextVictim++ % this.slotOrder.length] as string;
      const s = this.slots.get(slot);
      if (s === undefined || s.m.size === 0) continue;
      s.m.delete(s.front.take() as string);
      this.size--;
      this.evictions++;
      return;
    }
  }
}

/**
 * An ECS document as JSON text, written as UTF-8 bytes into a buffer of the writer's own as it is
 * produced. Building it as a string by appending made a rope of a hundred small pieces per document
 * that V8 then had to allocate, collect and flatten before a sink could encode it. A document
 * becomes a string in one step (end), or stays in the buffer as a line (line): a JSON-lines sink
 * lets the lines gather there and writes them out in one piece (takeLines), so its bytes are never
 * copied in between.
 *
 * Objects are opened lazily: open() only records the key, and the key with its brace is written
 * when the first field inside arrives, so an object that gets no field leaves no trace and nothing
 * has to be taken back.
 */
export class JsonWriter implements EcsWriter, EcsRuns {
  full: boolean;
  /** The writer itself: its byte runs (EcsWriter.runs). */
  readonly runs: EcsRuns = this;
  private buf: Buffer = Buffer.allocUnsafeSlow(FIRST_BYTES);
  /** buf as a DataView: a short constant run goes in four bytes a store (lit). */
  private view: DataView = viewOf(this.buf);
  private cap = FIRST_BYTES;
  /** Bytes of kept lines at the start of buf; the document being written follows them. */
  private kept = 0;
  private pos = 0;
  /** Only ASCII written since begin(): the bytes read as latin1 are the text (a cheaper decode). */
  private ascii = true;
  private readonly keys: string[] = [''];
  /** Per open level: something was written in it (the next field needs a comma). */
  private readonly has: boolean[] = [false];
  private depth = 0;
  /** Levels 0..shown have had their key and brace written. */
  private shown = 0;

  // Flow ids left as room in kept lines (deferFlowId) until the lines leave the writer: where each
  // goes and what its input is made of.
  private ids = 0;
  private readonly idAt = new Int32Array(PENDING_IDS);
  private readonly idCid: string[] = new Array<string>(PENDING_IDS).fill('');
  private readonly idStart = new Float64Array(PENDING_IDS);
  private readonly idEnd = new Float64Array(PENDING_IDS);

  /** Parts of sections kept as bytes (set by the serializer that owns this writer). */
  memo?: JsonSectionMemo;
  /** The ASCII state before the part being kept began (partStart). */
  private asciiBefore = true;
  /** has[depth] before the part being kept began: its first field then wrote a comma. */
  private commaBefore = false;

  constructor(full = true) {
    this.full = full;
  }

  /**
   * Where a kept part starts: at a level whose key is written (its fields come out as they are
   * written), else -1 (a part would carry its parents' keys).
   */
  partStart(): number {
    if (this.shown !== this.depth) return -1;
    this.asciiBefore = this.ascii;
    this.ascii = true;
    this.commaBefore = this.has[this.depth] as boolean;
    return this.pos;
  }

  /**
   * The bytes written since partStart, without the comma before them (none when the part wrote
   * nothing: kept too, as a part that writes nothing); null if the part left a level open.
   */
  partEnd(start: number): { bytes: Uint8Array; ascii: boolean } | null {
    const ascii = this.ascii;
    this.ascii = this.asciiBefore && ascii;
    let from = start;
    if (this.commaBefore && this.pos > from) from++;
    if (this.shown !== this.depth) return null;
    return { bytes: this.pos > from ? new Uint8Array(this.buf.subarray(from, this.pos)) : EMPTY, ascii };
  }

  /** A kept part written again: the comma it needs here, then its bytes. */
  copy(t: Uint8Array, ascii: boolean): void {
    if (t.length === 0) return;
    if (this.shown < this.depth) this.show();
    this.comma(this.depth);
    this.lit(t, ascii);
  }

  /** EcsRuns.field: an ASCII run starting a field here (its key and what follows). */
  field(t: Uint8Array): void {
    this.copy(t, true);
  }

  begin(): void {
    this.dropIds();
    this.pos = this.kept;
    this.room(1);
    this.buf[this.pos++] = 0x7b; // {
    this.ascii = true;
    this.depth = 0;
    this.shown = 0;
    this.has[0] = false;
  }

  /** Close the document and return its text (the writer can begin() the next one). */
  end(): string {
    this.room(1);
    this.buf[this.pos++] = 0x7d; // }
    this.writeIds();
    return this.buf.toString(this.ascii ? 'latin1' : 'utf8', this.kept, this.pos);
  }

  /** Close the document and keep it, with a newline, after the lines kept before it. */
  line(): void {
    this.room(2);
    const b = this.buf;
    b[this.pos++] = 0x7d;
    b[this.pos++] = 0x0a;
    this.kept = this.pos;
  }

  /** Keep a line given as text (a document made elsewhere): UTF-8, a newline after it. */
  textLine(text: string): void {
    this.dropIds();
    this.pos = this.kept;
    this.raw(text);
    this.room(1);
    this.buf[this.pos++] = 0x0a;
    this.kept = this.pos;
  }

  /** Bytes of the lines kept so far. */
  get keptBytes(): number {
    return this.kept;
  }

  /**
   * The kept lines, handed over: the buffer is the caller's from now on (a stream may hold it until
   * written), and the writer goes on in `spare` (a buffer the caller got back from an earlier take
   * and no longer uses) or else in a fresh one of `nextCap` bytes.
   */
  takeLines(nextCap: number, spare?: Buffer): Buffer {
    this.dropIds();
    this.writeIds();
    const out = this.buf.subarray(0, this.kept);
    this.cap = spare !== undefined && spare.length >= 64 ? spare.length : Math.max(nextCap, 64);
    this.buf = spare !== undefined && spare.length >= 64 ? spare : Buffer.allocUnsafeSlow(this.cap);
    this.view = viewOf(this.buf);
    this.kept = 0;
    this.pos = 0;
    return out;
  }

  // ---- a document shape's own writer (EcsSerializer's flow head): constant text between the
  // values made once as bytes, the values written as the field methods write them. The caller
  // knows the state: each lit() text starts with its comma (none right after begin()), and is
  // written at the current level, which then has a field.

  /** Constant text as UTF-8 bytes (see asciiBytes), copied as it is; `ascii` false if it has other bytes. */
  lit(t: Uint8Array, ascii = true): void {
    if (!ascii) this.ascii = false;
    this.room(t.length);
    this.pos = putRun(this.buf, this.view, this.pos, t);
    this.has[this.depth] = true;
  }

  /**
   * Constant text that opens objects (`,"a":{"b":{"c":`, the last one's first key included):
   * the writer goes on inside them, as after open() of each and a field written in each.
   */
  litOpen(t: Uint8Array, ...keys: string[]): void {
    this.lit(t);
    for (let i = 0; i < keys.length; i++) {
      const d = ++this.depth;
      this.keys[d] = keys[i] as string;
      this.has[d] = true;
    }
    this.shown = this.depth;
  }

  /** A string value as str() writes it (quoted, escaped when needed). */
  vstr(v: string): void {
    this.quoted(v);
  }

  /** A string value as safe() writes it (quoted, the sensor's own text: no test). */
  vsafe(v: string): void {
    this.room(1);
    this.buf[this.pos++] = 0x22;
    this.raw(v);
    this.room(1);
    this.buf[this.pos++] = 0x22;
  }

  /** A number value as num() writes it. */
  vnum(v: number): void {
    this.number(v);
  }

  /** A flow's event.id as flowEventId gives it (see putFlowId). */
  vflowId(communityId: string, startTs: number, endTs: number): void {
    this.room(FLOW_ID_ROOM);
    const p = putFlowId(this.buf, this.pos, communityId, startTs, endTs);
    if (p < 0) this.raw(flowEventId(communityId, startTs, endTs));
    else this.pos = p;
  }

  /** A timestamp value as time() writes it. */
  vtime(ms: number): void {
    this.room(TIME_ROOM);
    this.pos = putTime(this.buf, this.view, this.pos, ms);
  }

  // ---- direct writes (a document shape's own writer, EcsSerializer's flow head): room made once
  // for at most what a stretch of the document takes, the put* functions writing at a position the
  // caller keeps, and the end handed back.

  /** Room for n more bytes: the position to write at in `out`. */
  reserve(n: number): number {
    this.room(n);
    return this.pos;
  }

  /** The buffer reserve() made room in (another once a field method or reserve() grows it). */
  get out(): Buffer {
    return this.buf;
  }

  /** `out` as a DataView. */
  get outView(): DataView {
    return this.view;
  }

  /** What was written since reserve() ends at p, and the current level has a field. `ascii` false: it has bytes past ASCII. */
  commit(p: number, ascii = true): void {
    this.pos = p;
    if (!ascii) this.ascii = false;
    this.has[this.depth] = true;
  }

  /**
   * A flow's event.id (putFlowId's text) at p, reserved room: its FLOW_ID_ROOM bytes are written
   * with the ids of the lines before and after it just before the lines leave the writer
   * (takeLines, end), PENDING_IDS at most at a time. One flow's hash among the rest of its
   * document found the hash function's code and tables cold each time; in a run of ids they stay
   * warm, at a fraction of the cost each.
   */
  deferFlowId(p: number, communityId: string, startTs: number, endTs: number): number {
    const i = this.ids++;
    this.idAt[i] = p;
    this.idCid[i] = communityId;
    this.idStart[i] = startTs;
    this.idEnd[i] = endTs;
    if (i + 1 === PENDING_IDS) this.writeIds();
    return p + FLOW_ID_ROOM;
  }

  /** The deferred ids written into their places. */
  private writeIds(): void {
    const n = this.ids;
    if (n === 0) return;
    const b = this.buf;
    const cids = this.idCid;
    for (let i = 0; i < n; i++) {
      const at = this.idAt[i] as number;
      const cid = cids[i] as string;
      const start = this.idStart[i] as number;
      const end = this.idEnd[i] as number;
      if (putFlowId(b, at, cid, start, end) < 0) putAscii(b, at, flowEventId(cid, start, end));
      cids[i] = '';
    }
    this.ids = 0;
  }

  /** Deferred ids of the document being written, which begin() or takeLines() abandons: their places are written over. */
  private dropIds(): void {
    let n = this.ids;
    while (n > 0 && (this.idAt[n - 1] as number) >= this.kept) this.idCid[--n] = '';
    this.ids = n;
  }

  open(key: string): void {
    const d = ++this.depth;
    this.keys[d] = key;
    this.has[d] = false;
  }

  close(): void {
    if (this.shown === this.depth) {
      this.room(1);
      this.buf[this.pos++] = 0x7d;
      this.shown--;
    }
    this.depth--;
  }

  /** Room for n more bytes. */
  private room(n: number): void {
    if (this.pos + n > this.cap) this.grow(n);
  }

  private grow(n: number): void {
    const cap = Math.max(this.cap * 2, this.pos + n);
    const b = Buffer.allocUnsafeSlow(cap);
    // the kept lines and the document so far move along
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
    this.view = viewOf(b);
    this.cap = cap;
  }

  /** Text written as it is, as UTF-8: a loop for ASCII (nearly all of it), Buffer#write past that. */
  raw(s: string): void {
    const n = s.length;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    this.room(n * 3);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.ascii = false;
        this.pos = p + b.write(i === 0 ? s : s.slice(i), p, 'utf8');
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** A string value: quoted as it is when nothing in it needs escaping, else through jsonString. */
  private quoted(s: string): void {
    this.room(s.length + 2);
    const p = putQuoted(this.buf, this.pos, s);
    if (p < 0) this.raw(jsonString(s));
    else this.pos = p;
  }

  /** A number as String(v) writes it (null when not finite, as JSON.stringify does). */
  private number(v: number): void {
    this.room(NUM_ROOM);
    this.pos = putNum(this.buf, this.pos, v);
  }

  private show(): void {
    for (let d = this.shown + 1; d <= this.depth; d++) {
      this.comma(d - 1);
      this.name(this.keys[d] as string);
      this.room(1);
      this.buf[this.pos++] = 0x7b;
    }
    this.shown = this.depth;
  }

  /** The comma before a field of level d, unless it is the first there. */
  private comma(d: number): void {
    if (this.has[d]) {
      this.room(1);
      this.buf[this.pos++] = 0x2c;
    } else {
      this.has[d] = true;
    }
  }

  /** "key": (keys are the sensor's own names and are written as they are). */
  private name(key: string): void {
    this.room(1);
    this.buf[this.pos++] = 0x22;
    this.raw(key);
    this.room(2);
    const b = this.buf;
    b[this.pos++] = 0x22;
    b[this.pos++] = 0x3a;
  }

  private key(key: string): void {
    if (this.shown < this.depth) this.show();
    this.comma(this.depth);
    this.name(key);
  }

  json(key: string, text: string): void {
    this.key(key);
    this.raw(text);
  }

  str(key: string, v: string | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.quoted(v);
  }

  safe(key: string, v: string | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.room(1);
    this.buf[this.pos++] = 0x22;
    this.raw(v);
    this.room(1);
    this.buf[this.pos++] = 0x22;
  }

  num(key: string, v: number | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.number(v);
  }

  bool(key: string, v: boolean | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.raw(v ? 'true' : 'false');
  }

  time(key: string, ms: number | null | undefined): void {
    if (ms === null || ms === undefined) return;
    this.key(key);
    this.vtime(ms);
  }

  strs(key: string, v: readonly string[] | null | undefined): void {
    if (v === null || v === undefined || v.length === 0) return;
    this.key(key);
    this.room(1);
    this.buf[this.pos++] = 0x5b; // [
    for (let i = 0; i < v.length; i++) {
      if (i > 0) {
        this.room(1);
        this.buf[this.pos++] = 0x2c;
      }
      const x = v[i];
      if (typeof x === 'string') this.quoted(x);
      else this.raw(x === null || x === undefined ? 'null' : terminalSafeJson(JSON.stringify(x)));
    }
    this.room(1);
    this.buf[this.pos++] = 0x5d; // ]
  }

  nums(key: string, v: readonly number[] | null | undefined): void {
    if (v === null || v === undefined || v.length === 0) return;
    this.key(key);
    this.room(1);
    this.buf[this.pos++] = 0x5b;
    for (let i = 0; i < v.length; i++) {
      if (i > 0) {
        this.room(1);
        this.buf[this.pos++] = 0x2c;
      }
      const x = v[i];
      if (typeof x === 'number') this.number(x);
      else this.raw('null');
    }
    this.room(1);
    this.buf[this.pos++] = 0x5d;
  }

  val(key: string, v: unknown): void {
    switch (typeof v) {
      case 'string': this.str(key, v); return;
      case 'number': this.num(key, v); return;
      case 'boolean': this.bool(key, v); return;
      case 'object': {
        if (v === null) return;
        if (Array.isArray(v)) {
          // Inside lists the object form keeps everything (nulls too), as JSON.stringify writes it.
          if (v.length > 0) {
            this.key(key);
            this.raw(terminalSafeJson(JSON.stringify(v)));
          }
          return;
        }
        this.open(key);
        const o = v as Record<string, unknown>;
        for (const k in o) this.val(k, o[k]);
        this.close();
        return;
      }
      default:
        // undefined, functions and symbols: JSON.stringify leaves them out of objects.
        return;
    }
  }

  /** A whole document from its object form (alerts, flood summaries): empty fields left out. */
  object(doc: Record<string, unknown>): string {
    this.begin();
    for (const k in doc) this.val(k, doc[k]);
    return this.end();
  }
}

/**
 * The same writer building the object form (tests, the demo, callers that want objects): the
 * document JSON.parse would give for JsonWriter's text.
 */
export class ObjectWriter implements EcsWriter {
  full: boolean;
  private readonly objs: Record<string, unknown>[] = [{}];
  private readonly keys: string[] = [''];
  private depth = 0;
  private shown = 0;

  constructor(full = true) {
    this.full = full;
  }

  begin(): void {
    this.objs[0] = {};
    this.depth = 0;
    this.shown = 0;
  }

  end(): Record<string, unknown> {
    return this.objs[0] as Record<string, unknown>;
  }

  open(key: string): void {
    this.keys[++this.depth] = key;
  }

  close(): void {
    if (this.shown === this.depth) this.shown--;
    this.depth--;
  }

  private set(key: string, v: unknown): void {
    for (let d = this.shown + 1; d <= this.depth; d++) {
      const o: Record<string, unknown> = {};
      (this.objs[d - 1] as Record<string, unknown>)[this.keys[d] as string] = o;
      this.objs[d] = o;
    }
    this.shown = this.depth;
    (this.objs[this.depth] as Record<string, unknown>)[key] = v;
  }

  str(key: string, v: string | null | undefined): void {
    if (v !== null && v !== undefined) this.set(key, v);
  }

  safe(key: string, v: string | null | undefined): void {
    if (v !== null && v !== undefined) this.set(key, v);
  }

  num(key: string, v: number | null | undefined): void {
    if (v !== null && v !== undefined) this.set(key, Number.isFinite(v) ? v : null);
  }

  bool(key: string, v: boolean | null | undefined): void {
    if (v !== null && v !== undefined) this.set(key, v);
  }

  time(key: string, ms: number | null | undefined): void {
    if (ms !== null && ms !== undefined) this.set(key, isoTime(ms));
  }

  strs(key: string, v: readonly string[] | null | undefined): void {
    if (v !== null && v !== undefined && v.length > 0) this.set(key, v);
  }

  nums(key: string, v: readonly number[] | null | undefined): void {
    if (v !== null && v !== undefined && v.length > 0) this.set(key, v);
  }

  json(key: string, text: string): void {
    this.set(key, JSON.parse(text));
  }

  val(key: string, v: unknown): void {
    if (v === null || v === undefined || typeof v === 'function' || typeof v === 'symbol') return;
    if (typeof v !== 'object') { this.set(key, typeof v === 'number' && !Number.isFinite(v) ? null : v); return; }
    if (Array.isArray(v)) { if (v.length > 0) this.set(key, v); return; }
    this.open(key);
    const o = v as Record<string, unknown>;
    for (const k in o) this.val(k, o[k]);
    this.close();
  }
}
