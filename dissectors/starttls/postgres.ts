/**
 * PostgreSQL (protocol 3.0, "Message Flow" §55.2): the untyped first messages (SSLRequest,
 * GSSENCRequest, StartupMessage, CancelRequest), then typed messages. An 'S' answer to SSLRequest
 * switches the flow to TLS (§55.2.10). Passwords and SASL messages ('p') are skipped unread.
 */
import { Dir, type DissectorContext, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { SessionDissector, text } from './common.js';
import type { SessionLimits, SessionRecord } from './types.js';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
const MAX_STARTUP = 10000; // the server's own limit on a startup packet

const u32 = (b: Uint8Array, i: number): number => (((b[i] as number) << 24) | ((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number)) >>> 0;

/** Client messages counted as commands, by type byte. */
const CLIENT_COMMANDS: Record<number, string> = { 0x51: 'QUERY', 0x50: 'PARSE', 0x46: 'FUNCTION_CALL', 0x58: 'TERMINATE' };
/** Authentication request codes (§55.7 AuthenticationXXX) and the method each names. */
const AUTH_METHODS: Record<number, string> = { 2: 'KERBEROS_V5', 3: 'PASSWORD', 5: 'MD5', 7: 'GSSAPI', 9: 'SSPI' };
const STARTUP_KEYS = new Set(['user', 'database', 'application_name', 'replication']);

export class PostgresDissector extends SessionDissector {
  private startup = true;
  /** The client asked for SSL (or GSS encryption) and waits for the one-byte answer. */
  private asked: 'ssl' | 'gss' | null = null;

  constructor(ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    super('postgres', ctx, lim);
  }

  protected override holding(dir: Dir): boolean {
    return dir === Dir.ToServer && this.asked !== null;
  }

  /** A startup message, the one-byte answer to SSLRequest/GSSENCRequest, or a typed message. */
  protected unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    if (dir === Dir.ToServer) return this.startup ? this.startupMessage(b, pos, view) : this.typed(dir, b, pos, view);
    if (this.asked !== null) {
      this.answer(b[pos] as number, view.ts);
      return 1;
    }
    return this.typed(dir, b, pos, view);
  }

  /** The one-byte answer to SSLRequest or GSSENCRequest. */
  private answer(c: number, ts: number): Verdict {
    const asked = this.asked;
    this.asked = null;
    if (asked === 'ssl') {
      if (c === 0x53 || c === 0x4e) { // 'S' | 'N'
        this.s.confirm();
        this.s.emit('starttls', Dir.ToClient, ts, null, null, c === 0x53);
        if (c === 0x53) return this.upgrade(ts);
        this.s.event('starttls_refused', Dir.ToClient);
        return 'more';
      }
    } else if (c === 0x47 || c === 0x4e) { // 'G' | 'N'
      this.s.confirm();
      if (c === 0x4e) return 'more';
      this.s.emit('detail', Dir.ToClient, ts, 'true', 'gss_encryption');
      return this.stop(); // GSSAPI-encrypted from here on: nothing more to read
    }
    this.s.event('bad_message', Dir.ToClient);
    return this.stop();
  }

  /** An untyped message: length, then a code. Returns the bytes used (0: more needed, or stopped). */
  private startupMessage(b: Uint8Array, pos: number, view: StreamView): number {
    const dir = Dir.ToServer;
    if (b.length - pos < 8) {
      view.needAtLeast(b.length - pos < 8 ? 8 : b.length - pos + 1);
      return 0;
    }
    const len = u32(b, pos);
    const code = u32(b, pos + 4);
    const fixed = code === SSL_REQUEST || code === GSSENC_REQUEST ? 8 : code === CANCEL_REQUEST ? 16 : 0;
    if (len < 8 || len > MAX_STARTUP || (fixed > 0 && len !== fixed) || (fixed === 0 && code !== PROTOCOL_3)) {
      this.s.event('bad_message', dir);
      return this.stopUnit();
    }
    if (b.length - pos < len) {
      view.needAtLeast(len);
      return 0;
    }
    this.s.confirm();
    const ts = view.ts;
    if (code === SSL_REQUEST) {
      if (!this.s.command(dir, ts, 'SSL_REQUEST')) return this.stopUnit();
      this.asked = 'ssl';
    } else if (code === GSSENC_REQUEST) {
      if (!this.s.command(dir, ts, 'GSSENC_REQUEST')) return this.stopUnit();
      this.asked = 'gss';
    } else if (code === CANCEL_REQUEST) {
      this.s.command(dir, ts, 'CANCEL_REQUEST');
      return this.stopUnit();
    } else {
      if (!this.s.command(dir, ts, 'STARTUP')) return this.stopUnit();
      this.startup = false;
      this.parameters(b, pos + 8, pos + len, ts);
    }
    return len;
  }

  /** StartupMessage parameters: name NUL value NUL … NUL; user, database and the like are kept. */
  private parameters(b: Uint8Array, from: number, end: number, ts: number): void {
    let i = from;
    for (let n = 0; n < 32 && i < end && b[i] !== 0; n++) {
      const k0 = i;
      while (i < end && b[i] !== 0) i++;
      const v0 = i + 1;
      let j = v0;
      while (j < end && b[j] !== 0) j++;
      if (j >= end) break;
      const key = text(b, k0, i, 64);
      if (STARTUP_KEYS.has(key)) this.s.emit('detail', Dir.ToServer, ts, text(b, v0, j, this.s.lim.maxTextBytes), key);
      i = j + 1;
    }
  }

  /** A typed message: type, length (itself included). Only a few are read; the rest are skipped. */
  private typed(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    if (b.length - pos < 5) {
      view.needAtLeast(5);
      return 0;
    }
    const type = b[pos] as number;
    const len = u32(b, pos + 1);
    if (len < 4 || len > 0x3fffffff || type < 0x20 || type > 0x7e) {
      this.s.event('bad_message', dir);
      return this.stopUnit();
    }
    const total = 1 + len;
    const ts = view.ts;
    if (dir === Dir.ToServer) {
      const name = CLIENT_COMMANDS[type];
      if (name !== undefined && !this.s.command(dir, ts, name)) return this.stopUnit();
      this.skip[dir] = total;
      return 0;
    }
    const wanted = type === 0x52 || type === 0x53; // 'R' Authentication, 'S' ParameterStatus
    if (!wanted) {
      this.skip[dir] = total;
      return 0;
    }
    if (total > this.s.lim.maxMessageBytes) {
      this.s.event('limit.max_message_bytes', dir);
      this.skip[dir] = total;
      return 0;
    }
    if (b.length - pos < total) {
      view.needAtLeast(total);
      return 0;
    }
    this.s.confirm();
    const body = pos + 5;
    if (type === 0x52 && len >= 8) {
      const code = u32(b, body);
      const m = AUTH_METHODS[code];
      if (m !== undefined) this.s.emit('auth', dir, ts, m);
      else if (code === 10) { // SASL: the offered mechanisms, NUL-terminated
        const e = b.indexOf(0, body + 4);
        if (e > body + 4 && e < pos + total) this.s.emit('auth', dir, ts, text(b, body + 4, e, 20).toUpperCase().replace(/[^A-Z0-9_-]/g, '_'));
      }
    } else if (type === 0x53) {
      const e = b.indexOf(0, body);
      if (e > body && e < pos + total && text(b, body, e, 32) === 'server_version') {
        const e2 = b.indexOf(0, e + 1);
        if (e2 > e && e2 < pos + total) this.s.emit('greeting', dir, ts, text(b, e + 1, e2, this.s.lim.maxTextBytes));
      }
    }
    return total;
  }

  override end(_dir: Dir): void {
    if (this.asked === 'ssl') {
      this.asked = null;
      this.s.emit('starttls', Dir.ToServer, this.s.ctx.now(), null, null, null);
    }
  }
}

/** The client's first message: SSLRequest, GSSENCRequest, CancelRequest or a 3.0 StartupMessage. */
export function probePostgres(b: Uint8Array, dir: Dir): ProbeResult {
  if (dir !== Dir.ToServer) return 'no';
  if (b.length < 8) return b.length >= 1 && b[0] !== 0 ? 'no' : 'unsure';
  const len = u32(b, 0);
  const code = u32(b, 4);
  if ((code === SSL_REQUEST || code === GSSENC_REQUEST) && len === 8) return 'yes';
  if (code === CANCEL_REQUEST && len === 16) return 'yes';
  if (code === PROTOCOL_3 && len >= 9 && len <= MAX_STARTUP) return 'yes';
  return 'no';
}
