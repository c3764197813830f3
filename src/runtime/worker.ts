/**
 * A flow worker (one thread): receives batches of the packets of the flows hashed to it (whole
 * frames read in place from a file replay's shared ring, or innermost IP packets the dispatcher
 * copied), runs the engine (flow table, reassembly, dissectors, fingerprints) and sends back
 * finished flow records (encoded: record-codec.ts) and DNS answers. All work on a flow happens
 * here: no locks, no shared state.
 *
 * Live capture through the eBPF feed with per-worker rings (FeedMsg): the worker reads the packets
 * and flow-end records of its flows itself, from the FIFO its kernel ring is relayed to, so they
 * never pass through the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { constants, openSync } from 'node:fs';
import { Socket } from 'node:net';
import { LinkType, newBatch } from '../capture/source.js';
import { FeedReader, FeedRecord, parseFlowEnd } from '../capture/ebpf.js';
import { Pipeline, type PipelineLimits } from './pipeline.js';

import type { FeatureOptions } from './features.js';
import type { NameAnswers } from '../contract/api.js';
import { PacketMeta, addrToString, type TunnelType } from '../decode/packet-meta.js';
import type { KernelFlowEnd } from './engine.js';
import type { FlowTuple } from '../capture/ebpf.js';
import { OUTER_WORDS } from './shard-hash.js';
import { RecordEncoder, transferList, type EncodedBatch } from './record-codec.js';
import type { FlowRecord } from '../flow/record.js';

export interface BatchMsg {
  type: 'batch';
  n: number;
  /** Packets the dispatcher copied (where[i] 0); empty when it copied none. */
  buf: Uint8Array;
  /** Packet i starts at off[i] of `buf`, or of the shared ring when where[i] is 1. */
  off: Uint32Array;
  len: Uint32Array;
  /** Length on the wire (where[i] 1; a copied packet's is its length). */
  orig: Uint32Array;
  ts: Float64Array;
  /** Link type of a whole frame in the ring (where[i] 1). */
  link: Uint16Array;
  /** Copied packets (where[i] 0): the innermost IP packet, with the VLAN and tunnels the dispatcher decoded. */
  vlan: Uint16Array;
  /** Per packet: tunnel depth (low 4 bits) and the outermost tunnel's TunnelType (high 4 bits). */
  tunnel: Uint8Array;
  /** 1: a whole frame in the shared ring, decoded here; 0: a copied innermost IP packet in `buf`. */
  where: Uint8Array;
  /**
   * Per tunnelled packet, OUTER_WORDS words: outer IP version, outer source and destination (four
   * words each), tunnel id, Teredo's indicators (five words); null when no packet of the batch was tunnelled.
   */
  outer: Uint32Array | null;
  maxTs: number;
  /** Each packet's place in the whole capture (the main thread counts every packet it reads). */
  seq: Float64Array;
  /**
   * Expiry points, three numbers each: before packet `pos` of this batch (pos = n: after the last),
   * expire at second `sec`, where the capture's clock crossed into it at packet `at`. Every worker
   * gets every point, so each expires its flows exactly where one thread would.
   */
  marks: Float64Array;
  /** Every packet up to this place in the capture has been dispatched (to some worker) before this batch. */
  upTo: number;
}

const EMPTY_F64 = new Float64Array(0);

/** Numbers per emitted item's order key (see ShardedRunner's merge): g, phase, list, seq, k, startTs. */
export const KEY_WORDS = 6;

/** The worker's side: fill `m`'s tunnel fields from packet i of a batch. */
function unpackTunnel(m: PacketMeta, packed: number, outer: Uint32Array | null, i: number): void {
  m.tunnelType = (packed >> 4) as TunnelType;
  if (outer === null) return;
  const o = i * OUTER_WORDS;
  m.outerVersion = outer[o] as 0 | 4 | 6;
  m.outerSrc0 = outer[o + 1] as number; m.outerSrc1 = outer[o + 2] as number; m.outerSrc2 = outer[o + 3] as number; m.outerSrc3 = outer[o + 4] as number;
  m.outerDst0 = outer[o + 5] as number; m.outerDst1 = outer[o + 6] as number; m.outerDst2 = outer[o + 7] as number; m.outerDst3 = outer[o + 8] as number;
  m.tunnelId = outer[o + 9] as number;
  m.teredoOrigin = outer[o + 10] as number; m.teredoOriginAddr = outer[o + 11] as number;
  m.teredoAuth = outer[o + 12] as number; m.teredoNonceHi = outer[o + 13] as number; m.teredoNonceLo = outer[o + 14] as number;
}

