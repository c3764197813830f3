/** What every dissector of the family shares: byte helpers, the record emitter, the summary. */
import type { Dir, DissectorContext, FlowDissector, StreamView, Verdict } from '../../src/contract/api.js';
import type { SessionLimits, SessionRecord, SessionSummary, SessionWhat } from './types.js';
import type { SessionEventSuffix } from './events.js';

export const LF = 0x0a;
export const CR = 0x0d;

/** Upper-case ASCII letter of byte c (other bytes unchanged). */
function up(c: number): number {
  return c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
}

/** Case-insensitive ASCII comparison of b[at..] with `word` (which is upper-case). */
export function startsCI(b: Uint8Array, at: number, word: string): boolean {
  if (b.length - at < word.length) return false;
  for (let i = 0; i < word.length; i++) if (up(b[at + i] as number) !== word.charCodeAt(i)) return false;
  return true;
}

/** True when b[at..] is a prefix of `word` or starts with it (for probes on short input). */
export function prefixOrStartsCI(b: Uint8Array, at: number, word: string): boolean {
  const n = Math.min(b.length - at, word.length);
  for (let i = 0; i < n; i++) if (up(b[at + i] as number) !== word.charCodeAt(i)) return false;
  return true;
}

/** Case-insensitive search of upper-case `word` in b[from, to). */
export function containsCI(b: Uint8Array, from: number, to: number, word: string): boolean {
  const last = to - word.length;
  for (let i = from; i <= last; i++) if (startsCI(b, i, word)) return true;
  return false;
}

/** Index of the first LF in b[from, min(to, b.length)), or -1. */
export function findLf(b: Uint8Array, from: number, to: number): number {
  const end = Math.min(to, b.length);
  for (let i = from; i < end; i++) if (b[i] === LF) return i;
  return -1;
}

/** Printable text of b[from, to) without the line end, bounded; other bytes become '?'. */
export function text(b: Uint8Array, from: number, to: number, maxBytes: number): string {
  let end = Math.min(to, from + maxBytes);
  while (end > from && (b[end - 1] === LF || b[end - 1] === CR)) end--;
  let s = '';
  for (let i = from; i < end; i++) {
    const c = b[i] as number;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return s;
}

/** SASL mechanism names (RFC 4422 §3.1: 1-20 of A-Z 0-9 - _); anything else is not kept. */
export function mechanismName(s: string): string | null {
  const m = s.toUpperCase();
  return /^[A-Z0-9_-]{1,20}$/.test(m) ? m : null;
}

export const PROBE_NO = 'no' as const;

/**
 * The record emitter and counters every dissector of the family uses. Only facts named here reach
 * the record, so no argument of a command (where credentials travel) can.
 */
export class Session {
  readonly ctx: DissectorContext<SessionRecord, string>;
  readonly lim: SessionLimits;
  readonly name: string;
  confirmed = false;
  commands = 0;
  private readonly fired = new Set<string>();
  offered = false;

  constructor(name: string, ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    this.name = name;
    this.ctx = ctx;
    this.lim = lim;
  }

  confirm(): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.ctx.confirm();
  }

  emit(what: SessionWhat, dir: Dir | null, ts: number, textValue: string | null = null, key: string | null = null, accepted: boolean | null = null): void {
    this.ctx.emit({ kind: `${this.name}.${what}`, ts, dir, what, text: textValue, key, accepted });
  }

  /** The server said it can switch to TLS (once per flow). */
  offer(ts: number): void {
    if (this.offered) return;
    this.offered = true;
    this.emit('offered', 1, ts);
  }

  /** The switch: the last record before 'done'; the driver attaches TLS at the next byte. */
  upgrade(ts: number): 'done' {
    this.ctx.emit({ kind: `${this.name}.upgrade`, ts, dir: null, what: 'upgrade', text: null, key: null, accepted: true, upgrade: 'tls' });
    return 'done';
  }

  /** A named event; before the protocol is confirmed an anomaly is also a violation. */
  event(suffix: SessionEventSuffix, dir: Dir): void {
    const id = `${this.name}.${suffix}`;
    this.ctx.event(id, dir);
    if (!this.confirmed && (suffix === 'bad_line' || suffix === 'bad_message') && !this.fired.has(id)) {
      this.fired.add(id);
      this.ctx.violation(id);
    }
  }

  /** Count one client command; false (and the limit event) when the budget is spent. */
  command(dir: Dir, ts: number, verb: string | null): boolean {
    if (this.commands >= this.lim.maxCommandsCount) {
      this.event('limit.max_commands_count', dir);
      return false;
    }
    this.commands++;
    if (verb !== null) this.emit('command', dir, ts, verb);
    return true;
  }
}

