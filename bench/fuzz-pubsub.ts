/**
 * Long fuzz runs of the MQTT and AMQP dissectors outside the test suite (the suite runs a seeded
 * 20,000-case subset in dissectors/{mqtt,amqp}/*.test.ts). Usage, from the repo root:
 *
 *   npx esbuild bench/fuzz-pubsub.ts --bundle --platform=node --format=esm --packages=external \
 *     --outfile=dist/fuzz-pubsub.mjs && node dist/fuzz-pubsub.mjs [cases=1000000] [seed=1]
 *
 *   node dist/fuzz-pubsub.mjs bench [messages=200000]   # messages/s through each dissector
 *
 * Exits 1 when any case threw, hung (> maxCaseMs) or gave different results split and unsplit.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import type { AnyDissectorSpec } from '../src/contract/api.js';
import { concatBytes } from '../src/util/bytes.js';
import { amqpDissector } from '../dissectors/amqp/index.js';
import { defaultAmqpLimits } from '../dissectors/amqp/records.js';
import { mqttDissector } from '../dissectors/mqtt/index.js';
import { defaultMqttLimits } from '../dissectors/mqtt/records.js';
import { fuzzDissector, loadConversation, type Conversation, type FuzzResult } from '../test/helpers/fuzz-dissector.js';

function seedsOf(dir: URL): Conversation[] {
  return readdirSync(dir).filter((f) => f.endsWith('.hex')).map((f) => loadConversation(new URL(f, dir)));
}

export interface PubsubFuzzReport { name: string; result: FuzzResult }

/** Fuzz both dissectors with `cases` cases each, in chunks (so the heap figure stays meaningful). */
export function runPubsubFuzz(cases: number, seed: number, repoRoot: string, log: (s: string) => void = () => {}): PubsubFuzzReport[] {
  const root = pathToFileURL(repoRoot.endsWith('/') ? repoRoot : `${repoRoot}/`);
  const targets: [string, AnyDissectorSpec, Conversation[], object][] = [
    ['mqtt', mqttDissector, seedsOf(new URL('dissectors/mqtt/fixtures/', root)), { ...defaultMqttLimits, maxMsgBytes: 256, maxTxCount: 8 }],
    ['amqp', amqpDissector, seedsOf(new URL('dissectors/amqp/fixtures/', root)), { ...defaultAmqpLimits, maxFrameBytes: 1024, maxPendingCount: 4 }],
  ];
  const out: PubsubFuzzReport[] = [];
  const chunk = 50_000;
  for (const [name, spec, seeds, limits] of targets) {
    const total: FuzzResult = { cases: 0, throws: [], splitMismatches: [], slow: [], maxCaseMs: 0, records: 0, events: 0, heapGrowthBytes: 0, elapsedMs: 0 };
    for (let done = 0, k = 0; done < cases; done += chunk, k++) {
      const n = Math.min(chunk, cases - done);
      const r = fuzzDissector(spec, seeds, n, (seed * 7919 + k) >>> 0, { limits });
      total.cases += r.cases;
      total.throws.push(...r.throws.map((t) => ({ ...t, case: t.case + done })));
      total.splitMismatches.push(...r.splitMismatches.map((c) => c + done));
      total.slow.push(...r.slow.map((c) => c + done));
      total.maxCaseMs = Math.max(total.maxCaseMs, r.maxCaseMs);
      total.records += r.records;
      total.events += r.events;
      total.heapGrowthBytes = Math.max(total.heapGrowthBytes, r.heapGrowthBytes);
      total.elapsedMs += r.elapsedMs;
      log(`${name}: ${total.cases} cases, ${total.throws.length} throws, ${total.splitMismatches.length} split mismatches, max case ${total.maxCaseMs.toFixed(1)} ms`);
    }
    out.push({ name, result: total });
  }
  return out;
}

// ---- throughput (messages/s through one dissector, tight loop over a concatenated stream) ------

/** Drive one direction of a dissector over `stream` in `chunk`-byte arrivals, engine-style. */
function drive(spec: AnyDissectorSpec, streams: [Uint8Array, Uint8Array], chunk: number): number {
  let records = 0;
  const d = spec.create({
    flow: { srcPort: 50000, dstPort: 1, transport: 'tcp', startTs: 0, midstream: false }, now: () => 0,
    emit: () => { records++; }, event: () => {}, confirm: () => {}, violation: () => {}, handoff: () => {}, payloadStart: () => {},
  }, spec.defaultLimits);
  for (const dir of [0, 1] as const) {
    const stream = streams[dir];
    let off = 0;
    let end = 0;
    let need = 0;
    while (end < stream.length) {
      end = Math.min(stream.length, end + chunk);
      for (;;) {
        if (end - off < need || off === end) break;
        const before = off;
        need = 0;
        d.feed(dir, { bytes: stream.subarray(off, end), streamOffset: off, eof: false, ts: 0, consume: (n: number) => { off += n; }, needAtLeast: (n: number) => { need = n; } });
        if (off === before) break;
      }
    }
  }
  d.end(0);
  d.end(1);
  return records;
}


