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
import { addrToString } from '../decode/packet-meta.js';
import { parseIpv4 } from '../util/ipv4.js';

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

/** Keys that are not a pair of IPv4 addresses, as one flat string (as a Map hashes it once). */
function textKey(clientIp: string, ip: string): string {
  return [clientIp, ip].join('|');
}

/** Entries a new cache has room for before it grows (doubling, up to its bound). */
const FIRST_ENTRIES = 1024;
/** Entry 0 is the head of the LRU list, not an entry. */
const HEAD = 0;
/**
 * 32-bit words of an entry: the previous and next entry in LRU order, its IPv4 table row (-1 for a
 * text key), the two addresses of an IPv4 key, one unused, then the expiry as a 64-bit float.
 */
const PREV = 0;
const NEXT = 1;
const ROW = 2;
const CLIENT = 3;
const ANSWER = 4;
const ENTRY_WORDS = 8;
/** The expiry's index in the entries' float view (its words are 6 and 7). */
const EXPIRY = 3;
const ENTRY_FLOATS = 4;
/** Words of an IPv4 table row: the entry number (0 = empty row) and the key's hash. */
const R_ENTRY = 0;
const R_HASH = 1;
const ROW_WORDS = 2;
const FIRST_ROWS = 2048;

/**
 * Entries are numbers into parallel arrays, linked in least-recently-used order (a doubly linked
 * list with HEAD as its sentinel: the next of HEAD is the oldest, its previous the freshest), so a
 * learn or use is a relink and an eviction takes the oldest, with nothing allocated.
 *
 * A pair of IPv4 addresses (almost every answer) is keyed by its two 32-bit words in an open-
 * addressing table (linear probing, at most half full, backward-shift deletion so no tombstones
 * pile up); no string is made per answer and no Map entry is hashed, set or deleted, which was
 * most of what a flood of lookups cost in the cache. A row is the entry number and the key's hash
 * (a small table, and a miss is told from the hash alone); an entry keeps its links, row, key and
 * expiry in one 32-byte record of one buffer, so a learn at the bound touches a few cache lines,
 * not one per array. Anything else (IPv6, text that is not a canonical dotted quad) is keyed by
 * its text in a Map. Both kinds share the one LRU list and the one bound.
 *
 * The table's hash is seeded per process: the answer addresses come from the network, and with a
 * fixed hash a sender could pick addresses that all land in one run of rows.
 */
export class DnsCache {
  private readonly opts: DnsCacheOptions;
  /** Entries in use (both kinds). */
  private count = 0;
  /** Entry numbers handed out so far (1..top-1); freed ones are chained through NEXT from free. */
  private top = 1;
  private free = 0;
  /** The entries, as words (links, row) and as unsigned words (addresses) and floats (expiry). */
  private links: Int32Array;
  private words: Uint32Array;
  private floats: Float64Array;
  /** The key of a text-keyed entry (whose ROW is -1); undefined for an IPv4 pair and a free one. */
  private text: (string | undefined)[];
  private names: string[];
  private rows: Uint32Array;
  /** Rows in the IPv4 table, less one (a power of two less one). */
  private mask: number;
  private v4count = 0;
  private readonly textMap = new Map<string, number>();
  private readonly seed: number;
  /** Entries dropped by the size bound (expired ones are not counted). */
  evictions = 0;

  constructor(opts: Partial<DnsCacheOptions> = {}) {
    this.opts = { ...defaultDnsCacheOptions, ...opts };
    const n = Math.min(FIRST_ENTRIES, this.opts.maxEntriesCount) + 1;
    const buf = new ArrayBuffer(n * ENTRY_WORDS * 4);
    this.links = new Int32Array(buf);
    this.words = new Uint32Array(buf);
    this.floats = new Float64Array(buf);
    this.text = new Array<string | undefined>(n).fill(undefined);
    this.names = new Array<string>(n).fill('');
    this.rows = new Uint32Array(FIRST_ROWS * ROW_WORDS);
    this.mask = FIRST_ROWS - 1;
    this.seed = (Math.random() * 0x1_0000_0000) >>> 0;
  }

  get size(): number {
    return this.count;
  }

  get capacity(): number {
    return this.opts.maxEntriesCount;
  }

