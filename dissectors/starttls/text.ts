/**
 * The line-based dialogues: SMTP, LMTP, IMAP, POP3, FTP, NNTP and ManageSieve. Each direction is
 * read line by line with bounds; client commands wait in order (by tag for IMAP) for their reply;
 * the reply to the upgrade command decides whether the flow goes on in clear or switches to TLS.
 * After the upgrade command the client side stops reading until its reply is known, so the first
 * byte of the ClientHello is never consumed here.
 */
import { Dir, type DissectorContext, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { CR, LF, SessionDissector, containsCI, findLf, prefixOrStartsCI, startsCI, text } from './common.js';
import type { SessionLimits, SessionRecord } from './types.js';

/** How the server's replies are delimited. */
export type ReplyStyle = 'code' | 'pop' | 'imap' | 'sieve';

export interface TextDialect {
  readonly name: string;
  readonly style: ReplyStyle;
  /** Verbs recorded by name (upper-case); other lines count but are never named. */
  readonly verbs: ReadonlySet<string>;
  /** Is this command (verb, upper-case first argument) the request to switch to TLS? */
  isStart(verb: string, arg: string): boolean;
  /** Reply codes that accept the switch (code style). */
  readonly acceptCodes: readonly number[];
  /** A server line that announces the switch (capability, feature). */
  offers(b: Uint8Array, from: number, to: number): boolean;
  /** Client commands whose accepted reply is followed by a dot-terminated body, with that reply's code. */
  readonly bodies: ReadonlyMap<string, number>;
  /** The authentication mechanism a command names, or null (never its credentials). */
  mechanism(verb: string, args: string[]): string | null;
  /** Server replies (code, or 1 for +OK) followed by a dot-terminated block, given the command. */
  blockAfter(code: number, verb: string | null, args: number): boolean;
}

interface Pending {
  verb: string | null;
  tag: string | null;
  start: boolean;
  args: number;
}

const MAX_LITERAL = 1 << 30;

/** A literal announced at the end of a line (`{n}` or `{n+}`, RFC 9051 §4.3, RFC 5804 §4), or -1. */
function literalAtEnd(b: Uint8Array, from: number, end: number): number {
  let e = end;
  while (e > from && (b[e - 1] === LF || b[e - 1] === CR)) e--;
  if (e - from < 3 || b[e - 1] !== 0x7d) return -1; // '}'
  let i = e - 2;
  if (b[i] === 0x2b) i--; // '+'
  let n = 0;
  let digits = 0;
  let mul = 1;
  while (i > from && (b[i] as number) >= 0x30 && (b[i] as number) <= 0x39 && digits < 10) {
    n += ((b[i] as number) - 0x30) * mul;
    mul *= 10;
    digits++;
    i--;
  }
  if (digits === 0 || b[i] !== 0x7b) return -1; // '{'
  return n;
}

/** Words of a line (space separated), bounded, upper-cased: only the first few are looked at. */
function words(b: Uint8Array, from: number, to: number, max: number): string[] {
  const out: string[] = [];
  let i = from;
  while (i < to && out.length < max) {
    while (i < to && (b[i] === 0x20 || b[i] === 0x09)) i++;
    let j = i;
    while (j < to && b[j] !== 0x20 && b[j] !== 0x09 && b[j] !== CR && b[j] !== LF && j - i < 64) j++;
    if (j > i) out.push(text(b, i, j, 64).toUpperCase());
    while (j < to && b[j] !== 0x20 && b[j] !== 0x09) j++; // the rest of an overlong word
    i = j;
  }
  return out;
}

/** Three digits at `at` followed by SP, '-', or the line end: the code, else -1. */
function codeAt(b: Uint8Array, at: number, end: number): number {
  if (end - at < 3) return -1;
  let v = 0;
  for (let i = 0; i < 3; i++) {
    const c = b[at + i] as number;
    if (c < 0x30 || c > 0x39) return -1;
    v = v * 10 + c - 0x30;
  }
  const n = at + 3 < end ? (b[at + 3] as number) : LF;
  return n === 0x20 || n === 0x2d || n === CR || n === LF ? v : -1;
}

function isDotLine(b: Uint8Array, from: number, end: number): boolean {
  return b[from] === 0x2e && (end - from === 2 ? b[from + 1] === LF : end - from === 3 && b[from + 1] === CR && b[from + 2] === LF);
}

export class TextDissector extends SessionDissector {
  private readonly d: TextDialect;
  private readonly pending: Pending[] = [];
  private greeted = false;
  /** The client waits for the reply to a command that changes what it sends next. */
  private clientWait: Pending | null = null;
  /** Per direction: inside a dot-terminated body, a command continued after a literal (its bytes are skipped). */
  private readonly inBody: [boolean, boolean] = [false, false];
  private readonly continued: [boolean, boolean] = [false, false];
  /**
   * Per direction: a partial line seen without its LF, as [stream offset of its start, stream
   * offset scanned to]. The next call resumes the LF search there instead of from the line's
   * start, so a long line arriving in many small segments is scanned once, not once per segment.
   */
  private readonly partial: [[number, number], [number, number]] = [[-1, 0], [-1, 0]];
  /** Code style: the code of the reply being read (-1 between replies) and its first line's text. */
  private replyCode = -1;
  private replyText = '';
  private replyLines = 0;
  /** Sieve: a reply in progress. */
  private sieveOpen = false;
  /** LMTP: recipients accepted since MAIL (one reply each after the body). */
  private rcptOk = 0;

  constructor(d: TextDialect, ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    super(d.name, ctx, lim);
    this.d = d;
  }

  protected override holding(dir: Dir): boolean {
    return dir === Dir.ToServer && this.clientWait !== null && !this.inBody[dir];
  }

  /** One line, bounded by maxLineBytes. */
  protected unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    const part = this.partial[dir];
    const lineAt = view.streamOffset + pos;
    const from = part[0] === lineAt ? Math.min(b.length, pos + (part[1] - lineAt)) : pos;
    const lf = findLf(b, from, pos + this.s.lim.maxLineBytes);
    if (lf < 0) {
      if (b.length - pos < this.s.lim.maxLineBytes) {
        part[0] = lineAt;
        part[1] = view.streamOffset + b.length;
        view.needAtLeast(b.length - pos + 1);
        return 0;
      }
      if (this.inBody[dir]) return this.s.lim.maxLineBytes; // a long body line is no fault: skip it in pieces
      this.s.event('limit.max_line_bytes', dir);
      return this.stopUnit();
    }
    const end = lf + 1;
    if (dir === Dir.ToServer) this.clientLine(b, pos, end, view.ts);
    else this.serverLine(b, pos, end, view.ts);
    return end - pos;
  }

  private push(p: Pending, dir: Dir): void {
    if (this.pending.length >= this.s.lim.maxPendingCount) {
      this.s.event('limit.max_pending_count', dir);
      this.pending.shift();
    }
    this.pending.push(p);
  }

  // ---- client ------------------------------------------------------------------------------

  private clientLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const dir = Dir.ToServer;
    if (this.inBody[dir]) {
      if (isDotLine(b, from, end)) {
        this.inBody[dir] = false;
        // After the body: one reply (LMTP: one per accepted recipient, RFC 2033 §4.2).
        const n = this.d.name === 'lmtp' ? Math.max(1, this.rcptOk) : 1;
        for (let i = 0; i < n; i++) this.push({ verb: null, tag: null, start: false, args: 0 }, dir);
        this.rcptOk = 0;
      }
      return 'more';
    }
    const lit = this.d.style === 'imap' || this.d.style === 'sieve' ? literalAtEnd(b, from, end) : -1;
    if (this.continued[dir]) { // the rest of a command after a literal
      this.continuedLiteral(dir, lit);
      return 'more';
    }
    const w = words(b, from, end, 4);
    let tag: string | null = null;
    if (this.d.style === 'imap') tag = w.shift() ?? null;
    const verb = w[0] ?? '';
    const known = this.d.verbs.has(verb) ? verb : null;
    if (!this.s.command(dir, ts, known)) return this.stop();
    const start = known !== null && this.d.isStart(verb, w[1] ?? '');
    const mech = known !== null ? this.d.mechanism(verb, w.slice(1)) : null;
    if (mech !== null) this.s.emit('auth', dir, ts, mech);
    if (this.d.style !== 'imap' || tag !== null) this.push({ verb: known, tag, start, args: w.length - 1 }, dir);
    if (known === 'MAIL') this.rcptOk = 0;
    if (known === 'BDAT') { // RFC 3030: the chunk follows the command at once
      const n = Number(w[1]);
      if (Number.isInteger(n) && n >= 0 && n <= MAX_LITERAL) this.skip[dir] = n;
    }
    if (start || (known !== null && this.d.bodies.has(known))) this.clientWait = this.pending[this.pending.length - 1] ?? null;
    this.continuedLiteral(dir, lit);
    return 'more';
  }

  private continuedLiteral(dir: Dir, lit: number): void {
    if (lit >= 0 && lit <= MAX_LITERAL) {
      this.skip[dir] = lit;
      this.continued[dir] = true;
    } else this.continued[dir] = false;
  }

  // ---- server ------------------------------------------------------------------------------

  private serverLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const dir = Dir.ToClient;
    if (this.inBody[dir]) {
      if (isDotLine(b, from, end)) this.inBody[dir] = false;
      else if (this.d.offers(b, from, end)) this.s.offer(ts);
      return 'more';
    }
    const style = this.d.style;
    if (style === 'imap' || style === 'sieve') {
      const lit = literalAtEnd(b, from, end);
      const cont = this.continued[dir];
      this.continuedLiteral(dir, lit);
      if (cont) return 'more';
    }
    if (this.d.offers(b, from, end)) this.s.offer(ts);
    switch (style) {
      case 'code': return this.codeLine(b, from, end, ts);
      case 'pop': return this.popLine(b, from, end, ts);
      case 'imap': return this.imapLine(b, from, end, ts);
      case 'sieve': return this.sieveLine(b, from, end, ts);
    }
  }

  private greeting(banner: string, ts: number): void {
    this.greeted = true;
    this.s.confirm();
    this.s.emit('greeting', Dir.ToClient, ts, banner === '' ? null : banner);
  }

  /** SMTP/LMTP/FTP/NNTP: `ddd-` continues a reply, `ddd ` ends it (RFC 5321 §4.2.1, RFC 959 §4.2). */
  private codeLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const code = codeAt(b, from, end);
    if (this.replyCode < 0) {
      if (code < 0) {
        this.s.event('bad_line', Dir.ToClient);
        if (!this.s.confirmed) return this.stop();
        return 'more';
      }
      this.replyCode = code;
      this.replyText = text(b, from + 4, end, this.s.lim.maxTextBytes);
      this.replyLines = 0;
    }
    const last = code === this.replyCode && (end - from <= 5 || b[from + 3] !== 0x2d);
    if (!last && ++this.replyLines < 10_000) return 'more';
    const c = this.replyCode;
    this.replyCode = -1;
    return this.reply(c, c >= 200 && c < 400, this.replyText, ts);
  }

  /** POP3: `+OK` / `-ERR` / `+ ` one line each (RFC 1939 §3, RFC 5034 §4). */
  private popLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const ok = startsCI(b, from, '+OK');
    if (!ok && !startsCI(b, from, '-ERR') && b[from] !== 0x2b) {
      this.s.event('bad_line', Dir.ToClient);
      return this.s.confirmed ? 'more' : this.stop();
    }
    return this.reply(ok ? 1 : b[from] === 0x2b ? 2 : 0, ok, text(b, from + (ok ? 4 : 5), end, this.s.lim.maxTextBytes), ts);
  }

  /** IMAP: untagged `*`, continuation `+`, or `tag OK|NO|BAD` completing that tag's command (RFC 9051 §2.2.2). */
  private imapLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    if (b[from] === 0x2a) { // '*'
      if (!this.greeted) {
        if (!startsCI(b, from, '* OK') && !startsCI(b, from, '* PREAUTH') && !startsCI(b, from, '* BYE')) {
          this.s.event('bad_line', Dir.ToClient);
          return this.stop();
        }
        this.greeting(text(b, from + 2, end, this.s.lim.maxTextBytes), ts);
      }
      return 'more';
    }
    if (b[from] === 0x2b) return 'more'; // '+': go on (literal or SASL)
    const w = words(b, from, end, 2);
    const tag = w[0] ?? '';
    const status = w[1] ?? '';
    if (status !== 'OK' && status !== 'NO' && status !== 'BAD') {
      this.s.event('bad_line', Dir.ToClient);
      return this.s.confirmed ? 'more' : this.stop();
    }
    const i = this.pending.findIndex((p) => p.tag === tag);
    const p = i >= 0 ? (this.pending.splice(i, 1)[0] as Pending) : null;
    return this.answered(p, status === 'OK', ts);
  }

  /** ManageSieve: lines up to one starting OK, NO or BYE make a reply (RFC 5804 §1.3). */
  private sieveLine(b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const done = startsCI(b, from, 'OK') || startsCI(b, from, 'NO') || startsCI(b, from, 'BYE');
    if (!this.greeted && !this.sieveOpen) {
      if (b[from] !== 0x22 && !done) { // capabilities are quoted strings
        this.s.event('bad_line', Dir.ToClient);
        return this.stop();
      }
    }
    if (!this.greeted && startsCI(b, from, '"IMPLEMENTATION"')) this.replyText = text(b, from + 17, end, this.s.lim.maxTextBytes).replace(/^"|"$/g, '');
    if (!done) {
      this.sieveOpen = true;
      return 'more';
    }
    this.sieveOpen = false;
    const ok = startsCI(b, from, 'OK');
    if (!this.greeted) {
      this.greeting(this.replyText, ts);
      return 'more';
    }
    return this.answered(this.pending.shift() ?? null, ok, ts);
  }

  /** A whole reply (code style or POP3): the greeting first, then the next command's answer. */
  private reply(code: number, ok: boolean, replyText: string, ts: number): Verdict {
    if (!this.greeted) {
      // A command before any reply: the server speaks first, so the capture began after its
      // greeting (a flow picked up mid-stream, or one whose first command starts TLS: a tap that
      // came up at AUTH TLS), and this reply answers that command.
      const first = this.pending[0];
      if (first === undefined || (!this.s.ctx.flow.midstream && !first.start)) {
        this.greeting(replyText, ts);
        return 'more';
      }
      this.greeted = true;
      this.s.confirm();
    }
    const p = this.pending.shift() ?? null;
    if (this.d.style === 'code' && p !== null && p.start) return this.answered(p, this.d.acceptCodes.includes(code), ts);
    if (p !== null && p.verb === 'RCPT' && ok) this.rcptOk++;
    if (this.d.blockAfter(code, p?.verb ?? null, p?.args ?? 0)) this.inBody[Dir.ToClient] = true;
    if (p !== null && p.verb !== null && this.d.bodies.get(p.verb) === code) this.inBody[Dir.ToServer] = true;
    return this.answered(p, ok, ts);
  }

  private answered(p: Pending | null, ok: boolean, ts: number): Verdict {
    if (p !== null && this.clientWait === p) this.clientWait = null;
    if (p === null || !p.start) return 'more';
    this.s.emit('starttls', Dir.ToClient, ts, null, null, ok);
    if (ok) return this.upgrade(ts);
    this.s.event('starttls_refused', Dir.ToClient);
    return 'more';
  }

  override end(_dir: Dir): void {
    // An upgrade request the server never answered (the capture was cut): say it was asked.
    const w = this.clientWait;
    if (w !== null && w.start) {
      this.clientWait = null;
      this.s.emit('starttls', Dir.ToServer, this.s.ctx.now(), null, null, null);
    }
  }
}

