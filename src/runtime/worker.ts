/**
 * A flow worker (one thread): receives batches of innermost IP packets for the flows hashed to
 * it, runs the engine (flow table, reassembly, dissectors, fingerprints) and sends back finished
 * flow records and DNS answers. All work on a flow happens here: no locks, no shared state.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LinkType } from '../capture/source.js';
import { Pipeline, type PipelineLimits } from './pipeline.js';
import type { FlowRecord } from '../flow/record.js';
import type { FeatureOptions } from './features.js';
import type { DnsRecord } from '../../dissectors/dns/types.js';

export interface WorkerInit extends FeatureOptions {
  limits?: PipelineLimits;
}

export interface BatchMsg {
  type: 'batch';
  n: number;
  buf: Uint8Array;
  off: Uint32Array;
  len: Uint32Array;
  ts: Float64Array;
  vlan: Uint16Array;
  tunnel: Uint8Array;
  maxTs: number;
}

export type ToWorker = BatchMsg | { type: 'finish' };
export type FromWorker =
  | { type: 'out'; flows: FlowRecord[]; dns: { client: string; m: Pick<DnsRecord, 'questions' | 'answers' | 'rcode'>; ts: number }[]; wm: number }
  | { type: 'done'; flows: FlowRecord[]; stats: Record<string, unknown> };

if (parentPort !== null && workerData?.ndrWorker === true) {
  const port = parentPort;
  const init = workerData.init as WorkerInit;
  let flows: FlowRecord[] = [];
  let dns: { client: string; m: Pick<DnsRecord, 'questions' | 'answers' | 'rcode'>; ts: number }[] = [];
  const p = new Pipeline({ ...init, onFlow: (r) => { flows.push(r); } });
  // Names are resolved by the main thread (one DNS cache for all workers): forward answers.
  p.learnDns = (client, m, ts) => { dns.push({ client, m: { questions: m.questions, answers: m.answers, rcode: m.rcode }, ts }); };
  p.nameFlows = false;
  const eng = p.engine;
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'batch') {
      const meta = eng.meta;
      for (let i = 0; i < msg.n; i++) {
        meta.tsMs = msg.ts[i] as number;
        const len = msg.len[i] as number;
        meta.origLen = len;
        eng.forcedVlan = msg.vlan[i] as number;
        eng.forcedTunnelDepth = msg.tunnel[i] as number;
        eng.packet(msg.buf, msg.off[i] as number, len, LinkType.Raw);
      }
      eng.tick(msg.maxTs);
      port.postMessage({ type: 'out', flows, dns, wm: msg.maxTs } satisfies FromWorker);
      flows = [];
      dns = [];
    } else {
      await p.finish('eof');
      const st = eng.stats;
      port.postMessage({ type: 'done', flows, stats: { ...st, events: [...st.events] } } satisfies FromWorker);
      flows = [];
    }
  });
}
