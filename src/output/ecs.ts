/**
 * FlowRecord and Alert → ECS documents (nested objects, as ECS documents are). Fields ECS lacks
 * go under `ndr.*`. Null values are left out of the document. Field names follow
 * EDR-ANALYTICS.md §5 (ECS column).
 */
import { createHash } from 'node:crypto';
import type { Alert } from '../analytics/alert.js';
import { DEFAULT_ANALYTICS_CONFIG } from '../analytics/config.js';
import { analyticUrl, tacticUrl, techniqueOf, techniqueUrl, type Tactic } from '../analytics/mitre.js';
import { isExternal, parseCidr, type Cidr } from '../analytics/net.js';
import type { AnyRecordSection } from '../dissect/api.js';
import { sectionsOf } from '../dissect/registry.js';
import type { Attribution, FloodSummary, FlowRecord } from '../flow/record.js';
import { dissectorSpecs } from '../../dissectors/index.js';

type Doc = Record<string, unknown>;

/** The ECS version the documents follow (test/ecs-conformance.test.ts checks them against it). */
export const ECS_VERSION = '9.4.0';
export const SENSOR_VERSION = '0.1.0';
/** The analytics' rule set version: bump when an analytic's logic or thresholds change. */
export const RULESET_VERSION = '1.0.0';

/**
 * Who writes the documents (observer.*) and which networks are ours (network.direction). The
 * default names no host, so documents written by tests and golden files are the same anywhere.
 */
export interface EcsContext {
  readonly observer: { readonly hostname?: string; readonly name?: string };
  readonly internal: readonly Cidr[];
}

export function ecsContext(observer: EcsContext['observer'] = {}, internalNetworks: readonly string[] = DEFAULT_ANALYTICS_CONFIG.internalNetworks): EcsContext {
  return { observer, internal: internalNetworks.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== null) };
}

export const defaultEcsContext: EcsContext = ecsContext();

function observerDoc(ctx: EcsContext): Doc {
  return { type: 'sensor', vendor: 'ndr-sensor', product: 'ndr-sensor', version: SENSOR_VERSION, hostname: ctx.observer.hostname ?? null, name: ctx.observer.name ?? null };
}

/** ECS network.direction, seen from the internal networks. */
function direction(client: string, server: string, ctx: EcsContext): string {
  const ci = !isExternal(client, ctx.internal);
  const si = !isExternal(server, ctx.internal);
  return ci ? (si ? 'internal' : 'outbound') : si ? 'inbound' : 'external';
}

/**
 * event.id: the same event gets the same id wherever and however often it is written (a replay to
 * two collectors, a resent batch), so a SIEM can deduplicate on it.
 */
const eventId = (parts: string): string => createHash('sha256').update(parts).digest('hex').slice(0, 32);

function uniq(xs: (string | null | undefined)[]): string[] | null {
  const out: string[] = [];
  for (const x of xs) if (x && !out.includes(x)) out.push(x);
  return out.length > 0 ? out : null;
}

/** ECS related.*: every IP, host name and user a document names, for pivoting. */
function relatedOf(doc: Doc): Doc {
  const g = (o: unknown, k: string): unknown => (o !== null && typeof o === 'object' ? (o as Doc)[k] : undefined);
  const ips = [g(doc.source, 'ip'), g(doc.destination, 'ip'), ...((g(doc.host, 'ip') as string[] | undefined) ?? [])] as (string | undefined)[];
  return {
    ip: uniq(ips),
    hosts: uniq([g(doc.destination, 'domain') as string | undefined, g(doc.host, 'name') as string | undefined]),
    user: uniq([g(doc.user, 'name') as string | undefined]),
  };
}

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

function entropyDoc(e: FlowRecord['entropy'][0]): Doc | null {
  return e ? { bits: e.bits, sample: e.sample, random_expected: e.randomExpected, score: e.score } : null;
}

/** Image loads and file events an ECS document lists at most (the typed record keeps them all). */
export const ATTRIBUTION_LIST_CAP = 32;

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
  if (a.imageLoads.length > 0) ndr.image_loads = a.imageLoads.slice(0, ATTRIBUTION_LIST_CAP).map((l) => ({ path: l.path, time: iso(l.ts), signed: l.signed }));
  if (a.fileEvents.length > 0) ndr.file_events = a.fileEvents.slice(0, ATTRIBUTION_LIST_CAP).map((e) => ({ path: e.path, time: iso(e.ts), kind: e.kind, image: e.image }));
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

