/**
 * TlsDissector: record framing → handshake reassembly → hello/certificate parsing, per flow.
 * Tracks CH/SH/HRR/Certificate/alerts/CCS and when each direction turns encrypted; reports where
 * application payload starts (ctx.payloadStart), keeps the sizes of the first application-data
 * records, and returns 'done' once both directions are past the handshake (STYLE.md §6.4).
 */
import { Dir, type DissectorContext, type FlowDissector, type StreamView, type Verdict } from '../../src/contract/api.js';
import { type CertListOut, looksLikeTls13Certificate, parseCertificateList } from './certificate.js';
import { parseClientHello, parseSslv2ClientHello } from './client-hello.js';
import type { TlsEventId } from './events.js';
import { framingEvent, HEADER_BYTES, NEED_MORE, recordVersion, sslv2HelloLength, tlsRecordLength } from './framing.js';
import { HandshakeAssembler, type HandshakeSink } from './handshake.js';
import { clientPreambleLength, clientTunnel, PRE_NEED_MORE, serverPreambleLength, Tunnel } from './preamble.js';
import { parseServerHello } from './server-hello.js';
import { tlsSync } from './midstream.js';
import { SYNC_UNSURE } from '../../src/util/resync.js';
import { ContentType, ExtType, HandshakeType, type TlsLimits, type TlsRecord } from './types.js';

/** Direction encryption state. */
const Enc = { Clear: 0, Maybe: 1, Encrypted: 2 } as const;
type Enc = (typeof Enc)[keyof typeof Enc];

/** One direction's framing and handshake state. */
class TlsDir {
  readonly hs: HandshakeAssembler;
  /** Record body bytes still to skip (ciphertext is counted, not buffered). */
  skip = 0;
  started = false;
  preambleDone = false;
  enc: Enc = Enc.Clear;
  ccs = false;
  /** Past the handshake: application payload from here on. */
  past = false;
  stopCounting = false;
  msgCount = 0;
  readonly messages: number[] = [];
  readonly appSizes: number[] = [];
  constructor(maxHandshakeBytes: number) {
    this.hs = new HandshakeAssembler(maxHandshakeBytes);
  }
}

export class TlsDissector implements FlowDissector, HandshakeSink {
  private readonly ctx: DissectorContext<TlsRecord, TlsEventId>;
  private readonly lim: TlsLimits;
  /** Per-direction state, indexed by Dir. */
  private readonly dirs: [TlsDir, TlsDir];
  private readonly certOut: CertListOut = { ders: [], count: 0, totalBytes: 0 };
  private chCount = 0;
  private shCount = 0;
  private version: number | null = null;
  private hrr = false;
  private serverCert = false;
  private serverKx = false;
  private clientCert = false;
  private resumed = false;
  private alerts = 0;
  private confirmed = false;
  private failed = false;
  private finished = false;
  // context of the record being handled (set before HandshakeAssembler.push)
  private curDir: Dir = Dir.ToServer;
  private curTs = 0;
  private curRecordVersion = 0;

  constructor(ctx: DissectorContext<TlsRecord, TlsEventId>, limits: TlsLimits) {
    this.ctx = ctx;
    this.lim = limits;
    this.dirs = [new TlsDir(limits.maxHandshakeBytes), new TlsDir(limits.maxHandshakeBytes)];
  }

