import { describe, expect, it } from 'vitest';
import { an0002 } from './an0002.js';
import { IMG, beaconInfo, makeContext, makeFlow } from '../../test/helpers/flows.js';

const broker = { ip: '198.51.100.20', port: 8883 };
const mqttTls = { server: broker, sni: 'broker.iot-cloud.example', pubsub: { protocol: 'mqtt' as const, encrypted: true, confidence: 0.9 } };

describe('AN0002 pub/sub from a non-standard process', () => {
  it('fires critical for PowerShell MQTT over TLS that beacons, with the evidence', () => {
    const a = an0002(makeFlow({ ...mqttTls, image: IMG.powershell }), makeContext({ recordBeacon: beaconInfo(0.95, 'records') }));
    expect(a).toHaveLength(1);
    expect(a[0]!.analytic).toBe('AN0002');
    expect(a[0]!.severity).toBe('critical');
    const sig = a[0]!.evidence.map((e) => e.signal);
    expect(sig).toEqual(expect.arrayContaining(['pubsub_protocol', 'process_class', 'encrypted_channel', 'external_broker', 'keepalive_cadence']));
    expect(a[0]!.evidence.find((e) => e.signal === 'process_class')!.value).toBe('scripting');
    expect(a[0]!.destination).toEqual({ ip: broker.ip, port: 8883, name: 'broker.iot-cloud.example' });
    expect(a[0]!.process!.name).toBe('powershell.exe');
    expect(a[0]!.confidence).toBeGreaterThan(0.8);
  });
  it('severity drops without beaconing and without TLS', () => {
    const f = makeFlow({ server: { ip: '198.51.100.20', port: 1883 }, tls: null, image: IMG.python, pubsub: { protocol: 'mqtt', encrypted: false, confidence: 1 } });
    const a = an0002(f, makeContext());
    expect(a[0]!.severity).toBe('medium');
    expect(a[0]!.evidence.some((e) => e.signal === 'encrypted_channel')).toBe(false);
  });
  it('a connection beacon counts like the keep-alive cadence (only above the threshold)', () => {
    const f = makeFlow({ ...mqttTls, image: IMG.rundll32 });
    expect(an0002(f, makeContext({ beacon: beaconInfo(0.9) }))[0]!.evidence.some((e) => e.signal === 'beacon_connections')).toBe(true);
    expect(an0002(f, makeContext({ beacon: beaconInfo(0.5) }))[0]!.evidence.some((e) => e.signal === 'beacon_connections')).toBe(false);
  });
  it('an unapproved ordinary app fires low; an approved MQTT app does not fire', () => {
    const f = makeFlow({ ...mqttTls, image: IMG.mqttApp, tls: null, pubsub: { protocol: 'mqtt', encrypted: false, confidence: 1 } });
    const a = an0002(f, makeContext());
    expect(a[0]!.severity).toBe('low');
    expect(a[0]!.evidence.some((e) => e.signal === 'not_approved_pubsub_app')).toBe(true);
    expect(an0002(f, makeContext({ config: { approvedPubSubApps: ['telemetry-agent.exe'] } }))).toEqual([]);
  });
  it('an approved broker suppresses ordinary apps but not scripting hosts', () => {
    const config = { approvedPubSubDestinations: ['*.iot-cloud.example'] };
    expect(an0002(makeFlow({ ...mqttTls, image: IMG.mqttApp }), makeContext({ config }))).toEqual([]);
    expect(an0002(makeFlow({ ...mqttTls, image: IMG.powershell }), makeContext({ config }))).toHaveLength(1);
  });
  it('a browser on the same broker (MQTT over WebSocket) does not fire; a chrome.exe outside its install path does', () => {
    expect(an0002(makeFlow({ ...mqttTls, image: IMG.chrome }), makeContext())).toEqual([]);
    const a = an0002(makeFlow({ ...mqttTls, image: IMG.fakeChrome }), makeContext());
    expect(a[0]!.evidence.find((e) => e.signal === 'process_class')!.value).toBe('browser_masquerade');
  });
  it('internal brokers, unattributed flows and non-pub/sub flows do not fire', () => {
    expect(an0002(makeFlow({ ...mqttTls, server: { ip: '10.20.0.5', port: 8883 }, image: IMG.powershell }), makeContext())).toEqual([]);
    expect(an0002(makeFlow({ ...mqttTls, attribution: null }), makeContext())).toEqual([]);
    expect(an0002(makeFlow({ image: IMG.powershell }), makeContext())).toEqual([]);
  });
});
