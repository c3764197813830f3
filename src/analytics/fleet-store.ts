/**
 * The fleet's shared state on Redis (a single server or a Redis Cluster): the baseline facts, the
 * beacon timelines per (host, destination, port) and the alert deduplication of every sensor.
 *
 * Nothing here is awaited on the packet path. Every write is an operation in a local queue; a
 * flush every few milliseconds (or when the queue is full) issues the queued operations in one
 * tick, so ioredis's auto-pipelining sends them as one write per server (one round trip per flush
 * and node, not per flow). Each operation is a Lua script over keys of ONE hash slot (the hash tag
 * in braces), so it is atomic on a cluster as on a single server, and idempotent, so a batch whose
 * fate is unknown (a dropped connection, a failover) is simply sent again:
 *
 *  - a fact is set if absent and lowered to the earlier time if present; its counter (hosts per
 *    destination, hosts per JA4, hosts) is raised only by the write that created the fact;
 *  - a connection is a sorted-set member named by the connection itself (start, bytes, Community
 *    ID), so the same connection reported twice counts once;
 *  - an alert claim stores the first occurrence's id: re-sending it answers "won" again, and the
 *    occurrences of an alert are a set (its count is the set's size).
 *
 * With `replicas` > 0 a flush also sends WAIT to every master it wrote to; only then are its
 * operations acknowledged (counted shared, their results used). A master killed before its
 * replica has the batch therefore loses nothing acknowledged: the batch is still queued here and
 * is written again to the promoted replica.
 *
 * When the store is unreachable (at start or mid-run) the queue holds the operations (bounded:
 * past `maxBacklogCount` the oldest go and are counted lost), alerts are emitted locally without
 * fleet deduplication (counted), and everything queued is sent when the connection is back.
 */
import { Redis, Cluster } from 'ioredis';
import { BEACON_DEFAULTS, scoreSortedBeacon } from './beacon.js';
import type { BeaconInfo } from '../flow/record.js';
import { BaselineStore, type BaselineOptions, type FactBackend } from '../baseline/store.js';

export interface FleetStoreOptions {
  /** redis://host:port, or cluster seeds (host:port or redis://host:port), one or several. */
  store: string | readonly string[];
  /** Force cluster mode (default: more than one seed, or a redis-cluster:// URL). */
  cluster?: boolean;
  /** This sensor's name in locks and claims. */
  sensorId?: string;
  /** Replicas a flush waits for (WAIT n) before its writes count as acknowledged (cluster default 1, single 0). */
  replicas?: number;
  waitTimeoutMs?: number;
  /** Time to live of baseline facts and their counters, refreshed by each sensor's first write. */
  factTtlMs?: number;
  /** Beacon window (seconds); a pair's timeline keeps connections within it of its latest. */
  beaconWindowS?: number;
  /** Most connections kept per pair (oldest dropped), as the local tracker. */
  maxTsPerPairCount?: number;
  /** Time to live of an alert claim (the fleet's dedup window). */
  dedupWindowMs?: number;
  flushIntervalMs?: number;
  /** Operations per flush. */
  batchMaxCount?: number;
  /** Operations held while the store is unreachable; past this the oldest are dropped (counted). */
  maxBacklogCount?: number;
  /** Longest an alert waits for its claim's answer before it is emitted locally. */
  claimWaitMs?: number;
  /** Longest a flow's analysis waits for the store's answers to its reads (the baseline facts it needs). */
  readWaitMs?: number;
  /** How long settle()/close() wait for an unreachable store to come back. */
  reconnectWaitMs?: number;
}

export interface FleetStats {
  /** Acknowledged operations, by kind. */
  sharedFacts: number;
  sharedConnections: number;
  sharedClaims: number;
  sharedFolds: number;
  /** Operations queued and not yet acknowledged. */
  pending: number;
  /** Operations sent again after an error, a lost connection or a short WAIT. */
  retried: number;
  /** Operations dropped from a full backlog: never shared. */
  dropped: number;
  /** Alerts emitted without the fleet's answer (store unreachable or slow). */
  alertsLocal: number;
  /** Alerts another sensor had already raised (not emitted here). */
  alertsFleetFolded: number;
  /** Pair scorings this sensor ran (under the pair's lock). */
  scorings: number;
  /** Pair scorings another sensor held the lock for (retried or left to it). */
  scoreBusy: number;
  flushes: number;
  /** Flushes × nodes written to, plus WAITs: the network round trips of the write path. */
  roundTrips: number;
  /** Facts read from the store on a local miss (found), and reads sent (found or not). */
  fetched: number;
  fetchedOps: number;
  /** Flows analysed before the store answered their reads (readWaitMs passed). */
  readTimeouts: number;
  /** Flushes whose WAIT saw fewer replicas than asked (their batch was sent again). */
  shortWaits: number;
  /** Flushes acknowledged by a shard with fewer replicas online than asked (after a failover). */
  degradedAcks: number;
  /** Connection errors seen. */
  errors: number;
  /** Connected to the store now. */
  up: boolean;
}

