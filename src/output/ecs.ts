/**
 * FlowRecord and Alert → ECS documents (nested objects, as ECS documents are). Fields ECS lacks
 * go under `ndr.*`. Null values are left out of the document. Field names follow
 * EDR-ANALYTICS.md §5 (ECS column).
 */
import type { Alert } from '../analytics/alert.js';
import type { AnyRecordSection } from '../dissect/api.js';
import { sectionsOf } from '../dissect/registry.js';
import type { Attribution, FloodSummary, FlowRecord } from '../flow/record.js';
import { dissectorSpecs } from '../../dissectors/index.js';

type Doc = Record<string, unknown>;

const iso = (ms: number): string => new Date(ms).toISOString();

/** The sections of the registered protocols (dissectors/index.ts), in ECS order. */
export const defaultSections: readonly AnyRecordSection[] = sectionsOf(dissectorSpecs);

/** Drop null/undefined and empty arrays/objects, recursively. */
function prune(o: Doc): Doc {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === null || v === undefined) delete o[k];
    else if (Array.isArray(v)) { if (v.length === 0) delete o[k]; }
    else if (typeof v === 'object') {
      prune(v as Doc);
      if (Object.keys(v as Doc).length === 0) delete o[k];
    }
  }
  return o;
}

function attributionDocs(a: Attribution | null, doc: Doc, ndr: Doc): void {
  if (a === null) return;
  ndr.attribution = { status: a.status, reason: a.reason, match: a.match, clock_offset_ms: a.clockOffsetMs, image_network_history: a.imageNetworkHistory };
  const p = a.process;
  if (p !== null) {
    doc.process = {
      entity_id: p.entityId,
      pid: p.pid,
      executable: p.executable,
      name: p.name,
      command_line: p.commandLine,
      start: p.startTs !== null ? iso(p.startTs) : null,
      parent: { executable: p.parentExecutable, command_line: p.parentCommandLine },
      code_signature: { exists: p.signed, subject_name: p.signature, status: p.signatureStatus },
    };
    if (p.user !== null) doc.user = { name: p.user };
  }
  const h = a.host;
  if (h !== null) doc.host = { name: h.name, hostname: h.name, id: h.id, os: h.os ? { name: h.os } : null, ip: h.ips };
  if (a.imageLoads.length > 0) ndr.image_loads = a.imageLoads.slice(0, 32).map((l) => ({ path: l.path, time: iso(l.ts), signed: l.signed }));
  if (a.fileEvents.length > 0) ndr.file_events = a.fileEvents.slice(0, 32).map((e) => ({ path: e.path, time: iso(e.ts), kind: e.kind, image: e.image }));
}

/**
 * A protocol section the record holds but no registration renders (a protocol registered in
 * another build) is left out rather than guessed at.
 */
function destinationDomain(r: FlowRecord, sections: readonly AnyRecordSection[]): string | null {
  for (const sec of sections) {
    const info = r.apps[sec.key];
    if (info === undefined || sec.destinationDomain === undefined) continue;
    const d = sec.destinationDomain(info);
    if (d !== null && d !== '') return d;
  }
  return r.dnsName;
}

export function flowToEcs(r: FlowRecord, sections: readonly AnyRecordSection[] = defaultSections): Doc {
  const c = r.dirs[0];
  const s = r.dirs[1];
  const doc: Doc = {
    '@timestamp': iso(r.startTs),
    event: { kind: 'event', category: ['network'], type: ['connection'], start: iso(r.startTs), end: iso(r.endTs), duration: Math.round((r.endTs - r.startTs) * 1e6), reason: r.endReason },
    source: { ip: r.client.ip, port: r.client.port, bytes: c.bytes, packets: c.packets },
    destination: { ip: r.server.ip, port: r.server.port, bytes: s.bytes, packets: s.packets, domain: destinationDomain(r, sections) },
    network: {
      transport: r.transport,
      iana_number: r.transport === 'tcp' ? '6' : '17',
      type: r.ipVersion === 4 ? 'ipv4' : 'ipv6',
      community_id: r.communityId,
      protocol: r.protocol,
      bytes: c.bytes + s.bytes,
      packets: c.packets + s.packets,
      vlan: r.vlan > 0 ? { id: String(r.vlan) } : null,
    },
  };
  const ndr: Doc = {
    flow: {
      id: r.id,
      byte_ratio: r.byteRatio,
      direction_from_syn: r.directionFromSyn,
      // picked up without the TCP handshake (the capture or the sensor started while it ran)
      midstream: r.transport === 'tcp' && !r.directionFromSyn ? true : null,
      ip_bytes: { to_server: c.ipBytes, to_client: s.ipBytes },
      retransmitted_bytes: { to_server: c.retransBytes, to_client: s.retransBytes },
      tcp_flags: r.transport === 'tcp' ? { to_server: c.tcpFlags, to_client: s.tcpFlags } : null,
      tunnel_depth: r.tunnelDepth || null,
      upgraded: r.upgraded ?? null,
      events: r.events,
      limits: r.limits,
    },
    entropy: r.entropy[0] || r.entropy[1]
      ? { to_server: r.entropy[0], to_client: r.entropy[1] }
      : null,
    dns_name: r.dnsName,
    ja4t: r.ja4t,
    ja4ts: r.ja4ts,
  };
  if (r.tunnel !== undefined && r.tunnel !== null) {
    // the flow is the inner one; the tunnel that carried it, and its outer endpoints, named here
    const t = r.tunnel;
    ndr.tunnel = { type: t.type, depth: r.tunnelDepth, id: t.id || null, outer: { client_ip: t.outerClient || null, server_ip: t.outerServer || null } };
  }
  const target = { doc, ndr };
  for (const sec of sections) {
    const info = r.apps[sec.key];
    if (info !== undefined) sec.ecs(info, target);
  }
  if (r.pubsub !== null) ndr.pubsub = { protocol: r.pubsub.protocol, encrypted: r.pubsub.encrypted, confidence: r.pubsub.confidence, evidence: r.pubsub.evidence };
  if (r.encrypted !== null) ndr.encrypted_channel = { known: r.encrypted.known, suspicious: r.encrypted.suspicious, compressed: r.encrypted.compressed, evidence: r.encrypted.evidence };
  if (r.beacon !== null) {
    ndr.beacon = {
      score: r.beacon.score, connections: r.beacon.connections, median_interval_s: r.beacon.medianIntervalS,
      basis: r.beacon.basis, ts_score: r.beacon.tsScore, ds_score: r.beacon.dsScore, dur_score: r.beacon.durScore, hist_score: r.beacon.histScore,
    };
  }
  attributionDocs(r.attribution, doc, ndr);
  doc.ndr = ndr;
  return prune(doc);
}

