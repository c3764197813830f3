/**
 * RDP's connection start (MS-RDPBCGR §2.2.1.1-2): TPKT (RFC 1006) + X.224 Connection Request with
 * RDP_NEG_REQ, then Connection Confirm with RDP_NEG_RSP. A selected protocol other than standard
 * RDP security (TLS, CredSSP, RDSTLS, ...) means TLS follows at the next byte of both directions.
 */
import { Dir, type DissectorContext, type FlowDissector, type ProbeResult, type StreamView, type Verdict } from '../../src/contract/api.js';
import { Session, startsCI, text } from './common.js';
import type { SessionLimits, SessionRecord } from './types.js';

const X224_CR = 0xe0;
const X224_CC = 0xd0;
const PROTOCOLS: readonly [number, string][] = [[1, 'ssl'], [2, 'hybrid'], [4, 'rdstls'], [8, 'hybrid_ex'], [0x10, 'rdsaad']];

function protocolNames(mask: number): string {
  if (mask === 0) return 'rdp';
  const names = PROTOCOLS.filter(([bit]) => (mask & bit) !== 0).map(([, n]) => n);
  return names.length > 0 ? names.join('|') : `0x${mask.toString(16)}`;
}

const u32le = (b: Uint8Array, i: number): number => ((b[i] as number) | ((b[i + 1] as number) << 8) | ((b[i + 2] as number) << 16) | ((b[i + 3] as number) << 24)) >>> 0;

export class RdpDissector implements FlowDissector {
  private readonly s: Session;
  private requested = false;
  /** The request offered a TLS-based security protocol. */
  private askedTls = false;
  private stopped = false;

  constructor(ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) {
    this.s = new Session('rdp', ctx, lim);
  }

  feed(dir: Dir, view: StreamView): Verdict {
    if (this.stopped) return 'done';
    if (dir === Dir.ToServer && this.requested) return 'more'; // wait for the confirm: TLS may follow
    const b = view.bytes;
    if (b.length < 4) {
      view.needAtLeast(4);
      return 'more';
    }
    const len = ((b[2] as number) << 8) | (b[3] as number);
    if (b[0] !== 3 || b[1] !== 0 || len < 11) {
      this.s.event('bad_message', dir);
      return this.stop();
    }
    if (b.length < len) {
      view.needAtLeast(len);
      return 'more';
    }
    view.consume(len);
    const li = b[4] as number;
    const code = (b[5] as number) & 0xf0;
    if (li + 5 !== len || code !== (dir === Dir.ToServer ? X224_CR : X224_CC)) {
      this.s.event('bad_message', dir);
      return this.stop();
    }
    this.s.confirm();
    return dir === Dir.ToServer ? this.request(b, len, view.ts) : this.confirm(b, len, view.ts);
  }

  private stop(): Verdict {
    this.stopped = true;
    return 'done';
  }

  /** Connection Request: an optional cookie or routing token line, then an optional RDP_NEG_REQ. */
  private request(b: Uint8Array, len: number, ts: number): Verdict {
    const dir = Dir.ToServer;
    this.requested = true;
    if (!this.s.command(dir, ts, 'CONNECTION_REQUEST')) return this.stop();
    let i = 11;
    if (startsCI(b, i, 'COOKIE: MSTSHASH=')) {
      let e = i;
      while (e + 1 < len && !(b[e] === 0x0d && b[e + 1] === 0x0a)) e++;
      this.s.emit('detail', dir, ts, text(b, i + 17, e, 64), 'cookie');
      i = e + 2;
    } else if (b[i] !== 0x01) {
      let e = i;
      while (e + 1 < len && !(b[e] === 0x0d && b[e + 1] === 0x0a)) e++;
      if (e + 1 < len) i = e + 2; // a routing token: skipped
    }
    if (i + 8 <= len && b[i] === 0x01) {
      const mask = u32le(b, i + 4);
      this.askedTls = mask !== 0;
      this.s.emit('detail', dir, ts, protocolNames(mask), 'requested_protocols');
    } else this.s.emit('detail', dir, ts, 'rdp', 'requested_protocols');
    return 'more';
  }

  /** Connection Confirm: RDP_NEG_RSP (the selected protocol) or RDP_NEG_FAILURE. */
  private confirm(b: Uint8Array, len: number, ts: number): Verdict {
    const dir = Dir.ToClient;
    this.requested = false;
    const i = 11;
    if (i + 8 <= len && b[i] === 0x02) {
      const selected = u32le(b, i + 4);
      this.s.emit('detail', dir, ts, protocolNames(selected), 'selected_protocol');
      this.s.emit('starttls', dir, ts, null, null, selected !== 0);
      if (selected !== 0) return this.s.upgrade(ts);
      return this.stop(); // standard RDP security: its own encryption, nothing for us
    }
    if (i + 8 <= len && b[i] === 0x03) {
      this.s.emit('detail', dir, ts, String(u32le(b, i + 4)), 'failure_code');
      this.s.emit('starttls', dir, ts, null, null, false);
      this.s.event('starttls_refused', dir);
    } else this.s.emit('detail', dir, ts, 'rdp', 'selected_protocol');
    return this.stop();
  }

  gap(dir: Dir, _lostBytes: number): Verdict {
    this.s.event('gap', dir);
    return this.stop();
  }

  end(_dir: Dir): void {
    // A request the server never answered (the capture was cut): say it was asked.
    if (this.requested && this.askedTls) {
      this.requested = false;
      this.s.emit('starttls', Dir.ToServer, this.s.ctx.now(), null, null, null);
    }
  }
}

/** TPKT version 3 carrying an X.224 Connection Request whose length indicator fits the packet. */
export function probeRdp(b: Uint8Array, dir: Dir): ProbeResult {
  if (dir !== Dir.ToServer) return 'no';
  if (b.length >= 1 && b[0] !== 3) return 'no';
  if (b.length >= 2 && b[1] !== 0) return 'no';
  if (b.length < 6) return 'unsure';
  const len = ((b[2] as number) << 8) | (b[3] as number);
  return len >= 11 && (b[4] as number) + 5 === len && ((b[5] as number) & 0xf0) === X224_CR ? 'yes' : 'no';
}
