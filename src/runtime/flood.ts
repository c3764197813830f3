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
import type { Flow } from '../flow/flow.js';
import { flowEnd, flowStart } from '../flow/finalize.js';
import { addrText } from '../decode/packet-meta.js';

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
}

/** How the server side answered a flow without payload (the summary's three counts). */
const Outcome = { Unanswered: 0, Rejected: 1, AnsweredEmpty: 2 } as const;
type Outcome = (typeof Outcome)[keyof typeof Outcome];

function outcomeOf(transport: FlowRecord['transport'], serverPackets: number, serverFlags: number): Outcome {
  if (serverPackets === 0) return Outcome.Unanswered;
  if (transport === 'tcp' && (serverFlags & RST) !== 0) return Outcome.Rejected;
  return Outcome.AnsweredEmpty;
}

/**
 * A (server, port) that one shed flow went to so far: what a scan leaves for most of its targets.
 * Smaller than a Group (no distinct sets), it becomes one when a second flow comes; at the close
 * a single flow counts in its client's source group, as a service group of one flow does.
 */
class Single {
  readonly at: number;
  readonly transport: FlowRecord['transport'];
  readonly server: string;
  readonly port: number;
  readonly client: string;
  readonly startTs: number;
  readonly endTs: number;
  readonly packets: number;
  readonly ipBytes: number;
  readonly outcome: Outcome;

  constructor(at: number, transport: FlowRecord['transport'], server: string, port: number, client: string, startTs: number, endTs: number, packets: number, ipBytes: number, outcome: Outcome) {
    this.at = at;
    this.transport = transport;
    this.server = server;
    this.port = port;
    this.client = client;
    this.startTs = startTs;
    this.endTs = endTs;
    this.packets = packets;
    this.ipBytes = ipBytes;
    this.outcome = outcome;
  }

