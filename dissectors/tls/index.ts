/**
 * TLS stream dissector registration (STYLE.md §6.2). Probe: a handshake record header
 * `16 03 00..04` carrying ClientHello/ServerHello, or an SSLv2-compatible CLIENT-HELLO.
 */
import { defineDissector, type Dir, type ProbeResult } from '../../src/contract/api.js';
import { type TlsEventId, tlsEvents } from './events.js';
import { clientTunnel, Tunnel } from './preamble.js';
import { TlsDissector } from './state.js';
import { probeTlsMidstream } from './midstream.js';
import { TLS_INFO, tlsSection } from './record.js';
import { defaultTlsLimits, type TlsClientHello, type TlsLimits, type TlsRecord, type TlsServerHello, type TlsSummary } from './types.js';

export { parseClientHello, parseDtlsClientHello, parseSslv2ClientHello } from './client-hello.js';
export { parseServerHello } from './server-hello.js';
export { isGrease } from './extensions.js';
export type { TlsClientHello, TlsLimits, TlsRecord, TlsServerHello, TlsSummary } from './types.js';
export { defaultTlsLimits } from './types.js';

/** Pure, allocation-free probe on the first bytes of either direction. */
export function probeTls(b: Uint8Array, dir: Dir): ProbeResult {
  if (b.length === 0) return 'unsure';
  const b0 = b[0] as number;
  if (b0 === 0x16) {
    if (b.length < 3) return b.length < 2 || b[1] === 3 ? 'unsure' : 'no';
    if (b[1] !== 3 || (b[2] as number) > 4) return 'no';
    if (b.length < 6) return 'unsure';
    const len = ((b[3] as number) << 8) | (b[4] as number);
    if (len < 4 || len > 16384 + 2048) return 'no';
    const hsType = b[5] as number;
    // a client starts with ClientHello (1); a server-first capture may start at ServerHello (2)
    if (hsType !== 1 && hsType !== 2) return 'no';
    if (b.length < 9) return 'unsure';
    const hsLen = ((b[6] as number) << 16) | ((b[7] as number) << 8) | (b[8] as number);
    // An oversized claim is still TLS (the record header already matched): the dissector raises
    // tls.limit.handshake for it rather than the flow going unrecognised.
    return hsLen >= 38 ? 'yes' : 'no';
  }
  if (dir === 0 && (b0 === 0x43 || b0 === 0x04 || b0 === 0x05)) {
    // TLS behind a proxy preamble on the same stream (preamble.ts): HTTP CONNECT, SOCKS4, SOCKS5
    if (b.length < 8) return 'unsure';
    const t = clientTunnel(b);
    if (t === Tunnel.None) return 'no';
    if (t === Tunnel.Socks5 && b.length < 2 + (b[1] as number)) return 'unsure';
    return 'yes';
  }
  if ((b0 & 0x80) !== 0 && dir === 0) {
    // SSLv2-compatible CLIENT-HELLO (RFC 5246 E.2): 2-byte length, msg_type 1, version 2.0 or 3.x
    if (b.length < 5) return 'unsure';
    if (b[2] !== 1) return 'no';
    const major = b[3] as number;
    if (major === 3 && (b[4] as number) <= 4) return 'yes';
    if (major === 0 && b[4] === 2) return 'yes';
    return 'no';
  }
  return 'no';
}

export function summarizeTls(records: readonly TlsRecord[]): TlsSummary {
  const clientHellos: TlsClientHello[] = [];
  const serverHellos: TlsServerHello[] = [];
  const alerts: { dir: Dir; level: number; description: number }[] = [];
  let serverCertCount: number | null = null;
  let clientCertCount: number | null = null;
  let version: number | null = null;
  let established = false;
  let resumed = false;
  let clientCertificate = false;
  let appRecordSizes: [readonly number[], readonly number[]] = [[], []];
  for (const r of records) {
    switch (r.kind) {
      case 'tls.client_hello':
        clientHellos.push(r.hello);
        break;
      case 'tls.server_hello':
        serverHellos.push(r.hello);
        if (!r.hello.helloRetryRequest && version === null) version = r.hello.selectedVersion ?? r.hello.legacyVersion;
        break;
      case 'tls.certificate':
        if (r.dir === 1 && serverCertCount === null) serverCertCount = r.count;
        if (r.dir === 0 && clientCertCount === null) clientCertCount = r.count;
        break;
      case 'tls.alert':
        alerts.push({ dir: r.dir, level: r.level, description: r.description });
        break;
      case 'tls.session':
        if (r.version !== null) version = r.version;
        established = r.pastHandshake[0] && r.pastHandshake[1];
        resumed = r.resumed;
        clientCertificate = r.clientCertificate;
        appRecordSizes = [r.appRecordSizes[0], r.appRecordSizes[1]];
        break;
    }
  }
  return { clientHellos, serverHellos, serverCertCount, clientCertCount, alerts, version, established, resumed, clientCertificate, appRecordSizes };
}

export const tlsDissector = defineDissector<TlsLimits, TlsRecord, TlsEventId, TlsSummary>({
  name: 'tls',
  apiVersion: 1,
  transport: 'tcp',
  probe: {
    // TLS ports, plus proxy ports where TLS follows an HTTP CONNECT / SOCKS preamble (preamble.ts)
    ports: [443, 8443, 8883, 5671, 993, 995, 465, 636, 853, 5061, 989, 990, 992, 994, 8884, 10443, 4443, 3269, 6697, 8080, 3128, 1080],
    prefixes: [
      [0x16, 0x03, 0x00],
      [0x16, 0x03, 0x01],
      [0x16, 0x03, 0x02],
      [0x16, 0x03, 0x03],
      [0x16, 0x03, 0x04],
      [0x80],
      [0x81],
      [0x43, 0x4f, 0x4e, 0x4e, 0x45, 0x43, 0x54, 0x20], // "CONNECT " (TLS through an HTTP proxy)
      [0x05], // SOCKS5 greeting
      [0x04, 0x01], // SOCKS4 CONNECT
    ],
    minBytes: 5,
    maxBytes: 64,
    probe: probeTls,
    // a handshake record either way; from the client also a proxy preamble or an SSLv2 hello
    leads: [[0x16, 0x43, 0x04, 0x05, ...Array.from({ length: 0x80 }, (_, i) => 0x80 + i)], [0x16]],
    midstream: probeTlsMidstream,
  },
  defaultLimits: defaultTlsLimits,
  events: tlsEvents,
  create: (ctx, limits) => new TlsDissector(ctx, limits),
  summarize: summarizeTls,
  sections: [tlsSection],
  toRecord: (s, out, ctx) => out.set(tlsSection, ctx.service(TLS_INFO)(s, 't', ctx)),
});

export default tlsDissector;
