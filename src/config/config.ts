/**
 * sensor.yaml: schema, defaults, loader and validator (DESIGN §5, §6; deploy/sensor.yaml is the
 * commented sample). Every problem is reported as one line naming the key:
 *   config: edr.endpoint: expected host:port, got "x"
 * Unknown keys are errors. The `analytics` section is validated by src/analytics/config.ts.
 * `reloadConfig` applies the reloadable subset (analytics lists and allowlists) on SIGHUP.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { lazyRequire } from '../util/lazy-require.js';
import { validateAnalyticsConfig, type AnalyticsConfig } from '../analytics/config.js';
import { DEFAULT_SECRET_QUERY_NAMES } from '../util/redact.js';
import { DEFAULT_STATE_LIMITS, type StateLimits } from '../util/state.js';
import { OUTPUT_DETAILS, type OutputDetail } from '../output/json.js';
import { DEFAULT_FLOOD_OPTIONS, type FloodOptions } from '../runtime/flood.js';

/**
 * The YAML parser, loaded on the first config file read: only `run` reads one. A sync load keeps
 * loadConfig sync.
 */
const yaml = lazyRequire<typeof import('yaml')>('yaml');
function parseYaml(text: string, opts: import('yaml').ParseOptions & import('yaml').DocumentOptions & import('yaml').SchemaOptions): unknown {
  return yaml().parse(text, opts);
}

export interface TlsFiles {
  /** CA bundle that signs the peer's certificate. */
  ca: string;
  /** Our client certificate and key (mTLS). */
  cert: string;
  key: string;
  /** Name expected in the peer's certificate (default: the endpoint host). */
  serverName: string;
}

