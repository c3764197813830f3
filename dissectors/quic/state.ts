/**
 * QuicDissector: one UDP datagram per feed. Walks the coalesced long-header packets of each
 * datagram (RFC 9000 §12.2), decrypts Initial packets with keys derived from the client's
 * original Destination Connection ID (RFC 9001 §5.2), reassembles each direction's CRYPTO stream
 * and parses the ClientHello / ServerHello with the TLS dissector's pure parsers.
 */
import { Dir, type DissectorContext, type FlowDissector, type StreamView, type Verdict } from '../../src/contract/api.js';
import { Cursor } from '../../src/util/cursor.js';
import { hex } from '../../src/util/bytes.js';
import { parseClientHello } from '../tls/client-hello.js';
import { parseServerHello } from '../tls/server-hello.js';
import { defaultTlsLimits, HandshakeType, type TlsLimits } from '../tls/types.js';
import { CryptoAdd, CryptoStream } from './crypto-stream.js';
import type { QuicEventId } from './events.js';
import { FrameResult, walkFrames, type FrameSink } from './frames.js';
import { decodePacketNumber, HeaderError, LongType, newLongHeader, parseLongHeader, type LongHeader } from './header.js';
import { deriveInitialKeys, headerProtectionMask, isKnownVersion, openPayload, type InitialKeys, type PacketKeys } from './initial-keys.js';
import type { QuicLimits, QuicRecord } from './types.js';

type Ctx = DissectorContext<QuicRecord, QuicEventId>;

const HANDSHAKE_HEADER_BYTES = 4; // msg_type(1) + length(3), RFC 8446 §4

export class QuicDissector implements FlowDissector {
  private readonly ctx: Ctx;
  private readonly lim: QuicLimits;
  private readonly tlsLimits: TlsLimits;
  private readonly hdr: LongHeader = newLongHeader();
  private readonly cur = new Cursor(new Uint8Array(0));
  private readonly crypto: [CryptoStream, CryptoStream];
  private readonly largestPn: [number, number] = [-1, -1];
  private readonly helloDone: [boolean, boolean] = [false, false];
  private readonly initialPackets: [number, number] = [0, 0];
  private readonly decryptedPackets: [number, number] = [0, 0];
  private readonly shortPackets: [number, number] = [0, 0];
  private readonly limitHit: [boolean, boolean] = [false, false];
  private readonly events: QuicEventId[] = [];
  /** Key sets derived so far (bounded by maxKeySetsCount). */
  private readonly keySets: InitialKeys[] = [];
  /** The connection id Initial keys come from: the client's first DCID, or a Retry's SCID. */
  private originalCid: Uint8Array | null = null;
  private clientScid = '';
  private serverScid = '';
  private version: number | null = null;
  private serverVersion: number | null = null;
  private retry = false;
  private versionNegotiation = false;
  private clientHellos = 0;
  private serverHellos = 0;
  private sessionEmitted = false;
  private confirmed = false;
  private frameTs = 0;
  private frameDir: Dir = Dir.ToServer;
  private readonly sink: FrameSink;

  constructor(ctx: Ctx, limits: QuicLimits) {
    this.ctx = ctx;
    this.lim = limits;
    this.tlsLimits = {
      ...defaultTlsLimits,
      maxExtensionsCount: limits.maxExtensionsCount,
      maxListCount: limits.maxListCount,
      maxAlpnCount: limits.maxAlpnCount,
      maxNameBytes: limits.maxNameBytes,
    };
    this.crypto = [new CryptoStream(limits.maxCryptoBytes, limits.maxCryptoRangesCount), new CryptoStream(limits.maxCryptoBytes, limits.maxCryptoRangesCount)];
    this.sink = {
      crypto: (offset, data) => this.onCrypto(offset, data),
      connectionClose: () => this.event('quic.connection_close', this.frameDir),
    };
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const d = view.bytes;
    let off = 0;
    while (off < d.length) {
      const first = d[off] as number;
      if ((first & 0x80) === 0) {
        // Short header (RFC 9000 §17.3): 1-RTT data, no length field, ends the datagram.
        if (off === 0 && this.initialPackets[0] + this.initialPackets[1] === 0) {
          return this.reject('quic.bad_header', dir);
        }
        if (off > 0 && (first & 0x40) === 0) {
          this.event('quic.trailing_bytes', dir); // e.g. zero padding after coalesced packets
          break;
        }
        if (this.shortPackets[dir]++ === 0) this.ctx.payloadStart(dir, view.streamOffset + off);
        off = d.length;
        break;
      }
      const err = parseLongHeader(d, off, this.hdr, this.cur);
      if (err !== 0) {
        const id: QuicEventId = err === HeaderError.FixedBit ? 'quic.bad_fixed_bit' : err === HeaderError.CidTooLong ? 'quic.cid_too_long' : err === HeaderError.BadLength ? 'quic.bad_length' : 'quic.bad_header';
        if (off > 0 && this.allZero(d, off)) this.event('quic.trailing_bytes', dir);
        else if (off === 0 && !this.confirmed) return this.reject(id, dir);
        else this.event(id, dir);
        break;
      }
      const h = this.hdr;
      if (this.version === null) this.version = h.version;
      if (h.version === 0) {
        this.versionNegotiation = true;
        this.event('quic.version_negotiation', dir);
        break;
      }
      if (!isKnownVersion(h.version)) {
        if (!this.confirmed && off === 0) return this.reject('quic.unknown_version', dir);
        this.event('quic.unknown_version', dir);
        break;
      }
      if (dir === Dir.ToClient && this.serverVersion === null && h.type !== LongType.Retry) this.serverVersion = h.version;
      if (h.type === LongType.Retry) {
        // RFC 9000 §17.2.5: the client's next Initial uses the Retry's SCID as DCID, and keys
        // are derived from it (RFC 9001 §5.2).
        this.retry = true;
        this.event('quic.retry', dir);
        this.originalCid = Uint8Array.from(h.scid);
        this.largestPn[0] = -1;
        this.largestPn[1] = -1;
        break;
      }
      if (h.type === LongType.Initial) this.onInitial(dir, d, view.ts);
      off = h.end;
    }
    return this.verdict(dir);
  }

