// A Sysmon log larger than any string V8 can hold, loaded by the real reference EDR (`edr serve`
// in a child process): it is streamed, every event is counted, and the child's peak resident
// memory (VmHWM, read from /proc while it serves) stays within what the store's limits allow,
// far below the file's size. Two shapes: JSON lines (~2.1 GiB) and one JSON array written on a
// single line (~0.55 GiB, past the 512 MiB string limit that a whole read hits). Eviction at the
// store's limits is tested in src/enrich/sysmon.test.ts with small limits.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_EDR_LIMITS } from '../src/enrich/edr-store.js';
import { freePort } from './helpers/net.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'ndr-sensor.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ndr-sysmon-large-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const MiB = 1 << 20;
const HEAP_MIB = 448;
// A field the store does not keep, so the file is large while the events stay ordinary.
const PAD = 'x'.repeat(14_000);

/** One flat (NXLog-style) EID 3 event; `i` makes its 4-tuple unique. */
function event(i: number): string {
  const host = i % 64;
  const pid = 1000 + (i % 500);
  return `{"SourceName":"Microsoft-Windows-Sysmon","EventID":3,"Hostname":"WS${host}.corp.example","UtcTime":"2026-12-01 10:${String(Math.floor(i / 60_000) % 60).padStart(2, '0')}:${String(Math.floor(i / 1000) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}","ProcessGuid":"{${(0x5c000000 + host).toString(16)}-0f3c-6571-0300-${String(pid).padStart(12, '0')}}","ProcessId":${pid},"Image":"C:\\\\Tools\\\\app${pid % 50}.exe","User":"CORP\\\\user${host}","Protocol":"tcp","Initiated":"true","SourceIp":"10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}","SourcePort":${1024 + (i % 60_000)},"DestinationIp":"198.51.100.7","DestinationPort":443,"Description":"${PAD}"}`;
}

/** Writes events in ~64 MiB chunks until the file reaches `bytes`; returns the event count. */
function writeLog(path: string, bytes: number, shape: 'lines' | 'array'): number {
  const fd = openSync(path, 'w');
  let n = 0;
  let written = 0;
  try {
    if (shape === 'array') written += writeSync(fd, '[');
    while (written < bytes) {
      const parts: string[] = [];
      let size = 0;
      while (size < 64 * MiB && written + size < bytes) {
        const e = shape === 'array' ? (n > 0 ? ',' : '') + event(n) : event(n) + '\n';
        parts.push(e);
        size += e.length;
        n++;
      }
      written += writeSync(fd, parts.join(''));
    }
    if (shape === 'array') writeSync(fd, ']');
  } finally {
    closeSync(fd);
  }
  return n;
}


/** `edr serve` on the log: its load report, peak RSS once serving, and how long the load took. */
async function serve(log: string): Promise<{ events: number; connections: number; peakMiB: number; seconds: number }> {
  const port = await freePort();
  const t0 = Date.now();
  // The heap is capped at what the store's default limits need (about 300 MiB for 500,000
  // connections): garbage is collected before the heap grows past it, and a loader that kept
  // the file's text would run out of memory here and fail the test.
  const c = spawn(process.execPath, [`--max-old-space-size=${HEAP_MIB}`, cli, 'edr', 'serve', '--sysmon', log, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(c);
  let err = '';
  await new Promise<void>((res, rej) => {
    c.stderr?.on('data', (b: Buffer) => { err += b.toString(); if (err.includes('listening on')) res(); });
    c.on('exit', (code) => rej(new Error(`edr serve exited ${code}: ${err}`)));
  });
  const seconds = (Date.now() - t0) / 1000;
  const status = readFileSync(`/proc/${c.pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  const done = new Promise((r) => c.on('exit', r));
  c.kill('SIGTERM');
  await done;
  const m = /loaded (\d+) Sysmon events \((\d+) network/.exec(err);
  expect(m, err).not.toBeNull();
  return { events: Number(m?.[1]), connections: Number(m?.[2]), peakMiB: Number(hwm?.[1]) / 1024, seconds };
}

describe('Sysmon logs larger than memory allows a string', () => {
  it('JSON lines, 2.1 GiB: streamed, counted, memory set by the store limits', async () => {
    const log = join(dir, 'big.jsonl');
    const n = writeLog(log, 2150 * MiB, 'lines');
    expect(statSync(log).size).toBeGreaterThan(2048 * MiB);
    const r = await serve(log);
    rmSync(log);
    expect(r.events).toBe(n);
    expect(r.connections).toBe(Math.min(n, DEFAULT_EDR_LIMITS.maxConnections));
    expect(r.peakMiB).toBeLessThan(600);
    process.stderr.write(`sysmon-large: ${n} events in ${(2150 / 1024).toFixed(1)} GiB of JSON lines loaded in ${r.seconds.toFixed(1)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB\n`);
  }, 300_000);

  it('one JSON array on a single line, 0.55 GiB', async () => {
    const log = join(dir, 'big.json');
    const n = writeLog(log, 560 * MiB, 'array');
    const r = await serve(log);
    rmSync(log);
    expect(r.events).toBe(n);
    expect(r.peakMiB).toBeLessThan(600);
    process.stderr.write(`sysmon-large: ${n} events in a 0.55 GiB single-line JSON array loaded in ${r.seconds.toFixed(1)} s, peak RSS ${r.peakMiB.toFixed(0)} MiB\n`);
  }, 300_000);
});