  /** Count this flow into `g`. */
  into(g: Group, max: number): void {
    g.add(this.startTs, this.endTs, this.packets, this.ipBytes, this.outcome, this.client, this.server, this.port, max);
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
  /** service: the server and its port (the summary's `server`); otherwise '' and 0. */
  readonly serverIp: string;
  readonly serverPort: number;
  readonly client: string | null;

  constructor(transport: FlowRecord['transport'], serverIp: string, serverPort: number, client: string | null) {
    this.transport = transport;
    this.serverIp = serverIp;
    this.serverPort = serverPort;
    this.client = client;
  }

  add(startTs: number, endTs: number, packets: number, ipBytes: number, outcome: Outcome, client: string, server: string, port: number, max: number): void {
    this.flows++;
    if (startTs < this.firstTs) this.firstTs = startTs;
    if (endTs > this.lastTs) this.lastTs = endTs;
    this.packets += packets;
    this.ipBytes += ipBytes;
    if (outcome === Outcome.Unanswered) this.unanswered++;
    else if (outcome === Outcome.Rejected) this.rejected++;
    else this.answeredEmpty++;
    this.clients.add(client, max);
    this.servers.add(server, max);
    this.ports.add(port, max);
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
      server: scope === 'service' ? { ip: this.serverIp, port: this.serverPort } : null,
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
  /**
   * The interval's groups per level. A flood makes a new (server, port) group for most of its
   * flows, so the look-up takes no key built per flow: service groups by the server's address text
   * (the flow's own, shared by every flow of that host) and then by port and transport as one small
   * integer; source groups by transport and then the client's address text. The summaries go out
   * in the order the groups were made, which the lists keep.
   */
  private service = new Map<string, Map<number, Group | Single>>();
  private serviceList: (Group | Single)[] = [];
  private source: [Map<string, Group>, Map<string, Group>] = [new Map(), new Map()];
  private sourceList: Group[] = [];
  private other = new Map<string, Group>();
  readonly stats: FloodStats = { shed: 0, summaries: 0, floodIntervals: 0 };

  constructor(opts: Partial<FloodOptions>, emit: (s: FloodSummary) => void) {
    this.opts = { ...DEFAULT_FLOOD_OPTIONS, ...opts };
    this.emit = emit;
    this.threshold = Math.floor((this.opts.emptyFlowsPerSecond * this.opts.intervalMs) / 1000);
  }

  /** Groups held now (all levels), for the state metrics. */
  get size(): number {
    return this.serviceList.length + this.sourceList.length + this.other.size;
  }

  /** Move the clock to a flow's end; the interval it passes closes first. */
  private tick(endTs: number): void {
    if (endTs > this.clock) {
      this.clock = endTs;
      if (this.clock >= this.intervalStart + this.opts.intervalMs) {
        this.close();
        this.intervalStart = this.clock - (this.clock % this.opts.intervalMs);
      }
    }
  }

  /** One more empty flow: true when it is over the interval's rate (to be shed). */
  private over(): boolean {
    if (++this.empty <= this.threshold) return false;
    if (this.empty === this.threshold + 1) this.stats.floodIntervals++;
    this.stats.shed++;
    return true;
  }

  /**
   * Take `r` into a summary (true: the caller drops it) or leave it to be written (false).
   * Also moves the clock, which may close the interval and emit its summaries first.
   */
  offer(r: FlowRecord): boolean {
    if (!this.opts.enabled) return false;
    this.tick(r.endTs);
    if (!isEmptyFlow(r) || !this.over()) return false;
    const [c, s] = r.dirs;
    this.shed(r.transport, r.server.ip, r.server.port, r.client.ip, r.startTs, r.endTs, c.packets + s.packets, c.ipBytes + s.ipBytes, outcomeOf(r.transport, s.packets, s.tcpFlags));
    return true;
  }

  /**
   * offer() for a flow whose record is not built yet, read from the flow itself: under a flood
   * most flows are shed, and their records (Community ID's SHA-1, address texts, counters, the
   * classifiers) were built only to be dropped. Decides as offer() would on the record finalizeFlow
   * makes: a flow without payload, dissector or event has a record without payload or event. It
   * sheds only what offer() would shed; for everything else it has moved the clock alone (as
   * offer() then does again, to no effect) and returns false, leaving the flow to its record.
   */
  offerFlow(f: Flow): boolean {
    if (!this.opts.enabled) return false;
    const a = f.toServer;
    const b = f.toClient;
    if (a.bytes !== 0 || b.bytes !== 0 || (f.events !== null && f.events.length > 0) || f.spec !== null || f.earlier !== null) return false;
    const startTs = flowStart(f);
    const endTs = flowEnd(f, startTs);
    this.tick(endTs);
    // Under the rate offer() counts the flow when its record comes.
    if (this.empty < this.threshold) return false;
    this.over();
    const v = f.ipVersion;
    const transport = f.proto === 6 ? 'tcp' : 'udp';
    const server = addrText(v, f.b0, f.b1, f.b2, f.b3);
    // The client's text is made only where it is counted or kept: a SYN flood's clients are all
    // new, and past distinctMax of them its service group no longer counts them.
    this.from = f;
    this.shed(transport, server, f.bPort, null, startTs, endTs, a.packets + b.packets, a.ipBytes + b.ipBytes, outcomeOf(transport, b.packets, b.flags));
    this.from = null;
    return true;
  }

  /** The flow offerFlow is shedding, whose client text shed() makes when it needs it. */
  private from: Flow | null = null;

  private clientOf(client: string | null): string {
    if (client !== null) return client;
    const f = this.from as Flow;
    return addrText(f.ipVersion, f.a0, f.a1, f.a2, f.a3);
  }

  /** Count a shed flow in its (server, port) group, or its client's once those are full. */
  private shed(transport: FlowRecord['transport'], server: string, port: number, client: string | null, startTs: number, endTs: number, packets: number, ipBytes: number, outcome: Outcome): void {
    const max = this.opts.distinctMax;
    const key = port * 2 + (transport === 'tcp' ? 0 : 1);
    let ports = this.service.get(server);
    const e = ports?.get(key);
    if (e === undefined) {
      const c = this.clientOf(client);
      if (this.serviceList.length >= this.opts.maxGroups) {
        this.sourceGroup(transport, c).add(startTs, endTs, packets, ipBytes, outcome, c, server, port, max);
        return;
      }
      const one = new Single(this.serviceList.length, transport, server, port, c, startTs, endTs, packets, ipBytes, outcome);
      if (ports === undefined) this.service.set(server, (ports = new Map()));
      ports.set(key, one);
      this.serviceList.push(one);
      return;
    }
    let g: Group;
    if (e instanceof Single) {
      g = new Group(transport, server, port, null);
      e.into(g, max);
      (ports as Map<number, Group | Single>).set(key, g);
      this.serviceList[e.at] = g;
    } else g = e;
    // A capped count takes no more values: its client is not needed.
    g.add(startTs, endTs, packets, ipBytes, outcome, g.clients.capped ? '' : this.clientOf(client), server, port, max);
  }

  private sourceGroup(transport: FlowRecord['transport'], client: string): Group {
    const byClient = this.source[transport === 'tcp' ? 0 : 1];
    let g = byClient.get(client);
    if (g === undefined) {
      if (this.sourceList.length >= this.opts.maxGroups) return this.otherGroup(transport);
      g = new Group(transport, '', 0, client);
      byClient.set(client, g);
      this.sourceList.push(g);
    }
    return g;
  }

  private otherGroup(transport: FlowRecord['transport']): Group {
    let g = this.other.get(transport);
    if (g === undefined) this.other.set(transport, (g = new Group(transport, '', 0, null)));
    return g;
  }

  /** Emit the current interval's summaries and start empty. */
  close(): void {
    const max = this.opts.distinctMax;
    const out: [FloodScope, Group][] = [];
    for (const g of this.serviceList) {
      if (g instanceof Single) g.into(this.sourceGroup(g.transport, g.client), max);
      else out.push(['service', g]); // made by a second flow
    }
    // Source groups made by the merges above are in the list too, after those made by offers.
    for (const g of this.sourceList) {
      if (g.flows > 1) out.push(['source', g]);
      else this.otherGroup(g.transport).merge(g, max);
    }
    for (const g of this.other.values()) out.push(['other', g]);
    this.service = new Map();
    this.serviceList = [];
    this.source = [new Map(), new Map()];
    this.sourceList = [];
    this.other = new Map();
    this.empty = 0;
    for (const [scope, g] of out) {
      this.stats.summaries++;
      this.emit(g.summary(scope, this.intervalStart, this.opts.intervalMs));
    }
  }
}
