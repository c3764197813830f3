import type { FlowRecord } from '../../src/flow/record.js';
import { newFlowRecord } from '../../src/flow/record.js';

/** A minimal FlowRecord for a tuple (enrichment reads only the tuple, start and community id). */
export function flowFor(id: number, startTs: number, cIp: string, cPort: number, sIp: string, sPort: number, transport: 'tcp' | 'udp' = 'tcp'): FlowRecord {
  return newFlowRecord({ id, client: { ip: cIp, port: cPort }, server: { ip: sIp, port: sPort }, startTs, transport });
}
