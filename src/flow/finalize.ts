/**
 * Flow → FlowRecord: counters, Community ID, each dissector's summary put on the record through
 * the sections it registers, payload features. Runs once per flow when it ends (allocation is
 * fine here).
 */
import { addrText } from '../decode/packet-meta.js';
import { Dir, MissingServiceError, type AnyDissectorSpec, type DissectorRecord, type RecordSection, type RecordSink, type ServiceKey, type SummaryContext } from '../contract/api.js';
import type { Flow, FlowSide } from './flow.js';
import { communityIdOf } from './community-id.js';
import { mergeFeatures, type DirCounters, type EndReason, type EntropyInfo, type FlowRecord, type FlowTunnel, type SmallRecords } from './record.js';
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
/**
 * What a record holds for a direction without small records, and for a flow without entropy
 * samples: one frozen value shared by every record (the stages after the flow table only read
 * them; each is a few hundred bytes allocated per flow otherwise).
 */
const NO_SMALL_RECORDS: SmallRecords = Object.freeze({ ts: Object.freeze([]) as unknown as number[], sizes: Object.freeze([]) as unknown as number[] });
const NO_ENTROPY: FlowRecord['entropy'] = Object.freeze([null, null]) as unknown as FlowRecord['entropy'];

/**
 * What the protocols' toRecord get: the summary context and the record sink, one object per
 * thread pointed at the flow being finalised (finalizeFlow is not re-entered, and no toRecord
 * keeps them: they hand out the flow's own lists and the services), rather than a context, a
 * sink and six closures made for every flow.
 */
class Finalizing implements SummaryContext, RecordSink {
  f: Flow | null = null;
  rec: FlowRecord | null = null;
  services: Services = new Map();
  readonly flow = { srcPort: 0, dstPort: 0, transport: 'tcp' as 'tcp' | 'udp', startTs: 0, midstream: false };

  start(f: Flow, rec: FlowRecord, services: Services): this {
    this.f = f;
    this.rec = rec;
    this.services = services;
    const fl = this.flow;
    fl.srcPort = rec.client.port;
    fl.dstPort = rec.server.port;
    fl.transport = rec.transport;
    fl.startTs = rec.startTs;
    fl.midstream = rec.transport === 'tcp' && !rec.directionFromSyn;
    return this;
  }

  handedOff(_kind: 'x509', dir: Dir): readonly string[] {
    const f = this.f as Flow;
    return (dir === Dir.ToClient ? f.toClient.certs : f.toServer.certs) ?? NO_STRINGS;
  }

  appSizes(dir: Dir): readonly number[] {
    const f = this.f as Flow;
    return (dir === Dir.ToClient ? f.toClient.appSizes : f.toServer.appSizes) ?? [];
  }

  service<T>(key: ServiceKey<T>): T {
    if (!this.services.has(key.service)) throw new MissingServiceError(`no service '${key.service}'`);
    return this.services.get(key.service) as T;
  }

  set<I>(section: RecordSection<I>, info: I): void {
    putSection(this.rec as FlowRecord, section, info);
  }

  protocol(name: string): void {
    (this.rec as FlowRecord).protocol = name;
  }

  /** Let go of the flow and the record once they are done. */
  end(): void {
    this.f = null;
    this.rec = null;
  }
}

const finalizing = new Finalizing();

/** One protocol's summary put on the record through its sections (a fault is an event, not a throw). */
function summarise(rec: FlowRecord, spec: AnyDissectorSpec, records: DissectorRecord[], ctx: Finalizing): void {
  let summary: unknown = null;
  try {
    summary = spec.summarize(records);
  } catch {
    rec.events.push(`app.summarize_fault.${spec.name}`);
  }
  if (spec.toRecord !== undefined && summary !== null) {
    try {
      spec.toRecord(summary, ctx, ctx);
    } catch {
      rec.events.push(`app.mapper_fault.${spec.name}`);
    }
  }
}

/** Put one section on a record, with the features it reports (also for tools and tests). */
export function putSection<I>(rec: FlowRecord, section: RecordSection<I>, info: I): FlowRecord {
  rec.apps[section.key] = info;
  const feats = section.features?.(info);
  if (feats !== undefined) mergeFeatures(rec.features, feats);
  return rec;
}

function dirCounters(f: Flow, d: 0 | 1): DirCounters {
  const s = f.side(d);
  return { packets: s.packets, bytes: s.bytes, ipBytes: s.ipBytes, retransBytes: s.retrans, tcpFlags: s.flags, firstTs: s.firstTs, lastTs: s.lastTs };
}

function setCounters(c: DirCounters, s: FlowSide): DirCounters {
  c.packets = s.packets;
  c.bytes = s.bytes;
  c.ipBytes = s.ipBytes;
  c.retransBytes = s.retrans;
  c.tcpFlags = s.flags;
  c.firstTs = s.firstTs;
  c.lastTs = s.lastTs;
  return c;
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
  // The record has not left the pipeline yet (it waited in the flow): its counters change in place.
  const d0 = setCounters(rec.dirs[0], f.toServer);
  const d1 = setCounters(rec.dirs[1], f.toClient);
  const start = flowStart(f);
  rec.startTs = start;
  rec.endTs = flowEnd(f, start);
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
    communityId: communityIdOf(v, f.proto, f.a0, f.a1, f.a2, f.a3, f.aPort, f.b0, f.b1, f.b2, f.b3, f.bPort),
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
    entropy: f.toServer.entropyHist === null && f.toClient.entropyHist === null ? NO_ENTROPY : [entropy(f, 0), entropy(f, 1)],
    smallRecords: [f.toServer.small ?? NO_SMALL_RECORDS, f.toClient.small ?? NO_SMALL_RECORDS],
    pubsub: null,
    encrypted: null,
    beacon: null,
    ja4t: null,
    ja4ts: null,
    attribution: null,
  };
  if (reason === 'evicted' && !rec.limits.includes('flow.evicted')) rec.limits.push('flow.evicted');
  if (f.earlier !== null) summariseAll(f, rec, ctx.services);
  else if (f.spec !== null && f.records !== null) {
    summarise(rec, f.spec, f.records, finalizing.start(f, rec, ctx.services));
    finalizing.end();
  }
  for (const p of ctx.post) p(rec, f);
  return rec;
}

/** The sections of a flow that had more than one protocol (a switch, a tunnel), or asked for one that never came. */
function summariseAll(f: Flow, rec: FlowRecord, services: Services): void {
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
    const ctx = finalizing.start(f, rec, services);
    for (const { spec, records } of apps) summarise(rec, spec, records, ctx);
    ctx.end();
  }
}

/** A Teredo flow's tunnel with what its endpoint addresses encode beside the indicators counted per packet. */
function teredoTunnel(f: Flow, t: FlowTunnel): FlowTunnel {
  const address = teredoAddress(f);
  const seen = t.teredo ?? null;
  if (address === null && seen === null) return t;
  return { ...t, teredo: { address, origin: seen?.origin ?? null, auth: seen?.auth ?? null } };
}