  feed(dir: Dir, view: StreamView): Verdict {
    if (this.finished) return 'done';
    if (this.failed) return 'abort';
    const b = view.bytes;
    const n = b.length;
    let pos = 0;
    const st = this.dirs[dir];
    this.curDir = dir;
    this.curTs = view.ts;
    if (!st.started) {
      if (n === 0) return 'more';
      if (this.ctx.flow.midstream) return this.resync(dir, view);
      if (st.preambleDone === false) {
        const r = this.preamble(dir, view);
        if (r !== null) return r;
        return this.feed(dir, view);
      }
      if (dir === Dir.ToServer && ((b[0] as number) & 0x80) !== 0) {
        const total = sslv2HelloLength(b);
        if (total === NEED_MORE) {
          view.needAtLeast(5);
          return 'more';
        }
        if (total > 0) {
          if (n < total) {
            view.needAtLeast(total);
            return 'more';
          }
          st.started = true;
          this.onSslv2(b.subarray(2, total));
          view.consume(total);
          return this.failed ? 'abort' : 'more';
        }
      }
      st.started = true;
    }
    if (st.stopCounting) {
      // Framing was lost to a gap: the rest of this direction is skipped. (Not by setting `skip`
      // to a huge number: a double there changes the field's representation, which V8 pays for
      // with a deoptimisation of every function that reads this state.)
      view.consume(n);
      return this.checkDone(dir);
    }
    while (pos < n) {
      if (st.skip > 0) {
        const k = Math.min(st.skip, n - pos);
        st.skip -= k;
        pos += k;
        continue;
      }
      // A finished direction reads no further record, however the bytes were split into calls.
      if (this.dirFinished(dir)) break;
      const total = tlsRecordLength(b, pos, this.lim.maxRecordBytes);
      if (total === NEED_MORE) break;
      if (total < 0) {
        this.fail(framingEvent(total), dir);
        view.consume(pos);
        return 'abort';
      }
      const type = b[pos] as number;
      const recStart = view.streamOffset + pos;
      if (type === ContentType.ApplicationData || (type === ContentType.Handshake && st.enc === Enc.Encrypted)) {
        // ciphertext: only the header matters; skip the body by counter (no buffering)
        this.onCiphertext(dir, type, recStart, total);
        pos += HEADER_BYTES;
        st.skip = total - HEADER_BYTES;
        continue;
      }
      if (n - pos < total) break;
      const body = b.subarray(pos + HEADER_BYTES, pos + total);
      this.curRecordVersion = recordVersion(b, pos);
      this.onRecord(dir, type, body, recStart + total);
      pos += total;
      if (this.failed) {
        view.consume(pos);
        return 'abort';
      }
    }
    view.consume(pos);
    if (st.skip === 0 && pos === n) view.needAtLeast(HEADER_BYTES);
    else if (st.skip === 0) {
      const t = tlsRecordLength(b, pos, this.lim.maxRecordBytes);
      view.needAtLeast(t > 0 ? t : HEADER_BYTES);
    }
    return this.checkDone(dir);
  }

  gap(dir: Dir, lostBytes: number): Verdict {
    if (this.finished) return 'done';
    const st = this.dirs[dir];
    // A gap wholly inside a record body we were skipping keeps framing in sync.
    if (st.skip >= lostBytes) {
      st.skip -= lostBytes;
      return 'more';
    }
    if (st.past) {
      // framing lost after the handshake: stop counting records in this direction only (feed
      // consumes whatever still comes; `skip` stays a small integer, see feed)
      st.skip = 0;
      st.stopCounting = true;
      return this.checkDone(dir);
    }
    this.ctx.event('tls.gap', dir);
    this.emitSession();
    this.failed = true;
    return 'abort';
  }

  end(_dir: Dir): void {
    this.emitSession();
  }

  private tunnel: Tunnel = Tunnel.None;

  /**
   * A flow picked up mid-stream: the handshake went by, so this direction is taken as past it from
   * its first record boundary on (its records counted as application data; no hello, no JA4).
   */
  private resync(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    const o = tlsSync(b, view.eof);
    if (o < 0) {
      if (o === SYNC_UNSURE) {
        view.needAtLeast(b.length + 1);
        return 'more';
      }
      this.ctx.event('tls.midstream_unsynced', dir);
      const st = this.dirs[dir];
      st.started = true;
      st.past = true;
      st.stopCounting = true;
      view.consume(b.length);
      return this.checkDone(dir);
    }
    const st = this.dirs[dir];
    st.started = true;
    st.preambleDone = true;
    if (!this.confirmed) { this.confirmed = true; this.ctx.confirm(); }
    // A hello's version (3.x) right after its length: an encrypted handshake record (a Finished)
    // whose first byte happens to be 1 or 2 is not taken for one.
    if (b[o] === 22 && b[o + 5] === (dir === Dir.ToServer ? 1 : 2) && b[o + 9] === 3 && (b[o + 10] as number) <= 4) {
      // The boundary is this direction's hello: the capture began before the handshake after
      // all (in a STARTTLS dialogue, or a clear-text preamble it did not see the start of), so
      // it is read as a handshake, JA4 and certificates included.
      if (o === 0) return this.feed(dir, view);
      view.consume(o);
      view.needAtLeast(HEADER_BYTES);
      return 'more';
    }
    st.enc = Enc.Encrypted;
    this.markPast(dir, view.streamOffset + o);
    if (o === 0) return this.feed(dir, view);
    view.consume(o); // the driver calls again from the boundary
    view.needAtLeast(HEADER_BYTES);
    return 'more';
  }