export interface SensorConfig {
  /** workers: flow threads sharded by flow hash (1 = everything on the main thread). */
  /**
   * id: the sensor's identity on the SIEM feed (and in EDR requests), stable across restarts;
   * with mTLS it must equal the CN of the sensor's client certificate. Default: the host name.
   */
  sensor: { id: string; hostName: string; workers: number };
  capture: {
    interfaces: string[];
    source: 'ebpf' | 'pcap' | 'auto';
    /** libpcap BPF filter ('' = everything). */
    filter: string;
    bufferMiB: number;
    snapLen: number;
    forwardPacketsPerDir: number;
    forwardBytesPerDir: number;
    /** '' = spawn the loader found next to the sensor (bpf/build or /usr/lib/ndr-sensor). */
    loaderPath: string;
    /** Non-empty: connect to a loader started by systemd (ndr-sensor-loader.service) here. */
    loaderSocket: string;
    /** What to do when the loader dies: restart it (spawn mode) or exit non-zero. */
    onLoaderExit: 'restart' | 'exit';
  };
  limits: {
    maxFlows: number;
    /** JS heap (MiB) live state may fill before the flow table sheds flows (0: off). */
    heapMemcapMiB: number;
    reassemblyDepthBytes: number;
    tcpIdleTimeoutMs: number;
    udpIdleTimeoutMs: number;
    finLingerMs: number;
    /** Which bytes overlapping IP fragments leave (src/decode/fragments.ts). */
    fragmentOverlap: 'first' | 'last' | 'drop';
  };
  edr: { enabled: boolean; endpoint: string; tls: TlsFiles | null; timeoutMs: number; maxBatchDelayMs: number };
  siem: { enabled: boolean; endpoint: string; tls: TlsFiles | null; batchSize: number; flushIntervalMs: number };
  /** OpenTelemetry out: flows and alerts as OTLP log records (spooled under spool.dir/otlp). */
  otlp: { enabled: boolean; protocol: 'grpc' | 'http'; endpoint: string; tls: TlsFiles | null; batchSize: number; flushIntervalMs: number };
  spool: { dir: string; maxMiB: number };
  /** `store`: the fleet's Redis (redis://host:port, or a list of cluster seeds host:port); empty = lmdb at `path`. */
  baselines: { path: string; store: string[] };
  fingerprints: { ja4Plus: boolean };
  /** Dissectors turned off by name (their flows are still tracked and counted). */
  dissectors: { disabled: string[] };
  metrics: { listen: string };
  /** redactQueryNames: query parameters whose values never leave the sensor (see src/util/redact.ts). */
  output: { jsonLines: string; redactQueryNames: string[]; detail: OutputDetail };
  /** Bounds of the per-key structures after the flow table (src/util/state.ts). */
  state: StateLimits;
  /** Flood shedding (src/runtime/flood.ts). */
  flood: FloodOptions;
  analytics: AnalyticsConfig;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/** Flows tracked at once unless limits.maxFlows (or replay --max-flows) says otherwise. */
export const DEFAULT_MAX_FLOWS = 262_144;

/**
 * The default memcap. V8 lets the heap grow to two or more times what is alive before its next
 * full collection, and the process adds code, buffers and native memory beside the heap: 320 MiB
 * of live state keeps the whole process under 1 GiB however the flows are made.
 */
export const DEFAULT_HEAP_MEMCAP_MIB = 320;

export function defaultConfig(): SensorConfig {
  return {
    sensor: { id: hostname(), hostName: hostname(), workers: 1 },
    capture: {
      interfaces: [],
      source: 'auto',
      filter: '',
      bufferMiB: 32,
      snapLen: 1600,
      forwardPacketsPerDir: 8,
      forwardBytesPerDir: 16384,
      loaderPath: '',
      loaderSocket: '',
      onLoaderExit: 'exit',
    },
    limits: {
      maxFlows: DEFAULT_MAX_FLOWS,
      heapMemcapMiB: DEFAULT_HEAP_MEMCAP_MIB,
      reassemblyDepthBytes: 65536,
      tcpIdleTimeoutMs: 300_000,
      udpIdleTimeoutMs: 60_000,
      finLingerMs: 1000,
      fragmentOverlap: 'first',
    },
    edr: { enabled: false, endpoint: '127.0.0.1:50051', tls: null, timeoutMs: 2000, maxBatchDelayMs: 50 },
    siem: { enabled: false, endpoint: '127.0.0.1:50052', tls: null, batchSize: 500, flushIntervalMs: 1000 },
    otlp: { enabled: false, protocol: 'grpc', endpoint: '127.0.0.1:4317', tls: null, batchSize: 512, flushIntervalMs: 1000 },
    spool: { dir: '/var/lib/ndr-sensor/spool', maxMiB: 1024 },
    baselines: { path: '/var/lib/ndr-sensor/baselines', store: [] },
    fingerprints: { ja4Plus: false },
    dissectors: { disabled: [] },
    metrics: { listen: '127.0.0.1:9108' },
    output: { jsonLines: '', redactQueryNames: [...DEFAULT_SECRET_QUERY_NAMES], detail: 'lean' },
    state: { ...DEFAULT_STATE_LIMITS },
    flood: { ...DEFAULT_FLOOD_OPTIONS },
    analytics: validateAnalyticsConfig(undefined).config,
  };
}

// ───────────────────────── schema ─────────────────────────

type Field =
  | { t: 'string'; allowEmpty?: boolean }
  | { t: 'path' } // resolved against the config file's directory; '' allowed
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number }
  | { t: 'enum'; values: readonly string[] }
  | { t: 'hostport'; allowEmpty?: boolean }
  | { t: 'strings'; nonEmpty?: boolean }
  | { t: 'storeSpec' }
  | { t: 'tls' }
  | { t: 'section'; fields: Record<string, Field> };

const TLS_FIELDS: Record<string, Field> = {
  ca: { t: 'path' }, cert: { t: 'path' }, key: { t: 'path' }, serverName: { t: 'string', allowEmpty: true },
};

