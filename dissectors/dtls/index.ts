/**
 * DTLS dissector registration (transport 'udp'). DTLS 1.0/1.2 (RFC 4347/6347) and the plaintext
 * hellos of DTLS 1.3 (RFC 9147): ClientHello → JA4 with transport letter 'd'.
 */
import { defineDissector, Dir, type ProbeResult } from '../../src/contract/api.js';
import { dtlsEvents, type DtlsEventId } from './events.js';
import { DtlsDissector, HANDSHAKE_HEADER_BYTES, isDtlsVersion, RECORD_HEADER_BYTES } from './state.js';
import type { TlsClientHello, TlsServerHello } from '../tls/types.js';
import { TLS_INFO, tlsSection } from '../tls/record.js';
import { defaultDtlsLimits, type DtlsLimits, type DtlsRecord, type DtlsSummary } from './types.js';

/** Probe: a handshake record of epoch 0 with a DTLS version, carrying a ClientHello fragment. */
function probeDtls(b: Uint8Array, dir: Dir): ProbeResult {
  if (b.length < 3) return 'unsure';
  if (b[0] !== 22 || b[1] !== 0xfe) return 'no';
  if (!isDtlsVersion(((b[1] as number) << 8) | (b[2] as number))) return 'no';
  if (b.length < RECORD_HEADER_BYTES + HANDSHAKE_HEADER_BYTES) return 'unsure';
  if (b[3] !== 0 || b[4] !== 0) return 'no'; // epoch 0
  if (b[RECORD_HEADER_BYTES] !== 1 || dir !== Dir.ToServer) return 'no';
  return 'yes';
}

export const dtlsDissector = defineDissector<DtlsLimits, DtlsRecord, DtlsEventId, DtlsSummary>({
  name: 'dtls',
  apiVersion: 1,
  transport: 'udp',
  probe: {
    ports: [443, 4433, 5684, 5349, 3478, 4740, 6514],
    prefixes: [[22, 0xfe]],
    minBytes: 3,
    maxBytes: 1500,
    probe: probeDtls,
    // a handshake record; a short one is 'unsure' from either end, so the server's counts too
    leads: [[22], [22]],
  },
  defaultLimits: defaultDtlsLimits,
  events: dtlsEvents,
  create: (ctx, limits) => new DtlsDissector(ctx, limits),
  summarize(records): DtlsSummary {
    const clientHellos: TlsClientHello[] = [];
    const serverHellos: TlsServerHello[] = [];
    let version: number | null = null;
    let serverCertCount: number | null = null;
    let clientCertCount: number | null = null;
    let established = false;
    let helloVerifyRequest = false;
    for (const r of records) {
      if (r.kind === 'dtls.client_hello') clientHellos.push(r.hello);
      else if (r.kind === 'dtls.server_hello') serverHellos.push(r.hello);
      else if (r.kind === 'dtls.certificate') {
        if (r.dir === Dir.ToClient && serverCertCount === null) serverCertCount = r.count;
        if (r.dir === Dir.ToServer && clientCertCount === null) clientCertCount = r.count;
      } else {
        version = r.version;
        established = r.pastHandshake[0] && r.pastHandshake[1];
        helloVerifyRequest = r.helloVerifyRequest;
      }
    }
    const first = clientHellos[0];
    return {
      clientHellos,
      serverHellos,
      serverCertCount,
      clientCertCount,
      alerts: [],
      version,
      established,
      resumed: false,
      clientCertificate: clientCertCount !== null && clientCertCount > 0,
      appRecordSizes: [[], []],
      transport: 'd',
      sni: first === undefined ? null : first.sni,
      helloVerifyRequest,
    };
  },
  sections: [tlsSection],
  toRecord(s, out, ctx) {
    out.set(tlsSection, ctx.service(TLS_INFO)(s, 'd', ctx));
    out.protocol('dtls');
  },
});

export type { DtlsClientHelloRecord, DtlsServerHelloRecord, DtlsCertificateRecord, DtlsSessionRecord, DtlsSummary, DtlsLimits } from './types.js';
