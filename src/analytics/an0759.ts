/**
 * AN0759 — a process with no history of network connections (fleet-wide) opens outbound TLS.
 * History comes from the sensor baseline once warm (network-active images), else from the EDR
 * (`attribution.imageNetworkHistory`). Unknown history does not fire. Browsers never fire.
 *
 * Evidence weights: no network history 0.4; outbound TLS 0.1; client sends more than it receives
 * 0.15; non-standard chain (self-signed, unknown root, broken, expired, SNI not in SAN) 0.15;
 * TLS stack (tier 1) loaded just before 0.15, or HTTP/socket client (tier 2) 0.1; library new for
 * this image (sensor, warm) 0.05; no SNI 0.05.
 * Severity: medium; +1 asymmetric; +1 non-standard chain; +1 library loads just before (clamped critical).
 */
import type { Evidence, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { imageKey } from '../baseline/store.js';
import {
  NO_ALERTS, buildAlert, imageNetworkNovelty, isAllowlisted, isOutboundExternal, processClass, recentNetworkLibraries, severityFromPoints, where, who,
  type AnalyticContext,
} from './context.js';
import { tlsOf } from '../../dissectors/tls/record.js';

export function an0759(flow: FlowRecord, ctx: AnalyticContext): readonly Alert[] {
  const cfg = ctx.config;
  const tls = tlsOf(flow);
  if (!tls) return NO_ALERTS;
  const cls = processClass(flow, cfg);
  if (cls === 'browser' || cls === 'unknown') return NO_ALERTS;
  if (!isOutboundExternal(flow, cfg) || isAllowlisted(flow, cfg)) return NO_ALERTS;
  const nov = imageNetworkNovelty(flow, ctx);
  if (nov.novel !== true) return NO_ALERTS;
  const ev: Evidence[] = [
    { signal: 'no_network_history', value: nov.source, weight: 0.4 },
    { signal: 'outbound_tls', value: tls.version ?? true, weight: 0.1 },
  ];
  const up = flow.dirs[0].bytes;
  const down = flow.dirs[1].bytes;
  const asym = up >= cfg.thresholds.asymmetryMinBytes && (down === 0 || up / down >= cfg.thresholds.asymmetryRatio);
  if (asym) ev.push({ signal: 'client_sends_more', value: `${up} out / ${down} in`, weight: 0.15 });
  const anomalies = tls.chainFeatures?.anomalies ?? [];
  if (anomalies.length) ev.push({ signal: 'nonstandard_chain', value: anomalies.join(','), weight: 0.15 });
  if (!tls.sni) ev.push({ signal: 'tls_no_sni', value: true, weight: 0.05 });
  const libs = recentNetworkLibraries(flow, cfg, cfg.libraryLoadWindowMs);
  const t1 = libs.filter((l) => l.tier === 1);
  const t2 = libs.filter((l) => l.tier === 2);
  if (t1.length) ev.push({ signal: 'tls_library_loaded', value: [...new Set(t1.map((l) => l.name))].join(','), weight: 0.15 });
  else if (t2.length) ev.push({ signal: 'http_library_loaded', value: [...new Set(t2.map((l) => l.name))].join(','), weight: 0.1 });
  const image = imageKey(flow);
  if (libs.length && image && ctx.baseline.isWarm(flow.startTs)) {
    const fresh = libs.filter((l) => ctx.baseline.imageLibraryFirstSeen(image, l.name) === null);
    if (fresh.length) ev.push({ signal: 'library_new_for_image', value: [...new Set(fresh.map((l) => l.name))].join(','), weight: 0.05 });
  }
  const points = 1 + (asym ? 1 : 0) + (anomalies.length ? 1 : 0) + (libs.length ? 1 : 0);
  return [buildAlert(flow, {
    analytic: 'AN0759',
    title: 'Network-silent process opens outbound TLS',
    technique: ['T1573.002', 'T1071.001'],
    severity: severityFromPoints(points),
    evidence: ev,
    explanation: `${who(flow)} has no history of network connections but opened TLS to ${where(flow)}${asym ? `, sending ${up} bytes and receiving ${down}` : ''}${anomalies.length ? ` with a ${anomalies.join('/')} certificate chain` : ''} — check how the process was started and what it loaded.`,
    baselineSource: nov.source,
  })];
}
