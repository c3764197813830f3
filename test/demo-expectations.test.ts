/**
 * The demo's expected alerts, checked against the analytics alone: FlowRecords are built from the
 * scenario (what the dissectors should report) and attributed from the generated Sysmon log by a
 * minimal join written here (5-tuple → EID 3 → EID 1/7/11 by ProcessGuid; image network history =
 * an earlier EID 3 of the same image on the host). The full pipeline golden test is the lead's.
 */
import { describe, expect, it } from 'vitest';
import { AnalyticsEngine } from '../src/analytics/engine.js';
import { DEFAULT_ANALYTICS_CONFIG } from '../src/analytics/config.js';
import { makeFlow } from './helpers/flows.js';
import type { FileEvent, FlowRecord, ImageLoad } from '../src/flow/record.js';
import { DEMO_ANALYTICS_CONFIG, DEMO_T0, HOSTS, SCENARIO, buildSysmon, expectedAlerts } from '../lab/gen-demo.js';

type Ev = Record<string, string | number>;
const ms = (e: Ev): number => Date.parse(`${String(e['UtcTime']).replace(' ', 'T')}Z`);

function pingTimes(peer: (typeof SCENARIO)[number]['peer'], start: number, scale: number): number[] {
  if (peer.kind !== 'mqtt') return [];
  return Array.from({ length: Math.floor(peer.durationS / peer.keepAliveS) }, (_, k) => start + (k + 1) * peer.keepAliveS * 1000 * scale);
}

function attributedFlows(events: Ev[]): FlowRecord[] {
  const byGuid = (eid: number, guid: string): Ev[] => events.filter((e) => e['EventID'] === eid && e['ProcessGuid'] === guid);
  return SCENARIO.map((f, i) => {
    const h = HOSTS[f.host];
    const start = DEMO_T0 + f.atMs;
    const e3 = events.find((e) => e['EventID'] === 3 && e['SourceIp'] === h.ip && e['SourcePort'] === String(f.clientPort))!;
    const guid = String(e3['ProcessGuid']);
    const image = String(e3['Image']);
    const e1 = byGuid(1, guid)[0]!;
    const loads: ImageLoad[] = byGuid(7, guid).map((e) => ({ path: String(e['ImageLoaded']), ts: ms(e), signed: true }));
    const fileEvents: FileEvent[] = events.filter((e) => e['Hostname'] === h.name && ms(e) <= start && (e['EventID'] === 11 || (e['EventID'] === 1 && /\\7z\.exe$/i.test(String(e['Image'])))))
      .map((e) => ({ path: String(e['TargetFilename'] ?? e['Image']), ts: ms(e), processEntityId: String(e['ProcessGuid']), image: String(e['Image']), kind: e['EventID'] === 11 ? 'file_create' as const : 'archiver_run' as const }));
    // Fleet-wide, as the reference EDR answers it: has this image made a connection anywhere before?
    const history = events.some((e) => e['EventID'] === 3 && e['Image'] === image && ms(e) < start - 1000);
    const selfSigned = f.peer.labPort === 4444 || f.peer.labPort === 9443;
    const up = f.peer.kind === 'mqtt' ? 600 : f.peer.upload + 400;
    const down = f.peer.kind === 'mqtt' ? 300 : 'get' in f.peer && f.peer.get ? 20_000 : Math.max(1_500, Math.ceil(f.peer.upload / 16_000) * 48);
    const flow = makeFlow({
      id: i + 1, startTs: start, durationMs: f.peer.kind === 'mqtt' ? f.peer.durationS * 1000 * f.scale : 400,
      client: { ip: h.ip, port: f.clientPort }, server: { ip: f.server.ip, port: f.server.port },
      tls: f.peer.kind === 'raw' ? null : {}, sni: f.server.name, chainAnomalies: selfSigned ? ['self_signed'] : ['unknown_root'],
      bytes: [up, down],
      pubsub: f.peer.kind === 'mqtt' ? { protocol: 'mqtt', encrypted: true, confidence: 0.8 } : null,
      encrypted: f.peer.kind === 'raw' ? { suspicious: true, known: null } : f.peer.kind === 'tls' ? { suspicious: false, known: 'tls' } : null,
      smallRecordTs: pingTimes(f.peer, start, f.scale),
      host: h.name, image, user: String(e1['User']), signed: null, imageLoads: loads, fileEvents, imageNetworkHistory: history,
    });
    flow.attribution!.process!.entityId = guid;
    return flow;
  });
}

describe('demo scenario expectations (analytics only)', () => {
  const events = buildSysmon().map((l) => JSON.parse(l) as Ev);
  it('every scenario connection has exactly one EID 3 on its 4-tuple', () => {
    for (const f of SCENARIO) {
      const hits = events.filter((e) => e['EventID'] === 3 && e['SourceIp'] === HOSTS[f.host].ip && e['SourcePort'] === String(f.clientPort) && e['DestinationIp'] === f.server.ip && e['DestinationPort'] === String(f.server.port));
      expect(hits, f.id).toHaveLength(1);
    }
  });
  it('with the demo config the engine raises exactly the expected alerts, with EDR-sourced first-seen signals where the EDR knows', () => {
    const engine = new AnalyticsEngine({ config: { ...DEFAULT_ANALYTICS_CONFIG, ...DEMO_ANALYTICS_CONFIG } });
    for (const f of attributedFlows(events).sort((a, b) => a.startTs - b.startTs)) engine.process(f);
    const got = engine.drain().map((a) => ({ analytic: a.analytic, host: a.host!.name, process: a.process!.executable, destination: a.destination, count: a.count, src: a.baselineSource }));
    const want = expectedAlerts().map(({ flows: _f, ...rest }) => rest);
    expect(got.map(({ src: _s, ...r }) => r).sort((a, b) => a.analytic.localeCompare(b.analytic))).toEqual(want.sort((a, b) => a.analytic.localeCompare(b.analytic)));
    expect(new Set(got.map((g) => g.analytic))).toEqual(new Set(['AN0002', 'AN0922', 'AN1389', 'AN1413', 'AN0759']));
    for (const g of got) if (g.analytic === 'AN0759' || g.analytic === 'AN1389') expect(g.src).toBe('edr');
  });
  it('without the approved pub/sub config the MQTT app raises a medium AN0002 (unapproved client, encrypted)', () => {
    const engine = new AnalyticsEngine();
    for (const f of attributedFlows(events)) engine.process(f);
    const extra = engine.drain().filter((a) => a.analytic === 'AN0002' && a.host!.name === HOSTS.WS03.name);
    expect(extra).toHaveLength(1);
    expect(extra[0]!.severity).toBe('medium');
    expect(extra[0]!.evidence.map((e) => e.signal)).toContain('not_approved_pubsub_app');
  });
});
