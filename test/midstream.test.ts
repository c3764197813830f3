// Mid-stream pick-up (TCP flows without their handshake): twins of the real lab captures with the
// start of each connection dropped must keep the protocol label and the publish/subscribe label,
// say `ndr.flow.midstream`, get the client right where the port guess is wrong, and raise the
// same analytics alerts as the from-the-start capture.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cutMidstream } from '../lab/midstream.js';
import { MQTT_WS_MID_SKIP } from '../lab/gen-pubsub.js';
import { mqttSection } from '../dissectors/mqtt/record.js';
import { appOf } from '../src/contract/api.js';
import type { FlowRecord } from '../src/flow/record.js';
import type { Alert } from '../src/analytics/alert.js';
import { flowToEcs } from '../src/output/ecs.js';
import { replayFiles, type ReplayOptions } from '../src/runtime/replay.js';
import { ANALYTICS } from '../src/analytics/engine.js';
import { IMG, makeContext, makeFlow } from './helpers/flows.js';

const pcaps = join(new URL('.', import.meta.url).pathname, '..', 'pcaps');
const tmp = mkdtempSync(join(tmpdir(), 'ndr-midstream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function pubsubOf(f: FlowRecord): string | null {
  return f.pubsub?.protocol ?? f.features.pubsub ?? null;
}

interface Row { client: string; server: string; protocol: string | null; pubsub: string | null; midstream: boolean }

/** TCP flows with payload (a connection cut after its last payload packet has nothing to label). */
function rows(flows: FlowRecord[]): Row[] {
  return flows.filter((f) => f.transport === 'tcp' && f.dirs[0].bytes + f.dirs[1].bytes > 0).map((f) => ({
    client: `${f.client.ip}:${f.client.port}`,
    server: `${f.server.ip}:${f.server.port}`,
    protocol: f.protocol,
    pubsub: pubsubOf(f),
    midstream: (flowToEcs(f).ndr as { flow: { midstream?: boolean } }).flow.midstream === true,
  })).sort((a, b) => a.client.localeCompare(b.client));
}

let n = 0;
async function replayCut(source: string, skip: number, opts: ReplayOptions = {}, rewrite?: Parameters<typeof cutMidstream>[1]['rewrite']) {
  const path = join(tmp, `cut-${n++}.pcap`);
  writeFileSync(path, cutMidstream(readFileSync(join(pcaps, source)), { skipPayloadPackets: skip, ...(rewrite !== undefined ? { rewrite } : {}) }));
  return replayFiles([path], opts);
}

const SOURCES: readonly [string, string][] = [
  ['mqtt/mqtt-plain.pcap', 'mqtt'],
  ['mqtt/mqtt-tls.pcap', 'tls'],
  ['amqp/amqp091-plain.pcap', 'amqp'],
  ['amqp/amqp091-tls.pcap', 'tls'],
  ['amqp/amqp10.pcap', 'amqp'],
  ['tls/tls13-openssl.pcap', 'tls'],
  ['tls/tls12-node.pcap', 'tls'],
  ['misc/http-entropy.pcap', 'http'],
];

describe('mid-stream pick-up', () => {
  for (const [source, proto] of SOURCES) {
    it(`${source}: the same labels at every cut point`, async () => {
      const full = rows((await replayFiles([join(pcaps, source)])).flows);
      expect(full.length).toBeGreaterThan(0);
      expect(full.every((r) => r.protocol === proto && !r.midstream)).toBe(true);
      for (const skip of [0, 1, 3, 6, 10]) {
        const mid = rows((await replayCut(source, skip)).flows);
        // A connection cut after its last payload packet has nothing left to label.
        const kept = full.filter((r) => mid.some((m) => m.client === r.client));
        if (skip <= 1) expect(kept.length, `skip ${skip}`).toBeGreaterThan(0);
        for (const r of kept) {
          const m = mid.find((x) => x.client === r.client) as Row;
          expect({ skip, ...m }).toEqual({ skip, ...r, midstream: true });
        }
      }
    });
  }

  it('takes the client from the protocol when the ports guess it wrong', async () => {
    // Client ports rewritten below the brokers' (1883, 5672): the port guess makes the broker the
    // client; PINGREQ/SUBSCRIBE and Basic.Publish/Consume name the real one.
    for (const [source, port] of [['mqtt/mqtt-plain.pcap', 1883], ['amqp/amqp091-plain.pcap', 5672]] as const) {
      const full = rows((await replayFiles([join(pcaps, source)])).flows);
      const low = new Map<number, number>(); // client port -> a port below the broker's, one per connection
      const lowPort = (p: number): number => low.get(p) ?? (low.set(p, 1000 + low.size), 1000 + low.size - 1);
      const mid = rows((await replayCut(source, 4, {}, (p) => (p.sport === port ? { dport: lowPort(p.dport) } : { sport: lowPort(p.sport) }))).flows);
      expect(mid.length).toBeGreaterThan(full.length / 2);
      for (const m of mid) {
        expect(m.server.endsWith(`:${port}`), `${source} ${m.client} -> ${m.server}`).toBe(true);
        expect(Number(m.client.split(':')[1])).toBeLessThan(port);
        expect(m.protocol).toBe(full[0]?.protocol);
      }
    }
  });

  it('raises the same alerts on the demo capture cut mid-stream', async () => {
    const dir = join(pcaps, 'demo');
    const cfg = (JSON.parse(readFileSync(join(dir, 'analytics-config.json'), 'utf8')) as { analytics: unknown }).analytics;
    const opts: ReplayOptions = { sysmon: [join(dir, 'sysmon.jsonl')], analyticsConfig: cfg };
    const full = await replayFiles([join(dir, 'demo.pcap')], opts);
    const key = (a: Alert) => `${a.analytic} ${a.host?.name ?? '-'} ${a.process?.executable ?? '-'} -> ${a.destination.ip}:${a.destination.port} ${a.communityId}`;
    const want = full.alerts.map(key).sort();
    expect(want.some((k) => k.startsWith('AN0002'))).toBe(true);
    for (const skip of [2, 5]) {
      const mid = await replayCut('demo/demo.pcap', skip, opts);
      expect(mid.alerts.map(key).sort(), `skip ${skip}`).toEqual(want);
      const an0002 = mid.alerts.find((a) => a.analytic === 'AN0002');
      expect(an0002?.evidence.some((e) => e.signal === 'keepalive_cadence' || e.signal === 'beacon_connections')).toBe(true);
    }
  });
});

describe('MQTT over WebSocket picked up mid-stream', () => {
  /** MQTT packet types in a WebSocket payload (one or more whole packets, as tshark unmasked it). */
  function mqttTypes(hex: string): number[] {
    const b = Buffer.from(hex, 'hex');
    const out: number[] = [];
    for (let p = 0; p < b.length;) {
      out.push((b[p] as number) >> 4);
      let rem = 0;
      let i = 1;
      for (let mult = 1; i <= 4; i++, mult *= 128) {
        const c = b[p + i] as number;
        rem += (c & 0x7f) * mult;
        if ((c & 0x80) === 0) break;
      }
      p += 1 + i + rem;
    }
    return out;
  }

  it('pcaps/mqtt/mqtt-ws-mid.pcap (paho over mosquitto\'s websockets, cut after the upgrade, CONNECT and CONNACK) gives the session its whole capture gives, as tshark reads the frames', async () => {
    const whole = join(pcaps, 'mqtt', 'mqtt-ws-paho.pcap');
    const cut = join(pcaps, 'mqtt', 'mqtt-ws-mid.pcap');
    // the committed twin is the project's cut of the committed whole capture
    expect(readFileSync(cut).equals(cutMidstream(readFileSync(whole), { skipPayloadPackets: MQTT_WS_MID_SKIP }))).toBe(true);
    const [f] = (await replayFiles([whole])).flows as [FlowRecord];
    const [m] = (await replayFiles([cut])).flows as [FlowRecord];
    expect([m.protocol, `${m.client.ip}:${m.client.port}`, `${m.server.ip}:${m.server.port}`, pubsubOf(m)]).toEqual([f.protocol, `${f.client.ip}:${f.client.port}`, `${f.server.ip}:${f.server.port}`, 'mqtt']);
    expect(m.server.port).toBe(9001);
    expect((flowToEcs(m).ndr as { flow: { midstream?: boolean } }).flow.midstream).toBe(true);
    const [a, b] = [appOf(f, mqttSection), appOf(m, mqttSection)];
    expect(a?.overWebSocket).toBe(true);
    expect(b?.overWebSocket).toBe(true);
    // what the cut kept: every PUBLISH, the keep-alive exchanges at the times they happened
    expect({ topics: b?.publishTopics, publishes: b?.publishCount, bytes: b?.publishBytes, pings: b?.pingCount, pingTs: b?.pingTs })
      .toEqual({ topics: a?.publishTopics, publishes: a?.publishCount, bytes: a?.publishBytes, pings: a?.pingCount, pingTs: a?.pingTs });
    expect(b?.messages).toBe((a?.messages ?? 0) - 2); // CONNECT and CONNACK went with the cut
    // tshark reads the whole capture (it needs the upgrade to know the frames): the frames at
    // and after the cut's first packet, unmasked, hold the PUBLISHes and PINGREQs we counted
    const first = execFileSync('tshark', ['-r', cut, '-c', '1', '-T', 'fields', '-e', 'frame.time_epoch'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const rows = execFileSync('tshark', ['-r', whole, '-Y', `websocket && frame.time_epoch >= ${first}`, '-T', 'fields', '-e', 'websocket.mask', '-e', 'data.data'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim().split('\n').map((l) => l.split('\t'));
    const types = rows.flatMap(([, hex]) => (hex ? mqttTypes(hex) : []));
    // the masked frames are the client's (RFC 6455 §5.1): its PINGREQs; the broker's PINGRESPs come unmasked
    expect(rows.filter(([mask, hex]) => hex !== undefined && mqttTypes(hex).includes(12)).every(([mask]) => mask === '1')).toBe(true);
    expect(rows.filter(([mask, hex]) => hex !== undefined && mqttTypes(hex).includes(13)).every(([mask]) => mask === '0')).toBe(true);
    expect(types.filter((t) => t === 3).length).toBe(b?.publishCount);
    expect(types.filter((t) => t === 12).length).toBe(b?.pingCount);
    expect(types.length).toBe(b?.messages);
  });
});


describe('analytics on mid-stream pub/sub flows', () => {
  /** The flow as the same PowerShell on the same host would own it, its broker outside. */
  function attributed(f: FlowRecord): FlowRecord {
    const who = makeFlow({ image: IMG.powershell, startTs: f.startTs });
    return { ...f, server: { ...f.server, ip: '198.51.100.20' }, attribution: who.attribution };
  }
  function alerts(f: FlowRecord): string[] {
    const out: string[] = [];
    for (const [id, run] of ANALYTICS) for (const a of run(f, makeContext())) out.push(`${id} ${a.severity} ${a.evidence.map((e) => `${e.signal}=${String(e.value)}`).join(',')}`);
    return out;
  }

  it('MQTT (plain and over WebSocket) and AMQP 0-9-1 flows cut mid-stream raise exactly the alerts of their whole twins', async () => {
    const pairs: [string, (n: number) => Promise<FlowRecord[]>][] = [
      ['mqtt/mqtt-plain.pcap', async (n) => (await replayCut('mqtt/mqtt-plain.pcap', n, { withAnalytics: false })).flows],
      ['amqp/amqp091-plain.pcap', async (n) => (await replayCut('amqp/amqp091-plain.pcap', n, { withAnalytics: false })).flows],
      ['mqtt/mqtt-ws-paho.pcap', async () => (await replayFiles([join(pcaps, 'mqtt', 'mqtt-ws-mid.pcap')], { withAnalytics: false })).flows],
    ];
    for (const [source, cut] of pairs) {
      const whole = (await replayFiles([join(pcaps, source)], { withAnalytics: false })).flows.filter((f) => f.dirs[0].bytes + f.dirs[1].bytes > 0);
      let compared = 0;
      for (const skip of [3, 6]) {
        for (const m of await cut(skip)) {
          const w = whole.find((f) => f.client.port === m.client.port);
          if (w === undefined || m.dirs[0].bytes + m.dirs[1].bytes === 0) continue;
          const want = alerts(attributed(w));
          expect(want.some((a) => a.startsWith('AN0002 ')), `${source} ${w.client.port}`).toBe(true);
          expect(alerts(attributed(m)), `${source} ${m.client.port} skip ${skip}`).toEqual(want);
          compared++;
        }
      }
      expect(compared, source).toBeGreaterThan(0);
    }
  });
});
