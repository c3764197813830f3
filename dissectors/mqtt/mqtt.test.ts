import { describe, expect, it } from 'vitest';
import { fromHex, harness } from '../../test/helpers/dissect-harness.js';
import { fuzzDissector, loadConversation, outcome, prng, runConversation, type Conversation } from '../../test/helpers/fuzz-dissector.js';
import { mqttFrameLength, INVALID, NEED_MORE, probeMqtt } from './framing.js';
import { mqttDissector } from './index.js';
import { wsMqttFrameAt } from './midstream.js';
import { Role } from '../../src/contract/api.js';
import { convertPacket, PacketParser, parseCommon } from './parse.js';
import { defaultMqttLimits, OP_BY_TYPE, type MqttOp, type MqttRecord, type MqttTxRecord } from './records.js';

const fx = (name: string): Conversation => loadConversation(new URL(`./fixtures/${name}.hex`, import.meta.url));
const txs = (recs: readonly unknown[]): MqttTxRecord[] => (recs as MqttRecord[]).filter((r): r is MqttTxRecord => r.kind === 'mqtt.tx');
const lim = (o: Partial<typeof defaultMqttLimits>) => ({ ...defaultMqttLimits, ...o });

const VALID = ['v31-publish-qos2', 'v311-subscriber', 'v5-subscriber', 'v5-publish-qos1', 'websocket-v311', 'oversize-publish', 'subscribe-two'] as const;

describe('mqtt framing and probe', () => {
  it('frames the varint remaining length', () => {
    expect(mqttFrameLength(fromHex('c000'), 0, 2)).toBe(2);
    expect(mqttFrameLength(fromHex('30'), 0, 1)).toBe(NEED_MORE);
    expect(mqttFrameLength(fromHex('30ff7f'), 0, 3)).toBe(1 + 2 + 16383);
    expect(mqttFrameLength(fromHex('30ffffff7f'), 0, 5)).toBe(1 + 4 + 268435455);
    expect(mqttFrameLength(fromHex('30ffffffff01'), 0, 6)).toBe(INVALID);
  });
  it('recognises CONNECT (MQTT and MQIsdp) and MQTT over WebSocket by content', () => {
    const v311 = fx('v311-subscriber')[0]!.bytes;
    const v31 = fx('v31-publish-qos2')[0]!.bytes;
    const ws = fx('websocket-v311')[0]!.bytes;
    expect(probeMqtt(v311, 0, 4096)).toBe('yes');
    expect(probeMqtt(v31, 0, 4096)).toBe('yes');
    expect(probeMqtt(ws, 0, 4096)).toBe('yes');
    expect(probeMqtt(v311.subarray(0, 5), 0, 4096)).toBe('unsure');
    expect(probeMqtt(ws.subarray(0, 30), 0, 4096)).toBe('unsure');
    // bare LF line ends (RFC 9112 §2.2 lets a recipient accept them): decided either way
    const lf = (h: string) => Buffer.from(`GET /mqtt HTTP/1.1\nHost: b\nUpgrade: websocket\n${h}\n`, 'latin1');
    expect(probeMqtt(lf('Sec-WebSocket-Protocol: mqtt\n'), 0, 4096)).toBe('yes');
    expect(probeMqtt(lf('Sec-WebSocket-Protocol: chat\n'), 0, 4096)).toBe('no');
    expect(probeMqtt(Buffer.from('GET / HTTP/1.0\nUser-Agent:\n\n', 'latin1'), 0, 4096)).toBe('no');
  });
  it('says no to other content, whatever the port', () => {
    const other = [
      'SSH-2.0-OpenSSH_9.2\r\n', 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: chat\r\n\r\n',
      '\x16\x03\x01\x02\x00\x01', 'AMQP\x00\x00\x09\x01', '\x10\x0c\x00\x04HTTP\x04\x02',
    ];
    for (const s of other) expect(probeMqtt(Buffer.from(s, 'latin1'), 0, 4096)).toBe('no');
    expect(probeMqtt(fromHex('20020000'), 1, 4096)).toBe('no');
    expect(mqttDissector.probe.ports).toEqual([1883, 9001]);
  });

  it('mid-stream: MQTT in WebSocket frames, its sender named by the mask bit; plain MQTT as before', () => {
    const mask = [0x12, 0x34, 0x56, 0x78];
    const frame = (payload: number[], masked: boolean): number[] =>
      [0x82, payload.length | (masked ? 0x80 : 0), ...(masked ? mask : []), ...payload.map((c, i) => (masked ? c ^ (mask[i & 3] as number) : c))];
    const pingreq = [0xc0, 0x00];
    const pingresp = [0xd0, 0x00];
    const publish = [0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x68, 0x69];
    const client = Uint8Array.from([...frame(publish, true), ...frame(pingreq, true)]);
    const server = Uint8Array.from([...frame(publish, false), ...frame(pingresp, false)]);
    expect(mqttDissector.probe.midstream?.(client, 0)).toBe(Role.Client);
    expect(mqttDissector.probe.midstream?.(server, 1)).toBe(Role.Server);
    // a frame whose payload is no MQTT packet, and a text frame, are not MQTT over WebSocket
    expect(wsMqttFrameAt(Uint8Array.from(frame([0x00, 0x05, 1, 2], false)), 0, 6)).toBe(-1);
    expect(wsMqttFrameAt(Uint8Array.from([0x81, 0x02, 0x68, 0x69]), 0, 4)).toBe(-1);
    // plain MQTT keeps its answer: PINGREQ then PUBLISH from the client
    expect(mqttDissector.probe.midstream?.(Uint8Array.from([...pingreq, ...publish]), 0)).toBe(Role.Client);
  });
});