// ---- probes: the greeting (or the client's first command) and nothing else --------------------

const LINE_PROBE_BYTES = 512;

/** The first line's end, 'unsure' while it may still come, 'no' past the budget. */
function firstLine(b: Uint8Array): number | ProbeResult {
  const lf = findLf(b, 0, LINE_PROBE_BYTES);
  if (lf >= 0) return lf + 1;
  return b.length < LINE_PROBE_BYTES ? 'unsure' : 'no';
}

/** `220` greetings: SMTP, LMTP and FTP tell themselves apart by a word, or by the client's first command. */
export function probe220(want: 'SMTP' | 'LMTP' | 'FTP', clientVerbs: readonly string[]) {
  return (b: Uint8Array, dir: Dir): ProbeResult => {
    if (dir === Dir.ToServer) {
      for (const v of clientVerbs) if (startsCI(b, 0, v)) return 'yes';
      for (const v of clientVerbs) if (b.length < v.length && prefixOrStartsCI(b, 0, v)) return 'unsure';
      return 'no';
    }
    if (!prefixOrStartsCI(b, 0, '220')) return 'no';
    if (b.length < 4) return 'unsure';
    if (b[3] !== 0x20 && b[3] !== 0x2d) return 'no';
    const end = firstLine(b);
    if (typeof end === 'string') return end;
    const lmtp = containsCI(b, 4, end, 'LMTP');
    const smtp = !lmtp && containsCI(b, 4, end, 'SMTP');
    const ftp = !lmtp && !smtp && containsCI(b, 4, end, 'FTP');
    if (lmtp || smtp || ftp) return (want === 'LMTP' ? lmtp : want === 'SMTP' ? smtp : ftp) ? 'yes' : 'no';
    return 'unsure'; // a plain "220 host ready": the client's first command decides
  };
}

/** A greeting that starts with one of `prefixes` (server side), or a client command of `clientVerbs`. */
export function probeGreeting(prefixes: readonly string[], clientVerbs: readonly string[]) {
  return (b: Uint8Array, dir: Dir): ProbeResult => {
    const list = dir === Dir.ToServer ? clientVerbs : prefixes;
    let maybe = false;
    for (const p of list) {
      if (startsCI(b, 0, p)) return dir === Dir.ToServer || typeof firstLine(b) === 'number' ? 'yes' : 'unsure';
      if (b.length < p.length && prefixOrStartsCI(b, 0, p)) maybe = true;
    }
    return maybe ? 'unsure' : 'no';
  };
}
