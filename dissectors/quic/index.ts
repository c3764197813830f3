/**
 * QUIC dissector registration (transport 'udp': one datagram per feed). Decrypts Initial packets
 * of QUIC v1 (RFC 9000/9001) and v2 (RFC 9369) to reach the ClientHello and ServerHello, for
 * JA4/JA4S with transport letter 'q'.
 */
import { defineDissector, Dir, type ProbeResult } from '../../src/contract/api.js';
import { quicEvents, type QuicEventId } from './events.js';
import { initialTypeBits } from './header.js';
import { isKnownVersion } from './initial-keys.js';
import type { TlsClientHello, TlsServerHello } from '../tls/types.js';
import { TLS_INFO, tlsSection } from '../tls/record.js';
import { quicSection } from './record.js';
import { QuicDissector } from './state.js';
import { defaultQuicLimits, quicVersionName, type QuicLimits, type QuicRecord, type QuicSummary } from './types.js';

/** First bytes of a client Initial: form bit, fixed bit, type bits, any protected low nibble. */
const INITIAL_FIRST_BYTES: readonly (readonly number[])[] = Array.from({ length: 0xdf - 0xc0 + 1 }, (_, i) => [0xc0 + i]);

/**
 * Probe: long header + fixed bit + a version whose Initial keys we know + that version's Initial
 * type bits, sent by the client, with DCID length ≥ 8 (RFC 9000 §7.2) and ≤ 20.
 */
function probeQuic(b: Uint8Array, dir: Dir): ProbeResult {
  if (b.length < 6) return 'unsure';
  const first = b[0] as number;
  if ((first & 0xc0) !== 0xc0) return 'no';
  const version = (((b[1] as number) << 24) | ((b[2] as number) << 16) | ((b[3] as number) << 8) | (b[4] as number)) >>> 0;
  if (!isKnownVersion(version)) return 'no';
  if (((first >> 4) & 0x03) !== initialTypeBits(version)) return 'no';
  if (dir !== Dir.ToServer) return 'no';
  const dcidLen = b[5] as number;
  if (dcidLen < 8 || dcidLen > 20) return 'no';
  return 'yes';
}

export const quicDissector = defineDissector<QuicLimits, QuicRecord, QuicEventId, QuicSummary>({
  name: 'quic',
  apiVersion: 1,
  transport: 'udp',
  probe: {
    ports: [443, 8443, 4433],
    prefixes: INITIAL_FIRST_BYTES,
    minBytes: 6,
    maxBytes: 1500,
    probe: probeQuic,
    // a client's long header with the fixed bit; a server's Initial is not probed for
    leads: [Array.from({ length: 0x40 }, (_, i) => 0xc0 + i), []],
  },
  defaultLimits: defaultQuicLimits,
  events: quicEvents,
  create: (ctx, limits) => new QuicDissector(ctx, limits),
  summarize(records): QuicSummary {
    const clientHellos: TlsClientHello[] = [];
    const serverHellos: TlsServerHello[] = [];
    let quicVersion: number | null = null;
    let retry = false;
    for (const r of records) {
      if (r.kind === 'quic.client_hello') {
        clientHellos.push(r.hello);
        if (quicVersion === null) quicVersion = r.version;
      } else if (r.kind === 'quic.server_hello') {
        serverHellos.push(r.hello);
      } else {
        if (r.version !== null && r.version !== 0) quicVersion = r.version;
        retry = r.retry;
      }
    }
    const first = clientHellos[0];
    const sh = serverHellos[0];
    return {
      clientHellos,
      serverHellos,
      serverCertCount: null,
      clientCertCount: null,
      alerts: [],
      version: sh === undefined ? null : sh.selectedVersion ?? sh.legacyVersion,
      established: sh !== undefined,
      resumed: first !== undefined && first.extensions.indexOf(0x0029) >= 0 && sh !== undefined && sh.extensions.indexOf(0x0029) >= 0,
      clientCertificate: false,
      appRecordSizes: [[], []],
      transport: 'q',
      quicVersion,
      quicVersionName: quicVersionName(quicVersion),
      sni: first === undefined ? null : first.sni,
      retry,
    };
  },
  sections: [tlsSection, quicSection],
  toRecord(s, out, ctx) {
    out.set(tlsSection, ctx.service(TLS_INFO)(s, 'q', ctx));
    out.set(quicSection, { version: s.quicVersionName });
  },
});

export type { QuicClientHelloRecord, QuicServerHelloRecord, QuicSessionRecord, QuicSummary, QuicLimits } from './types.js';