/** A fact or counter value the store reported (`key` in the lmdb key form). */
export type FactListener = (key: string, value: number) => void;

interface Op {
  kind: 'fact' | 'conn' | 'claim' | 'fold' | 'get';
  run(c: Client): Promise<unknown>;
  done(res: unknown): void;
}

type Client = Redis | Cluster;

/** A fleet-scored pair as stored. */
export interface FleetBeacon extends BeaconInfo {
  host: string;
  dst: string;
  port: number;
  version: number;
  scoredBy: string;
}

const SEP = '\u0001';

// Set if absent (raising the counter once), else keep the earlier time. KEYS: fact, counter.
// ARGV: time, ttl ms (0 = none), '1' when there is a counter. Returns {value, counter or -1}.
const LUA_ONCE = `
local v = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[2])
if not v then
  if ttl > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[1], ARGV[1]) end
  if ARGV[3] == '1' then
    local n = redis.call('INCR', KEYS[2])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
    return {ARGV[1], tostring(n)}
  end
  return {ARGV[1], '-1'}
end
if tonumber(ARGV[1]) < tonumber(v) then redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL'); v = ARGV[1] end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
if ARGV[3] == '1' then return {v, redis.call('GET', KEYS[2]) or '0'} end
return {v, '-1'}`;

// A connection joins its pair's timeline. KEYS: timeline, version. ARGV: start s, member, ttl ms.
// Returns {version, connections held}.
const LUA_CONN = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {n, redis.call('ZCARD', KEYS[1])}`;

// Take the pair's scoring lock unless a scoring at or past our version is stored. KEYS: lock,
// scored version. ARGV: version, sensor, lock ms. 0 = already scored, 1 = ours, -1 = busy.
const LUA_SCORE_CLAIM = `
local sv = tonumber(redis.call('GET', KEYS[2]) or '0')
if sv >= tonumber(ARGV[1]) then return 0 end
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
return -1`;

// The timeline as it stands, trimmed to the window and the cap. KEYS: timeline, version.
// ARGV: window s, cap. Returns {version, member, member, ...} in start order.
const LUA_SCORE_READ = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #last == 2 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(tonumber(last[2]) - tonumber(ARGV[1])))
  local n = redis.call('ZCARD', KEYS[1])
  local cap = tonumber(ARGV[2])
  if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - cap - 1) end
end
local out = redis.call('ZRANGE', KEYS[1], 0, -1)
table.insert(out, 1, redis.call('GET', KEYS[2]) or '0')
return out`;

// Store a score if we still hold the lock, then release it. KEYS: lock, score, scored version.
// ARGV: sensor, score JSON, version, ttl ms.
const LUA_SCORE_PUT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local sv = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[3]) > sv then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
end
redis.call('DEL', KEYS[1])
return 1`;

// Claim an alert for the fleet: the first occurrence's id wins. KEYS: claim, occurrences, alert.
// ARGV: occurrence, ttl ms, alert JSON. 1 = this occurrence raised it, 0 = another did.
const LUA_CLAIM = `
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then return 1 end
return 0`;

// A later occurrence of an alert. KEYS: occurrences. ARGV: occurrence, ttl ms.
const LUA_FOLD = `
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

interface Scripts {
  ndrOnce(k1: string, k2: string, ts: string, ttl: string, counter: string): Promise<[string, string]>;
  ndrConn(k1: string, k2: string, ts: string, member: string, ttl: string): Promise<[number, number]>;
  ndrScoreClaim(k1: string, k2: string, v: string, sensor: string, ms: string): Promise<number>;
  ndrScoreRead(k1: string, k2: string, windowS: string, cap: string): Promise<string[]>;
  ndrScorePut(k1: string, k2: string, k3: string, sensor: string, json: string, v: string, ttl: string): Promise<number>;
  ndrClaim(k1: string, k2: string, k3: string, occ: string, ttl: string, json: string): Promise<number>;
  ndrFold(k1: string, occ: string, ttl: string): Promise<number>;
}

