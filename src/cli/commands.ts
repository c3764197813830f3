/**
 * The CLI's commands: name, options (each documented for --help) and what they run.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_HEAP_MEMCAP_MIB, DEFAULT_MAX_FLOWS } from '../config/config.js';
import { fileURLToPath } from 'node:url';
import { openCaptureFile, openCaptureStream } from '../capture/pcap-file.js';
import { defaultReplayWorkers, holdYoungGeneration, isShortCapture, releaseYoungGeneration, replayWorkers, SHORT_CAPTURE_BYTES } from '../runtime/jit.js';
import { Pipeline } from '../runtime/pipeline.js';
import { dissectorSpecs } from '../../dissectors/index.js';
import type { ShardedRunner } from '../runtime/shard.js';
import { JsonLinesSink, Progress, Summary } from '../output/sinks.js';
import { buildStages } from '../runtime/stages.js';
import type { SiemClient } from '../output/siem-client.js';
import type { OtlpClient } from '../output/otlp.js';
import { ecsContext, EcsSerializer, OUTPUT_DETAILS, type OutputDetail } from '../output/ecs.js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from '../grpc/limits.js';
import type { TlsFiles } from '../grpc/tls.js';
import type { FlowRecord } from '../flow/record.js';
import type { Alert } from '../analytics/alert.js';
import { stderrLine, termSafe } from '../util/terminal.js';
import { isValidHostName } from '../util/hostname.js';
import { lazyRequire } from '../util/lazy-require.js';
import { codeCacheState } from '../util/code-cache.js';
import { parseHostPort } from '../config/config.js';
import { tlsOf } from '../../dissectors/tls/record.js';

/** The YAML parser, loaded when a command reads a file (most replays read none). */
const yaml = lazyRequire<typeof import('yaml')>('yaml');
const parseYaml = (text: string): unknown => yaml().parse(text);

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[];
  help: string;
}

export interface Command {
  name: string;
  usage: string;
  summary: string;
  options: Record<string, OptionSpec>;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

/** The repository root (dist/ or src/ sits one level below it). */
export function projectRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const cand of [join(here, '..'), join(here, '..', '..')]) {
    if (existsSync(join(cand, 'package.json'))) return cand;
  }
  return process.cwd();
}

/**
 * The replay's flow cap by default is the live sensor's (sensor.yaml limits.maxFlows): a replay of
 * a flood then holds no more flows than the sensor would, and its peak memory is the sensor's
 * (docs/PERFORMANCE.md, "floods").
 */
const REPLAY_MAX_FLOWS = DEFAULT_MAX_FLOWS;

