/**
 * FlowRecord and Alert → ECS documents (nested objects, as ECS documents are). Fields ECS lacks
 * go under `ndr.*`. Null values are left out of the document. Field names follow
 * EDR-ANALYTICS.md §5 (ECS column).
 */
import type { Alert } from '../analytics/alert.js';
import { DEFAULT_ANALYTICS_CONFIG } from '../analytics/config.js';
import { analyticUrl, tacticUrl, techniqueOf, techniqueUrl, type Tactic } from '../analytics/mitre.js';
import { isExternal, parseCidr, type Cidr } from '../analytics/net.js';
import type { AnyRecordSection, EcsWriter, RefSink, SectionContext } from '../contract/api.js';
import { asciiBytes, DEFAULT_MEMO_KEYS, eventId, FLOW_ID_ROOM, isoTime, jsonString, JsonSectionMemo, JsonWriter, NUM_ROOM, ObjectWriter, putAscii, putNum, putQuoted, putRun, putTime, TIME_ROOM, utcDay, type OutputDetail } from './json.js';
import { DEFAULT_STATE_LIMITS } from '../util/state.js';
const iso = isoTime;
import { sectionsOf } from '../dissect/registry.js';
import type { FloodSummary, FlowRecord, HostInfo, ProcessInfo } from '../flow/record.js';
import { dissectorSpecs } from '../../dissectors/index.js';
import { DEFAULT_SECRET_QUERY_NAMES, UrlRedactor } from '../util/redact.js';

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
export interface EcsContext extends SectionContext {
  readonly observer: { readonly hostname?: string; readonly name?: string };
  readonly internal: readonly Cidr[];
}

/** `redactQueryNames`: the query parameters whose values never leave the sensor (src/util/redact.ts). */
export function ecsContext(
  observer: EcsContext['observer'] = {},
  internalNetworks: readonly string[] = DEFAULT_ANALYTICS_CONFIG.internalNetworks,
  redactQueryNames: readonly string[] = DEFAULT_SECRET_QUERY_NAMES,
): EcsContext {
  return { observer, internal: internalNetworks.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== null), redactor: new UrlRedactor(redactQueryNames) };
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

// The last pair of addresses directionIndex saw and its answer: flows come in runs between the
// same two hosts (a client's connections to its server), so most flows skip the two address tests.
let lastClient = '';
let lastServer = '';
let lastInternal: readonly Cidr[] | null = null;
let lastDirection = 0;

/** network.direction as an index of DIRECTIONS (internal, outbound, inbound, external). */
function directionIndex(client: string, server: string, ctx: EcsContext): number {
  if (client === lastClient && server === lastServer && ctx.internal === lastInternal) return lastDirection;
  const ci = !isExternal(client, ctx.internal);
  const si = !isExternal(server, ctx.internal);
  lastClient = client;
  lastServer = server;
  lastInternal = ctx.internal;
  lastDirection = ci ? (si ? 0 : 1) : si ? 2 : 3;
  return lastDirection;
}


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

function writeEntropy(w: EcsWriter, key: string, e: FlowRecord['entropy'][0]): void {
  if (e === null) return;
  w.open(key);
  w.num('bits', e.bits);
  w.num('sample', e.sample);
  w.num('random_expected', e.randomExpected);
  w.num('score', e.score);
  w.close();
}

/** Image loads and file events an ECS document lists at most (the typed record keeps them all). */
export const ATTRIBUTION_LIST_CAP = 32;

/** Pushes x when it is a non-empty string not yet in xs (ECS related.* lists). */
function addUniq(xs: string[], x: string | null | undefined): void {
  if (x && !xs.includes(x)) xs.push(x);
}

/**
 * A protocol section the record holds but no registration renders (a protocol registered in
 * another build) is left out rather than guessed at.
 */
function destinationDomain(r: FlowRecord, sections: readonly AnyRecordSection[], present: readonly number[]): string | null {
  for (let j = 0; j < present.length; j++) {
    const sec = sections[present[j] as number] as AnyRecordSection;
    if (sec.destinationDomain === undefined) continue;
    const d = sec.destinationDomain(r.apps[sec.key]);
    if (d !== null && d !== '') return d;
  }
  return r.dnsName;
}

const sectionIndexes = new WeakMap<readonly AnyRecordSection[], Map<string, number>>();
// The last section list asked about and its index: one stream's serializer asks with the same list
// every flow, so the WeakMap is consulted once a list.
let lastSections: readonly AnyRecordSection[] | null = null;
let lastIndex: Map<string, number> | null = null;

const NO_SECTIONS: readonly number[] = [];
/** [i] for section index i, made once: a flow holds one section most often, and a new array each flow was most of a document's garbage. */
const ONE_SECTION: (readonly number[])[] = [];

/**
 * The indexes into `sections` of the sections a record holds, in the sections' order. A flow holds
 * one or two of the dozen registered: its own few keys are looked up rather than every section's
 * key looked for in it (one keyed load of a changing key each, several times a document). A list
 * of none or one index is shared (readonly: not the caller's to change).
 */
