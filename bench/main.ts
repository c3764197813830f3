/**
 * `npm run bench`: figures, not timed tests. First the headline (bench/headline.ts): the sensor as a
 * user runs it (`bin/ndr-sensor replay FILE -o OUT.jsonl`, start-up, analytics and output included)
 * beside `ndpiReader -q -i FILE`, and start-up on the demo capture. Then the engine-only table: each
 * measurement runs in its own child process (so peak RSS is its own); the capture figures come in
 * rounds (see rounds()) and are reported as medians.
 *
 *   mixed capture       pcaps/bench/bench.pcap        (npm run gen:bench)
 *   handshake capture   pcaps/bench/handshakes.pcap   (bin/ndr-lab gen handshakes)
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, tmpdir } from 'node:os';
import { Session } from 'node:inspector/promises';
import { walkFile } from '../src/capture/walk.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import type { FlowRecord } from '../src/flow/record.js';
import { buildStages } from '../src/runtime/stages.js';
import { extraBenches } from './extra.js';
import { benchClassify, classifyLines } from './classify.js';
import { benchStartup } from './startup.js';
import { benchHeadline } from './headline.js';
import { FLOOD_TABLE_HEAD, benchFloods, floodTable } from './floods.js';
import { FLOOD_SHAPES, type FloodShape } from '../lab/gen-floods.js';
import { ShardedRunner } from '../src/runtime/shard.js';
import { nodeFlags } from '../src/runtime/jit.js';
import { dissectorSpecs } from '../dissectors/index.js';
import { tlsOf } from '../dissectors/tls/record.js';
import { defaultEcsContext, type OutputDetail } from '../src/output/ecs.js';
import { JsonLinesSink } from '../src/output/sinks.js';

interface One {
  packets: number;
  bytes: number;
  seconds: number;
  flows: number;
  handshakes: number;
  maxRssMiB: number;
  /** CPU time of the whole process (all threads) during the measurement. */
  cpuSeconds?: number;
  allocBytesPerPacket?: number;
  /** kind 'analytics': microseconds inside the analytics stage's process() per flow. */
  analyticsMicrosPerFlow?: number;
  /** kind 'ecs': CPU microseconds and bytes per TLS flow of the JSON lines written to a file, lean and full. */
  ecs?: { tlsFlows: number; leanMicros: number; fullMicros: number; leanBytes: number; fullBytes: number };
}

/**
 * The ECS lines of the TLS flows as `replay -o FILE` writes them: the records as the replay hands
 * them to its output (after the analytics stage, so beacon and encrypted-channel fields are in
 * them), through the JSON-lines sink into a real file, until the file is closed. One untimed pass
 * first (the code optimised, as in a running sensor), then `passes` timed ones, each with a fresh
 * sink (so the lean pass describes each certificate once, as a new output stream would): the
 * median. Bytes are the file's: newlines and, for lean, the certificate and JA4 documents included.
 */