const replayOptions: Record<string, OptionSpec> = {
  output: { type: 'string', short: 'o', default: '-', help: 'write JSON lines (flows and alerts) to this file; - is stdout' },
  sysmon: { type: 'string', multiple: true, help: 'Sysmon log(s) for the embedded reference EDR (JSON lines: Winlogbeat, ECS or flat; or EventData XML). Repeatable' },
  edr: { type: 'string', help: 'use a remote EDR over gRPC at host:port instead of the embedded one' },
  'ja4-plus': { type: 'boolean', default: false, help: 'also compute JA4S, JA4X, JA4T/JA4TS (FoxIO License 1.1; off by default)' },
  'no-dissector': { type: 'string', multiple: true, help: `turn a dissector off by name (${[...new Set(dissectorSpecs.map((s) => s.name))].join(', ')}); its flows are still counted. Repeatable` },
  'no-analytics': { type: 'boolean', default: false, help: 'flows only: do not run the five analytics' },
  baseline: { type: 'string', help: 'baseline store directory (lmdb); without it the baseline lives in memory for this run' },
  store: { type: 'string', help: 'share baselines, beacon timelines and alert dedup with a fleet: redis://host:port, or cluster seeds host:port,host:port (instead of --baseline)' },
  'analytics-config': { type: 'string', help: 'analytics lists, thresholds and allowlists: a YAML/JSON file holding the `analytics` section of sensor.yaml' },
  'alerts-only': { type: 'boolean', default: false, help: 'write alerts only (no flow records)' },
  'output-detail': { type: 'string', help: 'lean (default): each certificate and JA4 fingerprint described once a day in a document of its own, flows carry its key (SHA-256, ja4); full: everything in every flow document' },
  'no-shed': { type: 'boolean', default: false, help: 'write every flow even in a flood (by default, past 1,000 flows without payload a second they are summarised per server port or per scanning source)' },
  summary: { type: 'boolean', default: true, help: 'print the summary table on stderr at the end (--no-summary to omit)' },
  'no-summary': { type: 'boolean', default: false, help: 'do not print the summary table' },
  'max-flows': { type: 'string', help: `cap on tracked flows (default ${REPLAY_MAX_FLOWS}, as limits.maxFlows in sensor.yaml); the oldest idle flow is evicted and counted` },
  'memcap-mib': { type: 'string', help: `heap (MiB) live state may fill before the oldest flows are evicted (default ${DEFAULT_HEAP_MEMCAP_MIB}, as limits.heapMemcapMiB; 0: no memcap)` },
  'reassembly-depth': { type: 'string', help: 'bytes reassembled per TCP direction (default 32768)' },
  'fragment-overlap': { type: 'string', help: 'overlapping IP fragments: first (the bytes held stay; default), last (the newer replace them) or drop (the datagram is lost), as limits.fragmentOverlap' },
  quiet: { type: 'boolean', short: 'q', default: false, help: 'no progress bar' },
  siem: { type: 'string', help: 'also stream flows and alerts to a SIEM collector over gRPC at host:port (at-least-once, disk spool)' },
  spool: { type: 'string', default: '.ndr-spool', help: 'parent directory of the spool for records the SIEM has not acknowledged (one folder per replay, removed once everything is acknowledged)' },
  otlp: { type: 'string', help: 'also export flows and alerts as OpenTelemetry log records: host:port (OTLP/gRPC) or an http(s)://.../v1/logs URL (OTLP/HTTP)' },
  'otlp-protocol': { type: 'string', help: 'grpc or http (default: http for an http(s):// URL, else grpc)' },
  'sensor-id': { type: 'string', help: 'sensor identity on the SIEM feed and in the fleet store (default: a fresh unique replay-<host>-<random> per run; with mTLS give the CN of --tls-cert)' },
  'siem-timeout': { type: 'string', default: '30', help: 'seconds to wait at the end for the SIEM to acknowledge everything' },
  'tls-ca': { type: 'string', help: 'CA certificate (PEM) for mTLS to the EDR and SIEM' },
  'tls-cert': { type: 'string', help: 'client certificate (PEM) for mTLS' },
  'tls-key': { type: 'string', help: 'client key (PEM) for mTLS' },
  'tls-server-name': { type: 'string', help: 'name the EDR/SIEM certificate must carry when it is not the endpoint host (e.g. the endpoint is an IP address)' },
  'allow-plaintext-remote': { type: 'boolean', default: false, help: 'allow plaintext gRPC to a non-loopback address' },
  workers: { type: 'string', short: 'w', help: `flow shards by flow hash, each a worker thread, but with as many shards as cores this thread runs one (default: cores - 1, at least 1; here ${replayWorkers()}; 1 for capture files of ${SHORT_CAPTURE_BYTES >> 20} MiB or less); 1 = all in this thread` },
};