function defineScripts(c: Client): void {
  c.defineCommand('ndrOnce', { numberOfKeys: 2, lua: LUA_ONCE });
  c.defineCommand('ndrConn', { numberOfKeys: 2, lua: LUA_CONN });
  c.defineCommand('ndrScoreClaim', { numberOfKeys: 2, lua: LUA_SCORE_CLAIM });
  c.defineCommand('ndrScoreRead', { numberOfKeys: 2, lua: LUA_SCORE_READ });
  c.defineCommand('ndrScorePut', { numberOfKeys: 3, lua: LUA_SCORE_PUT });
  c.defineCommand('ndrClaim', { numberOfKeys: 3, lua: LUA_CLAIM });
  c.defineCommand('ndrFold', { numberOfKeys: 1, lua: LUA_FOLD });
}

const s = (c: Client): Scripts => c as unknown as Scripts;

/** Where a baseline fact lives in Redis, and its counter (kept in the same hash slot). */
export interface FactKeys {
  key: string;
  /** The counter the fact's creation raises, in Redis and in lmdb key form. */
  counter: string | null;
  counterLocal: string | null;
  /** 'once': first-seen time; 'min': the fleet's first flow; 'count': read only (raised by its facts). */
  op: 'once' | 'min' | 'count';
}

/**
 * The Redis key of an lmdb-form key (`<kind>\u0001<a>[\u0001<b>]`, see store.ts). Facts that raise a
 * counter share its hash tag: (host, destination) with the destination's host count, (JA4, host)
 * with the JA4's host count, a host with the fleet's host count.
 */
export function factKeys(local: string): FactKeys | null {
  if (local === 'meta:first') return { key: 'ndr:{meta}:first', counter: null, counterLocal: null, op: 'min' };
  if (local === 'meta:hosts') return { key: 'ndr:{meta}:hosts', counter: null, counterLocal: null, op: 'count' };
  const i = local.indexOf(SEP);
  if (i < 0) return null;
  const kind = local.slice(0, i);
  const rest = local.slice(i + 1);
  const j = rest.indexOf(SEP);
  const a = j < 0 ? rest : rest.slice(0, j);
  const b = j < 0 ? '' : rest.slice(j + 1);
  switch (kind) {
    case 'h': return { key: `ndr:{meta}:h:${a}`, counter: 'ndr:{meta}:hosts', counterLocal: 'meta:hosts', op: 'once' };
    case 'hd': return { key: `ndr:{d:${b}}:hd:${a}`, counter: `ndr:{d:${b}}:dc`, counterLocal: `dc${SEP}${b}`, op: 'once' };
    case 'dc': return { key: `ndr:{d:${a}}:dc`, counter: null, counterLocal: null, op: 'count' };
    case 'jh': return { key: `ndr:{j:${a}}:jh:${b}`, counter: `ndr:{j:${a}}:jc`, counterLocal: `jc${SEP}${a}`, op: 'once' };
    case 'jc': return { key: `ndr:{j:${a}}:jc`, counter: null, counterLocal: null, op: 'count' };
    case 'ud': return { key: `ndr:{u:${a}}:ud:${b}`, counter: null, counterLocal: null, op: 'once' };
    case 'in': return { key: `ndr:{i:${a}}:in`, counter: null, counterLocal: null, op: 'once' };
    case 'il': return { key: `ndr:{i:${a}}:il:${b}`, counter: null, counterLocal: null, op: 'once' };
    default: return null;
  }
}

/** The keys of one (host, destination, port) pair: one hash tag, so one slot. */
export function pairKeys(host: string, dst: string, port: number): { t: string; v: string; lock: string; s: string; sv: string } {
  const tag = `ndr:{b:${host}|${dst}|${port}}`;
  return { t: `${tag}:t`, v: `${tag}:v`, lock: `${tag}:lock`, s: `${tag}:s`, sv: `${tag}:sv` };
}

export function alertKeys(id: string): { c: string; f: string; j: string } {
  const tag = `ndr:{a:${id}}`;
  return { c: `${tag}:c`, f: `${tag}:f`, j: `${tag}:j` };
}

