// The SIEM path under real faults, counting every record from the sensor to the collector's file:
// two replays to one collector, a replay the collector never acknowledges, records the collector
// refuses, a forged sensor id under mTLS, full disks on both ends (tmpfs), a wiped collector and a
// corrupt spool segment. Nothing acknowledged may be missing; every loss must be counted.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { SIEM_PUBLISH_PATH, deserializeAck, ndr } from '../../src/grpc/services.js';
import type { AckMsg } from '../../src/grpc/services.js';
import { startSiemServer } from '../../src/grpc/siem-server.js';
import { SiemClient } from '../../src/output/siem-client.js';
import { FRAME_HEADER_BYTES } from '../../src/output/spool.js';
import { repoRoot, spawnChild } from './helpers.js';

const dirs: string[] = [];
const mounts: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ndr-siemf-'));
  dirs.push(d);
  return d;
}
/** A tmpfs of `kib` KiB mounted in a fresh directory (unmounted after the file). */
function smallDisk(kib: number): string {
  const d = tmp();
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', d]);
  mounts.push(d);
  return d;
}
/** Fills a tmpfs until the kernel says ENOSPC, then frees `leave` bytes. */
function fill(d: string, leave: number): string {
  const f = join(d, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${f}`, 'bs=4096'], { stdio: 'ignore' });
  } catch {
    // dd ends with "No space left on device": the disk is full
  }
  if (leave > 0) execFileSync('truncate', ['-s', `-${leave}`, f]);
  return f;
}
afterAll(() => {
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = join(repoRoot, 'dist', 'ndr-sensor.mjs');
const demo = join(repoRoot, 'pcaps', 'demo');

function lines(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const indexes = (file: string): number[] => lines(file).map((l) => l['i']).filter((i): i is number => typeof i === 'number');

function replay(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, 'replay', '-q', '--no-summary', join(demo, 'demo.pcap'), '--sysmon', join(demo, 'sysmon.jsonl'), '--analytics-config', join(demo, 'analytics-config.json'), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stderr: err }));
  });
}

/**
 * Records of one demo replay, on every output alike: 15 flows, 5 alerts and, with the lean output
 * (the default), the sensor's own document, the one certificate and the three client fingerprints
 * (ndr.ja4) the demo's TLS flows name, each described once before them.
 */
const DEMO_RECORDS = 25;

describe('SIEM delivery under faults', () => {
  test('two replays of the demo to one collector: each is a sensor of its own and both are written in full', async () => {
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const a = await replay(['--siem', srv.address, '--spool', join(d, 'spool'), '-o', join(d, 'a.jsonl')]);
    const b = await replay(['--siem', srv.address, '--spool', join(d, 'spool'), '-o', join(d, 'b.jsonl')]);
    await srv.close();
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stderr).toContain(`${DEMO_RECORDS} record(s) delivered and acknowledged`);
    const got = lines(out);
    // Every record of each replay, each replay under its own sensor id.
    expect(got.length).toBe(2 * DEMO_RECORDS);
    expect(lines(join(d, 'a.jsonl')).length).toBe(DEMO_RECORDS);
    const ids = new Set(readFileSync(`${out}.state`, 'utf8').match(/replay-[^"\\]+/g));
    expect(ids.size).toBe(2);
    expect(srv.stats().duplicates).toBe(0);
    // Fully acknowledged replays leave no spool behind.
    expect(readdirSync(join(d, 'spool'))).toEqual([]);
  });

  test('replay whose collector never answers exits 4 and says how much is unacknowledged', async () => {
    const d = tmp();
    const r = await replay(['--siem', '127.0.0.1:9', '--spool', join(d, 'spool'), '--siem-timeout', '1', '-o', join(d, 'a.jsonl')]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`\\d+ batch\\(es\\) \\(up to ${DEMO_RECORDS} records\\) not acknowledged within the timeout`));
    // The JSON-lines output is complete all the same.
    expect(lines(join(d, 'a.jsonl')).length).toBe(DEMO_RECORDS);
  });

  test('the collector refuses a non-object ecs_json per record, writes the good ones, and keeps each record on one line', async () => {
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const logs: string[] = [];
    const c = new SiemClient({ endpoint: srv.address, sensorId: 'r', spoolDir: join(d, 'spool'), batchSize: 100, log: (l) => logs.push(l) });
    const docs = ['{"i":0}', '[1,2]', '{"i":2,\n "text": "two\\nlines"}', '"a string"', 'not json', '{"i":5}', 'null'];
    docs.forEach((ecsJson, id) => c.publishRecord({ flow: { id }, ecsJson }));
    expect(await c.flush(5000)).toBe(true);
    const st = c.stats();
    await c.close();
    await srv.close();
    const text = readFileSync(out, 'utf8');
    expect(text.split('\n').filter((l) => l !== '').length).toBe(3);
    expect(indexes(out)).toEqual([0, 2, 5]);
    expect(lines(out)[1]!['text']).toBe('two\nlines');
    expect(st.rejected).toBe(4);
    expect(st.rejectReasons).toEqual({ ecs_json_not_object: 3, ecs_json_invalid: 1 });
    expect(srv.stats().rejected).toBe(4);
    expect(logs.some((l) => l.includes('rejected record 1 of batch 1: ecs_json_not_object'))).toBe(true);
  });

  test('one batch carries records of every kind; a record without its document is written typed, an empty one and a batch of an unknown layout are named', async () => {
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const c = new SiemClient({ endpoint: srv.address, sensorId: 'k', spoolDir: join(d, 'spool'), batchSize: 100, log: () => undefined });
    c.publishRecord({ flow: { id: 1 }, ecsJson: '{"i":0,"kind":"flow"}' });
    c.publishRecord({ alert: { id: 'a1', analytic: 'AN0002' }, ecsJson: '{"i":1,"kind":"alert"}' });
    c.publishRecord({ flow: { id: 7, communityId: '1:abc' } });
    c.publishRecord({});
    expect(await c.flush(5000)).toBe(true);
    const st = c.stats();
    await c.close();
    // One batch for all four, in the order published.
    expect(st.lastSeq).toBe(1);
    const got = lines(out);
    expect(got.map((l) => l['kind'] ?? l['communityId'])).toEqual(['flow', 'alert', '1:abc']);
    expect(got[2]!['id']).toBe(7);
    expect(st.rejectReasons).toEqual({ record_empty: 1 });

    // A sensor of another version sends a payload this collector has no field for (here the
    // pre-envelope flow list, field 3): acknowledged, nothing written, named.
    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    const head = ndr.v1.PublishRequest.encode({ sensorId: 'old', seq: 1, epoch: 9 }).finish();
    const oldFlows = Buffer.from([0x1a, 0x04, 0x0a, 0x02, 0x08, 0x01]);
    const ack = await new Promise<AckMsg>((resolve, reject) => {
      const s = client.makeBidiStreamRequest(SIEM_PUBLISH_PATH, (b: Buffer) => b, deserializeAck);
      s.on('data', (m: AckMsg) => {
        resolve(m);
        s.end();
      });
      s.on('error', reject);
      s.write(Buffer.concat([Buffer.from(head), oldFlows]));
    });
    client.close();
    await srv.close();
    expect(ack.ackedSeq).toBe(1);
    expect(ack.rejected?.map((r) => r.reason)).toEqual(['payload_unknown']);
    expect(lines(out).length).toBe(3);
    expect(srv.stats().rejected).toBe(2);
  });

  test('under mTLS the identity is the client certificate: a batch claiming another sensor is refused, permanently', async () => {
    const d = tmp();
    const f = (n: string) => join(d, n);
    const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=ca');
    writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
    for (const name of ['collector', 'sensor-a']) {
      ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
      ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f('ext.cnf'));
    }
    const out = f('siem.jsonl');
    const logs: string[] = [];
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', tls: { ca: f('ca.pem'), cert: f('collector.pem'), key: f('collector.key') }, log: (l) => logs.push(l) });
    const tls = { ca: f('ca.pem'), cert: f('sensor-a.pem'), key: f('sensor-a.key') };
    const forged = new SiemClient({ endpoint: `localhost:${srv.port}`, sensorId: 'sensor-b', spoolDir: f('spool-b'), tls, reconnectMaxMs: 200, log: () => undefined });
    for (let i = 0; i < 10; i++) forged.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i, who: 'forged' }) });
    // A permanent refusal ends the wait at once instead of at the timeout.
    const t0 = Date.now();
    expect(await forged.flush(10_000)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(forged.stats().permanentError).toMatch(/PERMISSION_DENIED.*sensor-b.*sensor-a/);
    expect(forged.stats().spool.pendingBatches).toBe(1);
    await forged.close(100);
    const honest = new SiemClient({ endpoint: `localhost:${srv.port}`, sensorId: 'sensor-a', spoolDir: f('spool-a'), tls, log: () => undefined });
    for (let i = 0; i < 10; i++) honest.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i, who: 'honest' }) });
    expect(await honest.flush(10_000)).toBe(true);
    await honest.close();
    await srv.close();
    expect(srv.stats().forged).toBeGreaterThan(0);
    expect(lines(out).map((l) => l['who'])).toEqual(Array(10).fill('honest'));
    expect(logs.some((l) => l.includes('refused batch claiming sensor "sensor-b"'))).toBe(true);
  });

  test('collector on a full disk: acknowledges only what it wrote; once space returns every record is there', async () => {
    const disk = smallDisk(512);
    const out = join(disk, 'siem.jsonl');
    const logs: string[] = [];
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: (l) => logs.push(l) });
    const filler = fill(disk, 16 * 1024);
    const d = tmp();
    const c = new SiemClient({ endpoint: srv.address, sensorId: 'full', spoolDir: join(d, 'spool'), batchSize: 50, lingerMs: 60_000, reconnectMaxMs: 200, log: () => undefined });
    const N = 3000;
    const pad = 'x'.repeat(60);
    for (let i = 0; i < N; i++) {
      c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i, pad }) });
      if (i % 500 === 0) await wait(20);
    }
    await c.flush(3000);
    // The disk is full: part is acknowledged, and everything acknowledged is in the file.
    const acked = c.stats().ackedSeq;
    expect(acked).toBeLessThan(N / 50);
    expect(srv.stats().writeErrors).toBeGreaterThan(0);
    // (A write may be in flight while we read: only newline-terminated lines count here.)
    const text = readFileSync(out, 'utf8');
    const before = new Set(text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { i: number }).i));
    for (let i = 0; i < acked * 50; i++) expect(before.has(i)).toBe(true);
    unlinkSync(filler);
    expect(await c.flush(20_000)).toBe(true);
    await c.close();
    await srv.close();
    // Every line parses (a failed write was cut back off the file), each record once.
    const got = indexes(out);
    expect(new Set(got).size).toBe(N);
    expect(got.length).toBe(N);
    expect(logs.some((l) => l.includes('not acknowledged'))).toBe(true);
  });

  test('sensor spool on a full disk: the batches are dropped and counted, the JSON-lines output is complete, replay exits 4', async () => {
    const disk = smallDisk(256);
    fill(disk, 0);
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const r = await replay(['--siem', srv.address, '--spool', join(disk, 'spool'), '--siem-timeout', '2', '-o', join(d, 'a.jsonl')]);
    await srv.close();
    expect(r.code, r.stderr).toBe(4);
    expect(lines(join(d, 'a.jsonl')).length).toBe(DEMO_RECORDS);
    // What did not reach the collector is exactly what the sensor reports lost.
    const lost = Number(/(\d+) record\(s\) lost before delivery/.exec(r.stderr)?.[1] ?? -1);
    expect(lost).toBeGreaterThan(0);
    expect(lines(out).length + lost).toBe(DEMO_RECORDS);
    expect(r.stderr).toContain('ENOSPC');
  });

  test('sensor spool on a read-only disk: appends are refused without a crash and counted', async () => {
    const disk = smallDisk(256);
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const logs: string[] = [];
    const c = new SiemClient({ endpoint: srv.address, sensorId: 'ro', spoolDir: join(disk, 'spool'), batchSize: 10, log: (l) => logs.push(l) });
    for (let i = 0; i < 50; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    expect(await c.flush(5000)).toBe(true);
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    for (let i = 50; i < 100; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    await c.flush(500);
    const st = c.stats();
    await c.close(200);
    await srv.close();
    execFileSync('mount', ['-o', 'remount,rw', disk]);
    expect(st.spool.writeFailedRecords).toBe(50);
    expect(st.lost).toBe(50);
    expect(st.spool.lastDiskError).toContain('EROFS');
    expect(indexes(out)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(logs.some((l) => l.includes('other outputs go on'))).toBe(true);
  });

  test('collector killed and wiped mid-stream: it starts over at the batch it first sees; nothing after is missing', async () => {
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    let col = await spawnChild(['siem', '127.0.0.1:0', out]);
    const port = (await col.waitFor((l) => l['ready'] === true))['port'] as number;
    const c = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 'w', spoolDir: join(d, 'spool'), batchSize: 50, lingerMs: 60_000, reconnectMaxMs: 200, log: () => undefined });
    const N = 6000;
    let ackedAtWipe = 0;
    for (let i = 0; i < N; i++) {
      c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
      if (i === 2000) {
        await c.flush(5000);
        await col.kill('SIGKILL');
        ackedAtWipe = c.stats().ackedSeq;
        rmSync(out, { force: true });
        rmSync(`${out}.state`, { force: true });
        col = await spawnChild(['siem', `127.0.0.1:${port}`, out]);
        await col.waitFor((l) => l['ready'] === true);
      }
      if (i % 500 === 0) await wait(5);
    }
    expect(await c.flush(20_000)).toBe(true);
    await c.close();
    await col.kill('SIGTERM');
    expect(ackedAtWipe).toBeGreaterThan(0);
    const got = new Set(indexes(out));
    for (let i = ackedAtWipe * 50; i < N; i++) expect(got.has(i)).toBe(true);
  });

  test('collector restarted with a state file older than its output: the sensor resumes past it, nothing stalls or is lost', async () => {
    const d = tmp();
    const out = join(d, 'siem.jsonl');
    const spool = join(d, 'spool');
    let srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const port = srv.port;
    const c = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 'old', spoolDir: spool, batchSize: 10, lingerMs: 60_000, reconnectMaxMs: 200, log: () => undefined });
    for (let i = 0; i < 100; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    expect(await c.flush(5000)).toBe(true);
    await srv.close();
    // As if the collector had crashed before rewriting its state after batch 3.
    const state = JSON.parse(readFileSync(`${out}.state`, 'utf8')) as { sensors: Record<string, { acked: number }> };
    for (const v of Object.values(state.sensors)) v.acked = 3;
    writeFileSync(`${out}.state`, JSON.stringify(state));
    const logs: string[] = [];
    srv = await startSiemServer({ out, listen: `127.0.0.1:${port}`, log: (l) => logs.push(l) });
    for (let i = 100; i < 200; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    expect(await c.flush(10_000)).toBe(true);
    await c.close();
    await srv.close();
    expect(srv.stats().resumedAhead).toBe(1);
    expect(srv.stats().gaps).toBe(0);
    expect(indexes(out)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(logs.some((l) => l.includes('resumes at batch 11'))).toBe(true);
  });

  test('a corrupt spool segment: the damaged batch is quarantined and reported to the collector, every other record delivered', async () => {
    const d = tmp();
    const spool = join(d, 'spool');
    const c = new SiemClient({ endpoint: '127.0.0.1:9', sensorId: 'cor', spoolDir: spool, batchSize: 50, log: () => undefined });
    for (let i = 0; i < 1000; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    await c.flush(50);
    await c.close(50);
    const seg = join(spool, readdirSync(spool).find((n) => n.startsWith('seg-'))!);
    const b = readFileSync(seg);
    // Flip a byte inside the 5th frame (batch 5: records 200..249).
    let off = 0;
    for (let k = 0; k < 4; k++) off += FRAME_HEADER_BYTES + b.readUInt32BE(off);
    b[off + FRAME_HEADER_BYTES + 10] ^= 0x55;
    writeFileSync(seg, b);
    const out = join(d, 'siem.jsonl');
    const srv = await startSiemServer({ out, listen: '127.0.0.1:0', log: () => undefined });
    const logs: string[] = [];
    const c2 = new SiemClient({ endpoint: srv.address, sensorId: 'cor', spoolDir: spool, batchSize: 50, log: (l) => logs.push(l) });
    for (let i = 1000; i < 1100; i++) c2.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    expect(await c2.flush(10_000)).toBe(true);
    const st = c2.stats();
    await c2.close();
    await srv.close();
    const got = indexes(out);
    const want = Array.from({ length: 1100 }, (_, i) => i).filter((i) => i < 200 || i >= 250);
    expect(got).toEqual(want);
    // New batches continued above the old ones (22 = 20 old + 2 new, none reused).
    expect(st.ackedSeq).toBe(22);
    expect(st.spool.corruptBatches).toBe(1);
    expect(readdirSync(join(spool, 'quarantine')).length).toBe(1);
    const loss = lines(out).filter((l) => (l['event'] as { dataset?: string } | undefined)?.dataset === 'ndr.delivery');
    expect(loss.length).toBe(1);
    expect((loss[0]!['ndr'] as { delivery: unknown }).delivery).toMatchObject({ first_seq: 5, last_seq: 5, reason: 'spool_corrupt' });
    expect(srv.stats().lostBatches).toBe(1);
    expect(logs.some((l) => l.includes('corrupt frame'))).toBe(true);
  });
});
