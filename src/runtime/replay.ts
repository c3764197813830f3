/**
 * Replay capture files through the pipeline and collect what comes out. The programmatic
 * entry point used by tests, golden files and `ndr-sensor replay`.
 */
import { openCaptureFile } from '../capture/pcap-file.js';
import type { FlowRecord } from '../flow/record.js';
import type { Alert } from '../analytics/alert.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import type { EngineStats } from './engine.js';
import { buildStages } from './stages.js';

export interface ReplayOptions extends Omit<PipelineOptions, 'onFlow' | 'onAlert'> {
  /** Sysmon logs for the embedded reference EDR (attribution). */
  sysmon?: string[];
  /** Run the five analytics (default true). */
  withAnalytics?: boolean;
}

export interface ReplayResult {
  flows: FlowRecord[];
  alerts: Alert[];
  stats: EngineStats;
  warnings: string[];
  truncated: boolean;
}


export async function replayFiles(paths: string[], opts: ReplayOptions = {}): Promise<ReplayResult> {
  const flows: FlowRecord[] = [];
  const alerts: Alert[] = [];
  const stages = opts.enrich !== undefined || opts.analytics !== undefined
    ? {}
    : await buildStages({ sysmon: opts.sysmon ?? [], edr: null, analytics: opts.withAnalytics ?? true, baseline: null });
  const p = new Pipeline({ ...opts, ...stages, onFlow: (r) => flows.push(r), onAlert: (a) => alerts.push(a) });
  for (const path of paths) await p.run(openCaptureFile(path));
  await p.finish('eof');
  await p.close();
  flows.sort((a, b) => a.startTs - b.startTs || a.id - b.id);
  return { flows, alerts, stats: p.engine.stats, warnings: p.sourceWarnings, truncated: p.truncated };
}
