/**
 * What TLS puts on the flow record: the `tls` section (also filled by DTLS and QUIC, whose
 * handshakes are TLS's), its ECS fields, its protobuf message (tls.proto) and its features.
 * Building TlsInfo needs JA4 and the certificate-chain checks, which live above the dissectors
 * (src/fingerprint): the runtime provides that step as the TLS_INFO service.
 */
import { appOf, defineSection, serviceKey, type EcsWriter, type SummaryContext, type AppSections } from '../../src/contract/api.js';
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

/** A certificate's own description (ECS x509 fields, under tls.server.x509 or file.x509). */
function writeX509(c: CertInfo, w: EcsWriter): void {
  w.open('subject');
  w.str('distinguished_name', c.subject);
  if (c.subjectCn !== null) w.strs('common_name', [c.subjectCn]);
  w.close();
  w.open('issuer');
  w.str('distinguished_name', c.issuer);
  if (c.issuerCn !== null) w.strs('common_name', [c.issuerCn]);
  w.close();
  w.str('serial_number', c.serial.toUpperCase());
  w.time('not_before', c.notBefore);
  w.time('not_after', c.notAfter);
  w.strs('alternative_names', c.san);
  w.str('public_key_algorithm', c.keyType);
  w.num('public_key_size', c.keyBits);
  w.str('public_key_curve', c.curve);
  w.str('signature_algorithm', c.signatureAlgorithm);
}

/**
 * The lean output's certificate document (one per distinct certificate, output stream and UTC
 * day, as Zeek's x509 log keeps one entry per certificate): keyed by the SHA-256 the flows list in
 * tls.server.certificate_chain. What the full form repeats in every flow (the leaf's x509 fields,
 * each chain certificate's summary) is said here once.
 */
function certificateDocument(c: CertInfo, w: EcsWriter): void {
  w.open('file');
  w.open('hash');
  w.str('sha256', c.sha256);
  w.close();
  w.open('x509');
  writeX509(c, w);
  w.close();
  w.close();
  w.open('ndr');
  w.open('x509');
  w.bool('self_signed', c.selfSigned);
  w.bool('ca', c.isCa);
  w.close();
  w.close();
}

/**
 * The lean output's client-fingerprint document, described once per output stream and UTC day like
 * a certificate: the sorted raw form, fixed by ja4, which stays the same for a client. The wire-order
 * raw form (ja4_ro) is left to the full output: it is fixed only by ja4_o, and a client that
 * shuffles its extensions on every connection (Chrome does) has a new ja4_o each time, so a
 * document per ja4_o would be one more document per browser connection, larger than the inline form.
 */
function ja4Document(t: TlsInfo, w: EcsWriter): void {
  w.open('tls');
  w.open('client');
  w.safe('ja4', t.ja4);
  w.close();
  w.close();
  w.open('ndr');
  w.open('tls');
  w.safe('ja4_r', t.ja4_r);
  w.close();
  w.close();
}

