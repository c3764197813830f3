import type { Evidence, HostInfo, ProcessInfo } from '../flow/record.js';

export type AnalyticId = 'AN0002' | 'AN0922' | 'AN1389' | 'AN1413' | 'AN0759';
export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** One alert. Rendered as ECS with rule.id = analytic, and sent on the SIEM feed. */
export interface Alert {
  readonly kind: 'alert';
  id: string; // stable: analytic + host + process + destination (the dedup key)
  analytic: AnalyticId;
  title: string;
  severity: Severity;
  confidence: number; // 0..1
  evidence: Evidence[];
  host: HostInfo | null;
  process: ProcessInfo | null;
  source: { ip: string; port: number };
  destination: { ip: string; port: number; name: string | null }; // name: SNI, else DNS answer
  communityId: string;
  flowId: number;
  ts: number; // flow start (epoch ms, packet time)
  explanation: string; // one line a SOC analyst can act on
  /** Which knowledge carried a "first seen" signal: the sensor's baseline or the EDR's history. */
  baselineSource: 'sensor' | 'edr' | 'none';
  /** Alerts folded into this one inside the dedup window. */
  count: number;
  mitre: { technique: string[] };
}
