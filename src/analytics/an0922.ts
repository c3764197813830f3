/**
 * AN0922 — an unusual process (rundll32, mshta, wscript, cscript, regsvr32, …, an unsigned image in a
 * user-writable path, or a masquerading browser) connects to an external destination.
 *
 * Evidence weights: unusual process 0.4; external destination 0.1; uncommon port 0.15; rare JA4
 * (sensor, warm) 0.1; TLS without SNI 0.1 / IP-literal SNI 0.1 / high-entropy name 0.1;
 * high-entropy HTTP path 0.1; destination first seen fleet-wide (sensor, warm) 0.15, or new for
 * this host per the EDR 0.1; non-standard certificate chain 0.1.
 * Severity: medium; high with one or two amplifiers (everything after "external destination");
 * critical with three or more.
 */
import type { Evidence, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { destinationKey } from '../baseline/store.js';
import {
  NO_ALERTS, buildAlert, destinationName, isAllowlisted, isIpLiteral, isOutboundExternal, processClass, severityFromPoints, stringEntropy, where, who,
  type AnalyticContext, type BaselineSource,
} from './context.js';
import { tlsOf } from '../../dissectors/tls/record.js';
import { httpOf } from '../../dissectors/http/record.js';

export function an0922(flow: FlowRecord, ctx: AnalyticContext): readonly Alert[] {
  const cfg = ctx.config;
  const cls = processClass(flow, cfg);
  if (cls !== 'unusual' && cls !== 'user_path_unsigned' && cls !== 'browser_masquerade') return NO_ALERTS;
  if (!isOutboundExternal(flow, cfg) || isAllowlisted(flow, cfg)) return NO_ALERTS;
  const ev: Evidence[] = [
    { signal: 'unusual_process', value: `${cls}:${flow.attribution!.process!.name ?? flow.attribution!.process!.executable}`, weight: 0.4 },
    { signal: 'external_destination', value: flow.server.ip, weight: 0.1 },
  ];
  let amplifiers = 0;
  const add = (e: Evidence): void => { ev.push(e); amplifiers++; };
  if (!cfg.sets.commonPorts.has(flow.server.port)) add({ signal: 'uncommon_port', value: flow.server.port, weight: 0.15 });
  let source: BaselineSource = 'none';
  const warm = ctx.baseline.isWarm(flow.startTs);
  const tls = tlsOf(flow);
  const ja4 = tls?.ja4;
  if (ja4 && warm) {
    source = 'sensor';
    const n = ctx.baseline.ja4HostCount(ja4);
    if (n <= cfg.thresholds.rareJa4Hosts) add({ signal: 'rare_ja4', value: `${ja4} (${n} hosts)`, weight: 0.1 });
  }
  if (tls) {
    const sni = tls.sni;
    if (!sni) add({ signal: 'tls_no_sni', value: true, weight: 0.1 });
    else if (isIpLiteral(sni)) add({ signal: 'sni_ip_literal', value: sni, weight: 0.1 });
    const anomalies = tls.chainFeatures?.anomalies ?? [];
    if (anomalies.length) add({ signal: 'nonstandard_chain', value: anomalies.join(','), weight: 0.1 });
  }
  const name = destinationName(flow);
  if (name && !isIpLiteral(name)) {
    const dot = name.indexOf('.');
    const label = dot >= 0 ? name.slice(0, dot) : name;
    if (label.length >= 12) {
      const h = stringEntropy(label);
      if (h >= cfg.thresholds.hostEntropy) add({ signal: 'high_entropy_name', value: `${name} (${h.toFixed(2)} bits/char)`, weight: 0.1 });
    }
  }
  const pe = httpOf(flow)?.pathEntropy;
  if (pe != null && pe >= cfg.thresholds.httpPathEntropy) add({ signal: 'high_entropy_http_path', value: Math.round(pe * 100) / 100, weight: 0.1 });
  if (warm) {
    source = 'sensor';
    if (ctx.baseline.destinationHostCount(destinationKey(flow)) === 0) add({ signal: 'destination_first_seen_fleet', value: destinationKey(flow), weight: 0.15 });
  } else if (flow.attribution?.hostDestinationSeen === false) {
    source = 'edr';
    add({ signal: 'destination_first_seen_host', value: destinationKey(flow), weight: 0.1 });
  }
  const points = 1 + (amplifiers >= 3 ? 2 : amplifiers >= 1 ? 1 : 0);
  return [buildAlert(flow, {
    analytic: 'AN0922',
    title: 'Unusual process connects to an external destination',
    technique: ['T1090', 'T1218', 'T1071'],
    severity: severityFromPoints(points),
    evidence: ev,
    explanation: `${who(flow)} (${cls.replace(/_/g, ' ')}) connected to ${where(flow)}${amplifiers ? ` with ${ev.slice(2).map((e) => e.signal.replace(/_/g, ' ')).join(', ')}` : ''} — check the parent process and command line, and block the destination if it is not known.`,
    baselineSource: source,
  })];
}