function intOpt(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}: expected a positive integer, got '${String(v)}'`);
  return n;
}

export async function runReplay(values: Record<string, unknown>, files: string[]): Promise<number> {
  if (files.length === 0) throw new Error('replay: give at least one capture file (or - for stdin)');
  // Each replay is a sensor of its own with a fresh spool (and so a fresh epoch): a collector
  // never takes a second replay's batches for resends of the first.
  const sensorId = (values['sensor-id'] as string | undefined) ?? `replay-${hostname()}-${randomBytes(4).toString('hex')}`;
  const analyticsConfig = values['analytics-config'] ? readAnalyticsConfig(values['analytics-config'] as string) : undefined;
  const internal = (analyticsConfig as { internalNetworks?: unknown } | undefined)?.internalNetworks;
  const ecs = ecsContext({ hostname: hostname(), name: sensorId }, Array.isArray(internal) ? internal.map(String) : undefined);
  const detail = (values['output-detail'] as string | undefined) ?? 'lean';
  if (!(OUTPUT_DETAILS as readonly string[]).includes(detail)) throw new UsageError(`--output-detail: expected lean or full, got '${detail}'`);
  // A full disk loses the lines it refuses, named once per cause; the replay goes on for the SIEM
  // feed, the analytics and the summary, and its exit status says lines were lost.
  let lastOutputError = '';
  const sink = new JsonLinesSink((values.output as string) ?? '-', ecs, {
    detail: detail as OutputDetail,
    onWriteError: (e) => {
      const why = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.message;
      if (why !== lastOutputError) stderrLine(`output: ${e.message}`);
      lastOutputError = why;
    },
  });
  // The SIEM feed's and OTLP's documents, written once for both: they receive the same records at
  // the same moment, so one described set serves the two (a certificate goes to both before its flow).
  const feedEcs = new EcsSerializer({
    ctx: ecs,
    detail: detail as OutputDetail,
    onRef: (json) => {
      siem?.publishDocument(json);
      otlp?.publishDocument(json);
    },
  });
  const summary = new Summary();
  const alertsOnly = values['alerts-only'] === true;
  const tls = tlsFiles(values);
  const log = stderrLine;
  const stages = await buildStages({
    sysmon: (values.sysmon as string[] | undefined) ?? [],
    edr: (values.edr as string | undefined) ?? null,
    analytics: values['no-analytics'] !== true,
    baseline: (values.baseline as string | undefined) ?? null,
    store: (values.store as string | undefined) ?? null,
    ...(values['sensor-id'] ? { sensorId: values['sensor-id'] as string } : {}),
    ...(analyticsConfig !== undefined ? { analyticsConfig } : {}),
    tls,
    allowPlaintextRemote: values['allow-plaintext-remote'] === true,
    log,
  });
  const spoolDir = join((values.spool as string | undefined) ?? '.ndr-spool', sensorId.replace(/[^A-Za-z0-9._-]/g, '_') + (values['sensor-id'] ? `-${Date.now()}` : ''));
  const siemTimeoutMs = (intOpt(values['siem-timeout'], 'siem-timeout') ?? 30) * 1000;
  // The gRPC and OpenTelemetry clients load only when asked for: their packages take longer to load
  // than a small capture takes to replay.
  const siem = values.siem ? new (await import('../output/siem-client.js')).SiemClient({ endpoint: values.siem as string, sensorId, spoolDir, tls, allowPlaintextRemote: values['allow-plaintext-remote'] === true, sectionContext: ecs, log }) : null;
  let siemOk = true;
  const otlpEndpoint = values.otlp as string | undefined;
  const otlpProtocol = (values['otlp-protocol'] as string | undefined) ?? (otlpEndpoint && /^https?:\/\//.test(otlpEndpoint) ? 'http' : 'grpc');
  if (otlpProtocol !== 'grpc' && otlpProtocol !== 'http') throw new UsageError(`--otlp-protocol: expected grpc or http, got '${otlpProtocol}'`);
  const otlpSpool = `${spoolDir}-otlp`;
  const otlp = otlpEndpoint
    ? new (await import('../output/otlp.js')).OtlpClient({ protocol: otlpProtocol, endpoint: otlpEndpoint, sensorId, spoolDir: otlpSpool, tls, allowPlaintextRemote: values['allow-plaintext-remote'] === true, log })
    : null;
  let otlpOk = true;
  const maxFlows = intOpt(values['max-flows'], 'max-flows') ?? REPLAY_MAX_FLOWS;
  const memcap = values['memcap-mib'] === '0' ? 0 : intOpt(values['memcap-mib'], 'memcap-mib') ?? DEFAULT_HEAP_MEMCAP_MIB;
  const depth = intOpt(values['reassembly-depth'], 'reassembly-depth');
  const overlap = (values['fragment-overlap'] as string | undefined) ?? 'first';
  if (overlap !== 'first' && overlap !== 'last' && overlap !== 'drop') throw new UsageError(`--fragment-overlap: expected first, last or drop, got '${overlap}'`);
  const disabledDissectors = (values['no-dissector'] as string[] | undefined) ?? [];
  const pipe = new Pipeline({
    ja4Plus: values['ja4-plus'] === true,
    disabledDissectors,
    limits: {
      table: { ...(maxFlows ? { maxFlowsCount: maxFlows } : {}), heapMemcapMiB: memcap },
      ...(depth ? { reassembly: { depthBytes: depth } } : {}),
      fragments: { overlap },
      // Only the full documents and the SIEM feed's records carry a named flow's payload entropy.
      features: { namedEntropy: detail === 'full' || siem !== null },
    },
    ...stages,
    ...(values['no-shed'] === true ? { flood: { enabled: false } } : {}),
    onFlow: (r) => {
      summary.flow(r);
      if (!alertsOnly) sink.flow(r);
      if (siem || otlp) {
        const doc = feedEcs.flow(r);
        siem?.publishFlow(r, doc);
        otlp?.publishFlow(doc);
      }
    },
    onFlood: (f) => {
      if (!alertsOnly) sink.flood(f);
      if (siem || otlp) {
        const doc = feedEcs.flood(f);
        siem?.publishFlood(f, doc);
        otlp?.publishFlood(doc);
      }
    },
    onAlert: (a) => {
      summary.alert(a);
      sink.alert(a);
      if (siem || otlp) {
        const doc = feedEcs.alert(a);
        siem?.publishAlert(a, doc);
        otlp?.publishAlert(doc);
      }
    },
  });
  const progress = new Progress(values.quiet !== true);
  const t0 = process.hrtime.bigint();
  // The start-up bench (bench/startup.ts) times process start to this point, where everything is
  // loaded and the first capture is about to be read: a wall-clock mark on stderr, only when asked.
  if (process.env.NDR_BENCH_MARK === '1') {
    const cpu = process.cpuUsage();
    process.stderr.write(`ndr-bench-mark ready ${(performance.timeOrigin + performance.now()).toFixed(3)} cpu ${((cpu.user + cpu.system) / 1000).toFixed(1)} code-cache ${codeCacheState()}\n`);
  }
  // A short capture (src/runtime/jit.ts) runs in this thread unless shards are asked for: each
  // worker is an isolate of its own that starts, compiles the engine without a code cache and warms
  // its own JIT, which costs more than a capture this small takes in one thread.
  const short = isShortCapture(files);
  const workers = intOpt(values.workers, 'workers') ?? defaultReplayWorkers(short);
  // The sharded runner (worker threads, the eBPF feed's plumbing) loads only when workers are used.
  const sharding = workers > 1 ? { ...(await import('../runtime/shard.js')), ...(await import('../runtime/replay.js')) } : null;
  const runner: ShardedRunner | null = sharding
    ? new sharding.ShardedRunner(pipe, workers, { ...sharding.workerInit({ ja4Plus: values['ja4-plus'] === true, limits: pipe.limits, disabledDissectors }), seqIds: !files.includes('-') }, { local: sharding.localShard(workers) })
    : null;
  let st = pipe.engine.stats;
  if (short) holdYoungGeneration();
  try {
    for (const f of files) {
      if (runner !== null && f !== '-') {
        await runner.runFile(f, (p) => progress.update(p, pipe.flowsOut));
        continue;
      }
      const src = f === '-' ? openCaptureStream(process.stdin, 'stdin') : openCaptureFile(f);
      if (runner) await runner.run(src, (p) => progress.update(p, pipe.flowsOut));
      else await pipe.run(src, (p) => progress.update(p, pipe.engine.table.size + pipe.flowsOut));
    }
  } finally {
    progress.done();
    if (runner) await runner.finish();
    await pipe.finish('eof');
    await pipe.close();
    await sink.close();
    if (siem) siemOk = await finishSiem(siem, spoolDir, siemTimeoutMs, log);
    if (otlp) otlpOk = await finishOtlp(otlp, otlpSpool, siemTimeoutMs, log);
    releaseYoungGeneration();
  }
  if (runner && sharding) st = sharding.mergeStats(runner);
  const truncated = pipe.truncated;
  for (const w of pipe.sourceWarnings) stderrLine(`warning: ${w}`);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (values.summary !== false && values['no-summary'] !== true) {
    const ev = [...st.events].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k}=${n}`).join(' ');
    process.stderr.write(summary.render([
      ['packets', `${st.packets} (${st.notIp} not IP, ${st.otherL4} other L4, ${st.malformed} malformed)`],
      ['time', `${secs.toFixed(2)} s, ${Math.round(st.packets / Math.max(secs, 1e-9)).toLocaleString('en')} packets/s`],
      ['flows evicted by the cap', st.flowsEvictedMemcap > 0 ? `${st.flowsEvicted} (${st.flowsEvictedMemcap} by the memcap)` : String(st.flowsEvicted)],
      ['flows summarised (flood)', `${pipe.flood.stats.shed} in ${pipe.flood.stats.summaries} summaries`],
      ['workers', String(workers)],
      ['events', ev || '(none)'],
      ['alerts', String(pipe.alertsOut)],
      ...fleetRows(stages.fleetStats?.() ?? null),
    ]) + '\n');
  }
  if (sink.lost > 0) stderrLine(`output: ${sink.lost} of ${sink.written} line(s) lost: ${String(values.output)} refused them (${lastOutputError})`);
  if (!siemOk || !otlpOk || sink.lost > 0) return 4;
  return truncated ? 3 : 0;
}

