/**
 * Flow records and alerts as the SIEM feed's messages (proto/ndr/v1/flow.proto, alert.proto): the
 * protocol-neutral core typed field by field, each protocol section as its own typed message
 * packed in an Any (the section's registration names the message). The ECS document the JSON
 * output writes travels beside the typed record in the feed's envelope (ndr.v1.FeedRecord).
 */
import type { Alert } from '../analytics/alert.js';
import type { AnyRecordSection, SectionContext } from '../contract/api.js';
import type { FloodSummary, FlowRecord } from '../flow/record.js';
import type { google, ndr } from '../gen/ndr.js';
import { TYPE_URL_PREFIX, attributionToPb, hostToPb, messageType, processToPb, type PbMessageType } from '../grpc/convert.js';
import { ATTRIBUTION_LIST_CAP, defaultEcsContext, defaultSections } from './ecs.js';

function dirToPb(d: FlowRecord['dirs'][0]): ndr.v1.IDirCounters {
  return { packets: d.packets, bytes: d.bytes, ipBytes: d.ipBytes, retransBytes: d.retransBytes, tcpFlags: d.tcpFlags, firstTsMs: d.firstTs, lastTsMs: d.lastTs };
}

/** Each section the flow has, as its protocol's typed message packed in an Any (ECS order). */
function appsToPb(f: FlowRecord, sections: readonly AnyRecordSection[], types: (name: string) => PbMessageType, ctx: SectionContext): google.protobuf.IAny[] {
  const out: google.protobuf.IAny[] = [];
  for (const sec of sections) {
    const info = f.apps[sec.key];
    if (info === undefined) continue;
    const t = types(sec.proto.type);
    out.push({ type_url: TYPE_URL_PREFIX + sec.proto.type, value: t.encode(t.fromObject(sec.proto.toProto(info, ctx))).finish() });
  }
  return out;
}

export interface FlowToPbOptions {
  /** The registered sections (default: every protocol of this build). */
  sections?: readonly AnyRecordSection[];
  /** Finds a section's message class by name: the generated code by default; a protocol registered at run time (a test's fixture) brings its own. */
  types?: (name: string) => PbMessageType;
  /** The output's settings the section writers follow (URL redaction); the same as the ECS writer's. */
  ctx?: SectionContext;
}

/** FlowRecord → ndr.v1.FlowRecord. */
export function flowToPb(f: FlowRecord, opts: FlowToPbOptions = {}): ndr.v1.IFlowRecord {
  const out: ndr.v1.IFlowRecord = {
    id: f.id,
    communityId: f.communityId,
    transport: f.transport,
    ipVersion: f.ipVersion,
    client: { ip: f.client.ip, port: f.client.port },
    server: { ip: f.server.ip, port: f.server.port },
    startTsMs: f.startTs,
    endTsMs: f.endTs,
    endReason: f.endReason,
    toServer: dirToPb(f.dirs[0]),
    toClient: dirToPb(f.dirs[1]),
    protocol: f.protocol ?? '',
    events: f.events,
  };
  out.apps = appsToPb(f, opts.sections ?? defaultSections, opts.types ?? messageType, opts.ctx ?? defaultEcsContext);
  if (f.entropy[0]) out.entropyToServer = { bits: f.entropy[0].bits, sample: f.entropy[0].sample, score: f.entropy[0].score };
  if (f.entropy[1]) out.entropyToClient = { bits: f.entropy[1].bits, sample: f.entropy[1].sample, score: f.entropy[1].score };
  if (f.beacon) {
    const b: ndr.v1.IBeacon = { score: f.beacon.score, connections: f.beacon.connections, basis: f.beacon.basis };
    if (f.beacon.medianIntervalS !== null) b.medianIntervalS = f.beacon.medianIntervalS;
    out.beacon = b;
  }
  if (f.attribution) out.attribution = attributionToPb(f.attribution);
  return out;
}

/** FloodSummary → ndr.v1.FloodSummary. */
export function floodToPb(f: FloodSummary): ndr.v1.IFloodSummary {
  const out: ndr.v1.IFloodSummary = {
    scope: f.scope,
    transport: f.transport,
    clientIp: f.client ?? '',
    intervalStartMs: f.intervalStart,
    intervalMs: f.intervalMs,
    flows: f.flows,
    firstTsMs: f.firstTs,
    lastTsMs: f.lastTs,
    packets: f.packets,
    ipBytes: f.ipBytes,
    clients: f.clients,
    servers: f.servers,
    ports: f.ports,
    distinctCapped: f.distinctCapped,
    unanswered: f.unanswered,
    rejected: f.rejected,
    answeredEmpty: f.answeredEmpty,
  };
  if (f.server !== null) out.server = { ip: f.server.ip, port: f.server.port };
  return out;
}