export function presentSections(apps: FlowRecord['apps'], sections: readonly AnyRecordSection[]): readonly number[] {
  let index = sections === lastSections ? lastIndex : sectionIndexes.get(sections);
  if (index === undefined || index === null) {
    index = new Map();
    for (let i = 0; i < sections.length; i++) index.set((sections[i] as AnyRecordSection).key, i);
    sectionIndexes.set(sections, index);
  }
  lastSections = sections;
  lastIndex = index;
  let first = -1;
  let out: number[] | null = null;
  for (const k in apps) {
    const i = index.get(k);
    // a section no registration here renders (a protocol registered in another build) is left out
    if (i === undefined || apps[k] === undefined) continue;
    if (first < 0) {
      first = i;
      continue;
    }
    out ??= [first];
    let j = out.length;
    out.push(i);
    // insertion into order: a flow has one or two
    while (j > 0 && (out[j - 1] as number) > i) {
      out[j] = out[j - 1] as number;
      j--;
    }
    out[j] = i;
  }
  if (out !== null) return out;
  if (first < 0) return NO_SECTIONS;
  return ONE_SECTION[first] ?? (ONE_SECTION[first] = [first]);
}

/**
 * What a section without its own writers (`write`) put into the object form, held between the
 * document part and the `ndr` part of the same flow.
 */
interface Built { doc: Doc; ndr: Doc }


/**
 * The head of a flow document (@timestamp to network) through the generic field methods: the
 * object form (ObjectWriter). writeHead writes the same text into a JsonWriter.
 */
function writeHeadFields(r: FlowRecord, w: EcsWriter, ctx: EcsContext, domain: string | null): void {
  const c = r.dirs[0];
  const s = r.dirs[1];
  w.time('@timestamp', r.startTs);
  w.json('ecs', ECS_JSON);
  // lean: the sensor's constant self-description (type, vendor, product, version) is said once
  // per stream and day in the ndr.sensor document; a flow names only which sensor wrote it
  if (w.full) w.json('observer', observerJson(ctx));
  else observerLean(w, ctx);
  w.open('event');
  w.safe('id', eventId(`flow|${r.communityId}|${r.startTs}|${r.endTs}`));
  w.json('kind', '"event"');
  w.json('category', '["network"]');
  w.json('type', '["connection"]');
  w.time('start', r.startTs);
  w.time('end', r.endTs);
  w.num('duration', Math.round((r.endTs - r.startTs) * 1e6));
  w.str('reason', r.endReason);
  w.close();
  w.open('source');
  w.safe('ip', r.client.ip);
  w.num('port', r.client.port);
  w.num('bytes', c.bytes);
  w.num('packets', c.packets);
  w.close();
  w.open('destination');
  w.safe('ip', r.server.ip);
  w.num('port', r.server.port);
  w.num('bytes', s.bytes);
  w.num('packets', s.packets);
  w.str('domain', domain);
  w.close();
  w.open('network');
  w.str('transport', r.transport);
  w.str('direction', direction(r.client.ip, r.server.ip, ctx));
  w.str('iana_number', r.transport === 'tcp' ? '6' : '17');
  w.str('type', r.ipVersion === 4 ? 'ipv4' : 'ipv6');
  w.safe('community_id', r.communityId);
  w.str('protocol', r.protocol);
  w.num('bytes', c.bytes + s.bytes);
  w.num('packets', c.packets + s.packets);
  if (r.vlan > 0) {
    w.open('vlan');
    w.str('id', String(r.vlan));
    w.close();
  }
  w.close();
}


// The head's constant text between its values (writeHead), as bytes once.
const H_TS = asciiBytes('"@timestamp":');
const H_START = asciiBytes('","kind":"event","category":["network"],"type":["connection"],"start":');
const H_END = asciiBytes(',"end":');
const H_DURATION = asciiBytes(',"duration":');
const H_REASON = asciiBytes(',"reason":');
/** `,"reason":"fin"` and the like, by reason: the engine's handful of names, made when first written. */
const reasonBytes = new Map<string, Uint8Array>();
function reasonText(reason: string): Uint8Array | null {
  const text = `,"reason":${jsonString(reason)}`;
  // anything but the engine's ASCII names is written as a value (and the map stays small)
  if (/[^\x00-\x7f]/.test(text) || reasonBytes.size >= 16) return null;
  const b = asciiBytes(text);
  reasonBytes.set(reason, b);
  return b;
}
const H_SOURCE = asciiBytes('},"source":{"ip":"');
const H_PORT = asciiBytes('","port":');
const H_BYTES = asciiBytes(',"bytes":');
const H_PACKETS = asciiBytes(',"packets":');
const H_DESTINATION = asciiBytes('},"destination":{"ip":"');
const H_DOMAIN = asciiBytes(',"domain":');
const H_PROTOCOL = asciiBytes('","protocol":');
const H_NET_BYTES = asciiBytes('","bytes":');
const H_VLAN = asciiBytes(',"vlan":{"id":');
const H_CLOSE = asciiBytes('}');
const DIRECTIONS = ['internal', 'outbound', 'inbound', 'external'];
/**
 * `},"network":{"transport":...,"direction":...,"iana_number":...,"type":...,"community_id":"`, one text
 * per transport, direction and IP version (16), indexed as networkIndex computes.
 */
