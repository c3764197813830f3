/**
 * Flow → FlowRecord: counters, Community ID, the dissector's summary mapped onto the record,
 * payload features. Runs once per flow when it ends (allocation is fine here).
 */
import { addrToString } from '../decode/packet-meta.js';
import type { Flow } from './flow.js';
import { communityId } from './community-id.js';
import { type DirCounters, type EndReason, type EntropyInfo, type FlowRecord } from './record.js';
import { entropyInfo } from '../fingerprint/entropy.js';

/** Maps one dissector's summary onto the record (registered per dissector name). */
export type AppMapper = (summary: unknown, rec: FlowRecord, f: Flow) => void;

export interface FinalizeContext {
  mappers: ReadonlyMap<string, AppMapper>;
  /** Called after the app fields are set (classifiers that read the whole record). */
  post: readonly ((rec: FlowRecord, f: Flow) => void)[];
}

function dirCounters(f: Flow, d: 0 | 1): DirCounters {
  const s = f.side(d);
  return { packets: s.packets, bytes: s.bytes, ipBytes: s.ipBytes, retransBytes: s.retrans, tcpFlags: s.flags, firstTs: s.firstTs, lastTs: s.lastTs };
}

function entropy(f: Flow, d: 0 | 1): EntropyInfo | null {
  const s = f.side(d);
  const h = s.entropyHist;
  const n = s.entropyN;
  if (h === null || n === 0) return null;
  return entropyInfo(h, n);
}

function span(f: Flow, d0: DirCounters, d1: DirCounters): [number, number] {
  let start = f.startTs;
  let end = Math.max(f.toServer.lastTs, f.toClient.lastTs, start);
  if (d0.firstTs > 0 && d0.firstTs < start) start = d0.firstTs;
  if (d1.firstTs > 0 && d1.firstTs < start) start = d1.firstTs;
  if (end < start) end = start;
  return [start, end];
}

/**
 * A record built when the flow closed (Flow.closed) gets the counters, end time and end reason
 * the flow has when it finally leaves the table (late ACKs and retransmissions included).
 */
export function refreshCounters(rec: FlowRecord, f: Flow, reason: EndReason): FlowRecord {
  const d0 = dirCounters(f, 0);
  const d1 = dirCounters(f, 1);
  const [start, end] = span(f, d0, d1);
  rec.dirs = [d0, d1];
  rec.startTs = start;
  rec.endTs = end;
  rec.endReason = reason;
  rec.byteRatio = d1.bytes > 0 ? d0.bytes / d1.bytes : null;
  if (reason === 'evicted' && !rec.limits.includes('flow.evicted')) rec.limits.push('flow.evicted');
  return rec;
}

export function finalizeFlow(f: Flow, reason: EndReason, ctx: FinalizeContext): FlowRecord {
  const v = f.ipVersion;
  const client = { ip: addrToString(v, f.a0, f.a1, f.a2, f.a3), port: f.aPort };
  const server = { ip: addrToString(v, f.b0, f.b1, f.b2, f.b3), port: f.bPort };
  const transport = f.proto === 6 ? 'tcp' : 'udp';
  const d0 = dirCounters(f, 0);
  const d1 = dirCounters(f, 1);
  const [start, end] = span(f, d0, d1);
  const rec: FlowRecord = {
    kind: 'flow',
    id: f.id,
    communityId: communityId(v, f.proto, [f.a0, f.a1, f.a2, f.a3], f.aPort, [f.b0, f.b1, f.b2, f.b3], f.bPort),
    transport,
    ipVersion: v,
    client,
    server,
    vlan: f.vlan,
    tunnelDepth: f.tunnelDepth,
    startTs: start,
    endTs: end,
    endReason: reason,
    dirs: [d0, d1],
    byteRatio: d1.bytes > 0 ? d0.bytes / d1.bytes : null,
    directionFromSyn: f.directionFromSyn,
    protocol: f.protocol,
    upgraded: f.upgraded,
    events: f.events ?? [],
    limits: f.limits ?? [],
    tls: null,
    mqtt: null,
    amqp: null,
    http: null,
    dns: null,
    ssh: null,
    quic: null,
    dnsName: null,
    entropy: [entropy(f, 0), entropy(f, 1)],
    smallRecords: [
      f.toServer.small ?? { ts: [], sizes: [] },
      f.toClient.small ?? { ts: [], sizes: [] },
    ],
    pubsub: null,
    encrypted: null,
    beacon: null,
    ja4t: null,
    ja4ts: null,
    attribution: null,
  };
  if (reason === 'evicted' && !rec.limits.includes('flow.evicted')) rec.limits.push('flow.evicted');
  const apps = f.earlier !== null ? [...f.earlier] : [];
  if (f.spec !== null && f.records !== null) apps.push({ spec: f.spec, records: f.records });
  for (const { spec, records } of apps) {
    const mapper = ctx.mappers.get(spec.name);
    let summary: unknown = null;
    try {
      summary = spec.summarize(records);
    } catch {
      rec.events.push(`app.summarize_fault.${spec.name}`);
    }
    if (mapper !== undefined && summary !== null) {
      try {
        mapper(summary, rec, f);
      } catch {
        rec.events.push(`app.mapper_fault.${spec.name}`);
      }
    }
  }
  for (const p of ctx.post) p(rec, f);
  return rec;
}
