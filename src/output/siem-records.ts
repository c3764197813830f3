/**
 * Flow records and alerts as the SIEM feed's messages (proto/ndr/v1/flow.proto, alert.proto): the
 * protocol-neutral core typed field by field, each protocol section as its own typed message
 * packed in an Any (the section's registration names the message). The ECS document the JSON
 * output writes travels beside the typed record in the feed's envelope (ndr.v1.FeedRecord).
 */
import type { Alert } from '../analytics/alert.js';
import type { AnyRecordSection } from '../dissect/api.js';
import type { FloodSummary, FlowRecord } from '../flow/record.js';
import type { google, ndr } from '../gen/ndr.js';
import { TYPE_URL_PREFIX, attributionToPb, hostToPb, messageType, processToPb, type PbMessageType } from '../grpc/convert.js';
import { defaultSections } from './ecs.js';

function dirToPb(d: FlowRecord['dirs'][0]): ndr.v1.IDirCounters {
  return { packets: d.packets, bytes: d.bytes, ipBytes: d.ipBytes, retransBytes: d.retransBytes, tcpFlags: d.tcpFlags, firstTsMs: d.firstTs, lastTsMs: d.lastTs };
}

/** Each section the flow has, as its protocol's typed message packed in an Any (ECS order). */
function appsToPb(f: FlowRecord, sections: readonly AnyRecordSection[], types: (name: string) => PbMessageType): google.protobuf.IAny[] {
  const out: google.protobuf.IAny[] = [];
  for (const sec of sections) {
    const info = f.apps[sec.key];
    if (info === undefined) continue;
    const t = types(sec.proto.type);
    out.push({ type_url: TYPE_URL_PREFIX + sec.proto.type, value: t.encode(t.fromObject(sec.proto.toProto(info))).finish() });
  }
  return out;
}

/**
 * FlowRecord → ndr.v1.FlowRecord. `types` finds a section's message class by name: the generated
 * code by default; a protocol registered at run time (a test's fixture) brings its own.
 */
export function flowToPb(f: FlowRecord, sections: readonly AnyRecordSection[] = defaultSections, types: (name: string) => PbMessageType = messageType): ndr.v1.IFlowRecord {
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
  out.apps = appsToPb(f, sections, types);
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