  /**
   * Learn the address answers of one DNS flow seen from `client` at packet time `ts`. The client
   * is its address as text, or an IPv4 address as its 32-bit word (as the engine holds it: no text
   * is made for it unless an answer is keyed by text).
   */
  learn(client: string | number, info: DnsAnswers, ts: number): void {
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
    const c4 = typeof client === 'number' ? client >>> 0 : parseIpv4(client);
    let clientText = typeof client === 'number' ? null : client;
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
      const expiry = ts + Math.min(this.opts.maxTtlMs, Math.max(this.opts.minTtlMs, a.ttl * 1000));
      const a4 = c4 < 0 ? -1 : parseIpv4(a.data);
      if (a4 >= 0) this.learnV4(c4, a4, name, expiry);
      else {
        clientText ??= addrToString(4, c4, 0, 0, 0);
        this.learnText(textKey(clientText, a.data), name, expiry);
      }
    }
  }

  /** Name for `serverIp` as resolved by `clientIp`, if learned and not expired at `ts`. */
  lookup(clientIp: string, serverIp: string, ts: number): string | null {
    const c4 = parseIpv4(clientIp);
    const s4 = c4 < 0 ? -1 : parseIpv4(serverIp);
    let e: number;
    if (s4 >= 0) {
      const r = this.findV4(c4, s4, this.hashV4(c4, s4));
      if (r < 0) return null;
      e = this.rows[r * ROW_WORDS + R_ENTRY] as number;
    } else {
      const found = this.textMap.get(clientIp + '|' + serverIp);
      if (found === undefined) return null;
      e = found;
    }
    if (ts > (this.floats[e * ENTRY_FLOATS + EXPIRY] as number)) {
      this.remove(e);
      return null;
    }
    // Used: most recently used now.
    this.unlink(e);
    this.linkFresh(e);
    return this.names[e] as string;
  }

  private learnV4(c: number, a: number, name: string, expiry: number): void {
    const h = this.hashV4(c, a);
    const r = this.findV4(c, a, h);
    if (r >= 0) {
      // A key already there moves to the fresh end with its new name and expiry.
      const e = this.rows[r * ROW_WORDS + R_ENTRY] as number;
      this.names[e] = name;
      this.floats[e * ENTRY_FLOATS + EXPIRY] = expiry;
      this.unlink(e);
      this.linkFresh(e);
      return;
    }
    if (this.count >= this.opts.maxEntriesCount) this.evictOldest();
    const e = this.alloc();
    this.names[e] = name;
    this.floats[e * ENTRY_FLOATS + EXPIRY] = expiry;
    this.words[e * ENTRY_WORDS + CLIENT] = c;
    this.words[e * ENTRY_WORDS + ANSWER] = a;
    this.linkFresh(e);
    if ((this.v4count + 1) * 2 > this.mask + 1) this.growTable();
    this.insertV4(e, h);
    this.v4count++;
    this.count++;
  }

  private learnText(key: string, name: string, expiry: number): void {
    const had = this.textMap.get(key);
    if (had !== undefined) {
      this.names[had] = name;
      this.floats[had * ENTRY_FLOATS + EXPIRY] = expiry;
      this.unlink(had);
      this.linkFresh(had);
      return;
    }
    if (this.count >= this.opts.maxEntriesCount) this.evictOldest();
    const e = this.alloc();
    this.text[e] = key;
    this.names[e] = name;
    this.floats[e * ENTRY_FLOATS + EXPIRY] = expiry;
    this.links[e * ENTRY_WORDS + ROW] = -1;
    this.linkFresh(e);
    this.textMap.set(key, e);
    this.count++;
  }

  /** 32-bit hash of an IPv4 pair (murmur3's mixing of two words, then its finaliser). */
  private hashV4(c: number, a: number): number {
    let h = this.seed;
    let k = Math.imul(c, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
    k = Math.imul(a, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
    h ^= 8;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) >>> 0;
  }

  /** The table row holding the pair, or -1. */
  private findV4(c: number, a: number, h: number): number {
    const rows = this.rows;
    const mask = this.mask;
    const words = this.words;
    for (let r = h & mask; ; r = (r + 1) & mask) {
      const e = rows[r * ROW_WORDS + R_ENTRY] as number;
      if (e === 0) return -1;
      if (rows[r * ROW_WORDS + R_HASH] === h && words[e * ENTRY_WORDS + ANSWER] === a && words[e * ENTRY_WORDS + CLIENT] === c) return r;
    }
  }

  private insertV4(e: number, h: number): void {
    const rows = this.rows;
    const mask = this.mask;
    let r = h & mask;
    while (rows[r * ROW_WORDS + R_ENTRY] !== 0) r = (r + 1) & mask;
    rows[r * ROW_WORDS + R_ENTRY] = e;
    rows[r * ROW_WORDS + R_HASH] = h;
    this.links[e * ENTRY_WORDS + ROW] = r;
  }

  /** Empty a row and pull later rows of its run back, so every row stays reachable from home. */
  private deleteRow(i: number): void {
    const rows = this.rows;
    const mask = this.mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const at = j * ROW_WORDS;
      const e = rows[at + R_ENTRY] as number;
      if (e === 0) break;
      const home = (rows[at + R_HASH] as number) & mask;
      // The row at j may move to the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        rows[i * ROW_WORDS + R_ENTRY] = e;
        rows[i * ROW_WORDS + R_HASH] = rows[at + R_HASH] as number;
        this.links[e * ENTRY_WORDS + ROW] = i;
        i = j;
      }
    }
    rows[i * ROW_WORDS + R_ENTRY] = 0;
  }

  private growTable(): void {
    const old = this.rows;
    const n = (this.mask + 1) * 2;
    this.rows = new Uint32Array(n * ROW_WORDS);
    this.mask = n - 1;
    for (let at = 0; at < old.length; at += ROW_WORDS) {
      const e = old[at + R_ENTRY] as number;
      if (e !== 0) this.insertV4(e, old[at + R_HASH] as number);
    }
  }

  private alloc(): number {
    if (this.free !== 0) {
      const e = this.free;
      this.free = this.links[e * ENTRY_WORDS + NEXT] as number;
      return e;
    }
    if (this.top * ENTRY_WORDS === this.links.length) this.growEntries();
    return this.top++;
  }

  /** Twice the entry arrays (never more than the bound and the head). */
  private growEntries(): void {
    const old = this.links.length / ENTRY_WORDS;
    const n = Math.min(old * 2, this.opts.maxEntriesCount + 1);
    const buf = new ArrayBuffer(n * ENTRY_WORDS * 4);
    const links = new Int32Array(buf);
    links.set(this.links);
    this.links = links;
    this.words = new Uint32Array(buf);
    this.floats = new Float64Array(buf);
    const text = new Array<string | undefined>(n).fill(undefined);
    const names = new Array<string>(n).fill('');
    for (let i = 0; i < old; i++) {
      text[i] = this.text[i];
      names[i] = this.names[i] as string;
    }
    this.text = text;
    this.names = names;
  }

  private unlink(e: number): void {
    const l = this.links;
    const p = l[e * ENTRY_WORDS + PREV] as number;
    const n = l[e * ENTRY_WORDS + NEXT] as number;
    l[p * ENTRY_WORDS + NEXT] = n;
    l[n * ENTRY_WORDS + PREV] = p;
  }

  private linkFresh(e: number): void {
    const l = this.links;
    const last = l[HEAD * ENTRY_WORDS + PREV] as number;
    l[last * ENTRY_WORDS + NEXT] = e;
    l[e * ENTRY_WORDS + PREV] = last;
    l[e * ENTRY_WORDS + NEXT] = HEAD;
    l[HEAD * ENTRY_WORDS + PREV] = e;
  }

  /** Drop an entry from its index and the list, and free its number. */
  private remove(e: number): void {
    const r = this.links[e * ENTRY_WORDS + ROW] as number;
    if (r >= 0) {
      this.deleteRow(r);
      this.v4count--;
    } else {
      this.textMap.delete(this.text[e] as string);
      this.text[e] = undefined;
    }
    this.unlink(e);
    this.names[e] = '';
    this.links[e * ENTRY_WORDS + NEXT] = this.free;
    this.free = e;
    this.count--;
  }

  private evictOldest(): void {
    const e = this.links[HEAD * ENTRY_WORDS + NEXT] as number;
    if (e === HEAD) return;
    this.remove(e);
    this.evictions++;
  }
}
