import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { startSiemServer } from '../../src/grpc/siem-server.js';
import { SiemClient } from '../../src/output/siem-client.js';
import { spawnChild } from './helpers.js';
import { freePort } from '../helpers/net.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'ndr-siem-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});


/** Record indexes as the collector wrote them (torn last lines of a killed collector are skipped). */
function received(file: string): number[] {
  if (!existsSync(file)) return [];
  const out: number[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    try {
      const i = (JSON.parse(line) as { i?: number }).i;
      if (typeof i === 'number') out.push(i);
    } catch {
      /* empty or torn */
    }
  }
  return out;
}

/** Every index in [0, n) present, and first occurrences in increasing order (order per sensor kept). */
function assertDeliveredInOrder(seen: number[], n: number): void {
  const first: number[] = [];
  const set = new Set<number>();
  for (const i of seen) if (!set.has(i)) {
    set.add(i);
    first.push(i);
  }
  expect(set.size).toBe(n);
  for (let k = 0; k < first.length; k++) expect(first[k]).toBe(k);
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SIEM feed over real gRPC on loopback', () => {
  test('SIEM killed and restarted mid-stream: every record delivered at least once, in order', async () => {
    const port = await freePort();
    const dir = tmp();
    const out = join(dir, 'siem.jsonl');
    let siem = await spawnChild(['siem', `127.0.0.1:${port}`, out]);
    await siem.waitFor((l) => l['ready'] === true);
    const logs: string[] = [];
    const c = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 's1', spoolDir: join(dir, 'spool'), batchSize: 100, lingerMs: 5, reconnectMaxMs: 200, log: (l) => logs.push(l) });
    const N = 20_000;
    for (let i = 0; i < N; i++) {
      c.publishRecord({ flow: { id: i, transport: 'tcp' }, ecsJson: JSON.stringify({ i }) });
      if (i === 6000) {
        await wait(50);
        await siem.kill('SIGKILL');
      }
      if (i === 14_000) {
        expect(c.stats().pendingBatches).toBeGreaterThan(0);
        siem = await spawnChild(['siem', `127.0.0.1:${port}`, out]);
        await siem.waitFor((l) => l['ready'] === true);
      }
      if (i % 1000 === 0) await wait(2);
    }
    expect(await c.flush(20_000)).toBe(true);
    const st = c.stats();
    await c.close();
    await siem.kill('SIGTERM');
    assertDeliveredInOrder(received(out), N);
    expect(st.pendingBatches).toBe(0);
    expect(st.dropped).toBe(0);
    expect(st.reconnects).toBeGreaterThan(0);
    expect(logs.some((l) => l.includes('unavailable'))).toBe(true);
    expect(logs.some((l) => l.includes('reachable again'))).toBe(true);
  });

  test('sensor killed with kill -9 with a non-empty spool: the spool is replayed after restart', async () => {
    const port = await freePort();
    const dir = tmp();
    const out = join(dir, 'siem.jsonl');
    const spool = join(dir, 'spool');
    // No collector yet: everything goes to the spool.
    const sensor = await spawnChild(['sensor', `127.0.0.1:${port}`, spool, '0', '5000', 'sk']);
    const done = await sensor.waitFor((l) => typeof l['published'] === 'number');
    expect((done['stats'] as { pendingBatches: number }).pendingBatches).toBe(100);
    await sensor.kill('SIGKILL');
    expect(readdirSync(spool).some((n) => n.startsWith('seg-'))).toBe(true);
    const siem = await startSiemServer({ out, listen: `127.0.0.1:${port}`, log: () => undefined });
    // Restarted sensor publishes 5000 more; the spooled 5000 go first.
    const again = await spawnChild(['sensor', `127.0.0.1:${port}`, spool, '5000', '10000', 'sk']);
    await again.waitFor((l) => (l['stats'] as { ackedSeq?: number; lastSeq?: number } | undefined)?.ackedSeq === 200);
    await again.kill('SIGKILL');
    await siem.close();
    assertDeliveredInOrder(received(out), 10_000);
    expect(again.stderr.join('')).toContain('replaying');
  });

  test('a torn last spool write (kill -9 mid-write) is detected and skipped', async () => {
    const port = await freePort();
    const dir = tmp();
    const spool = join(dir, 'spool');
    const c = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 't', spoolDir: spool, batchSize: 10, log: () => undefined });
    for (let i = 0; i < 100; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i }) });
    await c.flush(50);
    await c.close(50);
    const seg = readdirSync(spool).filter((n) => n.startsWith('seg-')).sort().pop()!;
    const { appendFileSync } = await import('node:fs');
    appendFileSync(join(spool, seg), Buffer.from([0, 0, 1, 0, 9, 9, 9, 9, 0, 0])); // half a frame header
    const logs: string[] = [];
    const out = join(dir, 'siem.jsonl');
    const siem = await startSiemServer({ out, listen: `127.0.0.1:${port}`, log: () => undefined });
    const c2 = new SiemClient({ endpoint: `127.0.0.1:${port}`, sensorId: 't', spoolDir: spool, batchSize: 10, log: (l) => logs.push(l) });
    expect(c2.stats().spool.tornFrames).toBe(1);
    expect(await c2.flush(10_000)).toBe(true);
    await c2.close();
    await siem.close();
    assertDeliveredInOrder(received(out), 100);
    expect(logs.some((l) => l.includes('torn or corrupt frame'))).toBe(true);
  });

  test('spool full while the SIEM is away: oldest segment dropped, counted, warned; the rest delivered in order', async () => {
    const port = await freePort();
    const dir = tmp();
    const logs: string[] = [];
    const c = new SiemClient({
      endpoint: `127.0.0.1:${port}`,
      sensorId: 'full',
      spoolDir: join(dir, 'spool'),
      spoolMaxBytes: 64 * 1024,
      segmentBytes: 8 * 1024,
      batchSize: 20,
      log: (l) => logs.push(l),
    });
    const N = 5000;
    for (let i = 0; i < N; i++) c.publishRecord({ flow: { id: i }, ecsJson: JSON.stringify({ i, pad: 'x'.repeat(40) }) });
    await c.flush(10);
    const st = c.stats();
    expect(st.dropped).toBeGreaterThan(0);
    expect(st.spoolBytes).toBeLessThanOrEqual(64 * 1024);
    expect(logs.some((l) => l.includes('dropped oldest segment'))).toBe(true);
    const out = join(dir, 'siem.jsonl');
    const siem = await startSiemServer({ out, listen: `127.0.0.1:${port}`, log: () => undefined });
    expect(await c.flush(10_000)).toBe(true);
    await c.close();
    await siem.close();
    const got = received(out);
    // What survived is the newest part, complete and in order; the loss equals the counter.
    expect(got.length).toBe(N - st.dropped);
    expect(got[got.length - 1]).toBe(N - 1);
    for (let k = 1; k < got.length; k++) expect(got[k]).toBe(got[k - 1]! + 1);
    expect(siem.stats().gaps).toBe(0); // the drop happened before the first delivery
  });
});
