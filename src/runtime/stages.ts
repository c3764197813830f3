/**
 * Builds the enrichment and analytics stages a command asks for (embedded EDR from Sysmon logs,
 * remote EDR over gRPC, analytics with an in-memory or lmdb baseline).
 */
import type { PipelineOptions } from './pipeline.js';

export interface StageRequest {
  sysmon: string[];
  edr: string | null;
  analytics: boolean;
  baseline: string | null;
}

export async function buildStages(_req: StageRequest): Promise<Pick<PipelineOptions, 'enrich' | 'analytics'>> {
  return {};
}
