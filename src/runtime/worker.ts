/**
 * A flow worker (one thread): receives batches of innermost IP packets for the flows hashed to
 * it, runs the engine (flow table, reassembly, dissectors, fingerprints) and sends back finished
 * flow records and DNS answers. All work on a flow happens here: no locks, no shared state.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LinkType, type PacketBatch } from '../capture/source.js';
import { Pipeline, type PipelineLimits } from './pipeline.js';
import type { FlowRecord } from '../flow/record.js';
import type { FeatureOptions } from './features.js';
import type { NameAnswers } from '../dissect/api.js';
import { openCaptureFile } from '../capture/pcap-file.js';
import { decode } from '../decode/decode.js';
import { DecodeStatus, PacketMeta, addrToString, type TunnelType } from '../decode/packet-meta.js';
import type { KernelFlowEnd } from './engine.js';
import type { FlowTuple } from '../capture/ebpf.js';
import { FragmentTable, defaultFragmentLimits } from '../decode/fragments.js';
import { countNotOk, OUTER_WORDS, shardHash } from './shard-hash.js';

export interface BatchMsg {
  type: 'batch';
  n: number;
  buf: Uint8Array;
  off: Uint32Array;
  len: Uint32Array;
  ts: Float64Array;
  vlan: Uint16Array;
  /** Per packet: tunnel depth (low 4 bits) and the outermost tunnel's TunnelType (high 4 bits). */
  tunnel: Uint8Array;
  /**
   * Per tunnelled packet, OUTER_WORDS words: outer IP version, outer source and destination (four
   * words each), tunnel id; null when no packet of the batch was tunnelled.
   */
  outer: Uint32Array | null;
  maxTs: number;
}

/** The worker's side: fill `m`'s tunnel fields from packet i of a batch. */
function unpackTunnel(m: PacketMeta, packed: number, outer: Uint32Array | null, i: number): void {
  m.tunnelType = (packed >> 4) as TunnelType;
  if (outer === null) return;
  const o = i * OUTER_WORDS;
  m.outerVersion = outer[o] as 0 | 4 | 6;
  m.outerSrc0 = outer[o + 1] as number; m.outerSrc1 = outer[o + 2] as number; m.outerSrc2 = outer[o + 3] as number; m.outerSrc3 = outer[o + 4] as number;
  m.outerDst0 = outer[o + 5] as number; m.outerDst1 = outer[o + 6] as number; m.outerDst2 = outer[o + 7] as number; m.outerDst3 = outer[o + 8] as number;
  m.tunnelId = outer[o + 9] as number;
}

/**
 * File mode: every worker reads the whole file itself and keeps the packets whose flow hashes to
 * it (`index` of `count`), so no thread copies packets to another.
 */
export interface FileMsg {
  type: 'file';
  path: string;
  index: number;
  count: number;
}

/** What reading a file found, counted by worker 0 only (every worker reads every packet). */
export interface FileStats {
  packets: number;
  bytes: number;
  notIp: number;
  otherL4: number;
  malformed: number;
  fragmentsHeld: number;
  truncated: boolean;
  warnings: string[];
}

/** A flow that dropped to counting only: the tuple the eBPF feed's markDone takes. */
export type BypassedFlow = FlowTuple;

export interface WorkerInit extends FeatureOptions {
  limits?: PipelineLimits;
  disabledDissectors?: readonly string[];
  /** Report flows that drop to counting only (live eBPF feed). */
  reportBypass?: boolean;
}

export type ToWorker = BatchMsg | FileMsg | { type: 'finish'; reason: 'eof' | 'shutdown' } | { type: 'kernel-end'; r: KernelFlowEnd };
export type FromWorker =
  | { type: 'out'; flows: FlowRecord[]; dns: { client: string; m: NameAnswers; ts: number }[]; wm: number; packets?: number; size?: number; events?: [string, number][] }
  | { type: 'bypass'; flow: BypassedFlow }
  | { type: 'file-done'; flows: FlowRecord[]; stats: FileStats | null; error: { name: string; message: string } | null }
  | { type: 'done'; flows: FlowRecord[]; stats: Record<string, unknown> }
  | { type: 'ready' };

