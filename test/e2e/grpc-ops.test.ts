// The EDR and SIEM servers as gRPC operators use them: the standard health service and server
// reflection (checked by an independent client, Debian's python3-grpcio), the limits on message
// size, concurrent streams and idle connections, and the TLS serverName option.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { connect } from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, test } from 'vitest';
import { startEdrServer } from '../../src/enrich/edr-server.js';
import { startSiemServer } from '../../src/grpc/siem-server.js';
import { SIEM_PUBLISH_PATH, deserializeAck, ndr } from '../../src/grpc/services.js';
import { SiemClient } from '../../src/output/siem-client.js';
import { serverLimitsFromFile } from '../../src/cli/commands.js';
import { datasets, repoRoot } from './helpers.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ndr-grpcops-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gRPC services as operators expect them', () => {
  test('an independent Python client: health, reflection, and Enrich with a bad query beside a good one', async () => {
    const srv = await startEdrServer({ sysmon: [join(datasets, 'otrf-covenant-psremoting', 'host-events.json')], listen: '127.0.0.1:0', log: () => undefined });
    const out = await new Promise<string>((resolve, reject) =>
      execFile('/usr/bin/python3', [join(repoRoot, 'test/e2e/fixtures/grpc_client.py'), srv.address, 'ndr.v1.EdrEnrichmentService'], { timeout: 30_000 }, (e, so, se) =>
        e ? reject(new Error(`${e.message}\n${se}`)) : resolve(so),
      ),
    );
    await srv.close();
    const r = JSON.parse(out) as Record<string, unknown>;
    expect(r['health_overall']).toBe(1); // SERVING
    expect(r['health_service']).toBe(1);
    expect(r['health_unknown']).toBe('NOT_FOUND');
    expect(r['services']).toEqual(['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'ndr.v1.EdrEnrichmentService']);
    expect(r['files']).toEqual(['ndr/v1/common.proto', 'ndr/v1/edr.proto']);
    const results = r['results'] as Record<string, { error: string; process: string; host: string }>;
    expect(results['1']!.error).toMatch(/^invalid: transport/);
    expect(results['2']).toMatchObject({ error: '', process: 'GruntHTTP.exe' });
  });

  test('health Watch follows the collector: SERVING, NOT_SERVING when it shuts down', async () => {
    const d = tmp();
    const srv = await startSiemServer({ out: join(d, 'out.jsonl'), listen: '127.0.0.1:0', log: () => undefined });
    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    const seen: number[] = [];
    const req = Buffer.concat([Buffer.from([0x0a, 22]), Buffer.from('ndr.v1.SiemFeedService')]);
    const call = client.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b: Buffer) => b, (b: Buffer) => b, req);
    call.on('data', (b: Buffer) => seen.push(b.length >= 2 ? b[1]! : 0));
    call.on('error', () => undefined);
    await wait(200);
    const closing = srv.close();
    await wait(200);
    await closing;
    client.close();
    expect(seen[0]).toBe(1);
    expect(seen).toContain(2);
  });

  test('limits: an oversized message is refused, streams per connection are capped, idle connections are closed', async () => {
    const d = tmp();
    const srv = await startSiemServer({ out: join(d, 'out.jsonl'), listen: '127.0.0.1:0', limits: { maxMessageBytes: 1 << 20, maxConcurrentStreams: 4, idleTimeoutMs: 500 }, log: () => undefined });
    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 8 << 20 });
    const big = Buffer.from(ndr.v1.PublishRequest.encode({ sensorId: 's', seq: 1, epoch: 1, records: { records: [{ flow: { id: 1 }, ecsJson: JSON.stringify({ pad: 'x'.repeat(2 << 20) }) }] } }).finish());
    const err = await new Promise<grpc.ServiceError>((resolve) => {
      const s = client.makeBidiStreamRequest(SIEM_PUBLISH_PATH, (b: Buffer) => b, deserializeAck);
      s.on('error', resolve);
      s.on('data', () => undefined);
      s.write(big);
    });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    // Twelve streams on one connection: the server runs at most four at a time.
    const streams = Array.from({ length: 12 }, () => {
      const s = client.makeBidiStreamRequest(SIEM_PUBLISH_PATH, (b: Buffer) => b, deserializeAck);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      return s;
    });
    await wait(500);
    const started = srv.stats().streams - 1; // the oversized one above
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThanOrEqual(4);
    for (const s of streams) s.cancel();
    client.close();
    // A connection that never makes a call is closed by the server after the idle timeout.
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const sess = connect(`http://${srv.address}`);
      sess.on('error', () => undefined);
      sess.on('goaway', () => resolve(Date.now() - t0));
      sess.on('close', () => resolve(Date.now() - t0));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(400);
    expect(closedAfter).toBeLessThan(5000);
    await srv.close();
  });

  test('limits from a config file: siem serve --config applies them; bad keys are named', async () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.yaml'), 'limits:\n  maxStreams: 4\n  idleTimeoutS: -1\n');
    expect(() => serverLimitsFromFile(join(d, 'bad.yaml'))).toThrow(/limits\.maxStreams: unknown key[\s\S]*limits\.idleTimeoutS: expected an integer in 1\.\.86400, got -1/);
    writeFileSync(join(d, 'ok.yaml'), 'limits:\n  maxMessageMiB: 1\n  maxConcurrentStreams: 8\n');
    expect(serverLimitsFromFile(join(d, 'ok.yaml'))).toEqual({ maxMessageBytes: 1 << 20, maxConcurrentStreams: 8 });
    const child = spawn(process.execPath, [join(repoRoot, 'dist', 'ndr-sensor.mjs'), 'siem', 'serve', '--out', join(d, 'out.jsonl'), '--listen', '127.0.0.1:0', '--config', join(d, 'ok.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.setEncoding('utf8').on('data', (t: string) => {
          err += t;
          const m = /siem serve: listening on (\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', () => reject(new Error(err)));
      });
      const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_send_message_length': 8 << 20 });
      const big = Buffer.from(ndr.v1.PublishRequest.encode({ sensorId: 's', seq: 1, epoch: 1, records: { records: [{ flow: { id: 1 }, ecsJson: JSON.stringify({ pad: 'x'.repeat(2 << 20) }) }] } }).finish());
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        const s = client.makeBidiStreamRequest(SIEM_PUBLISH_PATH, (b: Buffer) => b, deserializeAck);
        s.on('error', resolve);
        s.on('data', () => undefined);
        s.write(big);
      });
      client.close();
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    } finally {
      child.kill('SIGTERM');
    }
  });

  test('serverName: a collector certificate that names only a DNS name is accepted at an IP endpoint when serverName says so', async () => {
    const d = tmp();
    const f = (n: string) => join(d, n);
    const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=ca');
    writeFileSync(f('srv.cnf'), 'subjectAltName=DNS:siem.example.internal\n');
    writeFileSync(f('cli.cnf'), 'subjectAltName=DNS:s1\n');
    for (const [name, ext] of [['collector', 'srv.cnf'], ['s1', 'cli.cnf']] as const) {
      ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
      ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(ext));
    }
    const srv = await startSiemServer({ out: f('out.jsonl'), listen: '127.0.0.1:0', tls: { ca: f('ca.pem'), cert: f('collector.pem'), key: f('collector.key') }, log: () => undefined });
    const tls = { ca: f('ca.pem'), cert: f('s1.pem'), key: f('s1.key') };
    const without = new SiemClient({ endpoint: `127.0.0.1:${srv.port}`, sensorId: 's1', spoolDir: f('spool1'), tls, log: () => undefined });
    without.publishRecord({ flow: { id: 1 }, ecsJson: '{"i":1}' });
    expect(await without.flush(1500)).toBe(false);
    await without.close(100);
    const withName = new SiemClient({ endpoint: `127.0.0.1:${srv.port}`, sensorId: 's1', spoolDir: f('spool2'), tls: { ...tls, serverName: 'siem.example.internal' }, log: () => undefined });
    withName.publishRecord({ flow: { id: 2 }, ecsJson: '{"i":2}' });
    expect(await withName.flush(5000)).toBe(true);
    await withName.close();
    await srv.close();
  });
});
