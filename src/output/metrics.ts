/**
 * Prometheus text exposition (format 0.0.4) over node:http (DESIGN §6): a small registry of
 * counters, gauges and histograms, `/metrics` and `/healthz`.
 *
 *   const m = new Registry();
 *   const pkts = m.counter('ndr_packets_total', 'Packets read from the capture source');
 *   pkts.inc(n);
 *   m.counter('ndr_alerts_total', 'Alerts raised', ['analytic']).labels({ analytic: 'AN0002' }).inc();
 *   const srv = await startMetricsServer('127.0.0.1:9108', { registry: m });
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Labels = Record<string, string>;

function escLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function escHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
function fmt(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
function labelText(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((n, i) => `${n}="${escLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Metric<Child> {
  protected readonly children = new Map<string, { values: string[]; child: Child }>();
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    if (!NAME_RE.test(name)) throw new Error(`metrics: bad metric name ${name}`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l === 'le') throw new Error(`metrics: bad label name ${l}`);
  }
  protected abstract make(): Child;
  abstract readonly type: string;
  /** The child for these label values (created on first use). */
  labels(l: Labels): Child {
    const values = this.labelNames.map((n) => {
      const v = l[n];
      if (v === undefined) throw new Error(`metrics: ${this.name}: missing label ${n}`);
      return v;
    });
    const key = values.join('\u0000');
    let e = this.children.get(key);
    if (!e) {
      e = { values, child: this.make() };
      this.children.set(key, e);
    }
    return e.child;
  }
  protected root(): Child {
    if (this.labelNames.length) throw new Error(`metrics: ${this.name} has labels: use .labels({...})`);
    return this.labels({});
  }
  abstract render(out: string[]): void;
  protected header(out: string[]): void {
    out.push(`# HELP ${this.name} ${escHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
  }
}

export class CounterChild {
  value = 0;
  inc(v = 1): void {
    if (!(v >= 0)) throw new Error('metrics: a counter only goes up');
    this.value += v;
  }
  /** Mirror a monotonic total kept elsewhere (kernel counters, loader stats). */
  setTotal(v: number): void {
    if (v > this.value) this.value = v;
  }
}

export class Counter extends Metric<CounterChild> {
  readonly type = 'counter';
  protected make(): CounterChild { return new CounterChild(); }
  inc(v = 1): void { this.root().inc(v); }
  setTotal(v: number): void { this.root().setTotal(v); }
  get value(): number { return this.root().value; }
  render(out: string[]): void {
    this.header(out);
    for (const { values, child } of this.children.values()) out.push(`${this.name}${labelText(this.labelNames, values)} ${fmt(child.value)}`);
  }
}

export class GaugeChild {
  value = 0;
  collect: (() => number) | null = null;
  set(v: number): void { this.value = v; }
  inc(v = 1): void { this.value += v; }
  dec(v = 1): void { this.value -= v; }
}

export class Gauge extends Metric<GaugeChild> {
  readonly type = 'gauge';
  protected make(): GaugeChild { return new GaugeChild(); }
  set(v: number): void { this.root().set(v); }
  inc(v = 1): void { this.root().inc(v); }
  dec(v = 1): void { this.root().dec(v); }
  get value(): number { return this.root().value; }
  /** Read the value at scrape time (e.g. the spool depth). */
  collectWith(fn: () => number): void { this.root().collect = fn; }
  render(out: string[]): void {
    this.header(out);
    for (const { values, child } of this.children.values()) {
      let v = child.value;
      if (child.collect) { try { v = child.collect(); } catch { v = NaN; } }
      out.push(`${this.name}${labelText(this.labelNames, values)} ${fmt(v)}`);
    }
  }
}

export class HistogramChild {
  readonly counts: number[];
  readonly bounds: readonly number[];
  sum = 0;
  count = 0;
  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= (this.bounds[i] as number)) { this.counts[i] = (this.counts[i] as number) + 1; break; }
  }
}

export const DEFAULT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

export class Histogram extends Metric<HistogramChild> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[]) {
    super(name, help, labelNames);
    this.buckets = buckets;
    for (let i = 1; i < buckets.length; i++) if (!((buckets[i] as number) > (buckets[i - 1] as number))) throw new Error(`metrics: ${name}: buckets must increase`);
  }
  protected make(): HistogramChild { return new HistogramChild(this.buckets); }
  observe(v: number): void { this.root().observe(v); }
  render(out: string[]): void {
    this.header(out);
    for (const { values, child } of this.children.values()) {
      let cum = 0;
      child.bounds.forEach((b, i) => {
        cum += child.counts[i] as number;
        out.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${fmt(b)}"`)} ${cum}`);
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${child.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${fmt(child.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${child.count}`);
    }
  }
}

type AnyMetric = Counter | Gauge | Histogram;

export class Registry {
  private readonly metrics = new Map<string, AnyMetric>();

  private add<M extends AnyMetric>(m: M): M {
    const old = this.metrics.get(m.name);
    if (old) {
      if (old.type !== m.type || old.labelNames.join() !== m.labelNames.join()) throw new Error(`metrics: ${m.name} already registered differently`);
      return old as M;
    }
    this.metrics.set(m.name, m);
    // Unlabelled metrics show from the start (value 0).
    if (m.labelNames.length === 0) m.labels({});
    return m;
  }

  counter(name: string, help: string, labels: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labels));
  }
  gauge(name: string, help: string, labels: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labels));
  }
  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS, labels: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, buckets, labels));
  }

  /** The whole registry in the Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.join('\n') + '\n';
  }
}

/** The process-wide registry. */
export const metrics = new Registry();