/**
 * The frame the family's dissectors share: one Session; a stop that ends reading for good (the
 * switch to TLS ends it too); per direction, bytes to pass over unread (a message too large to
 * keep, a body or literal of no interest); a hold on the client while its next bytes may be TLS;
 * and feed()'s loop, which passes over what is to be skipped and then reads one unit at a time
 * until the bytes run out or reading ends. Each dialect says what a unit is (a BER message, a
 * packet, a line, a tag).
 */
export abstract class SessionDissector implements FlowDissector {
  protected readonly s: Session;
  /** Bytes still to pass over unread, per direction. */
  protected readonly skip: [number, number] = [0, 0];
  protected stopped = false;

  constructor(name: string, ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    this.s = new Session(name, ctx, lim);
  }

  /**
   * Reads the unit at b[pos] and returns the bytes it used; it may also set skip[dir] to pass over
   * more. 0 with nothing to skip means it waits for more bytes (it called view.needAtLeast).
   * Reading ends when it calls stop() or upgrade().
   */
  protected abstract unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number;

  /** The client asked to switch and waits for the answer: its next bytes may be TLS, left unread. */
  protected holding(_dir: Dir): boolean {
    return false;
  }

  feed(dir: Dir, view: StreamView): Verdict {
    if (this.stopped) return 'done';
    const b = view.bytes;
    let pos = 0;
    while (pos < b.length && !this.stopped) {
      if (this.skip[dir] > 0) {
        const n = Math.min(this.skip[dir], b.length - pos);
        this.skip[dir] -= n;
        pos += n;
        continue;
      }
      if (this.holding(dir)) break;
      const used = this.unit(dir, b, pos, view);
      pos += used;
      if (used === 0 && this.skip[dir] === 0) break;
    }
    if (pos > 0) view.consume(pos);
    return this.stopped ? 'done' : 'more';
  }

  protected stop(): 'done' {
    this.stopped = true;
    return 'done';
  }

  /** stop() inside a unit: reading ends here, and the unit used no bytes. */
  protected stopUnit(): 0 {
    this.stopped = true;
    return 0;
  }

  /** The switch to TLS: the last record, and the end of reading in clear. */
  protected upgrade(ts: number): 'done' {
    this.stopped = true;
    return this.s.upgrade(ts);
  }

  gap(dir: Dir, _lostBytes: number): Verdict {
    this.s.event('gap', dir);
    return this.stop();
  }

  end(_dir: Dir): void {
    // Nothing is held between units unless a dialect says otherwise.
  }
}

/** Fold a flow's records into its summary. */
export function summarizeSession(records: readonly SessionRecord[]): SessionSummary {
  const s: SessionSummary = {
    banner: null, commands: [], commandCount: 0, starttlsOffered: false, starttlsRequested: false, starttls: false,
    starttlsRefused: false, authMechanisms: [], details: {},
  };
  for (const r of records) {
    switch (r.what) {
      case 'greeting':
        if (s.banner === null) s.banner = r.text;
        break;
      case 'command':
        s.commandCount++;
        if (r.text !== null && !s.commands.includes(r.text) && s.commands.length < 32) s.commands.push(r.text);
        break;
      case 'auth':
        if (r.text !== null && !s.authMechanisms.includes(r.text) && s.authMechanisms.length < 8) s.authMechanisms.push(r.text);
        break;
      case 'offered':
        s.starttlsOffered = true;
        break;
      case 'starttls':
        s.starttlsRequested = true;
        if (r.accepted === false) s.starttlsRefused = true;
        break;
      case 'detail':
        if (r.key !== null && r.text !== null && !(r.key in s.details) && Object.keys(s.details).length < 16) s.details[r.key] = r.text;
        break;
      case 'upgrade':
        s.starttls = true;
        break;
    }
  }
  return s;
}