  /**
   * Skip a proxy preamble at the start of a direction. Returns a verdict when feeding must stop
   * here (need more / failed / consumed a preamble: the driver calls feed again), or null when
   * there is none and TLS starts at this offset.
   */
  private preamble(dir: Dir, view: StreamView): Verdict | null {
    const b = view.bytes;
    const max = this.lim.maxPreambleBytes;
    const st = this.dirs[dir];
    if (dir === Dir.ToServer && this.tunnel === Tunnel.None) {
      if (b[0] === 0x16 || ((b[0] as number) & 0x80) !== 0) {
        st.preambleDone = true;
        return null;
      }
      if (b.length < 8) {
        view.needAtLeast(8);
        return 'more';
      }
      this.tunnel = clientTunnel(b);
      if (this.tunnel === Tunnel.None) {
        st.preambleDone = true;
        return null;
      }
    }
    if (this.tunnel === Tunnel.None || (dir === Dir.ToClient && b[0] === 0x16)) {
      st.preambleDone = true;
      return null;
    }
    const len = dir === Dir.ToServer ? clientPreambleLength(this.tunnel, b, max) : serverPreambleLength(this.tunnel, b, max);
    if (len === PRE_NEED_MORE) {
      view.needAtLeast(Math.min(b.length + 1, max));
      return 'more';
    }
    if (len < 0) {
      this.fail('tls.bad_preamble', dir);
      return 'abort';
    }
    st.preambleDone = true;
    if (dir === Dir.ToServer) this.ctx.event('tls.tunnel_preamble', dir);
    view.consume(len);
    view.needAtLeast(HEADER_BYTES);
    return 'more';
  }

  // ---- records -------------------------------------------------------------------------
  private onRecord(dir: Dir, type: number, body: Uint8Array, recEnd: number): void {
    const st = this.dirs[dir];
    switch (type) {
      case ContentType.Handshake:
        if (body.length === 0) {
          this.ctx.event('tls.empty_record', dir);
          return;
        }
        if (st.enc === Enc.Maybe) {
          // client CCS before we knew the version: a plaintext ClientHello (after HRR) or an
          // encrypted Finished (TLS ≤ 1.2). A hello header whose length fits decides.
          const len = body.length >= 4 ? (((body[1] as number) << 16) | ((body[2] as number) << 8) | (body[3] as number)) : -1;
          if (body[0] === HandshakeType.ClientHello && len >= 38 && len + 4 <= body.length) {
            st.enc = Enc.Clear;
          } else {
            st.enc = Enc.Encrypted;
            if (!st.past) this.markPast(dir, recEnd);
            return;
          }
        }
        st.hs.push(body, this);
        return;
      case ContentType.ChangeCipherSpec:
        if (body.length !== 1 || body[0] !== 1) this.ctx.event('tls.malformed_ccs', dir);
        this.onCcs(dir);
        return;
      case ContentType.Alert:
        if (st.enc === Enc.Encrypted) return; // an encrypted alert (RFC 5246 §6.2.3)
        if (body.length !== 2) {
          this.ctx.event(body.length === 0 ? 'tls.empty_record' : 'tls.malformed_alert', dir);
          return;
        }
        this.onAlert(dir, body[0] as number, body[1] as number);
        return;
      case ContentType.Heartbeat:
        this.ctx.event('tls.heartbeat', dir);
        return;
      default:
        return;
    }
  }

  private onCiphertext(dir: Dir, type: number, recStart: number, total: number): void {
    const st = this.dirs[dir];
    if (type === ContentType.Handshake) {
      // TLS ≤ 1.2: the first record after CCS is the encrypted Finished; payload starts after it.
      if (!st.past) this.markPast(dir, recStart + total);
      return;
    }
    if (!st.past) this.markPast(dir, recStart);
    this.countApp(dir, total);
  }