describe('mqtt valid fixtures (rule 10.1)', () => {
  it('v3.1 publisher, QoS 2: CONNECT/CONNACK pairing and PUBREC/PUBREL/PUBCOMP correlation', () => {
    const h = runConversation(mqttDissector, fx('v31-publish-qos2'));
    const t = txs(h.records);
    expect(t.map((r) => r.op)).toEqual(['connect', 'publish', 'disconnect']);
    const [c, p] = t as [MqttTxRecord, MqttTxRecord];
    expect(c).toMatchObject({ protocolName: 'MQIsdp', protocolLevel: 3, version: '3.1', clientId: 'lab-pub-31-q2', keepAliveS: 5, cleanSession: true, willTopic: 'lab/will', usernamePresent: true, passwordPresent: true, responseOp: 'connack', responseCode: 0, status: 'complete', messages: 2 });
    expect(p).toMatchObject({ topic: 'lab/v31/q2', qos: 2, retain: false, payloadBytes: 19, payloadExcerpt: null, responseOp: 'pubcomp', messages: 4, status: 'complete' });
    expect(h.events).toEqual([]);
    expect(h.confirmed).toBe(true);
    // Secrets never reach a record: the capture's password "labsecret" and the username.
    const json = outcome(h);
    expect(json).not.toContain('labsecret');
    expect(json).not.toContain('labuser');
    expect(mqttDissector.summarize(h.records as MqttRecord[])).toMatchObject({ version: '3.1', publishCount: 1, publishBytes: 19, publishTopics: ['lab/v31/q2'], passwordPresent: true, usernamePresent: true, connackCode: 0 });
  });

  it('v3.1.1 subscriber: SUBSCRIBE/SUBACK, PINGREQ/PINGRESP times, deliveries from the broker', () => {
    const h = runConversation(mqttDissector, fx('v311-subscriber'));
    const t = txs(h.records);
    expect(t[0]).toMatchObject({ op: 'connect', version: '3.1.1', clientId: 'lab-sub-311', keepAliveS: 5, usernamePresent: false, passwordPresent: false });
    const sub = t.find((r) => r.op === 'subscribe');
    expect(sub).toMatchObject({ topics: ['lab/v311/#'], responseOp: 'suback', responseCode: 1 });
    const pings = t.filter((r) => r.op === 'pingreq');
    expect(pings.length).toBeGreaterThanOrEqual(2);
    for (const p of pings) expect(p.responseOp).toBe('pingresp');
    const delivered = t.filter((r) => r.op === 'publish' && r.dir === 1);
    expect(delivered.length).toBe(4);
    expect(h.events).toEqual([]);
    const s = mqttDissector.summarize(h.records as MqttRecord[]);
    expect(s.pingCount).toBe(pings.length);
    expect(s.pingTs).toEqual(pings.map((p) => p.ts));
    expect(s.subscribeTopics).toEqual(['lab/v311/#']);
    expect(s.overWebSocket).toBe(false);
  });

  it('v5 subscriber and publisher: the server→client parser is told v5 (CONNACK properties)', () => {
    const h = runConversation(mqttDissector, fx('v5-subscriber'));
    const t = txs(h.records);
    expect(t[0]).toMatchObject({ op: 'connect', version: '5', protocolLevel: 5, responseOp: 'connack', responseCode: 0 });
    expect(t[0]!.responseProperties.length).toBeGreaterThan(0);
    expect(t.filter((r) => r.op === 'publish' && r.dir === 1).length).toBe(4);
    expect(t.filter((r) => r.op === 'pingreq').length).toBeGreaterThanOrEqual(2);
    expect(h.events).toEqual([]);
    const p = runConversation(mqttDissector, fx('v5-publish-qos1'));
    expect(txs(p.records).find((r) => r.op === 'publish')).toMatchObject({ topic: 'lab/v5/q1', qos: 1, packetId: 1, responseOp: 'puback', payloadBytes: 18 });
    expect(p.events).toEqual([]);
  });

  it('MQTT over WebSocket: upgrade skipped, masked frames unmasked, MQTT records as on TCP', () => {
    const h = runConversation(mqttDissector, fx('websocket-v311'));
    const ws = (h.records as MqttRecord[]).find((r) => r.kind === 'mqtt.websocket');
    expect(ws).toMatchObject({ path: '/mqtt', subprotocol: 'mqtt', statusCode: 101 });
    const t = txs(h.records);
    expect(t[0]).toMatchObject({ op: 'connect', clientId: 'lab-ws', keepAliveS: 2, overWebSocket: true, responseOp: 'connack' });
    expect(t.filter((r) => r.op === 'pingreq').length).toBeGreaterThanOrEqual(2);
    expect(h.events).toEqual([]);
    expect(mqttDissector.summarize(h.records as MqttRecord[])).toMatchObject({ overWebSocket: true, clientId: 'lab-ws', subscribeTopics: ['lab/ws/#'] });
  });

  it('keeps a payload excerpt only when maxPayloadExcerptBytes > 0', () => {
    const h = runConversation(mqttDissector, fx('v5-publish-qos1'), lim({ maxPayloadExcerptBytes: 5 }));
    const p = txs(h.records).find((r) => r.op === 'publish')!;
    expect(Buffer.from(p.payloadExcerpt!).toString()).toBe('hello');
    expect(p.payloadBytes).toBe(18);
  });
});

