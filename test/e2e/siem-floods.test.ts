// Flood summaries on the feeds (issue 25): a SYN flood replayed by the CLI with the reference SIEM
// collector (`ndr-sensor siem serve`, its own process) and a real OTLP/gRPC receiver on loopback.
// Every flow of the capture is accounted for at each end: written one by one, or counted in
// exactly one flood summary, which travels as a record of its own (FeedRecord.flood, OTLP log
// records of type "flood"), with the same ECS document as the JSON-lines output.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { generateFlood } from '../../lab/gen-floods.js';
import { ndr } from '../../src/gen/ndr.js';
import { floodToPb } from '../../src/output/siem-records.js';
import { SiemClient } from '../../src/output/siem-client.js';
import type { FloodSummary } from '../../src/flow/record.js';
import { repoRoot } from './helpers.js';
import { OtlpReceiver } from './otlp-receiver.js';
import { freePort } from '../helpers/net.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-siem-floods-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const cli = join(repoRoot, 'dist', 'ndr-sensor.mjs');


/** The collector as a user starts it; resolves once it listens. */
function startCollector(out: string, port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cli, 'siem', 'serve', '--out', out, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(p);
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (/listening on/.test(err)) resolve(p);
    });
    p.on('exit', (code) => reject(new Error(`siem serve exited ${String(code)}: ${err}`)));
  });
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) { resolve(); return; }
    p.once('exit', () => resolve());
    process.kill(p.pid!, 'SIGTERM');
  });
}

function run(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(p);
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stderr: err }));
  });
}

type Doc = { event?: { dataset?: string; kind?: string; type?: string[] }; ndr?: { flood?: { flows: number; scope: string } } };
const lines = (file: string): Doc[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Doc);
const isFlood = (d: Doc) => d.event?.dataset === 'ndr.flood';
/** Flows written one by one plus the flows the summaries stand for. */
const accounted = (docs: Doc[]) => docs.reduce((n, d) => n + (isFlood(d) ? d.ndr!.flood!.flows : d.event?.type?.includes('connection') ? 1 : 0), 0);
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('flood summaries on the SIEM feed and OTLP', () => {
  test('a SYN flood: collector and OTLP receiver account for every flow of the capture', async () => {
    const pcap = join(dir, 'syn.pcap');
    // 30,000 SYNs over 10 s: 10,000 written one by one (the default rate), the rest summarised.
    const info = generateFlood('syn-flood', pcap, { scale: 0.03 });
    const port = await freePort();
    const siemOut = join(dir, 'siem.jsonl');
    const collector = await startCollector(siemOut, port);
    const rx = new OtlpReceiver();
    const otlpPort = await rx.startGrpc();
    const out = join(dir, 'out.jsonl');
    const r = await run(['replay', pcap, '-o', out, '-q', '--no-summary', '--siem', `127.0.0.1:${port}`, '--spool', join(dir, 'spool'), '--otlp', `127.0.0.1:${otlpPort}`, '--sensor-id', 'flood-sensor']);
    await rx.close();
    await stop(collector);
    expect(r.code, r.stderr).toBe(0);

    const written = lines(out);
    const floods = written.filter(isFlood);
    expect(floods.length).toBeGreaterThanOrEqual(1);
    expect(written.length - floods.length).toBeLessThan(info.flows);
    expect(accounted(written)).toBe(info.flows);

    // The collector wrote each record once (nothing was resent), the same documents as the file.
    const got = lines(siemOut);
    expect(got.length).toBe(written.length);
    expect(got.filter(isFlood)).toEqual(floods);
    expect(accounted(got)).toBe(info.flows);

    // OTLP: a log record per document; the summaries are records of type "flood".
    const otlpFloods = rx.logs.filter((l) => l.attributes['ndr.record.type'] === 'flood');
    expect(otlpFloods.length).toBe(floods.length);
    expect(otlpFloods.every((l) => l.eventName === 'ndr.flood' && l.severityNumber === 9)).toBe(true);
    expect(rx.logs.length).toBe(written.length);
    expect(accounted(rx.logs.map((l) => l.body as Doc))).toBe(info.flows);
  }, 120_000);

  test('a summary sent without its ECS document is written as its typed record', async () => {
    const port = await freePort();
    const siemOut = join(dir, 'typed.jsonl');
    const collector = await startCollector(siemOut, port);
    const c = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 'typed', spoolDir: join(dir, 'spool-typed'), batchSize: 10, lingerMs: 5, log: () => {} });
    const s: FloodSummary = {
      kind: 'flood', scope: 'service', transport: 'tcp', server: { ip: '198.51.100.10', port: 80 }, client: null,
      intervalStart: 1_790_000_000_000, intervalMs: 10_000, flows: 12_345, firstTs: 1_790_000_000_001, lastTs: 1_790_000_009_999,
      packets: 12_345, ipBytes: 493_800, clients: 12_345, servers: 1, ports: 1, distinctCapped: false, unanswered: 12_000, rejected: 300, answeredEmpty: 45,
    };
    c.publishRecord({ flood: floodToPb(s) });
    expect(await c.flush(20_000)).toBe(true);
    await c.close(1000);
    await wait(50);
    await stop(collector);
    const [line, ...rest] = readFileSync(siemOut, 'utf8').split('\n').filter((l) => l !== '');
    expect(rest).toEqual([]);
    const back = ndr.v1.FloodSummary.fromObject(JSON.parse(line!) as Record<string, unknown>);
    expect(back.scope).toBe('service');
    expect(Number(back.flows)).toBe(12_345);
    expect(back.server?.port).toBe(80);
    expect(Number(back.unanswered) + Number(back.rejected) + Number(back.answeredEmpty)).toBe(12_345);
  }, 60_000);
});