export function flowToEcs(r: FlowRecord, sections: readonly AnyRecordSection[] = defaultSections, ctx: EcsContext = defaultEcsContext): Doc {
  const c = r.dirs[0];
  const s = r.dirs[1];
  const doc: Doc = {
    '@timestamp': iso(r.startTs),
    ecs: { version: ECS_VERSION },
    observer: observerDoc(ctx),
    event: { id: eventId(`flow|${r.communityId}|${r.startTs}|${r.endTs}`), kind: 'event', category: ['network'], type: ['connection'], start: iso(r.startTs), end: iso(r.endTs), duration: Math.round((r.endTs - r.startTs) * 1e6), reason: r.endReason },
    source: { ip: r.client.ip, port: r.client.port, bytes: c.bytes, packets: c.packets },
    destination: { ip: r.server.ip, port: r.server.port, bytes: s.bytes, packets: s.packets, domain: destinationDomain(r, sections) },
    network: {
      transport: r.transport,
      direction: direction(r.client.ip, r.server.ip, ctx),
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
      ? { to_server: entropyDoc(r.entropy[0]), to_client: entropyDoc(r.entropy[1]) }
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
  doc.related = relatedOf(doc);
  doc.ndr = ndr;
  return prune(doc);
}

function threatOf(ids: readonly string[]): Doc {
  const techniques: string[] = [];
  const subs: string[] = [];
  for (const id of ids) {
    const parent = id.split('.')[0] as string;
    if (!techniques.includes(parent)) techniques.push(parent);
    if (id.includes('.') && !subs.includes(id)) subs.push(id);
  }
  const tactics: Tactic[] = [];
  for (const id of ids) for (const t of techniqueOf(id)?.tactics ?? []) if (!tactics.some((x) => x.id === t.id)) tactics.push(t);
  const name = (id: string): string => techniqueOf(id)?.name ?? id;
  return {
    framework: 'MITRE ATT&CK',
    tactic: tactics.length > 0 ? { id: tactics.map((t) => t.id), name: tactics.map((t) => t.name), reference: tactics.map((t) => tacticUrl(t.id)) } : null,
    technique: {
      id: techniques, name: techniques.map(name), reference: techniques.map(techniqueUrl),
      subtechnique: subs.length > 0 ? { id: subs, name: subs.map(name), reference: subs.map(techniqueUrl) } : null,
    },
  };
}

export function alertToEcs(a: Alert, ctx: EcsContext = defaultEcsContext): Doc {
  const doc: Doc = {
    '@timestamp': iso(a.ts),
    ecs: { version: ECS_VERSION },
    observer: observerDoc(ctx),
    event: {
      id: eventId(`alert|${a.id}|${a.ts}|${a.flowId}|${a.communityId}`),
      kind: 'alert', category: ['network', 'intrusion_detection'], type: ['info'],
      severity: { low: 21, medium: 47, high: 73, critical: 99 }[a.severity],
      risk_score: { low: 21, medium: 47, high: 73, critical: 99 }[a.severity],
    },
    rule: { id: a.analytic, name: a.title, description: a.explanation, reference: analyticUrl(a.analytic), version: RULESET_VERSION, ruleset: 'ndr-sensor', category: 'network' },
    threat: threatOf(a.mitre.technique),
    message: a.explanation,
    source: { ip: a.source.ip, port: a.source.port },
    destination: { ip: a.destination.ip, port: a.destination.port, domain: a.destination.name },
    network: { community_id: a.communityId, direction: direction(a.source.ip, a.destination.ip, ctx) },
    process: a.process ? { entity_id: a.process.entityId, pid: a.process.pid, executable: a.process.executable, name: a.process.name, command_line: a.process.commandLine, parent: { executable: a.process.parentExecutable } } : null,
    user: a.process?.user ? { name: a.process.user } : null,
    host: a.host ? { name: a.host.name, id: a.host.id, ip: a.host.ips } : null,
    ndr: {
      alert: {
        id: a.id,
        severity: a.severity,
        confidence: a.confidence,
        count: a.count,
        evidence: a.evidence,
        baseline_source: a.baselineSource,
        flow_id: a.flowId,
      },
    },
  };
  doc.related = relatedOf(doc);
  return prune(doc);
}

/**
 * A flood summary (src/runtime/flood.ts) as a metric document: the flows it stands for were not
 * written one by one, so it carries their count and what they had in common. A service summary
 * names the server port that was hit; a source summary names the client that did the hitting (a
 * scan); `message` says it in a sentence for an analyst reading the raw feed.
 */
export function floodToEcs(f: FloodSummary, ctx: EcsContext = defaultEcsContext): Doc {
  const what = f.scope === 'service'
    ? `${f.flows} ${f.transport.toUpperCase()} flows without payload from ${f.clients}${f.distinctCapped ? '+' : ''} clients to ${f.server!.ip}:${f.server!.port}`
    : f.scope === 'source'
      ? `${f.flows} ${f.transport.toUpperCase()} flows without payload from ${f.client} to ${f.servers}${f.distinctCapped ? '+' : ''} servers on ${f.ports} ports`
      : `${f.flows} ${f.transport.toUpperCase()} flows without payload between ${f.clients} clients and ${f.servers} servers`;
  const doc: Doc = {
    '@timestamp': iso(f.intervalStart),
    ecs: { version: ECS_VERSION },
    observer: observerDoc(ctx),
    event: {
      id: eventId(`flood|${f.scope}|${f.intervalStart}|${f.transport}|${f.client ?? ''}|${f.server?.ip ?? ''}|${f.server?.port ?? ''}`),
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
  doc.related = relatedOf(doc);
  return prune(doc);
}
