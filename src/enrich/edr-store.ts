/**
 * The reference EDR's memory: Sysmon events indexed for the flow-to-process join
 * (EDR-ANALYTICS.md §1.2, §7 join recipe).
 *
 *  - processes by (host, ProcessGuid) with EID 1 data (start time from the GUID when EID 1 is missing)
 *  - EID 3 connections by protocol + unordered 4-tuple (both orders find it), `Initiated` kept
 *  - EID 7 loads per (host, ProcessGuid); EID 11/23/26 and archiver EID 1 per host; EID 22 per host
 *  - per host: IPs (from EID 3 local sides) and a running median of the clock offset
 *    (flow start − EID 3 UtcTime) learnt from tuple matches
 *
 * Clocks (§0): EID 3/22 UtcTime may lag the packets by a per-host constant while EIDs 1/5/7/11/23/26
 * agree with the packet clock. So the offset is applied to EID 3 times only; "before the flow" for
 * loads and file events is judged on the flow start plus a small slack.
 */
import { openSync, readSync, closeSync, fstatSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { SysmonEvent, SysmonParseStats, SysmonParseWarning } from './sysmon.js';
import { SysmonParser, processGuidHostId, processGuidStartMs } from './sysmon.js';
import type { FileEvent, ProcessInfo } from '../flow/record.js';
import { baseName } from '../util/path.js';
import { MapFront } from '../util/map-front.js';

/** Per-store bounds. */
export interface EdrStoreLimits {
  /** |flow start − EID 3 time| within this counts as an exact tuple match (ms). */
  exactWindowMs: number;
  /** With a known host offset: |flow start − offset − EID 3 time| within this matches (ms). */
  offsetWindowMs: number;
  /** With no host offset yet: widest lag accepted for a tuple match (ms). */
  maxOffsetMs: number;
  /** Slack for "before the flow" on the process-event clock (ms). */
  eventSlackMs: number;
  /** Staging window: file events this long before the flow are returned (ms). */
  stagingWindowMs: number;
  /** Image loads returned per result. */
  maxImageLoads: number;
  /** File events returned per result. */
  maxFileEvents: number;
  /** File events kept per host (oldest dropped). */
  maxHostFileEvents: number;
  /** Loads kept per process (oldest dropped). */
  maxLoadsPerProcess: number;
  /** Offset samples in the running median per host. */
  offsetSamples: number;
  /**
   * The store's memory bounds: EID 3 connections, processes, hosts and images kept (the oldest
   * added goes first), connections per 4-tuple, IPs per host and EID 3 times per image. A Sysmon
   * log of any size loads in memory set by these, not by the file.
   */
  maxConnections: number;
  maxConnectionsPerTuple: number;
  maxProcesses: number;
  maxHosts: number;
  maxHostIps: number;
  maxImages: number;
  maxImageTimes: number;
}

export const DEFAULT_EDR_LIMITS: EdrStoreLimits = {
  exactWindowMs: 5_000,
  offsetWindowMs: 5_000,
  maxOffsetMs: 14 * 86_400_000,
  eventSlackMs: 5_000,
  stagingWindowMs: 30 * 60_000,
  maxImageLoads: 64,
  maxFileEvents: 32,
  maxHostFileEvents: 4096,
  maxLoadsPerProcess: 512,
  offsetSamples: 63,
  maxConnections: 500_000,
  maxConnectionsPerTuple: 16,
  maxProcesses: 200_000,
  maxHosts: 16_384,
  maxHostIps: 64,
  maxImages: 65_536,
  maxImageTimes: 4096,
};

export type MatchKind = 'exact_tuple' | 'tuple_time_offset' | 'none';

export interface JoinQuery {
  transport: string; // 'tcp' | 'udp'
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  startTs: number; // flow start, packet clock, epoch ms
}

/** The process of a join answer: the record's own ProcessInfo shape. */
export type JoinProcess = ProcessInfo;

export interface JoinHost {
  name: string;
  id: string | null;
  os: string | null;
  ips: string[];
}

/** A staging event of a join answer: the record's own FileEvent shape. */
export type JoinFileEvent = FileEvent;

export interface JoinResult {
  match: MatchKind;
  host: JoinHost | null;
  process: JoinProcess | null;
  imageLoads: { path: string; ts: number; signed: boolean | null }[];
  fileEvents: JoinFileEvent[];
  imageNetworkHistory: boolean | null;
  clockOffsetMs: number | null;
}

interface Conn {
  host: HostState;
  guid: string | null;
  image: string | null;
  pid: number | null;
  user: string | null;
  ts: number;
  initiated: boolean | null;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

interface Proc {
  guid: string;
  pid: number | null;
  image: string | null;
  commandLine: string | null;
  user: string | null;
  parentGuid: string | null;
  parentImage: string | null;
  parentCommandLine: string | null;
  startTs: number | null;
  endTs: number | null;
  fromEid1: boolean;
  loads: { path: string; ts: number; signed: boolean | null; signature: string | null; status: string | null }[];
}

interface HostState {
  name: string;
  id: string | null;
  ips: Set<string>;
  offsets: number[]; // ring of recent samples
  offsetPos: number;
  offsetUpdates: number;
  median: number | null;
  fileEvents: JoinFileEvent[]; // kept in time order (approximately: input order, sorted on demand)
  fileSorted: boolean;
  dns: { ts: number; name: string; results: string | null; guid: string | null }[];
}

const LOAD_CHUNK_BYTES = 4 << 20;

const ARCHIVERS = new Set(['7z.exe', '7za.exe', '7zr.exe', '7zg.exe', 'rar.exe', 'winrar.exe', 'makecab.exe', 'tar.exe', 'compact.exe']);
const MAX_HOST_DNS = 4096;


/** Cache: normalised text of the IPv6 / v4-mapped addresses seen (bounded, cleared when full). */
const ipCache = new Map<string, string>();
const IPV4_RE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const MAX_IP_CACHE = 65_536;

/** Canonical IP text: v4-mapped v6 → v4, v6 compressed lowercase (Sysmon writes `fe80:0:0:0:…`). */
export function normalizeIp(ip: string): string {
  if (IPV4_RE.test(ip)) return ip;
  const hit = ipCache.get(ip);
  if (hit !== undefined) return hit;
  let out = ip.trim().toLowerCase();
  const pct = out.indexOf('%');
  if (pct !== -1) out = out.slice(0, pct);
  if (out.includes(':')) {
    const mapped = /^(?:0{0,4}:){0,5}(?:0{0,4}:)?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(out) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(out);
    if (mapped) out = mapped[1]!;
    else {
      try {
        out = new URL(`http://[${out}]/`).hostname.slice(1, -1);
      } catch {
        /* keep as is */
      }
    }
  }
  if (ipCache.size >= MAX_IP_CACHE) ipCache.clear();
  ipCache.set(ip, out);
  return out;
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip === '::' || ip === '0.0.0.0';
}

function tupleKey(proto: string, aIp: string, aPort: number, bIp: string, bPort: number): string {
  // Unordered: both orders of the same 4-tuple give the same key.
  const a = `${aIp}|${aPort}`;
  const b = `${bIp}|${bPort}`;
  return a < b ? `${proto}|${a}|${b}` : `${proto}|${b}|${a}`;
}

function lowerBound(arr: number[], x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface EdrStoreStats {
  events: number;
  processes: number;
  connections: number;
  hosts: number;
  /** Entries dropped to stay within the limits (connections, processes, hosts, images). */
  evicted: number;
  joins: number;
  exact: number;
  offset: number;
  noMatch: number;
  parse: SysmonParseStats;
}

export class EdrStore {
  readonly limits: EdrStoreLimits;
  private readonly hosts = new Map<string, HostState>();
  private readonly procs = new Map<string, Proc>();
  private readonly conns = new Map<string, Conn | Conn[]>();
  private readonly hostsFront = new MapFront(this.hosts);
  private readonly procsFront = new MapFront(this.procs);
  private readonly connsFront = new MapFront(this.conns);
  private readonly hostByIp = new Map<string, HostState>();
  /** Per image (lowercase path): sorted EID 3 times. */
  private readonly imageNet = new Map<string, number[]>();
  private readonly imageNetFront = new MapFront(this.imageNet);
  private readonly imageNetDirty = new Set<string>();
  private connCount = 0;
  private evicted = 0;
  private eventCount = 0;
  private joinStats = { joins: 0, exact: 0, offset: 0, noMatch: 0 };
  readonly parseStats: SysmonParseStats = { lines: 0, events: 0, ignoredEids: 0, notSysmon: 0, malformed: 0 };
  readonly warnings: SysmonParseWarning[] = [];
  private readonly followers: (() => void)[] = [];

  constructor(limits: Partial<EdrStoreLimits> = {}) {
    this.limits = { ...DEFAULT_EDR_LIMITS, ...limits };
  }

  private hostState(name: string): HostState {
    const key = name.toLowerCase();
    let h = this.hosts.get(key);
    if (!h) {
      h = { name, id: null, ips: new Set(), offsets: [], offsetPos: 0, offsetUpdates: 0, median: null, fileEvents: [], fileSorted: true, dns: [] };
      this.hosts.set(key, h);
      if (this.hosts.size > this.limits.maxHosts) this.evictHost();
    }
    return h;
  }

  private proc(h: HostState, guid: string): Proc {
    const key = `${h.name.toLowerCase()}|${guid.toLowerCase()}`;
    let p = this.procs.get(key);
    if (!p) {
      p = {
        guid,
        pid: null,
        image: null,
        commandLine: null,
        user: null,
        parentGuid: null,
        parentImage: null,
        parentCommandLine: null,
        startTs: processGuidStartMs(guid),
        endTs: null,
        fromEid1: false,
        loads: [],
      };
      this.procs.set(key, p);
      if (this.procs.size > this.limits.maxProcesses) {
        // Maps iterate in insertion order: the first key is the process seen longest ago.
        const first = this.procsFront.take();
        if (first !== undefined) { this.procs.delete(first); this.evicted++; }
      }
    }
    return p;
  }

  private getProc(h: HostState, guid: string | null): Proc | undefined {
    if (!guid) return undefined;
    return this.procs.get(`${h.name.toLowerCase()}|${guid.toLowerCase()}`);
  }

  private pushFileEvent(h: HostState, fe: JoinFileEvent): void {
    const list = h.fileEvents;
    if (list.length > 0 && list[list.length - 1]!.ts > fe.ts) h.fileSorted = false;
    list.push(fe);
    if (list.length > this.limits.maxHostFileEvents) list.splice(0, list.length - this.limits.maxHostFileEvents);
  }

  /** Adds one normalised event. */
  add(ev: SysmonEvent): void {
    this.eventCount++;
    const h = this.hostState(ev.host);
    if (!h.id) h.id = processGuidHostId(ev.processGuid);
    const p = ev.processGuid ? this.proc(h, ev.processGuid) : undefined;
    if (p) {
      if (ev.pid !== null && p.pid === null) p.pid = ev.pid;
      if (ev.image && !p.image) p.image = ev.image;
      if (ev.user && !p.user) p.user = ev.user;
    }
    switch (ev.eid) {
      case 1: {
        if (p) {
          p.fromEid1 = true;
          p.pid = ev.pid ?? p.pid;
          p.image = ev.image ?? p.image;
          p.commandLine = ev.commandLine;
          p.user = ev.user ?? p.user;
          p.parentGuid = ev.parentProcessGuid;
          p.parentImage = ev.parentImage;
          p.parentCommandLine = ev.parentCommandLine;
          p.startTs = ev.ts;
        }
        const base = ev.image ? baseName(ev.image).toLowerCase() : '';
        const orig = (ev.originalFileName ?? '').toLowerCase();
        const isPsArchive = /powershell|pwsh/.test(base) && /compress-archive/i.test(ev.commandLine ?? '');
        if (ARCHIVERS.has(base) || ARCHIVERS.has(orig) || isPsArchive) {
          this.pushFileEvent(h, { path: ev.image ?? base, ts: ev.ts, processEntityId: ev.processGuid, image: ev.image, kind: 'archiver_run' });
        }
        break;
      }
      case 5:
        if (p) p.endTs = ev.ts;
        break;
      case 3:
        this.addConn(h, ev);
        break;
      case 7:
        if (p && ev.imageLoaded) {
          p.loads.push({ path: ev.imageLoaded, ts: ev.ts, signed: ev.signed, signature: ev.signature, status: ev.signatureStatus });
          if (p.loads.length > this.limits.maxLoadsPerProcess) p.loads.splice(0, p.loads.length - this.limits.maxLoadsPerProcess);
        }
        break;
      case 11:
      case 23:
      case 26:
        if (ev.targetFilename) {
          this.pushFileEvent(h, {
            path: ev.targetFilename,
            ts: ev.ts,
            processEntityId: ev.processGuid,
            image: ev.image,
            kind: ev.eid === 11 ? 'file_create' : 'file_delete',
          });
        }
        break;
      case 22:
        if (ev.queryName) {
          h.dns.push({ ts: ev.ts, name: ev.queryName, results: ev.queryResults, guid: ev.processGuid });
          if (h.dns.length > MAX_HOST_DNS) h.dns.splice(0, h.dns.length - MAX_HOST_DNS);
        }
        break;
      default:
        break;
    }
  }

  private addConn(h: HostState, ev: SysmonEvent): void {
    const srcIp = normalizeIp(ev.srcIp!);
    const dstIp = normalizeIp(ev.dstIp!);
    const c: Conn = {
      host: h,
      guid: ev.processGuid,
      image: ev.image,
      pid: ev.pid,
      user: ev.user,
      ts: ev.ts,
      initiated: ev.initiated,
      srcIp,
      srcPort: ev.srcPort!,
      dstIp,
      dstPort: ev.dstPort!,
    };
    const key = tupleKey(ev.protocol!, srcIp, c.srcPort, dstIp, c.dstPort);
    const prev = this.conns.get(key);
    if (prev === undefined) this.conns.set(key, c);
    else if (Array.isArray(prev)) {
      prev.push(c);
      if (prev.length > this.limits.maxConnectionsPerTuple) { prev.shift(); this.connCount--; this.evicted++; }
    } else this.conns.set(key, [prev, c]);
    this.connCount++;
    while (this.connCount > this.limits.maxConnections) this.evictOldestTuple();
    // Host IPs: the local side of the connection.
    const local = ev.initiated === false ? dstIp : ev.initiated === true ? srcIp : null;
    if (local && !isLoopback(local) && !local.startsWith('fe80:')) {
      if (!h.ips.has(local) && h.ips.size < this.limits.maxHostIps) h.ips.add(local);
      if (!this.hostByIp.has(local)) this.hostByIp.set(local, h);
    }
    if (ev.image) {
      const ik = ev.image.toLowerCase();
      let arr = this.imageNet.get(ik);
      if (!arr) {
        arr = [];
        this.imageNet.set(ik, arr);
        if (this.imageNet.size > this.limits.maxImages) {
          const first = this.imageNetFront.take();
          if (first !== undefined) { this.imageNet.delete(first); this.imageNetDirty.delete(first); this.evicted++; }
        }
      }
      if (arr.length > 0 && arr[arr.length - 1]! > ev.ts) this.imageNetDirty.add(ik);
      arr.push(ev.ts);
      // History asks "any connection before the flow": the earliest times matter, so the latest
      // are dropped (in one cut per doubling, not one shift per event).
      if (arr.length >= 2 * this.limits.maxImageTimes) {
        if (this.imageNetDirty.has(ik)) { arr.sort((a, b) => a - b); this.imageNetDirty.delete(ik); }
        arr.length = this.limits.maxImageTimes;
      }
    }
  }

  private evictOldestTuple(): void {
    const key = this.connsFront.take();
    if (key === undefined) { this.connCount = 0; return; }
    const v = this.conns.get(key)!;
    this.conns.delete(key);
    const n = Array.isArray(v) ? v.length : 1;
    this.connCount -= n;
    this.evicted += n;
  }

  private evictHost(): void {
    const key = this.hostsFront.take();
    if (key === undefined) return;
    const h = this.hosts.get(key)!;
    this.hosts.delete(key);
    for (const ip of h.ips) if (this.hostByIp.get(ip) === h) this.hostByIp.delete(ip);
    this.evicted++;
  }

  private imageTimes(image: string): number[] | undefined {
    const ik = image.toLowerCase();
    const arr = this.imageNet.get(ik);
    if (arr && this.imageNetDirty.has(ik)) {
      arr.sort((a, b) => a - b);
      this.imageNetDirty.delete(ik);
    }
    return arr;
  }

  private recordOffset(h: HostState, sample: number): void {
    const n = this.limits.offsetSamples;
    if (h.offsets.length < n) h.offsets.push(sample);
    else {
      h.offsets[h.offsetPos] = sample;
      h.offsetPos = (h.offsetPos + 1) % n;
    }
    // Once the window is full, the median moves slowly: recompute every 8th sample.
    if (h.offsets.length < n || ++h.offsetUpdates % 8 === 0) {
      const sorted = h.offsets.slice().sort((a, b) => a - b);
      h.median = sorted[sorted.length >> 1]!;
    }
  }

  /** The running median clock offset of a host (flow time − EID 3 time, ms), or null. */
  hostOffset(host: string): number | null {
    return this.hosts.get(host.toLowerCase())?.median ?? null;
  }

  /** Joins one flow (EDR-ANALYTICS.md §7). */
  join(q: JoinQuery): JoinResult {
    this.joinStats.joins++;
    const L = this.limits;
    const proto = q.transport.toLowerCase();
    const cIp = normalizeIp(q.clientIp);
    const sIp = normalizeIp(q.serverIp);
    const found = this.conns.get(tupleKey(proto, cIp, q.clientPort, sIp, q.serverPort));
    const cands: Conn[] = found === undefined ? [] : Array.isArray(found) ? found : [found];
    let best: Conn | null = null;
    let bestRank = Number.POSITIVE_INFINITY;
    let bestDist = Number.POSITIVE_INFINITY;
    let bestKind: MatchKind = 'none';
    for (const c of cands) {
      const sameDir = c.srcIp === cIp && c.srcPort === q.clientPort;
      // Prefer the initiating process on the client's host, then the accepting process on the server's host.
      const rank = sameDir ? (c.initiated === false ? 1 : 0) : 2;
      const delta = q.startTs - c.ts;
      const off = c.host.median;
      let kind: MatchKind = 'none';
      let dist: number;
      if (Math.abs(delta) <= L.exactWindowMs) {
        kind = 'exact_tuple';
        dist = Math.abs(delta - (off !== null && Math.abs(off) <= L.exactWindowMs ? off : 0));
      } else if (off !== null && Math.abs(delta - off) <= L.offsetWindowMs) {
        kind = 'tuple_time_offset';
        dist = Math.abs(delta - off);
      } else if (off === null && Math.abs(delta) <= L.maxOffsetMs) {
        kind = 'tuple_time_offset';
        dist = Math.abs(delta) + L.maxOffsetMs; // widened window: worse than any windowed match
      } else continue;
      if (rank < bestRank || (rank === bestRank && dist < bestDist)) {
        best = c;
        bestRank = rank;
        bestDist = dist;
        bestKind = kind;
      }
    }
    if (!best) {
      this.joinStats.noMatch++;
      const h = this.hostByIp.get(cIp) ?? null;
      return {
        match: 'none',
        host: h ? this.hostInfo(h) : null,
        process: null,
        imageLoads: [],
        fileEvents: [],
        imageNetworkHistory: null,
        clockOffsetMs: h?.median ?? null,
      };
    }
    if (bestKind === 'exact_tuple') this.joinStats.exact++;
    else this.joinStats.offset++;
    const h = best.host;
    this.recordOffset(h, q.startTs - best.ts);
    const p = this.getProc(h, best.guid);
    const image = p?.image ?? best.image;
    // Signature: EID 7 of the image itself (Sysmon logs the executable's own load).
    let signed: boolean | null = null;
    let signature: string | null = null;
    let signatureStatus: string | null = null;
    const flowCut = q.startTs + L.eventSlackMs;
    const loads: JoinResult['imageLoads'] = [];
    if (p) {
      for (const l of p.loads) {
        if (image && l.path.toLowerCase() === image.toLowerCase()) {
          signed = l.signed;
          signature = l.signature;
          signatureStatus = l.status;
        }
        if (l.ts <= flowCut) loads.push({ path: l.path, ts: l.ts, signed: l.signed });
      }
      if (loads.length > L.maxImageLoads) loads.splice(0, loads.length - L.maxImageLoads);
    }
    // File events on that host in the staging window before the flow.
    if (!h.fileSorted) {
      h.fileEvents.sort((a, b) => a.ts - b.ts);
      h.fileSorted = true;
    }
    const files: JoinFileEvent[] = [];
    const from = q.startTs - L.stagingWindowMs;
    for (let i = h.fileEvents.length - 1; i >= 0 && files.length < L.maxFileEvents; i--) {
      const f = h.fileEvents[i]!;
      if (f.ts > flowCut) continue;
      if (f.ts < from) break;
      files.push(f);
    }
    files.reverse();
    // Network history of the image (any host): an EID 3 strictly before this connection's own EID 3.
    let history: boolean | null = null;
    if (image) {
      const times = this.imageTimes(image);
      history = times ? lowerBound(times, best.ts) > 0 : false;
    }
    return {
      match: bestKind,
      host: this.hostInfo(h),
      process: {
        entityId: best.guid,
        pid: p?.pid ?? best.pid,
        executable: image,
        name: image ? baseName(image) : null,
        commandLine: p?.commandLine ?? null,
        user: p?.user ?? best.user,
        parentExecutable: p?.parentImage ?? null,
        parentCommandLine: p?.parentCommandLine ?? null,
        signed,
        signature,
        signatureStatus,
        startTs: p?.startTs ?? processGuidStartMs(best.guid),
      },
      imageLoads: loads,
      fileEvents: files,
      imageNetworkHistory: history,
      clockOffsetMs: h.median,
    };
  }

  private hostInfo(h: HostState): JoinHost {
    return { name: h.name, id: h.id, os: 'windows', ips: [...h.ips] };
  }

  /**
   * Adds every event of a file, streamed in chunks (a log can be larger than any string V8
   * allows, and memory should follow the store's limits, not the file); returns the parser's
   * stats for that file.
   */
  loadFile(path: string): SysmonParseStats {
    const parser = new SysmonParser(path, (e) => this.add(e));
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.allocUnsafe(LOAD_CHUNK_BYTES);
      // A UTF-8 character cut by a chunk boundary is held back until the next chunk completes it.
      const text = new StringDecoder('utf8');
      for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null)) {
        parser.push(text.write(buf.subarray(0, n)));
      }
      parser.push(text.end());
    } finally {
      closeSync(fd);
    }
    parser.end();
    this.mergeParse(parser);
    return parser.stats;
  }

  /** Adds events from text (tests, stdin). */
  loadText(text: string, source = 'input'): SysmonParseStats {
    const parser = new SysmonParser(source, (e) => this.add(e));
    parser.push(text);
    parser.end();
    this.mergeParse(parser);
    return parser.stats;
  }

  private mergeParse(p: SysmonParser, base?: SysmonParseStats, warnFrom = 0): void {
    const s = this.parseStats;
    const b = base ?? { lines: 0, events: 0, ignoredEids: 0, notSysmon: 0, malformed: 0 };
    s.lines += p.stats.lines - b.lines;
    s.events += p.stats.events - b.events;
    s.ignoredEids += p.stats.ignoredEids - b.ignoredEids;
    s.notSysmon += p.stats.notSysmon - b.notSysmon;
    s.malformed += p.stats.malformed - b.malformed;
    for (let i = warnFrom; i < p.warnings.length && this.warnings.length < 1000; i++) this.warnings.push(p.warnings[i]!);
  }

  /**
   * Follows a growing file (live use): reads what is there, then polls for appended bytes every
   * `intervalMs` and parses them. A file that shrinks is re-read from the start. Returns a stop function.
   */
  follow(path: string, intervalMs = 250): () => void {
    const parser = new SysmonParser(path, (e) => this.add(e));
    let offset = 0;
    let snapshot: SysmonParseStats = { ...parser.stats };
    let warnSeen = 0;
    const readMore = (): void => {
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        return; // not there (yet)
      }
      if (size < offset) offset = 0; // truncated / rotated
      if (size === offset) return;
      const fd = openSync(path, 'r');
      try {
        const len = fstatSync(fd).size - offset;
        const buf = Buffer.allocUnsafe(Math.min(len, 64 << 20));
        const n = readSync(fd, buf, 0, buf.length, offset);
        offset += n;
        // Keep multi-byte characters whole: decode up to the last newline only.
        const lastNl = buf.lastIndexOf(10, n - 1);
        if (lastNl === -1) {
          offset -= n;
          return;
        }
        offset -= n - (lastNl + 1);
        parser.push(buf.toString('utf8', 0, lastNl + 1));
      } finally {
        closeSync(fd);
      }
      this.mergeParse(parser, snapshot, warnSeen);
      snapshot = { ...parser.stats };
      warnSeen = parser.warnings.length;
    };
    readMore();
    // Poll size against our own offset (fs.watchFile compares consecutive stats and can miss a
    // write that lands between the first read and its first poll).
    const timer = setInterval(readMore, intervalMs);
    timer.unref();
    const stop = (): void => clearInterval(timer);
    this.followers.push(stop);
    return stop;
  }

  /** Stops following files. */
  close(): void {
    for (const stop of this.followers.splice(0)) stop();
  }

  stats(): EdrStoreStats {
    return {
      events: this.eventCount,
      processes: this.procs.size,
      connections: this.connCount,
      evicted: this.evicted,
      hosts: this.hosts.size,
      ...this.joinStats,
      parse: { ...this.parseStats },
    };
  }

  /** Host names with their current offset (diagnostics). */
  offsets(): { host: string; offsetMs: number | null; samples: number }[] {
    return [...this.hosts.values()].map((h) => ({ host: h.name, offsetMs: h.median, samples: h.offsets.length }));
  }
}
