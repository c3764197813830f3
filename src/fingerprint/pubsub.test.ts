import { describe, expect, it } from 'vitest';
import { emptyDir, type FlowRecord } from '../flow/record.js';
import { putSection } from '../flow/finalize.js';
import { tlsSection, type TlsInfo } from '../../dissectors/tls/record.js';
import { mqttSection, type MqttInfo } from '../../dissectors/mqtt/record.js';
import { httpSection, type HttpInfo } from '../../dissectors/http/record.js';
import { classifyPubSub, DEFAULT_BROKER_SNI_SUFFIXES, MIN_CONFIDENCE } from './pubsub.js';

function tls(p: Partial<TlsInfo> = {}): TlsInfo {
  return {
    version: '1.3', sni: null, alpnOffered: [], nextProtocol: null, cipher: '1301', ja4: null, ja4_r: null, ja4_o: null, ja4_ro: null,
    ja3: null, ja3_full: null, ja3s: null, ja4s: null, ja4x: [], supportedCiphers: [], extraJa4: [], established: true, resumed: false,
    clientCertificate: false, chain: [], chainFeatures: null, appRecordSizes: [[], []], ...p,
  };
}

/** The record's own fields, and protocol sections by name (put as finalize would). */
type FlowInit = Partial<FlowRecord> & { tls?: TlsInfo | null; mqtt?: MqttInfo; http?: HttpInfo };

function flow(init: FlowInit = {}): FlowRecord {
  const { tls: t, mqtt: m, http: h, ...p } = init;
  const rec: FlowRecord = {
    kind: 'flow', id: 1, communityId: '1:x', transport: 'tcp', ipVersion: 4,
    client: { ip: '10.0.0.1', port: 50000 }, server: { ip: '203.0.113.5', port: 443 }, vlan: 0, tunnelDepth: 0,
    startTs: 0, endTs: 600_000, endReason: 'fin', dirs: [emptyDir(), emptyDir()], byteRatio: null, directionFromSyn: true,
    protocol: null, events: [], limits: [], apps: {}, features: {},
    dnsName: null, entropy: [null, null], smallRecords: [{ ts: [], sizes: [] }, { ts: [], sizes: [] }], pubsub: null,
    encrypted: null, beacon: null, ja4t: null, ja4ts: null, attribution: null, ...p,
  };
  if (t) putSection(rec, tlsSection, t);
  if (m) putSection(rec, mqttSection, m);
  if (h) putSection(rec, httpSection, h);
  return rec;
}

/** n PINGREQ/PINGRESP pairs of `size` bytes every `everyMs` (± jitter), server answering after 30 ms. */
function pings(size: number, n: number, everyMs: number, jitter: (i: number) => number = () => 0): FlowRecord['smallRecords'] {
  const c = { ts: [] as number[], sizes: [] as number[] };
  const s = { ts: [] as number[], sizes: [] as number[] };
  for (let i = 0; i < n; i++) {
    const t = 5000 + i * everyMs + jitter(i);
    c.ts.push(t); c.sizes.push(size);
    s.ts.push(t + 30); s.sizes.push(size);
  }
  return [c, s];
}

const cfg = { brokerSniSuffixes: [...DEFAULT_BROKER_SNI_SUFFIXES] };
const signals = (l: ReturnType<typeof classifyPubSub>) => l?.evidence.map((e) => e.signal) ?? [];