async function ecsText(tls: readonly FlowRecord[], detail: OutputDetail, passes: number): Promise<{ micros: number; bytes: number; all: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-bench-ecs-'));
  const n = Math.max(1, tls.length);
  const all: number[] = [];
  let bytes = 0;
  try {
    for (let pass = 0; pass <= passes; pass++) {
      const file = join(dir, 'out.jsonl');
      (globalThis as { gc?: () => void }).gc?.();
      const c0 = process.cpuUsage();
      const sink = new JsonLinesSink(file, defaultEcsContext, { detail });
      // The event loop turns now and then, as between the replay's reads, so the file stream
      // writes its chunks as it goes instead of holding the whole output until close().
      for (let i = 0; i < tls.length; i++) {
        sink.flow(tls[i] as FlowRecord);
        if ((i & 1023) === 1023) await new Promise<void>((res) => setImmediate(res));
      }
      await sink.close();
      const c = process.cpuUsage(c0);
      if (pass > 0) all.push((c.user + c.system) / n);
      bytes = statSync(file).size / n;
      rmSync(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { micros: median(all), bytes, all };
}

async function measure(kind: string, file: string, opts: { workers?: number; alloc?: boolean; warm?: boolean; bare?: boolean }): Promise<One> {
  if (opts.warm === true) {
    // The steady state of a long-running sensor: the same file replayed once untimed in this
    // process first, so the timed replay runs optimised code (and finds the memo tables filled).
    const w = new Pipeline({ onFlow: () => {} });
    await w.run(openCaptureFile(file));
    await w.finish();
    (globalThis as { gc?: () => void }).gc?.();
  }
  let session: Session | null = null;
  if (opts.alloc) {
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 16384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  }
  // Set-up (pipeline, trust store, worker threads loaded) is not timed, for 1 worker or N alike:
  // the clock runs from the first packet read to the last record out.
  let flows = 0;
  let handshakes = 0;
  // bare: every dissector off, so the figure is the flow engine alone (decode, table, reassembly
  // up to classification, counters, payload features, the record without application fields).
  const disabledDissectors = opts.bare === true ? dissectorSpecs.map((s) => s.name) : [];
  // analytics: the records are kept (untimed), then handed in order to a fresh analytics stage
  // (the five analytics, in-memory baseline, as `replay` builds it); that pass alone is timed.
  // ecs: the records are kept too (untimed), passed through a fresh analytics stage, and the TLS
  // flows among them written by ecsText().
  const kept: FlowRecord[] | null = kind === 'analytics' || kind === 'ecs' ? [] : null;
  const p = kind === 'walk' ? null : new Pipeline({ disabledDissectors, onFlow: (f) => { flows++; kept?.push(f); if (tlsOf(f)?.ja4 || tlsOf(f)?.ja3) handshakes++; } });
  const runner = p !== null && (opts.workers ?? 1) > 1 ? new ShardedRunner(p, opts.workers as number, {}) : null;
  if (runner !== null) await runner.ready();
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  let r: One;
  if (p === null) {
    const w = await walkFile(file);
    r = { packets: w.packets, bytes: w.bytes, seconds: 0, flows: 0, handshakes: 0, maxRssMiB: 0 };
  } else if (runner !== null) {
    await runner.runFile(file);
    await runner.finish();
    await p.finish();
    r = { packets: runner.mainStats.packets, bytes: runner.mainStats.bytes, seconds: 0, flows, handshakes, maxRssMiB: 0 };
  } else {
    await p.run(openCaptureFile(file));
    await p.finish();
    r = { packets: p.engine.stats.packets, bytes: p.engine.stats.bytes, seconds: 0, flows, handshakes, maxRssMiB: 0 };
  }
  r.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (kept !== null) {
    const stage = (await buildStages({ sysmon: [], edr: null, analytics: true, baseline: null })).analytics;
    if (!stage) throw new Error('bench: no analytics stage');
    (globalThis as { gc?: () => void }).gc?.();
    const c0 = process.cpuUsage();
    for (const f of kept) stage.process(f);
    const c = process.cpuUsage(c0);
    r.analyticsMicrosPerFlow = (c.user + c.system) / Math.max(1, kept.length);
    await stage.close?.();
  }
  if (kind === 'ecs' && kept !== null) {
    const tls = kept.filter((f) => tlsOf(f) !== null);
    const passes = Number(process.env.BENCH_ECS_PASSES ?? 3);
    const lean = await ecsText(tls, 'lean', passes);
    const full = await ecsText(tls, 'full', passes);
    if (process.env.BENCH_ECS_PASSES !== undefined) process.stderr.write(`ecs passes: lean ${lean.all.map((x) => x.toFixed(2)).join(' ')}; full ${full.all.map((x) => x.toFixed(2)).join(' ')}\n`);
    r.ecs = { tlsFlows: tls.length, leanMicros: lean.micros, fullMicros: full.micros, leanBytes: lean.bytes, fullBytes: full.bytes };
  }
  const cpu = process.cpuUsage(cpu0);
  r.cpuSeconds = (cpu.user + cpu.system) / 1e6;
  r.maxRssMiB = process.resourceUsage().maxRSS / 1024;
  if (session) {
    const res = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: Node } };
    interface Node { selfSize: number; children: Node[] }
    let total = 0;
    const walk = (n: Node): void => { total += n.selfSize; for (const c of n.children) walk(c); };
    walk(res.profile.head);
    r.allocBytesPerPacket = total / Math.max(1, r.packets);
  }
  return r;
}

function child(kind: string, file: string, extra: string[] = []): One {
  // Started as bin/ndr-sensor starts the sensor (nodeFlags), plus --expose-gc for the settle.
  const r = spawnSync(process.execPath, [...nodeFlags(), '--expose-gc', fileURLToPath(import.meta.url), '--one', kind, file, ...extra], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`bench child ${kind} failed: ${r.stderr.slice(-400)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as One;
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number; };

type Runs = One & { all: number[] };

function summarise(rs: One[]): Runs {
  const secs = rs.map((r) => r.seconds);
  const m = median(secs);
  const best = rs.find((r) => r.seconds === m) as One;
  return { ...best, maxRssMiB: median(rs.map((r) => r.maxRssMiB)), all: secs };
}

/**
 * The capture figures, taken in rounds: each round runs the read floor, 1 worker and 2 workers
 * back to back, so all three see the same machine state (the page cache, a noisy neighbour).
 * One untimed walk first brings the file into the page cache, as a second replay would find it.
 */
function rounds(file: string, n: number): { floor: Runs; one: Runs; two: Runs; warm: Runs; bare: Runs; ratios: number[]; warmRatios: number[]; bareRatios: number[] } {
  child('walk', file);
  const floor: One[] = [];
  const one: One[] = [];
  const two: One[] = [];
  const warm: One[] = [];
  const bare: One[] = [];
  for (let i = 0; i < n; i++) {
    floor.push(child('walk', file));
    one.push(child('replay', file));
    two.push(child('replay', file, ['--workers', '2']));
    warm.push(child('replay', file, ['--warm']));
    bare.push(child('replay', file, ['--bare']));
  }
  const ratios = one.map((r, i) => (floor[i] as One).seconds / r.seconds);
  const warmRatios = warm.map((r, i) => (floor[i] as One).seconds / r.seconds);
  const bareRatios = bare.map((r, i) => (floor[i] as One).seconds / r.seconds);
  return { floor: summarise(floor), one: summarise(one), two: summarise(two), warm: summarise(warm), bare: summarise(bare), ratios, warmRatios, bareRatios };
}

function fmt(n: number, d = 2): string {
  return n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
}

function tshark(file: string): string {
  try {
    execFileSync('sh', ['-c', 'command -v tshark'], { stdio: 'ignore' });
  } catch {
    return 'tshark not installed: no peer figure (apt-get install tshark)';
  }
  const t0 = Date.now();
  execFileSync('tshark', ['-r', file, '-q', '-z', 'conv,tcp'], { stdio: 'ignore', maxBuffer: 1 << 28 });
  return `${((Date.now() - t0) / 1000).toFixed(2)} s (tshark -r FILE -q -z conv,tcp, one run)`;
}

/**
 * nDPI's ndpiReader (C) on the same file: the peer the replay target is stated against (issue 2:
 * "about 1.8x ndpiReader"). Median of n runs of its own packet-processing time, plus wall time.
 */
function ndpi(file: string, n: number, packets: number): { line: string; pps: number | null } {
  try {
    execFileSync('sh', ['-c', 'command -v ndpiReader'], { stdio: 'ignore' });
  } catch {
    return { line: 'ndpiReader not installed: no peer figure (apt-get install libndpi-bin)', pps: null };
  }
  const proc: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const out = execFileSync('ndpiReader', ['-i', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
    wall.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const m = /Packet Processing Time:\s+([\d.]+)\s*msec/.exec(out);
    if (m) proc.push(Number(m[1]) / 1000);
  }
  const w = median(wall);
  const p = proc.length > 0 ? median(proc) : null;
  const rate = (s: number): string => `${fmt(packets / s / 1e6)} M packets/s`;
  const line = `ndpiReader ${p !== null ? `${rate(p)} (its packet-processing time, ${p.toFixed(2)} s); ` : ''}${rate(w)} wall (${w.toFixed(2)} s), median of ${n}`;
  return { line, pps: packets / (p ?? w) };
}

async function captureReport(label: string, file: string, n: number): Promise<void> {
  if (!existsSync(file)) {
    console.log(`\n${label}: ${file} is missing; generate it first (see README, "Benchmark")`);
    return;
  }
  console.log(`\n${label}: ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB), median of ${n} rounds (floor, 1 worker, 2 workers, 1 worker warm, 1 worker with no dissector in each; the file read once untimed first)`);
  const { floor, one, two, warm, bare, ratios, warmRatios, bareRatios } = rounds(file, n);
  const alloc = child('replay', file, ['--alloc']);
  const fpps = floor.packets / floor.seconds;
  const pps = one.packets / one.seconds;
  console.log(`  read floor (record walk)    ${fmt(fpps / 1e6)} M packets/s   [${floor.all.map((s) => s.toFixed(2)).join(' ')} s]`);
  console.log(`  replay, 1 worker            ${fmt(pps / 1e6)} M packets/s   ${fmt((one.bytes * 8) / one.seconds / 1e9)} Gbit/s   ${fmt(one.flows / one.seconds, 0)} flows/s   ${fmt(one.handshakes / one.seconds, 0)} TLS handshakes/s   [${one.all.map((s) => s.toFixed(2)).join(' ')} s]`);
  const pps2 = two.packets / two.seconds;
  console.log(`  replay, 2 workers           ${fmt(pps2 / 1e6)} M packets/s   ${fmt((two.bytes * 8) / two.seconds / 1e9)} Gbit/s   ${fmt(two.flows / two.seconds, 0)} flows/s   ${fmt(two.handshakes / two.seconds, 0)} TLS handshakes/s   [${two.all.map((s) => s.toFixed(2)).join(' ')} s]`);
  console.log(`  ratio to the read floor     ${fmt((pps / fpps) * 100, 1)} % (1 worker), ${fmt((pps2 / fpps) * 100, 1)} % (2 workers), ratio of the medians`);
  console.log(`                              ${fmt(median(ratios) * 100, 1)} % (1 worker), median of the per-round ratios [${ratios.map((r) => (r * 100).toFixed(1)).join(' ')}]`);
  const wpps = warm.packets / warm.seconds;
  console.log(`  replay, 1 worker, warm      ${fmt(wpps / 1e6)} M packets/s   ${fmt(warm.flows / warm.seconds, 0)} flows/s   ${fmt(warm.handshakes / warm.seconds, 0)} TLS handshakes/s   [${warm.all.map((s) => s.toFixed(2)).join(' ')} s]`);
  console.log(`                              ${fmt(median(warmRatios) * 100, 1)} % of the read floor (median of the per-round ratios): the file replayed once untimed in the same process first (steady state)`);
  console.log(`  replay, no dissector        ${fmt(bare.packets / bare.seconds / 1e6)} M packets/s   ${fmt(bare.flows / bare.seconds, 0)} flows/s   [${bare.all.map((s) => s.toFixed(2)).join(' ')} s]`);
  console.log(`                              ${fmt(median(bareRatios) * 100, 1)} % of the read floor (median of the per-round ratios): every dissector off (--no-dissector), the flow engine alone;`);
  console.log(`                              the application layer costs ${fmt((one.seconds - bare.seconds) / Math.max(1, one.flows) * 1e6, 1)} µs a flow (medians, cold)`);
  const an = [0, 1, 2].map(() => child('analytics', file).analyticsMicrosPerFlow ?? NaN);
  console.log(`  analytics stage             ${fmt(median(an), 1)} µs CPU a flow (target <= 5 on the handshake capture), median of 3 [${an.map((x) => x.toFixed(1)).join(' ')}]:`);
  console.log('                              the replay\'s records handed in order to a fresh stage (five analytics, in-memory baseline)');
  const ecs = [0, 1, 2].map(() => child('ecs', file).ecs);
  if (ecs.every((e) => e !== undefined && e.tlsFlows > 0)) {
    const e = ecs as NonNullable<One['ecs']>[];
    const lean = e.map((x) => x.leanMicros);
    console.log(`  ECS line per TLS flow       ${fmt(median(lean), 2)} µs CPU lean (target <= 3), ${fmt(median(e.map((x) => x.fullMicros)), 2)} µs full, median of 3 processes (each the median of 3 passes) [${lean.map((x) => x.toFixed(2)).join(' ')}]; ${fmt(e[0]!.tlsFlows, 0)} TLS flows`);
    console.log(`                              ${fmt(e[0]!.leanBytes, 0)} bytes a TLS flow lean (certificate documents included; target <= 1,200), ${fmt(e[0]!.fullBytes, 0)} full;`);
    console.log('                              the replay\'s records after the analytics stage, through the JSON-lines sink into a file, until it is closed');
  }
  console.log(`  peak RSS                    ${fmt(one.maxRssMiB, 0)} MiB (read floor: ${fmt(floor.maxRssMiB, 0)} MiB)`);
  console.log(`  allocation per packet       ${fmt(alloc.allocBytesPerPacket ?? 0, 0)} bytes (sampled heap profile)`);
  console.log(`  packets ${one.packets}, flows ${one.flows}, TLS handshakes ${one.handshakes}`);
  console.log(`  peer: ${tshark(file)}`);
  const peer = ndpi(file, n, one.packets);
  console.log(`  peer: ${peer.line}`);
  if (peer.pps !== null) console.log(`  replay / ndpiReader          ${fmt(pps / peer.pps)}x (1 worker)`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    const wi = args.indexOf('--workers');
    const r = await measure(args[1] as string, args[2] as string, { alloc: args.includes('--alloc'), warm: args.includes('--warm'), bare: args.includes('--bare'), workers: wi > 0 ? Number(args[wi + 1]) : 1 });
    process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  if (args[0] === '--startup') {
    // Only the start-up table: `npm run bench -- --startup` (BENCH_RUNS rounds, default 9).
    startupReport(Number(process.env.BENCH_RUNS ?? 9));
    return;
  }
  if (args[0] === '--floods') {
    // Only the floods table: `npm run bench -- --floods [SHAPE...]` (BENCH_RUNS rounds, default 1).
    const shapes = args.slice(1);
    for (const s of shapes) if (!(FLOOD_SHAPES as readonly string[]).includes(s)) throw new Error(`--floods: unknown shape '${s}' (one of ${FLOOD_SHAPES.join(', ')})`);
    floodsReport(Number(process.env.BENCH_RUNS ?? 1), shapes.length > 0 ? (shapes as FloodShape[]) : FLOOD_SHAPES);
    return;
  }
  if (args[0] === '--classify') {
    // Only classification's cost per call: `npm run bench -- --classify`.
    for (const line of classifyLines(benchClassify())) console.log(line);
    return;
  }
  if (args[0] === '--headline') {
    // Only the headline and start-up: `npm run bench -- --headline` (BENCH_RUNS rounds, default 5).
    const n = Number(process.env.BENCH_RUNS ?? 5);
    headlineReport(n);
    startupReport(Math.max(n, 9));
    return;
  }
  const n = Number(process.env.BENCH_RUNS ?? 5);
  console.log(`ndr-sensor bench (${new Date().toISOString()}, node ${process.version})`);
  headlineReport(n);
  startupReport(Math.max(n, 9));
  console.log('\nEngine only (second table): no analytics, no ECS document, no JSON, no file, no process start.');
  console.log('Each figure: a fresh process per run; the clock runs from the first packet read to the last record');
  console.log('out (set-up, i.e. the trust store and, with N workers, loading the worker threads, is not timed).');
  await captureReport('mixed capture', 'pcaps/bench/bench.pcap', n);
  await captureReport('handshake-heavy capture', 'pcaps/bench/handshakes.pcap', n);
  for (const b of extraBenches) {
    try {
      console.log(`\n${b.name}`);
      for (const line of await b.run()) console.log(`  ${line}`);
    } catch (e) {
      console.log(`  failed: ${(e as Error).message}`);
    }
  }
  floodsReport(1);
}

/** The headline: whole processes as a user runs them, the sensor beside ndpiReader (bench/headline.ts). */
function headlineReport(rounds: number): void {
  console.log(`\nheadline (${new Date().toISOString()}, node ${process.version}, ${cpus().length} vCPUs): the whole process as a user runs it, timed by GNU time, ratio = ndpiReader ÷ sensor`);
  try {
    for (const line of benchHeadline(process.cwd(), rounds, (s) => process.stderr.write(`headline: ${s}\n`))) console.log(line);
  } catch (e) {
    console.log(`  failed: ${(e as Error).message}`);
  }
}

/** Start-up: the demo replayed whole by bin/ndr-sensor as a user starts it (bench/startup.ts). */
function startupReport(rounds: number): void {
  console.log(`\nstart-up (${new Date().toISOString()}, node ${process.version}; wall from spawning bin/ndr-sensor, CPU by GNU time)`);
  try {
    for (const line of benchStartup(process.cwd(), rounds).lines) console.log(`  ${line}`);
  } catch (e) {
    console.log(`  failed: ${(e as Error).message}`);
  }
}

/** The floods table (bench/floods.ts): whole-process replays of the flood and scan shapes. */
function floodsReport(rounds: number, shapes: readonly FloodShape[] = FLOOD_SHAPES): void {
  console.log(`\nfloods (${new Date().toISOString()}, node ${process.version}, ${rounds} round(s); wall and peak RSS of the whole process by GNU time)`);
  try {
    for (const line of FLOOD_TABLE_HEAD) console.log(`  ${line}`);
    benchFloods(process.cwd(), rounds, shapes, (s) => process.stderr.write(`floods: ${s}\n`), (row) => { for (const line of floodTable([row])) console.log(`  ${line}`); });
  } catch (e) {
    console.log(`  failed: ${(e as Error).message}`);
  }
}

await main();