  gap(_dir: Dir, _lostBytes: number): Verdict {
    return 'more'; // datagrams are independent; nothing to resync
  }

  end(_dir: Dir): void {
    this.emitSession();
  }

  // ---- Initial packets ------------------------------------------------------------------

  private onInitial(dir: Dir, d: Uint8Array, ts: number): void {
    const h = this.hdr;
    if (this.helloDone[dir] || this.limitHit[dir]) return;
    if (++this.initialPackets[dir] > this.lim.maxInitialPacketsCount) {
      this.limitHit[dir] = true;
      this.event('quic.limit.initial_packets', dir);
      return;
    }
    if (dir === Dir.ToServer) {
      if (this.originalCid === null) this.originalCid = Uint8Array.from(h.dcid);
      if (this.clientScid === '') this.clientScid = hex(h.scid);
    } else {
      if (this.originalCid === null) {
        this.event('quic.no_client_initial', dir);
        return;
      }
      if (this.serverScid === '') this.serverScid = hex(h.scid);
    }
    let plain = this.decrypt(dir, d, this.keysFor(h.version, this.originalCid));
    if (plain === null && dir === Dir.ToServer && !sameBytes(h.dcid, this.originalCid)) {
      // A Retry we did not see, or a new connection on the same 5-tuple: try this packet's DCID.
      const alt = this.keysFor(h.version, h.dcid);
      plain = this.decrypt(dir, d, alt);
      if (plain !== null) this.originalCid = Uint8Array.from(h.dcid);
    }
    if (plain === null) {
      this.event('quic.decrypt_failed', dir);
      return;
    }
    this.decryptedPackets[dir]++;
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
    this.frameDir = dir;
    this.frameTs = ts;
    const r = walkFrames(plain, this.sink, this.lim.maxFramesCount);
    if (r === FrameResult.TooMany) this.event('quic.limit.frames', dir);
    else if (r !== FrameResult.Ok) this.event('quic.bad_frame', dir);
    this.tryHello(dir, h.version);
  }

  private keysFor(version: number, cid: Uint8Array): InitialKeys | null {
    for (const k of this.keySets) if (k.version === version && sameBytes(k.cid, cid)) return k;
    if (!isKnownVersion(version)) return null;
    const k = deriveInitialKeys(version, cid);
    if (this.keySets.length >= this.lim.maxKeySetsCount) this.keySets.shift();
    this.keySets.push(k);
    return k;
  }

  /** Remove header protection (RFC 9001 §5.4.1) and open the payload (§5.3). */
  private decrypt(dir: Dir, d: Uint8Array, keys: InitialKeys | null): Uint8Array | null {
    if (keys === null) return null;
    const h = this.hdr;
    const pk: PacketKeys = dir === Dir.ToServer ? keys.client : keys.server;
    const sample = d.subarray(h.pnOffset + 4, h.pnOffset + 20);
    const mask = headerProtectionMask(pk.hp, sample);
    const first = h.firstByte ^ ((mask[0] as number) & 0x0f); // long header: 4 bits (§5.4.1)
    const pnLen = (first & 0x03) + 1;
    const hdrStart = h.start;
    const aad = new Uint8Array(h.pnOffset + pnLen - hdrStart);
    aad.set(d.subarray(hdrStart, h.pnOffset + pnLen));
    aad[0] = first;
    let truncated = 0;
    for (let i = 0; i < pnLen; i++) {
      const at = h.pnOffset - hdrStart + i;
      const b = (aad[at] as number) ^ (mask[1 + i] as number);
      aad[at] = b;
      truncated = truncated * 256 + b;
    }
    const pn = decodePacketNumber(this.largestPn[dir], truncated, pnLen * 8);
    const plain = openPayload(pk, pn, aad, d.subarray(h.pnOffset + pnLen, h.end));
    if (plain !== null && pn > this.largestPn[dir]) this.largestPn[dir] = pn;
    return plain;
  }

