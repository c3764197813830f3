/**
 * Names for destination IPs from the DNS answers a client host received earlier (DESIGN.md §2.4:
 * "answers map IP to names so alerts can name destinations").
 *
 * Keyed by (client host IP, answer IP). An entry lives for the answer's TTL, clamped to
 * [minTtlMs, maxTtlMs] (a TTL of 0 is common for CDNs yet the connection follows within
 * milliseconds), measured in packet time. The whole cache holds at most maxEntriesCount entries;
 * the least recently learned/used one is dropped first (Map insertion order = LRU order).
 *
 * The name recorded is the one the client asked for: an A/AAAA owner reached through a CNAME chain
 * is walked back to the queried name ('www.example.com', not 'e123.cdn.example.net').
 */
import type { NameAnswers } from '../contract/api.js';
import { MapFront } from '../util/map-front.js';

/** The answers of one response (a dissector's `names`), as the cache learns them. */
export type DnsAnswers = NameAnswers;

export interface DnsCacheOptions {
  maxEntriesCount: number;
  minTtlMs: number;
  maxTtlMs: number;
}

export const defaultDnsCacheOptions: DnsCacheOptions = {
  maxEntriesCount: 100_000,
  minTtlMs: 60_000,
  maxTtlMs: 24 * 3600_000,
};

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_CNAME = 5;
/** CNAME links walked back from an address owner to the queried name. */
const MAX_CNAME_CHAIN_COUNT = 8;

interface Entry {
  name: string;
  expiry: number;
}

/**
 * A stored key as one flat string. `a + '|' + b` of 13 characters or more is a lazy pair of
 * pieces in V8, and a Map keeps the pair object beside the flat copy it makes to hash it: one
 * more object per entry, for every answer learnt. join() writes the string out at once.
 */
function cacheKey(clientIp: string, ip: string): string {
  return [clientIp, ip].join('|');
}

export class DnsCache {
  private readonly map = new Map<string, Entry>();
  private readonly oldest = new MapFront(this.map);
  private readonly opts: DnsCacheOptions;
  /** Entries dropped by the size bound (expired ones are not counted). */
  evictions = 0;

  constructor(opts: Partial<DnsCacheOptions> = {}) {
    this.opts = { ...defaultDnsCacheOptions, ...opts };
  }

  get size(): number {
    return this.map.size;
  }

  get capacity(): number {
    return this.opts.maxEntriesCount;
  }

  /** Learn the address answers of one DNS flow seen from `clientIp` at packet time `ts`. */
  learn(clientIp: string, info: DnsAnswers, ts: number): void {
    if (info.rcode !== null && info.rcode !== 0) return;
    let cname = false;
    for (const a of info.answers) if (a.type === TYPE_CNAME) { cname = true; break; }
    // Without a CNAME every address is named by its own owner: no chain to walk, and no maps to
    // build for it (most answers, and every answer of a flood of lookups).
    let owners: Map<string, string> | null = null;
    let queried: Set<string> | null = null;
    if (cname) {
      // Reverse CNAME links: target → owner (lowercased).
      owners = new Map<string, string>();
      for (const a of info.answers) if (a.type === TYPE_CNAME) owners.set(a.data.toLowerCase(), a.name);
      queried = new Set(info.queries.map((q) => q.toLowerCase()));
    }
    for (const a of info.answers) {
      if (a.type !== TYPE_A && a.type !== TYPE_AAAA) continue;
      let name = a.name;
      if (owners !== null && queried !== null) {
        for (let i = 0; i < MAX_CNAME_CHAIN_COUNT && !queried.has(name.toLowerCase()); i++) {
          const up = owners.get(name.toLowerCase());
          if (up === undefined) break;
          name = up;
        }
      }
      const ttlMs = Math.min(this.opts.maxTtlMs, Math.max(this.opts.minTtlMs, a.ttl * 1000));
      const key = cacheKey(clientIp, a.data);
      const e = { name, expiry: ts + ttlMs };
      const had = this.map.size;
      this.map.set(key, e);
      // A key already there keeps its place on set(): moved to the fresh end. Most answers are new
      // (a delete first probed the table once more for nothing, a cache miss at 100,000 entries).
      if (this.map.size === had) { this.map.delete(key); this.map.set(key, e); }
      if (this.map.size > this.opts.maxEntriesCount) this.evict();
    }
  }

  /** Name for `serverIp` as resolved by `clientIp`, if learned and not expired at `ts`. */
  lookup(clientIp: string, serverIp: string, ts: number): string | null {
    const key = clientIp + '|' + serverIp;
    const e = this.map.get(key);
    if (e === undefined) return null;
    if (ts > e.expiry) {
      this.map.delete(key);
      return null;
    }
    this.map.delete(key); // touch: most recently used
    this.map.set(key, e);
    return e.name;
  }

  private evict(): void {
    while (this.map.size > this.opts.maxEntriesCount) {
      const k = this.oldest.take();
      if (k === undefined) return;
      this.map.delete(k);
      this.evictions++;
    }
  }
}
