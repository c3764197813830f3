/**
 * LDAP (RFC 4511): the envelope of each message (messageID, protocolOp) and the StartTLS extended
 * operation (§4.14, OID 1.3.6.1.4.1.1466.20037): its success response switches the flow to TLS.
 * Binds are named by method only (simple, or the SASL mechanism), never with their credentials.
 */
import { Dir, type DissectorContext, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { SessionDissector, mechanismName, text } from './common.js';
import { readTlv, smallInt, tlvIn } from './ber.js';
import type { SessionLimits, SessionRecord } from './types.js';

export const STARTTLS_OID = '1.3.6.1.4.1.1466.20037';
const OID_BYTES = Array.from(STARTTLS_OID, (c) => c.charCodeAt(0));

const OPS: Record<number, string> = {
  0x60: 'BIND', 0x42: 'UNBIND', 0x63: 'SEARCH', 0x66: 'MODIFY', 0x68: 'ADD', 0x4a: 'DELETE', 0x6c: 'MODDN',
  0x6e: 'COMPARE', 0x50: 'ABANDON', 0x77: 'EXTENDED',
};
const RESPONSES = new Set([0x61, 0x64, 0x65, 0x67, 0x69, 0x6b, 0x6d, 0x6f, 0x73, 0x78, 0x79]);

function hasOid(b: Uint8Array, from: number, to: number): boolean {
  const last = to - OID_BYTES.length;
  outer: for (let i = from; i <= last; i++) {
    for (let k = 0; k < OID_BYTES.length; k++) if (b[i + k] !== OID_BYTES[k]) continue outer;
    return true;
  }
  return false;
}

export class LdapDissector extends SessionDissector {
  /** messageID of the StartTLS request waiting for its response (-1: none). */
  private startId = -1;

  constructor(ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    super('ldap', ctx, lim);
  }

  protected override holding(dir: Dir): boolean {
    return dir === Dir.ToServer && this.startId >= 0;
  }

  /** One BER message: SEQUENCE { messageID, protocolOp, ... }. */
  protected unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    const t = readTlv(b, pos, b.length);
    if (t === 'short') {
      view.needAtLeast(b.length - pos + 1);
      return 0;
    }
    if (t === 'bad' || t.tag !== 0x30) {
      this.s.event('bad_message', dir);
      return this.stopUnit();
    }
    const total = t.at - pos + t.len;
    if (total > this.s.lim.maxMessageBytes) {
      this.s.event('limit.max_message_bytes', dir);
      this.skip[dir] = total;
      if (dir === Dir.ToServer && !this.s.command(dir, view.ts, null)) return this.stopUnit();
      return 0;
    }
    if (b.length - pos < total) {
      view.needAtLeast(total);
      return 0;
    }
    this.message(dir, b, t.at, t.at + t.len, view.ts);
    return total;
  }

  private message(dir: Dir, b: Uint8Array, from: number, end: number, ts: number): Verdict {
    const id = tlvIn(b, from, end);
    const op = id !== null && id.tag === 0x02 ? tlvIn(b, id.at + id.len, end) : null;
    const msgId = id !== null ? smallInt(b, id) : -1;
    if (op === null || msgId < 0) {
      this.s.event('bad_message', dir);
      return this.s.confirmed ? 'more' : this.stop();
    }
    const tag = op.tag;
    if (dir === Dir.ToServer) {
      const name = OPS[tag];
      if (name === undefined) {
        this.s.event('bad_message', dir);
        return this.s.confirmed ? 'more' : this.stop();
      }
      this.s.confirm();
      if (!this.s.command(dir, ts, name)) return this.stop();
      if (tag === 0x60) this.bind(dir, b, op.at, op.at + op.len, ts);
      if (tag === 0x77) {
        const rn = tlvIn(b, op.at, op.at + op.len);
        if (rn !== null && rn.tag === 0x80 && text(b, rn.at, rn.at + rn.len, 64) === STARTTLS_OID) this.startId = msgId;
      }
      return 'more';
    }
    if (!RESPONSES.has(tag)) {
      this.s.event('bad_message', dir);
      return this.s.confirmed ? 'more' : this.stop();
    }
    this.s.confirm();
    // The root DSE lists the operation among its supportedExtension values (RFC 4512 §5.1).
    if (tag === 0x64 && hasOid(b, op.at, op.at + op.len)) this.s.offer(ts);
    if (tag === 0x78 && msgId === this.startId) {
      const rc = tlvIn(b, op.at, op.at + op.len);
      const code = rc !== null && rc.tag === 0x0a ? smallInt(b, rc) : -1;
      this.startId = -1;
      this.s.emit('starttls', dir, ts, null, null, code === 0);
      if (code === 0) return this.upgrade(ts);
      this.s.event('starttls_refused', dir);
    }
    return 'more';
  }

  /** BindRequest (RFC 4511 §4.2): version, name, then the method; only the method is kept. */
  private bind(dir: Dir, b: Uint8Array, from: number, end: number, ts: number): void {
    const ver = tlvIn(b, from, end);
    const name = ver !== null ? tlvIn(b, ver.at + ver.len, end) : null;
    const auth = name !== null ? tlvIn(b, name.at + name.len, end) : null;
    if (auth === null) return;
    if (auth.tag === 0x80) this.s.emit('auth', dir, ts, 'SIMPLE');
    else if (auth.tag === 0xa3) {
      const mech = tlvIn(b, auth.at, auth.at + auth.len);
      const m = mech !== null && mech.tag === 0x04 ? mechanismName(text(b, mech.at, mech.at + mech.len, 20)) : null;
      if (m !== null) this.s.emit('auth', dir, ts, m);
    }
  }

  override end(_dir: Dir): void {
    if (this.startId >= 0) {
      this.startId = -1;
      this.s.emit('starttls', Dir.ToServer, this.s.ctx.now(), null, null, null);
    }
  }
}

/** A client's first message: SEQUENCE { INTEGER messageID, a request operation }. */
export function probeLdap(b: Uint8Array, dir: Dir): ProbeResult {
  if (dir !== Dir.ToServer) return 'no';
  if (b.length < 1) return 'unsure';
  if (b[0] !== 0x30) return 'no';
  const t = readTlv(b, 0, b.length);
  if (t === 'short') return 'unsure';
  if (t === 'bad' || t.len < 5) return 'no';
  const id = readTlv(b, t.at, b.length);
  if (id === 'short') return 'unsure';
  if (id === 'bad' || id.tag !== 0x02 || id.len < 1 || id.len > 4) return 'no';
  const opAt = id.at + id.len;
  if (b.length <= opAt) return 'unsure';
  return OPS[b[opAt] as number] !== undefined ? 'yes' : 'no';
}
