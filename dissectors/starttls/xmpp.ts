/**
 * XMPP (RFC 6120): the stream header and top-level elements read tag by tag (up to each '>'),
 * STARTTLS by §5.4: the client's <starttls/> and the server's <proceed/> (TLS at the next byte) or
 * <failure/>. Character data (where SASL credentials travel) is never read.
 */
import { Dir, type DissectorContext, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { SessionDissector, containsCI, mechanismName, prefixOrStartsCI, startsCI, text } from './common.js';
import type { SessionLimits, SessionRecord } from './types.js';

const GT = 0x3e;
const LT = 0x3c;
const STREAM_HEADER = '<STREAM:STREAM';
const STANZAS = new Set(['MESSAGE', 'IQ', 'PRESENCE']);

/** The value of attribute `name` in the tag b[from, to), or null. */
function attr(b: Uint8Array, from: number, to: number, name: string): string | null {
  const key = ` ${name}=`;
  for (let i = from; i + key.length < to; i++) {
    if (!startsCI(b, i, key.toUpperCase())) continue;
    const q = b[i + key.length];
    if (q !== 0x27 && q !== 0x22) continue;
    const v0 = i + key.length + 1;
    let e = v0;
    while (e < to && b[e] !== q) e++;
    return e < to ? text(b, v0, e, 255) : null;
  }
  return null;
}

export class XmppDissector extends SessionDissector {
  /** The client sent <starttls/>: its next bytes may be TLS. */
  private asked = false;
  /** An element whose end tag must be read before the switch (<starttls>…</starttls>, <proceed>…</proceed>). */
  private readonly closing: [string | null, string | null] = [null, null];

  constructor(ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    super('xmpp', ctx, lim);
  }

  protected override holding(dir: Dir): boolean {
    return dir === Dir.ToServer && this.asked && this.closing[dir] === null;
  }

  /** Up to and including the next '>', bounded by maxLineBytes. */
  protected unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    const max = Math.min(b.length, pos + this.s.lim.maxLineBytes);
    let gt = pos;
    while (gt < max && b[gt] !== GT) gt++;
    if (gt === max) {
      if (b.length - pos < this.s.lim.maxLineBytes) {
        view.needAtLeast(b.length - pos + 1);
        return 0;
      }
      this.s.event('limit.max_line_bytes', dir);
      return this.stopUnit();
    }
    this.tag(dir, b, pos, gt + 1, view.ts);
    return gt + 1 - pos;
  }

  /** Character data then one tag, ending at `end` (just past '>'). */
  private tag(dir: Dir, b: Uint8Array, from: number, end: number, ts: number): Verdict {
    let lt = end - 1;
    while (lt >= from && b[lt] !== LT) lt--;
    if (lt < from) return 'more'; // a '>' in character data
    const endTag = b[lt + 1] === 0x2f;
    const n0 = lt + (endTag ? 2 : 1);
    let n1 = n0;
    while (n1 < end && b[n1] !== 0x20 && b[n1] !== 0x2f && b[n1] !== GT && b[n1] !== 0x09 && b[n1] !== 0x0a && b[n1] !== 0x0d) n1++;
    const name = text(b, n0, n1, 64).toUpperCase();
    const selfClosing = b[end - 2] === 0x2f;
    const want = this.closing[dir];
    if (want !== null) {
      if (endTag && name === want) {
        this.closing[dir] = null;
        if (dir === Dir.ToClient) return this.upgrade(ts);
      }
      return 'more';
    }
    if (endTag || name.startsWith('?') || name.startsWith('!')) return 'more';
    if (name === 'STREAM:STREAM' || name === 'STREAM') {
      this.s.confirm();
      if (dir === Dir.ToServer) {
        if (!this.s.command(dir, ts, 'STREAM')) return this.stop();
        const to = attr(b, lt, end, 'to');
        if (to !== null) this.s.emit('detail', dir, ts, to, 'to');
      }
      return 'more';
    }
    if (!this.s.confirmed) {
      this.s.event('bad_line', dir);
      return this.stop();
    }
    if (dir === Dir.ToServer) {
      if (name === 'STARTTLS') {
        if (!this.s.command(dir, ts, 'STARTTLS')) return this.stop();
        this.asked = true;
        if (!selfClosing) this.closing[dir] = 'STARTTLS';
      } else if (name === 'AUTH') {
        if (!this.s.command(dir, ts, 'AUTH')) return this.stop();
        const m = attr(b, lt, end, 'mechanism');
        const mech = m !== null ? mechanismName(m) : null;
        if (mech !== null) this.s.emit('auth', dir, ts, mech);
      } else if (STANZAS.has(name) && !this.s.command(dir, ts, name)) return this.stop();
      return 'more';
    }
    if (name === 'STARTTLS') this.s.offer(ts);
    else if ((name === 'PROCEED' || name === 'FAILURE') && this.asked && containsCI(b, lt, end, 'XMPP-TLS')) {
      this.asked = false;
      const ok = name === 'PROCEED';
      this.s.emit('starttls', dir, ts, null, null, ok);
      if (!ok) {
        this.s.event('starttls_refused', dir);
        return 'more';
      }
      if (selfClosing) return this.upgrade(ts);
      this.closing[dir] = 'PROCEED';
    }
    return 'more';
  }

  override end(_dir: Dir): void {
    if (this.asked) {
      this.asked = false;
      this.s.emit('starttls', Dir.ToServer, this.s.ctx.now(), null, null, null);
    }
  }
}

/** A stream header (after an optional XML declaration), client-to-server or server-to-server. */
export function probeXmpp(b: Uint8Array, dir: Dir): ProbeResult {
  if (dir !== Dir.ToServer) return 'no';
  const n = Math.min(b.length, 512);
  // The header may come after anything (its leads are every byte), so every client stream that
  // reaches this probe is searched: a look at each '<' only, not a compare at every offset.
  const last = n - STREAM_HEADER.length;
  for (let i = 0; i <= last; i++) if (b[i] === LT && startsCI(b, i, STREAM_HEADER)) return 'yes';
  if (n === 512) return 'no';
  let i = 0;
  while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  if (i === n) return 'unsure';
  return prefixOrStartsCI(b, i, '<?XML') || prefixOrStartsCI(b, i, '<STREAM:STREAM') ? 'unsure' : 'no';
}
