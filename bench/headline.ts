/**
 * The bench's headline: the sensor as a user runs it, beside nDPI's ndpiReader as a whole process.
 *
 *   sensor  bin/ndr-sensor replay FILE -o OUT.jsonl   (analytics on, in-memory baseline, JSON lines
 *                                                     to a file on the same disk as the capture)
 *   peer    ndpiReader -q -i FILE                     (Debian libndpi-bin)
 *
 * Both are timed from outside by GNU time (wall, user + system CPU, peak RSS), start-up included,
 * in alternating rounds (sensor, peer, sensor, peer, ...) after one untimed run of each, so the
 * page cache and a noisy neighbour weigh on both alike. The ratio is peer ÷ sensor (above 1 the
 * sensor is faster), taken per round and then its median, for wall and for CPU; on a shared
 * machine wall time is mostly the wait for a core, so both are given with the load average.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HeadlineCapture {
  label: string;
  file: string;
  /** Target for the median per-round ratio (peer ÷ sensor). */
  target: number;
}

export const HEADLINE_CAPTURES: readonly HeadlineCapture[] = [
  { label: 'mixed', file: 'pcaps/bench/bench.pcap', target: 1.8 },
  { label: 'handshakes', file: 'pcaps/bench/handshakes.pcap', target: 1.7 },
];

export interface Timed {
  wall: number;
  cpu: number;
  rssMiB: number;
}

export interface HeadlineRow {
  capture: HeadlineCapture;
  packets: number;
  flows: number;
  alerts: number;
  sensor: Timed[];
  peer: Timed[];
  /** Bytes of the output file per flow: every document but the alerts, over the flows. */
  bytesPerFlow: number;
  /** Documents in the output that are neither flows nor alerts (certificates described once). */
  otherDocuments: number;
  loadBefore: number;
  loadAfter: number;
}

/** Runs `cmd args` under GNU time; returns its figures and what it wrote on stderr. */
function timed(cmd: string, args: string[]): { t: Timed; stderr: string } {
  const r = spawnSync('/usr/bin/time', ['-f', '@@time %e %U %S %M', cmd, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 1 << 24,
  });
  if (r.error) throw r.error;
  const m = /@@time ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (m === null) throw new Error(`headline: no GNU time line for ${cmd} (Debian package time): ${r.stderr.slice(-300)}`);
  if (r.status !== 0) throw new Error(`headline: ${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-400)}`);
  return { t: { wall: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMiB: Number(m[4]) / 1024 }, stderr: r.stderr };
}

/**
 * Documents of a JSON-lines file, read in chunks: alerts (event.kind "alert") apart, and the bytes
 * of everything else (flow documents and the documents they refer to, such as certificates).
 */