/** Seeds → ioredis cluster nodes; a single redis:// URL → one server. */
export function parseStoreSpec(spec: string | readonly string[], forceCluster?: boolean): { cluster: boolean; nodes: { host: string; port: number }[] } {
  const list = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((x) => x.trim()).filter((x) => x !== '');
  if (list.length === 0) throw new Error('fleet store: no Redis address given');
  let cluster = forceCluster ?? list.length > 1;
  const nodes = list.map((x) => {
    let rest = x;
    const m = /^(redis|redis-cluster):\/\//.exec(x);
    if (m) {
      if (m[1] === 'redis-cluster') cluster = true;
      rest = x.slice(m[0].length).replace(/\/.*$/, '');
    }
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(rest);
    if (!hp) throw new Error(`fleet store: '${x}' is not redis://host:port or host:port`);
    const port = hp[2] === undefined ? 6379 : Number(hp[2]);
    if (port < 1 || port > 65535) throw new Error(`fleet store: bad port in '${x}'`);
    return { host: hp[1]!.replace(/^\[|\]$/g, ''), port };
  });
  return { cluster, nodes };
}

/** Is this `baseline.store` value a Redis store (else an lmdb path)? */
export function isRedisSpec(spec: string | readonly string[] | null | undefined): boolean {
  if (spec === null || spec === undefined) return false;
  if (typeof spec !== 'string') return spec.length > 0;
  return /^redis(-cluster)?:\/\//.test(spec);
}

export class FleetStore {
  readonly client: Client;
  readonly isCluster: boolean;
  readonly sensorId: string;
  readonly stats: FleetStats = {
    sharedFacts: 0, sharedConnections: 0, sharedClaims: 0, sharedFolds: 0, pending: 0, retried: 0, dropped: 0,
    alertsLocal: 0, alertsFleetFolded: 0, scorings: 0, scoreBusy: 0, flushes: 0, roundTrips: 0, fetched: 0, fetchedOps: 0, readTimeouts: 0, shortWaits: 0, degradedAcks: 0, errors: 0, up: false,
  };
  private readonly o: Required<Omit<FleetStoreOptions, 'store' | 'cluster' | 'sensorId'>>;
  private queue: Op[] = [];
  /** Reads, sent ahead of the queued writes: a flow's analysis may be waiting for them. */
  private reads: Op[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Pairs whose latest appended version this sensor still wants scored. */
  private readonly toScore = new Map<string, { host: string; dst: string; port: number; v: number }>();
  private scoring = false;
  private readonly listeners: FactListener[] = [];
  /** Keys asked for and not answered yet (one GET per key in flight). */
  private readonly asked = new Map<string, () => void>();
  private recent: Promise<void>[] = [];
  private lastError = '';
  private gaveUp = false;

  constructor(opts: FleetStoreOptions) {
    const spec = parseStoreSpec(opts.store, opts.cluster);
    this.isCluster = spec.cluster;
    this.sensorId = opts.sensorId ?? `sensor-${process.pid}`;
    this.o = {
      replicas: opts.replicas ?? (spec.cluster ? 1 : 0),
      waitTimeoutMs: opts.waitTimeoutMs ?? 1000,
      factTtlMs: opts.factTtlMs ?? 90 * 86_400_000,
      beaconWindowS: opts.beaconWindowS ?? 86_400,
      maxTsPerPairCount: opts.maxTsPerPairCount ?? 1_024,
      dedupWindowMs: opts.dedupWindowMs ?? 600_000,
      flushIntervalMs: opts.flushIntervalMs ?? 5,
      batchMaxCount: opts.batchMaxCount ?? 2_000,
      maxBacklogCount: opts.maxBacklogCount ?? 500_000,
      claimWaitMs: opts.claimWaitMs ?? 2_000,
      reconnectWaitMs: opts.reconnectWaitMs ?? 1_000,
      readWaitMs: opts.readWaitMs ?? 1_000,
    };
    // Commands fail at once while disconnected (no hidden offline queue: ours is bounded and
    // counted); reconnection keeps trying every 200 ms-1 s for the whole run.
    const retryStrategy = (n: number): number => Math.min(200 * n, 1000);
    if (spec.cluster) {
      this.client = new Cluster(spec.nodes, {
        enableAutoPipelining: true,
        enableOfflineQueue: false,
        clusterRetryStrategy: retryStrategy,
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 200,
        retryDelayOnTryAgain: 100,
        maxRedirections: 32,
        slotsRefreshTimeout: 2000,
        redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 1000 },
      });
    } else {
      const n = spec.nodes[0]!;
      this.client = new Redis({ host: n.host, port: n.port, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy });
    }
    defineScripts(this.client);
    this.client.on('error', (e: Error) => { this.stats.errors++; this.lastError = e.message; });
    this.client.on('ready', () => { this.stats.up = true; this.kick(); });
    this.client.on('close', () => { this.stats.up = this.ready; });
    this.client.on('end', () => { this.stats.up = false; });
  }

