/**
 * `ndr-sensor run`: the appliance job. One YAML config; live capture through the eBPF feed (or
 * libpcap, with the reason logged in one line); the pipeline with the remote EDR, analytics and
 * outputs (SIEM gRPC with spool, JSON lines); Prometheus metrics and a health endpoint.
 * SIGHUP reloads lists and allowlists; SIGTERM/SIGINT drain (open flows are flushed, what the
 * SIEM has not acknowledged stays in the spool) and exit.
 */
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { CaptureSource } from '../capture/source.js';
import { EbpfSource, type FlowEndRecord } from '../capture/ebpf.js';
import { openLiveSource } from '../capture/live.js';
import { ConfigError, loadConfig, reloadConfig, type SensorConfig } from '../config/config.js';
import { withoutDissectors } from '../dissect/registry.js';
import { dissectorSpecs } from '../../dissectors/index.js';
import { metrics, sensorMetrics, startMetricsServer, type MetricsServer } from '../output/metrics.js';
import { SiemClient } from '../output/siem-client.js';
import { OtlpClient } from '../output/otlp.js';
import { JsonLinesSink } from '../output/sinks.js';
import { ecsContext, EcsSerializer } from '../output/ecs.js';
import { addrToString } from '../decode/packet-meta.js';
import { Pipeline } from '../runtime/pipeline.js';
import { ShardedRunner } from '../runtime/shard.js';
import { workerInit } from '../runtime/replay.js';
import { buildStages } from '../runtime/stages.js';
import { stderrLine } from '../util/terminal.js';

export interface LiveOptions {
  configPath: string | null;
  /** Overrides of the config (CLI flags). */
  iface?: string[];
  source?: 'ebpf' | 'pcap' | 'auto';
  workers?: number;
  /** Overrides metrics.listen ('' = off). */
  metricsListen?: string;
  log?: (line: string) => void;
}

/**
 * A failure before capture starts (bad interface, refused plaintext, unreadable or unwritable
 * file, bad config). The CLI prints its message as the one line an operator or a supervisor's log
 * shows, and exits non-zero at once so `Restart=on-failure` and crash-loop back-off can act.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** The first line of a failure's message: libraries sometimes append detail on further lines. */
function oneLine(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return (m.split('\n')[0] ?? '').trim() || (e instanceof Error ? e.name : 'unknown failure');
}

