/**
 * TlsSummary (dissectors/tls) + server chain → TlsInfo of the FlowRecord. JA4, JA3/JA3S always;
 * JA4S and JA4X only when JA4+ is switched on (FoxIO License 1.1, off by default).
 */
import { hex4 } from '../util/bytes.js';
import { Dir } from '../contract/api.js';
import type { TlsSummary } from '../../dissectors/tls/types.js';
import { TLS_INFO, type TlsInfo, type TlsInfoBuilder } from '../../dissectors/tls/record.js';
import type { CertInfo, X509Record } from '../../dissectors/x509/types.js';
import { type ChainCert, certInfoFromX509, chainFeatures } from './chain.js';
import { clientPrints, serverJa3s } from './client-prints.js';
import { ja4, type Ja4Options, type Ja4Transport, offeredVersion } from './ja4.js';
import { ja4s } from './ja4s.js';
import { ja4x } from './ja4x.js';
import type { TrustStore } from './trust.js';

export interface TlsInfoOptions {
  /** JA4S/JA4X (FoxIO License 1.1). Default off. */
  readonly ja4Plus: boolean;
  readonly trust: TrustStore;
  /** Flow time (epoch ms) for validity checks. */
  readonly flowTs: number;
  /** JA4 transport letter: 't' TLS over TCP (default), 'q' QUIC, 'd' DTLS. */
  readonly transport?: Ja4Transport;
  /** Parsed server certificates (same order as certs) for JA4X and AKI-based trust checks. */
  readonly x509?: readonly (X509Record | null)[];
  /** Server certificate DERs (same order as certs) for signature checks. */
  readonly ders?: readonly (Uint8Array | null)[];
  readonly ja4Options?: Ja4Options;
}

/** '1.0' … '1.3' for TLS; 'ssl3' / 'ssl2'; 'dtls1.0' / 'dtls1.2' / 'dtls1.3'; hex otherwise. */
export function versionName(v: number): string {
  switch (v) {
    case 0x0304: return '1.3';
    case 0x0303: return '1.2';
    case 0x0302: return '1.1';
    case 0x0301: return '1.0';
    case 0x0300: return 'ssl3';
    case 0x0002: return 'ssl2';
    case 0xfeff: return 'dtls1.0';
    case 0xfefd: return 'dtls1.2';
    case 0xfefc: return 'dtls1.3';
    default: return hex4(v);
  }
}

export function buildTlsInfo(summary: TlsSummary, certs: readonly CertInfo[], opts: TlsInfoOptions): TlsInfo {
  return build(summary, certs, opts, opts.x509, opts.ders);
}