export function alertToEcs(a: Alert): Doc {
  const doc: Doc = {
    '@timestamp': iso(a.ts),
    event: { kind: 'alert', category: ['network', 'intrusion_detection'], type: ['indicator'], severity: { low: 21, medium: 47, high: 73, critical: 99 }[a.severity], count: a.count },
    rule: { id: a.analytic, name: a.title, description: a.explanation },
    threat: { framework: 'MITRE ATT&CK', technique: { id: a.mitre.technique } },
    message: a.explanation,
    destination: { ip: a.destination.ip, port: a.destination.port, domain: a.destination.name },
    network: { community_id: a.communityId },
    process: a.process ? { entity_id: a.process.entityId, pid: a.process.pid, executable: a.process.executable, name: a.process.name, command_line: a.process.commandLine, parent: { executable: a.process.parentExecutable } } : null,
    user: a.process?.user ? { name: a.process.user } : null,
    host: a.host ? { name: a.host.name, id: a.host.id, ip: a.host.ips } : null,
    ndr: {
      alert: {
        id: a.id,
        severity: a.severity,
        confidence: a.confidence,
        evidence: a.evidence,
        baseline_source: a.baselineSource,
        flow_id: a.flowId,
      },
    },
  };
  return prune(doc);
}

/**
 * A flood summary (src/runtime/flood.ts) as a metric document: the flows it stands for were not
 * written one by one, so it carries their count and what they had in common. A service summary
 * names the server port that was hit; a source summary names the client that did the hitting (a
 * scan); `message` says it in a sentence for an analyst reading the raw feed.
 */
export function floodToEcs(f: FloodSummary): Doc {
  const what = f.scope === 'service'
    ? `${f.flows} ${f.transport.toUpperCase()} flows without payload from ${f.clients}${f.distinctCapped ? '+' : ''} clients to ${f.server!.ip}:${f.server!.port}`
    : f.scope === 'source'
      ? `${f.flows} ${f.transport.toUpperCase()} flows without payload from ${f.client} to ${f.servers}${f.distinctCapped ? '+' : ''} servers on ${f.ports} ports`
      : `${f.flows} ${f.transport.toUpperCase()} flows without payload between ${f.clients} clients and ${f.servers} servers`;
  const doc: Doc = {
    '@timestamp': iso(f.intervalStart),
    event: {
      kind: 'metric', category: ['network'], type: ['info'], dataset: 'ndr.flood',
      start: iso(f.firstTs), end: iso(f.lastTs), duration: Math.round((f.lastTs - f.firstTs) * 1e6),
    },
    message: `${what} (${f.unanswered} unanswered, ${f.rejected} reset, ${f.answeredEmpty} answered empty): summarised, not written one by one`,
    source: f.client !== null ? { ip: f.client } : null,
    destination: f.server !== null ? { ip: f.server.ip, port: f.server.port } : null,
    network: { transport: f.transport, iana_number: f.transport === 'tcp' ? '6' : '17', packets: f.packets },
    ndr: {
      flood: {
        scope: f.scope,
        flows: f.flows,
        interval: { start: iso(f.intervalStart), ms: f.intervalMs },
        clients: f.clients,
        servers: f.servers,
        ports: f.ports,
        distinct_capped: f.distinctCapped,
        unanswered: f.unanswered,
        rejected: f.rejected,
        answered_empty: f.answeredEmpty,
        ip_bytes: f.ipBytes,
      },
    },
  };
  return prune(doc);
}
