/**
 * AN1389 — custom symmetric encryption: a non-browser process sends high-entropy payload that is
 * not TLS or any other known encrypted protocol (`flow.encrypted.suspicious`, set by the encrypted-
 * channel detector) to an external destination that is not usual for that host.
 * A destination the host already uses (sensor baseline once warm, else the EDR) does not fire;
 * when nobody knows, the alert fires with baselineSource 'none'.
 *
 * Evidence weights: non-TLS high-entropy payload 0.4; no known protocol 0.1; destination unfamiliar
 * 0.15; scripting host / LOLBin / user-path image 0.15 (any other non-browser 0.05); crypto
 * libraries (bcrypt/rsaenh/ncrypt) without schannel 0.1; client payload entropy (informational 0).
 * Severity: medium; +1 suspicious process class; +1 unfamiliar destination (capped at high); +1
 * crypto libraries without a TLS stack.
 */
import type { Evidence, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { baseName } from '../util/path.js';
import {
  NO_ALERTS, buildAlert, destinationNovelty, isAllowlisted, isOutboundExternal, processClass, severityFromPoints, where, who,
  type AnalyticContext,
} from './context.js';
import { tlsOf } from '../../dissectors/tls/record.js';

const CRYPTO_LIBS = new Set(['bcrypt.dll', 'rsaenh.dll', 'ncrypt.dll', 'bcryptprimitives.dll']);
const TLS_STACK = new Set(['schannel.dll', 'ncryptsslp.dll']);

export function an1389(flow: FlowRecord, ctx: AnalyticContext): readonly Alert[] {
  const cfg = ctx.config;
  const enc = flow.encrypted;
  if (!enc?.suspicious || tlsOf(flow)) return NO_ALERTS;
  const cls = processClass(flow, cfg);
  if (cls === 'browser' || cls === 'unknown') return NO_ALERTS;
  if (!isOutboundExternal(flow, cfg) || isAllowlisted(flow, cfg)) return NO_ALERTS;
  const nov = destinationNovelty(flow, ctx);
  if (nov.novel === false) return NO_ALERTS;
  const ent = flow.entropy[0];
  const ev: Evidence[] = [
    { signal: 'non_tls_high_entropy', value: ent ? Math.round(ent.bits * 100) / 100 : true, weight: 0.4 },
    { signal: 'no_known_protocol', value: enc.known ?? 'none', weight: 0.1 },
  ];
  for (const e of enc.evidence) ev.push({ signal: `channel.${e.signal}`, value: e.value, weight: 0 });
  if (nov.novel) ev.push({ signal: 'destination_unfamiliar_for_host', value: nov.source, weight: 0.15 });
  const suspicious = cls === 'scripting' || cls === 'unusual' || cls === 'user_path_unsigned' || cls === 'browser_masquerade';
  ev.push({ signal: suspicious ? 'suspicious_process' : 'non_browser_process', value: cls, weight: suspicious ? 0.15 : 0.05 });
  const loads = (flow.attribution?.imageLoads ?? []).filter((l) => l.ts <= flow.startTs).map((l) => baseName(l.path).toLowerCase());
  const crypto = loads.filter((n) => CRYPTO_LIBS.has(n));
  const cryptoOnly = crypto.length > 0 && !loads.some((n) => TLS_STACK.has(n));
  if (cryptoOnly) ev.push({ signal: 'crypto_libraries_without_tls_stack', value: [...new Set(crypto)].join(','), weight: 0.1 });
  const points = Math.min(2, 1 + (suspicious ? 1 : 0) + (nov.novel ? 1 : 0)) + (cryptoOnly ? 1 : 0);
  return [buildAlert(flow, {
    analytic: 'AN1389',
    title: 'Non-TLS encrypted channel from a non-browser process',
    technique: ['T1573.001'],
    severity: severityFromPoints(points),
    evidence: ev,
    explanation: `${who(flow)} sends random-looking payload that is not TLS or any known protocol to ${where(flow)}${nov.novel ? ', a destination new for this host' : ''} — look for a custom crypto channel (script block logs, AES/XOR loaders) and block the destination.`,
    baselineSource: nov.source,
  })];
}
