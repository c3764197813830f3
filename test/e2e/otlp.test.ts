// OpenTelemetry out, against a real OTLP receiver on loopback (gRPC and HTTP, built from the OTLP
// protos in fixtures/otlp): every flow and alert of the demo arrives with its ECS document as the
// body; a receiver that fails or is away is retried from the spool until it takes everything.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { OtlpClient } from '../../src/output/otlp.js';
import { repoRoot } from './helpers.js';
import { OtlpReceiver } from './otlp-receiver.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ndr-otlp-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const demo = join(repoRoot, 'pcaps', 'demo');

function replay(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(repoRoot, 'dist', 'ndr-sensor.mjs'), 'replay', '-q', '--no-summary', join(demo, 'demo.pcap'), '--sysmon', join(demo, 'sysmon.jsonl'), '--analytics-config', join(demo, 'analytics-config.json'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stderr: err }));
  });
}

/** Objects with keys sorted, so documents compare whatever their key order. */
function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]));
  return v;
}
const key = (v: unknown) => JSON.stringify(canon(v));

describe('OpenTelemetry out', () => {
  for (const via of ['grpc', 'http'] as const) {
    test(`the demo over OTLP/${via}: every flow and alert arrives, its ECS document as the body`, async () => {
      const d = tmp();
      const rx = new OtlpReceiver();
      const endpoint = via === 'grpc' ? `127.0.0.1:${await rx.startGrpc()}` : `http://127.0.0.1:${await rx.startHttp()}/v1/logs`;
      const r = await replay(['--otlp', endpoint, '--spool', join(d, 'spool'), '-o', join(d, 'out.jsonl'), '--sensor-id', 'demo-sensor']);
      await rx.close();
      expect(r.code, r.stderr).toBe(0);
      // 15 flows, 5 alerts, the certificate and the 3 client fingerprints (ndr.ja4) the demo's TLS
      // flows name and the sensor's own document (lean output: each described once)
      expect(r.stderr).toContain('otlp: 25 record(s) exported');
      const lines = readFileSync(join(d, 'out.jsonl'), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.length).toBe(25);
      expect(rx.logs.length).toBe(25);
      const sensor = rx.logs.filter((l) => l.attributes['event.dataset'] === 'ndr.sensor');
      expect(sensor.map((l) => (l.body as { observer: Record<string, string> }).observer)).toEqual([{ type: 'sensor', vendor: 'ndr-sensor', product: 'ndr-sensor', version: expect.any(String), hostname: expect.any(String), name: 'demo-sensor' }]);
      expect(rx.logs.findIndex((l) => l.attributes['ndr.record.type'] === 'flow')).toBeGreaterThan(rx.logs.indexOf(sensor[0]!));
      expect(rx.logs.every((l) => l.via === via)).toBe(true);
      // The same documents as the JSON-lines output, value for value.
      expect(rx.logs.map((l) => key(l.body)).sort()).toEqual(lines.map(key).sort());
      const alerts = rx.logs.filter((l) => l.attributes['ndr.record.type'] === 'alert');
      expect(alerts.length).toBe(5);
      expect(alerts.every((l) => l.severityNumber === 13 && l.eventName === 'ndr.alert')).toBe(true);
      expect(rx.logs.filter((l) => l.attributes['ndr.record.type'] === 'flow').length).toBe(15);
      const certs = rx.logs.filter((l) => l.attributes['event.dataset'] === 'ndr.x509');
      expect(certs.length).toBe(1);
      // the certificate's description arrives before the first flow that names it as its leaf
      const hash = (certs[0]!.body as { file: { hash: { sha256: string } } }).file.hash.sha256;
      const firstRef = rx.logs.findIndex((l) => (l.body as { tls?: { server?: { hash?: { sha256?: string } } } }).tls?.server?.hash?.sha256 === hash);
      expect(firstRef).toBeGreaterThan(rx.logs.indexOf(certs[0]!));
      type Ja4Body = { tls?: { client?: { ja4?: string } }; ndr?: { tls?: { ja4_r?: string } } };
      const prints = rx.logs.filter((l) => l.attributes['event.dataset'] === 'ndr.ja4');
      expect(prints.length).toBe(3);
      for (const p of prints) {
        const ja4 = (p.body as Ja4Body).tls?.client?.ja4 as string;
        expect((p.body as Ja4Body).ndr?.tls?.ja4_r).toBeDefined();
        const first = rx.logs.findIndex((l) => l.attributes['ndr.record.type'] === 'flow' && (l.body as Ja4Body).tls?.client?.ja4 === ja4);
        expect(first).toBeGreaterThan(rx.logs.indexOf(p));
      }
      for (const l of rx.logs) {
        expect(l.resource).toMatchObject({ 'service.name': 'ndr-sensor', 'service.instance.id': 'demo-sensor' });
        expect(l.scope).toBe('ndr-sensor');
        expect(l.timeMs).toBe(Date.parse((l.body as { '@timestamp': string })['@timestamp']));
      }
    });
  }

  test('OTLP/HTTP receiver failing, then recovering: every record arrives once, in order', async () => {
    const d = tmp();
    const rx = new OtlpReceiver();
    const port = await rx.startHttp();
    rx.failNext = 4;
    const logs: string[] = [];
    const c = new OtlpClient({ protocol: 'http', endpoint: `http://127.0.0.1:${port}/v1/logs`, sensorId: 's', spoolDir: join(d, 'spool'), batchSize: 50, lingerMs: 5, retryMinMs: 50, retryMaxMs: 200, timeoutMs: 2000, log: (l) => logs.push(l) });
    const N = 1000;
    for (let i = 0; i < N; i++) c.publishFlow(JSON.stringify({ '@timestamp': new Date(1_700_000_000_000 + i).toISOString(), i }));
    expect(await c.flush(30_000)).toBe(true);
    const st = c.stats();
    await c.close();
    await rx.close();
    expect(rx.logs.map((l) => (l.body as { i: number }).i)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(rx.requests).toBeGreaterThan(st.exportedBatches);
    expect(st.exportedRecords).toBe(N);
    expect(logs.some((l) => l.includes('failed'))).toBe(true);
  });

  test('OTLP/gRPC receiver away at the start and killed midway: the spool holds the records until it is back', async () => {
    const d = tmp();
    const rx = new OtlpReceiver();
    const port = await rx.startGrpc();
    await rx.stopGrpc();
    const logs: string[] = [];
    const c = new OtlpClient({ protocol: 'grpc', endpoint: `127.0.0.1:${port}`, sensorId: 'g', spoolDir: join(d, 'spool'), batchSize: 100, lingerMs: 5, retryMinMs: 50, retryMaxMs: 300, timeoutMs: 1000, log: (l) => logs.push(l) });
    const N = 3000;
    for (let i = 0; i < N; i++) {
      c.publishAlert(JSON.stringify({ '@timestamp': new Date(1_700_000_000_000).toISOString(), i }));
      if (i === 1000) {
        await wait(300);
        expect(c.stats().spool.pendingBatches).toBeGreaterThan(0);
        await rx.startGrpc(port);
      }
      if (i === 2000) {
        await wait(100);
        await rx.stopGrpc();
      }
      if (i % 250 === 0) await wait(10);
    }
    await wait(300);
    await rx.startGrpc(port);
    expect(await c.flush(30_000)).toBe(true);
    await c.close();
    await rx.close();
    // Every record, in order; a batch is exported again only if the receiver died before answering.
    const seen = rx.logs.map((l) => (l.body as { i: number }).i);
    expect(new Set(seen).size).toBe(N);
    const first: number[] = [];
    const s = new Set<number>();
    for (const i of seen) if (!s.has(i)) { s.add(i); first.push(i); }
    expect(first).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(logs.some((l) => l.includes('takes records again'))).toBe(true);
  });

  test('a batch the receiver refuses as malformed is counted and reported, and the feed goes on', async () => {
    const d = tmp();
    const rx = new OtlpReceiver();
    const port = await rx.startGrpc();
    rx.failMode = 'malformed';
    rx.failNext = 1;
    const logs: string[] = [];
    const c = new OtlpClient({ protocol: 'grpc', endpoint: `127.0.0.1:${port}`, sensorId: 'm', spoolDir: join(d, 'spool'), batchSize: 10, lingerMs: 5, log: (l) => logs.push(l) });
    for (let i = 0; i < 30; i++) c.publishFlow(JSON.stringify({ i }));
    expect(await c.flush(10_000)).toBe(true);
    const st = c.stats();
    await c.close();
    await rx.close();
    expect(st.rejected).toBe(10);
    expect(rx.logs.map((l) => (l.body as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i + 10));
    expect(logs.some((l) => l.includes('refused batch 1 (10 records) as malformed'))).toBe(true);
  });
});