/** The sensor's standard metrics (DESIGN §6), registered once in `reg`. */
export function sensorMetrics(reg: Registry = metrics) {
  return {
    packets: reg.counter('ndr_packets_total', 'Packets read from the capture source'),
    bytes: reg.counter('ndr_bytes_total', 'Bytes (original length) read from the capture source'),
    kernelDrops: reg.counter('ndr_kernel_drops_total', 'Packets the kernel dropped before the sensor saw them (libpcap ps_drop + ps_ifdrop)'),
    userDrops: reg.counter('ndr_user_drops_total', 'Packets the sensor dropped in user space (queues full, limits)'),
    ringbufLost: reg.counter('ndr_ringbuf_lost_total', 'eBPF: packets not forwarded because the ring buffer was full'),
    kernelPackets: reg.counter('ndr_kernel_packets_total', 'eBPF: packets the kernel program saw (forwarded or only counted)'),
    mapFull: reg.counter('ndr_kernel_flow_insert_failures_total', 'eBPF: flows the kernel could not insert in its flow map'),
    flowsActive: reg.gauge('ndr_flows_active', 'Flows in the flow table'),
    flowsEvicted: reg.counter('ndr_flows_evicted_total', 'Flows ended early because the flow table was full'),
    flowsEvictedMemcap: reg.counter('ndr_flows_memcap_evicted_total', 'Flows ended early because the heap was over limits.heapMemcapMiB (also in ndr_flows_evicted_total)'),
    flowsEnded: reg.counter('ndr_flows_ended_total', 'Flows ended, by reason', ['reason']),
    dissectorEvents: reg.counter('ndr_dissector_events_total', 'Dissector and decoder events, by event id', ['event']),
    enrichLatency: reg.histogram('ndr_enrich_latency_seconds', 'EDR attribution round-trip time'),
    enrichFailures: reg.counter('ndr_enrich_failures_total', 'EDR attribution requests that failed or timed out'),
    spoolDepth: reg.gauge('ndr_spool_depth_records', 'Records waiting in the SIEM spool'),
    siemLost: reg.gauge('ndr_siem_lost_records', 'Records lost before reaching the SIEM (spool size limit, full or read-only spool disk)'),
    siemRejected: reg.gauge('ndr_siem_rejected_records', 'Records the SIEM collector acknowledged but refused to write (invalid ecs_json)'),
    alerts: reg.counter('ndr_alerts_total', 'Alerts raised, by analytic', ['analytic']),
    loaderRestarts: reg.counter('ndr_loader_restarts_total', 'eBPF loader restarts'),
    stateEntries: reg.gauge('ndr_state_entries', 'Entries held by a per-key structure after the flow table', ['structure']),
    stateCapacity: reg.gauge('ndr_state_capacity', 'Bound of a per-key structure after the flow table (sensor.yaml state.*)', ['structure']),
    stateEvictions: reg.counter('ndr_state_evictions_total', 'Entries a per-key structure dropped to stay within its bound', ['structure']),
    flowsShed: reg.counter('ndr_flows_shed_total', 'Flows without payload counted into flood summaries instead of being written and analysed'),
    outputLost: reg.counter('ndr_output_lost_lines_total', 'JSON lines the output file refused (disk full, I/O error)'),
    floodSummaries: reg.counter('ndr_flood_summaries_total', 'Flood summary documents written'),
    fleetShared: reg.counter('ndr_fleet_shared_total', 'Operations the fleet store acknowledged, by kind', ['kind']),
    fleetPending: reg.gauge('ndr_fleet_pending_operations', 'Operations queued for the fleet store and not yet acknowledged'),
    fleetDropped: reg.counter('ndr_fleet_dropped_total', 'Operations dropped from a full fleet-store backlog: never shared'),
    fleetRetried: reg.counter('ndr_fleet_retried_total', 'Fleet-store operations sent again (lost reply, failover, short WAIT)'),
    fleetAlertsLocal: reg.counter('ndr_fleet_alerts_local_total', 'Alerts emitted without the fleet store\'s answer (store unreachable or slow)'),
    fleetReadTimeouts: reg.counter('ndr_fleet_read_timeouts_total', 'Flows analysed before the fleet store answered their baseline reads'),
    fleetUp: reg.gauge('ndr_fleet_store_up', '1 while connected to the fleet store'),
  };
}

export interface MetricsServer {
  readonly port: number;
  readonly address: string;
  close(): Promise<void>;
}

/** Listen on `addr` (host:port; port 0 = any free port). `/metrics`, `/healthz`; anything else is 404. */
export async function startMetricsServer(
  addr: string,
  opts: { registry?: Registry; health?: () => { ok: boolean; detail?: string } } = {},
): Promise<MetricsServer> {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
  if (!m) throw new Error(`metrics: listen address must be host:port, got "${addr}"`);
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const reg = opts.registry ?? metrics;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      const body = reg.render();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else if (path === '/healthz') {
      const h = opts.health ? opts.health() : { ok: true };
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${h.ok ? 'ok' : 'unhealthy'}${h.detail ? `: ${h.detail}` : ''}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    }
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(Number(m[2]), host, () => { server.off('error', rej); res(); });
  });
  const a = server.address() as AddressInfo;
  return {
    port: a.port,
    address: a.address,
    close: () => new Promise<void>((res) => { server.close(() => res()); server.closeAllConnections(); }),
  };
}