export function countOutput(file: string): { documents: number; alerts: number; nonAlertBytes: number } {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 22);
  let documents = 0;
  let alerts = 0;
  let nonAlertBytes = 0;
  let carry = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = carry + buf.toString('latin1', 0, n);
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, nl);
        if (line.length > 0) {
          documents++;
          if (line.includes('"kind":"alert"')) alerts++;
          else nonAlertBytes += nl + 1 - start;
        }
        start = nl + 1;
      }
      carry = text.slice(start);
    }
  } finally {
    closeSync(fd);
  }
  if (carry.length > 0) throw new Error(`headline: ${file} ends without a newline`);
  return { documents, alerts, nonAlertBytes };
}

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** One capture: an untimed run of each, then `rounds` alternating rounds. */
export function headlineRow(root: string, capture: HeadlineCapture, rounds: number, log: (s: string) => void = () => {}): HeadlineRow {
  const file = join(root, capture.file);
  const dir = mkdtempSync(join(tmpdir(), 'ndr-headline-'));
  const out = join(dir, 'out.jsonl');
  const sensorCmd = join(root, 'bin/ndr-sensor');
  const sensorArgs = ['replay', file, '-o', out];
  const peerArgs = ['-q', '-i', file];
  try {
    const loadBefore = loadavg()[0] as number;
    log(`${capture.label}: untimed run of each`);
    timed(sensorCmd, sensorArgs);
    timed('ndpiReader', peerArgs);
    const sensor: Timed[] = [];
    const peer: Timed[] = [];
    let summary = '';
    for (let i = 0; i < rounds; i++) {
      log(`${capture.label}: round ${i + 1} of ${rounds}`);
      const s = timed(sensorCmd, sensorArgs);
      sensor.push(s.t);
      summary = s.stderr;
      peer.push(timed('ndpiReader', peerArgs).t);
    }
    const packets = Number(/packets\s+(\d+)/.exec(summary)?.[1] ?? NaN);
    const counted = countOutput(out);
    // The summary's flow count: certificates, flood summaries and alerts are documents of their own.
    const flows = Number(/\n\s*flows\s+(\d+)/.exec(summary)?.[1] ?? NaN);
    if (!Number.isFinite(flows)) throw new Error(`headline: no flow count in the sensor's summary: ${summary.slice(-300)}`);
    return {
      capture, packets, flows, alerts: counted.alerts, sensor, peer,
      bytesPerFlow: counted.nonAlertBytes / Math.max(1, flows),
      otherDocuments: counted.documents - counted.alerts - flows,
      loadBefore, loadAfter: loadavg()[0] as number,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Per-round ratios peer ÷ sensor of one measure, and their median. */
export function ratios(row: HeadlineRow, k: 'wall' | 'cpu'): { each: number[]; median: number } {
  const each = row.sensor.map((s, i) => (row.peer[i] as Timed)[k] / s[k]);
  return { each, median: median(each) };
}

const f2 = (x: number): string => x.toFixed(2);
const range = (xs: number[]): string => `[${f2(Math.min(...xs))}-${f2(Math.max(...xs))}]`;

/** The headline as a Markdown table (what README and docs/PERFORMANCE.md quote), plus notes. */
export function headlineTable(rows: HeadlineRow[]): string[] {
  const lines = [
    '| capture | bin/ndr-sensor replay FILE -o OUT.jsonl | ndpiReader -q -i FILE | ratio, median of rounds (target) |',
    '|---|---|---|---|',
  ];
  for (const r of rows) {
    const sw = r.sensor.map((t) => t.wall);
    const sc = r.sensor.map((t) => t.cpu);
    const pw = r.peer.map((t) => t.wall);
    const pc = r.peer.map((t) => t.cpu);
    const rw = ratios(r, 'wall');
    const rc = ratios(r, 'cpu');
    const met = (x: number): string => (x >= r.capture.target ? 'met' : 'not met');
    lines.push(`| ${r.capture.label}, ${(r.packets / 1e6).toFixed(2)} M packets, ${r.flows.toLocaleString('en')} flows, wall | ${f2(median(sw))} s ${range(sw)} | ${f2(median(pw))} s ${range(pw)} | **${f2(rw.median)}×** ${range(rw.each)} (≥ ${r.capture.target}×: ${met(rw.median)}) |`);
    lines.push(`| ${r.capture.label}, CPU (user + system) | ${f2(median(sc))} s ${range(sc)} | ${f2(median(pc))} s ${range(pc)} | **${f2(rc.median)}×** ${range(rc.each)} (≥ ${r.capture.target}×: ${met(rc.median)}) |`);
    lines.push(`| ${r.capture.label}, per flow / peak RSS | ${Math.round((median(sc) / Math.max(1, r.flows)) * 1e6)} µs CPU, ${Math.round(r.bytesPerFlow).toLocaleString('en')} bytes of output (alerts aside) / ${Math.round(median(r.sensor.map((t) => t.rssMiB)))} MiB | ${Math.round((median(pc) / Math.max(1, r.flows)) * 1e6)} µs CPU / ${Math.round(median(r.peer.map((t) => t.rssMiB)))} MiB | |`);
  }
  for (const r of rows) {
    lines.push(`  ${r.capture.label}: ${r.sensor.length} rounds (sensor, ndpiReader alternating), medians [min-max]; ${r.alerts} alerts and ${r.otherDocuments} other documents beside the flows; load average ${r.loadBefore.toFixed(1)} before, ${r.loadAfter.toFixed(1)} after`);
  }
  return lines;
}

/** Every capture present (a missing one is named with the command that makes it). */
export function benchHeadline(root: string, rounds: number, log: (s: string) => void = () => {}): string[] {
  if (!have('ndpiReader')) return ['ndpiReader not installed: no headline (apt-get install libndpi-bin; scripts/setup.sh lists it)'];
  const rows: HeadlineRow[] = [];
  const missing: string[] = [];
  for (const c of HEADLINE_CAPTURES) {
    const file = join(root, c.file);
    if (!existsSync(file) || statSync(file).size === 0) {
      missing.push(`${c.file} is missing: ${c.label === 'mixed' ? 'npm run gen:bench' : 'bin/ndr-lab gen handshakes'} (root) makes it`);
      continue;
    }
    rows.push(headlineRow(root, c, rounds, log));
  }
  return [...(rows.length > 0 ? headlineTable(rows) : []), ...missing];
}