const H_NETWORK: Uint8Array[] = [];
for (const t of ['tcp', 'udp']) {
  for (const d of DIRECTIONS) {
    for (const v of ['ipv4', 'ipv6']) H_NETWORK.push(asciiBytes(`},"network":{"transport":"${t}","direction":"${d}","iana_number":"${t === 'tcp' ? '6' : '17'}","type":"${v}","community_id":"`));
  }
}
/** `,"ecs":...`, the flow's observer and the opening of event.id, per context and detail (lean, full). */
interface HeadConstant { readonly bytes: Uint8Array; readonly ascii: boolean }
const headConstants = new WeakMap<EcsContext, [HeadConstant, HeadConstant]>();

let lastHeadCtx: EcsContext | null = null;
let lastHead: [HeadConstant, HeadConstant] | null = null;

function headConstant(ctx: EcsContext, full: boolean): HeadConstant {
  if (ctx === lastHeadCtx) {
    const h = lastHead as [HeadConstant, HeadConstant];
    return full ? h[1] : h[0];
  }
  let t = headConstants.get(ctx);
  if (t === undefined) {
    const o = ctx.observer;
    const lean = o.hostname || o.name ? `,"observer":${new JsonWriter().object({ hostname: o.hostname ?? null, name: o.name ?? null })}` : '';
    // the observer's names are the operator's and may be more than ASCII (JSON text, UTF-8)
    const bytes = (text: string): HeadConstant => ({ bytes: new Uint8Array(Buffer.from(text, 'utf8')), ascii: !/[^\x00-\x7f]/.test(text) });
    t = [bytes(`,"ecs":${ECS_JSON}${lean},"event":{"id":"`), bytes(`,"ecs":${ECS_JSON},"observer":${observerJson(ctx)},"event":{"id":"`)];
    headConstants.set(ctx, t);
  }
  lastHeadCtx = ctx;
  lastHead = t;
  return full ? t[1] : t[0];
}

/**
 * Room a flow head takes besides its observer text and its strings: every constant run it may
 * write, three times, the id and eight numbers (writeHeadDirect).
 */
const HEAD_ROOM = [H_TS, H_START, H_END, H_DURATION, H_REASON, H_SOURCE, H_PORT, H_PORT, H_BYTES, H_BYTES, H_BYTES, H_PACKETS, H_PACKETS, H_PACKETS,
  H_DESTINATION, H_DOMAIN, ...H_NETWORK, H_PROTOCOL, H_NET_BYTES, H_VLAN, H_CLOSE, H_CLOSE].reduce((n, t) => n + t.length, 0)
  + 3 * TIME_ROOM + FLOW_ID_ROOM + 8 * NUM_ROOM + 32;

/**
 * The flow head (writeHeadFields' fields, same text) into a JsonWriter: each run of constant text
 * between two values is one copy of bytes made once, rather than a key, its quotes, a colon and a
 * comma written one field method at a time; the fields of the head are always there, save the
 * few written only when set.
 */
function writeHead(r: FlowRecord, w: JsonWriter, ctx: EcsContext, domain: string | null): void {
  // not a transport the network texts know, or a string the direct writes leave to the field
  // methods (one to escape, one past ASCII): the field methods write the whole head
  if ((r.transport !== 'tcp' && r.transport !== 'udp') || !writeHeadDirect(r, w, ctx, domain)) writeHeadFields(r, w, ctx, domain);
}

/** source or destination in writeHeadDirect: address, port and what it sent; -1 for an address not plain ASCII. */
function putEndpoint(b: Uint8Array, v: DataView, p: number, head: Uint8Array, ip: string, port: number, sent: { readonly bytes: number; readonly packets: number }): number {
  p = putRun(b, v, p, head);
  p = putAscii(b, p, ip);
  if (p < 0) return -1;
  p = putRun(b, v, p, H_PORT);
  p = putNum(b, p, port);
  p = putRun(b, v, p, H_BYTES);
  p = putNum(b, p, sent.bytes);
  p = putRun(b, v, p, H_PACKETS);
  return putNum(b, p, sent.packets);
}

/**
 * writeHead's direct writes: room made once for the whole head and every value written at a
 * position kept here (a call per value, and no room test or writer state in each). False when a
 * string needs what only the field methods do (an escape, UTF-8): nothing is committed then.
 */
