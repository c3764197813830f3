import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, test } from 'vitest';
import { Enricher, createEmbeddedEdr } from '../../src/enrich/edr-client.js';
import type { Attribution, FlowRecord } from '../../src/flow/record.js';
import { startEdrServer } from '../../src/enrich/edr-server.js';
import type { EdrServerHandle } from '../../src/enrich/edr-server.js';
import { EDR_ENRICH_PATH, deserializeEnrichResultBatch, serializeEnrichBatch } from '../../src/grpc/services.js';
import type { EnrichResultMsg } from '../../src/grpc/services.js';
import { flowFor } from './flow-fixture.js';
import { datasets, spawnChild, synTuples } from './helpers.js';

const SETS = [
  { dir: 'otrf-covenant-psremoting', caps: ['capture.cap'] },
  { dir: 'otrf-empire-psremoting', caps: ['workstation5.cap', 'workstation6.cap'] },
];

/** Sysmon EID 3 read straight from the dataset (independent of the parser under test). */
function eid3ByTuple(file: string): Map<string, { image: string; host: string }> {
  const m = new Map<string, { image: string; host: string }>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"EventID":3,')) continue;
    const e = JSON.parse(line) as Record<string, string>;
    if (e['SourceName'] !== 'Microsoft-Windows-Sysmon' || e['Initiated'] !== 'true' || e['Protocol'] !== 'tcp') continue;
    m.set(`${e['SourceIp']}|${e['SourcePort']}|${e['DestinationIp']}|${e['DestinationPort']}`, { image: e['Image']!, host: e['Hostname']! });
  }
  return m;
}

function enrichAll(en: Enricher, flows: FlowRecord[]): Promise<FlowRecord[]> {
  return new Promise((resolve) => {
    const done: FlowRecord[] = [];
    for (const f of flows) en.submit(f, (x) => {
      done.push(x);
      if (done.length === flows.length) resolve(done);
    });
  });
}