/**
 * A file replay's read buffers (SharedArrayBuffer), sent once per file before its batches: the
 * batches' where[i] 1 packets are read from it in place.
 */
export interface RingMsg {
  type: 'ring';
  block: Uint8Array;
}

/**
 * Read this FIFO: the loader relays this worker's kernel ring to it (EbpfOptions.ringOut). `key`
 * names the interface: a new feed for it (its loader restarted) replaces the one before.
 */
export interface FeedMsg {
  type: 'feed';
  path: string;
  key: string;
}

/** A flow that dropped to counting only: the tuple the eBPF feed's markDone takes. */
export type BypassedFlow = FlowTuple;

export interface WorkerInit extends FeatureOptions {
  limits?: PipelineLimits;
  disabledDissectors?: readonly string[];
  /** Report flows that drop to counting only (live eBPF feed). */
  reportBypass?: boolean;
  /**
   * Number flows by their first packet's place in the capture and report each new flow's place, so
   * the main thread gives them one table's ids (a replay of files: its places only grow).
   */
  seqIds?: boolean;
}

/** A DNS answer a flow of this worker saw, with its order key (KEY_WORDS numbers). */
export interface DnsOut {
  /** As Pipeline.learnDns takes it: text, or an IPv4 address as its word. */
  client: string | number;
  m: NameAnswers;
  ts: number;
  key: number[];
}

export type ToWorker = BatchMsg | RingMsg | FeedMsg | { type: 'feed-ack' } | { type: 'finish'; reason: 'eof' | 'shutdown' } | { type: 'kernel-end'; r: KernelFlowEnd };
export type FromWorker =
  | { type: 'out'; flows: EncodedBatch | FlowRecord[]; keys: Float64Array; dns: DnsOut[]; upTo: number; born: Float64Array; size?: number; events?: [string, number][]; feedPackets?: number; feedBytes?: number }
  /** What the worker's own feed (FeedMsg) made it emit; not an answer to a batch. */
  | { type: 'feed-out'; flows: EncodedBatch | FlowRecord[]; keys: Float64Array; dns: DnsOut[] }
  | { type: 'feed-open'; path: string; error?: string }
  | { type: 'bypass'; flow: BypassedFlow }
  | { type: 'done'; flows: EncodedBatch | FlowRecord[]; keys: Float64Array; dns: DnsOut[]; tombs: Float64Array; stats: Record<string, unknown> }
  | { type: 'ready' };

/** Where a shard's messages go: the worker's port, or the main thread's runner for its own shard. */
export interface ShardPort {
  postMessage(msg: FromWorker, transfer?: ArrayBuffer[]): void;
}

/**
 * A shard's records as they are, for the shard the main thread runs itself (ShardedRunner's
 * `local`): they stay in this isolate, so nothing is encoded or rebuilt.
 */
class PlainRecords {
  private list: FlowRecord[] = [];
  get size(): number { return this.list.length; }
  add(r: FlowRecord): void { this.list.push(r); }
  take(): FlowRecord[] { const l = this.list; this.list = []; return l; }
}

/**
 * One shard: an engine for the flows hashed to it, answering the runner's messages (ToWorker) on
 * `port`. A worker thread runs one (below); with ShardedRunner's `local` the main thread runs one
 * too, its records handed over as objects instead of encoded (`plain`).
 */