function writeHeadDirect(r: FlowRecord, w: JsonWriter, ctx: EcsContext, domain: string | null): boolean {
  const c = r.dirs[0];
  const s = r.dirs[1];
  const k = headConstant(ctx, w.full);
  const client = r.client.ip;
  const server = r.server.ip;
  const cid = r.communityId;
  const reason = r.endReason;
  const protocol = r.protocol;
  const hasReason = reason !== null && reason !== undefined;
  const hasDomain = domain !== null && domain !== undefined;
  const hasProtocol = protocol !== null && protocol !== undefined;
  // a reason's own run (reasonText) takes at most six characters for one of the name
  let p = w.reserve(HEAD_ROOM + k.bytes.length + client.length + server.length + cid.length
    + (hasReason ? 6 * reason.length : 0) + (hasDomain ? domain.length : 0) + (hasProtocol ? protocol.length : 0));
  const b = w.out;
  const v = w.outView;
  p = putRun(b, v, p, H_TS);
  p = putTime(b, v, p, r.startTs);
  p = putRun(b, v, p, k.bytes);
  p = w.deferFlowId(p, cid, r.startTs, r.endTs);
  p = putRun(b, v, p, H_START);
  p = putTime(b, v, p, r.startTs);
  p = putRun(b, v, p, H_END);
  p = putTime(b, v, p, r.endTs);
  p = putRun(b, v, p, H_DURATION);
  p = putNum(b, p, Math.round((r.endTs - r.startTs) * 1e6));
  if (hasReason) {
    const t = reasonBytes.get(reason) ?? reasonText(reason);
    if (t !== null) p = putRun(b, v, p, t);
    else {
      p = putRun(b, v, p, H_REASON);
      p = putQuoted(b, p, reason);
      if (p < 0) return false;
    }
  }
  p = putEndpoint(b, v, p, H_SOURCE, client, r.client.port, c);
  if (p < 0) return false;
  p = putEndpoint(b, v, p, H_DESTINATION, server, r.server.port, s);
  if (p < 0) return false;
  if (hasDomain) {
    p = putRun(b, v, p, H_DOMAIN);
    p = putQuoted(b, p, domain);
    if (p < 0) return false;
  }
  const d = directionIndex(client, server, ctx);
  p = putRun(b, v, p, H_NETWORK[(r.transport === 'tcp' ? 0 : 8) + d * 2 + (r.ipVersion === 4 ? 0 : 1)] as Uint8Array);
  p = putAscii(b, p, cid);
  if (p < 0) return false;
  if (hasProtocol) {
    p = putRun(b, v, p, H_PROTOCOL);
    p = putQuoted(b, p, protocol);
    if (p < 0) return false;
    p = putRun(b, v, p, H_BYTES);
  } else {
    p = putRun(b, v, p, H_NET_BYTES);
  }
  p = putNum(b, p, c.bytes + s.bytes);
  p = putRun(b, v, p, H_PACKETS);
  p = putNum(b, p, c.packets + s.packets);
  if (r.vlan > 0) {
    p = putRun(b, v, p, H_VLAN);
    p = putQuoted(b, p, String(r.vlan));
    p = putRun(b, v, p, H_CLOSE);
  }
  p = putRun(b, v, p, H_CLOSE);
  w.commit(p, k.ascii);
  return true;
}


// ndr.beacon's lean fields (writeFlow)
const B_SCORE = asciiBytes('"beacon":{"score":');
const B_CONNECTIONS = asciiBytes(',"connections":');
const B_MEDIAN = asciiBytes(',"median_interval_s":');

const R_IP = asciiBytes(',"related":{"ip":[');
const N_FLOW_ID = asciiBytes(',"ndr":{"flow":{"id":');
const R_NEXT = asciiBytes(',');
const R_HOSTS = asciiBytes('],"hosts":[');
const R_HOSTS_ONLY = asciiBytes(',"related":{"hosts":[');
const R_END = asciiBytes(']}');

/**
 * related.* of a flow that names no host or user of its own (no EDR attribution): its two
 * addresses (once if equal) and its domain, the text relatedFields writes, without the lists.
 */
function relatedOfFlow(w: JsonWriter, client: string, server: string, domain: string | null): void {
  const hc = client !== '' && client !== null && client !== undefined;
  const hs = server !== '' && server !== null && server !== undefined && server !== client;
  const hd = domain !== '' && domain !== null && domain !== undefined;
  if (hc || hs) {
    w.lit(R_IP);
    if (hc) w.vstr(client);
    if (hc && hs) w.lit(R_NEXT);
    if (hs) w.vstr(server);
    if (hd) {
      w.lit(R_HOSTS);
      w.vstr(domain);
    }
    w.lit(R_END);
  } else if (hd) {
    w.lit(R_HOSTS_ONLY);
    w.vstr(domain);
    w.lit(R_END);
  }
}

/** related.* through the field methods: every IP, host name and user the document names. */
function relatedFields(w: EcsWriter, r: FlowRecord, h: HostInfo | null, p: ProcessInfo | null, domain: string | null): void {
  const ips: string[] = [];
  addUniq(ips, r.client.ip);
  addUniq(ips, r.server.ip);
  if (h !== null) for (const ip of h.ips) addUniq(ips, ip);
  const hosts: string[] = [];
  addUniq(hosts, domain);
  if (h !== null) addUniq(hosts, h.name);
  w.open('related');
  w.strs('ip', ips);
  w.strs('hosts', hosts);
  if (p !== null && p.user !== null && p.user !== '') w.strs('user', [p.user]);
  w.close();
}


/** The EDR's process (and its user) of an attributed flow: process.*, user.name. */
function writeProcess(p: ProcessInfo, w: EcsWriter): void {
  w.open('process');
  w.str('entity_id', p.entityId);
  w.num('pid', p.pid);
  w.str('executable', p.executable);
  w.str('name', p.name);
  w.str('command_line', p.commandLine);
  if (p.startTs !== null) w.time('start', p.startTs);
  w.open('parent');
  w.str('executable', p.parentExecutable);
  w.str('command_line', p.parentCommandLine);
  w.close();
  w.open('code_signature');
  w.bool('exists', p.signed);
  w.str('subject_name', p.signature);
  w.str('status', p.signatureStatus);
  w.close();
  w.close();
  if (p.user !== null) {
    w.open('user');
    w.str('name', p.user);
    w.close();
  }
}

/** What sameProcess reads, copied for a kept part (SectionMemo.part). */
function copyProcess(p: ProcessInfo): ProcessInfo {
  return { ...p };
}

/** What sameHost reads, copied for a kept part. */
function copyHost(h: HostInfo): HostInfo {
  return { ...h, ips: [...h.ips] };
}