  private markPast(dir: Dir, streamOffset: number): void {
    const st = this.dirs[dir];
    st.past = true;
    st.hs.reset();
    this.ctx.payloadStart(dir, streamOffset);
  }

  private countApp(dir: Dir, total: number): void {
    const st = this.dirs[dir];
    if (!st.stopCounting && st.appSizes.length < this.lim.maxAppRecordsCount) st.appSizes.push(total);
  }

  private onCcs(dir: Dir): void {
    const st = this.dirs[dir];
    st.ccs = true;
    const v = this.version;
    if (dir === Dir.ToClient) {
      // after a HelloRetryRequest the server's CCS is the TLS 1.3 compatibility one (RFC 8446 D.4)
      if ((v === null && !this.hrr) || (v !== null && v < 0x0304)) {
        st.enc = Enc.Encrypted;
        if (!this.serverCert && !this.serverKx && this.shCount > 0) this.resumed = true; // abbreviated handshake (RFC 5246 §7.3)
      }
      return;
    }
    if (this.hrr || (v !== null && v >= 0x0304)) return; // middlebox-compatibility CCS (RFC 8446 D.4)
    st.enc = v === null ? Enc.Maybe : Enc.Encrypted;
  }

  private onAlert(dir: Dir, level: number, description: number): void {
    if (level === 2) this.ctx.event('tls.alert_fatal', dir);
    if (this.alerts >= this.lim.maxAlertsCount) return;
    this.alerts++;
    this.ctx.emit({ kind: 'tls.alert', ts: this.curTs, dir, level, description });
  }

  private onSslv2(msg: Uint8Array): void {
    const r = parseSslv2ClientHello(msg, this.lim);
    if (typeof r === 'string') {
      this.fail(r, Dir.ToServer);
      return;
    }
    this.ctx.event('tls.sslv2_client_hello', Dir.ToServer);
    this.confirm();
    this.ctx.emit({ kind: 'tls.client_hello', ts: this.curTs, dir: Dir.ToServer, index: this.chCount++, recordVersion: 0x0002, hello: r });
  }

  // ---- handshake messages (HandshakeSink) ---------------------------------------------------
  onHandshakeEvent(id: TlsEventId): void {
    this.ctx.event(id, this.curDir);
  }

  onHandshakeMessage(type: number, body: Uint8Array): void {
    const dir = this.curDir;
    const st = this.dirs[dir];
    if (st.msgCount >= this.lim.maxHandshakeMessagesCount) {
      if (st.msgCount === this.lim.maxHandshakeMessagesCount) this.ctx.event('tls.limit.handshake_messages', dir);
      st.msgCount++;
      return;
    }
    st.msgCount++;
    st.messages.push(type);
    switch (type) {
      case HandshakeType.ClientHello:
        this.onClientHello(dir, body);
        return;
      case HandshakeType.ServerHello:
        this.onServerHello(dir, body);
        return;
      case HandshakeType.Certificate:
        this.onCertificate(dir, body);
        return;
      case HandshakeType.ServerKeyExchange:
        if (dir === Dir.ToClient) this.serverKx = true;
        return;
      default:
        return;
    }
  }

  private onClientHello(dir: Dir, body: Uint8Array): void {
    if (dir !== Dir.ToServer) {
      this.anomaly('tls.unexpected_message', dir);
      return;
    }
    const r = parseClientHello(body, this.lim);
    if (typeof r === 'string') {
      this.anomaly(r, dir);
      return;
    }
    for (let i = 0; i < r.events.length; i++) this.ctx.event(r.events[i] as TlsEventId, dir);
    this.confirm();
    if (this.chCount > 0) this.ctx.event('tls.second_client_hello', dir);
    this.ctx.emit({ kind: 'tls.client_hello', ts: this.curTs, dir, index: this.chCount++, recordVersion: this.curRecordVersion, hello: r });
  }