/** Equal lists of strings (or numbers), the same list first. */
function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The same certificates in the same order (a certificate is its SHA-256: every field written comes from its DER). */
function sameChain(a: readonly CertInfo[], b: readonly CertInfo[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if ((a[i] as CertInfo).sha256 !== (b[i] as CertInfo).sha256) return false;
  return true;
}

/** Whether writeDoc writes the same for `b` as it did for `a` (every field it reads). */
function sameDoc(a: TlsInfo, b: TlsInfo, full: boolean): boolean {
  if (a.version !== b.version || a.cipher !== b.cipher || a.established !== b.established || a.resumed !== b.resumed) return false;
  if (a.nextProtocol !== b.nextProtocol || a.ja4 !== b.ja4 || a.sni !== b.sni || a.ja4s !== b.ja4s) return false;
  if (!full) return (a.chain[0]?.sha256 ?? null) === (b.chain[0]?.sha256 ?? null);
  return a.ja3 === b.ja3 && a.ja3s === b.ja3s && sameList(a.supportedCiphers, b.supportedCiphers) && sameChain(a.chain, b.chain);
}

/** Whether writeNdr writes the same for `b` as it did for `a` (every field it reads). */
function sameNdr(a: TlsInfo, b: TlsInfo, full: boolean): boolean {
  if (a.sni !== b.sni || a.clientCertificate !== b.clientCertificate) return false;
  if (!sameList(a.ja4x, b.ja4x) || !sameList(a.extraJa4, b.extraJa4) || !sameList(a.alpnOffered, b.alpnOffered)) return false;
  const ca = a.chainFeatures;
  const cb = b.chainFeatures;
  if (ca !== cb) {
    if (ca === null || cb === null || ca.length !== cb.length || !sameList(ca.anomalies, cb.anomalies)) return false;
    if (full && (ca.leafSelfSigned !== cb.leafSelfSigned || ca.sniInSan !== cb.sniInSan || ca.expired !== cb.expired || ca.notYetValid !== cb.notYetValid || ca.linked !== cb.linked || ca.trustedRoot !== cb.trustedRoot)) return false;
  }
  if (!full) return true;
  return a.ja4_r === b.ja4_r && a.ja4_o === b.ja4_o && a.ja4_ro === b.ja4_ro && a.ja3_full === b.ja3_full && sameChain(a.chain, b.chain)
    && sameList(a.appRecordSizes[0], b.appRecordSizes[0]) && sameList(a.appRecordSizes[1], b.appRecordSizes[1]);
}

/**
 * What sameDoc and sameNdr read of `t`, copied (lists too) for the kept part: a kept part must
 * keep describing the record that made it even if that record's lists were changed after.
 */
function snapshot(t: TlsInfo): TlsInfo {
  const cf = t.chainFeatures;
  return {
    ...t,
    alpnOffered: [...t.alpnOffered], supportedCiphers: [...t.supportedCiphers], ja4x: [...t.ja4x], extraJa4: [...t.extraJa4], chain: [...t.chain],
    chainFeatures: cf === null ? null : { ...cf, anomalies: [...cf.anomalies] },
    appRecordSizes: [[...t.appRecordSizes[0]], [...t.appRecordSizes[1]]],
  };
}

/**
 * The TLS part of the document: the same for every connection of one client stack to one server
 * (one certificate), so the JSON writer keeps its bytes under the server name (a server sees a
 * few client stacks, a client stack many servers) and copies them for the next record sameDoc
 * accepts, rather than writing a dozen fields again.
 */
function tlsDoc(t: TlsInfo, w: EcsWriter): void {
  const memo = w.memo;
  if (memo === undefined) {
    writeDoc(t, w);
    return;
  }
  memo.part('tls.doc', t.sni ?? t.ja4 ?? '', t, sameDoc, snapshot, writeDoc);
}

/** The TLS part inside ndr: kept and copied as tlsDoc's is (sameNdr). */
function tlsNdr(t: TlsInfo, w: EcsWriter): void {
  const memo = w.memo;
  // full writes the first application records' sizes, which differ from flow to flow
  if (memo === undefined || (w.full && t.appRecordSizes[0].length + t.appRecordSizes[1].length > 0)) {
    writeNdr(t, w);
    return;
  }
  memo.part('tls.ndr', t.sni ?? t.ja4 ?? '', t, sameNdr, snapshot, writeNdr);
}

function writeDoc(t: TlsInfo, w: EcsWriter): void {
  const leaf = t.chain[0] ?? null;
  w.open('tls');
  w.str('version', t.version);
  if (t.version !== null) w.str('version_protocol', 'tls');
  w.safe('cipher', t.cipher);
  w.bool('established', t.established);
  w.bool('resumed', t.resumed);
  w.str('next_protocol', t.nextProtocol);
  w.open('client');
  w.safe('ja4', t.ja4);
  // lean: JA4 names the client (and, unlike JA3, the same one when it shuffles its
  // extensions); JA3 and JA3S are kept for matching older threat lists in full
  if (w.full) w.safe('ja3', t.ja3);
  w.str('server_name', t.sni);
  // the offered suites are in JA4's raw forms (ndr.tls.ja4_r, ja4_ro) already
  if (w.full) w.strs('supported_ciphers', t.supportedCiphers);
  w.close();
  w.open('server');
  if (w.full) w.safe('ja3s', t.ja3s);
  w.safe('ja4s', t.ja4s);
  if (leaf !== null) {
    w.open('hash');
    // lean: as the leaf's ndr.x509 document keys it (file.hash.sha256, lower case), so a SIEM
    // joins the two on equal keywords; full keeps the upper case it has always written
    w.safe('sha256', w.full ? leaf.sha256.toUpperCase() : leaf.sha256);
    w.close();
    if (w.full) {
      w.open('x509');
      writeX509(leaf, w);
      w.close();
    }
  }
  // lean: the leaf's hash leads to its ndr.x509 document, whose issuer names the next one's
  // subject (ndr.tls.chain.anomalies says broken_chain when the presented chain does not link
  // that way), so the list of hashes is left to full
  if (w.full && t.chain.length > 0) w.strs('certificate_chain', t.chain.map((c) => c.sha256));
  w.close();
  w.close();
}

function writeNdr(t: TlsInfo, w: EcsWriter): void {
  const cf = t.chainFeatures;
  w.open('tls');
  // Present (true) only when the client sent a server_name that is not a host name.
  if (t.sni !== null && !isValidHostName(t.sni)) w.bool('sni_invalid', true);
  // lean: ja4 is the key of the ndr.ja4 document holding the sorted raw form (the offered
  // lists again); the wire-order forms are full only, since a client shuffling its extensions
  // (Chrome) has a new ja4_o on every connection and any other has one per ja4
  if (w.full) {
    w.safe('ja4_r', t.ja4_r);
    w.safe('ja4_o', t.ja4_o);
    w.safe('ja4_ro', t.ja4_ro);
  }
  // JA3's string repeats the offered suites and extensions the JA4 raw forms carry
  if (w.full) w.str('ja3_string', t.ja3_full);
  w.strs('ja4x', t.ja4x);
  w.strs('extra_ja4', t.extraJa4);
  w.strs('alpn_offered', t.alpnOffered);
  if (t.clientCertificate) w.bool('client_certificate', true);
  if (cf) {
    w.open('chain');
    w.num('length', cf.length);
    // lean: anomalies names every check that failed (the leaf's own self_signed is in its
    // ndr.x509 document), so the checks one by one are full only
    if (w.full) {
      w.bool('leaf_self_signed', cf.leafSelfSigned);
      w.bool('sni_in_san', cf.sniInSan);
      w.bool('expired', cf.expired);
      w.bool('not_yet_valid', cf.notYetValid);
      w.bool('linked', cf.linked);
      w.bool('trusted_root', cf.trustedRoot);
    }
    w.strs('anomalies', cf.anomalies);
    if (w.full) w.val('certificates', t.chain.map((c) => ({ sha256: c.sha256, subject: c.subject, issuer: c.issuer, key_type: c.keyType, key_bits: c.keyBits, not_after: new Date(c.notAfter).toISOString(), self_signed: c.selfSigned })));
    w.close();
  }
  const sz = t.appRecordSizes;
  // the first application records' sizes feed the analytics (read on the record); full only
  if (w.full && sz[0].length + sz[1].length > 0) {
    w.open('app_record_sizes');
    w.nums('to_server', sz[0]);
    w.nums('to_client', sz[1]);
    w.close();
  }
  w.close();
}

export const tlsSection = defineSection<TlsInfo>({
  key: 'tls',
  write: {
    doc: tlsDoc,
    ndr: tlsNdr,
    refs(t, out) {
      if (t.ja4 !== null && t.ja4_r !== null) out.ref('ja4', t.ja4, t, ja4Document);
      for (const c of t.chain) out.ref('x509', c.sha256, c, certificateDocument);
    },
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