export async function runLive(opts: LiveOptions): Promise<number> {
  const out = opts.log ?? stderrLine;
  // Progress lines of the start-up are held until capture runs: a start that fails shows its one
  // error line alone, not after "metrics on ..." lines for a sensor that never ran.
  let held: string[] | null = [];
  const log = (l: string): void => { if (held !== null) held.push(l); else out(l); };
  // What start-up has opened so far, closed in reverse when a later step fails: an open metrics
  // listener or gRPC channel would keep the process alive after the error was reported.
  const undo: (() => Promise<unknown> | unknown)[] = [];
  let started = false;
  try {
    return await startAndRun();
  } catch (e) {
    if (started) throw e;
    for (const u of undo.reverse()) {
      try { await u(); } catch { /* already failing: the first error is the one to report */ }
    }
    if (e instanceof ConfigError) throw e;
    throw new StartupError(oneLine(e));
  }

  async function startAndRun(): Promise<number> {
    let cfg: SensorConfig = opts.configPath ? loadConfig(opts.configPath) : (await import('../config/config.js')).defaultConfig();
    // Checked before anything is opened, and named by its key like every other config error.
    try { withoutDissectors(dissectorSpecs, cfg.dissectors.disabled); } catch (e) { throw new ConfigError([`config: dissectors.disabled: ${(e as Error).message}`]); }
    if (opts.metricsListen !== undefined) cfg = { ...cfg, metrics: { listen: opts.metricsListen } };
    const ifaces = opts.iface && opts.iface.length > 0 ? opts.iface : cfg.capture.interfaces;
    if (ifaces.length === 0) throw new Error('run: no interface: give --iface or capture.interfaces in the config');
    const source = opts.source ?? cfg.capture.source;
    const workers = opts.workers ?? cfg.sensor.workers;
    const m = sensorMetrics();

    const stages = await buildStages({
      sysmon: [],
      edr: cfg.edr.enabled ? cfg.edr.endpoint : null,
      analytics: true,
      baseline: cfg.baselines.path || null,
      store: cfg.baselines.store,
      sensorId: cfg.sensor.hostName || hostname(),
      tls: cfg.edr.tls,
      maxWaitMs: cfg.edr.timeoutMs,
      state: cfg.state,
      log,
    });
    undo.push(async () => { await stages.enrich?.close?.(); await stages.analytics?.close?.(); });
    // One context for both renderings: the JSON lines and the SIEM feed's typed records redact alike.
    const ecs = ecsContext({ hostname: hostname(), name: cfg.sensor.id || hostname() }, cfg.analytics.internalNetworks, cfg.output.redactQueryNames);
    const siem = cfg.siem.enabled
      ? new SiemClient({ endpoint: cfg.siem.endpoint, sensorId: cfg.sensor.id || hostname(), spoolDir: cfg.spool.dir, spoolMaxBytes: cfg.spool.maxMiB * 1048576, tls: cfg.siem.tls, batchSize: cfg.siem.batchSize, lingerMs: cfg.siem.flushIntervalMs, sectionContext: ecs, log })
      : null;
    if (siem) undo.push(() => siem.close());
    const otlp = cfg.otlp.enabled
      ? new OtlpClient({ protocol: cfg.otlp.protocol, endpoint: cfg.otlp.endpoint, sensorId: cfg.sensor.id || hostname(), spoolDir: join(cfg.spool.dir, 'otlp'), spoolMaxBytes: cfg.spool.maxMiB * 1048576, tls: cfg.otlp.tls, batchSize: cfg.otlp.batchSize, lingerMs: cfg.otlp.flushIntervalMs, log })
      : null;
    if (otlp) undo.push(() => otlp.close());
    // Opened at start, so an unwritable path is a start-up error. A restart adds to the file; a
    // full disk later loses those lines only (counted and logged) and the sensor goes on.
    let outputErrorLogged = '';
    const sink = cfg.output.jsonLines
      ? new JsonLinesSink(cfg.output.jsonLines, ecs, {
        detail: cfg.output.detail, describedMax: cfg.state.describedCertificates, append: true,
        onWriteError: (e) => {
          m.outputLost.inc(e.lines);
          const why = (e.cause as NodeJS.ErrnoException | undefined)?.code ?? e.message;
          if (why !== outputErrorLogged) log(`run: output.write_failed: ${e.message}`);
          outputErrorLogged = why;
        },
      })
      : null;
    // The SIEM feed's and OTLP's documents, written once for both: they receive the same records at
    // the same moment, so one described set serves the two (a certificate goes to both before its flow).
    const feedEcs = new EcsSerializer({
      ctx: ecs,
      detail: cfg.output.detail, describedMax: cfg.state.describedCertificates,
      onRef: (json) => {
        siem?.publishDocument(json);
        otlp?.publishDocument(json);
      },
    });
    if (sink) undo.push(() => sink.close());
    const pipe = new Pipeline({
      ja4Plus: cfg.fingerprints.ja4Plus,
      disabledDissectors: cfg.dissectors.disabled,
      limits: {
        table: { maxFlowsCount: cfg.limits.maxFlows, heapMemcapMiB: cfg.limits.heapMemcapMiB, tcpIdleMs: cfg.limits.tcpIdleTimeoutMs, udpIdleMs: cfg.limits.udpIdleTimeoutMs },
        reassembly: { depthBytes: cfg.limits.reassemblyDepthBytes },
        fragments: { overlap: cfg.limits.fragmentOverlap },
        // Only the full documents and the SIEM feed's records carry a named flow's payload entropy.
        features: { namedEntropy: cfg.output.detail === 'full' || siem !== null },
      },
      state: cfg.state,
      flood: cfg.flood,
      ...stages,
      onFlow: (r) => {
        m.flowsEnded.labels({ reason: r.endReason }).inc();
        sink?.flow(r);
        if (siem || otlp) {
          const doc = feedEcs.flow(r);
          siem?.publishFlow(r, doc);
          otlp?.publishFlow(doc);
        }
      },
      onFlood: (f) => {
        m.floodSummaries.inc();
        sink?.flood(f);
        if (siem || otlp) {
          const doc = feedEcs.flood(f);
          siem?.publishFlood(f, doc);
          otlp?.publishFlood(doc);
        }
      },
      onAlert: (a) => {
        m.alerts.labels({ analytic: a.analytic }).inc();
        sink?.alert(a);
        if (siem || otlp) {
          const doc = feedEcs.alert(a);
          siem?.publishAlert(a, doc);
          otlp?.publishAlert(doc);
        }
      },
    });
    const eng = pipe.engine;
    // workers > 1: flows sharded over worker threads; this thread decodes, dispatches, and runs the
    // later stages (enrichment, analytics, outputs) on the records they send back.
    const runner = workers > 1
      ? new ShardedRunner(pipe, workers, { ...workerInit({ ja4Plus: cfg.fingerprints.ja4Plus, limits: pipe.limits, disabledDissectors: cfg.dissectors.disabled }), reportBypass: true })
      : null;
    if (runner !== null) {
      undo.push(() => runner.finish('shutdown'));
      await runner.ready();
      log(`run: ${workers} flow workers`);
    }

    // Sources: one per interface, all feeding this pipeline (one thread: no locking needed).
    const sources: CaptureSource[] = [];
    let stopping = false;
    let exitCode = 0;
    const open = async (iface: string): Promise<CaptureSource> => {
      // With flow workers and a loader of our own, the kernel hands each worker its flows' packets.
      const ringOut = runner !== null && source !== 'pcap' && !cfg.capture.loaderSocket ? await runner.openFeeds(iface) : undefined;
      const { source: src, fallbackReason } = await openLiveSource({
        iface,
        source,
        filter: cfg.capture.filter,
        bufferMiB: cfg.capture.bufferMiB,
        ebpf: {
          ...(cfg.capture.loaderPath ? { loaderPath: cfg.capture.loaderPath } : {}),
          ...(cfg.capture.loaderSocket ? { loaderSocket: cfg.capture.loaderSocket } : {}),
          snapLen: cfg.capture.snapLen,
          maxPacketsPerDir: cfg.capture.forwardPacketsPerDir,
          maxBytesPerDir: cfg.capture.forwardBytesPerDir,
          ...(ringOut !== undefined ? { ringOut } : {}),
        },
      });
      runner?.removeFeeds();
      if (fallbackReason) log(`run: ${iface}: eBPF feed unavailable (${fallbackReason}); using libpcap`);
      else log(`run: ${iface}: capturing with ${src instanceof EbpfSource ? `the eBPF feed${ringOut !== undefined ? `, one ring per flow worker (${ringOut.length})` : ''}` : 'libpcap'}`);
      if (src instanceof EbpfSource) {
        src.onFlowEnd((r: FlowEndRecord) => {
          const end = { proto: r.tuple.proto, srcIp: r.tuple.srcIp, srcPort: r.tuple.srcPort, dstIp: r.tuple.dstIp, dstPort: r.tuple.dstPort, reason: r.reason, orig: r.orig, reply: r.reply };
          if (runner !== null) void runner.kernelFlowEnd(end).catch((e: Error) => log(`run: ${iface}: flow end lost: ${e.message}`));
          else eng.kernelFlowEnd(end);
        });
        src.onExit((e) => {
          if (stopping) return;
          log(`run: ${iface}: the eBPF loader exited (${JSON.stringify(e)})`);
          if (cfg.capture.onLoaderExit === 'restart') {
            m.loaderRestarts.inc();
            void open(iface).then((s) => pump(s)).catch((err: Error) => { log(`run: ${iface}: restart failed: ${err.message}`); exitCode = 1; void stop(); });
          } else {
            exitCode = 1;
            void stop();
          }
        });
        eng.onBypass = (f) => {
          src.markDone({ ipVersion: f.ipVersion, proto: f.proto, srcIp: addrToString(f.ipVersion, f.a0, f.a1, f.a2, f.a3), srcPort: f.aPort, dstIp: addrToString(f.ipVersion, f.b0, f.b1, f.b2, f.b3), dstPort: f.bPort });
        };
        if (runner !== null) runner.onBypass = (flow) => src.markDone(flow);
      }
      sources.push(src);
      undo.push(() => src.close());
      return src;
    };
    const pumps: Promise<void>[] = [];
    const pump = (src: CaptureSource): void => {
      const run = runner !== null ? runner.run(src) : pipe.run(src);
      pumps.push(run.catch((e: Error) => { if (!stopping) log(`run: ${src.name}: ${e.message}`); }));
    };

    // Metrics and health.
    let server: MetricsServer | null = null;
    if (cfg.metrics.listen) {
      server = await startMetricsServer(cfg.metrics.listen, { registry: metrics, health: () => ({ ok: !stopping && sources.length > 0, detail: `${sources.length} source(s)` }) });
      const srv = server;
      undo.push(() => srv.close());
      log(`run: metrics on http://${cfg.metrics.listen}/metrics`);
    }
    let lastPackets = 0;
    let lastBytes = 0;
    let lastDrops = 0;
    const seenEvents = new Map<string, number>();
    const timer = setInterval(() => {
      try {
        // Live packet time follows the wall clock: idle flows expire even when no packet arrives.
        if (runner !== null) void runner.tick(Date.now()).catch((e: Error) => log(`run: tick: ${e.message}`));
        else eng.tick(Date.now());
        sink?.flush();
        const st = runner !== null ? runner.mainStats : eng.stats;
        m.packets.inc(st.packets - lastPackets);
        m.bytes.inc(st.bytes - lastBytes);
        lastPackets = st.packets;
        lastBytes = st.bytes;
        let drops = 0;
        for (const s of sources) drops += s.stats().kernelDrops;
        if (drops > lastDrops) m.kernelDrops.inc(drops - lastDrops);
        lastDrops = drops;
        m.flowsActive.set(runner !== null ? runner.activeFlows : eng.table.size);
        for (const [k, v] of runner !== null ? runner.events() : eng.stats.events) {
          const prev = seenEvents.get(k) ?? 0;
          if (v > prev) m.dissectorEvents.labels({ event: k }).inc(v - prev);
          seenEvents.set(k, v);
        }
        m.flowsShed.setTotal(pipe.flood.stats.shed);
        if (runner === null) {
          m.flowsEvicted.setTotal(eng.table.evicted);
          m.flowsEvictedMemcap.setTotal(eng.table.memcapEvicted);
        }
        for (const r of pipe.state()) {
          m.stateEntries.labels({ structure: r.structure }).set(r.size);
          m.stateCapacity.labels({ structure: r.structure }).set(r.capacity);
          m.stateEvictions.labels({ structure: r.structure }).setTotal(r.evictions);
        }
        // what each output stream remembers having described (lean output)
        for (const [structure, d] of [['described_json_lines', sink?.ecs.described], ['described_feed', feedEcs.described]] as const) {
          if (d === undefined) continue;
          m.stateEntries.labels({ structure }).set(d.size);
          m.stateCapacity.labels({ structure }).set(d.max);
          m.stateEvictions.labels({ structure }).setTotal(d.evictions);
        }
        // the section parts each output stream keeps as bytes to copy into later flows
        for (const [structure, k] of [['ecs_parts_json_lines', sink?.ecs.memo], ['ecs_parts_feed', feedEcs.memo]] as const) {
          if (k === undefined) continue;
          m.stateEntries.labels({ structure }).set(k.size);
          m.stateCapacity.labels({ structure }).set(k.max);
          m.stateEvictions.labels({ structure }).setTotal(k.evictions);
        }
        const fl = stages.fleetStats?.() ?? null;
        if (fl) {
          m.fleetShared.labels({ kind: 'connection' }).setTotal(fl.sharedConnections);
          m.fleetShared.labels({ kind: 'fact' }).setTotal(fl.sharedFacts);
          m.fleetShared.labels({ kind: 'alert_claim' }).setTotal(fl.sharedClaims);
          m.fleetShared.labels({ kind: 'alert_repeat' }).setTotal(fl.sharedFolds);
          m.fleetPending.set(fl.pending);
          m.fleetDropped.setTotal(fl.dropped);
          m.fleetRetried.setTotal(fl.retried);
          m.fleetAlertsLocal.setTotal(fl.alertsLocal);
          m.fleetReadTimeouts.setTotal(fl.readTimeouts);
          m.fleetUp.set(fl.up ? 1 : 0);
        }
        if (siem) {
          const ss = siem.stats();
          m.spoolDepth.set(ss.spool.pendingRecords);
          m.siemLost.set(ss.lost);
          m.siemRejected.set(ss.rejected);
        }
      } catch (e) {
        // Metrics must never take the sensor down: say so and carry on.
        log(`run: metrics tick failed: ${(e as Error).message}`);
      }
    }, 1000);
    timer.unref();
    undo.push(() => clearInterval(timer));

    for (const i of ifaces) pump(await open(i));

    let done: () => void = () => {};
    const finished = new Promise<void>((res) => { done = res; });
    const stop = async (): Promise<void> => {
      if (stopping) return;
      stopping = true;
      log('run: draining');
      clearInterval(timer);
      await Promise.all(sources.map((s) => s.close().catch(() => undefined)));
      await Promise.all(pumps);
      if (runner !== null) {
        await runner.finish('shutdown');
        const ws = runner.workerStats.map((w, i) => `#${i} ${String(w['packets'])} packets, ${String(w['flowsCreated'])} flows`);
        log(`run: flow workers: ${ws.join('; ')}; packets read by the main thread: ${runner.mainStats.here}`);
      }
      await pipe.finish('shutdown');
      await pipe.close();
      if (siem) { await siem.flush().catch(() => undefined); await siem.close(); }
      if (otlp) await otlp.close();
      await sink?.close();
      await server?.close();
      done();
    };
    process.on('SIGTERM', () => void stop());
    process.on('SIGINT', () => void stop());
    process.on('SIGHUP', () => {
      if (!opts.configPath) return;
      try {
        const r = reloadConfig(opts.configPath, cfg);
        cfg = r.config;
        pipe.reload(cfg.analytics);
        log(`run: configuration reloaded${r.needsRestart.length ? ` (needs a restart to apply: ${r.needsRestart.join(', ')})` : ''}`);
      } catch (e) {
        log(`run: reload refused, keeping the running configuration: ${(e as Error).message}`);
      }
    });
    started = true;
    for (const l of held ?? []) out(l);
    held = null;
    await finished;
    return exitCode;
  }
}
