/**
 * Benchmarks for the gRPC paths (called by `npm run bench`):
 *  - benchEnrich: flows attributed per second through Enricher → gRPC (loopback) → reference EDR
 *    holding `events` synthetic Sysmon network events (target ≥ 30,000 flows/s).
 *  - benchSiem: records per second delivered (acknowledged) to the reference collector through the
 *    spool-backed SIEM client (target ≥ 100,000 records/s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Enricher } from '../src/enrich/edr-client.js';
import { EdrStore } from '../src/enrich/edr-store.js';
import { emptyEvent, type SysmonEvent } from '../src/enrich/sysmon.js';
import { newFlowRecord } from '../src/flow/record.js';
import type { FlowRecord } from '../src/flow/record.js';
import { SiemClient } from '../src/output/siem-client.js';
import { startEdrServer } from '../src/enrich/edr-server.js';
import { startSiemServer } from '../src/grpc/siem-server.js';

export interface BenchResult {
  name: string;
  count: number;
  seconds: number;
  perSecond: number;
  target: number;
  pass: boolean;
  detail: Record<string, number | string>;
}

const T0 = Date.UTC(2024, 0, 1);

function syntheticConn(i: number, hosts: number): SysmonEvent {
  const h = i % hosts;
  const proc = i % 5000;
  return {
    ...emptyEvent(3, `host${h}.bench.local`, T0 + i * 10),
    processGuid: `{${(0x10000000 + h).toString(16)}-0000-65a0-${(proc & 0xffff).toString(16).padStart(4, '0')}-000000000400}`,
    pid: 1000 + proc,
    image: `C:\\Program Files\\App${proc % 300}\\app${proc % 300}.exe`,
    user: 'BENCH\\user',
    protocol: 'tcp',
    initiated: true,
    srcIp: `10.${(h >> 8) & 255}.${h & 255}.10`,
    srcPort: 1024 + (Math.floor(i / hosts) % 64000),
    dstIp: `203.0.${(i >> 8) & 255}.${i & 255}`,
    dstPort: 443,
  };
}

function flowOf(id: number, ev: SysmonEvent): FlowRecord {
  return newFlowRecord({ id, client: { ip: ev.srcIp!, port: ev.srcPort! }, server: { ip: ev.dstIp!, port: ev.dstPort! }, startTs: ev.ts + 250, endTs: ev.ts + 1000, endReason: 'fin', protocol: 'tls' });
}

export async function benchEnrich(opts: { events?: number; flows?: number; hosts?: number } = {}): Promise<BenchResult> {
  const events = opts.events ?? 1_000_000;
  const flows = opts.flows ?? 200_000;
  const hosts = opts.hosts ?? 200;
  const store = new EdrStore();
  const tl = Date.now();
  for (let i = 0; i < events; i++) store.add(syntheticConn(i, hosts));
  const loadS = (Date.now() - tl) / 1000;
  const srv = await startEdrServer({ sysmon: [], listen: '127.0.0.1:0', store, log: () => undefined });
  const en = new Enricher({ endpoint: srv.address, batchSize: 512, maxInFlight: 16, cacheMax: 0, maxWaitMs: 10_000, deadlineMs: 10_000, log: () => undefined });
  let attributed = 0;
  let done = 0;
  let wake: (() => void) | null = null;
  const window = 16_384;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < flows; i++) {
    // Spread the lookups over the whole store.
    const idx = Math.floor((i * 4_999_993) % events);
    en.submit(flowOf(i, syntheticConn(idx, hosts)), (f) => {
      done++;
      if (f.attribution?.status === 'attributed') attributed++;
      if (wake && i - done < window / 2) {
        const w = wake;
        wake = null;
        w();
      }
    });
    if (i - done >= window) await new Promise<void>((r) => (wake = r));
  }
  await en.flush();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const st = en.stats();
  await en.close();
  await srv.close();
  const perSecond = flows / seconds;
  return {
    name: 'enrich (gRPC loopback, reference EDR)',
    count: flows,
    seconds,
    perSecond,
    target: 30_000,
    pass: perSecond >= 30_000 && attributed === flows,
    detail: { events, storeLoadSeconds: loadS, attributed, batches: st.batches, meanBatchMs: Number(st.latencyMeanMs.toFixed(2)), rssMB: Math.round(process.memoryUsage().rss / 1e6) },
  };
}

export async function benchSiem(opts: { records?: number; recordBytes?: number } = {}): Promise<BenchResult> {
  const records = opts.records ?? 500_000;
  const pad = 'x'.repeat(Math.max(0, (opts.recordBytes ?? 400) - 120));
  const dir = mkdtempSync(join(tmpdir(), 'ndr-bench-siem-'));
  const srv = await startSiemServer({ out: join(dir, 'out.jsonl'), listen: '127.0.0.1:0', log: () => undefined });
  const c = new SiemClient({ endpoint: srv.address, sensorId: 'bench', spoolDir: join(dir, 'spool'), batchSize: 1000, window: 64, spoolMaxBytes: 4 * 2 ** 30, log: () => undefined });
  const t0 = process.hrtime.bigint();
  try {
    for (let i = 0; i < records; i++) {
      c.publishRecord({
        flow: {
          id: i,
          communityId: '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
          transport: 'tcp',
          client: { ip: '10.0.0.1', port: 40000 + (i % 20000) },
          server: { ip: '203.0.113.9', port: 443 },
          startTsMs: T0 + i,
          protocol: 'tls',
        },
        ecsJson: `{"event":{"id":${i}},"source":{"ip":"10.0.0.1"},"destination":{"ip":"203.0.113.9","port":443},"pad":"${pad}"}`,
      });
      // Let acknowledgements in; keep the client's own backlog bounded.
      if (i % 5000 === 4999) {
        while (c.stats().pendingBatches > 256) await new Promise((r) => setImmediate(r));
        await new Promise((r) => setImmediate(r));
      }
    }
    const ok = await c.flush(120_000);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const st = c.stats();
    const perSecond = records / seconds;
    return {
      name: 'siem feed (gRPC loopback, spool-backed)',
      count: records,
      seconds,
      perSecond,
      target: 100_000,
      pass: ok && perSecond >= 100_000 && srv.stats().records === records,
      detail: { delivered: srv.stats().records, batches: st.lastSeq, resent: st.resentBatches, dropped: st.dropped },
    };
  } finally {
    await c.close(1000);
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
