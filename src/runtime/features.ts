/**
 * What the runtime gives the protocols and the record when a flow ends: the services the
 * protocols' toRecord ask for (dissectors/<name>/record.ts names them), the classifiers that read
 * a whole record (pub/sub inside TLS, non-TLS encrypted channels, JA4T), and the X.509 parser
 * behind the certificate cache.
 */
import type { CertCache } from '../dissect/cert-cache.js';
import type { Flow } from '../flow/flow.js';
import type { Services } from '../flow/finalize.js';
import type { FlowRecord } from '../flow/record.js';
import { DEFAULT_BROKER_SNI_SUFFIXES, classifyPubSub } from '../fingerprint/pubsub.js';
import { classifyEncrypted } from '../fingerprint/encrypted.js';
import { parseCertificate } from '../../dissectors/x509/index.js';
import { defaultX509Limits } from '../../dissectors/x509/types.js';
import { buildTrustStore, type TrustStore } from '../fingerprint/trust.js';
import { fingerprintServices, type CertSource } from '../fingerprint/tls-info.js';
import { tcpPrints } from '../fingerprint/ja4t.js';

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
    t = extra.length === 0 ? lazyTrustStore() : buildTrustStore({ extraPemFiles: [...extra] });
    trustStores.set(key, t);
  }
  return t;
}

/**
 * Node's bundled roots alone, parsed on the first chain check instead of before the first packet:
 * a capture without certificates never needs them. Configured roots are still read at once, so an
 * unreadable file stays a start-up error.
 */
function lazyTrustStore(): TrustStore {
  let store: TrustStore | undefined;
  const get = (): TrustStore => (store ??= buildTrustStore());
  return {
    get roots() { return get().roots; },
    get bySubject() { return get().bySubject; },
    get bySha256() { return get().bySha256; },
  };
}

/** The services the protocols may ask for at summary time, by ServiceKey name. */
export function buildServices(certs: CertCache, opts: FeatureOptions): Services {
  const trust = trustFor(opts.extraRoots ?? []);
  return new Map(fingerprintServices(certs as unknown as CertSource, { ja4Plus: opts.ja4Plus === true, trust }));
}

export function buildPostStages(opts: FeatureOptions): ((rec: FlowRecord, f: Flow) => void)[] {
  const cfg = { brokerSniSuffixes: opts.brokerSniSuffixes ?? [...DEFAULT_BROKER_SNI_SUFFIXES] };
  const stages: ((rec: FlowRecord, f: Flow) => void)[] = [];
  if (opts.ja4Plus === true) stages.push((rec, f) => tcpPrints(rec, f.syn));
  stages.push(
    (rec) => { rec.pubsub = classifyPubSub(rec, cfg); },
    (rec, f) => { rec.encrypted = classifyEncrypted(rec, [f.toServer.head, f.toClient.head]); },
  );
  return stages;
}
