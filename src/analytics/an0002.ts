/**
 * AN0002 — publish/subscribe (MQTT/AMQP) C2 from a non-standard process.
 *
 * Fires when an outbound flow to an external broker is MQTT or AMQP (seen in clear, or inferred
 * inside TLS by the pub/sub classifier: `flow.pubsub`) and the attributed process is not a browser
 * and either is a scripting host / LOLBin / unsigned user-path image / masquerading browser, or is
 * not an approved pub/sub app. An approved app, or any non-scripting process talking to an approved
 * broker destination, does not fire. Unattributed flows do not fire (the process is the point).
 *
 * Evidence weights: pub/sub protocol 0.3 (× classifier confidence); suspicious process class 0.3
 * (else "not an approved pub/sub app" 0.15); encrypted channel 0.15; external broker 0.1;
 * connection beacon (RITA ≥ threshold) 0.15; keep-alive cadence inside the flow 0.15;
 * TLS/HTTP library loaded just before 0.05.
 * Severity points: 1 for a suspicious process class (else 0), +1 encrypted, +1 beaconing
 * (connections or records); 0 low · 1 medium · 2 high · 3 critical.
 */
import type { Evidence, FlowRecord, PubSubLabel } from '../flow/record.js';
import type { Alert } from './alert.js';
import { baseName } from '../util/path.js';
import {
  NO_ALERTS, buildAlert, isAllowlisted, isOutboundExternal, processClass, recentNetworkLibraries, severityFromPoints, where, who,
  type AnalyticContext,
} from './context.js';
import { tlsOf } from '../../dissectors/tls/record.js';

function pubsubOf(flow: FlowRecord): PubSubLabel | null {
  if (flow.pubsub) return flow.pubsub;
  if (flow.features.pubsub === 'mqtt') return { protocol: 'mqtt', encrypted: false, confidence: 1, evidence: [{ signal: 'dissector', value: 'mqtt', weight: 1 }] };
  if (flow.features.pubsub === 'amqp') return { protocol: 'amqp', encrypted: false, confidence: 1, evidence: [{ signal: 'dissector', value: 'amqp', weight: 1 }] };
  return null;
}

export function an0002(flow: FlowRecord, ctx: AnalyticContext): readonly Alert[] {
  const cfg = ctx.config;
  const ps = pubsubOf(flow);
  if (!ps || !isOutboundExternal(flow, cfg) || isAllowlisted(flow, cfg)) return NO_ALERTS;
  const cls = processClass(flow, cfg);
  if (cls === 'unknown' || cls === 'browser') return NO_ALERTS;
  const exe = flow.attribution!.process!.executable!.toLowerCase();
  const suspicious = cls === 'scripting' || cls === 'unusual' || cls === 'user_path_unsigned' || cls === 'browser_masquerade';
  const approvedApp = cfg.sets.approvedPubSubApps.has(exe) || cfg.sets.approvedPubSubApps.has(baseName(exe).toLowerCase());
  const approvedDst = cfg.approvedPubSubDst.matchesFlow(flow.server.ip, tlsOf(flow)?.sni ?? null, flow.dnsName);
  if (!suspicious && (approvedApp || approvedDst)) return NO_ALERTS;

  const ev: Evidence[] = [{ signal: 'pubsub_protocol', value: ps.protocol, weight: round2(0.3 * ps.confidence) }];
  for (const e of ps.evidence) ev.push({ signal: `pubsub.${e.signal}`, value: e.value, weight: 0 });
  ev.push(suspicious ? { signal: 'process_class', value: cls, weight: 0.3 } : { signal: 'not_approved_pubsub_app', value: baseName(exe).toLowerCase(), weight: 0.15 });
  const encrypted = ps.encrypted || tlsOf(flow) !== null;
  if (encrypted) ev.push({ signal: 'encrypted_channel', value: tlsOf(flow)?.version ? `tls${tlsOf(flow)?.version ?? ""}` : true, weight: 0.15 });
  ev.push({ signal: 'external_broker', value: `${flow.server.ip}:${flow.server.port}`, weight: 0.1 });
  const connBeacon = ctx.beacon && ctx.beacon.score >= cfg.thresholds.beaconScore ? ctx.beacon : null;
  const recBeacon = ctx.recordBeacon && ctx.recordBeacon.score >= cfg.thresholds.recordBeaconScore ? ctx.recordBeacon : null;
  if (connBeacon) ev.push({ signal: 'beacon_connections', value: connBeacon.score, weight: 0.15 });
  if (recBeacon) ev.push({ signal: 'keepalive_cadence', value: `${recBeacon.score}@${recBeacon.medianIntervalS}s`, weight: 0.15 });
  const libs = recentNetworkLibraries(flow, cfg, cfg.libraryLoadWindowMs);
  if (libs.length) ev.push({ signal: 'network_library_loaded', value: [...new Set(libs.map((l) => l.name))].join(','), weight: 0.05 });

  const points = (suspicious ? 1 : 0) + (encrypted ? 1 : 0) + (connBeacon || recBeacon ? 1 : 0);
  const proto = `${ps.protocol.toUpperCase()}${encrypted ? ' over TLS' : ''}`;
  return [buildAlert(flow, {
    analytic: 'AN0002',
    title: `${proto} to an external broker from ${suspicious ? 'a non-standard process' : 'an unapproved pub/sub client'}`,
    technique: ['T1071', 'T1573'],
    severity: severityFromPoints(points),
    evidence: ev,
    explanation: `${who(flow)} talks ${proto} to ${where(flow)}${connBeacon || recBeacon ? ' at a steady cadence' : ''}; it is not an approved pub/sub client — confirm the broker is business-approved or isolate the host and review the process command line.`,
    baselineSource: 'none',
  })];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
