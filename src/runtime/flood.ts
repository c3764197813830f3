/**
 * Flood shedding (issue 25). A flood, a scan or a NAT gateway's churn produces flows that never
 * carry a byte of payload (SYNs nobody answers, SYNs answered by RST, UDP datagrams without data).
 * Written and analysed one by one they cost the output and the analytics far more than they tell
 * an analyst, and an attacker can send them on purpose to blind the sensor. So, per interval of
 * packet time, once more of them arrive than the configured rate allows, the rest are not written
 * or analysed but counted into summaries, each an ECS document of its own:
 *
 *  - service: one server port many flows went to (a SYN flood, a service refusing a crowd);
 *  - source: one client whose flows went to many servers or ports (a horizontal or vertical scan);
 *  - other: what is left, per transport (random sources to random targets).
 *
 * Flows are first grouped by (transport, server, port). When the interval closes, groups that
 * stand for a single flow are folded into their client's source group, and source groups of a
 * single flow into the transport's "other" group: a scan, whose every (server, port) is hit once,
 * becomes one document about its source rather than a million about its targets. Every shed flow
 * is counted in exactly one summary (`flows`), so written flows + the summaries' counts = flows.
 *
 * Flows with payload are never shed: the beacon tracker, the baselines and the analytics still see
 * every connection that carried data, however many empty ones surround it. Flows that raised a
 * named event (a malformed header, a limit) are written too: an anomaly is worth its record.
 *
 * The clock is the newest flow end seen (packet time), so it only moves forward; the current
 * interval closes when that clock passes its end, and at finish(). State is one interval's groups,
 * bounded by maxGroups per level and distinctMax values per group (beyond which the distinct
 * counts are lower bounds, flagged `distinctCapped`).
 */
import type { FloodScope, FloodSummary, FlowRecord } from '../flow/record.js';

export interface FloodOptions {
  /** Shed at all (false: every flow is written as without this stage). */
  enabled: boolean;
  /** Flows without payload per second of packet time written individually before shedding starts. */
  emptyFlowsPerSecond: number;
  /** Length of one summary interval, packet time. */
  intervalMs: number;
  /** Most groups kept per level and interval (service, source); more overflow to the next level. */
  maxGroups: number;
  /** Most distinct clients, servers or ports counted exactly per group. */
  distinctMax: number;
}

export const DEFAULT_FLOOD_OPTIONS: FloodOptions = {
  enabled: true,
  emptyFlowsPerSecond: 1000,
  intervalMs: 10_000,
  maxGroups: 65_536,
  distinctMax: 65_536,
};

export type { FloodScope, FloodSummary } from '../flow/record.js';

const RST = 4;

/** Distinct values: the first one held bare, a set only once a second value shows up. */
class Distinct<T> {
  private one: T | undefined = undefined;
  private set: Set<T> | null = null;
  capped = false;

  add(v: T, max: number): void {
    // Once capped the count is a lower bound and stays one: no more look-ups.
    if (this.capped) return;
    if (this.set !== null) {
      if (this.set.size < max) this.set.add(v);
      else if (!this.set.has(v)) this.capped = true;
    } else if (this.one === undefined) this.one = v;
    else if (this.one !== v) {
      if (max < 2) { this.capped = true; return; }
      this.set = new Set([this.one, v]);
    }
  }

  merge(o: Distinct<T>, max: number): void {
    if (o.set !== null) for (const v of o.set) this.add(v, max);
    else if (o.one !== undefined) this.add(o.one, max);
    if (o.capped) this.capped = true;
  }

  get size(): number {
    return this.set !== null ? this.set.size : this.one === undefined ? 0 : 1;
  }

  /** The first value added (undefined while empty). */
  get first(): T | undefined {
    return this.one ?? this.set?.values().next().value;
  }
}

class Group {
  flows = 0;
  firstTs = Infinity;
  lastTs = -Infinity;
  packets = 0;
  ipBytes = 0;
  unanswered = 0;
  rejected = 0;
  answeredEmpty = 0;
  readonly clients = new Distinct<string>();
  readonly servers = new Distinct<string>();
  readonly ports = new Distinct<number>();
  readonly transport: FlowRecord['transport'];
  readonly server: { ip: string; port: number } | null;
  readonly client: string | null;

  constructor(transport: FlowRecord['transport'], server: { ip: string; port: number } | null, client: string | null) {
    this.transport = transport;
    this.server = server;
    this.client = client;
  }

  add(r: FlowRecord, max: number): void {
    this.flows++;
    if (r.startTs < this.firstTs) this.firstTs = r.startTs;
    if (r.endTs > this.lastTs) this.lastTs = r.endTs;
    const [c, s] = r.dirs;
    this.packets += c.packets + s.packets;
    this.ipBytes += c.ipBytes + s.ipBytes;
    if (s.packets === 0) this.unanswered++;
    else if (r.transport === 'tcp' && (s.tcpFlags & RST) !== 0) this.rejected++;
    else this.answeredEmpty++;
    this.clients.add(r.client.ip, max);
    this.servers.add(r.server.ip, max);
    this.ports.add(r.server.port, max);
  }

