/**
 * MySQL / MariaDB client/server protocol: packets of a 3-byte length and a sequence number. The
 * server's greeting (HandshakeV10) gives the version and whether it can do TLS (CLIENT_SSL); a
 * client that wants TLS answers with the short SSLRequest packet and starts TLS at once, with no
 * answer from the server. The login packet (user, auth response) is skipped unread.
 */
import { Dir, type DissectorContext, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { SessionDissector, text } from './common.js';
import type { SessionLimits, SessionRecord } from './types.js';

const CLIENT_SSL = 0x0800;
const CLIENT_PROTOCOL_41 = 0x0200;
const SSL_REQUEST_LEN = 32; // capabilities, max packet, charset, 23 filler bytes

/** Command packets (first byte of a client packet with sequence 0). */
const COMMANDS: Record<number, string> = {
  0x01: 'QUIT', 0x02: 'INIT_DB', 0x03: 'QUERY', 0x04: 'FIELD_LIST', 0x05: 'CREATE_DB', 0x06: 'DROP_DB', 0x08: 'SHUTDOWN', 0x09: 'STATISTICS',
  0x0d: 'DEBUG', 0x0e: 'PING', 0x11: 'CHANGE_USER', 0x12: 'BINLOG_DUMP', 0x16: 'STMT_PREPARE', 0x17: 'STMT_EXECUTE', 0x19: 'STMT_CLOSE',
  0x1a: 'STMT_RESET', 0x1b: 'SET_OPTION', 0x1c: 'STMT_FETCH', 0x1f: 'RESET_CONNECTION',
};

const u16 = (b: Uint8Array, i: number): number => (b[i] as number) | ((b[i + 1] as number) << 8);
const u24 = (b: Uint8Array, i: number): number => (b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16);

export class MysqlDissector extends SessionDissector {
  private greeted = false;
  private loggedIn = false;

  constructor(ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    super('mysql', ctx, lim);
  }

  /** One packet: 3-byte length, sequence number, payload. */
  protected unit(dir: Dir, b: Uint8Array, pos: number, view: StreamView): number {
    if (b.length - pos < 5) {
      view.needAtLeast(5);
      return 0;
    }
    const len = u24(b, pos);
    const seq = b[pos + 3] as number;
    const total = 4 + len;
    // Only the greeting and the login packet are read whole; everything else by its first byte.
    const whole = dir === Dir.ToClient ? !this.greeted : !this.loggedIn;
    if (whole) {
      if (total > this.s.lim.maxMessageBytes || len === 0) {
        this.s.event(len === 0 ? 'bad_message' : 'limit.max_message_bytes', dir);
        return this.stopUnit();
      }
      if (b.length - pos < total) {
        view.needAtLeast(total);
        return 0;
      }
      if (dir === Dir.ToClient) this.greeting(b, pos + 4, pos + total, seq, view.ts);
      else this.login(b, pos + 4, pos + total, seq, view.ts);
      return total;
    }
    if (dir === Dir.ToServer && seq === 0) {
      const name = COMMANDS[b[pos + 4] as number];
      if (!this.s.command(dir, view.ts, name ?? null)) {
        return this.stopUnit();
      }
    }
    this.skip[dir] = total;
    return 0;
  }

  /** HandshakeV10: protocol 10, version NUL, thread id, 8 bytes of salt, filler, capabilities. */
  private greeting(b: Uint8Array, from: number, end: number, seq: number, ts: number): Verdict {
    const dir = Dir.ToClient;
    if (seq !== 0 || b[from] !== 0x0a) {
      this.s.event('bad_message', dir);
      return this.stop(); // an error packet (host not allowed) or not MySQL: nothing to follow
    }
    const nul = b.indexOf(0, from + 1);
    if (nul < 0 || nul >= end || nul + 16 > end) {
      this.s.event('bad_message', dir);
      return this.stop();
    }
    this.greeted = true;
    this.s.confirm();
    this.s.emit('greeting', dir, ts, text(b, from + 1, nul, this.s.lim.maxTextBytes));
    const caps = u16(b, nul + 14);
    if ((caps & CLIENT_SSL) !== 0) this.s.offer(ts);
    return 'more';
  }

  /** The client's answer: SSLRequest (then TLS at once) or HandshakeResponse (skipped unread). */
  private login(b: Uint8Array, from: number, end: number, seq: number, ts: number): Verdict {
    const dir = Dir.ToServer;
    if (end - from < 4 || seq === 0) {
      this.s.event('bad_message', dir);
      return this.stop();
    }
    const caps = u16(b, from);
    this.loggedIn = true;
    if ((caps & CLIENT_PROTOCOL_41) !== 0 && (caps & CLIENT_SSL) !== 0 && end - from === SSL_REQUEST_LEN) {
      if (!this.s.command(dir, ts, 'SSL_REQUEST')) return this.stop();
      this.s.emit('starttls', dir, ts, null, null, true);
      return this.upgrade(ts);
    }
    if (!this.s.command(dir, ts, 'LOGIN')) return this.stop();
    return 'more';
  }
}

/** The server's greeting: length, sequence 0, protocol 10, a printable version ending in NUL. */
export function probeMysql(b: Uint8Array, dir: Dir): ProbeResult {
  if (dir !== Dir.ToClient) return 'no';
  if (b.length >= 4 && (b[3] !== 0 || u24(b, 0) < 20 || u24(b, 0) > 1024)) return 'no';
  if (b.length >= 5 && b[4] !== 0x0a) return 'no';
  for (let i = 5; i < b.length && i < 70; i++) {
    const c = b[i] as number;
    if (c === 0) return i > 5 ? 'yes' : 'no';
    if (c < 0x20 || c > 0x7e) return 'no';
  }
  return b.length < 70 ? 'unsure' : 'no';
}