describe('mqtt splits and prefixes (rule 10.2, 10.3)', () => {
  for (const name of VALID) {
    it(`${name}: every split point gives identical records and events`, () => {
      const conv = fx(name);
      const limits = name === 'oversize-publish' ? lim({ maxMsgBytes: 32 }) : defaultMqttLimits;
      const ref = outcome(runConversation(mqttDissector, conv, limits));
      for (let i = 0; i < conv.length; i++) {
        for (let s = 1; s < conv[i]!.bytes.length; s++) {
          const got = outcome(runConversation(mqttDissector, conv, limits, [i, s]));
          if (got !== ref) expect({ i, s, got }).toEqual({ i, s, got: ref });
        }
      }
      // and byte by byte
      const h = harness(mqttDissector, limits);
      let ts = 1_700_000_000_000;
      for (const m of conv) { ts += 10; for (let k = 0; k < m.bytes.length; k++) h.feed(m.dir, m.bytes.subarray(k, k + 1), ts); }
      h.end();
      expect(outcome(h)).toBe(ref);
    });
    it(`${name}: every proper prefix asks for more, never an error`, () => {
      const conv = fx(name);
      const limits = name === 'oversize-publish' ? lim({ maxMsgBytes: 32 }) : defaultMqttLimits;
      for (let i = 0; i < conv.length; i++) {
        for (let l = 1; l < conv[i]!.bytes.length; l++) {
          const h = harness(mqttDissector, limits);
          for (let j = 0; j < i; j++) h.feed(conv[j]!.dir, conv[j]!.bytes);
          const v = h.feed(conv[i]!.dir, conv[i]!.bytes.subarray(0, l));
          const bad = h.events.filter((e) => !e.id.startsWith('mqtt.limit.'));
          if (v !== 'more' || bad.length > 0 || h.violations.length > 0) expect({ i, l, v, ev: h.events, vi: h.violations }).toEqual({ i, l, v: 'more', ev: [], vi: [] });
        }
      }
    });
  }
});