const servers: EdrServerHandle[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

describe('EDR enrichment over real gRPC on loopback', () => {
  for (const set of SETS) {
    test(`attributes ${set.dir} SYN flows to the Sysmon EID 3 image`, async () => {
      const events = join(datasets, set.dir, 'host-events.json');
      const srv = await startEdrServer({ sysmon: [events], listen: '127.0.0.1:0', log: () => undefined });
      servers.push(srv);
      const truth = eid3ByTuple(events);
      const tuples = new Map<string, [number, string, number, string, number]>();
      for (const cap of set.caps) for (const t of await synTuples(join(datasets, set.dir, cap))) {
        const k = `${t[1]}|${t[2]}|${t[3]}|${t[4]}`;
        if (!tuples.has(k)) tuples.set(k, t); // the same SYN seen by two sensors: first sighting
      }
      expect(tuples.size).toBeGreaterThan(2);
      const en = new Enricher({ endpoint: srv.address, batchSize: 8, maxWaitMs: 5000, log: () => undefined });
      const flows = [...tuples.values()].map((t, i) => flowFor(i + 1, t[0], t[1], t[2], t[3], t[4]));
      const out = await enrichAll(en, flows);
      await en.close();
      let withProcess = 0;
      let checked = 0;
      for (const f of out) {
        const a = f.attribution!;
        if (a.process) withProcess++;
        const want = truth.get(`${f.client.ip}|${f.client.port}|${f.server.ip}|${f.server.port}`);
        if (want) {
          checked++;
          expect(a.status).toBe('attributed');
          expect(a.process?.executable).toBe(want.image);
          expect(a.host?.name).toBe(want.host);
          expect(a.match).not.toBe('none');
          expect(a.clockOffsetMs).not.toBeNull();
        }
      }
      console.log(`${set.dir}: ${tuples.size} SYN flows, ${withProcess} attributed to a process, ${checked} with an initiating Sysmon EID 3 (all matched)`);
      expect(checked).toBeGreaterThanOrEqual(3);
      expect(withProcess).toBeGreaterThanOrEqual(checked);
      if (set.dir === 'otrf-covenant-psremoting') {
        const grunt = out.filter((f) => f.attribution?.process?.name === 'GruntHTTP.exe');
        expect(grunt.length).toBe(3);
        // The first WinRM connection of the implant has no earlier EID 3 of that image; the later ones do.
        const byStart = grunt.sort((a, b) => a.startTs - b.startTs);
        expect(byStart[0]!.attribution!.imageNetworkHistory).toBe(false);
        expect(byStart[2]!.attribution!.imageNetworkHistory).toBe(true);
        expect(byStart[0]!.attribution!.imageLoads.length).toBeGreaterThan(0);
      }
      expect(srv.stats().requests).toBe(tuples.size);
    });
  }

  test('embedded EDR gives the same answers as the gRPC path', async () => {
    const events = join(datasets, 'otrf-empire-psremoting', 'host-events.json');
    const srv = await startEdrServer({ sysmon: [events], listen: '127.0.0.1:0', log: () => undefined });
    servers.push(srv);
    const tuples = await synTuples(join(datasets, 'otrf-empire-psremoting', 'workstation6.cap'));
    const mk = () => tuples.map((t, i) => flowFor(i, t[0], t[1], t[2], t[3], t[4]));
    const a = new Enricher({ endpoint: srv.address, log: () => undefined });
    const b = new Enricher({ embedded: createEmbeddedEdr([events]), log: () => undefined });
    const ra = await enrichAll(a, mk());
    const rb = await enrichAll(b, mk());
    await a.close();
    await b.close();
    const key = (fs: FlowRecord[]) => fs.sort((x, y) => x.id - y.id).map((f) => [f.attribution!.status, f.attribution!.process?.executable, f.attribution!.process?.commandLine]);
    expect(key(rb)).toEqual(key(ra));
    expect(rb.some((f) => f.attribution!.process?.name === 'powershell.exe')).toBe(true);
  });

  test('an invalid query is answered with its error while the good ones of the same batch are answered; only undecodable bytes end a stream', async () => {
    const srv = await startEdrServer({ sysmon: [join(datasets, 'otrf-covenant-psremoting', 'host-events.json')], listen: '127.0.0.1:0', log: () => undefined });
    servers.push(srv);
    const client = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    const s = client.makeBidiStreamRequest(EDR_ENRICH_PATH, (b: Buffer) => b, deserializeEnrichResultBatch);
    const answers: EnrichResultMsg[] = [];
    let got: () => void = () => undefined;
    s.on('data', (m: { results?: EnrichResultMsg[] }) => {
      answers.push(...(m.results ?? []));
      got();
    });
    const until = (n: number) => new Promise<void>((r) => { got = () => { if (answers.length >= n) r(); }; got(); });
    const good = { requestId: 8, transport: 'tcp', client: { ip: '172.18.39.5', port: 57967 }, server: { ip: '172.18.39.6', port: 5985 }, startTsMs: 1596729382448 };
    s.write(serializeEnrichBatch({ requests: [{ requestId: 7, transport: 'sctp!', client: { ip: 'not-an-ip', port: 1 }, server: { ip: '1.2.3.4', port: 80 }, startTsMs: 1 }, good] }));
    await until(2);
    const byId = new Map(answers.map((a) => [a.requestId, a]));
    expect(byId.get(7)!.error).toMatch(/^invalid: transport must be "tcp" or "udp"/);
    expect(byId.get(8)!.error ?? '').toBe('');
    expect(byId.get(8)!.process?.name).toBe('GruntHTTP.exe');
    // The same stream goes on with the next batch.
    s.write(serializeEnrichBatch({ requests: [{ ...good, requestId: 9 }] }));
    await until(3);
    expect(answers[2]!.requestId).toBe(9);
    s.end();
    client.close();
    const c2 = new grpc.Client(srv.address, grpc.credentials.createInsecure());
    const e2 = await new Promise<grpc.ServiceError>((resolve) => {
      const t = c2.makeBidiStreamRequest(EDR_ENRICH_PATH, (b: Buffer) => b, deserializeEnrichResultBatch);
      t.on('error', (e: grpc.ServiceError) => resolve(e));
      t.on('data', () => undefined);
      t.write(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])); // truncated length-delimited field
      t.end();
    });
    expect(e2.code).toBe(grpc.status.INVALID_ARGUMENT);
    c2.close();
    // The sensor's client turns a refused query into "unattributed: error" and goes on.
    const en = new Enricher({ endpoint: srv.address, log: () => undefined });
    const [f, g] = await enrichAll(en, [flowFor(1, 1596729382448, '172.18.39.5', 57967, '172.18.39.6', 5985), flowFor(2, 1_600_000_000_000, '10.0.0.1', 1234, '10.0.0.2', 80)]);
    await en.close();
    expect(f!.attribution?.process?.name).toBe('GruntHTTP.exe');
    expect(g!.attribution).toMatchObject({ status: 'unattributed', reason: 'no_match' });
    // One refused query and one undecodable message.
    expect(srv.stats().invalid).toBe(2);
  });

  test('EDR killed mid-stream: records go on unattributed (edr_down), counted, none lost', async () => {
    const events = join(datasets, 'otrf-covenant-psremoting', 'host-events.json');
    const child = await spawnChild(['edr', '127.0.0.1:0', '0', events]);
    const ready = await child.waitFor((l) => l['ready'] === true);
    const logs: string[] = [];
    const en = new Enricher({ endpoint: `127.0.0.1:${ready['port']}`, batchSize: 50, maxWaitMs: 5000, retries: 1, backoffMs: 20, breakerFailures: 2, breakerCooldownMs: 60_000, log: (l) => logs.push(l) });
    const got: FlowRecord[] = [];
    const N = 2000;
    let target = 0;
    let reached: (() => void) | null = null;
    const submit = (i: number) =>
      en.submit(flowFor(i, 1596729382448 + i, '172.18.39.5', 57967, '172.18.39.6', 5985 + (i % 3 === 0 ? 0 : 1)), (f) => {
        got.push(f);
        if (got.length === target && reached) reached();
      });
    const until = (n: number) => new Promise<void>((r) => ((target = n), (reached = r), got.length >= n && r()));
    // Phase 1: the EDR answers.
    for (let i = 0; i < N / 2; i++) submit(i);
    await until(N / 2);
    // Phase 2: the EDR dies while flows keep coming and batches are in flight.
    for (let i = N / 2; i < (3 * N) / 4; i++) submit(i);
    const killing = child.kill('SIGKILL');
    for (let i = (3 * N) / 4; i < N; i++) {
      submit(i);
      if (i % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await killing;
    await until(N);
    await en.close();
    const st = en.stats();
    expect(got.length).toBe(N);
    expect(new Set(got.map((f) => f.id)).size).toBe(N);
    const before = got.filter((f) => f.attribution!.status === 'attributed' || f.attribution!.reason === 'no_match').length;
    const down = got.filter((f) => f.attribution!.reason === 'edr_down').length;
    expect(before).toBeGreaterThan(0);
    expect(down).toBeGreaterThan(0);
    expect(st.edrDown).toBe(down);
    expect(st.completed).toBe(N);
    expect(st.breakerOpens).toBe(1);
    expect(logs.some((l) => l.includes('circuit breaker open'))).toBe(true);
  });

  test('EDR slow: each flow waits at most maxWaitMs, late answers reach onLate', async () => {
    const events = join(datasets, 'otrf-covenant-psremoting', 'host-events.json');
    const child = await spawnChild(['edr', '127.0.0.1:0', '1500', events]);
    try {
      const ready = await child.waitFor((l) => l['ready'] === true);
      const late: Attribution[] = [];
      const en = new Enricher({ endpoint: `127.0.0.1:${ready['port']}`, maxWaitMs: 300, deadlineMs: 5000, log: () => undefined, onLate: (_f, a) => late.push(a) });
      const t0 = Date.now();
      const waits: number[] = [];
      const flows = [0, 1, 2].map((i) => flowFor(i, 1596729382448 + [0, 1778, 2255][i]!, '172.18.39.5', [57967, 57968, 57970][i]!, '172.18.39.6', 5985));
      await new Promise<void>((resolve) => {
        let n = 0;
        for (const f of flows) en.submit(f, (x) => {
          waits.push(Date.now() - t0);
          expect(x.attribution).toMatchObject({ status: 'unattributed', reason: 'timeout' });
          if (++n === flows.length) resolve();
        });
      });
      expect(Math.max(...waits)).toBeLessThan(1000);
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(290);
      // The answer arrives later and is handed to the analytics through onLate.
      const deadline = Date.now() + 5000;
      while (late.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(late.length).toBe(3);
      expect(late.every((a) => a.process?.name === 'GruntHTTP.exe')).toBe(true);
      // A per-batch deadline shorter than the EDR's delay fails the batch as a timeout.
      const en2 = new Enricher({ endpoint: `127.0.0.1:${ready['port']}`, maxWaitMs: 3000, deadlineMs: 200, retries: 0, log: () => undefined });
      const [f] = await enrichAll(en2, [flowFor(9, 1596729382448, '172.18.39.5', 57967, '172.18.39.6', 5985)]);
      expect(f!.attribution).toMatchObject({ status: 'unattributed', reason: 'timeout' });
      expect(en2.stats().batchFailures).toBe(1);
      await en.close();
      await en2.close();
      expect(en.stats().late).toBe(3);
    } finally {
      await child.kill();
    }
  });
});