/** Waits for the OTLP receiver to take everything and says what did not make it (false then). */
async function finishOtlp(otlp: OtlpClient, spoolDir: string, timeoutMs: number, log: (l: string) => void): Promise<boolean> {
  const done = await otlp.flush(timeoutMs);
  const st = otlp.stats();
  await otlp.close(1000);
  const problems: string[] = [];
  if (!done) problems.push(`${st.spool.pendingBatches} batch(es) (up to ${st.spool.pendingRecords} records) not exported within the timeout (${st.lastError || 'no answer'}); they stay in ${spoolDir}`);
  if (st.rejected > 0) problems.push(`${st.rejected} record(s) refused by the receiver as malformed`);
  if (st.lost > 0) problems.push(`${st.lost} record(s) lost before export (spool full or not writable: ${st.spool.lastDiskError || 'size limit'})`);
  if (problems.length === 0) {
    rmSync(spoolDir, { recursive: true, force: true });
    log(`otlp: ${st.exportedRecords} record(s) exported`);
    return true;
  }
  for (const p of problems) log(`otlp: ${p}`);
  return false;
}

/**
 * Waits for the collector to acknowledge everything and says what did not make it. False when
 * records remain unacknowledged, were refused by the collector, or were lost on the way.
 */
async function finishSiem(siem: SiemClient, spoolDir: string, timeoutMs: number, log: (l: string) => void): Promise<boolean> {
  const acked = await siem.flush(timeoutMs);
  const st = siem.stats();
  await siem.close(1000);
  const problems: string[] = [];
  if (!acked) {
    problems.push(`${st.spool.pendingBatches} batch(es) (up to ${st.spool.pendingRecords} records) not acknowledged${st.permanentError ? `: the collector refused them (${st.permanentError})` : ' within the timeout'}; they stay in ${spoolDir}`);
  }
  if (st.rejected > 0) problems.push(`${st.rejected} record(s) refused by the collector (${Object.entries(st.rejectReasons).map(([k, v]) => `${k}: ${v}`).join(', ')})`);
  if (st.lost > 0) problems.push(`${st.lost} record(s) lost before delivery (spool full or not writable: ${st.spool.lastDiskError || 'size limit'})`);
  if (problems.length === 0) {
    rmSync(spoolDir, { recursive: true, force: true });
    log(`siem: ${st.published} record(s) delivered and acknowledged`);
    return true;
  }
  for (const p of problems) log(`siem: ${p}`);
  return false;
}