/** The parsed certificates and DERs come apart from the options (no options copy per flow). */
function build(summary: TlsSummary, certs: readonly CertInfo[], opts: Omit<TlsInfoOptions, 'x509' | 'ders'>, x509s: TlsInfoOptions['x509'], ders: TlsInfoOptions['ders']): TlsInfo {
  const transport = opts.transport ?? 't';
  const ch = summary.clientHellos[0] ?? null;
  const sh = summary.serverHellos[0] ?? null;
  let realSh = null;
  for (const s of summary.serverHellos) {
    if (!s.helloRetryRequest) {
      realSh = s;
      break;
    }
  }
  const prints = ch !== null ? clientPrints(ch, transport, opts.ja4Options) : null;
  const extraJa4: string[] = [];
  for (let i = 1; i < summary.clientHellos.length; i++) extraJa4.push(ja4(summary.clientHellos[i] as NonNullable<typeof ch>, transport, opts.ja4Options));
  let version: string | null = null;
  if (summary.version !== null) version = versionName(summary.version);
  else if (ch !== null) version = versionName(offeredVersion(ch));
  const ja4xList: string[] = [];
  if (opts.ja4Plus && x509s) for (const r of x509s) if (r) ja4xList.push(ja4x(r));
  const chain: ChainCert[] = [];
  for (let i = 0; i < certs.length; i++) chain.push({ info: certs[i] as CertInfo, record: x509s?.[i] ?? null, der: ders?.[i] ?? null });
  return {
    version,
    sni: ch?.sni ?? null,
    alpnOffered: ch !== null ? ch.alpn : [], // shared by the hellos with the same ALPN bytes (frozen)
    nextProtocol: realSh?.alpn ?? null,
    cipher: realSh !== null ? hex4(realSh.cipherSuite) : null,
    ja4: prints?.ja4 ?? null,
    ja4_r: prints?.ja4_r ?? null,
    ja4_o: prints?.ja4_o ?? null,
    ja4_ro: prints?.ja4_ro ?? null,
    ja3: prints?.ja3 ?? null,
    ja3_full: prints?.ja3_full ?? null,
    ja3s: sh !== null ? serverJa3s(sh) : null,
    ja4s: opts.ja4Plus && sh !== null ? ja4s(sh, transport).ja4s : null,
    ja4x: ja4xList,
    supportedCiphers: prints !== null ? prints.supportedCiphers : [], // shared by the flows of one hello shape
    extraJa4,
    established: summary.established,
    resumed: summary.resumed,
    clientCertificate: summary.clientCertificate,
    chain: certs, // built for this flow by the caller
    chainFeatures: certs.length > 0 ? chainFeatures(chain, ch?.sni ?? null, opts.flowTs, opts.trust) : null,
    appRecordSizes: [summary.appRecordSizes[0], summary.appRecordSizes[1]], // the session record's, not shared
  };
}

/** What tlsInfoFromCache needs of the engine's certificate cache (src/dissect/cert-cache.ts). */
export interface CertSource {
  get(sha: string): unknown;
  der(sha: string): Uint8Array | null;
}

function isX509Record(v: unknown): v is X509Record {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'x509.certificate';
}

/**
 * One-call mapper for the engine: summary + the server certificate SHA-256s the flow handed off
 * (Certificate-message order) + the cache → TlsInfo. Certificates the cache lost or could not
 * parse are left out of the chain.
 */
export function tlsInfoFromCache(summary: TlsSummary, serverShas: readonly string[] | null, cache: CertSource, opts: Omit<TlsInfoOptions, 'x509' | 'ders'>): TlsInfo {
  const certs: CertInfo[] = [];
  const x509: X509Record[] = [];
  const ders: (Uint8Array | null)[] = [];
  for (const sha of serverShas ?? []) {
    const rec = cache.get(sha);
    if (!isX509Record(rec)) continue;
    const der = cache.der(sha);
    certs.push(certInfoFromX509(rec, sha, der));
    x509.push(rec);
    ders.push(der);
  }
  return build(summary, certs, opts, x509, ders);
}

/**
 * The TLS_INFO service (dissectors/tls/record.ts) over the engine's certificate cache: the
 * server chain is what the flow handed off towards the client; a summary without application
 * record sizes of its own takes the ones the engine measured after the handshake.
 */
export function tlsInfoService(cache: CertSource, opts: { ja4Plus: boolean; trust: TrustStore }): TlsInfoBuilder {
  return (summary, transport, ctx) => {
    const info = tlsInfoFromCache(summary, ctx.handedOff('x509', Dir.ToClient), cache, { ja4Plus: opts.ja4Plus, trust: opts.trust, flowTs: ctx.flow.startTs, transport });
    const sizes = info.appRecordSizes;
    if (sizes[0].length + sizes[1].length === 0) info.appRecordSizes = [ctx.appSizes(Dir.ToServer), ctx.appSizes(Dir.ToClient)];
    return info;
  };
}

/** The fingerprint layer's services for the protocols, as [ServiceKey name, implementation]. */
export function fingerprintServices(cache: CertSource, opts: { ja4Plus: boolean; trust: TrustStore }): [string, unknown][] {
  return [[TLS_INFO.service, tlsInfoService(cache, opts)]];
}
