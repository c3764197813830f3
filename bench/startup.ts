/**
 * Start-up as a user meets it: `bin/ndr-sensor replay pcaps/demo/demo.pcap -o OUT.jsonl` as a
 * whole process, beside `node -e 0` (the floor no Node program starts below) in the same rounds.
 * - ready: wall time from spawning the launcher to the sensor's mark just before it reads the
 *   first packet (NDR_BENCH_MARK=1; both clocks are the wall clock of this machine);
 * - whole: wall and CPU (user + system, GNU time) of the complete replay, output file written;
 * - bytes of output per flow on the demo.
 * Medians with the spread (min-max) of the rounds: on a shared machine wall time mostly measures
 * the wait for a core, so CPU seconds are given too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countOutput } from './headline.js';

interface Round {
  /** The sensor's own flow count (its summary), when it printed one. */
  flows: number | null;
  wall: number;
  cpu: number;
  ready: number | null;
  /** CPU seconds of the sensor process up to the mark (process.cpuUsage). */
  readyCpu: number | null;
  /** What the CLI's loader did with its V8 code cache (src/util/code-cache.ts), from the mark. */
  codeCache: string | null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Round {
  const t0 = performance.timeOrigin + performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '@@%e %U %S', cmd, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`startup: ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-300)}`);
  const t = /@@([\d.]+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  if (!t) throw new Error('startup: no GNU time line (Debian package time)');
  const mark = /ndr-bench-mark ready ([\d.]+) cpu ([\d.]+)(?: code-cache (\S+))?/.exec(r.stderr);
  const flows = /\n\s*flows\s+(\d+)/.exec(r.stderr);
  return { flows: flows ? Number(flows[1]) : null, wall: Number(t[1]), cpu: Number(t[2]) + Number(t[3]), ready: mark ? (Number(mark[1]) - t0) / 1000 : null, readyCpu: mark ? Number(mark[2]) / 1000 : null, codeCache: mark?.[3] ?? null };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const spread = (xs: number[], unit: (x: number) => string): string => `${unit(median(xs))} [${unit(Math.min(...xs))}-${unit(Math.max(...xs))}]`;
const ms = (x: number): string => `${Math.round(x * 1000)} ms`;
const s2 = (x: number): string => `${x.toFixed(2)} s`;

/** The loader's cache states over the rounds: "used" when every round started from the cache. */
function codeCacheLine(rounds: Round[]): string {
  const counts = new Map<string, number>();
  for (const r of rounds) counts.set(r.codeCache ?? 'not reported', (counts.get(r.codeCache ?? 'not reported') ?? 0) + 1);
  return [...counts].map(([k, n]) => (n === rounds.length ? `${k} in every round` : `${k} in ${n} of ${rounds.length} rounds`)).join(', ');
}

export interface StartupResult {
  lines: string[];
  readyMs: number;
  readyCpuMs: number;
  wholeS: number;
  bytesPerFlow: number;
}

export function benchStartup(root: string, rounds: number): StartupResult {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-startup-'));
  const out = join(dir, 'out.jsonl');
  const demo = join(root, 'pcaps/demo/demo.pcap');
  const env = { ...process.env, NDR_BENCH_MARK: '1' };
  const floor: Round[] = [];
  const sensor: Round[] = [];
  try {
    run(join(root, 'bin/ndr-sensor'), ['replay', demo, '-o', out], env); // page cache warm, untimed
    for (let i = 0; i < rounds; i++) {
      floor.push(run(process.execPath, ['-e', '0'], env));
      sensor.push(run(join(root, 'bin/ndr-sensor'), ['replay', demo, '-o', out], env));
    }
    // Bytes per flow: every document but the alerts (flows and the certificates they refer to)
    // over the sensor's own flow count, as the headline counts them.
    const counted = countOutput(out);
    const flowCount = sensor[sensor.length - 1]?.flows ?? null;
    if (flowCount === null) throw new Error('startup: the sensor printed no flow count');
    const flowBytes = counted.nonAlertBytes;
    const ready = sensor.map((r) => r.ready ?? NaN);
    if (ready.some((x) => Number.isNaN(x))) throw new Error('startup: the sensor printed no ready mark');
    const lines = [
      `demo capture (pcaps/demo/demo.pcap, ${statSync(demo).size} bytes), ${rounds} rounds, median [min-max]`,
      `  start to first packet, wall ${spread(ready, ms)}   (target <= 150 ms)`,
      `  start to first packet, CPU  ${spread(sensor.map((r) => r.readyCpu ?? NaN), ms)}   (the sensor process's own, to the mark)`,
      `  demo replayed whole, wall   ${spread(sensor.map((r) => r.wall), s2)}   (target <= 0.3 s)`,
      `  demo replayed whole, CPU    ${spread(sensor.map((r) => r.cpu), s2)}   (user + system)`,
      `  node -e 0, wall / CPU       ${spread(floor.map((r) => r.wall), s2)} / ${spread(floor.map((r) => r.cpu), s2)}   (Node's own start on this machine now)`,
      `  V8 code cache               ${codeCacheLine(sensor)}`,
      `  output                      ${flowCount} flows, ${Math.round(flowBytes / Math.max(1, flowCount))} bytes per flow (${counted.alerts} alerts, ${counted.documents - counted.alerts - flowCount} other documents)`,
    ];
    return { lines, readyMs: median(ready) * 1000, readyCpuMs: median(sensor.map((r) => r.readyCpu ?? NaN)) * 1000, wholeS: median(sensor.map((r) => r.wall)), bytesPerFlow: flowBytes / Math.max(1, flowCount) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
