/**
 * The "floods" table (issue 25): each shape of lab/gen-floods.ts replayed by the whole process,
 * `ndr-sensor replay FILE -o OUT.jsonl` with the defaults, beside the engine alone
 * (`--no-analytics --alerts-only`: decode, flow table, dissectors, records, nothing analysed or
 * written) and beside nDPI's ndpiReader when it is installed, twice: `-q` (classify and count,
 * nothing written) and `-q -C OUT.csv` (every flow written, as the sensor's replay writes its
 * documents). Wall time and peak RSS of each
 * process come from GNU time (`/usr/bin/time -f`), so they include start-up and the whole heap;
 * a first row replays a capture of no packets, beside `node -e 0`, for the fixed part of each.
 * The captures are generated on demand into NDR_FLOODS_DIR (default: the temp dir's ndr-floods/)
 * and kept there for the next run; they are never committed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FLOOD_SHAPES, generateFlood, type FloodShape } from '../lab/gen-floods.js';

export interface FloodRow {
  shape: FloodShape | typeof EMPTY_ROW;
  packets: number;
  flows: number;
  engine: Run;
  defaults: Run;
  ndpi: Run | null;
  /** ndpiReader writing every flow (`-C`, CSV). */
  ndpiFlows: Run | null;
  /** `node -e 0`, on the empty capture's row: the part of the fixed cost that is Node's own. */
  node?: Run;
}

/**
 * The first row: a capture of no packets (a pcap file header alone), so the table shows each
 * program's fixed cost (start, set-up, exit) beside what the shapes add to it.
 */
const EMPTY_ROW = 'empty capture';

interface Run {
  /** Wall time. */
  seconds: number;
  /** CPU time of the process, user + system (all threads). */
  cpuSeconds: number;
  maxRssMiB: number;
}

const GIB_MIB = 1024;

/** One run; a failed run is tried once more (a shared machine's package reinstall, a stray kill). */
function timed(cmd: string, args: string[]): Run {
  try {
    return timedOnce(cmd, args);
  } catch {
    return timedOnce(cmd, args);
  }
}

/**
 * A run whose output file is removed first: freeing the previous run's output (900 MB on the DNS
 * shape) is the kernel's work for whoever drops the file, and would be charged to the next run.
 */
function timedFresh(out: string, cmd: string, args: string[]): Run {
  rmSync(out, { force: true });
  return timed(cmd, args);
}

function timedOnce(cmd: string, args: string[]): Run {
  const r = spawnSync('/usr/bin/time', ['-f', '@@%e %U %S %M', cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 });
  const m = /@@([\d.]+) ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')}: exit ${String(r.status)}: ${(r.stderr ?? '').split('\n').slice(-3).join(' ')}`);
  return { seconds: Number(m[1]), cpuSeconds: Number(m[2]) + Number(m[3]), maxRssMiB: Number(m[4]) / 1024 };
}

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function best(runs: Run[]): Run {
  return { seconds: median(runs.map((r) => r.seconds)), cpuSeconds: median(runs.map((r) => r.cpuSeconds)), maxRssMiB: Math.max(...runs.map((r) => r.maxRssMiB)) };
}

function haveNdpi(): boolean {
  return spawnSync('sh', ['-c', 'command -v ndpiReader'], { stdio: 'ignore' }).status === 0;
}