  /** Resolves true once connected, false after `timeoutMs` without a connection (the run goes on). */
  connected(timeoutMs = 2000): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((res) => {
      const done = (ok: boolean): void => { clearTimeout(t); this.client.off('ready', onReady); res(ok); };
      const onReady = (): void => done(true);
      const t = setTimeout(() => done(this.ready), timeoutMs);
      this.client.on('ready', onReady);
    });
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  get lastErrorMessage(): string {
    return this.lastError;
  }

  /** A baseline on this store (see fleetBaseline). */
  baseline(opts: Omit<BaselineOptions, 'path' | 'backend'> = {}): BaselineStore {
    return fleetBaseline(this, opts);
  }

  /** The baseline's backend on this store (BaselineStore.open({ backend })). */
  factBackend(): FactBackend {
    return new RedisFactBackend(this);
  }

  /** Called with each fact value the store reports (answers to reads and to writes). */
  onFact(l: FactListener): void {
    this.listeners.push(l);
  }

  private emitFact(key: string, v: number): void {
    for (const l of this.listeners) l(key, v);
  }

  private push(op: Op): void {
    if (this.queue.length >= this.o.maxBacklogCount) {
      // The oldest go: recent facts matter more to a sensor that is catching up.
      const over = this.queue.length - this.o.maxBacklogCount + 1;
      const lost = this.queue.splice(0, over);
      this.stats.dropped += lost.length;
      if (lost.some((l) => l.kind === 'get')) {
        for (const answered of this.asked.values()) answered();
        this.asked.clear();
      }
    }
    if (op.kind === 'get') this.reads.push(op);
    else this.queue.push(op);
    this.stats.pending = this.queue.length + this.reads.length;
    if (op.kind === 'get' || this.queue.length >= this.o.batchMaxCount) this.kick();
    else if (this.timer === null && !this.closed) this.timer = setTimeout(() => { this.timer = null; this.kick(); }, this.o.flushIntervalMs);
  }

  private kick(): void {
    if (this.flushing || !this.ready || this.queue.length + this.reads.length === 0) return;
    this.flushing = true;
    void this.flushLoop().finally(() => {
      this.flushing = false;
      if (this.queue.length + this.reads.length > 0 && this.ready) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length + this.reads.length > 0 && this.ready) {
      const batch = this.reads.splice(0, this.o.batchMaxCount);
      if (batch.length < this.o.batchMaxCount) for (const op of this.queue.splice(0, this.o.batchMaxCount - batch.length)) batch.push(op);
      this.stats.pending = this.queue.length + this.reads.length;
      await this.flushBatch(batch);
    }
  }

  /** One flush: every operation issued in the same tick (one pipeline per node), then WAIT. */
  private async flushBatch(batch: Op[]): Promise<void> {
    this.stats.flushes++;
    this.stats.roundTrips += this.isCluster ? Math.min(batch.length, this.masterCount()) : 1;
    const results = await Promise.allSettled(batch.map((op) => op.run(this.client)));
    let acked = true;
    if (this.o.replicas > 0 && results.some((r) => r.status === 'fulfilled')) acked = await this.waitReplicas();
    const again: Op[] = [];
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      const op = batch[i]!;
      if (r.status === 'rejected' || !acked) { again.push(op); continue; }
      this.count(op.kind);
      op.done(r.value);
    }
    if (again.length > 0) {
      this.stats.retried += again.length;
      // Back to the front, in order: a fact and its counter stay ahead of later operations.
      this.queue.unshift(...again.filter((o) => o.kind !== 'get'));
      this.reads.unshift(...again.filter((o) => o.kind === 'get'));
      this.stats.pending = this.queue.length + this.reads.length;
      if (!this.closed) await new Promise((res) => setTimeout(res, 100));
    }
  }

  private masterCount(): number {
    return this.isCluster ? Math.max(1, (this.client as Cluster).nodes('master').length) : 1;
  }