if (parentPort !== null && workerData?.ndrWorker === true) {
  const port = parentPort;
  const init = workerData.init as WorkerInit;
  let flows: FlowRecord[] = [];
  let dns: { client: string; m: NameAnswers; ts: number }[] = [];
  const p = new Pipeline({ ...init, onFlow: (r) => { flows.push(r); } });
  // Names are resolved by the main thread (one DNS cache for all workers): forward answers.
  p.learnDns = (client, m, ts) => { dns.push({ client, m, ts }); };
  p.nameFlows = false;
  const eng = p.engine;
  const dnsOut = () => { const d = dns; dns = []; return d; };
  if (init.reportBypass === true) {
    eng.onBypass = (f) => {
      const flow: BypassedFlow = { ipVersion: f.ipVersion, proto: f.proto, srcIp: addrToString(f.ipVersion, f.a0, f.a1, f.a2, f.a3), srcPort: f.aPort, dstIp: addrToString(f.ipVersion, f.b0, f.b1, f.b2, f.b3), dstPort: f.bPort };
      port.postMessage({ type: 'bypass', flow } satisfies FromWorker);
    };
  }
  const flowsOut = (): FlowRecord[] => { const f = flows; flows = []; return f; };

  /** One batch of the file: decode every packet, run the engine on this worker's share. */
  const shareOf = (b: PacketBatch, m: PacketMeta, frags: FragmentTable, st: FileStats, index: number, count: number): void => {
    const meta = eng.meta;
    for (let k = 0; k < b.n; k++) {
      const off = b.off[k] as number;
      const cap = b.capLen[k] as number;
      const ts = b.tsMs[k] as number;
      st.packets++;
      st.bytes += cap;
      m.tsMs = ts;
      const status = decode(b.buf, off, cap, b.linkType[k] as number, m, frags);
      if (status !== DecodeStatus.Ok) {
        countNotOk(status, st);
        continue;
      }
      if (shardHash(m) % count !== index) continue;
      // The innermost IP packet (reassembled when it was fragmented), as the engine's own.
      const end = m.reassembled ? m.ipOff + m.ipLen : Math.min(off + cap, m.ipOff + m.ipLen);
      meta.tsMs = ts;
      meta.origLen = end - m.ipOff;
      eng.forcedVlan = m.vlan;
      eng.forcedTunnelDepth = m.tunnelDepth;
      eng.forcedOuter = m;
      eng.packet(m.data, m.ipOff, end - m.ipOff, LinkType.Raw);
    }
  };

  const readFile = async (msg: FileMsg): Promise<FileStats> => {
    const m = new PacketMeta();
    const frags = new FragmentTable(defaultFragmentLimits);
    const st: FileStats = { packets: 0, bytes: 0, notIp: 0, otherL4: 0, malformed: 0, fragmentsHeld: 0, truncated: false, warnings: [] };
    const src = openCaptureFile(msg.path);
    try {
      for await (const b of src.batches()) {
        shareOf(b, m, frags, st, msg.index, msg.count);
        const last = b.n > 0 ? (b.tsMs[b.n - 1] as number) : 0;
        eng.tick(last);
        port.postMessage({ type: 'out', flows: flowsOut(), dns: dnsOut(), wm: last, packets: st.packets } satisfies FromWorker);
      }
    } finally {
      eng.forcedVlan = -1;
      eng.forcedTunnelDepth = 0;
      eng.forcedOuter = null;
      await src.close();
    }
    const s2 = src.stats();
    st.truncated = s2.truncated;
    st.warnings = s2.warnings;
    return st;
  };

  /** Tunnel fields of the batch packet being fed (sharded live feed). */
  const batchOuter = new PacketMeta();
  port.postMessage({ type: 'ready' } satisfies FromWorker);
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'file') {
      let stats: FileStats | null = null;
      let error: { name: string; message: string } | null = null;
      try {
        stats = await readFile(msg);
      } catch (e) {
        error = { name: (e as Error).name, message: (e as Error).message };
      }
      port.postMessage({ type: 'file-done', flows: flowsOut(), stats: msg.index === 0 ? stats : null, error } satisfies FromWorker);
    } else if (msg.type === 'batch') {
      const meta = eng.meta;
      const outerMeta = batchOuter;
      for (let i = 0; i < msg.n; i++) {
        meta.tsMs = msg.ts[i] as number;
        const len = msg.len[i] as number;
        meta.origLen = len;
        eng.forcedVlan = msg.vlan[i] as number;
        const t = msg.tunnel[i] as number;
        eng.forcedTunnelDepth = t & 15;
        if (t > 15) {
          unpackTunnel(outerMeta, t, msg.outer, i);
          eng.forcedOuter = outerMeta;
        }
        eng.packet(msg.buf, msg.off[i] as number, len, LinkType.Raw);
      }
      eng.tick(msg.maxTs);
      // A time-only batch (live ticks) also reports the table size and event counts for metrics.
      const extra = msg.n === 0 ? { size: eng.table.size, events: [...eng.stats.events] } : {};
      port.postMessage({ type: 'out', flows: flowsOut(), dns: dnsOut(), wm: msg.maxTs, ...extra } satisfies FromWorker);
    } else if (msg.type === 'kernel-end') {
      eng.kernelFlowEnd(msg.r);
    } else {
      await p.finish(msg.reason);
      const st = eng.stats;
      port.postMessage({ type: 'done', flows: flowsOut(), stats: { ...st, events: [...st.events] } } satisfies FromWorker);
    }
  });
}
