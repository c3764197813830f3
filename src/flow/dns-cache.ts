/**
 * Names for destination IPs from the DNS answers a client host received earlier (DESIGN.md §2.4:
 * "answers map IP to names so alerts can name destinations").
 *
 * Keyed by (client host IP, answer IP). An entry lives for the answer's TTL, clamped to
 * [minTtlMs, maxTtlMs] (a TTL of 0 is common for CDNs yet the connection follows within
 * milliseconds), measured in packet time. The whole cache holds at most maxEntriesCount entries;
 * the least recently learned/used one is dropped first.
 *
 * The name recorded is the one the client asked for: an A/AAAA owner reached through a CNAME chain
 * is walked back to the queried name ('www.example.com', not 'e123.cdn.example.net').
 */
import type { NameAnswers } from '../contract/api.js';

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

/**
 * A stored key as one flat string. `a + '|' + b` of 13 characters or more is a lazy pair of
 * pieces in V8, and a Map keeps the pair object beside the flat copy it makes to hash it: one
 * more object per entry, for every answer learnt. join() writes the string out at once.
 */
function cacheKey(clientIp: string, ip: string): string {
  return [clientIp, ip].join('|');
}

/** Ring slots a new cache starts with (doubled as it fills, up to about twice its bound). */
const FIRST_SLOTS = 1024;

/**
 * The entries' order (least recently learnt or used first) is a ring of slots: an entry is
 * written at the fresh end, and one learnt again or used leaves a dead slot behind and is written
 * anew; eviction takes the oldest live slot. The Map gives a key's slot. A Map kept in LRU order
 * by itself made every learn or use a delete and a set, and each eviction an iterator step over
 * the holes deletes leave, on a table at its bound that a flood of lookups churns through.
 */
export class DnsCache {
  private readonly map = new Map<string, number>();
  private keys: (string | undefined)[] = new Array<string | undefined>(FIRST_SLOTS).fill(undefined);
  private names: string[] = new Array<string>(FIRST_SLOTS).fill('');
  private expiry = new Float64Array(FIRST_SLOTS);
  /** Oldest slot in use (live or dead), and how many are in use from there. */
  private tail = 0;
  private used = 0;
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
      // A key already there moves to the fresh end with its new name and expiry.
      const had = this.map.get(key);
      if (had !== undefined) this.keys[had] = undefined;
      this.put(key, name, ts + ttlMs);
      if (this.map.size > this.opts.maxEntriesCount) this.evict();
    }
  }

  /** Name for `serverIp` as resolved by `clientIp`, if learned and not expired at `ts`. */
  lookup(clientIp: string, serverIp: string, ts: number): string | null {
    const key = clientIp + '|' + serverIp;
    const at = this.map.get(key);
    if (at === undefined) return null;
    this.keys[at] = undefined;
    if (ts > (this.expiry[at] as number)) {
      this.map.delete(key);
      return null;
    }
    // Used: most recently used now.
    const name = this.names[at] as string;
    this.put(key, name, this.expiry[at] as number);
    return name;
  }

  /** Write an entry at the fresh end (its old slot, if any, is already dead). */
  private put(key: string, name: string, expiry: number): void {
    let cap = this.keys.length;
    if (this.used === cap) {
      // Full of slots: copy the live ones out in order, into twice the slots while more than half
      // are live (never past about twice the bound), else into as many.
      const live = this.map.has(key) ? this.map.size - 1 : this.map.size;
      this.rebuild(live * 2 >= cap ? Math.max(cap, Math.min(cap * 2, this.opts.maxEntriesCount * 2 + 2)) : cap);
      cap = this.keys.length;
    }
    const at = (this.tail + this.used) % cap;
    this.keys[at] = key;
    this.names[at] = name;
    this.expiry[at] = expiry;
    this.used++;
    this.map.set(key, at);
  }

  private rebuild(cap: number): void {
    const keys = new Array<string | undefined>(cap).fill(undefined);
    const names = new Array<string>(cap).fill('');
    const expiry = new Float64Array(cap);
    const old = this.keys.length;
    let j = 0;
    for (let i = 0; i < this.used; i++) {
      const at = (this.tail + i) % old;
      const k = this.keys[at];
      if (k === undefined) continue;
      keys[j] = k;
      names[j] = this.names[at] as string;
      expiry[j] = this.expiry[at] as number;
      this.map.set(k, j);
      j++;
    }
    this.keys = keys;
    this.names = names;
    this.expiry = expiry;
    this.tail = 0;
    this.used = j;
  }

  private evict(): void {
    const cap = this.keys.length;
    while (this.map.size > this.opts.maxEntriesCount && this.used > 0) {
      const at = this.tail;
      const k = this.keys[at];
      this.tail = (at + 1) % cap;
      this.used--;
      this.names[at] = '';
      if (k === undefined) continue; // dead: learnt again, used or expired since
      this.keys[at] = undefined;
      this.map.delete(k);
      this.evictions++;
    }
  }
}
