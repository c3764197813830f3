/**
 * Conversions between the record types (src/flow/record.ts: attribution, host, process) and the
 * ndr.v1 protobuf messages, and the packing of typed protocol sections as google.protobuf.Any.
 * The flow and alert messages of the SIEM feed are built in src/output/siem-records.ts.
 */
import type { Attribution, FileEvent, HostInfo, ProcessInfo } from '../flow/record.js';
import { google, ndr } from '../gen/ndr.js';

const MQ = ndr.v1.MatchQuality;
const FK = ndr.v1.FileEventKind;

const FILE_KIND_TO_PB: Record<FileEvent['kind'], number> = {
  file_create: FK.FILE_EVENT_KIND_FILE_CREATE,
  archiver_run: FK.FILE_EVENT_KIND_ARCHIVER_RUN,
  file_delete: FK.FILE_EVENT_KIND_FILE_DELETE,
};

function nz(s: string | null | undefined): string | null {
  return s === undefined || s === null || s === '' ? null : s;
}

function numOrNull(n: number | null | undefined): number | null {
  return n === undefined || n === null || n === 0 ? null : n;
}

// ---------------------------------------------------------------- EDR result

/** What the EDR's join answers for one flow (the attribution without the sensor's verdict). */
export type JoinedAttribution = Omit<Attribution, 'status' | 'reason' | 'hostDestinationSeen'>;

export function joinResultToPb(requestId: number, r: JoinedAttribution): ndr.v1.IEnrichResult {
  const out: ndr.v1.IEnrichResult = {
    requestId,
    match: r.match === 'exact_tuple' ? MQ.MATCH_QUALITY_EXACT_TUPLE : r.match === 'tuple_time_offset' ? MQ.MATCH_QUALITY_TUPLE_TIME_OFFSET : MQ.MATCH_QUALITY_UNSPECIFIED,
    imageLoads: r.imageLoads.map((l) => (l.signed === null ? { path: l.path, tsMs: l.ts } : { path: l.path, tsMs: l.ts, signed: l.signed })),
    fileEvents: r.fileEvents.map((f) => ({
      path: f.path,
      tsMs: f.ts,
      processEntityId: f.processEntityId ?? '',
      image: f.image ?? '',
      kind: FILE_KIND_TO_PB[f.kind],
    })),
  };
  if (r.host) out.host = hostToPb(r.host);
  if (r.process) out.process = processToPb(r.process);
  if (r.imageNetworkHistory !== null) out.imageNetworkHistory = r.imageNetworkHistory;
  if (r.clockOffsetMs !== null) out.clockOffsetMs = r.clockOffsetMs;
  return out;
}

export function hostToPb(h: HostInfo | { name: string | null; id: string | null; os: string | null; ips: string[] }): ndr.v1.IHost {
  return { name: h.name ?? '', id: h.id ?? '', os: h.os ?? '', ips: h.ips };
}

export function processToPb(p: ProcessInfo): ndr.v1.IProcess {
  const out: ndr.v1.IProcess = {
    entityId: p.entityId ?? '',
    pid: p.pid ?? 0,
    executable: p.executable ?? '',
    name: p.name ?? '',
    commandLine: p.commandLine ?? '',
    user: p.user ?? '',
    parentExecutable: p.parentExecutable ?? '',
    parentCommandLine: p.parentCommandLine ?? '',
    signature: p.signature ?? '',
    signatureStatus: p.signatureStatus ?? '',
    startTsMs: p.startTs ?? 0,
  };
  if (p.signed !== null) out.signed = p.signed;
  return out;
}

export function hostFromPb(h: ndr.v1.IHost | null | undefined): HostInfo | null {
  if (!h) return null;
  return { name: nz(h.name), id: nz(h.id), os: nz(h.os), ips: h.ips ? [...h.ips] : [] };
}

export function processFromPb(p: ndr.v1.IProcess | null | undefined): ProcessInfo | null {
  if (!p) return null;
  return {
    entityId: nz(p.entityId),
    pid: numOrNull(p.pid),
    executable: nz(p.executable),
    name: nz(p.name),
    commandLine: nz(p.commandLine),
    user: nz(p.user),
    parentExecutable: nz(p.parentExecutable),
    parentCommandLine: nz(p.parentCommandLine),
    signed: p.signed ?? null,
    signature: nz(p.signature),
    signatureStatus: nz(p.signatureStatus),
    startTs: numOrNull(p.startTsMs),
  };
}