function hexb(s: string): Uint8Array { return Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex')); }

export interface BenchFigure { name: string; messages: number; records: number; bytes: number; seconds: number; msgPerS: number; mbPerS: number }

/** Measure messages/s: MQTT QoS 0 PUBLISH (32-byte payload), AMQP 0-9-1 publish (method+header+body), AMQP 1.0 transfer. */
export function benchPubsub(n = 200_000, chunk = 65_536): BenchFigure[] {
  const figs: BenchFigure[] = [];
  const run = (name: string, spec: AnyDissectorSpec, streams: [Uint8Array, Uint8Array], messages: number) => {
    drive(spec, streams, chunk); // warm-up
    const t0 = performance.now();
    const records = drive(spec, streams, chunk);
    const s = (performance.now() - t0) / 1000;
    const bytes = streams[0].length + streams[1].length;
    figs.push({ name, messages, records, bytes, seconds: +s.toFixed(3), msgPerS: Math.round(messages / s), mbPerS: +(bytes / s / 1e6).toFixed(1) });
  };
  // MQTT 3.1.1: CONNECT, n x PUBLISH QoS 0 "sensors/room1/temp" + 32 bytes, DISCONNECT; CONNACK back.
  const connect = hexb('101700044d51545404020005000b6c61622d7375622d333131');
  const topic = Buffer.from('sensors/room1/temp');
  const pub = concatBytes([Uint8Array.of(0x30, 2 + topic.length + 32, 0, topic.length), topic, new Uint8Array(32).fill(0x41)]);
  const mqttC = concatBytes([connect, ...Array.from({ length: n }, () => pub), hexb('e000')]);
  run('mqtt 3.1.1 PUBLISH QoS 0', mqttDissector, [mqttC, hexb('20020000')], n + 2);
  // AMQP 0-9-1: header, then n x (Basic.Publish, content header, 32-byte body) on channel 1.
  const frame = (t: number, ch: number, p: Uint8Array) => concatBytes([Uint8Array.of(t, ch >> 8, ch & 255, 0, 0, (p.length >> 8) & 255, p.length & 255), p, Uint8Array.of(0xce)]);
  const ss = (s: string) => concatBytes([Uint8Array.of(s.length), Buffer.from(s)]);
  const publish = frame(1, 1, concatBytes([hexb('003c00280000'), ss('lab.events'), ss('lab.sensor.1'), Uint8Array.of(0)]));
  const header = frame(2, 1, hexb('003c0000 0000000000000020 0000'));
  const body = frame(3, 1, new Uint8Array(32).fill(0x42));
  const msg091 = concatBytes([publish, header, body]);
  const a091 = concatBytes([hexb('414d515000000901'), ...Array.from({ length: n }, () => msg091)]);
  run('amqp 0-9-1 Basic.Publish+header+body', amqpDissector, [a091, new Uint8Array(0)], n);
  // AMQP 1.0: header, then n x transfer (handle 0, delivery id, tag, 32-byte data section).
  const perf = hexb('005314c008054343a001614341');
  const payload = concatBytes([hexb('005375a020'), new Uint8Array(32).fill(0x43)]);
  const size = 8 + perf.length + payload.length;
  const tr = concatBytes([Uint8Array.of(0, 0, 0, size, 2, 0, 0, 0), perf, payload]);
  const a10 = concatBytes([hexb('414d515000010000'), ...Array.from({ length: n / 4 }, () => tr)]);
  run('amqp 1.0 transfer (rhea decode)', amqpDissector, [a10, new Uint8Array(0)], n / 4);
  return figs;
}

// Run as a script only when this file itself is the entry (not when bundled into dist/bench.mjs).
const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href && /fuzz-pubsub\.(ts|mjs)$/.test(process.argv[1]);

if (isEntry && process.argv[2] === 'bench') {
  for (const f of benchPubsub(Number(process.argv[3] ?? 200_000))) console.log(JSON.stringify(f));
  process.exit(0);
}

if (isEntry && process.argv[2] !== 'bench') {
  const cases = Number(process.argv[2] ?? 1_000_000);
  const seed = Number(process.argv[3] ?? 1);
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = process.env['NDR_REPO_ROOT'] ?? (here.endsWith(`${path.sep}dist`) ? path.dirname(here) : path.resolve(here, '..'));
  const reports = runPubsubFuzz(cases, seed, root, (s) => console.log(s));
  let bad = false;
  for (const { name, result: r } of reports) {
    console.log(JSON.stringify({ name, cases: r.cases, throws: r.throws.length, splitMismatches: r.splitMismatches.length, slow: r.slow.length, maxCaseMs: +r.maxCaseMs.toFixed(2), records: r.records, events: r.events, heapGrowthMB: +(r.heapGrowthBytes / 1048576).toFixed(1), seconds: +(r.elapsedMs / 1000).toFixed(1) }));
    if (r.throws.length > 0) console.log(r.throws.slice(0, 3));
    bad ||= r.throws.length > 0 || r.splitMismatches.length > 0 || r.slow.length > 0;
  }
  process.exit(bad ? 1 : 0);
}