/** Whether writeProcess writes the same for `b` as for `a`: a process's flows keep it as bytes (every field read compared). */
function sameProcess(a: ProcessInfo, b: ProcessInfo): boolean {
  return (a.entityId === b.entityId && a.pid === b.pid && a.executable === b.executable && a.name === b.name && a.commandLine === b.commandLine
    && a.startTs === b.startTs && a.parentExecutable === b.parentExecutable && a.parentCommandLine === b.parentCommandLine && a.signed === b.signed
    && a.signature === b.signature && a.signatureStatus === b.signatureStatus && a.user === b.user);
}

/** The EDR's host of an attributed flow: host.*. */
function writeHost(h: HostInfo, w: EcsWriter): void {
  w.open('host');
  w.str('name', h.name);
  w.str('hostname', h.name);
  w.str('id', h.id);
  if (h.os) {
    w.open('os');
    w.str('name', h.os);
    w.close();
  }
  w.strs('ip', h.ips);
  w.close();
}

/** Whether writeHost writes the same for `b` as for `a`. */
function sameHost(a: HostInfo, b: HostInfo): boolean {
  if (a.name !== b.name || a.id !== b.id || a.os !== b.os || a.ips.length !== b.ips.length) return false;
  for (let i = 0; i < a.ips.length; i++) if (a.ips[i] !== b.ips[i]) return false;
  return true;
}

/**
 * The flow document, written field by field in the order ECS readers (and the golden files) know
 * it. The engine's own fields are written here; each protocol section writes its own (its
 * `write.doc` then, inside `ndr`, its `write.ndr`), so the engine names no protocol. A section
 * that only builds the object form is written from that object, empty fields left out the same.
 */