  /**
   * WAIT on every connected master: true when each has `replicas` replicas holding what we wrote.
   * A shard with fewer replicas online than asked (a replica died, or its master did and the
   * promoted replica has none yet) acknowledges with what it has (counted in degradedAcks), or a
   * sensor would queue forever behind a shard that cannot answer more.
   */
  private async waitReplicas(): Promise<boolean> {
    const nodes: Redis[] = this.isCluster ? (this.client as Cluster).nodes('master').filter((n) => n.status === 'ready') : [this.client as Redis];
    this.stats.roundTrips += nodes.length;
    try {
      const oks = await Promise.all(nodes.map(async (n) => {
        const acks = (await n.call('WAIT', this.o.replicas, this.o.waitTimeoutMs)) as number;
        if (acks >= this.o.replicas) return true;
        const role = (await n.call('ROLE')) as [string, number, unknown[]];
        const online = role[0] === 'master' && Array.isArray(role[2]) ? role[2].length : -1;
        if (online >= 0 && online < this.o.replicas && acks >= online) { this.stats.degradedAcks++; return true; }
        return false;
      }));
      if (oks.every((x) => x)) return true;
    } catch { /* a master that went away: counted below as a short wait */ }
    this.stats.shortWaits++;
    return false;
  }

  private count(kind: Op['kind']): void {
    if (kind === 'fact') this.stats.sharedFacts++;
    else if (kind === 'conn') this.stats.sharedConnections++;
    else if (kind === 'claim') this.stats.sharedClaims++;
    else if (kind === 'fold') this.stats.sharedFolds++;
  }

  // ---- baseline facts ----

  /** Share a fact written locally (`key` in lmdb form); counters are raised by their facts, not written. */
  writeFact(local: string, v: number): void {
    const fk = factKeys(local);
    if (fk === null || fk.op === 'count') return;
    const ttl = fk.op === 'min' ? '0' : String(this.o.factTtlMs);
    const counter = fk.counter ?? fk.key;
    this.push({
      kind: 'fact',
      run: (c) => s(c).ndrOnce(fk.key, counter, String(v), ttl, fk.counter ? '1' : '0'),
      done: (res) => {
        const [val, cnt] = res as [string, string];
        this.emitFact(local, Number(val));
        if (fk.counterLocal !== null && cnt !== '-1') this.emitFact(fk.counterLocal, Number(cnt));
      },
    });
  }

  /**
   * Ask the store for a fact this sensor does not hold; the answer arrives through onFact. The
   * promise of each new question is also kept for takeAsked() (the analytics' bounded wait).
   */
  fetchFact(local: string): void {
    if (this.asked.has(local) || this.asked.size > 100_000) return;
    const fk = factKeys(local);
    if (fk === null) return;
    let answered!: () => void;
    const p = new Promise<void>((res) => { answered = res; });
    this.asked.set(local, answered);
    if (this.ready) this.recent.push(p);
    this.push({
      kind: 'get',
      run: (c) => c.get(fk.key),
      done: (res) => {
        this.asked.delete(local);
        this.stats.fetchedOps++;
        if (typeof res === 'string') { this.stats.fetched++; this.emitFact(local, Number(res)); }
        answered();
      },
    });
  }

  /**
   * `p`, or nothing once `readWaitMs` have passed (counted in readTimeouts): a flow's analysis
   * waits that long at most for the store's answers, then goes on with what this sensor knows.
   */
  bounded(p: Promise<unknown>): Promise<unknown> {
    return new Promise((res) => {
      const t = setTimeout(() => { this.stats.readTimeouts++; res(undefined); }, this.o.readWaitMs);
      void p.then(() => { clearTimeout(t); res(undefined); });
    });
  }

  /** The answers asked for since the last call (none while the store is unreachable). */
  takeAsked(): Promise<void>[] {
    const r = this.recent;
    this.recent = [];
    return r;
  }

  // ---- beacons ----

  /**
   * One connection start of a pair. `id` names the connection (its Community ID), so a connection
   * two sensors both saw counts once. Once acknowledged, the pair is scored (see scoreLoop).
   */
  addConnection(host: string, dst: string, port: number, startS: number, bytes: number, id: string): void {
    const k = pairKeys(host, dst, port);
    const tag = k.t;
    this.push({
      kind: 'conn',
      run: (c) => s(c).ndrConn(k.t, k.v, String(startS), `${startS}:${bytes}:${id}`, String(this.o.beaconWindowS * 1000 * 2)),
      done: (res) => {
        const [v, held] = res as [number, number];
        // Below the connection gate the score is null whatever the timeline: nothing to score.
        if (held < BEACON_DEFAULTS.uniqueConnectionThreshold) return;
        const cur = this.toScore.get(tag);
        if (cur === undefined || cur.v < v) this.toScore.set(tag, { host, dst, port, v });
        this.kickScoring();
      },
    });
  }