  merge(g: Group, max: number): void {
    this.flows += g.flows;
    if (g.firstTs < this.firstTs) this.firstTs = g.firstTs;
    if (g.lastTs > this.lastTs) this.lastTs = g.lastTs;
    this.packets += g.packets;
    this.ipBytes += g.ipBytes;
    this.unanswered += g.unanswered;
    this.rejected += g.rejected;
    this.answeredEmpty += g.answeredEmpty;
    this.clients.merge(g.clients, max);
    this.servers.merge(g.servers, max);
    this.ports.merge(g.ports, max);
  }

  summary(scope: FloodScope, intervalStart: number, intervalMs: number): FloodSummary {
    return {
      kind: 'flood',
      scope,
      transport: this.transport,
      server: scope === 'service' ? this.server : null,
      client: scope === 'source' ? this.client : null,
      intervalStart,
      intervalMs,
      flows: this.flows,
      firstTs: this.firstTs,
      lastTs: this.lastTs,
      packets: this.packets,
      ipBytes: this.ipBytes,
      clients: this.clients.size,
      servers: this.servers.size,
      ports: this.ports.size,
      distinctCapped: this.clients.capped || this.servers.capped || this.ports.capped,
      unanswered: this.unanswered,
      rejected: this.rejected,
      answeredEmpty: this.answeredEmpty,
    };
  }
}

/** True for a flow that never carried a byte of payload either way and raised no named event. */
export function isEmptyFlow(r: FlowRecord): boolean {
  return r.dirs[0].bytes === 0 && r.dirs[1].bytes === 0 && r.events.length === 0;
}

export interface FloodStats {
  /** Flows counted into summaries instead of being written. */
  shed: number;
  /** Summaries emitted. */
  summaries: number;
  /** Intervals in which shedding started. */
  floodIntervals: number;
}

export class FloodShedder {
  readonly opts: FloodOptions;
  private readonly emit: (s: FloodSummary) => void;
  private readonly threshold: number;
  private intervalStart = -Infinity;
  private clock = -Infinity;
  /** Empty flows seen in the current interval (written and shed). */
  private empty = 0;
  private service = new Map<string, Group>();
  private source = new Map<string, Group>();
  private other = new Map<string, Group>();
  readonly stats: FloodStats = { shed: 0, summaries: 0, floodIntervals: 0 };

  constructor(opts: Partial<FloodOptions>, emit: (s: FloodSummary) => void) {
    this.opts = { ...DEFAULT_FLOOD_OPTIONS, ...opts };
    this.emit = emit;
    this.threshold = Math.floor((this.opts.emptyFlowsPerSecond * this.opts.intervalMs) / 1000);
  }

  /** Groups held now (all levels), for the state metrics. */
  get size(): number {
    return this.service.size + this.source.size + this.other.size;
  }

  /**
   * Take `r` into a summary (true: the caller drops it) or leave it to be written (false).
   * Also moves the clock, which may close the interval and emit its summaries first.
   */
  offer(r: FlowRecord): boolean {
    if (!this.opts.enabled) return false;
    if (r.endTs > this.clock) {
      this.clock = r.endTs;
      if (this.clock >= this.intervalStart + this.opts.intervalMs) {
        this.close();
        this.intervalStart = this.clock - (this.clock % this.opts.intervalMs);
      }
    }
    if (!isEmptyFlow(r)) return false;
    if (++this.empty <= this.threshold) return false;
    if (this.empty === this.threshold + 1) this.stats.floodIntervals++;
    this.stats.shed++;
    const max = this.opts.distinctMax;
    const sk = `${r.transport}|${r.server.ip}|${r.server.port}`;
    let g = this.service.get(sk);
    if (g === undefined && this.service.size < this.opts.maxGroups) {
      g = new Group(r.transport, { ip: r.server.ip, port: r.server.port }, null);
      this.service.set(sk, g);
    }
    if (g === undefined) g = this.sourceGroup(r.transport, r.client.ip);
    g.add(r, max);
    return true;
  }

  private sourceGroup(transport: FlowRecord['transport'], client: string): Group {
    const k = `${transport}|${client}`;
    let g = this.source.get(k);
    if (g === undefined) {
      if (this.source.size >= this.opts.maxGroups) return this.otherGroup(transport);
      g = new Group(transport, null, client);
      this.source.set(k, g);
    }
    return g;
  }

  private otherGroup(transport: FlowRecord['transport']): Group {
    let g = this.other.get(transport);
    if (g === undefined) this.other.set(transport, (g = new Group(transport, null, null)));
    return g;
  }

  /** Emit the current interval's summaries and start empty. */
  close(): void {
    const max = this.opts.distinctMax;
    const out: [FloodScope, Group][] = [];
    for (const g of this.service.values()) {
      if (g.flows > 1) out.push(['service', g]);
      else this.sourceGroup(g.transport, g.clients.first ?? '').merge(g, max);
    }
    for (const g of this.source.values()) {
      if (g.flows > 1) out.push(['source', g]);
      else this.otherGroup(g.transport).merge(g, max);
    }
    for (const g of this.other.values()) out.push(['other', g]);
    this.service = new Map();
    this.source = new Map();
    this.other = new Map();
    this.empty = 0;
    for (const [scope, g] of out) {
      this.stats.summaries++;
      this.emit(g.summary(scope, this.intervalStart, this.opts.intervalMs));
    }
  }
}
