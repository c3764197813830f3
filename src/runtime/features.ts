/**
 * Glue between dissector summaries and the FlowRecord: per-dissector mappers, the classifiers
 * that read a whole record (pub/sub inside TLS, non-TLS encrypted channels, DNS naming), and the
 * X.509 parser behind the certificate cache.
 */
import type { CertCache } from '../dissect/cert-cache.js';
import type { Flow } from '../flow/flow.js';
import type { AppMapper } from '../flow/finalize.js';
import type { FlowRecord } from '../flow/record.js';
import type { HttpSummary } from '../../dissectors/http/types.js';
import type { SshSummary } from '../../dissectors/ssh/types.js';
import { DEFAULT_BROKER_SNI_SUFFIXES, classifyPubSub } from '../fingerprint/pubsub.js';
import { classifyEncrypted } from '../fingerprint/encrypted.js';
import { parseCertificate } from '../../dissectors/x509/index.js';
import { defaultX509Limits } from '../../dissectors/x509/types.js';
import { buildTrustStore, type TrustStore } from '../fingerprint/trust.js';
import { tlsInfoFromCache, type CertSource } from '../fingerprint/tls-info.js';
import { ja4t, ja4ts } from '../fingerprint/ja4t.js';
import type { TlsSummary } from '../../dissectors/tls/types.js';
import type { QuicSummary } from '../../dissectors/quic/types.js';
import { starttlsNames, type SessionSummary } from '../../dissectors/starttls/index.js';

export interface FeatureOptions {
  /** JA4S, JA4X, JA4T/JA4TS (FoxIO License 1.1): off unless switched on. */
  ja4Plus?: boolean;
  /** Extra trusted roots (PEM file paths) besides Node's bundled roots. */
  extraRoots?: string[];
  /** SNI suffixes of known pub/sub brokers. */
  brokerSniSuffixes?: string[];
}

export function parseCertForCache(der: Uint8Array): unknown {
  return parseCertificate(der, defaultX509Limits);
}

/** Cache: a trust store is built once per process for each set of configured roots (Node's bundled roots + those). */
const trustStores = new Map<string, TrustStore>();
function trustFor(extra: readonly string[]): TrustStore {
  const key = extra.join('\n');
  let t = trustStores.get(key);
  if (t === undefined) {
    t = buildTrustStore({ extraPemFiles: [...extra] });
    trustStores.set(key, t);
  }
  return t;
}

export function buildAppMappers(certs: CertCache, opts: FeatureOptions): Map<string, AppMapper> {
  const m = new Map<string, AppMapper>();
  const trust = trustFor(opts.extraRoots ?? []);
  const ja4Plus = opts.ja4Plus === true;
  const tls = (transport: 't' | 'q' | 'd'): AppMapper => (s, rec, f) => {
    rec.tls = tlsInfoFromCache(s as TlsSummary, f.toClient.certs, certs as unknown as CertSource, { ja4Plus, trust, flowTs: rec.startTs, transport });
    const sizes = rec.tls.appRecordSizes;
    if (sizes[0].length + sizes[1].length === 0) rec.tls.appRecordSizes = [f.toServer.appSizes ?? [], f.toClient.appSizes ?? []];
    if (ja4Plus && transport === 't') {
      const so = f.syn;
      if (so !== null && so.opts !== null) rec.ja4t = ja4t(so.win, so.opts);
      if (so !== null && so.ackOpts !== null) rec.ja4ts = ja4ts(so.ackWin, so.ackOpts);
    }
  };
  m.set('tls', tls('t'));
  m.set('dtls', (s, rec, f) => { tls('d')(s, rec, f); rec.protocol = 'dtls'; });
  m.set('quic', (s, rec, f) => {
    tls('q')(s, rec, f);
    rec.quic = { version: (s as QuicSummary).quicVersionName };
  });
  m.set('mqtt', (s, rec) => { rec.mqtt = s as FlowRecord['mqtt']; });
  m.set('amqp', (s, rec) => { rec.amqp = s as FlowRecord['amqp']; });
  m.set('http', (s, rec) => {
    const h = s as HttpSummary;
    rec.http = {
      method: h.method, uri: h.uri, host: h.host, userAgent: h.userAgent, statusCode: h.statusCode, requests: h.requests,
      pathEntropy: h.pathEntropy, hostEntropy: h.hostEntropy, upgrade: h.upgrade, wsProtocol: h.wsProtocol,
    };
  });
  const dns: AppMapper = (s, rec) => { rec.dns = s as FlowRecord['dns']; rec.protocol = 'dns'; };
  m.set('dns', dns);
  m.set('dns-tcp', dns);
  m.set('ssh', (s, rec) => {
    const x = s as SshSummary;
    rec.ssh = { clientBanner: x.clientBanner, serverBanner: x.serverBanner };
  });
  for (const name of starttlsNames) m.set(name, (s, rec) => { rec.session = { protocol: name, ...(s as SessionSummary) }; });
  return m;
}

export function buildPostStages(opts: FeatureOptions): ((rec: FlowRecord, f: Flow) => void)[] {
  const cfg = { brokerSniSuffixes: opts.brokerSniSuffixes ?? [...DEFAULT_BROKER_SNI_SUFFIXES] };
  return [
    (rec) => { rec.pubsub = classifyPubSub(rec, cfg); },
    (rec, f) => { rec.encrypted = classifyEncrypted(rec, [f.toServer.head, f.toClient.head]); },
  ];
}