/** The fleet store's part of the replay summary: what was shared, and what could not be. */
function fleetRows(f: import('../analytics/fleet-store.js').FleetStats | null): [string, string][] {
  if (f === null) return [];
  return [
    ['fleet: shared', `${f.sharedConnections} connections, ${f.sharedFacts} facts, ${f.sharedClaims} alert claims, ${f.sharedFolds} repeats`],
    ['fleet: NOT shared', `${f.pending} still queued, ${f.dropped} dropped (backlog full)`],
    ['fleet: alerts', `${f.alertsLocal} emitted without the fleet, ${f.alertsFleetFolded} already raised elsewhere`],
    ['fleet: beacon pairs scored', `${f.scorings} (${f.scoreBusy} busy)`],
    ['fleet: round trips', `${f.roundTrips} in ${f.flushes} flushes, ${f.retried} operations retried, ${f.shortWaits} short WAITs, ${f.errors} errors`],
  ];
}

/** A compact human line per flow for the demo (unescaped: renderDemo escapes whole lines). */
function flowLine(r: FlowRecord): string {
  const who = r.attribution?.process?.name ? `${r.attribution.host?.name ?? '?'}/${r.attribution.process.name}` : '(unattributed)';
  const tls = tlsOf(r);
  const sni = tls?.sni != null && !isValidHostName(tls.sni) ? `${tls.sni} (invalid SNI)` : tls?.sni;
  const what = [r.protocol ?? r.transport, sni ?? r.dnsName, tls?.ja4, r.pubsub ? `pubsub:${r.pubsub.protocol}${r.pubsub.encrypted ? '/tls' : ''}` : null, r.encrypted?.suspicious ? 'encrypted:unknown' : null, r.beacon && r.beacon.score >= 0.7 ? `beacon:${r.beacon.score}` : null]
    .filter((x) => x).join(' ');
  return `  ${r.client.ip}:${r.client.port} -> ${r.server.ip}:${r.server.port}  ${what}  ${who}`;
}

/**
 * The demo listing: flows, then alerts with their explanation and evidence. Host, user, process
 * and destination names come from the capture and the Sysmon log, so every line is escaped.
 */
export function renderDemo(title: string, flows: readonly FlowRecord[], alerts: readonly Alert[], out: string): string {
  const lines = [title, '', `flows (${flows.length}):`];
  for (const f of flows) lines.push(flowLine(f));
  lines.push('', `alerts (${alerts.length}):`);
  for (const a of alerts) {
    lines.push(`  [${a.analytic}] ${a.severity.toUpperCase()} ${a.title}`);
    lines.push(`      ${a.host?.name ?? '?'} ${a.process?.executable ?? '?'} -> ${a.destination.name ?? a.destination.ip}:${a.destination.port}`);
    lines.push(`      ${a.explanation}`);
    lines.push(`      evidence: ${a.evidence.map((e) => `${e.signal}=${String(e.value)}`).join(', ')}`);
  }
  lines.push('', `ECS JSON lines of every flow and alert: ${out}`);
  return lines.map(termSafe).join('\n') + '\n';
}