const MS_DAY = 86_400_000;
export const RINGBUF_MAX_MIB = 1024;
const SCHEMA: Record<string, Field> = {
  sensor: { t: 'section', fields: { id: { t: 'string' }, hostName: { t: 'string' }, workers: { t: 'int', min: 1, max: 256 } } },
  capture: {
    t: 'section',
    fields: {
      interfaces: { t: 'strings' },
      source: { t: 'enum', values: ['ebpf', 'pcap', 'auto'] },
      filter: { t: 'string', allowEmpty: true },
      // NDR_RINGBUF_MAX_MIB in bpf/flow.h: the eBPF ring is rounded up to a power of two and the
      // loader refuses more (locked kernel memory; its byte size must fit a 32-bit map size).
      bufferMiB: { t: 'int', min: 1, max: RINGBUF_MAX_MIB },
      snapLen: { t: 'int', min: 64, max: 2048 },
      forwardPacketsPerDir: { t: 'int', min: 0, max: 1_000_000 },
      forwardBytesPerDir: { t: 'int', min: 0, max: 1 << 30 },
      loaderPath: { t: 'path' },
      loaderSocket: { t: 'path' },
      onLoaderExit: { t: 'enum', values: ['restart', 'exit'] },
    },
  },
  limits: {
    t: 'section',
    fields: {
      maxFlows: { t: 'int', min: 1024, max: 1 << 26 },
      heapMemcapMiB: { t: 'int', min: 0, max: 1 << 20 },
      reassemblyDepthBytes: { t: 'int', min: 0, max: 1 << 30 },
      tcpIdleTimeoutMs: { t: 'int', min: 100, max: MS_DAY },
      udpIdleTimeoutMs: { t: 'int', min: 100, max: MS_DAY },
      finLingerMs: { t: 'int', min: 0, max: 600_000 },
      fragmentOverlap: { t: 'enum', values: ['first', 'last', 'drop'] },
    },
  },
  edr: {
    t: 'section',
    fields: {
      enabled: { t: 'bool' }, endpoint: { t: 'hostport' }, tls: { t: 'tls' },
      timeoutMs: { t: 'int', min: 1, max: 600_000 }, maxBatchDelayMs: { t: 'int', min: 0, max: 60_000 },
    },
  },
  siem: {
    t: 'section',
    fields: {
      enabled: { t: 'bool' }, endpoint: { t: 'hostport' }, tls: { t: 'tls' },
      batchSize: { t: 'int', min: 1, max: 100_000 }, flushIntervalMs: { t: 'int', min: 1, max: 600_000 },
    },
  },
  otlp: {
    t: 'section',
    fields: {
      enabled: { t: 'bool' }, protocol: { t: 'enum', values: ['grpc', 'http'] }, endpoint: { t: 'string' }, tls: { t: 'tls' },
      batchSize: { t: 'int', min: 1, max: 100_000 }, flushIntervalMs: { t: 'int', min: 1, max: 600_000 },
    },
  },
  spool: { t: 'section', fields: { dir: { t: 'path' }, maxMiB: { t: 'int', min: 1, max: 1 << 20 } } },
  baselines: { t: 'section', fields: { path: { t: 'path' }, store: { t: 'storeSpec' } } },
  fingerprints: { t: 'section', fields: { ja4Plus: { t: 'bool' } } },
  dissectors: { t: 'section', fields: { disabled: { t: 'strings' } } },
  metrics: { t: 'section', fields: { listen: { t: 'hostport', allowEmpty: true } } },
  output: { t: 'section', fields: { jsonLines: { t: 'path' }, redactQueryNames: { t: 'strings' }, detail: { t: 'enum', values: OUTPUT_DETAILS } } },
  state: {
    t: 'section',
    fields: {
      beaconPairs: { t: 'int', min: 1, max: 1 << 26 },
      beaconConnectionsPerPair: { t: 'int', min: 4, max: 86_400 },
      baselineKeys: { t: 'int', min: 1024, max: 1 << 28 },
      dnsNames: { t: 'int', min: 1, max: 1 << 26 },
      alertDedupKeys: { t: 'int', min: 1, max: 1 << 24 },
      edrCacheEntries: { t: 'int', min: 0, max: 1 << 26 },
      certificates: { t: 'int', min: 1, max: 1 << 24 },
      describedCertificates: { t: 'int', min: 1, max: 1 << 24 },
    },
  },
  flood: {
    t: 'section',
    fields: {
      enabled: { t: 'bool' },
      emptyFlowsPerSecond: { t: 'int', min: 0, max: 100_000_000 },
      intervalMs: { t: 'int', min: 1000, max: 3_600_000 },
      maxGroups: { t: 'int', min: 1, max: 1 << 24 },
      distinctMax: { t: 'int', min: 1, max: 1 << 24 },
    },
  },
};