export function writeFlow(r: FlowRecord, w: EcsWriter, sections: readonly AnyRecordSection[] = defaultSections, ctx: EcsContext = defaultEcsContext, present: readonly number[] = presentSections(r.apps, sections)): void {
  const c = r.dirs[0];
  const s = r.dirs[1];
  const domain = destinationDomain(r, sections, present);
  const json = w instanceof JsonWriter ? w : null;
  if (json !== null) writeHead(r, json, ctx, domain);
  else writeHeadFields(r, w, ctx, domain);

  let built: (Built | null)[] | null = null;
  for (let j = 0; j < present.length; j++) {
    const i = present[j] as number;
    const sec = sections[i] as AnyRecordSection;
    const info = r.apps[sec.key];
    if (sec.write !== undefined) { sec.write.doc?.(info, w, ctx); continue; }
    if (sec.ecs === undefined) continue;
    const b: Built = { doc: {}, ndr: {} };
    sec.ecs(info, b, ctx);
    for (const k in b.doc) w.val(k, b.doc[k]);
    (built ??= [])[i] = b;
  }

  const a = r.attribution;
  const p = a?.process ?? null;
  const h = a?.host ?? null;
  const memo = w.memo;
  if (p !== null) {
    if (memo === undefined) writeProcess(p, w);
    else memo.part('process', p.entityId ?? '', p, sameProcess, copyProcess, writeProcess);
  }
  if (h !== null) {
    if (memo === undefined) writeHost(h, w);
    else memo.part('host', h.id ?? h.name ?? '', h, sameHost, copyHost, writeHost);
  }

  // ECS related.*: every IP, host name and user the document names, for pivoting.
  if (json !== null && h === null && (p === null || p.user === null || p.user === '')) relatedOfFlow(json, r.client.ip, r.server.ip, domain);
  else relatedFields(w, r, h, p, domain);

  if (json !== null && typeof r.id === 'number') {
    json.litOpen(N_FLOW_ID, 'ndr', 'flow');
    json.vnum(r.id);
  } else {
    w.open('ndr');
    w.open('flow');
    w.num('id', r.id);
  }
  const full = w.full;
  // Lean leaves out what a reader can work out from the document (the byte ratio from
  // source.bytes and destination.bytes; direction_from_syn, which is false on every UDP flow
  // and, on TCP, false exactly when midstream is written) and the analytics' inputs no analyst
  // pivots on (IP-layer bytes, the OR of the TCP flags); the analytics read them on the record.
  if (full) {
    w.num('byte_ratio', r.byteRatio === null ? null : r.byteRatio);
    w.bool('direction_from_syn', r.directionFromSyn);
  }
  // picked up without the TCP handshake (the capture or the sensor started while it ran)
  if (r.transport === 'tcp' && !r.directionFromSyn) w.bool('midstream', true);
  if (full) {
    w.open('ip_bytes');
    w.num('to_server', c.ipBytes);
    w.num('to_client', s.ipBytes);
    w.close();
  }
  // lean: only when something was retransmitted (a loss or a stall is worth seeing; zeros are not)
  if (full || c.retransBytes > 0 || s.retransBytes > 0) {
    w.open('retransmitted_bytes');
    w.num('to_server', c.retransBytes);
    w.num('to_client', s.retransBytes);
    w.close();
  }
  if (full && r.transport === 'tcp') {
    w.open('tcp_flags');
    w.num('to_server', c.tcpFlags);
    w.num('to_client', s.tcpFlags);
    w.close();
  }
  if (r.tunnelDepth) w.num('tunnel_depth', r.tunnelDepth);
  w.str('upgraded', r.upgraded);
  // asked to switch (STARTTLS accepted, MySQL's SSLRequest) and not one byte of the new protocol came
  w.str('upgrade_unanswered', r.upgradeUnanswered);
  w.strs('events', r.events);
  w.strs('limits', r.limits);
  w.close();
  // Entropy is an input of the encrypted-channel verdict and of AN1389, which read it on the
  // record and put it in their alerts' evidence; lean flows carry the verdict, not the sample.
  if (full && (r.entropy[0] || r.entropy[1])) {
    w.open('entropy');
    writeEntropy(w, 'to_server', r.entropy[0]);
    writeEntropy(w, 'to_client', r.entropy[1]);
    w.close();
  }
  w.str('dns_name', r.dnsName);
  w.safe('ja4t', r.ja4t);
  w.safe('ja4ts', r.ja4ts);
  if (r.tunnel !== undefined && r.tunnel !== null) {
    // the flow is the inner one; the tunnel that carried it, and its outer endpoints, named here
    const t = r.tunnel;
    w.open('tunnel');
    w.str('type', t.type);
    w.num('depth', r.tunnelDepth);
    if (t.id) w.num('id', t.id);
    w.open('outer');
    if (t.outerClient) w.str('client_ip', t.outerClient);
    if (t.outerServer) w.str('server_ip', t.outerServer);
    w.close();
    const te = t.teredo ?? null;
    if (te !== null) {
      w.open('teredo');
      // the flow endpoint whose address is a Teredo address, and what that address encodes
      if (te.address !== null) {
        w.str('endpoint', te.address.end);
        w.str('server_ip', te.address.server);
        w.num('flags', te.address.flags);
        w.open('mapped');
        w.str('ip', te.address.mappedIp);
        w.num('port', te.address.mappedPort);
        w.close();
      }
      if (te.origin !== null) {
        w.open('origin');
        w.str('ip', te.origin.ip);
        w.num('port', te.origin.port);
        w.num('packets', te.origin.packets);
        w.close();
      }
      if (te.auth !== null) {
        w.open('auth');
        w.num('client_id_length', te.auth.clientIdLength);
        w.num('value_length', te.auth.valueLength);
        w.str('nonce', te.auth.nonce);
        w.num('confirmation', te.auth.confirmation);
        w.num('packets', te.auth.packets);
        w.close();
      }
      w.close();
    }
    w.close();
  }
  for (let j = 0; j < present.length; j++) {
    const i = present[j] as number;
    const sec = sections[i] as AnyRecordSection;
    const info = r.apps[sec.key];
    if (sec.write !== undefined) { sec.write.ndr?.(info, w, ctx); continue; }
    const b = built?.[i];
    if (b) for (const k in b.ndr) w.val(k, b.ndr[k]);
  }
  if (r.pubsub !== null) {
    w.open('pubsub');
    w.str('protocol', r.pubsub.protocol);
    w.bool('encrypted', r.pubsub.encrypted);
    w.num('confidence', r.pubsub.confidence);
    w.val('evidence', r.pubsub.evidence);
    w.close();
  }
  const ec = r.encrypted;
  // lean: left out when it only repeats network.protocol (a dissector named the protocol and
  // nothing looked suspicious or compressed); kept when a content signal named a protocol no
  // dissector did, or the payload looked suspicious or compressed
  if (ec !== null && (full || ec.suspicious || ec.compressed !== null || ec.known === null || ec.known !== r.protocol)) {
    w.open('encrypted_channel');
    w.str('known', ec.known);
    w.bool('suspicious', ec.suspicious);
    w.str('compressed', ec.compressed);
    w.val('evidence', ec.evidence);
    w.close();
  }
  const bc = r.beacon;
  if (bc !== null && json !== null && !full && typeof bc.score === 'number' && typeof bc.connections === 'number') {
    // lean: three numbers, on most flows of a chatty pair (a client and its resolver): runs
    json.field(B_SCORE);
    json.vnum(bc.score);
    json.lit(B_CONNECTIONS);
    json.vnum(bc.connections);
    const m = bc.medianIntervalS;
    if (m !== null && m !== undefined) {
      json.lit(B_MEDIAN);
      json.vnum(m);
    }
    json.lit(H_CLOSE);
  } else if (bc !== null) {
    w.open('beacon');
    w.num('score', bc.score);
    w.num('connections', bc.connections);
    w.num('median_interval_s', bc.medianIntervalS);
    // lean: the verdict, how many connections it rests on and their cadence, what an analyst
    // checks; the four partial scores the RITA score is made of are for tuning it, and the basis
    // is plain from connections (1 for the cadence of records inside one flow; a pair's score
    // needs several connections)
    if (full) {
      w.str('basis', bc.basis);
      w.num('ts_score', bc.tsScore);
      w.num('ds_score', bc.dsScore);
      w.num('dur_score', bc.durScore);
      w.num('hist_score', bc.histScore);
    }
    w.close();
  }
  if (a !== null) {
    w.open('attribution');
    w.str('status', a.status);
    w.str('reason', a.reason);
    w.str('match', a.match);
    w.num('clock_offset_ms', a.clockOffsetMs);
    w.bool('image_network_history', a.imageNetworkHistory);
    w.close();
    if (a.imageLoads.length > 0) w.val('image_loads', a.imageLoads.slice(0, ATTRIBUTION_LIST_CAP).map((l) => ({ path: l.path, time: isoTime(l.ts), signed: l.signed })));
    if (a.fileEvents.length > 0) w.val('file_events', a.fileEvents.slice(0, ATTRIBUTION_LIST_CAP).map((e) => ({ path: e.path, time: isoTime(e.ts), kind: e.kind, image: e.image })));
  }
  w.close();
}