const FILE_KIND_FROM_PB: Record<number, FileEvent['kind']> = {
  [FK.FILE_EVENT_KIND_FILE_CREATE]: 'file_create',
  [FK.FILE_EVENT_KIND_ARCHIVER_RUN]: 'archiver_run',
  [FK.FILE_EVENT_KIND_FILE_DELETE]: 'file_delete',
};

/** EDR answer → the flow's Attribution. */
export function attributionFromPb(r: ndr.v1.IEnrichResult): Attribution {
  const match = r.match === MQ.MATCH_QUALITY_EXACT_TUPLE ? 'exact_tuple' : r.match === MQ.MATCH_QUALITY_TUPLE_TIME_OFFSET ? 'tuple_time_offset' : 'none';
  const process = processFromPb(r.process);
  const attributed = match !== 'none' && process !== null;
  return {
    status: attributed ? 'attributed' : 'unattributed',
    reason: attributed ? null : 'no_match',
    match: attributed ? match : 'none',
    host: hostFromPb(r.host),
    process,
    imageLoads: (r.imageLoads ?? []).map((l) => ({ path: l.path ?? '', ts: l.tsMs ?? 0, signed: l.signed ?? null })),
    fileEvents: (r.fileEvents ?? []).map((f) => ({
      path: f.path ?? '',
      ts: f.tsMs ?? 0,
      processEntityId: nz(f.processEntityId),
      image: nz(f.image),
      kind: FILE_KIND_FROM_PB[f.kind ?? 0] ?? 'file_create',
    })),
    imageNetworkHistory: r.imageNetworkHistory ?? null,
    clockOffsetMs: r.clockOffsetMs ?? null,
  };
}

export function unattributed(reason: Exclude<Attribution['reason'], null>): Attribution {
  return {
    status: 'unattributed',
    reason,
    match: 'none',
    host: null,
    process: null,
    imageLoads: [],
    fileEvents: [],
    imageNetworkHistory: null,
    clockOffsetMs: null,
  };
}

// ---------------------------------------------------------------- SIEM feed

export function attributionToPb(a: Attribution): ndr.v1.IFlowAttribution {
  const out: ndr.v1.IFlowAttribution = {
    status: a.status,
    reason: a.reason ?? '',
    match: a.match === 'exact_tuple' ? MQ.MATCH_QUALITY_EXACT_TUPLE : a.match === 'tuple_time_offset' ? MQ.MATCH_QUALITY_TUPLE_TIME_OFFSET : MQ.MATCH_QUALITY_UNSPECIFIED,
    imageLoads: a.imageLoads.map((l) => (l.signed === null ? { path: l.path, tsMs: l.ts } : { path: l.path, tsMs: l.ts, signed: l.signed })),
    fileEvents: a.fileEvents.map((f) => ({ path: f.path, tsMs: f.ts, processEntityId: f.processEntityId ?? '', image: f.image ?? '', kind: FILE_KIND_TO_PB[f.kind] })),
  };
  if (a.host) out.host = hostToPb(a.host);
  if (a.process) out.process = processToPb(a.process);
  if (a.imageNetworkHistory !== null) out.imageNetworkHistory = a.imageNetworkHistory;
  if (a.clockOffsetMs !== null) out.clockOffsetMs = a.clockOffsetMs;
  return out;
}

// ---------------------------------------------------------------- typed sections (Any)

/** Where a packed section's message type is named: the common prefix of protobuf type URLs. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export interface PbMessageType {
  fromObject(o: Record<string, unknown>): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o?: Record<string, unknown>): Record<string, unknown>;
}

export class UnknownMessageTypeError extends Error {
  override readonly name = 'UnknownMessageTypeError';
}

/** A generated message class by its full name ('ndr.v1.Tls'). */
export function messageType(fullName: string): PbMessageType {
  let node: unknown = { ndr };
  for (const part of fullName.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  const t = node as Partial<PbMessageType> | undefined;
  if (t === undefined || typeof t.encode !== 'function' || typeof t.fromObject !== 'function') throw new UnknownMessageTypeError(`no generated protobuf message '${fullName}'`);
  return t as PbMessageType;
}

/** The sections of a received flow, decoded by their type URLs (plain objects, camelCase). */
export function appsFromPb(apps: readonly google.protobuf.IAny[] | null | undefined): { type: string; message: Record<string, unknown> }[] {
  return (apps ?? []).map((a) => {
    const type = (a.type_url ?? '').slice(TYPE_URL_PREFIX.length);
    const t = messageType(type);
    return { type, message: t.toObject(t.decode(a.value ?? new Uint8Array(0)), { longs: Number, defaults: false }) };
  });
}

