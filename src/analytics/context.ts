/**
 * What every analytic receives besides the flow, and the helpers they share: process classes,
 * destination tests, "first seen" from the sensor baseline or the EDR, and the alert builder.
 *
 * Evidence weights (all analytics): each evidence item carries a weight in 0..1 saying how much it
 * contributed; confidence = min(0.99, Σ weights of the items that held), rounded to 2 places.
 * Severity is a points ladder documented in each analytic file.
 */
import { createHash } from 'node:crypto';
import type { BeaconInfo, Evidence, FlowRecord, ImageLoad } from '../flow/record.js';
import type { BaselineView } from '../baseline/store.js';
import { destinationKey, hostKey, imageKey, userKey } from '../baseline/store.js';
import { baseName } from '../util/path.js';
import type { AnalyticId, Alert, Severity } from './alert.js';
import type { ResolvedConfig } from './config.js';
import { isExternal } from './net.js';
import { tlsOf } from '../../dissectors/tls/record.js';

export interface AnalyticContext {
  readonly config: ResolvedConfig;
  readonly baseline: BaselineView;
  /** RITA v5 score of this flow's (host, destination, port) pair, null below the gates. */
  readonly beacon: BeaconInfo | null;
  /** TS-only cadence of the small records inside this flow, null below 4 records. */
  readonly recordBeacon: BeaconInfo | null;
}

export type Analytic = (flow: FlowRecord, ctx: AnalyticContext) => readonly Alert[];

/** What an analytic returns when it does not fire: one shared, frozen empty list (no allocation per flow). */
export const NO_ALERTS: readonly Alert[] = Object.freeze([]);

export type ProcessClass = 'browser' | 'browser_masquerade' | 'browser_like' | 'scripting' | 'unusual' | 'user_path_unsigned' | 'other' | 'unknown';

export function isUserWritable(pathLower: string, cfg: ResolvedConfig): boolean {
  return cfg.userWritablePaths.some((p) => pathLower.includes(p));
}

// Caches, one entry each: the five analytics ask the same questions about the same flow in a row.
let memoClassFlow: FlowRecord | null = null;
let memoClassCfg: ResolvedConfig | null = null;
let memoClass: ProcessClass = 'unknown';
let memoExtFlow: FlowRecord | null = null;
let memoExtCfg: ResolvedConfig | null = null;
let memoExt = false;

/** Classify the flow's process. A browser name outside the browser install paths is a masquerade. */
export function processClass(flow: FlowRecord, cfg: ResolvedConfig): ProcessClass {
  if (flow === memoClassFlow && cfg === memoClassCfg) return memoClass;
  memoClass = classify(flow, cfg);
  memoClassFlow = flow;
  memoClassCfg = cfg;
  return memoClass;
}

function classify(flow: FlowRecord, cfg: ResolvedConfig): ProcessClass {
  const exe = flow.attribution?.process?.executable;
  if (!exe) return 'unknown';
  const f = imageFacts(exe, cfg);
  if (f.named !== null) return f.named;
  if (flow.attribution?.process?.signed !== true && f.userWritable) return 'user_path_unsigned';
  return 'other';
}

/** What the config says about one executable path: worked out once per path, as images repeat across flows. */
interface ImageFacts {
  /** The class the file name decides (browser lists, LOLBins, scripting hosts), else null. */
  readonly named: ProcessClass | null;
  readonly userWritable: boolean;
  /** In the process allowlist (full path or file name). */
  readonly allowlisted: boolean;
}

/** Cache of ImageFacts by path under one config (a new config starts it afresh; bounded). */
const IMAGE_FACTS_MAX = 10_000;
let factsCfg: ResolvedConfig | null = null;
let facts = new Map<string, ImageFacts>();

/** Facts for a non-empty executable path under `cfg` (a new config starts a new memo). */
function imageFacts(exe: string, cfg: ResolvedConfig): ImageFacts {
  if (cfg !== factsCfg) {
    factsCfg = cfg;
    facts = new Map();
  }
  let f = facts.get(exe);
  if (f === undefined) {
    const p = exe.toLowerCase();
    const name = baseName(p).toLowerCase();
    let named: ProcessClass | null = null;
    if (cfg.sets.browsers.has(name)) named = cfg.browserPaths.some((bp) => p.includes(bp)) ? 'browser' : 'browser_masquerade';
    else if (cfg.sets.browserLike.has(name)) named = 'browser_like';
    else if (cfg.sets.unusual.has(name)) named = 'unusual';
    else if (cfg.sets.scripting.has(name)) named = 'scripting';
    f = { named, userWritable: named === null && isUserWritable(p, cfg), allowlisted: cfg.sets.allowProcesses.has(p) || cfg.sets.allowProcesses.has(name) };
    if (facts.size >= IMAGE_FACTS_MAX) facts.clear();
    facts.set(exe, f);
  }
  return f;
}