describe('mqtt malformed fixtures raise their event (rule 10.4)', () => {
  const cases: [string, string][] = [
    ['bad-remaining-length', 'mqtt.bad_remaining_length'],
    ['invalid-qos', 'mqtt.invalid_qos_level'],
    ['unassigned-type', 'mqtt.unassigned_msg_type'],
    ['double-connect', 'mqtt.double_connect'],
    ['missing-connect', 'mqtt.missing_connect'],
    ['unintroduced', 'mqtt.unintroduced_message'],
    ['bad-header-flags', 'mqtt.bad_header_flags'],
    ['unsupported-version', 'mqtt.unsupported_version'],
    ['malformed', 'mqtt.malformed'],
    ['missing-publish', 'mqtt.missing_publish'],
    ['truncated', 'mqtt.truncated'],
    ['ws-bad-frame', 'mqtt.ws_bad_frame'],
  ];
  for (const [name, id] of cases) {
    it(`${name} → ${id}`, () => {
      const h = runConversation(mqttDissector, fx(name));
      expect(h.events.map((e) => e.id)).toContain(id);
    });
  }
  it('attaches the event to the transaction it concerns', () => {
    const d = runConversation(mqttDissector, fx('double-connect'));
    expect(txs(d.records).filter((r) => r.op === 'connect')[1]!.events).toEqual(['mqtt.double_connect']);
    const m = runConversation(mqttDissector, fx('missing-publish'));
    expect(txs(m.records).map((r) => [r.op, r.events])).toContainEqual(['puback', ['mqtt.missing_publish']]);
    expect(txs(m.records).map((r) => [r.op, r.events])).toContainEqual(['suback', ['mqtt.missing_subscribe']]);
  });
  it('a bad remaining length is a violation and aborts', () => {
    const h = runConversation(mqttDissector, fx('bad-remaining-length'));
    expect(h.violations).toContain('mqtt.bad_remaining_length');
    expect(h.verdicts.at(-1)).toBe('abort');
  });
  it('a non-MQTT first packet is a violation before confirmation (the driver detaches)', () => {
    const h = runConversation(mqttDissector, fx('unsupported-version'));
    expect(h.confirmed).toBe(false);
    expect(h.violations).toEqual(['mqtt.unsupported_version']);
  });
});

describe('mqtt limits (rule 10.5)', () => {
  it('maxMsgBytes: oversize PUBLISH keeps its topic and true length, payload skipped by counter', () => {
    const h = runConversation(mqttDissector, fx('oversize-publish'), lim({ maxMsgBytes: 32 }));
    expect(h.events.map((e) => e.id)).toEqual(['mqtt.limit.max_msg_bytes']);
    const p = txs(h.records).find((r) => r.op === 'publish')!;
    expect(p).toMatchObject({ status: 'truncated', topic: 'a/b', payloadBytes: 100, msgBytes: 107, events: ['mqtt.limit.max_msg_bytes'] });
    expect(txs(h.records).some((r) => r.op === 'pingreq' && r.responseOp === 'pingresp')).toBe(true);
  });
  it('maxTxCount: the oldest open transaction is force-completed with an event', () => {
    const h = runConversation(mqttDissector, fx('three-qos1'), lim({ maxTxCount: 2 }));
    expect(h.events.map((e) => e.id)).toContain('mqtt.too_many_transactions');
    const pubs = txs(h.records).filter((r) => r.op === 'publish');
    expect(pubs[0]).toMatchObject({ packetId: 1, status: 'incomplete', events: ['mqtt.too_many_transactions'] });
    expect(pubs.length).toBe(3); // the other two flushed by end() as incomplete
  });
  it('maxTopicsCount keeps the first topics and raises the limit', () => {
    const h = runConversation(mqttDissector, fx('subscribe-two'), lim({ maxTopicsCount: 1 }));
    expect(h.events.map((e) => e.id)).toEqual(['mqtt.limit.max_topics_count']);
    expect(txs(h.records).find((r) => r.op === 'subscribe')!.topics).toEqual(['a/#']);
  });
  it('maxStringBytes cuts strings', () => {
    const h = runConversation(mqttDissector, fx('v311-subscriber'), lim({ maxStringBytes: 4 }));
    expect(h.events.map((e) => e.id)).toContain('mqtt.limit.max_string_bytes');
    expect(txs(h.records)[0]!.clientId).toBe('lab-');
  });
  it('maxMessagesCount stops dissection', () => {
    const h = runConversation(mqttDissector, fx('v311-subscriber'), lim({ maxMessagesCount: 2 }));
    expect(h.events.map((e) => e.id)).toEqual(['mqtt.limit.max_messages_count']);
    expect(h.verdicts).toContain('done');
  });
  it('maxWsHeaderBytes bounds the upgrade request', () => {
    const h = runConversation(mqttDissector, fx('websocket-v311'), lim({ maxWsHeaderBytes: 64 }));
    expect(h.events.map((e) => e.id)).toEqual(['mqtt.limit.max_ws_header_bytes']);
  });
});