/**
 * A key's value only when the document itself holds it: names such as `constructor`, `toString`
 * or `__proto__` are inherited by every object, and an `in` test or a plain read would take the
 * prototype's member for a setting.
 */
function own(o: Record<string, unknown>, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** host:port with a name, IPv4 or [IPv6] host and a port 1..65535. */
export function parseHostPort(s: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(s);
  if (!m) return null;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return null;
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  return { host, port };
}

interface Ctx {
  errors: string[];
  baseDir: string;
  checkFiles: boolean;
}

function check(key: string, f: Field, v: unknown, cur: unknown, ctx: Ctx, enabled: boolean): unknown {
  const bad = (what: string): unknown => { ctx.errors.push(`config: ${key}: expected ${what}, got ${show(v)}`); return cur; };
  switch (f.t) {
    case 'string':
      if (typeof v !== 'string') return bad('a string');
      if (!f.allowEmpty && v === '') return bad('a non-empty string');
      return v;
    case 'path': {
      if (typeof v !== 'string') return bad('a path');
      if (v === '') return v;
      return isAbsolute(v) ? v : resolve(ctx.baseDir, v);
    }
    case 'bool':
      if (typeof v !== 'boolean') return bad('true or false');
      return v;
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < f.min || v > f.max) return bad(`an integer in ${f.min}..${f.max}`);
      return v;
    case 'enum':
      if (typeof v !== 'string' || !f.values.includes(v)) return bad(f.values.join(' | '));
      return v;
    case 'hostport':
      if (typeof v !== 'string') return bad('host:port');
      if (v === '' && f.allowEmpty) return v;
      if (!parseHostPort(v)) return bad('host:port');
      return v;
    case 'storeSpec':
      // One redis:// URL, or a list of cluster seeds: both name the same kind of store ([] = LMDB).
      if (typeof v === 'string' && /^redis(-cluster)?:\/\/\S+$/.test(v)) return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' && /^(redis(-cluster)?:\/\/)?\S+:\d{1,5}$/.test(x))) return [...v];
      return bad('redis://host:port or a list of cluster seeds host:port');
    case 'strings':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) return bad('a list of non-empty strings');
      return [...v];
    case 'tls': {
      if (v === null) return null;
      if (typeof v !== 'object' || Array.isArray(v)) return bad('a mapping with ca, cert, key');
      const o = v as Record<string, unknown>;
      const out: TlsFiles = { ca: '', cert: '', key: '', serverName: '' };
      for (const k of Object.keys(o)) if (!Object.hasOwn(TLS_FIELDS, k)) ctx.errors.push(`config: ${key}.${k}: unknown key`);
      for (const k of ['ca', 'cert', 'key'] as const) {
        const val = own(o, k);
        if (val === undefined) { ctx.errors.push(`config: ${key}.${k}: required (mTLS needs ca, cert and key)`); continue; }
        const p = check(`${key}.${k}`, TLS_FIELDS[k] as Field, val, '', ctx, enabled) as string;
        if (p === '') ctx.errors.push(`config: ${key}.${k}: expected a path, got ""`);
        else if (ctx.checkFiles && enabled && !existsSync(p)) ctx.errors.push(`config: ${key}.${k}: file not found: ${p}`);
        out[k] = p;
      }
      if (own(o, 'serverName') !== undefined) out.serverName = check(`${key}.serverName`, TLS_FIELDS['serverName'] as Field, own(o, 'serverName'), '', ctx, enabled) as string;
      return out;
    }
    case 'section': {
      if (v === null) return cur;
      if (typeof v !== 'object' || Array.isArray(v)) return bad('a mapping');
      const o = v as Record<string, unknown>;
      const out = { ...(cur as Record<string, unknown>) };
      for (const k of Object.keys(o)) if (!Object.hasOwn(f.fields, k)) ctx.errors.push(`config: ${key}.${k}: unknown key`);
      const en = own(o, 'enabled') === undefined ? (out['enabled'] !== false) : own(o, 'enabled') === true;
      for (const [k, sub] of Object.entries(f.fields)) {
        const val = own(o, k);
        if (val === undefined) continue;
        out[k] = check(`${key}.${k}`, sub, val, out[k], ctx, en);
      }
      return out;
    }
  }
}