/** Measure every shape (`rounds` runs of each command, alternating; median wall, highest RSS). */
export function benchFloods(root: string, rounds = 1, shapes: readonly FloodShape[] = FLOOD_SHAPES, log: (s: string) => void = () => {}, onRow: (r: FloodRow) => void = () => {}): FloodRow[] {
  if (spawnSync('sh', ['-c', 'test -x /usr/bin/time'], { stdio: 'ignore' }).status !== 0) throw new Error('floods: GNU time (/usr/bin/time, Debian package time) is needed for peak RSS');
  const dir = process.env.NDR_FLOODS_DIR ?? join(tmpdir(), 'ndr-floods');
  mkdirSync(dir, { recursive: true });
  const cli = join(root, 'bin', 'ndr-sensor');
  const out = join(dir, 'out.jsonl');
  const csv = join(dir, 'out.csv');
  const ndpi = haveNdpi();
  const rows: FloodRow[] = [];
  {
    const file = join(dir, 'empty.pcap');
    // The classic pcap header alone: magic, version 2.4, no zone or accuracy, snap length, Ethernet.
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(1, 20);
    writeFileSync(file, header);
    const engine: Run[] = [];
    const defaults: Run[] = [];
    const peer: Run[] = [];
    const peerFlows: Run[] = [];
    const node: Run[] = [];
    for (let i = 0; i < rounds; i++) {
      log(`${EMPTY_ROW}: round ${i + 1}`);
      engine.push(timedFresh(out, 'sh', [cli, 'replay', file, '-o', out, '--no-analytics', '--alerts-only', '-q', '--no-summary']));
      defaults.push(timedFresh(out, 'sh', [cli, 'replay', file, '-o', out, '-q', '--no-summary']));
      if (ndpi) peer.push(timed('ndpiReader', ['-i', file, '-q']));
      if (ndpi) peerFlows.push(timedFresh(csv, 'ndpiReader', ['-i', file, '-q', '-C', csv]));
      node.push(timed(process.execPath, ['-e', '0']));
    }
    const row: FloodRow = { shape: EMPTY_ROW, packets: 0, flows: 0, engine: best(engine), defaults: best(defaults), ndpi: ndpi ? best(peer) : null, ndpiFlows: ndpi ? best(peerFlows) : null, node: best(node) };
    rows.push(row);
    onRow(row);
  }
  for (const shape of shapes) {
    const file = join(dir, `${shape}.pcap`);
    const info = generateFlood(shape, `${file}.tmp`);
    // Regenerated each time into a side file and swapped in only when it differs in size, so an
    // interrupted run never leaves a truncated capture behind.
    if (!existsSync(file) || statSync(file).size !== statSync(`${file}.tmp`).size) spawnSync('mv', [`${file}.tmp`, file]);
    else rmSync(`${file}.tmp`);
    const engine: Run[] = [];
    const defaults: Run[] = [];
    const peer: Run[] = [];
    const peerFlows: Run[] = [];
    for (let i = 0; i < rounds; i++) {
      log(`${shape}: round ${i + 1}`);
      engine.push(timedFresh(out, 'sh', [cli, 'replay', file, '-o', out, '--no-analytics', '--alerts-only', '-q', '--no-summary']));
      defaults.push(timedFresh(out, 'sh', [cli, 'replay', file, '-o', out, '-q', '--no-summary']));
      if (ndpi) peer.push(timed('ndpiReader', ['-i', file, '-q']));
      if (ndpi) peerFlows.push(timedFresh(csv, 'ndpiReader', ['-i', file, '-q', '-C', csv]));
    }
    rmSync(out, { force: true });
    rmSync(csv, { force: true });
    const row: FloodRow = { shape, packets: info.packets, flows: info.flows, engine: best(engine), defaults: best(defaults), ndpi: ndpi ? best(peer) : null, ndpiFlows: ndpi ? best(peerFlows) : null };
    rows.push(row);
    onRow(row);
  }
  return rows;
}

const f = (n: number, d = 1) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });

/**
 * Each run shows CPU seconds (user + system), wall seconds and peak RSS. The ratios and the
 * comparison with ndpiReader use CPU time: on a machine shared with other work, wall time mostly
 * measures the wait for a core.
 */
export const FLOOD_TABLE_HEAD = [
  '| shape | packets | flows | engine alone: CPU / wall / RSS | defaults: CPU / wall / RSS | defaults / engine (CPU) | ndpiReader -q: CPU / wall / RSS | ndpiReader -q -C (flows written): CPU / wall / RSS | bounds |',
  '|---|---|---|---|---|---|---|---|---|',
];

/** The table's rows as printed lines, with the bounds checked per row. */
export function floodTable(rows: FloodRow[]): string[] {
  const lines: string[] = [];
  for (const r of rows) {
    const ratio = r.defaults.cpuSeconds / r.engine.cpuSeconds;
    // Under a second, a tenth is a third of the figure (the vertical scan): two decimals there.
    const secs = (n: number) => f(n, n < 1 ? 2 : 1);
    const fig = (x: Run) => `${secs(x.cpuSeconds)} s / ${secs(x.seconds)} s / ${f(x.maxRssMiB, 0)} MiB`;
    const ok: string[] = [];
    if (r.node !== undefined) ok.push(`the fixed cost; node -e 0 alone: ${fig(r.node)}`);
    ok.push(ratio <= 2 ? 'within 2x' : 'OVER 2x');
    ok.push(r.defaults.maxRssMiB < GIB_MIB ? 'RSS < 1 GiB' : 'RSS OVER 1 GiB');
    if (r.ndpi !== null) {
      const worse: string[] = [];
      if (r.defaults.cpuSeconds > r.ndpi.cpuSeconds) worse.push('CPU');
      if (r.defaults.maxRssMiB > r.ndpi.maxRssMiB) worse.push('RSS');
      ok.push(worse.length === 0 ? 'not worse than nDPI' : `${worse.join(' and ')} WORSE than nDPI`);
    }
    if (r.ndpiFlows !== null) {
      // the like-for-like figure: both programs write every flow
      const worse: string[] = [];
      if (r.defaults.cpuSeconds > r.ndpiFlows.cpuSeconds) worse.push('CPU');
      if (r.defaults.maxRssMiB > r.ndpiFlows.maxRssMiB) worse.push('RSS');
      ok.push(worse.length === 0 ? 'not worse than nDPI writing flows' : `${worse.join(' and ')} worse than nDPI writing flows`);
    }
    lines.push(`| ${r.shape} | ${r.packets.toLocaleString('en')} | ${r.flows.toLocaleString('en')} | ${fig(r.engine)} | ${fig(r.defaults)} | ${f(ratio, 2)}x | ${r.ndpi ? fig(r.ndpi) : 'not installed'} | ${r.ndpiFlows ? fig(r.ndpiFlows) : 'not installed'} | ${ok.join(', ')} |`);
  }
  return lines;
}