async function runDemo(values: Record<string, unknown>): Promise<number> {
  const dir = join(projectRoot(), 'pcaps', 'demo');
  const cap = join(dir, 'demo.pcap');
  const sysmon = join(dir, 'sysmon.jsonl');
  if (!existsSync(cap) || !existsSync(sysmon)) throw new Error(`demo scenario missing: ${cap} and ${sysmon} (regenerate with: bin/ndr-lab gen demo, from a source checkout)`);
  const out = (values.output as string) ?? 'demo-output.jsonl';
  const { replayFiles } = await import('../runtime/replay.js');
  const { writeFileSync } = await import('node:fs');
  const cfgFile = join(dir, 'analytics-config.json');
  const r = await replayFiles([cap], { sysmon: [sysmon], ...(existsSync(cfgFile) ? { analyticsConfig: readAnalyticsConfig(cfgFile) } : {}) });
  // the default (lean) documents, as `replay -o` writes them: certificates described before the flows
  const lines: string[] = [];
  const ser = new EcsSerializer({ onRef: (json) => lines.push(json) });
  for (const f of r.flows) lines.push(ser.flow(f));
  for (const a of r.alerts) lines.push(ser.alert(a));
  writeFileSync(out, lines.join('\n') + '\n');
  process.stdout.write(renderDemo(`ndr-sensor demo: ${cap} with ${sysmon} (embedded reference EDR)`, r.flows, r.alerts, out));
  return 0;
}

/** The `analytics` section from a YAML or JSON file (the whole file when it has no such key). */
export function readAnalyticsConfig(path: string): unknown {
  const doc = parseYaml(readFileSync(path, 'utf8')) as Record<string, unknown> | null;
  return doc !== null && typeof doc === 'object' && 'analytics' in doc ? doc.analytics : doc;
}

function tlsFiles(v: Record<string, unknown>): TlsFiles | null {
  const ca = v['tls-ca'] as string | undefined;
  const cert = v['tls-cert'] as string | undefined;
  const key = v['tls-key'] as string | undefined;
  if (!ca && !cert && !key) return null;
  if (!ca || !cert || !key) throw new Error('mTLS needs all three of --tls-ca, --tls-cert and --tls-key');
  const serverName = v['tls-server-name'] as string | undefined;
  return { ca, cert, key, ...(serverName ? { serverName } : {}) };
}

/** Server limits shared by `edr serve` and `siem serve` (defaults: DEFAULT_SERVER_LIMITS). */
const limitOptions: Record<string, OptionSpec> = {
  config: { type: 'string', help: 'YAML file with a limits section (maxMessageMiB, maxConcurrentStreams, idleTimeoutS, keepaliveS, keepaliveTimeoutS, maxSessionMemoryMiB); the options below override it' },
  'max-message-mib': { type: 'string', help: `largest request message in MiB (default ${DEFAULT_SERVER_LIMITS.maxMessageBytes >> 20})` },
  'max-streams': { type: 'string', help: `concurrent streams per client connection (default ${DEFAULT_SERVER_LIMITS.maxConcurrentStreams})` },
  'idle-timeout-s': { type: 'string', help: `close a connection without calls after this many seconds (default ${DEFAULT_SERVER_LIMITS.idleTimeoutMs / 1000})` },
  'keepalive-s': { type: 'string', help: `ping a silent connection after this many seconds; drop it without an answer in ${DEFAULT_SERVER_LIMITS.keepaliveTimeoutMs / 1000} s (default ${DEFAULT_SERVER_LIMITS.keepaliveTimeMs / 1000})` },
};

/** Keys of the `limits` section of a serve command's --config file, with their bounds. */
const LIMIT_KEYS: Record<string, { key: keyof ServerLimits; scale: number; min: number; max: number }> = {
  maxMessageMiB: { key: 'maxMessageBytes', scale: 1048576, min: 1, max: 2047 },
  maxConcurrentStreams: { key: 'maxConcurrentStreams', scale: 1, min: 1, max: 100_000 },
  idleTimeoutS: { key: 'idleTimeoutMs', scale: 1000, min: 1, max: 86_400 },
  keepaliveS: { key: 'keepaliveTimeMs', scale: 1000, min: 1, max: 86_400 },
  keepaliveTimeoutS: { key: 'keepaliveTimeoutMs', scale: 1000, min: 1, max: 3600 },
  maxSessionMemoryMiB: { key: 'maxSessionMemoryMiB', scale: 1, min: 1, max: 65_536 },
};

/**
 * Server limits from a YAML file's `limits` section (every problem named by its key, unknown
 * keys refused), then the command-line options over them.
 */