/** Validate a parsed document (the YAML's root mapping) onto the defaults. Throws ConfigError. */
export function validateConfig(doc: unknown, opts: { baseDir?: string; checkFiles?: boolean } = {}): SensorConfig {
  const ctx: Ctx = { errors: [], baseDir: opts.baseDir ?? process.cwd(), checkFiles: opts.checkFiles ?? true };
  const cfg = defaultConfig();
  if (doc === null || doc === undefined) return cfg;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError([`config: expected a mapping at the top level, got ${show(doc)}`]);
  const o = doc as Record<string, unknown>;
  const out = cfg as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === 'analytics') continue;
    if (!Object.hasOwn(SCHEMA, k)) ctx.errors.push(`config: ${k}: unknown key`);
  }
  for (const [k, f] of Object.entries(SCHEMA)) {
    const val = own(o, k);
    if (val === undefined) continue;
    out[k] = check(k, f, val, out[k], ctx, true);
  }
  const a = validateAnalyticsConfig(own(o, 'analytics'));
  for (const e of a.errors) ctx.errors.push(`config: ${e}`);
  cfg.analytics = a.config;
  // Cross-field rules.
  if (cfg.capture.source === 'ebpf' && cfg.capture.interfaces.length === 0 && own(o, 'capture') !== undefined) {
    ctx.errors.push('config: capture.interfaces: the eBPF source needs at least one interface');
  }
  if (cfg.capture.loaderSocket && cfg.capture.onLoaderExit === 'restart') {
    ctx.errors.push('config: capture.onLoaderExit: "restart" needs a spawned loader; with capture.loaderSocket systemd restarts it (use "exit")');
  }
  if (ctx.errors.length) throw new ConfigError(ctx.errors);
  return cfg;
}

/** Read and validate sensor.yaml. Relative paths are resolved against the file's directory. */
export function loadConfig(path: string, opts: { checkFiles?: boolean } = {}): SensorConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError([`config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new ConfigError([`config: ${path}: not valid YAML: ${((e as Error).message.split('\n')[0] as string)}`]);
  }
  return validateConfig(doc, { baseDir: dirname(resolve(path)), ...(opts.checkFiles !== undefined ? { checkFiles: opts.checkFiles } : {}) });
}

/** Analytics keys a SIGHUP may change without a restart (lists and allowlists). */
export const RELOADABLE_ANALYTICS_KEYS = [
  'approvedPubSubApps', 'approvedPubSubDestinations', 'allowDestinations', 'allowProcesses',
  'browsers', 'browserPaths', 'browserLike', 'scriptingHosts', 'unusualProcesses', 'userWritablePaths',
  'internalNetworks', 'archiveExtensions', 'archivers', 'tlsLibrariesT1', 'tlsLibrariesT2',
] as const satisfies ReadonlyArray<keyof AnalyticsConfig>;

export interface ReloadResult {
  /** The running config with the reloadable changes applied (a new object). */
  config: SensorConfig;
  /** Keys whose new values were applied, e.g. analytics.allowDestinations. */
  applied: string[];
  /** Keys that changed but need a restart (left at their running value). */
  needsRestart: string[];
}

function diffKeys(a: unknown, b: unknown, prefix: string, out: string[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) diffKeys((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  out.push(prefix);
}

/** SIGHUP: re-read the file; apply the reloadable subset, report the rest. Throws ConfigError (running config unchanged). */
export function reloadConfig(path: string, running: SensorConfig, opts: { checkFiles?: boolean } = {}): ReloadResult {
  const next = loadConfig(path, opts);
  const config = structuredClone(running);
  const applied: string[] = [];
  for (const k of RELOADABLE_ANALYTICS_KEYS) {
    if (JSON.stringify(next.analytics[k]) !== JSON.stringify(running.analytics[k])) {
      (config.analytics as unknown as Record<string, unknown>)[k] = structuredClone(next.analytics[k]);
      applied.push(`analytics.${k}`);
    }
  }
  const changed: string[] = [];
  diffKeys(running, next, '', changed);
  const needsRestart = changed.filter((k) => !applied.includes(k));
  return { config, applied, needsRestart };
}