/** The destination name an analyst sees: SNI, else the DNS answer name. */
export function destinationName(flow: FlowRecord): string | null {
  return tlsOf(flow)?.sni ?? flow.dnsName ?? null;
}

export function isOutboundExternal(flow: FlowRecord, cfg: ResolvedConfig): boolean {
  if (flow === memoExtFlow && cfg === memoExtCfg) return memoExt;
  memoExt = isExternal(flow.server.ip, cfg.internal) && !isExternal(flow.client.ip, cfg.internal);
  memoExtFlow = flow;
  memoExtCfg = cfg;
  return memoExt;
}

// Cache, one entry: the allowlist answer for the last flow and config asked about.
let memoAllowFlow: FlowRecord | null = null;
let memoAllowCfg: ResolvedConfig | null = null;
let memoAllow = false;

/** Flows no analytic alerts on: allowlisted destinations or processes. */
export function isAllowlisted(flow: FlowRecord, cfg: ResolvedConfig): boolean {
  if (flow === memoAllowFlow && cfg === memoAllowCfg) return memoAllow;
  memoAllowFlow = flow;
  memoAllowCfg = cfg;
  memoAllow = false;
  if (cfg.allowDst.matchesFlow(flow.server.ip, tlsOf(flow)?.sni ?? null, flow.dnsName)) memoAllow = true;
  else {
    const exe = flow.attribution?.process?.executable;
    memoAllow = !!exe && imageFacts(exe, cfg).allowlisted;
  }
  return memoAllow;
}

export type BaselineSource = 'sensor' | 'edr' | 'none';

/** A "first seen" answer and who gave it. `novel` null = nobody knows. */
export interface Novelty {
  readonly novel: boolean | null;
  readonly source: BaselineSource;
}

// The answers are shared constants: no object per question.
const SENSOR_NOVEL: Novelty = Object.freeze({ novel: true, source: 'sensor' });
const SENSOR_KNOWN: Novelty = Object.freeze({ novel: false, source: 'sensor' });
const EDR_NOVEL: Novelty = Object.freeze({ novel: true, source: 'edr' });
const EDR_KNOWN: Novelty = Object.freeze({ novel: false, source: 'edr' });
const UNKNOWN: Novelty = Object.freeze({ novel: null, source: 'none' });

/**
 * Is this destination unfamiliar for the flow's host (or user)? The sensor baseline answers once
 * warm. Before that the EDR answers: its host→destination history when it reports one
 * (`hostDestinationSeen`); else an image with no network history has no familiar destination;
 * else an established non-scripting application with network history is taken to be using its
 * usual destinations (a backup agent, an updater); for scripting hosts, LOLBins and user-path
 * images the history says nothing about destinations, so the answer is unknown (null).
 */
export function destinationNovelty(flow: FlowRecord, ctx: AnalyticContext): Novelty {
  if (ctx.baseline.isWarm(flow.startTs)) {
    const dest = destinationKey(flow);
    const hostSeen = ctx.baseline.hostDestinationFirstSeen(hostKey(flow), dest) !== null;
    const user = userKey(flow);
    const userSeen = user ? ctx.baseline.userDestinationFirstSeen(user, dest) !== null : false;
    return !hostSeen && !userSeen ? SENSOR_NOVEL : SENSOR_KNOWN;
  }
  const a = flow.attribution;
  if (a?.hostDestinationSeen === true || a?.hostDestinationSeen === false) return a.hostDestinationSeen ? EDR_KNOWN : EDR_NOVEL;
  if (a?.imageNetworkHistory === false) return EDR_NOVEL;
  if (isSuspiciousClass(processClass(flow, ctx.config))) return UNKNOWN;
  if (a?.imageNetworkHistory === true) return EDR_KNOWN;
  return UNKNOWN;
}

export function isSuspiciousClass(c: ProcessClass): boolean {
  return c === 'scripting' || c === 'unusual' || c === 'user_path_unsigned' || c === 'browser_masquerade';
}

