/**
 * The engine's certificate cache behind ctx.handoff('x509', …): DER bytes are keyed by SHA-256
 * (computed once per distinct certificate thanks to a cheap pre-check on length and sampled
 * bytes), copied once, and parsed lazily on first use by the parser given at construction.
 * Bounded LRU (default 10,000 certificates).
 */
import { createHash } from 'node:crypto';
import { MapFront } from '../util/map-front.js';

interface Entry<T> {
  sha: string;
  der: Uint8Array;
  /** The same bytes as a Buffer, so a lookup compares without wrapping them per call. */
  buf: Buffer;
  parsed: T | undefined;
}

export class CertCache<T = unknown> {
  private readonly bySha = new Map<string, Entry<T>>();
  private readonly front = new MapFront(this.bySha);
  /** Quick key (length + sampled bytes) → entries with that key. */
  private readonly byQuick = new Map<number, Entry<T>[]>();
  hits = 0;
  misses = 0;
  /** Certificates dropped by the size bound. */
  evictions = 0;
  private readonly parse: (der: Uint8Array) => T;
  private readonly maxEntries: number;
  constructor(parse: (der: Uint8Array) => T, maxEntries = 10_000) {
    this.parse = parse;
    this.maxEntries = maxEntries;
  }

  /** Store (or find) a certificate; returns its SHA-256 hex. `der` may be a transient view. */
  put(der: Uint8Array): string {
    const q = quickKey(der);
    const bucket = this.byQuick.get(q);
    if (bucket !== undefined) {
      for (const e of bucket) {
        if (e.der.length === der.length && e.buf.equals(der)) {
          this.hits++;
          return e.sha;
        }
      }
    }
    this.misses++;
    const sha = createHash('sha256').update(der).digest('hex');
    const copy = new Uint8Array(der.length);
    copy.set(der);
    const e: Entry<T> = { sha, der: copy, buf: Buffer.from(copy.buffer, copy.byteOffset, copy.length), parsed: undefined };
    if (this.bySha.size >= this.maxEntries) this.evictOne();
    this.bySha.set(sha, e);
    if (bucket !== undefined) bucket.push(e);
    else this.byQuick.set(q, [e]);
    return sha;
  }

  /** Parsed certificate for a SHA-256 put() returned, or null when it was evicted. */
  get(sha: string): T | null {
    const e = this.bySha.get(sha);
    if (e === undefined) return null;
    if (e.parsed === undefined) e.parsed = this.parse(e.der);
    return e.parsed;
  }

  der(sha: string): Uint8Array | null {
    return this.bySha.get(sha)?.der ?? null;
  }

  get size(): number {
    return this.bySha.size;
  }

  get capacity(): number {
    return this.maxEntries;
  }

  private evictOne(): void {
    const first = this.front.take();
    if (first === undefined) return;
    const e = this.bySha.get(first) as Entry<T>;
    this.bySha.delete(first);
    this.evictions++;
    const q = quickKey(e.der);
    const b = this.byQuick.get(q);
    if (b !== undefined) {
      const i = b.indexOf(e);
      if (i >= 0) b.splice(i, 1);
      if (b.length === 0) this.byQuick.delete(q);
    }
  }
}

function quickKey(b: Uint8Array): number {
  let h = b.length | 0;
  const n = b.length;
  const step = n > 64 ? (n / 32) | 0 : 1;
  for (let i = 0; i < n; i += step) h = (Math.imul(h, 31) + (b[i] as number)) | 0;
  // The tail differs most between certificates of one issuer (signature bytes).
  for (let i = Math.max(0, n - 16); i < n; i++) h = (Math.imul(h, 31) + (b[i] as number)) | 0;
  return h;
}