const ECS_JSON = JSON.stringify({ version: ECS_VERSION });
const observerTexts = new WeakMap<EcsContext, string>();

/** observer.* is the same in every document a context writes: rendered once per context. */
function observerJson(ctx: EcsContext): string {
  let t = observerTexts.get(ctx);
  if (t === undefined) {
    const w = new JsonWriter();
    t = w.object(observerDoc(ctx));
    observerTexts.set(ctx, t);
  }
  return t;
}

const observerLeanTexts = new WeakMap<EcsContext, string | null>();

/** A lean flow's observer: which sensor wrote it (hostname, name), nothing when the context names none. */
function observerLean(w: EcsWriter, ctx: EcsContext): void {
  let t = observerLeanTexts.get(ctx);
  if (t === undefined) {
    const o = ctx.observer;
    t = o.hostname || o.name ? new JsonWriter().object({ hostname: o.hostname ?? null, name: o.name ?? null }) : null;
    observerLeanTexts.set(ctx, t);
  }
  if (t !== null) w.json('observer', t);
}

/**
 * The lean output's sensor document, once per stream and UTC day like a certificate's: its
 * observer.* (type, vendor, product, version) is what lean flows leave out, and output_detail
 * tells a reader why they do.
 */
function sensorDocument(_ctx: EcsContext, w: EcsWriter): void {
  w.open('ndr');
  w.open('sensor');
  w.str('output_detail', 'lean');
  w.str('ruleset_version', RULESET_VERSION);
  w.close();
  w.close();
}

