/**
 * What TLS puts on the flow record: the `tls` section (also filled by DTLS and QUIC, whose
 * handshakes are TLS's), its ECS fields, its protobuf message (tls.proto) and its features.
 * Building TlsInfo needs JA4 and the certificate-chain checks, which live above the dissectors
 * (src/fingerprint): the runtime provides that step as the TLS_INFO service.
 */
import { appOf, defineSection, serviceKey, type SummaryContext, type AppSections } from '../../src/dissect/api.js';
import { isValidHostName } from '../../src/util/hostname.js';
import type { CertInfo, ChainFeatures } from '../x509/types.js';
import type { TlsSummary } from './types.js';

export interface TlsInfo {
  version: string | null; // negotiated: '1.0' … '1.3'; the offered max when no ServerHello
  sni: string | null;
  alpnOffered: readonly string[];
  nextProtocol: string | null; // ALPN selected by the server
  cipher: string | null; // selected suite, 4 hex digits
  ja4: string | null;
  ja4_r: string | null;
  ja4_o: string | null;
  ja4_ro: string | null;
  ja3: string | null; // md5 hex
  ja3_full: string | null; // the JA3 string
  ja3s: string | null;
  ja4s: string | null; // only when JA4+ is switched on (FoxIO License 1.1)
  ja4x: string[]; // idem
  readonly supportedCiphers: readonly string[]; // offered suites, hex, GREASE removed (shared: copy before changing)
  /** Further ClientHellos in the same flow (HelloRetryRequest), their JA4. */
  extraJa4: string[];
  established: boolean; // both sides went past the handshake
  resumed: boolean;
  clientCertificate: boolean;
  chain: readonly CertInfo[]; // server chain in Certificate-message order (leaf first)
  chainFeatures: ChainFeatures | null;
  /** Post-handshake application-data record sizes (bytes incl. 5-byte header), first few per direction. */
  appRecordSizes: [readonly number[], readonly number[]];
}

/** JA4's transport letter: 't' TLS over TCP, 'q' QUIC, 'd' DTLS. */
export type TlsTransport = 't' | 'q' | 'd';

/** Summary → TlsInfo (JA3/JA4, the server chain from the certificate cache, chain checks). */
export type TlsInfoBuilder = (summary: TlsSummary, transport: TlsTransport, ctx: SummaryContext) => TlsInfo;
export const TLS_INFO = serviceKey<TlsInfoBuilder>('tls.info');

const iso = (ms: number): string => new Date(ms).toISOString();