export function createShard(init: WorkerInit, port: ShardPort, plain = false): (msg: ToWorker) => Promise<void> {
  // Finished records are encoded as they come (record-codec.ts) and leave with the next answer,
  // each with its order key: where in the whole capture one thread would have emitted it.
  const enc: { readonly size: number; add(r: FlowRecord): void; take(): EncodedBatch | FlowRecord[] } = plain ? new PlainRecords() : new RecordEncoder();
  const moved = (b: EncodedBatch | FlowRecord[]): ArrayBuffer[] => (Array.isArray(b) ? [] : transferList(b));
  let keys: number[] = [];
  let dns: DnsOut[] = [];
  /** The place in the capture being handled: a packet (phase 1), an expiry point (0), the end (2). */
  let ctxG = 0;
  let ctxPhase = 1;
  /** Items emitted so far (the last word of a key: this worker's own order). */
  let k = 0;
  const keyOf = (into: number[]): void => {
    const f = ctxPhase === 1 ? null : eng.emitting;
    into.push(ctxG, ctxPhase, f === null ? 0 : f.list, f === null ? 0 : f.seq, k++, f === null ? 0 : f.startTs);
  };
  // Flood shedding is the main thread's (it sees every worker's flows and writes the summaries).
  const p = new Pipeline({ ...init, flood: { enabled: false }, onFlow: (r) => { enc.add(r); keyOf(keys); } });
  // Names are resolved by the main thread (one DNS cache for all workers): forward answers.
  p.learnDns = (client, m, ts) => { const key: number[] = []; keyOf(key); dns.push({ client, m, ts, key }); };
  p.nameFlows = false;
  const eng = p.engine;
  const dnsOut = (): DnsOut[] => { const d = dns; dns = []; return d; };
  const keysOut = (): Float64Array => { const x = new Float64Array(keys); keys = []; return x; };
  const seqIds = init.seqIds === true;
  eng.table.idFromSeq = seqIds;
  /** Places of the flows created since the last answer (seqIds). */
  let born: number[] = [];
  const bornOut = (): Float64Array => { const x = born.length === 0 ? EMPTY_F64 : new Float64Array(born); born = []; return x; };
  /** The last batch's upTo: kernel flow ends and clock ticks come after it. */
  let lastUpTo = 0;
  const expireAt = (marks: Float64Array, mi: number): void => {
    ctxPhase = 0;
    ctxG = marks[mi + 2] as number;
    eng.tick((marks[mi + 1] as number) * 1000);
  };
  if (init.reportBypass === true) {
    eng.onBypass = (f) => {
      const flow: BypassedFlow = { ipVersion: f.ipVersion, proto: f.proto, srcIp: addrToString(f.ipVersion, f.a0, f.a1, f.a2, f.a3), srcPort: f.aPort, dstIp: addrToString(f.ipVersion, f.b0, f.b1, f.b2, f.b3), dstPort: f.bPort };
      port.postMessage({ type: 'bypass', flow } satisfies FromWorker);
    };
  }
  const flowsOut = (): EncodedBatch | FlowRecord[] => enc.take();

  /** Tunnel fields of the batch packet being fed (copied packets). */
  const batchOuter = new PacketMeta();
  /** The current file's shared read buffers. */
  let ring: Uint8Array = new Uint8Array(0);
  /** Packets and bytes read from this worker's own feeds (FeedMsg). */
  let feedPackets = 0;
  let feedBytes = 0;
  const feedBatch = newBatch(1024);
  const feeds = new Map<string, Socket>();
  // Back-pressure: the main thread acknowledges each feed-out once its records are in its
  // pipeline. With this many unacknowledged the feeds stop being read, so a main thread that falls
  // behind makes the kernel ring fill and count its losses, instead of messages piling up here.
  const FEED_MAX_UNACKED = 8;
  let feedUnacked = 0;
  const openFeed = (path: string, key: string): void => {
    // Opened read-write (below), the old FIFO never reads as ended when its loader goes: close it.
    feeds.get(key)?.destroy();
    feeds.delete(key);
    let fd: number;
    try {
      // Read and write: the FIFO then never reads as ended while no loader has it open yet (or
      // between a loader's exit and its restart), and the loader's open does not wait for us.
      fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (e) {
      port.postMessage({ type: 'feed-open', path, error: (e as Error).message } satisfies FromWorker);
      return;
    }
    const reader = new FeedReader();
    const sock = new Socket({ fd, readable: true, writable: false });
    feeds.set(key, sock);
    if (feedUnacked >= FEED_MAX_UNACKED) sock.pause();
    const onOther = (t: number, b: Buffer, off: number, len: number): void => {
      if (t !== FeedRecord.FlowEnd || len < 144) return;
      const r = parseFlowEnd(b, off);
      ctxPhase = 1;
      eng.kernelFlowEnd({ proto: r.tuple.proto, srcIp: r.tuple.srcIp, srcPort: r.tuple.srcPort, dstIp: r.tuple.dstIp, dstPort: r.tuple.dstPort, reason: r.reason, orig: r.orig, reply: r.reply });
    };
    sock.on('data', (chunk: Buffer) => {
      try {
        reader.append(chunk);
        ctxPhase = 1;
        eng.forcedVlan = -1;
        eng.forcedTunnelDepth = 0;
        for (;;) {
          const n = reader.fill(feedBatch, feedBatch.off.length, LinkType.Ethernet, onOther);
          if (n === 0) break;
          feedPackets += n;
          for (let i = 0; i < n; i++) feedBytes += feedBatch.origLen[i] as number;
          eng.processBatch(feedBatch);
        }
      } catch (e) {
        // A corrupt stream cannot be resynchronised: stop reading it, keep what was emitted.
        process.emitWarning(`worker feed ${path}: ${(e as Error).message}`);
        sock.destroy();
      }
      if (enc.size > 0 || dns.length > 0) {
        const flows = flowsOut();
        port.postMessage({ type: 'feed-out', flows, keys: keysOut(), dns: dnsOut() } satisfies FromWorker, moved(flows));
        if (++feedUnacked === FEED_MAX_UNACKED) for (const s of feeds.values()) s.pause();
      }
    });
    sock.on('error', (e) => { process.emitWarning(`worker feed ${path}: ${e.message}`); });
    port.postMessage({ type: 'feed-open', path } satisfies FromWorker);
  };
  return async (msg: ToWorker): Promise<void> => {
    if (msg.type === 'ring') {
      ring = msg.block;
    } else if (msg.type === 'feed') {
      openFeed(msg.path, msg.key);
    } else if (msg.type === 'feed-ack') {
      if (feedUnacked-- === FEED_MAX_UNACKED) for (const s of feeds.values()) s.resume();
    } else if (msg.type === 'batch') {
      const meta = eng.meta;
      const outerMeta = batchOuter;
      const marks = msg.marks;
      let mi = 0;
      for (let i = 0; i < msg.n; i++) {
        while (mi < marks.length && marks[mi] === i) { expireAt(marks, mi); mi += 3; }
        ctxPhase = 1;
        ctxG = msg.seq[i] as number;
        eng.table.seq = ctxG;
        const created = eng.table.created;
        meta.tsMs = msg.ts[i] as number;
        const len = msg.len[i] as number;
        if (msg.where[i] === 1) {
          // A whole frame in the ring: decoded here from the start, as one thread would.
          meta.origLen = msg.orig[i] as number;
          eng.forcedVlan = -1;
          eng.forcedTunnelDepth = 0;
          eng.packet(ring, msg.off[i] as number, len, msg.link[i] as number);
          if (seqIds && eng.table.created !== created) born.push(ctxG);
          continue;
        }
        meta.origLen = len;
        eng.forcedVlan = msg.vlan[i] as number;
        const t = msg.tunnel[i] as number;
        eng.forcedTunnelDepth = t & 15;
        if (t > 15) {
          unpackTunnel(outerMeta, t, msg.outer, i);
          eng.forcedOuter = outerMeta;
        }
        eng.packet(msg.buf, msg.off[i] as number, len, LinkType.Raw);
        if (seqIds && eng.table.created !== created) born.push(ctxG);
      }
      while (mi < marks.length) { expireAt(marks, mi); mi += 3; }
      // The batch's clock (live: the wall clock). A file's expiry points are all marked above, so
      // there this expires nothing more.
      ctxPhase = 0;
      ctxG = msg.upTo + 0.5;
      lastUpTo = msg.upTo;
      eng.tick(msg.maxTs);
      // A time-only batch (live ticks) also reports the table size and event counts for metrics.
      const extra = msg.n === 0 ? { size: eng.table.size, events: [...eng.stats.events], feedPackets, feedBytes } : {};
      const flows = flowsOut();
      port.postMessage({ type: 'out', flows, keys: keysOut(), dns: dnsOut(), upTo: msg.upTo, born: bornOut(), ...extra } satisfies FromWorker, moved(flows));
    } else if (msg.type === 'kernel-end') {
      ctxPhase = 1;
      ctxG = lastUpTo + 0.5;
      eng.kernelFlowEnd(msg.r);
    } else {
      ctxPhase = 2;
      ctxG = Infinity;
      const tombs: number[] = [];
      eng.flush(msg.reason, (t) => { tombs.push(t.list, t.seq, t.startTs); });
      await p.finish(msg.reason);
      const st = eng.stats;
      const flows = flowsOut();
      port.postMessage({ type: 'done', flows, keys: keysOut(), dns: dnsOut(), tombs: new Float64Array(tombs), stats: { ...st, events: [...st.events] } } satisfies FromWorker, moved(flows));
    }
  };
}

if (parentPort !== null && workerData?.ndrWorker === true) {
  const port = parentPort;
  const handle = createShard(workerData.init as WorkerInit, port);
  port.postMessage({ type: 'ready' } satisfies FromWorker);
  port.on('message', handle);
}