export function serverLimitsFromFile(path: string): Partial<ServerLimits> {
  const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
  const problems: string[] = [];
  const l: Partial<ServerLimits> = {};
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`config: ${path}: expected a mapping with a limits section`);
  for (const k of Object.keys(doc)) if (k !== 'limits') problems.push(`config: ${k}: unknown key (a serve command's file holds only limits)`);
  const lim = (doc as Record<string, unknown>)['limits'];
  if (lim !== undefined && (lim === null || typeof lim !== 'object' || Array.isArray(lim))) problems.push('config: limits: expected a mapping');
  else if (lim) {
    for (const [k, v] of Object.entries(lim)) {
      const spec = Object.hasOwn(LIMIT_KEYS, k) ? LIMIT_KEYS[k] : undefined;
      if (!spec) {
        problems.push(`config: limits.${k}: unknown key (known: ${Object.keys(LIMIT_KEYS).join(', ')})`);
        continue;
      }
      if (typeof v !== 'number' || !Number.isInteger(v) || v < spec.min || v > spec.max) {
        problems.push(`config: limits.${k}: expected an integer in ${spec.min}..${spec.max}, got ${JSON.stringify(v)}`);
        continue;
      }
      l[spec.key] = v * spec.scale;
    }
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return l;
}

function serverLimits(v: Record<string, unknown>): Partial<ServerLimits> {
  const l: Partial<ServerLimits> = v.config ? serverLimitsFromFile(v.config as string) : {};
  const mib = intOpt(v['max-message-mib'], 'max-message-mib');
  if (mib !== undefined) l.maxMessageBytes = mib * 1048576;
  const streams = intOpt(v['max-streams'], 'max-streams');
  if (streams !== undefined) l.maxConcurrentStreams = streams;
  const idle = intOpt(v['idle-timeout-s'], 'idle-timeout-s');
  if (idle !== undefined) l.idleTimeoutMs = idle * 1000;
  const ka = intOpt(v['keepalive-s'], 'keepalive-s');
  if (ka !== undefined) l.keepaliveTimeMs = ka * 1000;
  return l;
}

const tlsOptions: Record<string, OptionSpec> = {
  'tls-ca': { type: 'string', help: 'CA certificate (PEM) that client certificates must chain to' },
  'tls-cert': { type: 'string', help: 'server certificate (PEM)' },
  'tls-key': { type: 'string', help: 'server key (PEM)' },
  'allow-plaintext-remote': { type: 'boolean', default: false, help: 'allow plaintext on a non-loopback listen address' },
};

/** Run a server until SIGINT/SIGTERM. */
async function serveUntilSignal(close: () => Promise<void>): Promise<number> {
  await new Promise<void>((res) => {
    process.once('SIGINT', () => res());
    process.once('SIGTERM', () => res());
  });
  await close();
  return 0;
}

