/**
 * Pure ServerHello / HelloRetryRequest parser (RFC 8446 §4.1.3, §4.1.4; RFC 5246 §7.4.1.3).
 * Input: the handshake BODY of exactly one message.
 */
import { Cursor } from '../../src/util/cursor.js';
import { copyBytes, latin1Bounded } from '../../src/util/bytes.js';
import type { TlsEventId } from './events.js';
import { ExtType, type TlsLimits, type TlsParseOptions, type TlsServerHello } from './types.js';

/** SHA-256("HelloRetryRequest"), the HRR random (RFC 8446 §4.1.3). */
const HRR_RANDOM = [
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
] as const;

function addEvent(events: TlsEventId[], id: TlsEventId): void {
  if (events.indexOf(id) < 0) events.push(id);
}

export function parseServerHello(body: Uint8Array, limits: TlsLimits, _opts?: TlsParseOptions): TlsServerHello | TlsEventId {
  const c = new Cursor(body);
  const legacyVersion = c.u16();
  const randomAt = c.pos;
  c.skip(32);
  if (c.err) return 'tls.malformed_server_hello';
  let hrr = true;
  for (let i = 0; i < 32; i++) {
    if (body[randomAt + i] !== HRR_RANDOM[i]) {
      hrr = false;
      break;
    }
  }
  const sessionIdLength = c.u8();
  if (sessionIdLength > 32) return 'tls.malformed_server_hello';
  c.skip(sessionIdLength);
  const cipherSuite = c.u16();
  const compressionMethod = c.u8();
  if (c.err) return 'tls.malformed_server_hello';
  const events: TlsEventId[] = [];
  const extensions: number[] = [];
  let selectedVersion: number | null = null;
  let alpnRaw: Uint8Array | null = null;
  let alpn: string | null = null;
  let keyShareGroup: number | null = null;
  if (c.remaining > 0) {
    const extBytes = c.u16();
    if (c.err || extBytes !== c.remaining) return 'tls.malformed_server_hello';
    const e = new Cursor(body);
    while (c.remaining > 0) {
      const type = c.u16();
      const len = c.u16();
      if (c.err || len > c.remaining) return 'tls.malformed_server_hello';
      const start = c.pos;
      c.skip(len);
      if (extensions.length >= limits.maxExtensionsCount) {
        addEvent(events, 'tls.limit.extensions');
        continue;
      }
      if (extensions.indexOf(type) >= 0) addEvent(events, 'tls.duplicate_extension');
      extensions.push(type);
      e.reset(body, start, start + len);
      if (type === ExtType.SupportedVersions) {
        const v = e.u16(); // ServerHello form: selected_version (RFC 8446 §4.2.1)
        if (e.err || e.remaining !== 0) addEvent(events, 'tls.malformed_extension');
        else selectedVersion = v;
      } else if (type === ExtType.Alpn) {
        // exactly one ProtocolName in the server's list (RFC 7301 §3.1)
        const listLen = e.u16();
        const n = e.u8();
        const v = e.view(n);
        if (e.err || listLen !== n + 1 || e.remaining !== 0) addEvent(events, 'tls.malformed_extension');
        else {
          const kept = v.length > limits.maxNameBytes ? v.subarray(0, limits.maxNameBytes) : v;
          if (kept !== v) addEvent(events, 'tls.limit.name');
          alpnRaw = copyBytes(kept);
          alpn = latin1Bounded(kept, limits.maxNameBytes);
        }
      } else if (type === ExtType.KeyShare) {
        const g = e.u16(); // ServerHello: KeyShareEntry; HRR: selected_group only
        if (e.err) addEvent(events, 'tls.malformed_extension');
        else keyShareGroup = g;
      }
    }
    if (c.err) return 'tls.malformed_server_hello';
  }
  return {
    legacyVersion,
    selectedVersion,
    helloRetryRequest: hrr,
    sessionIdLength,
    cipherSuite,
    compressionMethod,
    extensions,
    alpnRaw,
    alpn,
    keyShareGroup,
    bodyBytes: body.length,
    events,
  };
}