  private onServerHello(dir: Dir, body: Uint8Array): void {
    if (dir !== Dir.ToClient) {
      this.anomaly('tls.unexpected_message', dir);
      return;
    }
    const r = parseServerHello(body, this.lim);
    if (typeof r === 'string') {
      this.anomaly(r, dir);
      return;
    }
    for (let i = 0; i < r.events.length; i++) this.ctx.event(r.events[i] as TlsEventId, dir);
    this.confirm();
    this.ctx.emit({ kind: 'tls.server_hello', ts: this.curTs, dir, index: this.shCount++, hello: r });
    if (r.helloRetryRequest) {
      this.hrr = true;
      this.ctx.event('tls.hello_retry_request', dir);
      return;
    }
    const v = r.selectedVersion ?? r.legacyVersion;
    this.version = v;
    const client = this.dirs[Dir.ToServer];
    if (v >= 0x0304) {
      // TLS 1.3: everything the server sends after ServerHello is encrypted (RFC 8446 §2).
      this.dirs[Dir.ToClient].enc = Enc.Encrypted;
      if (r.extensions.indexOf(ExtType.PreSharedKey) >= 0) this.resumed = true;
      if (client.enc === Enc.Maybe) client.enc = Enc.Clear;
    } else if (client.enc === Enc.Maybe) {
      client.enc = Enc.Encrypted;
    }
  }

  private onCertificate(dir: Dir, body: Uint8Array): void {
    const tls13 = this.version !== null ? this.version >= 0x0304 : looksLikeTls13Certificate(body);
    const out = this.certOut;
    const r = parseCertificateList(body, tls13, this.lim.maxCertsCount, out);
    if (r === 'tls.malformed_certificate') {
      this.anomaly(r, dir);
      return;
    }
    if (r !== null) this.ctx.event(r, dir);
    for (let i = 0; i < out.ders.length; i++) this.ctx.handoff('x509', dir, i, out.ders[i] as Uint8Array);
    if (dir === Dir.ToClient) this.serverCert = true;
    else if (out.count > 0) this.clientCert = true;
    this.ctx.emit({ kind: 'tls.certificate', ts: this.curTs, dir, count: out.count, handedOff: out.ders.length, tls13, totalBytes: out.totalBytes });
    out.ders.length = 0;
  }

  // ---- helpers --------------------------------------------------------------------------
  private confirm(): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.ctx.confirm();
  }

  /** Malformed content: before confirmation it is a violation (wrong protocol), after an anomaly. */
  private anomaly(id: TlsEventId, dir: Dir): void {
    if (!this.confirmed) {
      this.ctx.violation(id);
      this.failed = true;
      return;
    }
    this.ctx.event(id, dir);
  }

  private fail(id: TlsEventId, dir: Dir): void {
    if (!this.confirmed) this.ctx.violation(id);
    else this.ctx.event(id, dir);
    this.failed = true;
    this.emitSession();
  }

  /** A direction is finished once past its handshake with maxAppRecordsCount sizes kept. */
  private dirFinished(d: Dir): boolean {
    const st = this.dirs[d];
    return st.past && (st.stopCounting || st.appSizes.length >= this.lim.maxAppRecordsCount);
  }

  private checkDone(dir: Dir): Verdict {
    if (this.failed) return 'abort';
    if (this.dirFinished(0) && this.dirFinished(1)) {
      this.emitSession();
      this.finished = true;
      return 'done';
    }
    // stop reassembling a finished direction (e.g. a bulk download) while the other one continues
    return this.dirFinished(dir) ? 'dir-done' : 'more';
  }

  private emitSession(): void {
    if (this.finished || this.sessionEmitted) return;
    this.sessionEmitted = true;
    this.ctx.emit({
      kind: 'tls.session',
      ts: this.curTs,
      dir: null,
      version: this.version,
      ccsSeen: [this.dirs[0].ccs, this.dirs[1].ccs],
      pastHandshake: [this.dirs[0].past, this.dirs[1].past],
      resumed: this.resumed,
      clientCertificate: this.clientCert,
      // Handed over, not copied: nothing is added to these once the session record is out (every
      // path that emits it ends the dissection).
      appRecordSizes: [this.dirs[0].appSizes, this.dirs[1].appSizes],
      messages: [this.dirs[0].messages, this.dirs[1].messages],
    });
  }

  private sessionEmitted = false;
}
