/**
 * Replay capture files through the pipeline and collect what comes out. The programmatic
 * entry point used by tests, golden files and `ndr-sensor replay`.
 */
import { openCaptureFile } from '../capture/pcap-file.js';
import type { FlowRecord } from '../flow/record.js';
import type { Alert } from '../analytics/alert.js';
import { Pipeline, type PipelineOptions } from './pipeline.js';
import type { EngineStats } from './engine.js';

export interface ReplayOptions extends Omit<PipelineOptions, 'onFlow' | 'onAlert'> {
  /** Sysmon logs for the embedded reference EDR (attribution). */
  sysmon?: string[];
}

export interface ReplayResult {
  flows: FlowRecord[];
  alerts: Alert[];
  stats: EngineStats;
  warnings: string[];
  truncated: boolean;
}

/** Build the enrichment and analytics stages a replay asks for (filled in as those land). */
export type StageFactory = (opts: ReplayOptions) => Promise<Pick<PipelineOptions, 'enrich' | 'analytics'>>;
let stageFactory: StageFactory | null = null;
export function setReplayStages(f: StageFactory | null): void {
  stageFactory = f;
}

export async function replayFiles(paths: string[], opts: ReplayOptions = {}): Promise<ReplayResult> {
  const flows: FlowRecord[] = [];
  const alerts: Alert[] = [];
  const stages = stageFactory ? await stageFactory(opts) : {};
  const p = new Pipeline({ ...opts, ...stages, onFlow: (r) => flows.push(r), onAlert: (a) => alerts.push(a) });
  for (const path of paths) await p.run(openCaptureFile(path));
  await p.finish('eof');
  await p.close();
  flows.sort((a, b) => a.startTs - b.startTs || a.id - b.id);
  return { flows, alerts, stats: p.engine.stats, warnings: p.sourceWarnings, truncated: p.truncated };
}
