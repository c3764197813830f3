/**
 * DtlsDissector: one UDP datagram per feed; each datagram holds one or more DTLS records
 * (RFC 6347 §4.1.1, RFC 9147 §4). Handshake fragments of epoch 0 are reassembled per message_seq;
 * ClientHello/ServerHello go to the TLS dissector's pure parsers, certificates to the X.509 cache.
 */
import { Dir, type DissectorContext, type FlowDissector, type StreamView, type Verdict } from '../../src/contract/api.js';
import { Cursor } from '../../src/util/cursor.js';
import { parseDtlsClientHello } from '../tls/client-hello.js';
import { parseServerHello } from '../tls/server-hello.js';
import { defaultTlsLimits, HandshakeType, type TlsLimits } from '../tls/types.js';
import type { DtlsEventId } from './events.js';
import { MessageAssembly } from './reassembly.js';
import type { DtlsLimits, DtlsRecord } from './types.js';

type Ctx = DissectorContext<DtlsRecord, DtlsEventId>;

export const RECORD_HEADER_BYTES = 13; // type, version, epoch, sequence_number(48), length
export const HANDSHAKE_HEADER_BYTES = 12; // msg_type, length(24), message_seq, fragment_offset(24), fragment_length(24)
const HELLO_VERIFY_REQUEST = 3;
const MAX_MESSAGES_LISTED = 32;
const MAX_DONE_SEQS = 64;

export const DtlsVersion = { V1_0: 0xfeff, V1_2: 0xfefd, V1_3: 0xfefc } as const;

export function isDtlsVersion(v: number): boolean {
  return v === DtlsVersion.V1_0 || v === DtlsVersion.V1_2 || v === DtlsVersion.V1_3;
}

export class DtlsDissector implements FlowDissector {
  private readonly ctx: Ctx;
  private readonly lim: DtlsLimits;
  private readonly tlsLimits: TlsLimits;
  private readonly cur = new Cursor(new Uint8Array(0));
  private readonly pending: [MessageAssembly[], MessageAssembly[]] = [[], []];
  /** message_seq values fully processed per direction (bounded; oldest forgotten first). */
  private readonly doneSeqs: [number[], number[]] = [[], []];
  private readonly records: [number, number] = [0, 0];
  private readonly ccsSeen: [boolean, boolean] = [false, false];
  private readonly past: [boolean, boolean] = [false, false];
  private readonly messages: [number[], number[]] = [[], []];
  private readonly events: DtlsEventId[] = [];
  private clientHellos = 0;
  private serverHellos = 0;
  private version: number | null = null;
  private helloVerify = false;
  private clientCertificate = false;
  private confirmed = false;
  private sessionEmitted = false;
  private gaveUp: [boolean, boolean] = [false, false];

  constructor(ctx: Ctx, limits: DtlsLimits) {
    this.ctx = ctx;
    this.lim = limits;
    this.tlsLimits = { ...defaultTlsLimits, maxExtensionsCount: limits.maxExtensionsCount, maxListCount: limits.maxListCount, maxAlpnCount: limits.maxAlpnCount, maxNameBytes: limits.maxNameBytes, maxCertsCount: limits.maxCertsCount };
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const d = view.bytes;
    const c = this.cur.reset(d);
    while (c.remaining > 0 && !this.gaveUp[dir]) {
      const first = d[c.pos] as number;
      if ((first & 0xe0) === 0x20) {
        // DTLS 1.3 unified header (RFC 9147 §4): encrypted; the rest of the datagram is ciphertext.
        this.markPast(dir, view.streamOffset + c.pos);
        break;
      }
      const recStart = c.pos;
      const type = c.u8();
      const version = c.u16();
      const epoch = c.u16();
      c.skip(6); // sequence_number
      const length = c.u16();
      if (c.err || length > c.remaining) return this.bad('dtls.bad_record', dir, recStart);
      if ((version >>> 8) !== 0xfe) return this.bad('dtls.bad_version', dir, recStart);
      if (++this.records[dir] > this.lim.maxRecordsCount) {
        this.event('dtls.limit.records', dir);
        this.gaveUp[dir] = true;
        break;
      }
      const body = c.view(length);
      if (epoch > 0) {
        this.markPast(dir, view.streamOffset + recStart);
        continue;
      }
      switch (type) {
        case 22: // handshake
          if (!this.handshakeRecord(dir, body, version, view.ts)) return this.bad('dtls.malformed_handshake', dir, recStart);
          break;
        case 20: // change_cipher_spec
          this.ccsSeen[dir] = true;
          break;
        case 21: // alert
          this.event('dtls.alert', dir);
          break;
        case 23: // application data in epoch 0 is not allowed; treat as past the handshake
          this.markPast(dir, view.streamOffset + recStart);
          break;
        default:
          return this.bad('dtls.bad_record', dir, recStart);
      }
    }
    if ((this.past[0] && this.past[1]) || (this.gaveUp[0] && this.gaveUp[1])) {
      this.emitSession();
      return 'done';
    }
    return 'more';
  }

  gap(_dir: Dir, _lostBytes: number): Verdict {
    return 'more';
  }

  end(_dir: Dir): void {
    this.emitSession();
  }

  // ---- handshake -------------------------------------------------------------------------

