/**
 * DnsDissector: one message per UDP datagram, or 2-byte length-prefixed messages over TCP
 * (RFC 1035 §4.2.2, RFC 7766). The same parser serves both.
 */
import type { Dir, DissectorContext, FlowDissector, StreamView, Verdict } from '../../src/contract/api.js';
import type { DnsEventId } from './events.js';
import { parseMessage } from './parse.js';
import type { DnsLimits, DnsQuestion, DnsRecord } from './types.js';

/** Unanswered queries tracked per UDP flow; past this the flow is left to the idle timeout. */
const MAX_OPEN_QUERIES = 16;

export class DnsDissector implements FlowDissector {
  private readonly ctx: DissectorContext<DnsRecord, DnsEventId>;
  private readonly lim: DnsLimits;
  private readonly tcp: boolean;
  private messages = 0;
  private confirmed = false;
  /** TCP: bytes of an oversize message still to skip, client to server and back. */
  private skip0 = 0;
  private skip1 = 0;
  /**
   * The questions of the previous message. A response repeats its query's question: when it is
   * the same, its record takes the same list, so a lookup's flow holds the name once.
   */
  private lastQuestions: readonly DnsQuestion[] | null = null;
  /**
   * UDP: ids of queries still unanswered. One slot covers a lookup (one query, one response)
   * without an array; `moreOpen` takes the rest (a client asking A and AAAA on one socket).
   */
  private openId = -1;
  private moreOpen: number[] | null = null;
  /** UDP: a query was seen (a lone response, e.g. mDNS's unsolicited ones, never completes a flow). */
  private asked = false;
  /** UDP: more queries open than are tracked: the flow is left to the idle timeout. */
  private untracked = false;

  constructor(ctx: DissectorContext<DnsRecord, DnsEventId>, lim: DnsLimits, tcp: boolean) {
    this.ctx = ctx;
    this.lim = lim;
    this.tcp = tcp;
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    if (!this.tcp) {
      const v = this.message(dir, b, view.ts);
      view.consume(b.length);
      return v;
    }
    let pos = 0;
    let verdict: Verdict = 'more';
    while (pos < b.length) {
      const skip = dir === 0 ? this.skip0 : this.skip1;
      if (skip > 0) {
        const n = Math.min(skip, b.length - pos);
        if (dir === 0) this.skip0 -= n;
        else this.skip1 -= n;
        pos += n;
        continue;
      }
      if (b.length - pos < 2) {
        view.needAtLeast(2);
        break;
      }
      const len = ((b[pos] as number) << 8) | (b[pos + 1] as number);
      if (len === 0) {
        this.ctx.event('dns.zero_length', dir);
        if (!this.confirmed) { this.ctx.violation('dns.zero_length'); verdict = 'abort'; break; }
        pos += 2;
        continue;
      }
      if (len > this.lim.maxMessageBytes) {
        this.ctx.event('dns.limit.max_message_bytes', dir);
        if (dir === 0) this.skip0 = len;
        else this.skip1 = len;
        pos += 2;
        continue;
      }
      if (b.length - pos < 2 + len) {
        view.needAtLeast(2 + len);
        break;
      }
      verdict = this.message(dir, b.subarray(pos + 2, pos + 2 + len), view.ts);
      pos += 2 + len;
      if (verdict !== 'more') break;
    }
    if (pos > 0) view.consume(pos);
    return verdict;
  }

  private message(dir: Dir, msg: Uint8Array, ts: number): Verdict {
    if (this.messages >= this.lim.maxMessagesCount) {
      this.ctx.event('dns.limit.max_messages_count', dir);
      return 'done';
    }
    const m = parseMessage(msg, this.lim);
    if (typeof m === 'string') {
      this.ctx.event(m, dir);
      if (!this.confirmed) {
        this.ctx.violation(m);
        return 'abort';
      }
      return 'more';
    }
    // A message whose first question could not be read is not evidence of DNS.
    if (!this.confirmed && m.questions.length === 0 && m.events.length > 0) {
      for (const e of m.events) this.ctx.event(e, dir);
      this.ctx.violation(m.events[0] as DnsEventId);
      return 'abort';
    }
    this.messages++;
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
    for (const e of m.events) this.ctx.event(e, dir);
    const questions = sameQuestions(this.lastQuestions, m.questions) ? (this.lastQuestions as readonly DnsQuestion[]) : m.questions;
    this.lastQuestions = questions;
    this.ctx.emit({
      kind: 'dns.message', ts, dir,
      id: m.id, qr: m.qr, opcode: m.opcode, rcode: m.rcode, tc: m.tc,
      questions, answers: m.answers, bytes: msg.length,
      status: m.events.length > 0 ? 'truncated' : 'complete',
      events: m.events,
    });
    if (!this.tcp) this.track(m.qr, m.id);
    return 'more';
  }

  /**
   * Match queries to responses by id. When every query has its response the flow's exchange is
   * over (as a DNS log entry per transaction is): the engine may end the flow now instead of
   * holding it for the idle timeout. Too many open queries to track: the flow waits as before.
   */
  private track(response: boolean, id: number): void {
    if (this.untracked) return;
    if (!response) {
      // A retransmitted query (same id) is answered by the one response.
      if (this.openId === id || (this.moreOpen !== null && this.moreOpen.includes(id))) return;
      this.asked = true;
      if (this.openId === -1) { this.openId = id; return; }
      const more = this.moreOpen ?? (this.moreOpen = []);
      if (more.length < MAX_OPEN_QUERIES) more.push(id);
      else this.untracked = true;
      return;
    }
    if (!this.asked) return;
    if (this.openId === id) this.openId = -1;
    else if (this.moreOpen !== null) {
      const i = this.moreOpen.indexOf(id);
      if (i >= 0) this.moreOpen.splice(i, 1);
    }
    if (this.openId === -1 && this.moreOpen !== null && this.moreOpen.length > 0) this.openId = this.moreOpen.shift() as number;
    if (this.openId === -1) this.ctx.complete?.();
  }

  gap(dir: Dir, _lostBytes: number): Verdict {
    if (!this.tcp) return 'more';
    this.ctx.event('dns.gap', dir);
    return 'done';
  }

  end(_dir: Dir): void {
    // Messages are emitted whole; a partial TCP message at EOF is dropped.
  }
}

function sameQuestions(a: readonly DnsQuestion[] | null, b: readonly DnsQuestion[]): boolean {
  if (a === null || a.length !== b.length || a === b) return a === b;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as DnsQuestion;
    const y = b[i] as DnsQuestion;
    if (x.name !== y.name || x.type !== y.type || x.class !== y.class) return false;
  }
  return true;
}
