import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { amqpDissector } from '../dissectors/amqp/index.js';
import type { AmqpRecord } from '../dissectors/amqp/records.js';
import { mqttDissector } from '../dissectors/mqtt/index.js';
import type { MqttRecord, MqttTxRecord } from '../dissectors/mqtt/records.js';
import type { AnyDissectorSpec } from '../src/contract/api.js';
import { harness, type Harness } from '../test/helpers/dissect-harness.js';
import { extractTcpStreams, generatePubsubCaptures, type TcpStream } from './gen-pubsub.js';

const pcapDir = path.resolve(new URL('.', import.meta.url).pathname, '../pcaps');

function dissect(spec: AnyDissectorSpec, st: TcpStream): Harness {
  const h = harness(spec, spec.defaultLimits, { srcPort: st.clientPort, dstPort: st.serverPort, transport: 'tcp', startTs: 0 });
  for (const c of st.chunks) h.feed(c.dir, c.bytes, c.ts);
  h.end();
  return h;
}

/** What the MQTT dissector sees across all flows of a plain capture. */
function mqttView(file: string): { ops: Map<string, number>; versions: Set<string>; qos: Set<number>; events: string[]; pingGapsMs: number[] } {
  const ops = new Map<string, number>();
  const versions = new Set<string>();
  const qos = new Set<number>();
  const events: string[] = [];
  const pingGapsMs: number[] = [];
  for (const st of extractTcpStreams(file).filter((x) => x.chunks.length > 0)) {
    expect(mqttDissector.probe.probe(st.chunks[0]!.bytes, 0)).toBe('yes');
    const h = dissect(mqttDissector, st);
    events.push(...h.events.map((e) => e.id));
    const txs = (h.records as MqttRecord[]).filter((r): r is MqttTxRecord => r.kind === 'mqtt.tx');
    for (const t of txs) {
      ops.set(t.op, (ops.get(t.op) ?? 0) + 1);
      if (t.version !== null) versions.add(t.version);
      if (t.op === 'publish' && t.dir === 0 && t.qos !== null) qos.add(t.qos);
    }
    const s = mqttDissector.summarize(h.records as MqttRecord[]);
    for (let i = 1; i < s.pingTs.length; i++) pingGapsMs.push(s.pingTs[i]! - s.pingTs[i - 1]!);
  }
  return { ops, versions, qos, events, pingGapsMs };
}

function amqpSummaries(file: string) {
  return extractTcpStreams(file).filter((x) => x.chunks.length > 0).map((st) => {
    expect(amqpDissector.probe.probe(st.chunks[0]!.bytes, 0)).toBe('yes');
    const h = dissect(amqpDissector, st);
    expect(h.events).toEqual([]);
    return amqpDissector.summarize(h.records as AmqpRecord[]);
  });
}

/** TLS on 8883/5671: neither dissector may claim it on the port alone. */
function expectNotClaimedTls(file: string): void {
  const streams = extractTcpStreams(file).filter((x) => x.chunks.length > 0);
  expect(streams.length).toBeGreaterThan(0);
  let hellos = 0;
  for (const st of streams) {
    // The client's first TLS handshake record (a stream whose start a loaded machine's capture
    // missed, e.g. to a retransmission tshark skips, has none and proves nothing here).
    const first = st.chunks.find((c) => c.dir === 0 && c.bytes[0] === 0x16)?.bytes;
    if (first === undefined) continue;
    hellos++;
    expect(mqttDissector.probe.probe(first, 0)).toBe('no');
    expect(amqpDissector.probe.probe(first, 0)).toBe('no');
  }
  expect(hellos).toBeGreaterThan(0);
}

function checkCaptures(mdir: string, adir: string, pingGapMs: number, minPings: number): void {
  const m = mqttView(path.join(mdir, 'mqtt-plain.pcap'));
  expect(m.events).toEqual([]);
  expect([...m.versions].sort()).toEqual(['3.1', '3.1.1', '5']);
  expect([...m.qos].sort()).toEqual([0, 1, 2]);
  for (const op of ['connect', 'subscribe', 'publish', 'pingreq', 'disconnect']) expect(m.ops.get(op) ?? 0).toBeGreaterThan(0);
  expect(m.ops.get('pingreq')!).toBeGreaterThanOrEqual(minPings);
  for (const g of m.pingGapsMs) expect(Math.abs(g - pingGapMs)).toBeLessThan(1000);

  const ws = mqttView(path.join(mdir, 'mqtt-ws.pcap'));
  expect(ws.events).toEqual([]);
  expect(ws.ops.get('connect')).toBe(1);
  expect(ws.ops.get('pingreq')!).toBeGreaterThanOrEqual(1);

  const [a091] = amqpSummaries(path.join(adir, 'amqp091-plain.pcap'));
  expect(a091).toMatchObject({ version: '0-9-1', mechanism: 'PLAIN', vhost: '/', heartbeatS: 2, publishCount: 3, closeCode: 200 });
  expect(a091!.heartbeats).toBeGreaterThanOrEqual(2);
  const [a10] = amqpSummaries(path.join(adir, 'amqp10.pcap'));
  expect(a10).toMatchObject({ version: '1.0', mechanism: 'PLAIN', containerId: 'lab-client', publishCount: 3 });
  expect(a10!.heartbeats).toBeGreaterThanOrEqual(1);

  expectNotClaimedTls(path.join(mdir, 'mqtt-tls.pcap'));
  expectNotClaimedTls(path.join(adir, 'amqp091-tls.pcap'));
}

describe('pub/sub captures', () => {
  it('the committed captures (pcaps/mqtt, pcaps/amqp) dissect as expected', () => {
    checkCaptures(path.join(pcapDir, 'mqtt'), path.join(pcapDir, 'amqp'), 5000, 4);
  });

  it('generatePubsubCaptures makes fresh captures from mosquitto, RabbitMQ and rhea', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'pubsub-gen-'));
    try {
      const res = await generatePubsubCaptures(out, { mqttIdleMs: 6000, idleMs: 4500 });
      expect(res.notes).toEqual([]);
      expect(res.mqtt.map((f) => path.basename(f)).sort()).toEqual(['mqtt-plain.pcap', 'mqtt-tls.pcap', 'mqtt-ws-mid.pcap', 'mqtt-ws-paho.pcap', 'mqtt-ws.pcap']);
      expect(res.amqp.map((f) => path.basename(f)).sort()).toEqual(['amqp091-plain.pcap', 'amqp091-tls.pcap', 'amqp10.pcap']);
      checkCaptures(out, out, 5000, 2);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 240_000);
});
