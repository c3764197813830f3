/**
 * Flow → FlowRecord: counters, Community ID, each dissector's summary put on the record through
 * the sections it registers, payload features. Runs once per flow when it ends (allocation is
 * fine here).
 */
import { addrText } from '../decode/packet-meta.js';
import { Dir, MissingServiceError, type DissectorRecord, type RecordSection, type RecordSink, type ServiceKey, type SummaryContext } from '../contract/api.js';
import type { Flow } from './flow.js';
import { communityId } from './community-id.js';
import { mergeFeatures, type DirCounters, type EndReason, type EntropyInfo, type FlowRecord, type FlowTunnel } from './record.js';
import { entropyInfo } from './entropy.js';
import { teredoAddress } from './teredo.js';

/** Services the runtime provides to the protocols' toRecord (by ServiceKey.service). */
export type Services = ReadonlyMap<string, unknown>;

export interface FinalizeContext {
  services: Services;
  /** Called after the app sections are set (classifiers that read the whole record). */
  post: readonly ((rec: FlowRecord, f: Flow) => void)[];
}

const NO_STRINGS: readonly string[] = [];

function summaryContext(f: Flow, rec: FlowRecord, services: Services): SummaryContext {
  return {
    flow: { srcPort: rec.client.port, dstPort: rec.server.port, transport: rec.transport, startTs: rec.startTs, midstream: rec.transport === 'tcp' && !rec.directionFromSyn },
    handedOff: (_kind, dir) => (dir === Dir.ToClient ? f.toClient.certs : f.toServer.certs) ?? NO_STRINGS,
    appSizes: (dir) => (dir === Dir.ToClient ? f.toClient.appSizes : f.toServer.appSizes) ?? [],
    service<T>(key: ServiceKey<T>): T {
      if (!services.has(key.service)) throw new MissingServiceError(`no service '${key.service}'`);
      return services.get(key.service) as T;
    },
  };
}

/** Put one section on a record, with the features it reports (also for tools and tests). */
export function putSection<I>(rec: FlowRecord, section: RecordSection<I>, info: I): FlowRecord {
  rec.apps[section.key] = info;
  const feats = section.features?.(info);
  if (feats !== undefined) mergeFeatures(rec.features, feats);
  return rec;
}

function sink(rec: FlowRecord): RecordSink {
  return {
    set(section, info) {
      putSection(rec, section, info);
    },
    protocol(name) {
      rec.protocol = name;
    },
  };
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

/** A flow's start: its first packet, or an earlier first packet of either side (the record's startTs). */
export function flowStart(f: Flow): number {
  let start = f.startTs;
  const t0 = f.toServer.firstTs;
  const t1 = f.toClient.firstTs;
  if (t0 > 0 && t0 < start) start = t0;
  if (t1 > 0 && t1 < start) start = t1;
  return start;
}

/** A flow's end (the record's endTs), given flowStart(f). */
export function flowEnd(f: Flow, start: number): number {
  const end = Math.max(f.toServer.lastTs, f.toClient.lastTs, f.startTs);
  return end < start ? start : end;
}

function span(f: Flow): [number, number] {
  const start = flowStart(f);
  return [start, flowEnd(f, start)];
}

/**
 * A record built when the flow closed (Flow.closed) gets the counters, end time and end reason
 * the flow has when it finally leaves the table (late ACKs and retransmissions included).
 */
export function refreshCounters(rec: FlowRecord, f: Flow, reason: EndReason): FlowRecord {
  const d0 = dirCounters(f, 0);
  const d1 = dirCounters(f, 1);
  const [start, end] = span(f);
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
  const client = { ip: addrText(v, f.a0, f.a1, f.a2, f.a3), port: f.aPort };
  const server = { ip: addrText(v, f.b0, f.b1, f.b2, f.b3), port: f.bPort };
  const transport = f.proto === 6 ? 'tcp' : 'udp';
  const d0 = dirCounters(f, 0);
  const d1 = dirCounters(f, 1);
  const [start, end] = span(f);
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
    tunnel: f.tunnel !== null && f.tunnel.type === 'teredo' ? teredoTunnel(f, f.tunnel) : f.tunnel,
    startTs: start,
    endTs: end,
    endReason: reason,
    dirs: [d0, d1],
    byteRatio: d1.bytes > 0 ? d0.bytes / d1.bytes : null,
    directionFromSyn: f.directionFromSyn,
    protocol: f.protocol,
    upgraded: f.upgraded,
    upgradeUnanswered: null,
    events: f.events ?? [],
    limits: f.limits ?? [],
    apps: {},
    features: {},
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
  if (f.upgraded !== null && !f.upgradeFed && apps.length > 0) {
    // The switch was asked for (and, but for MySQL, accepted) and then nothing of the new protocol
    // came: the flow did not upgrade. No section of the new protocol (it would say a handshake
    // that never began was not established), and the first protocol's upgrade record is left out
    // so its section says the upgrade was requested, not that it happened.
    rec.upgraded = null;
    rec.upgradeUnanswered = f.upgraded;
    const last = apps.length - 1;
    const first = apps[last] as { spec: (typeof apps)[number]['spec']; records: DissectorRecord[] };
    apps[last] = { spec: first.spec, records: first.records.filter((r, i) => i !== first.records.length - 1 || !r.kind.endsWith('.upgrade')) };
  } else if (f.spec !== null && f.records !== null) {
    apps.push({ spec: f.spec, records: f.records });
  }
  if (apps.length > 0) {
    const out = sink(rec);
    const sctx = summaryContext(f, rec, ctx.services);
    for (const { spec, records } of apps) {
      let summary: unknown = null;
      try {
        summary = spec.summarize(records);
      } catch {
        rec.events.push(`app.summarize_fault.${spec.name}`);
      }
      if (spec.toRecord !== undefined && summary !== null) {
        try {
          spec.toRecord(summary, out, sctx);
        } catch {
          rec.events.push(`app.mapper_fault.${spec.name}`);
        }
      }
    }
  }
  for (const p of ctx.post) p(rec, f);
  return rec;
}

/** A Teredo flow's tunnel with what its endpoint addresses encode beside the indicators counted per packet. */
function teredoTunnel(f: Flow, t: FlowTunnel): FlowTunnel {
  const address = teredoAddress(f);
  const seen = t.teredo ?? null;
  if (address === null && seen === null) return t;
  return { ...t, teredo: { address, origin: seen?.origin ?? null, auth: seen?.auth ?? null } };
}