  private kickScoring(): void {
    if (this.scoring || this.toScore.size === 0 || !this.ready) return;
    this.scoring = true;
    void this.scoreLoop().finally(() => { this.scoring = false; });
  }

  /**
   * Score the pairs this sensor appended to, each under the pair's lock (SET NX PX): one sensor
   * scores a pair at a time, from the whole shared timeline, and a scoring that already covers our
   * version makes ours unnecessary. A busy lock is tried again shortly; a lock left by a dead sensor
   * expires after 5 s.
   */
  private async scoreLoop(): Promise<void> {
    while (this.toScore.size > 0 && this.ready) {
      const busy: [string, { host: string; dst: string; port: number; v: number }][] = [];
      const round = [...this.toScore];
      await Promise.all(round.map(async ([tag, p]) => {
        try {
          const state = await this.scoreOne(p);
          if (state === 'busy') busy.push([tag, p]);
          else if (this.toScore.get(tag) === p) this.toScore.delete(tag);
        } catch {
          busy.push([tag, p]);
        }
      }));
      if (busy.length > 0) await new Promise((res) => setTimeout(res, 20));
    }
  }

  private async scoreOne(p: { host: string; dst: string; port: number; v: number }): Promise<'done' | 'busy'> {
    const k = pairKeys(p.host, p.dst, p.port);
    const c = s(this.client);
    const claim = await c.ndrScoreClaim(k.lock, k.sv, String(p.v), this.sensorId, '5000');
    if (claim === 0) return 'done';
    if (claim === -1) { this.stats.scoreBusy++; return 'busy'; }
    const out = await c.ndrScoreRead(k.t, k.v, String(this.o.beaconWindowS), String(this.o.maxTsPerPairCount));
    const version = Number(out[0]);
    const ts: number[] = [];
    const bytes: number[] = [];
    for (let i = 1; i < out.length; i++) {
      const m = out[i]!;
      const a = m.indexOf(':');
      const b = m.indexOf(':', a + 1);
      ts.push(Number(m.slice(0, a)));
      bytes.push(Number(m.slice(a + 1, b)));
    }
    // Members sort by start and then by name, so equal starts may come in any byte order: only
    // the starts are in order, the bytes are sorted here.
    bytes.sort((x, y) => x - y);
    const last = ts.length > 0 ? ts[ts.length - 1]! : 0;
    const first = ts.length > 0 ? ts[0]! : 0;
    // The pair's own window (its latest connection back 24 h): the score then depends on the
    // pair's connections only, not on when other pairs' connections reached the store.
    const info = scoreSortedBeacon(ts, bytes, Math.max(first, last - this.o.beaconWindowS), last);
    const rec: FleetBeacon | null = info === null ? null : { ...info, host: p.host, dst: p.dst, port: p.port, version, scoredBy: this.sensorId };
    await c.ndrScorePut(k.lock, k.s, k.sv, this.sensorId, JSON.stringify(rec), String(version), String(this.o.beaconWindowS * 1000 * 2));
    this.stats.scorings++;
    return version >= p.v ? 'done' : 'busy';
  }