describe('mqtt fuzz (seeded)', () => {
  it('20,000 mutated conversations: no throw, no hang, split = unsplit', () => {
    const seeds = [...VALID, 'three-qos1', 'missing-publish'].map(fx);
    const r = fuzzDissector(mqttDissector, seeds, 20_000, 0x5eed, { limits: lim({ maxMsgBytes: 256, maxTxCount: 8 }) });
    expect(r.throws).toEqual([]);
    expect(r.slow).toEqual([]);
    expect(r.splitMismatches).toEqual([]);
    expect(r.records).toBeGreaterThan(20_000);
    expect(r.heapGrowthBytes).toBeLessThan(256 * 1024 * 1024);
  });
});

describe('mqtt: our PUBLISH/acknowledgement parse against the library (parse.ts parseCommon)', () => {
  // A deterministic generator: topics with multi-byte and invalid UTF-8, every QoS, flags,
  // payloads across the 1- and 2-byte remaining-length boundary, and limits that cut.
  const next = prng(12345);
  const rnd = (n: number): number => Math.floor(next() * n);
  const frame = (b0: number, body: number[]): Uint8Array => {
    const len: number[] = [];
    let x = body.length;
    do { let d = x & 127; x >>>= 7; if (x > 0) d |= 128; len.push(d); } while (x > 0);
    return Uint8Array.from([b0, ...len, ...body]);
  };
  const TOPIC_BYTES = [0x61, 0x2f, 0x7a, 0x23, 0x2b, 0x20, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xff, 0x80, 0xf0, 0x9f, 0x98, 0x80, 0x00];

  it('2,000 generated packets give the same fields as mqtt-packet, and malformed ones are left to it', () => {
    let ours = 0;
    for (let i = 0; i < 2000; i++) {
      const l = lim({ maxStringBytes: [4, 64, 1024][rnd(3)] as number, maxPayloadExcerptBytes: [0, 8, 64][rnd(3)] as number });
      let b0: number;
      let body: number[];
      if (rnd(3) > 0) {
        const qos = rnd(3);
        b0 = 0x30 | (qos << 1) | (rnd(2) === 1 ? 1 : 0) | (qos > 0 && rnd(2) === 1 ? 8 : 0);
        const topic = Array.from({ length: rnd(40) }, () => TOPIC_BYTES[rnd(TOPIC_BYTES.length)] as number);
        const payload = Array.from({ length: rnd(3) === 0 ? 100 + rnd(200) : rnd(20) }, () => rnd(256));
        body = [topic.length >> 8, topic.length & 255, ...topic, ...(qos > 0 ? [rnd(256), rnd(256)] : []), ...payload];
        if (rnd(10) === 0) body = body.slice(0, rnd(body.length + 1)); // cut: topic or id may not fit
      } else {
        const type = 4 + rnd(4);
        b0 = (type << 4) | (type === 6 ? 2 : 0);
        body = [rnd(256), rnd(256)];
        if (rnd(5) === 0) body.push(rnd(256)); // not 2 bytes: the library decides
      }
      const pkt = frame(b0, body);
      const hdr = pkt.length - body.length;
      const fast = parseCommon(pkt, hdr, l);
      const raw = new PacketParser(rnd(2) === 0 ? 3 : 4).parseOne(pkt);
      const op = OP_BY_TYPE[b0 >> 4] as MqttOp;
      const tlen = body.length >= 2 ? (body[0] as number) * 256 + (body[1] as number) : -1;
      const fits = b0 >> 4 === 3 ? body.length >= 2 && 2 + tlen + (((b0 >> 1) & 3) > 0 ? 2 : 0) <= body.length : body.length === 2;
      if (!fits) { expect(fast).toBeNull(); continue; }
      expect(raw).not.toBeNull();
      expect(fast).toEqual(convertPacket(op, raw as Record<string, unknown>, l));
      ours++;
    }
    expect(ours).toBeGreaterThan(1500);
  });
});