describe('classifyPubSub', () => {
  it('clear MQTT / AMQP from the dissectors: confidence 1, not encrypted', () => {
    const mqtt = { overWebSocket: false } as MqttInfo;
    expect(classifyPubSub(flow({ protocol: 'mqtt', mqtt, server: { ip: 'x', port: 1883 } }), cfg)).toEqual({
      protocol: 'mqtt', encrypted: false, confidence: 1, evidence: [{ signal: 'dissector', value: 'mqtt', weight: 1 }],
    });
    expect(classifyPubSub(flow({ protocol: 'amqp' }), cfg)?.protocol).toBe('amqp');
  });

  it('ALPN x-amzn-mqtt-ca on 443 with an AWS IoT SNI', () => {
    const l = classifyPubSub(flow({ tls: tls({ sni: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com', alpnOffered: ['x-amzn-mqtt-ca'], nextProtocol: 'x-amzn-mqtt-ca' }) }), cfg);
    expect(l?.protocol).toBe('mqtt');
    expect(l?.encrypted).toBe(true);
    expect(signals(l)).toEqual(['alpn_selected', 'broker_sni']);
    expect(l?.confidence).toBeCloseTo(1 - 0.1 * 0.4, 3);
  });

  it('port alone: 8883 → mqtt, 5671 → amqp, at the threshold; 443 alone → nothing', () => {
    const m = classifyPubSub(flow({ server: { ip: 'x', port: 8883 }, tls: tls() }), cfg);
    expect(m?.protocol).toBe('mqtt');
    expect(m?.confidence).toBe(MIN_CONFIDENCE);
    expect(classifyPubSub(flow({ server: { ip: 'x', port: 5671 }, tls: tls() }), cfg)?.protocol).toBe('amqp');
    expect(classifyPubSub(flow({ tls: tls({ sni: 'www.example.com', nextProtocol: 'h2', alpnOffered: ['h2', 'http/1.1'] }) }), cfg)).toBeNull();
  });

  it('broker SNI suffixes (wildcard label for AWS regions; Service Bus → amqp; configured extras)', () => {
    expect(classifyPubSub(flow({ tls: tls({ sni: 'ns1.servicebus.windows.net' }) }), cfg)?.protocol).toBe('amqp');
    expect(classifyPubSub(flow({ tls: tls({ sni: 'abc.s1.eu.hivemq.cloud' }) }), cfg)?.protocol).toBe('mqtt');
    expect(classifyPubSub(flow({ tls: tls({ sni: 'evil.iot.amazonaws.com.attacker.net' }) }), cfg)).toBeNull();
    expect(classifyPubSub(flow({ tls: tls({ sni: 'x.iot.a.b.amazonaws.com' }) }), cfg)).toBeNull(); // '*' is one label
    expect(classifyPubSub(flow({ tls: tls({ sni: 'a1b2c3-ats.iot.eu-west-1.amazonaws.com' }) }), cfg)?.protocol).toBe('mqtt');
    expect(classifyPubSub(flow({ tls: tls({ sni: 'a1b2c3-ats.iot.eu-west-1.amazonaws.co' }) }), cfg)).toBeNull();
    // IoT Hub alone is 'either' at 0.4 < threshold; with 8883 it becomes MQTT
    expect(classifyPubSub(flow({ tls: tls({ sni: 'hub1.azure-devices.net' }) }), cfg)).toBeNull();
    expect(classifyPubSub(flow({ server: { ip: 'x', port: 8883 }, tls: tls({ sni: 'hub1.azure-devices.net' }) }), cfg)?.confidence).toBeCloseTo(0.7, 3);
    const custom = { brokerSniSuffixes: ['.broker.corp.example'] };
    expect(signals(classifyPubSub(flow({ server: { ip: 'x', port: 5671 }, tls: tls({ sni: 'b1.broker.corp.example' }) }), custom))).toEqual(['port', 'broker_sni']);
    const trailing = { brokerSniSuffixes: ['mq.*'] }; // a pattern that ends in its wildcard
    expect(signals(classifyPubSub(flow({ server: { ip: 'x', port: 5671 }, tls: tls({ sni: 'eu.mq.corp' }) }), trailing))).toEqual(['port', 'broker_sni']);
    expect(signals(classifyPubSub(flow({ server: { ip: 'x', port: 5671 }, tls: tls({ sni: 'eu.mqx.corp' }) }), trailing))).toEqual(['port']);
  });

  it('keep-alive shape on an unremarkable port: steady ping-size pairs', () => {
    const steady = classifyPubSub(flow({ tls: tls(), smallRecords: pings(24, 8, 60_000, (i) => (i % 2 ? 150 : -150)) }), cfg);
    expect(steady?.protocol).toBe('mqtt');
    expect(signals(steady)).toEqual(['keepalive_steady']);
    expect(steady?.confidence).toBeCloseTo(0.6, 3);
    // AMQP 0-9-1 heartbeat over TLS 1.2 AES-GCM: 37-byte records
    expect(classifyPubSub(flow({ tls: tls(), smallRecords: pings(37, 6, 30_000) }), cfg)?.protocol).toBe('amqp');
    // irregular cadence: weak evidence only, below threshold on its own
    const irregular = pings(31, 6, 60_000, (i) => [0, 40_000, -20_000, 55_000, 5_000, 30_000][i] as number);
    expect(classifyPubSub(flow({ tls: tls(), smallRecords: irregular }), cfg)).toBeNull();
    // unanswered pings (server sends other sizes) are not keep-alives
    const [c] = pings(24, 8, 60_000);
    expect(classifyPubSub(flow({ tls: tls(), smallRecords: [c, { ts: c.ts.map((t) => t + 30), sizes: c.sizes.map(() => 90) }] }), cfg)).toBeNull();
  });

  it('ALPN h2 / x-amzn-http-ca scale the inference by 0.6; no TLS and no dissector → null', () => {
    const base = { server: { ip: 'x', port: 8883 }, smallRecords: pings(24, 8, 60_000) };
    expect(classifyPubSub(flow({ ...base, tls: tls() }), cfg)?.confidence).toBeCloseTo(1 - 0.5 * 0.4, 3);
    // (1 − 0.5·0.4)·0.6 = 0.48: h2 pushes it below the threshold
    expect(classifyPubSub(flow({ ...base, tls: tls({ nextProtocol: 'h2' }) }), cfg)).toBeNull();
    const strong = classifyPubSub(flow({ ...base, tls: tls({ nextProtocol: 'h2', sni: 'a.hivemq.cloud', alpnOffered: ['mqtt', 'h2'] }) }), cfg);
    expect(strong?.evidence.at(-1)).toEqual({ signal: 'alpn_http', value: 'h2', weight: -0.4 });
    expect(strong?.confidence).toBeCloseTo((1 - 0.2 * 0.5 * 0.4 * 0.4) * 0.6, 3);
    const aws = classifyPubSub(flow({ tls: tls({ sni: 'x-ats.iot.us-east-1.amazonaws.com', alpnOffered: ['mqtt'], nextProtocol: null }), smallRecords: pings(24, 8, 60_000) }), cfg);
    expect(aws?.confidence).toBeCloseTo(1 - 0.2 * 0.4 * 0.4, 3);
    const awsHttp = classifyPubSub(flow({ tls: tls({ sni: 'x-ats.iot.us-east-1.amazonaws.com', alpnOffered: ['x-amzn-http-ca'] }), smallRecords: pings(24, 8, 60_000) }), cfg);
    // (1 − 0.4·0.4)·0.6 = 0.504: just above
    expect(awsHttp?.evidence.at(-1)).toEqual({ signal: 'alpn_http', value: 'x-amzn-http-ca', weight: -0.4 });
    expect(awsHttp?.confidence).toBeCloseTo((1 - 0.4 * 0.4) * 0.6, 3);
    expect(classifyPubSub(flow({ server: { ip: 'x', port: 8883 } }), cfg)).toBeNull();
  });

  it('MQTT over a clear WebSocket seen by the HTTP dissector', () => {
    const http = { method: 'GET', uri: '/mqtt', host: 'b', userAgent: null, statusCode: 101, requests: 1, pathEntropy: 2, hostEntropy: 0, upgrade: 'websocket', wsProtocol: 'mqtt' };
    expect(classifyPubSub(flow({ protocol: 'http', http }), cfg)?.protocol).toBe('mqtt');
  });
});