export const tlsSection = defineSection<TlsInfo>({
  key: 'tls',
  ecs(t, { doc, ndr }) {
    const leaf = t.chain[0] ?? null;
    doc.tls = {
      version: t.version,
      version_protocol: t.version !== null ? 'tls' : null,
      cipher: t.cipher,
      established: t.established,
      resumed: t.resumed,
      next_protocol: t.nextProtocol,
      client: { ja4: t.ja4, ja3: t.ja3, server_name: t.sni, supported_ciphers: t.supportedCiphers },
      server: {
        ja3s: t.ja3s,
        ja4s: t.ja4s,
        hash: leaf ? { sha256: leaf.sha256.toUpperCase() } : null,
        x509: leaf
          ? {
              subject: { distinguished_name: leaf.subject, common_name: leaf.subjectCn !== null ? [leaf.subjectCn] : null },
              issuer: { distinguished_name: leaf.issuer, common_name: leaf.issuerCn !== null ? [leaf.issuerCn] : null },
              serial_number: leaf.serial.toUpperCase(),
              not_before: iso(leaf.notBefore),
              not_after: iso(leaf.notAfter),
              alternative_names: leaf.san,
              public_key_algorithm: leaf.keyType,
              public_key_size: leaf.keyBits,
              public_key_curve: leaf.curve,
              signature_algorithm: leaf.signatureAlgorithm,
            }
          : null,
        certificate_chain: t.chain.map((c) => c.sha256),
      },
    };
    const cf = t.chainFeatures;
    ndr.tls = {
      // Present (true) only when the client sent a server_name that is not a host name.
      sni_invalid: t.sni !== null && !isValidHostName(t.sni) ? true : null,
      ja4_r: t.ja4_r,
      ja4_o: t.ja4_o,
      ja4_ro: t.ja4_ro,
      ja3_string: t.ja3_full,
      ja4x: t.ja4x,
      extra_ja4: t.extraJa4,
      alpn_offered: t.alpnOffered,
      client_certificate: t.clientCertificate || null,
      chain: cf
        ? {
            length: cf.length,
            leaf_self_signed: cf.leafSelfSigned,
            sni_in_san: cf.sniInSan,
            expired: cf.expired,
            not_yet_valid: cf.notYetValid,
            linked: cf.linked,
            trusted_root: cf.trustedRoot,
            anomalies: cf.anomalies,
            certificates: t.chain.map((c) => ({ sha256: c.sha256, subject: c.subject, issuer: c.issuer, key_type: c.keyType, key_bits: c.keyBits, not_after: iso(c.notAfter), self_signed: c.selfSigned })),
          }
        : null,
      app_record_sizes: t.appRecordSizes[0].length + t.appRecordSizes[1].length > 0 ? { to_server: t.appRecordSizes[0], to_client: t.appRecordSizes[1] } : null,
    };
  },
  destinationDomain: (t) => t.sni,
  proto: {
    type: 'ndr.v1.Tls',
    ecs: {
      version: 'tls.version',
      sni: 'tls.client.server_name',
      alpnOffered: 'ndr.tls.alpn_offered',
      nextProtocol: 'tls.next_protocol',
      cipher: 'tls.cipher',
      ja4: 'tls.client.ja4',
      ja3: 'tls.client.ja3',
      ja3s: 'tls.server.ja3s',
      established: 'tls.established',
      resumed: 'tls.resumed',
      'chain.length': 'ndr.tls.chain.length',
      'chain.leafSelfSigned': 'ndr.tls.chain.leaf_self_signed',
      'chain.sniInSan': 'ndr.tls.chain.sni_in_san',
      'chain.expired': 'ndr.tls.chain.expired',
      'chain.trustedRoot': 'ndr.tls.chain.trusted_root',
      'chain.anomalies': 'ndr.tls.chain.anomalies',
      'chain.leafSubject': 'tls.server.x509.subject.distinguished_name',
      'chain.leafIssuer': 'tls.server.x509.issuer.distinguished_name',
      'chain.leafSha256': 'ndr.tls.chain.certificates.0.sha256',
    },
    toProto(t) {
      const out: Record<string, unknown> = {
        version: t.version ?? '',
        sni: t.sni ?? '',
        alpnOffered: t.alpnOffered.slice(),
        nextProtocol: t.nextProtocol ?? '',
        cipher: t.cipher ?? '',
        ja4: t.ja4 ?? '',
        ja3: t.ja3 ?? '',
        ja3s: t.ja3s ?? '',
        established: t.established,
        resumed: t.resumed,
      };
      const c = t.chainFeatures;
      if (c) {
        const leaf = t.chain[0];
        const chain: Record<string, unknown> = {
          length: c.length,
          leafSelfSigned: c.leafSelfSigned,
          expired: c.expired,
          trustedRoot: c.trustedRoot,
          anomalies: c.anomalies,
          leafSubject: leaf?.subject ?? '',
          leafIssuer: leaf?.issuer ?? '',
          leafSha256: leaf?.sha256 ?? '',
        };
        if (c.sniInSan !== null) chain.sniInSan = c.sniInSan;
        out.chain = chain;
      }
      return out;
    },
  },
  features: () => ({ encryptedBy: 'tls' }),
});

/** The flow's TLS section, or null. */
export function tlsOf(rec: { readonly apps: AppSections }): TlsInfo | null {
  return appOf(rec, tlsSection);
}