export const commands: Command[] = [
  {
    name: 'baseline learn',
    usage: 'FILE... --baseline DIR [--sysmon FILE]...',
    summary: 'prime the baseline store from a replay (destinations per host and user, network-active images, library loads, JA4 prevalence)',
    options: {
      baseline: { type: 'string', help: 'baseline store directory (lmdb), created when missing' },
      sysmon: { type: 'string', multiple: true, help: 'Sysmon log(s) of the same window (embedded EDR)' },
    },
    async run(v, files) {
      if (!v.baseline) throw new UsageError('baseline learn: --baseline DIR is required');
      if (files.length === 0) throw new UsageError('baseline learn: give at least one capture file');
      const { replayFiles } = await import('../runtime/replay.js');
      const { learnFromFlows } = await import('../baseline/store.js');
      const r = await replayFiles(files, { sysmon: (v.sysmon as string[] | undefined) ?? [], withAnalytics: false });
      const n = await learnFromFlows(r.flows, { path: v.baseline as string });
      stderrLine(`baseline learn: ${n} flows learned into ${String(v.baseline)} (${r.flows.length} flows replayed)`);
      return r.truncated ? 3 : 0;
    },
  },
  {
    name: 'fleet show',
    usage: '--store redis://host:port|SEED,SEED...',
    summary: 'what a fleet shares: each scored beacon pair and each alert with its fleet-wide count (JSON lines on stdout)',
    options: {
      store: { type: 'string', help: 'the fleet store: redis://host:port, or cluster seeds host:port,host:port' },
    },
    async run(v) {
      if (!v.store) throw new UsageError('fleet show: --store is required');
      const { FleetStore } = await import('../analytics/fleet-store.js');
      const fleet = new FleetStore({ store: v.store as string, sensorId: 'fleet-show' });
      const out = new JsonLinesSink('-');
      try {
        if (!(await fleet.connected(5000))) throw new Error(`fleet show: ${String(v.store)} unreachable (${fleet.lastErrorMessage || 'no answer'})`);
        for (const b of await fleet.beaconScores()) out.record({ kind: 'beacon', ...b });
        for (const a of await fleet.alerts()) out.record({ kind: 'alert', fleetCount: a.count, alert: a.alert });
      } finally {
        await out.close();
        await fleet.close(1000);
      }
      return 0;
    },
  },
  {
    name: 'run',
    usage: '--config sensor.yaml [--iface IF]... [--source ebpf|pcap|auto] [--workers N]',
    summary: 'live capture on an interface (eBPF feed, libpcap fallback) with EDR enrichment, analytics, SIEM feed and metrics',
    options: {
      config: { type: 'string', short: 'c', help: 'sensor.yaml (see deploy/sensor.yaml); validated at start' },
      iface: { type: 'string', short: 'i', multiple: true, help: 'interface(s) to watch (overrides capture.interfaces)' },
      source: { type: 'string', help: 'capture source: ebpf, pcap or auto (overrides capture.source)' },
      workers: { type: 'string', short: 'w', help: 'flow worker threads, sharded by flow hash (overrides sensor.workers; default 1)' },
      'metrics-listen': { type: 'string', help: "metrics and health address HOST:PORT, '' for none (overrides metrics.listen; e.g. the pod IP in Kubernetes)" },
    },
    async run(v) {
      const src = v.source as string | undefined;
      const workers = intOpt(v.workers, 'workers');
      if (src !== undefined && src !== 'ebpf' && src !== 'pcap' && src !== 'auto') throw new UsageError(`--source: expected ebpf, pcap or auto, got '${src}'`);
      const metricsListen = v['metrics-listen'] as string | undefined;
      if (metricsListen !== undefined && metricsListen !== '' && parseHostPort(metricsListen) === null) throw new UsageError(`--metrics-listen: expected host:port, got '${metricsListen}'`);
      const { runLive } = await import('./run.js');
      return runLive({ configPath: (v.config as string | undefined) ?? null, ...(v.iface ? { iface: v.iface as string[] } : {}), ...(src ? { source: src } : {}), ...(workers !== undefined ? { workers } : {}), ...(metricsListen !== undefined ? { metricsListen } : {}) });
    },
  },
  {
    name: 'edr serve',
    usage: '--sysmon FILE... [--listen HOST:PORT] [--tail]',
    summary: 'the reference EDR: answers the EdrEnrichmentService gRPC service from Sysmon events (JSON lines or EventData XML)',
    options: {
      sysmon: { type: 'string', multiple: true, help: 'Sysmon log(s) to load (repeatable)' },
      listen: { type: 'string', default: '127.0.0.1:50051', help: 'listen address' },
      tail: { type: 'boolean', default: false, help: 'follow the files as they grow (live use)' },
      ...tlsOptions,
      ...limitOptions,
    },
    async run(v) {
      const sysmon = (v.sysmon as string[] | undefined) ?? [];
      if (sysmon.length === 0) throw new Error('edr serve: give at least one --sysmon FILE');
      const { startEdrServer } = await import('../enrich/edr-server.js');
      const h = await startEdrServer({ sysmon, listen: v.listen as string, tail: v.tail === true, tls: tlsFiles(v), allowPlaintextRemote: v['allow-plaintext-remote'] === true, serverLimits: serverLimits(v), log: stderrLine });
      stderrLine(`edr serve: listening on ${h.address}`);
      return serveUntilSignal(() => h.close());
    },
  },
  {
    name: 'siem serve',
    usage: '--out FILE [--listen HOST:PORT]',
    summary: 'the reference SIEM collector: acknowledges record batches and writes them as JSON lines',
    options: {
      out: { type: 'string', short: 'o', default: '-', help: 'JSON-lines file to append to (- = stdout)' },
      listen: { type: 'string', default: '127.0.0.1:50052', help: 'listen address' },
      state: { type: 'string', help: 'sequence state file, per sensor and epoch the highest batch written (default: OUT.state)' },
      ...tlsOptions,
      ...limitOptions,
    },
    async run(v) {
      const { startSiemServer } = await import('../grpc/siem-server.js');
      const h = await startSiemServer({
        out: v.out as string,
        listen: v.listen as string,
        tls: tlsFiles(v),
        allowPlaintextRemote: v['allow-plaintext-remote'] === true,
        limits: serverLimits(v),
        ...(v.state ? { stateFile: v.state as string } : {}),
        log: stderrLine,
      });
      stderrLine(`siem serve: listening on ${h.address}`);
      return serveUntilSignal(() => h.close());
    },
  },
  {
    name: 'demo',
    usage: '[--output FILE]',
    summary: 'replay the shipped demo scenario (pcaps/demo) through the embedded EDR and show flows and alerts',
    options: { output: { type: 'string', short: 'o', default: 'demo-output.jsonl', help: 'where to write the ECS JSON lines' } },
    run: runDemo,
  },
  {
    name: 'replay',
    usage: '[options] FILE... (pcap, pcapng or snoop, gzip-compressed or not; - reads stdin)',
    summary: 'replay capture files: flows, fingerprints, attribution and alerts as ECS JSON lines',
    options: replayOptions,
    run: runReplay,
  },
];