  /** One handshake record: one or more fragments (RFC 6347 §4.2.2). False when malformed. */
  private handshakeRecord(dir: Dir, rec: Uint8Array, recordVersion: number, ts: number): boolean {
    const c = new Cursor(rec);
    while (c.remaining > 0) {
      const msgType = c.u8();
      const length = c.u24();
      const seq = c.u16();
      const fragOffset = c.u24();
      const fragLength = c.u24();
      if (c.err || fragLength > c.remaining || fragOffset + fragLength > length) return false;
      const frag = c.view(fragLength);
      if (this.doneSeqs[dir].indexOf(seq) >= 0) {
        this.event('dtls.retransmission', dir);
        continue;
      }
      if (length > this.lim.maxHandshakeBytes) {
        this.event('dtls.limit.handshake', dir);
        this.noteMessage(dir, msgType);
        continue;
      }
      const asm = this.assembly(dir, seq, msgType, length);
      if (asm === null) continue;
      if (!asm.add(fragOffset, frag, this.lim.maxFragmentsCount)) {
        this.event('dtls.limit.fragments', dir);
        this.dropAssembly(dir, asm);
        continue;
      }
      if (asm.complete) {
        this.dropAssembly(dir, asm);
        const done = this.doneSeqs[dir];
        if (done.length >= MAX_DONE_SEQS) done.shift();
        done.push(seq);
        this.message(dir, asm.type, asm.seq, asm.body, recordVersion, ts);
      }
    }
    return true;
  }

  private assembly(dir: Dir, seq: number, type: number, length: number): MessageAssembly | null {
    const list = this.pending[dir];
    for (const a of list) {
      if (a.seq !== seq) continue;
      if (a.type !== type || a.length !== length) {
        this.event('dtls.fragment_mismatch', dir);
        return null;
      }
      return a;
    }
    if (list.length >= this.lim.maxPendingMessagesCount) {
      this.event('dtls.limit.pending', dir);
      return null;
    }
    const a = new MessageAssembly(seq, type, length);
    list.push(a);
    return a;
  }

  private dropAssembly(dir: Dir, a: MessageAssembly): void {
    const list = this.pending[dir];
    const i = list.indexOf(a);
    if (i >= 0) list.splice(i, 1);
  }

  private noteMessage(dir: Dir, type: number): void {
    if (this.messages[dir].length < MAX_MESSAGES_LISTED) this.messages[dir].push(type);
  }

  private message(dir: Dir, type: number, seq: number, body: Uint8Array, recordVersion: number, ts: number): void {
    this.noteMessage(dir, type);
    if (type === HandshakeType.ClientHello && dir === Dir.ToServer) {
      const hello = parseDtlsClientHello(body, this.tlsLimits);
      if (typeof hello === 'string') {
        this.event('dtls.malformed_client_hello', dir);
        return;
      }
      this.confirm();
      this.ctx.emit({ kind: 'dtls.client_hello', ts, dir, index: this.clientHellos++, messageSeq: seq, recordVersion, hello });
    } else if (type === HandshakeType.ServerHello && dir === Dir.ToClient) {
      const hello = parseServerHello(body, this.tlsLimits);
      if (typeof hello === 'string') {
        this.event('dtls.malformed_server_hello', dir);
        return;
      }
      this.confirm();
      this.version = hello.selectedVersion ?? hello.legacyVersion;
      this.ctx.emit({ kind: 'dtls.server_hello', ts, dir, index: this.serverHellos++, recordVersion, hello });
    } else if (type === HELLO_VERIFY_REQUEST && dir === Dir.ToClient) {
      this.helloVerify = true;
      this.confirm();
      this.event('dtls.hello_verify_request', dir);
    } else if (type === HandshakeType.Certificate) {
      this.certificate(dir, body, ts);
    }
  }

  /** Certificate (RFC 5246 §7.4.2): certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>. */
  private certificate(dir: Dir, body: Uint8Array, ts: number): void {
    const c = new Cursor(body);
    const total = c.u24();
    if (c.err || total !== c.remaining) {
      this.event('dtls.malformed_certificate', dir);
      return;
    }
    let count = 0;
    let handedOff = 0;
    while (c.remaining > 0) {
      const len = c.u24();
      const der = c.view(len);
      if (c.err) {
        this.event('dtls.malformed_certificate', dir);
        return;
      }
      if (count < this.lim.maxCertsCount) {
        this.ctx.handoff('x509', dir, count, der);
        handedOff++;
      }
      count++;
    }
    if (count > this.lim.maxCertsCount) this.event('dtls.limit.certs', dir);
    if (dir === Dir.ToServer && count > 0) this.clientCertificate = true;
    this.ctx.emit({ kind: 'dtls.certificate', ts, dir, count, handedOff, totalBytes: body.length });
  }

  // ---- helpers ----------------------------------------------------------------------------

  private markPast(dir: Dir, offset: number): void {
    if (this.past[dir]) return;
    this.past[dir] = true;
    this.ctx.payloadStart(dir, offset);
  }

  private confirm(): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.ctx.confirm();
  }

  private bad(id: DtlsEventId, dir: Dir, _at: number): Verdict {
    this.event(id, dir);
    if (!this.confirmed) {
      this.ctx.violation(id);
      return 'abort';
    }
    return 'more'; // drop the rest of this datagram, keep the flow
  }

  private event(id: DtlsEventId, dir: Dir): void {
    if (this.events.indexOf(id) < 0 && this.events.length < 32) this.events.push(id);
    this.ctx.event(id, dir);
  }

  private emitSession(): void {
    if (this.sessionEmitted) return;
    this.sessionEmitted = true;
    this.ctx.emit({
      kind: 'dtls.session',
      ts: this.ctx.now(),
      dir: null,
      version: this.version,
      helloVerifyRequest: this.helloVerify,
      ccsSeen: [this.ccsSeen[0], this.ccsSeen[1]],
      pastHandshake: [this.past[0], this.past[1]],
      clientCertificate: this.clientCertificate,
      messages: [this.messages[0].slice(), this.messages[1].slice()],
      events: this.events.slice(),
    });
  }
}