/** Has this image made network connections before (fleet-wide)? Sensor once warm, else the EDR. */
export function imageNetworkNovelty(flow: FlowRecord, ctx: AnalyticContext): Novelty {
  const image = imageKey(flow);
  if (image && ctx.baseline.isWarm(flow.startTs)) return ctx.baseline.imageNetworkFirstSeen(image) === null ? SENSOR_NOVEL : SENSOR_KNOWN;
  const h = flow.attribution?.imageNetworkHistory;
  if (h === true || h === false) return h ? EDR_KNOWN : EDR_NOVEL;
  return UNKNOWN;
}

/** A list entry with an extension matches exactly; without one it is a prefix (`libssl` → `libssl-3-x64.dll`). */
export function libraryMatches(name: string, entry: string): boolean {
  return /\.(dll|pyd|so)$/.test(entry) ? name === entry : name.startsWith(entry);
}

/** TLS/HTTP library loads into this process within `windowMs` before the flow, with their tier. */
export interface NetworkLibrary {
  load: ImageLoad;
  tier: 1 | 2;
  name: string;
}

const NO_LIBRARIES: readonly NetworkLibrary[] = Object.freeze([]);

export function recentNetworkLibraries(flow: FlowRecord, cfg: ResolvedConfig, windowMs: number): readonly NetworkLibrary[] {
  const loads = flow.attribution?.imageLoads;
  if (!loads || loads.length === 0) return NO_LIBRARIES;
  const out: NetworkLibrary[] = [];
  for (const l of loads) {
    if (l.ts > flow.startTs || flow.startTs - l.ts > windowMs) continue;
    const name = baseName(l.path).toLowerCase();
    if (cfg.tlsLibrariesT1.some((t) => libraryMatches(name, t))) out.push({ load: l, tier: 1, name });
    else if (cfg.tlsLibrariesT2.some((t) => libraryMatches(name, t))) out.push({ load: l, tier: 2, name });
  }
  return out;
}

/** Shannon entropy (bits per char) of a string. */
export function stringEntropy(s: string): number {
  if (!s) return 0;
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const c of counts.values()) {
    const p = c / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function isIpLiteral(name: string): boolean {
  return /^[0-9.]+$/.test(name) || name.includes(':');
}

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

/** Severity from a points ladder: 0 → low, 1 → medium, 2 → high, ≥3 → critical (clamped). */
export function severityFromPoints(points: number): Severity {
  return SEVERITIES[Math.max(0, Math.min(3, Math.floor(points)))]!;
}

export function confidenceFrom(evidence: readonly Evidence[]): number {
  let s = 0;
  for (const e of evidence) s += e.weight;
  return Math.round(Math.min(0.99, s) * 100) / 100;
}

/** The dedup key / alert id: analytic + host + process + destination. */
export function alertKey(analytic: AnalyticId, flow: FlowRecord): string {
  const proc = flow.attribution?.process?.executable?.toLowerCase() ?? '-';
  const dst = `${destinationName(flow)?.toLowerCase() ?? flow.server.ip}:${flow.server.port}`;
  return `${analytic}|${hostKey(flow)}|${proc}|${dst}`;
}

export function alertId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 24);
}

export interface AlertParts {
  analytic: AnalyticId;
  title: string;
  technique: string[];
  severity: Severity;
  evidence: Evidence[];
  explanation: string;
  baselineSource: BaselineSource;
}

export function buildAlert(flow: FlowRecord, p: AlertParts): Alert {
  return {
    kind: 'alert',
    id: alertId(alertKey(p.analytic, flow)),
    analytic: p.analytic,
    title: p.title,
    severity: p.severity,
    confidence: confidenceFrom(p.evidence),
    evidence: p.evidence,
    host: flow.attribution?.host ?? null,
    process: flow.attribution?.process ?? null,
    source: { ip: flow.client.ip, port: flow.client.port },
    destination: { ip: flow.server.ip, port: flow.server.port, name: destinationName(flow) },
    communityId: flow.communityId,
    flowId: flow.id,
    ts: flow.startTs,
    explanation: p.explanation,
    baselineSource: p.baselineSource,
    count: 1,
    mitre: { technique: p.technique },
  };
}

/** "powershell.exe (PID 4242) on WS01" for explanations. */
export function who(flow: FlowRecord): string {
  const p = flow.attribution?.process;
  const h = flow.attribution?.host?.name ?? flow.client.ip;
  const name = p?.name ?? (p?.executable ? baseName(p.executable).toLowerCase() : 'an unattributed process');
  return `${name}${p?.pid != null ? ` (PID ${p.pid})` : ''} on ${h}${p?.user ? ` as ${p.user}` : ''}`;
}

export function where(flow: FlowRecord): string {
  const n = destinationName(flow);
  return `${n ? `${n} ` : ''}${flow.server.ip}:${flow.server.port}`;
}
