/**
 * Pure ClientHello parser (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2, RFC 6347 §4.2.1 for DTLS).
 * Input: the handshake BODY (after the 4-byte msg_type/length header), exactly one message.
 * Output: an owned TlsClientHello, or the event id of why it is malformed.
 * Allocates once per message (the record and its lists); no regex, no template strings.
 */
import { Cursor } from '../../src/util/cursor.js';
import type { TlsEventId } from './events.js';
import { EXT_LIMIT, EXT_MALFORMED, EXT_OK, type ExtResult, type KeyShareOut, type NameOut, readAlpn, readKeyShareClient, readServerName, readU16Vector, readU8Vector } from './extensions.js';
import { ListScratch, NO_VALUES, keepAlpn, knownAlpn, sharedList } from './shared.js';
import { ExtType, type TlsClientHello, type TlsLimits, type TlsParseOptions } from './types.js';

function addEvent(events: TlsEventId[], id: TlsEventId): void {
  if (events.indexOf(id) < 0) events.push(id);
}

function extResult(events: TlsEventId[], r: ExtResult, limitId: TlsEventId): void {
  if (r === EXT_MALFORMED) addEvent(events, 'tls.malformed_extension');
  else if (r === EXT_LIMIT) addEvent(events, limitId);
}

/** Reusable buffers for the lists being read (the parser runs to completion, one hello at a time). */
const extTypes = new ListScratch();
const vec = new ListScratch();
const NO_NAMES: readonly Uint8Array[] = Object.freeze([]);
const NO_STRINGS: readonly string[] = Object.freeze([]);

function hasValue(s: ListScratch, v: number): boolean {
  const vals = s.vals;
  for (let i = 0; i < s.length; i++) if (vals[i] === v) return true;
  return false;
}

export function parseClientHello(body: Uint8Array, limits: TlsLimits, opts?: TlsParseOptions): TlsClientHello | TlsEventId {
  const c = new Cursor(body);
  const legacyVersion = c.u16();
  c.skip(32); // random
  const sessionIdLength = c.u8();
  if (sessionIdLength > 32) return 'tls.malformed_client_hello';
  c.skip(sessionIdLength);
  let cookieLength: number | null = null;
  if (opts?.dtls === true) {
    cookieLength = c.u8(); // cookie<0..2^8-1>
    c.skip(cookieLength);
  }
  const cipherBytes = c.u16();
  if (c.err || (cipherBytes & 1) !== 0 || cipherBytes > c.remaining) return 'tls.malformed_client_hello';
  const events: TlsEventId[] = [];
  const cipherCount = cipherBytes >>> 1;
  vec.length = 0;
  for (let i = 0; i < cipherCount; i++) {
    const v = c.u16();
    if (vec.length < limits.maxListCount) vec.push(v);
  }
  const cipherSuites = sharedList(vec);
  if (cipherCount > limits.maxListCount) addEvent(events, 'tls.limit.list');
  const compLen = c.u8();
  if (c.err || compLen > c.remaining) return 'tls.malformed_client_hello';
  vec.length = 0;
  for (let i = 0; i < compLen; i++) vec.push(c.u8());
  const compressionMethods = sharedList(vec);

  extTypes.length = 0;
  let alpnRaw: readonly Uint8Array[] = NO_NAMES;
  let alpn: readonly string[] = NO_STRINGS;
  let supportedVersions: readonly number[] = NO_VALUES;
  let signatureAlgorithms: readonly number[] = NO_VALUES;
  let supportedGroups: readonly number[] = NO_VALUES;
  let ecPointFormats: readonly number[] = NO_VALUES;
  let keyShareGroups: readonly number[] = NO_VALUES;
  let keyShareBytes = 0;
  let sni: string | null = null;
  let echOuter = false;

  // Extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2: "may be absent").
  if (c.remaining > 0) {
    const extBytes = c.u16();
    if (c.err || extBytes !== c.remaining) return 'tls.malformed_client_hello';
    const e = new Cursor(body);
    const nameOut: NameOut = { name: null, truncated: false };
    const ksOut: KeyShareOut = { bytes: 0 };
    let seen = 0;
    while (c.remaining > 0) {
      const type = c.u16();
      const len = c.u16();
      if (c.err || len > c.remaining) return 'tls.malformed_client_hello';
      const start = c.pos;
      c.skip(len);
      seen++;
      if (seen > limits.maxExtensionsCount) {
        addEvent(events, 'tls.limit.extensions');
        continue;
      }
      if (hasValue(extTypes, type)) addEvent(events, 'tls.duplicate_extension');
      extTypes.push(type);
      e.reset(body, start, start + len);
      switch (type) {
        case ExtType.ServerName:
          if (sni === null) {
            extResult(events, readServerName(e, limits.maxNameBytes, nameOut), 'tls.limit.name');
            sni = nameOut.name;
          }
          break;
        case ExtType.Alpn:
          if (alpnRaw.length === 0) {
            const known = knownAlpn(body, start, start + len, limits.maxAlpnCount, limits.maxNameBytes);
            if (known !== null) {
              alpnRaw = known.raw;
              alpn = known.names;
            } else {
              const raw: Uint8Array[] = [];
              const names: string[] = [];
              const r = readAlpn(e, raw, names, limits.maxAlpnCount, limits.maxNameBytes);
              extResult(events, r, 'tls.limit.alpn');
              if (r === EXT_OK && raw.length > 0) keepAlpn(body, start, start + len, raw, names);
              alpnRaw = raw;
              alpn = names;
            }
          }
          break;
        case ExtType.SupportedVersions:
          if (supportedVersions.length === 0) {
            vec.length = 0;
            extResult(events, readU16Vector(e, 1, vec, limits.maxListCount), 'tls.limit.list');
            supportedVersions = sharedList(vec);
          }
          break;
        case ExtType.SignatureAlgorithms:
          if (signatureAlgorithms.length === 0) {
            vec.length = 0;
            extResult(events, readU16Vector(e, 2, vec, limits.maxListCount), 'tls.limit.list');
            signatureAlgorithms = sharedList(vec);
          }
          break;
        case ExtType.SupportedGroups:
          if (supportedGroups.length === 0) {
            vec.length = 0;
            extResult(events, readU16Vector(e, 2, vec, limits.maxListCount), 'tls.limit.list');
            supportedGroups = sharedList(vec);
          }
          break;
        case ExtType.EcPointFormats:
          if (ecPointFormats.length === 0) {
            vec.length = 0;
            extResult(events, readU8Vector(e, vec, limits.maxListCount), 'tls.limit.list');
            ecPointFormats = sharedList(vec);
          }
          break;
        case ExtType.KeyShare:
          if (keyShareGroups.length === 0) {
            vec.length = 0;
            extResult(events, readKeyShareClient(e, vec, limits.maxListCount, ksOut), 'tls.limit.list');
            keyShareGroups = sharedList(vec);
            keyShareBytes = ksOut.bytes;
          }
          break;
        case ExtType.EncryptedClientHello:
          // ECHClientHello.type: 0 = outer (RFC draft-ietf-tls-esni §5); inner never travels in clear.
          echOuter = len === 0 ? true : e.u8() === 0;
          break;
        default:
          break;
      }
    }
    if (c.err) return 'tls.malformed_client_hello';
  }
  const extensions = sharedList(extTypes);
  return {
    form: 'tls',
    legacyVersion,
    sessionIdLength,
    cookieLength,
    cipherSuites,
    compressionMethods,
    extensions,
    sni,
    alpnRaw,
    alpn,
    supportedVersions,
    signatureAlgorithms,
    supportedGroups,
    ecPointFormats,
    keyShareGroups,
    keyShareBytes,
    echOuter,
    bodyBytes: body.length,
    events,
  };
}