export function alertToPb(a: Alert): ndr.v1.IAlert {
  const out: ndr.v1.IAlert = {
    id: a.id,
    analytic: a.analytic,
    title: a.title,
    severity: a.severity,
    confidence: a.confidence,
    evidence: a.evidence.map((e) => ({ signal: e.signal, value: String(e.value), weight: e.weight })),
    source: { ip: a.source.ip, port: a.source.port },
    destination: { ip: a.destination.ip, port: a.destination.port },
    destinationName: a.destination.name ?? '',
    communityId: a.communityId,
    flowId: a.flowId,
    tsMs: a.ts,
    explanation: a.explanation,
    baselineSource: a.baselineSource,
    count: a.count,
    mitreTechniques: a.mitre.technique,
  };
  if (a.host) out.host = hostToPb(a.host);
  if (a.process) out.process = processToPb(a.process);
  return out;
}

/**
 * Where each typed field of ndr.v1.FlowRecord outside `apps` (the sections' own tables cover
 * those) stands in the flow's ECS document, and how the message's value reads there. Keys are the
 * message's field paths (sub-messages opened, repeated fields whole); `toEcs` takes the value as
 * protobufjs's toObject gives it (enums as names, 64-bit as numbers). A field the ECS document does
 * not carry says why instead. test/record-sections.test.ts holds the message and the ECS writer to
 * this table, so a field added to one and not the other fails there.
 */
export type CoreField = { ecs: string; toEcs?: (v: unknown) => unknown } | { notInEcs: string };

const isoOf = (v: unknown): unknown => (typeof v === 'number' && v !== 0 ? new Date(v).toISOString() : undefined);
const enumName = (prefix: string, none: string | undefined) => (v: unknown): unknown =>
  typeof v !== 'string' || v.endsWith('_UNSPECIFIED') ? none : v.slice(prefix.length).toLowerCase();

function dirFields(pb: 'toServer' | 'toClient', ecsEnd: 'source' | 'destination', side: 'to_server' | 'to_client'): Record<string, CoreField> {
  const notInEcs = 'per-direction packet times are for consumers of the typed record; the ECS document has the flow\'s start and end';
  return {
    [`${pb}.packets`]: { ecs: `${ecsEnd}.packets` },
    [`${pb}.bytes`]: { ecs: `${ecsEnd}.bytes` },
    [`${pb}.ipBytes`]: { ecs: `ndr.flow.ip_bytes.${side}` },
    [`${pb}.retransBytes`]: { ecs: `ndr.flow.retransmitted_bytes.${side}` },
    [`${pb}.tcpFlags`]: { ecs: `ndr.flow.tcp_flags.${side}` },
    [`${pb}.firstTsMs`]: { notInEcs },
    [`${pb}.lastTsMs`]: { notInEcs },
  };
}

function entropyFields(pb: 'entropyToServer' | 'entropyToClient', side: 'to_server' | 'to_client'): Record<string, CoreField> {
  return { [`${pb}.bits`]: { ecs: `ndr.entropy.${side}.bits` }, [`${pb}.sample`]: { ecs: `ndr.entropy.${side}.sample` }, [`${pb}.score`]: { ecs: `ndr.entropy.${side}.score` } };
}

export const flowCoreFields: Readonly<Record<string, CoreField>> = {
  id: { ecs: 'ndr.flow.id' },
  communityId: { ecs: 'network.community_id' },
  transport: { ecs: 'network.transport' },
  ipVersion: { ecs: 'network.type', toEcs: (v) => (v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined) },
  'client.ip': { ecs: 'source.ip' },
  'client.port': { ecs: 'source.port' },
  'server.ip': { ecs: 'destination.ip' },
  'server.port': { ecs: 'destination.port' },
  startTsMs: { ecs: 'event.start', toEcs: isoOf },
  endTsMs: { ecs: 'event.end', toEcs: isoOf },
  endReason: { ecs: 'event.reason' },
  ...dirFields('toServer', 'source', 'to_server'),
  ...dirFields('toClient', 'destination', 'to_client'),
  protocol: { ecs: 'network.protocol' },
  ...entropyFields('entropyToServer', 'to_server'),
  ...entropyFields('entropyToClient', 'to_client'),
  'beacon.score': { ecs: 'ndr.beacon.score' },
  'beacon.connections': { ecs: 'ndr.beacon.connections' },
  'beacon.medianIntervalS': { ecs: 'ndr.beacon.median_interval_s' },
  'beacon.basis': { ecs: 'ndr.beacon.basis' },
  'attribution.status': { ecs: 'ndr.attribution.status' },
  'attribution.reason': { ecs: 'ndr.attribution.reason' },
  'attribution.match': { ecs: 'ndr.attribution.match', toEcs: enumName('MATCH_QUALITY_', 'none') },
  'attribution.host.name': { ecs: 'host.name' },
  'attribution.host.id': { ecs: 'host.id' },
  'attribution.host.os': { ecs: 'host.os.name' },
  'attribution.host.ips': { ecs: 'host.ip' },
  'attribution.process.entityId': { ecs: 'process.entity_id' },
  'attribution.process.pid': { ecs: 'process.pid' },
  'attribution.process.executable': { ecs: 'process.executable' },
  'attribution.process.name': { ecs: 'process.name' },
  'attribution.process.commandLine': { ecs: 'process.command_line' },
  'attribution.process.user': { ecs: 'user.name' },
  'attribution.process.parentExecutable': { ecs: 'process.parent.executable' },
  'attribution.process.parentCommandLine': { ecs: 'process.parent.command_line' },
  'attribution.process.signed': { ecs: 'process.code_signature.exists' },
  'attribution.process.signature': { ecs: 'process.code_signature.subject_name' },
  'attribution.process.signatureStatus': { ecs: 'process.code_signature.status' },
  'attribution.process.startTsMs': { ecs: 'process.start', toEcs: isoOf },
  'attribution.imageLoads': {
    ecs: 'ndr.image_loads',
    toEcs: (v) => (v as { path: string; tsMs: number; signed?: boolean }[]).slice(0, ATTRIBUTION_LIST_CAP).map((l) => ({ path: l.path, time: isoOf(l.tsMs), signed: l.signed })),
  },
  // The ECS event names its process by image; the typed one also carries the entity id.
  'attribution.fileEvents': {
    ecs: 'ndr.file_events',
    toEcs: (v) =>
      (v as { path: string; tsMs: number; kind: string; image: string }[])
        .slice(0, ATTRIBUTION_LIST_CAP)
        .map((e) => ({ path: e.path, time: isoOf(e.tsMs), kind: enumName('FILE_EVENT_KIND_', undefined)(e.kind), image: e.image || undefined })),
  },
  'attribution.imageNetworkHistory': { ecs: 'ndr.attribution.image_network_history' },
  'attribution.clockOffsetMs': { ecs: 'ndr.attribution.clock_offset_ms' },
  events: { ecs: 'ndr.flow.events' },
};