  private onCrypto(offset: number, data: Uint8Array): void {
    const dir = this.frameDir;
    if (this.helloDone[dir]) return;
    const r = this.crypto[dir].add(offset, data);
    if (r === CryptoAdd.Limit) this.event('quic.limit.crypto', dir);
    else if (r === CryptoAdd.Conflict) this.event('quic.crypto_conflict', dir);
    else if (r === CryptoAdd.TooManyRanges) this.event('quic.limit.crypto_ranges', dir);
  }

  /** When the first handshake message of a direction is complete, parse it (RFC 9001 §4.1.3). */
  private tryHello(dir: Dir, version: number): void {
    const cs = this.crypto[dir];
    const have = cs.contiguous;
    if (have < HANDSHAKE_HEADER_BYTES || this.helloDone[dir]) return;
    const head = cs.view(0, HANDSHAKE_HEADER_BYTES);
    const type = head[0] as number;
    const len = ((head[1] as number) << 16) | ((head[2] as number) << 8) | (head[3] as number);
    const want = dir === Dir.ToServer ? HandshakeType.ClientHello : HandshakeType.ServerHello;
    if (type !== want) {
      this.helloDone[dir] = true;
      this.event(dir === Dir.ToServer ? 'quic.not_client_hello' : 'quic.not_server_hello', dir);
      return;
    }
    if (HANDSHAKE_HEADER_BYTES + len > this.lim.maxCryptoBytes) {
      this.helloDone[dir] = true;
      this.event('quic.limit.crypto', dir);
      return;
    }
    if (have < HANDSHAKE_HEADER_BYTES + len) return; // wait for more CRYPTO data
    this.helloDone[dir] = true;
    const body = cs.view(HANDSHAKE_HEADER_BYTES, HANDSHAKE_HEADER_BYTES + len);
    const ts = this.frameTs;
    if (dir === Dir.ToServer) {
      const hello = parseClientHello(body, this.tlsLimits);
      if (typeof hello === 'string') {
        this.event('quic.malformed_client_hello', dir);
        return;
      }
      this.ctx.emit({ kind: 'quic.client_hello', ts, dir, index: this.clientHellos++, version, dcid: hex(this.originalCid ?? new Uint8Array(0)), scid: this.clientScid, hello });
    } else {
      const hello = parseServerHello(body, this.tlsLimits);
      if (typeof hello === 'string') {
        this.event('quic.malformed_server_hello', dir);
        return;
      }
      this.ctx.emit({ kind: 'quic.server_hello', ts, dir, index: this.serverHellos++, version, scid: this.serverScid, hello });
    }
  }

  // ---- helpers ----------------------------------------------------------------------------

  private verdict(dir: Dir): Verdict {
    if (this.helloDone[0] && this.helloDone[1]) {
      this.emitSession();
      return 'done';
    }
    if (this.limitHit[dir] && (this.helloDone[1 - dir] || this.limitHit[1 - dir])) {
      this.emitSession();
      return 'done';
    }
    return 'more';
  }

  private reject(id: QuicEventId, dir: Dir): Verdict {
    this.event(id, dir);
    if (!this.confirmed) {
      this.ctx.violation(id);
      return 'abort';
    }
    return 'more';
  }

  private allZero(d: Uint8Array, from: number): boolean {
    for (let i = from; i < d.length; i++) if (d[i] !== 0) return false;
    return true;
  }

  private event(id: QuicEventId, dir: Dir): void {
    if (this.events.indexOf(id) < 0 && this.events.length < 32) this.events.push(id);
    this.ctx.event(id, dir);
  }

  private emitSession(): void {
    if (this.sessionEmitted) return;
    this.sessionEmitted = true;
    this.ctx.emit({
      kind: 'quic.session',
      ts: this.ctx.now(),
      dir: null,
      version: this.version,
      serverVersion: this.serverVersion,
      retry: this.retry,
      versionNegotiation: this.versionNegotiation,
      initialPackets: [this.initialPackets[0], this.initialPackets[1]],
      decryptedPackets: [this.decryptedPackets[0], this.decryptedPackets[1]],
      shortPackets: [this.shortPackets[0], this.shortPackets[1]],
      events: this.events.slice(),
    });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