/** DTLS form: same as parseClientHello(body, limits, { dtls: true }). */
export function parseDtlsClientHello(body: Uint8Array, limits: TlsLimits): TlsClientHello | TlsEventId {
  return parseClientHello(body, limits, DTLS_OPTS);
}
const DTLS_OPTS: TlsParseOptions = { dtls: true };

/**
 * SSLv2-compatible CLIENT-HELLO (RFC 5246 appendix E.2). Input starts at msg_type (after the
 * 2-byte record length). Cipher specs are 3 bytes; those with a zero first byte are TLS suites.
 */
export function parseSslv2ClientHello(msg: Uint8Array, limits: TlsLimits): TlsClientHello | TlsEventId {
  const c = new Cursor(msg);
  const type = c.u8();
  const version = c.u16();
  const specLen = c.u16();
  const sidLen = c.u16();
  const chalLen = c.u16();
  if (c.err || type !== 1 || specLen % 3 !== 0 || specLen + sidLen + chalLen !== c.remaining) return 'tls.malformed_sslv2';
  const events: TlsEventId[] = [];
  const cipherSuites: number[] = [];
  for (let i = 0; i < specLen; i += 3) {
    const hi = c.u8();
    const v = c.u16();
    if (hi !== 0) continue;
    if (cipherSuites.length < limits.maxListCount) cipherSuites.push(v);
    else addEvent(events, 'tls.limit.list');
  }
  return {
    form: 'sslv2',
    legacyVersion: version,
    sessionIdLength: sidLen,
    cookieLength: null,
    cipherSuites,
    compressionMethods: [0],
    extensions: [],
    sni: null,
    alpnRaw: [],
    alpn: [],
    supportedVersions: [],
    signatureAlgorithms: [],
    supportedGroups: [],
    ecPointFormats: [],
    keyShareGroups: [],
    keyShareBytes: 0,
    echOuter: false,
    bodyBytes: msg.length,
    events,
  };
}
