/**
 * JSON written as it is produced, for the ECS documents: no object tree built first, no pass that
 * deletes empty fields, no Date object per timestamp. The same text JSON.stringify gives for the
 * pruned object form (src/output/ecs.ts), with the terminal-unsafe characters escaped as the
 * JSON-lines sink always did.
 */
import * as crypto from 'node:crypto';
import type { EcsWriter } from '../contract/api.js';

/**
 * Characters JSON.stringify leaves as they are but a terminal or a log viewer acts on: DEL, C1
 * controls (CSI, OSC…), bidi overrides and invisible characters. Written as \\u escapes so JSON
 * lines shown on a terminal stay inert.
 */
export const TERMINAL_UNSAFE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/;
const TERMINAL_UNSAFE_ALL = new RegExp(TERMINAL_UNSAFE.source, 'g');

/** JSON text with the terminal-unsafe characters escaped too. */
export function terminalSafeJson(json: string): string {
  return TERMINAL_UNSAFE.test(json) ? json.replace(TERMINAL_UNSAFE_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}

/**
 * Anything a string may need escaped: JSON's own (quote, backslash, C0), the terminal-unsafe set,
 * and surrogates (a lone one is escaped by JSON.stringify; a pair takes the slow path harmlessly).
 * Almost every value on the wire (addresses, hashes, names) has none of these, so one test decides.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]/;

export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? terminalSafeJson(JSON.stringify(s)) : `"${s}"`;
}

/**
 * `lean` (the default): a certificate, and a client fingerprint's sorted JA4 raw form, are
 * described once per output stream and UTC day in a document of their own, and flows carry the key
 * (SHA-256, ja4); the wire-order raw form and the lists the raw forms hold (the offered suites,
 * JA3's string) are left to `full`;
 * entropies and ratios are printed to 4 decimals. `full`: every flow document carries everything.
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
 * `new Date(ms).toISOString()` without the Date: the date part is cached per UTC day and the
 * time up to the second per second, since a flow's timestamps mostly share both. Times outside
 * 1970–9999 (or not numbers) go to Date, which formats or rejects them as before.
 */
export function isoTime(ms: number): string {
  // Date's time value truncates fractional milliseconds (TimeClip); for ms >= 0 that is floor.
  if (!(ms >= 0 && ms < FAST_LIMIT_MS)) return new Date(ms).toISOString();
  const t = Math.floor(ms);
  const sec = Math.floor(t / 1000);
  const frac = THREE[t - sec * 1000] as string;
  if (sec === cachedSecond) return `${secondPrefix}${frac}Z`;
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
  return `${secondPrefix}${frac}Z`;
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

// ---- writers ---------------------------------------------------------------------------------

/**
 * An ECS document as JSON text. Objects are opened lazily: open() only records the key, and the
 * key with its brace is written when the first field inside arrives, so an object that gets no
 * field leaves no trace and nothing has to be taken back.
 */
export class JsonWriter implements EcsWriter {
  full: boolean;
  private s = '';
  private readonly keys: string[] = [''];
  /** Per open level: something was written in it (the next field needs a comma). */
  private readonly has: boolean[] = [false];
  private depth = 0;
  /** Levels 0..shown have had their key and brace written. */
  private shown = 0;

  constructor(full = true) {
    this.full = full;
  }

  begin(): void {
    this.s = '{';
    this.depth = 0;
    this.shown = 0;
    this.has[0] = false;
  }

  /** Close the document and return its text (the writer can begin() the next one). */
  end(): string {
    const out = `${this.s}}`;
    this.s = '';
    return out;
  }

  open(key: string): void {
    const d = ++this.depth;
    this.keys[d] = key;
    this.has[d] = false;
  }

  close(): void {
    if (this.shown === this.depth) {
      this.s += '}';
      this.shown--;
    }
    this.depth--;
  }

  private show(): void {
    for (let d = this.shown + 1; d <= this.depth; d++) {
      this.s += `${this.has[d - 1] ? ',"' : '"'}${this.keys[d] as string}":{`;
      this.has[d - 1] = true;
    }
    this.shown = this.depth;
  }

  private key(key: string): void {
    if (this.shown < this.depth) this.show();
    const d = this.depth;
    this.s += `${this.has[d] ? ',"' : '"'}${key}":`;
    this.has[d] = true;
  }

  json(key: string, text: string): void {
    this.key(key);
    this.s += text;
  }

  str(key: string, v: string | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.s += jsonString(v);
  }

  safe(key: string, v: string | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.s += `"${v}"`;
  }

  num(key: string, v: number | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.s += Number.isFinite(v) ? String(v) : 'null';
  }

  bool(key: string, v: boolean | null | undefined): void {
    if (v === null || v === undefined) return;
    this.key(key);
    this.s += v ? 'true' : 'false';
  }

  time(key: string, ms: number | null | undefined): void {
    if (ms === null || ms === undefined) return;
    this.key(key);
    this.s += `"${isoTime(ms)}"`;
  }

  strs(key: string, v: readonly string[] | null | undefined): void {
    if (v === null || v === undefined || v.length === 0) return;
    this.key(key);
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out += (i > 0 ? ',' : '') + (typeof x === 'string' ? jsonString(x) : x === null || x === undefined ? 'null' : terminalSafeJson(JSON.stringify(x)));
    }
    this.s += `${out}]`;
  }

  nums(key: string, v: readonly number[] | null | undefined): void {
    if (v === null || v === undefined || v.length === 0) return;
    this.key(key);
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out += (i > 0 ? ',' : '') + (typeof x === 'number' && Number.isFinite(x) ? String(x) : 'null');
    }
    this.s += `${out}]`;
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
          if (v.length > 0) this.json(key, terminalSafeJson(JSON.stringify(v)));
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