/** The flow's ECS document as an object (tests, the demo): today's full form unless told otherwise. */
export function flowToEcs(r: FlowRecord, sections: readonly AnyRecordSection[] = defaultSections, ctx: EcsContext = defaultEcsContext, full = true): Doc {
  const w = new ObjectWriter(full);
  w.begin();
  writeFlow(r, w, sections, ctx);
  return w.end();
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

function alertDoc(a: Alert, ctx: EcsContext): Doc {
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
  return doc;
}

export function alertToEcs(a: Alert, ctx: EcsContext = defaultEcsContext): Doc {
  return prune(alertDoc(a, ctx));
}

/**
 * A flood summary (src/runtime/flood.ts) as a metric document: the flows it stands for were not
 * written one by one, so it carries their count and what they had in common. A service summary
 * names the server port that was hit; a source summary names the client that did the hitting (a
 * scan); `message` says it in a sentence for an analyst reading the raw feed.
 */
function floodDoc(f: FloodSummary, ctx: EcsContext): Doc {
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
  return doc;
}

export function floodToEcs(f: FloodSummary, ctx: EcsContext = defaultEcsContext): Doc {
  return prune(floodDoc(f, ctx));
}

// ---- JSON lines --------------------------------------------------------------------------------

export { OUTPUT_DETAILS, type OutputDetail } from './json.js';
export const DEFAULT_DESCRIBED_MAX = DEFAULT_STATE_LIMITS.describedCertificates;

/**
 * The objects (certificates, JA4 fingerprints) an output stream has described, by key, with the UTC
 * day of the description: a bounded LRU, its order a list linked through the entries (a hit
 * relinks its entry at the newest end rather than deleting and re-adding a Map key, which nearly
 * every flow did for its JA4). An object evicted and seen again, or seen on a later day, is
 * described again: a repeat, never a loss. The key alone is the Map's key so that a flow's
 * references are looked up with the strings the record already holds, not a new composite string
 * per reference; the kinds' keys cannot collide (a SHA-256 in hex, a JA4 with its underscores, the
 * sensor key with its bars).
 */
export class DescribedSet {
  evictions = 0;
  readonly max: number;
  private readonly seen = new Map<string, Described>();
  /** The least recently used entry (evicted first) and the most recent one. */
  private oldest: Described | null = null;
  private newest: Described | null = null;
  constructor(max: number = DEFAULT_DESCRIBED_MAX) {
    this.max = max;
  }

  get size(): number {
    return this.seen.size;
  }

  /** True when `key` was described already on `day`; otherwise it is remembered as described now. */
  check(key: string, day = 0): boolean {
    const e = this.seen.get(key);
    if (e !== undefined) {
      // a hit moves the entry to the newest end: four links, the Map untouched
      if (e !== this.newest) {
        const n = e.next as Described;
        if (e.prev === null) this.oldest = n;
        else e.prev.next = n;
        n.prev = e.prev;
        e.prev = this.newest;
        e.next = null;
        (this.newest as Described).next = e;
        this.newest = e;
      }
      const was = e.day;
      e.day = day;
      return was === day;
    }
    const n: Described = { key, day, prev: this.newest, next: null };
    if (this.newest === null) this.oldest = n;
    else this.newest.next = n;
    this.newest = n;
    this.seen.set(key, n);
    if (this.seen.size > this.max) {
      const old = this.oldest as Described;
      this.oldest = old.next;
      if (old.next === null) this.newest = null;
      else old.next.prev = null;
      this.seen.delete(old.key);
      this.evictions++;
    }
    return false;
  }
}

/** A described object's entry: the day of its description, its place in the recency list. */
interface Described {
  readonly key: string;
  day: number;
  prev: Described | null;
  next: Described | null;
}

export class LeanOutputError extends Error {
  override readonly name = 'LeanOutputError';
}

export interface EcsSerializerOptions {
  readonly ctx?: EcsContext;
  readonly sections?: readonly AnyRecordSection[];
  readonly detail?: OutputDetail;
  /** Entries of the described set (lean only). */
  readonly describedMax?: number;
  /** Keys of the sections' parts kept as bytes (JsonSectionMemo). */
  readonly memoKeys?: number;
  /**
   * Lean only: a document describing an object a flow refers to, handed over before that flow's
   * own document. `kind` is 'x509' for a certificate (`key` its SHA-256), 'ja4' for a
   * client fingerprint's sorted raw form (`key` its ja4).
   */
  readonly onRef?: (json: string, kind: string, key: string) => void;
}

/**
 * ECS documents as JSON text for one output stream (a file, the SIEM feed, OTLP): each keeps its
 * own described set, since each reader must find a certificate's description in its own stream.
 * The text is the one JSON.stringify gives for the object form, terminal-unsafe characters
 * escaped, without building that object.
 */
export class EcsSerializer implements RefSink {
  readonly detail: OutputDetail;
  readonly described: DescribedSet;
  /** The sections' parts this stream's writer keeps as bytes (metrics: size, evictions). */
  readonly memo: JsonSectionMemo;
  private readonly ctx: EcsContext;
  private readonly sections: readonly AnyRecordSection[];
  private readonly w: JsonWriter;
  private readonly onRef: ((json: string, kind: string, key: string) => void) | null;
  private refTs = 0;
  private sensorDay = -1;
  /**
   * The sensor document's key: which sensor this is, so that two sensors' documents of the same
   * day get different event ids (a SIEM deduplicating on event.id keeps both).
   */
  private readonly sensorKey: string;

  constructor(o: EcsSerializerOptions = {}) {
    this.ctx = o.ctx ?? defaultEcsContext;
    this.sections = o.sections ?? defaultSections;
    this.detail = o.detail ?? 'lean';
    this.w = new JsonWriter(this.detail === 'full');
    this.memo = new JsonSectionMemo(this.w, o.memoKeys ?? DEFAULT_MEMO_KEYS);
    this.w.memo = this.memo;
    this.described = new DescribedSet(o.describedMax ?? DEFAULT_DESCRIBED_MAX);
    this.onRef = o.onRef ?? null;
    this.sensorKey = `${this.ctx.observer.hostname ?? ''}|${this.ctx.observer.name ?? ''}|${SENSOR_VERSION}`;
    // Lean flows leave the descriptions out: without somewhere to write them they would be lost.
    if (this.detail === 'lean' && this.onRef === null) throw new LeanOutputError('the lean output needs onRef for the certificate documents (or detail: full)');
  }

  flow(r: FlowRecord): string {
    return this.flowWriter(r).end();
  }

  /** The writer every document of this stream is written with (the JSON-lines sink keeps its lines there). */
  get writer(): JsonWriter {
    return this.w;
  }

  /** flow() with the document left open in the writer (the JSON-lines sink ends it as a line). */
  flowWriter(r: FlowRecord): JsonWriter {
    const present = presentSections(r.apps, this.sections);
    if (!this.w.full) {
      this.refTs = r.startTs;
      // the day test spares the described set a lookup per flow; ref() still keeps it to one a day
      const day = utcDay(r.startTs);
      if (day !== this.sensorDay) {
        this.sensorDay = day;
        this.ref('sensor', this.sensorKey, this.ctx, sensorDocument);
      }
      const secs = this.sections;
      for (let j = 0; j < present.length; j++) {
        const sec = secs[present[j] as number] as AnyRecordSection;
        const refs = sec.write?.refs;
        if (refs !== undefined) refs(r.apps[sec.key], this);
      }
    }
    const w = this.w;
    w.begin();
    writeFlow(r, w, this.sections, this.ctx, present);
    return w;
  }

  /** RefSink: describe `key` unless this stream did already today (the flow's UTC day). */
  ref<T>(kind: string, key: string, obj: T, write: (obj: T, w: EcsWriter) => void): void {
    const day = utcDay(this.refTs);
    if (this.described.check(key, day)) return;
    const w = this.w;
    w.begin();
    w.time('@timestamp', this.refTs);
    w.json('ecs', ECS_JSON);
    w.json('observer', observerJson(this.ctx));
    w.open('event');
    // the same object described on the same day gets the same id in every stream and resend
    w.str('id', eventId(`${kind}|${key}|${day}`));
    w.json('kind', '"event"');
    w.json('category', '["network"]');
    w.json('type', '["info"]');
    w.str('dataset', `ndr.${kind}`);
    w.close();
    write(obj, w);
    (this.onRef as (json: string, kind: string, key: string) => void)(w.end(), kind, key);
  }

  alert(a: Alert): string {
    return this.w.object(alertDoc(a, this.ctx));
  }

  flood(f: FloodSummary): string {
    return this.w.object(floodDoc(f, this.ctx));
  }
}