  /** Every pair score in the store (SCAN over each master). */
  async beaconScores(): Promise<FleetBeacon[]> {
    const out: FleetBeacon[] = [];
    const nodes: Redis[] = this.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    for (const n of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await n.scan(cursor, 'MATCH', 'ndr:{b:*}:s', 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const j = await this.client.get(key);
          if (j !== null && j !== 'null') out.push(JSON.parse(j) as FleetBeacon);
        }
      } while (cursor !== '0');
    }
    return out.sort((a, b) => a.host.localeCompare(b.host) || a.dst.localeCompare(b.dst) || a.port - b.port);
  }

  // ---- alerts ----

  /**
   * Claim an alert for the fleet. `decide(true)` when this occurrence raised it fleet-wide (emit
   * it), `decide(false)` when another sensor already did. Unreachable or slow store: decided true
   * at once or after claimWaitMs (emitted locally, counted), and the claim stays queued so the
   * fleet learns of it when the store is back.
   */
  claimAlert(id: string, occurrence: string, json: string, decide: (emit: boolean) => void): void {
    let decided = false;
    const once = (emit: boolean, local: boolean): void => {
      if (decided) return;
      decided = true;
      if (local) this.stats.alertsLocal++;
      else if (!emit) this.stats.alertsFleetFolded++;
      decide(emit);
    };
    const k = alertKeys(id);
    this.push({ kind: 'claim', run: (c) => s(c).ndrClaim(k.c, k.f, k.j, occurrence, String(this.o.dedupWindowMs), json), done: (res) => once(Number(res) === 1, false) });
    if (!this.ready) once(true, true);
    else setTimeout(() => once(true, true), this.o.claimWaitMs).unref();
  }

  /** A later occurrence of an alert this sensor raised or folded. */
  foldAlert(id: string, occurrence: string): void {
    const k = alertKeys(id);
    this.push({ kind: 'fold', run: (c) => s(c).ndrFold(k.f, occurrence, String(this.o.dedupWindowMs)), done: () => {} });
  }

  /** Fleet-wide occurrence count of an alert (0 when unknown). */
  async alertCount(id: string): Promise<number> {
    return this.client.scard(alertKeys(id).f);
  }

  /** Every alert raised in the fleet with its fleet-wide count. */
  async alerts(): Promise<{ alert: unknown; count: number }[]> {
    const out: { alert: unknown; count: number }[] = [];
    const nodes: Redis[] = this.isCluster ? (this.client as Cluster).nodes('master') : [this.client as Redis];
    for (const n of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await n.scan(cursor, 'MATCH', 'ndr:{a:*}:j', 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const j = await this.client.get(key);
          if (j === null) continue;
          const id = key.slice('ndr:{a:'.length, key.indexOf('}'));
          out.push({ alert: JSON.parse(j) as unknown, count: await this.alertCount(id) });
        }
      } while (cursor !== '0');
    }
    return out;
  }

  // ---- lifecycle ----

  /**
   * Wait (at most `timeoutMs`) until every queued operation is acknowledged and every pair this
   * sensor appended to is scored. Returns the operations and pairs still unshared.
   */
  async settle(timeoutMs = 10_000): Promise<{ unsharedOps: number; unscoredPairs: number }> {
    const deadline = Date.now() + timeoutMs;
    // Once a settle gave up on an unreachable store, later ones (finish, then close) do not wait again.
    let downSince = this.gaveUp ? Date.now() - this.o.reconnectWaitMs - 1 : -1;
    while (Date.now() < deadline) {
      // A store that stays away this long is not waited for: what is queued is reported unshared.
      if (!this.ready) {
        if (downSince < 0) downSince = Date.now();
        else if (Date.now() - downSince > this.o.reconnectWaitMs) { this.gaveUp = true; break; }
      } else { downSince = -1; this.gaveUp = false; }
      this.kick();
      this.kickScoring();
      if (this.queue.length + this.reads.length === 0 && !this.flushing && this.toScore.size === 0 && !this.scoring) break;
      await new Promise((res) => setTimeout(res, 10));
    }
    return { unsharedOps: this.queue.length + this.reads.length, unscoredPairs: this.toScore.size };
  }

  async close(timeoutMs = 10_000): Promise<{ unsharedOps: number; unscoredPairs: number }> {
    if (this.closed) return { unsharedOps: this.queue.length + this.reads.length, unscoredPairs: this.toScore.size };
    const left = await this.settle(timeoutMs);
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.client.disconnect();
    return left;
  }
}

/** The baseline's facts in the fleet's Redis (see BaselineStore: the tables are the local cache). */
export class RedisFactBackend implements FactBackend {
  readonly kind = 'redis' as const;
  readonly fleet: FleetStore;

  constructor(fleet: FleetStore) {
    this.fleet = fleet;
  }

  /** Never known at once: the store is asked, and its answer reaches the tables through remote(). */
  read(k: string): number | undefined {
    this.fleet.fetchFact(k);
    return undefined;
  }

  write(k: string, v: number): void {
    this.fleet.writeFact(k, v);
  }

  writeDirty(): void {}

  async flushed(): Promise<void> {
    await this.fleet.settle();
  }

  async close(): Promise<void> {
    await this.fleet.close();
  }
}

/**
 * A baseline whose facts live in the fleet store: the tables cache what this sensor learned or
 * was told, and every answer of the store (to a read or to a write) updates them.
 */
export function fleetBaseline(fleet: FleetStore, opts: Omit<BaselineOptions, 'path' | 'backend'> = {}): BaselineStore {
  const store = BaselineStore.open({ ...opts, backend: fleet.factBackend() });
  fleet.onFact((k, v) => store.remote(k, v));
  return store;
}
