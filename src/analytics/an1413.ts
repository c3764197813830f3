/**
 * AN1413 — TLS to an unfamiliar destination after data staging: a non-browser process opens TLS to
 * a destination that host (or user) has not used before, within `stagingWindowMs` (default 30 min)
 * after a staging or compression event on that host (an archive written — EID 11 with an archive
 * extension — or an archiver run — EID 1). Familiarity comes from the sensor baseline once warm,
 * else from the EDR (host→destination history, or the image's network history); a familiar
 * destination (a backup tool uploading to its usual server) does not fire, nor does TLS with no
 * staging before it (an update agent reaching a new CDN).
 *
 * Evidence weights: staging event 0.35 (+0.1 when the same process staged it); destination
 * unfamiliar 0.3; TLS 0.1; non-browser process 0.1; upload-heavy flow 0.1.
 * Severity: medium; +1 destination unfamiliar (not just unknown); +1 upload-heavy or same-process staging.
 */
import type { Evidence, FileEvent, FlowRecord } from '../flow/record.js';
import type { Alert } from './alert.js';
import { baseName } from '../util/path.js';
import {
  NO_ALERTS, buildAlert, destinationNovelty, isAllowlisted, isOutboundExternal, processClass, severityFromPoints, where, who,
  type AnalyticContext,
} from './context.js';
import type { ResolvedConfig } from './config.js';
import { tlsOf } from '../../dissectors/tls/record.js';

function isStaging(e: FileEvent, cfg: ResolvedConfig): boolean {
  if (e.kind === 'archiver_run') return true;
  if (e.kind !== 'file_create') return false;
  const p = e.path.toLowerCase();
  return cfg.archiveExtensions.some((x) => p.endsWith(x));
}

export function an1413(flow: FlowRecord, ctx: AnalyticContext): readonly Alert[] {
  const cfg = ctx.config;
  if (!tlsOf(flow) && flow.protocol !== 'tls') return NO_ALERTS;
  const cls = processClass(flow, cfg);
  if (cls === 'browser' || cls === 'unknown') return NO_ALERTS;
  if (!isOutboundExternal(flow, cfg) || isAllowlisted(flow, cfg)) return NO_ALERTS;
  // Staging events in the window, newest first (no list is built for the usual flow without any).
  let staging: FileEvent[] | null = null;
  const events = flow.attribution?.fileEvents;
  if (events) {
    for (const e of events) {
      if (e.ts <= flow.startTs && flow.startTs - e.ts <= cfg.stagingWindowMs && isStaging(e, cfg)) (staging ??= []).push(e);
    }
  }
  if (staging === null) return NO_ALERTS;
  staging.sort((a, b) => b.ts - a.ts);
  const nov = destinationNovelty(flow, ctx);
  if (nov.novel === false) return NO_ALERTS;
  const last = staging[0]!;
  const guid = flow.attribution?.process?.entityId;
  const sameProcess = !!guid && staging.some((e) => e.processEntityId === guid);
  const ev: Evidence[] = [
    { signal: 'staging_event', value: `${last.kind}:${last.path}${last.image ? ` by ${baseName(last.image).toLowerCase()}` : ''} ${Math.round((flow.startTs - last.ts) / 1000)}s before`, weight: 0.35 },
  ];
  if (sameProcess) ev.push({ signal: 'staged_by_same_process', value: guid!, weight: 0.1 });
  if (nov.novel) ev.push({ signal: 'destination_unfamiliar_for_host', value: nov.source, weight: 0.3 });
  else ev.push({ signal: 'destination_familiarity_unknown', value: true, weight: 0 });
  ev.push({ signal: 'tls', value: tlsOf(flow)?.version ?? true, weight: 0.1 });
  ev.push({ signal: 'non_browser_process', value: cls, weight: 0.1 });
  const up = flow.dirs[0].bytes;
  const uploadHeavy = flow.byteRatio !== null && flow.byteRatio >= cfg.thresholds.asymmetryRatio && up >= cfg.thresholds.asymmetryMinBytes;
  if (uploadHeavy) ev.push({ signal: 'upload_heavy', value: `${up} out / ${flow.dirs[1].bytes} in`, weight: 0.1 });
  const points = 1 + (nov.novel ? 1 : 0) + (uploadHeavy || sameProcess ? 1 : 0);
  return [buildAlert(flow, {
    analytic: 'AN1413',
    title: 'TLS to an unfamiliar destination after data staging',
    technique: ['T1048', 'T1560', 'T1041'],
    severity: severityFromPoints(points),
    evidence: ev,
    explanation: `${who(flow)} opened TLS to ${where(flow)}${nov.novel ? ', new for this host,' : ''} ${Math.round((flow.startTs - last.ts) / 1000)} s after ${baseName(last.path).toLowerCase()} was staged${uploadHeavy ? ` and uploaded ${up} bytes` : ''} — treat as possible exfiltration: check what the archive held and block the destination.`,
    baselineSource: nov.source,
  })];
}
