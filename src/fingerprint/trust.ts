/**
 * Trust store for chain features: Node's bundled roots (tls.rootCertificates) plus configured
 * extra PEM files (enterprise roots). Roots are parsed once with node:crypto X509Certificate and
 * with the project's own X.509 parser, so subject strings compare with CertInfo.issuer exactly.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseCertificate } from '../../dissectors/x509/certificate.js';
import { defaultX509Limits } from '../../dissectors/x509/types.js';
import { x509Sha256 } from './hash.js';
import { lazyRequire } from '../util/lazy-require.js';

/** node:tls, for its bundled roots, loads at the first chain check: with node:net it is a measurable part of a start. */
const tls = lazyRequire<typeof import('node:tls')>('node:tls');

export interface TrustRoot {
  readonly subject: string;
  readonly subjectKeyId: string | null;
  readonly sha256: string;
  readonly cert: X509Certificate;
}

export interface TrustStore {
  readonly roots: readonly TrustRoot[];
  readonly bySubject: ReadonlyMap<string, readonly TrustRoot[]>;
  readonly bySha256: ReadonlySet<string>;
}

export interface TrustOptions {
  /** Include Node's bundled Mozilla roots (default true). */
  readonly nodeRoots?: boolean;
  /** PEM files with extra roots. Read at startup; an unreadable file throws (config error). */
  readonly extraPemFiles?: readonly string[];
  /** PEM text with extra roots (tests). */
  readonly extraPem?: readonly string[];
  /** Where the build's index of Node's roots is (default: beside this module; tests). */
  readonly rootIndexFile?: URL | string;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function splitPem(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/**
 * A root whose node:crypto object is made on first signature check. Node's bundled roots are
 * about 140 certificates, and making all of their X509Certificate objects took longer than the
 * rest of a short replay's start; a chain is checked against one or two of them by subject.
 */
class LazyRoot implements TrustRoot {
  readonly subject: string;
  readonly subjectKeyId: string | null;
  readonly sha256: string;
  private readonly der: Uint8Array | string;
  private x: X509Certificate | undefined;
  /** der: the certificate, or its PEM text when it came from the prebuilt index. */
  constructor(subject: string, subjectKeyId: string | null, sha256: string, der: Uint8Array | string) {
    this.subject = subject;
    this.subjectKeyId = subjectKeyId;
    this.sha256 = sha256;
    this.der = der;
  }
  get cert(): X509Certificate {
    this.x ??= new X509Certificate(this.der);
    return this.x;
  }
}

/** The DER of one PEM certificate block (base64 between the armour lines). */
function pemToDer(pem: string): Uint8Array {
  const body = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

export function buildTrustStore(opts: TrustOptions = {}): TrustStore {
  const roots: TrustRoot[] = [];
  const bySubject = new Map<string, TrustRoot[]>();
  const bySha256 = new Set<string>();
  const add = (root: TrustRoot): void => {
    roots.push(root);
    bySha256.add(root.sha256);
    const list = bySubject.get(root.subject);
    if (list) list.push(root);
    else bySubject.set(root.subject, [root]);
  };
  // Node's bundled roots are known to parse with node:crypto, so their objects wait for first use.
  // The build writes their subjects and hashes next to the bundle (scripts/build.mjs), so a run
  // on the same Node does not parse 140 certificates again; any other Node parses them here.
  const prebuilt = opts.nodeRoots !== false ? readRootIndex(opts.rootIndexFile) : null;
  if (prebuilt !== null) {
    for (const [i, subject, skid, sha256] of prebuilt) add(new LazyRoot(subject, skid, sha256, tls().rootCertificates[i]!));
  } else if (opts.nodeRoots !== false) {
    for (const pem of tls().rootCertificates) {
      const der = pemToDer(pem);
      const rec = parseCertificate(der, defaultX509Limits);
      if (typeof rec === 'string') continue;
      add(new LazyRoot(rec.subject, rec.subjectKeyId, x509Sha256(der), der));
    }
  }
  // Configured roots are parsed by node:crypto at once, so a broken one is skipped here rather
  // than failing a signature check later.
  const pems: string[] = [];
  for (const f of opts.extraPemFiles ?? []) pems.push(...splitPem(readFileSync(f, 'utf8')));
  for (const t of opts.extraPem ?? []) pems.push(...splitPem(t));
  for (const pem of pems) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      continue; // a broken extra root is skipped, not fatal
    }
    const der = new Uint8Array(cert.raw);
    const rec = parseCertificate(der, defaultX509Limits);
    if (typeof rec === 'string') continue;
    add({ subject: rec.subject, subjectKeyId: rec.subjectKeyId, sha256: x509Sha256(der), cert });
  }
  return { roots, bySubject, bySha256 };
}

/** One of Node's bundled roots as the index holds it: its place in rootCertificates, subject, subject key id, SHA-256. */
export type RootIndexEntry = [number, string, string | null, string];

/** Names the exact set of bundled roots an index was made from (they differ between Node builds). */
export function rootSetKey(): string {
  const h = createHash('sha256');
  for (const pem of tls().rootCertificates) h.update(pem);
  return h.digest('hex');
}

/** What buildTrustStore derives from Node's bundled roots, for the build to write once. */
export function nodeRootIndex(): { key: string; roots: RootIndexEntry[] } {
  const roots: RootIndexEntry[] = [];
  tls().rootCertificates.forEach((pem, i) => {
    const der = pemToDer(pem);
    const rec = parseCertificate(der, defaultX509Limits);
    if (typeof rec !== 'string') roots.push([i, rec.subject, rec.subjectKeyId, x509Sha256(der)]);
  });
  return { key: rootSetKey(), roots };
}

/**
 * The build's index of the bundled roots (dist/node-roots.json beside the chunk), or null when
 * there is none (source runs, tests) or it was made from another root set: then they are parsed.
 */
export function readRootIndex(file: URL | string = new URL('./node-roots.json', import.meta.url)): RootIndexEntry[] | null {
  let idx: { key?: unknown; roots?: unknown };
  try {
    idx = JSON.parse(readFileSync(file, 'utf8')) as typeof idx;
  } catch {
    return null;
  }
  if (idx.key !== rootSetKey() || !Array.isArray(idx.roots)) return null;
  return idx.roots as RootIndexEntry[];
}

/** Cache: the default trust store (Node's bundled roots), built on first use and never changed. */
let defaultStore: TrustStore | null = null;

/** Node's bundled roots only, built once per process. */
export function defaultTrustStore(): TrustStore {
  if (defaultStore === null) defaultStore = buildTrustStore();
  return defaultStore;
}

/**
 * Parsed certificates and signature checks are memoised per DER object and per (child, parent)
 * pair: the engine's certificate cache hands out one DER object per distinct certificate, so a
 * chain seen on thousands of flows is parsed and verified once (weak maps: evicted with the cache).
 */
const x509ByDer = new WeakMap<Uint8Array, X509Certificate | null>();
const issuedMemo = new WeakMap<X509Certificate, Map<X509Certificate, boolean>>();

/** child was signed by parent: names chain and the signature verifies with parent's key. */
export function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  let m = issuedMemo.get(child);
  if (m === undefined) {
    m = new Map();
    issuedMemo.set(child, m);
  }
  let r = m.get(parent);
  if (r === undefined) {
    try {
      r = child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      r = false;
    }
    if (m.size < 64) m.set(parent, r);
  }
  return r;
}

export function toX509(der: Uint8Array | null | undefined): X509Certificate | null {
  if (!der) return null;
  let x = x509ByDer.get(der);
  if (x === undefined) {
    try {
      x = new X509Certificate(der);
    } catch {
      x = null;
    }
    x509ByDer.set(der, x);
  }
  return x;
}

/**
 * Is `cert` (last of a chain) a trust-store root, or issued by one? With the DER the signature is
 * verified; without it, issuer name + authority key id must match a root.
 */
export function endsInTrustedRoot(store: TrustStore, sha256: string, issuer: string, authorityKeyId: string | null, der: Uint8Array | null): boolean {
  if (store.bySha256.has(sha256)) return true;
  const cands = store.bySubject.get(issuer);
  if (!cands) return false;
  const x = toX509(der);
  for (const r of cands) {
    if (authorityKeyId !== null && r.subjectKeyId !== null && authorityKeyId !== r.subjectKeyId) continue;
    if (x === null) return true;
    if (issuedBy(x, r.cert)) return true;
  }
  return false;
}
