/**
 * Throughput of the analytics stage: enriched flows per second through the AnalyticsEngine (beacon
 * tracker, all five analytics, baseline learning, dedup) with a warm LMDB baseline on disk in a
 * temp dir. Flows are pre-built (a mix of browsers, agents, scripting hosts and LOLBins over many
 * hosts, destinations and JA4s, some pub/sub, some non-TLS encrypted, some after staging) so the
 * figure is the analytics alone. The clock stops once the baseline's writes are committed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaselineStore } from '../src/baseline/store.js';
import type { FlowRecord } from '../src/flow/record.js';
import { AnalyticsEngine } from '../src/analytics/engine.js';
import { IMG, T0, makeFlow } from '../test/helpers/flows.js';

export interface AnalyticsBenchResult {
  flows: number;
  ms: number;
  /** Wall clock. */
  flowsPerSecond: number;
  /** CPU time of this process over the loop (includes GC and LMDB's write thread), less sensitive to a busy machine. */
  cpuMs: number;
  flowsPerCpuSecond: number;
  alerts: number;
  baselineWarm: boolean;
}

const IMAGES = [IMG.chrome, IMG.chrome, IMG.chrome, IMG.updater, IMG.backup, IMG.mqttApp, IMG.powershell, IMG.rundll32, IMG.python, IMG.notepad, IMG.unsigned];

/** Flows handed to the stage per chunk in the timed run. */
const CHUNK = 10_000;

/** The bench's flow sequence, made a chunk at a time (the same flows as one big pool). */
export class FlowMaker {
  private x: number;
  private i = 0;
  private readonly startTs: number;
  constructor(startTs: number, seed: number) {
    this.startTs = startTs;
    this.x = seed >>> 0;
  }

  next(count: number): FlowRecord[] {
    const startTs = this.startTs;
    let x = this.x;
    const rnd = (m: number): number => { x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0; return (x >>> 8) % m; };
    const out: FlowRecord[] = [];
    for (let j = 0; j < count; j++) {
      const i = this.i + j;
      const h = rnd(500);
      // Each host runs a few images of its own (browsers on most hosts).
      const imageIdx = rnd(3) === 0 ? rnd(3) : (h + rnd(3)) % IMAGES.length;
      const image = IMAGES[imageIdx]!;
      // Each host mostly uses its own few destinations (a warm baseline knows most pairs); 1 in 50 is new.
      const d = rnd(50) === 0 ? rnd(100_000) : (h * 7 + rnd(30)) % 2000;
      const kind = rnd(20);
      const ts = startTs + i * 10;
      out.push(makeFlow({
        id: i + 1,
        startTs: ts,
        host: `WS${h.toString().padStart(3, '0')}.corp.example`,
        user: `CORP\\u${h}`,
        client: { ip: `10.${(h >> 8) & 255}.${h & 255}.${10 + rnd(200)}`, port: 49_152 + rnd(16_000) },
        server: { ip: `198.${51 + (d >> 16)}.${(d >> 8) & 255}.${d & 255}`, port: kind === 0 ? 8883 : kind === 1 ? 9001 : 443 },
        sni: kind === 1 ? null : `svc${d}.example`,
        tls: kind === 1 ? null : {},
        ja4: `t13d1516h2_${(imageIdx * 8 + (rnd(50) === 0 ? rnd(400) : 0)).toString(16).padStart(12, '0')}_02713d6af862`,
        image,
        imageNetworkHistory: rnd(10) !== 0,
        pubsub: kind === 0 ? { protocol: 'mqtt', encrypted: true, confidence: 0.8 } : null,
        encrypted: kind === 1 ? { suspicious: true, known: null } : null,
        fileEvents: kind === 2 ? [{ path: 'C:\\Users\\Public\\x.zip', ts: ts - 60_000, processEntityId: null, image: IMG.sevenZip, kind: 'file_create' }] : [],
        imageLoads: kind === 3 ? [{ path: 'C:\\Windows\\System32\\schannel.dll', ts: ts - 1000, signed: true }] : [],
      }));
    }
    this.x = x;
    this.i += count;
    return out;
  }
}

function pool(count: number, startTs: number, seed: number): FlowRecord[] {
  return new FlowMaker(startTs, seed).next(count);
}

export async function benchAnalytics(n = 200_000): Promise<AnalyticsBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-bench-baseline-'));
  try {
    const learningPeriodMs = 3_600_000;
    let baseline = BaselineStore.open({ path: dir, learningPeriodMs });
    for (const f of pool(Math.min(n, 100_000), T0, 1)) baseline.learn(f);
    await baseline.close();
    baseline = BaselineStore.open({ path: dir, learningPeriodMs });
    const engine = new AnalyticsEngine({ baseline });
    // Flows reach the stage as a sensor hands them over: a chunk at a time, dropped once
    // processed (holding all of them alive would time the GC marking a heap no sensor keeps).
    // The clock runs only while the engine works; building the next chunk is not timed.
    const start = T0 + learningPeriodMs + 1000;
    let alerts = 0;
    let ms = 0;
    let cpuMicros = 0;
    let firstTs = 0;
    const maker = new FlowMaker(start, 2);
    for (let done = 0; done < n; done += CHUNK) {
      const flows = maker.next(Math.min(CHUNK, n - done));
      if (done === 0) firstTs = flows[0]!.startTs;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      for (const f of flows) alerts += engine.process(f).length;
      if (done + CHUNK >= n) await baseline.flushed();
      ms += performance.now() - t0;
      const c1 = process.cpuUsage(c0);
      cpuMicros += c1.user + c1.system;
    }
    const cpuMs = cpuMicros / 1000;
    const warm = baseline.isWarm(firstTs);
    await baseline.close();
    return { flows: n, ms: Math.round(ms), flowsPerSecond: Math.round((n / ms) * 1000), cpuMs: Math.round(cpuMs), flowsPerCpuSecond: Math.round((n / cpuMs) * 1000), alerts, baselineWarm: warm };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