const SEVERITY_SCORE: Readonly<Record<string, number>> = { low: 21, medium: 47, high: 73, critical: 99 };
const alertProcessNotInEcs = 'an alert names its process as an analyst acts on it; the flow document that raised it carries the rest';

/**
 * The same for ndr.v1.Alert: where each typed field stands in the alert's ECS document. `ecsSide`
 * reads the ECS value into the message's form where the message keeps less (evidence values are
 * strings in the message).
 */
export const alertCoreFields: Readonly<Record<string, CoreField & { ecsSide?: (v: unknown) => unknown }>> = {
  id: { ecs: 'ndr.alert.id' },
  analytic: { ecs: 'rule.id' },
  title: { ecs: 'rule.name' },
  severity: { ecs: 'event.severity', toEcs: (v) => SEVERITY_SCORE[String(v)] },
  confidence: { ecs: 'ndr.alert.confidence' },
  evidence: {
    ecs: 'ndr.alert.evidence',
    ecsSide: (v) => (Array.isArray(v) ? v.map((e: { signal: string; value: unknown; weight: number }) => ({ signal: e.signal, value: String(e.value), weight: e.weight })) : v),
  },
  'host.name': { ecs: 'host.name' },
  'host.id': { ecs: 'host.id' },
  'host.os': { notInEcs: 'the alert document names the host; the flow document carries its OS' },
  'host.ips': { ecs: 'host.ip' },
  'process.entityId': { ecs: 'process.entity_id' },
  'process.pid': { ecs: 'process.pid' },
  'process.executable': { ecs: 'process.executable' },
  'process.name': { ecs: 'process.name' },
  'process.commandLine': { ecs: 'process.command_line' },
  'process.user': { ecs: 'user.name' },
  'process.parentExecutable': { ecs: 'process.parent.executable' },
  'process.parentCommandLine': { notInEcs: alertProcessNotInEcs },
  'process.signed': { notInEcs: alertProcessNotInEcs },
  'process.signature': { notInEcs: alertProcessNotInEcs },
  'process.signatureStatus': { notInEcs: alertProcessNotInEcs },
  'process.startTsMs': { notInEcs: alertProcessNotInEcs },
  'source.ip': { ecs: 'source.ip' },
  'source.port': { ecs: 'source.port' },
  'destination.ip': { ecs: 'destination.ip' },
  'destination.port': { ecs: 'destination.port' },
  destinationName: { ecs: 'destination.domain' },
  communityId: { ecs: 'network.community_id' },
  flowId: { ecs: 'ndr.alert.flow_id' },
  tsMs: { ecs: '@timestamp', toEcs: isoOf },
  explanation: { ecs: 'rule.description' },
  baselineSource: { ecs: 'ndr.alert.baseline_source' },
  count: { ecs: 'ndr.alert.count' },
  // ECS lists the parent techniques here (and the sub-techniques under technique.subtechnique).
  mitreTechniques: { ecs: 'threat.technique.id', toEcs: (v) => (Array.isArray(v) ? [...new Set(v.map((id: string) => id.split('.')[0]))] : v) },
};
