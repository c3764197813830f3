/**
 * Analytics configuration: process lists, networks, ports, thresholds and allowlists, with the
 * defaults from EDR-ANALYTICS.md §1.4–1.6 and DESIGN.md §4, and a validator that merges a partial
 * (YAML/JSON) override onto the defaults and reports every problem it finds.
 */
import { parseCidr, type Cidr } from './net.js';

export interface AnalyticsThresholds {
  /** Connection-basis RITA score at or above which a pair "beacons" (RITA's medium bucket starts at 0.7). */
  beaconScore: number;
  /** Records-basis (TS only) score for keep-alive / check-in cadence inside one flow. */
  recordBeaconScore: number;
  /** Entropy score (bits / random expectation) treated as random-looking. */
  entropyScore: number;
  /** HTTP path entropy, bits per char, treated as high (random-looking path). */
  httpPathEntropy: number;
  /** Host-name label entropy, bits per char, treated as algorithmic. */
  hostEntropy: number;
  /** client bytes / server bytes at or above which a TLS flow is upload-heavy (AN0759). */
  asymmetryRatio: number;
  /** …and the client must have sent at least this many payload bytes. */
  asymmetryMinBytes: number;
  /** A JA4 seen on at most this many hosts (warm baseline) is rare. */
  rareJa4Hosts: number;
}

export interface AnalyticsConfig {
  /** Browser image basenames (lowercase): the "non-browser" exclusion list. */
  browsers: string[];
  /** Where real browsers live; a browser name outside these path fragments is masquerading. */
  browserPaths: string[];
  /** Embedded engines: not browsers, treated as ordinary processes. */
  browserLike: string[];
  /** Scripting hosts and interpreters named by the analytics. */
  scriptingHosts: string[];
  /** LOLBins / unusual network processes (AN0922). */
  unusualProcesses: string[];
  /** Path fragments counted as user-writable (unsigned images there are suspicious). */
  userWritablePaths: string[];
  /** CIDRs that are not "external". */
  internalNetworks: string[];
  /** Pub/sub client images approved to talk to brokers (basename or full path, lowercase). */
  approvedPubSubApps: string[];
  /** Broker destinations approved for pub/sub (IP, CIDR, DNS name or `*.suffix`). */
  approvedPubSubDestinations: string[];
  /** Destinations never alerted on by any analytic (IP, CIDR, DNS name or `*.suffix`). */
  allowDestinations: string[];
  /** Images never alerted on by any analytic (basename or full path, lowercase). */
  allowProcesses: string[];
  pubsubPorts: number[];
  /** Ports that are not "uncommon" for AN0922. */
  commonPorts: number[];
  archiveExtensions: string[];
  archivers: string[];
  /** TLS stack libraries (tier 1) and HTTP/socket client libraries (tier 2), lowercase basenames. */
  tlsLibrariesT1: string[];
  tlsLibrariesT2: string[];
  /** AN1413: a staging event at most this long before the flow counts. */
  stagingWindowMs: number;
  /** AN0759: library loads at most this long before the flow count as "just before". */
  libraryLoadWindowMs: number;
  /** Engine: identical alerts (analytic, host, process, destination) fold into one within this packet-time window. */
  dedupWindowMs: number;
  thresholds: AnalyticsThresholds;
}

export const DEFAULT_ANALYTICS_CONFIG: AnalyticsConfig = {
  browsers: ['chrome.exe', 'msedge.exe', 'firefox.exe', 'iexplore.exe', 'microsoftedge.exe', 'microsoftedgecp.exe', 'brave.exe', 'opera.exe', 'launcher.exe', 'vivaldi.exe', 'chromium.exe', 'whale.exe', 'arc.exe', 'safari.exe'],
  browserPaths: ['\\google\\chrome\\application\\', '\\microsoft\\edge\\application\\', '\\mozilla firefox\\', '\\bravesoftware\\brave-browser\\application\\', '\\vivaldi\\application\\', '\\opera\\', '\\internet explorer\\', '\\chromium\\application\\', '\\naver\\naver whale\\application\\', '\\windowsapps\\', '\\systemapps\\', '\\safari\\'],
  browserLike: ['msedgewebview2.exe', 'browser_broker.exe', 'identity_helper.exe'],
  scriptingHosts: ['powershell.exe', 'pwsh.exe', 'python.exe', 'pythonw.exe', 'wscript.exe', 'cscript.exe', 'mshta.exe', 'cmd.exe', 'node.exe', 'perl.exe', 'ruby.exe'],
  unusualProcesses: ['rundll32.exe', 'mshta.exe', 'wscript.exe', 'cscript.exe', 'regsvr32.exe', 'msbuild.exe', 'installutil.exe', 'regasm.exe', 'regsvcs.exe', 'certutil.exe', 'bitsadmin.exe', 'cmstp.exe', 'odbcconf.exe'],
  userWritablePaths: ['\\users\\', '\\programdata\\', '\\temp\\', '\\downloads\\', '\\appdata\\', '\\windows\\tasks\\', '\\perflogs\\'],
  internalNetworks: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '127.0.0.0/8', '169.254.0.0/16', '100.64.0.0/10', '224.0.0.0/4', '255.255.255.255/32', '0.0.0.0/32', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8'],
  approvedPubSubApps: [],
  approvedPubSubDestinations: [],
  allowDestinations: [],
  allowProcesses: [],
  pubsubPorts: [1883, 8883, 8884, 5671, 5672, 61613, 61614, 15675, 443],
  commonPorts: [80, 443, 53, 853, 8080, 8443, 123, 25, 587, 465, 993, 995, 143, 110, 22, 3389, 445, 389, 636, 88],
  archiveExtensions: ['.zip', '.7z', '.rar', '.cab', '.tar', '.gz', '.tgz', '.bz2', '.xz', '.zst'],
  archivers: ['7z.exe', '7za.exe', '7zr.exe', 'rar.exe', 'winrar.exe', 'makecab.exe', 'tar.exe', 'compact.exe'],
  tlsLibrariesT1: ['schannel.dll', 'ncryptsslp.dll', 'system.net.security.dll', 'system.net.http.dll', '_ssl.pyd', 'libssl', 'libcrypto'],
  tlsLibrariesT2: ['winhttp.dll', 'wininet.dll', 'webio.dll', 'urlmon.dll', 'websocket.dll', 'mswsock.dll', 'dnsapi.dll', 'system.net', 'clr.dll', 'mscoree.dll'],
  stagingWindowMs: 30 * 60_000,
  libraryLoadWindowMs: 10 * 60_000,
  dedupWindowMs: 10 * 60_000,
  thresholds: {
    beaconScore: 0.7,
    recordBeaconScore: 0.8,
    entropyScore: 0.97,
    httpPathEntropy: 4.2,
    hostEntropy: 3.8,
    asymmetryRatio: 2,
    asymmetryMinBytes: 64 * 1024,
    rareJa4Hosts: 2,
  },
};

/** Config plus the pre-parsed forms the analytics use per flow (built once). */
export interface ResolvedConfig extends AnalyticsConfig {
  readonly internal: Cidr[];
  readonly sets: {
    browsers: ReadonlySet<string>;
    browserLike: ReadonlySet<string>;
    scripting: ReadonlySet<string>;
    unusual: ReadonlySet<string>;
    approvedPubSubApps: ReadonlySet<string>;
    allowProcesses: ReadonlySet<string>;
    commonPorts: ReadonlySet<number>;
    pubsubPorts: ReadonlySet<number>;
    archivers: ReadonlySet<string>;
  };
  readonly approvedPubSubDst: DestinationMatcher;
  readonly allowDst: DestinationMatcher;
}

export interface DestinationMatcher {
  matches(ip: string, names: readonly (string | null)[]): boolean;
  /** matches(ip, [sni, dnsName]) without the list (runs per flow). */
  matchesFlow(ip: string, sni: string | null, dnsName: string | null): boolean;
}

function destinationMatcher(list: readonly string[]): DestinationMatcher {
  const cidrs: Cidr[] = [];
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const raw of list) {
    const e = raw.trim().toLowerCase();
    const c = parseCidr(e.includes('/') ? e : e.includes(':') ? `${e}/128` : /^[0-9.]+$/.test(e) ? `${e}/32` : '');
    if (c) cidrs.push(c);
    else if (e.startsWith('*.')) suffixes.push(e.slice(1));
    else exact.add(e);
  }
  const ipMatches = (ip: string): boolean => {
    for (const c of cidrs) if (c.contains(ip)) return true;
    return false;
  };
  const nameMatches = (n: string | null): boolean => {
    if (!n) return false;
    const l = n.toLowerCase();
    if (exact.has(l)) return true;
    for (const s of suffixes) if (l.endsWith(s)) return true;
    return false;
  };
  return {
    matches(ip, names) {
      if (ipMatches(ip)) return true;
      for (const n of names) if (nameMatches(n)) return true;
      return false;
    },
    matchesFlow(ip, sni, dnsName) {
      return ipMatches(ip) || nameMatches(sni) || nameMatches(dnsName);
    },
  };
}

const lower = (a: readonly string[]): string[] => a.map((x) => x.toLowerCase());

export function resolveConfig(cfg: AnalyticsConfig): ResolvedConfig {
  return {
    ...cfg,
    internal: cfg.internalNetworks.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== null),
    sets: {
      browsers: new Set(lower(cfg.browsers)),
      browserLike: new Set(lower(cfg.browserLike)),
      scripting: new Set(lower(cfg.scriptingHosts)),
      unusual: new Set(lower(cfg.unusualProcesses)),
      approvedPubSubApps: new Set(lower(cfg.approvedPubSubApps)),
      allowProcesses: new Set(lower(cfg.allowProcesses)),
      commonPorts: new Set(cfg.commonPorts),
      pubsubPorts: new Set(cfg.pubsubPorts),
      archivers: new Set(lower(cfg.archivers)),
    },
    approvedPubSubDst: destinationMatcher(cfg.approvedPubSubDestinations),
    allowDst: destinationMatcher(cfg.allowDestinations),
  };
}

const STRING_LISTS = ['browsers', 'browserPaths', 'browserLike', 'scriptingHosts', 'unusualProcesses', 'userWritablePaths', 'internalNetworks', 'approvedPubSubApps', 'approvedPubSubDestinations', 'allowDestinations', 'allowProcesses', 'archiveExtensions', 'archivers', 'tlsLibrariesT1', 'tlsLibrariesT2'] as const;
const PORT_LISTS = ['pubsubPorts', 'commonPorts'] as const;
const DURATIONS = ['stagingWindowMs', 'libraryLoadWindowMs', 'dedupWindowMs'] as const;
const UNIT_THRESHOLDS = ['beaconScore', 'recordBeaconScore', 'entropyScore'] as const;
const POSITIVE_THRESHOLDS = ['httpPathEntropy', 'hostEntropy', 'asymmetryRatio', 'asymmetryMinBytes', 'rareJa4Hosts'] as const;

/**
 * Merge `input` (unknown, e.g. parsed YAML) onto the defaults. Unknown keys and bad values are
 * errors; the returned config keeps the default for every bad value.
 */
export function validateAnalyticsConfig(input: unknown): { config: AnalyticsConfig; errors: string[] } {
  const errors: string[] = [];
  const base: AnalyticsConfig = structuredClone(DEFAULT_ANALYTICS_CONFIG);
  if (input === undefined || input === null) return { config: base, errors };
  if (typeof input !== 'object' || Array.isArray(input)) return { config: base, errors: ['analytics: expected an object'] };
  const o = input as Record<string, unknown>;
  const known = new Set<string>([...STRING_LISTS, ...PORT_LISTS, ...DURATIONS, 'thresholds']);
  for (const k of Object.keys(o)) if (!known.has(k)) errors.push(`analytics.${k}: unknown key`);
  for (const k of STRING_LISTS) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) { errors.push(`analytics.${k}: expected a list of strings`); continue; }
    if (k === 'internalNetworks') {
      const bad = v.filter((c) => parseCidr(c) === null);
      if (bad.length) { errors.push(`analytics.internalNetworks: not a CIDR: ${bad.join(', ')}`); continue; }
    }
    base[k] = [...v];
  }
  for (const k of PORT_LISTS) {
    const v = o[k];
    if (v === undefined) continue;
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 65_535)) { errors.push(`analytics.${k}: expected a list of ports 0..65535`); continue; }
    base[k] = [...(v as number[])];
  }
  for (const k of DURATIONS) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) { errors.push(`analytics.${k}: expected a duration in ms ≥ 0`); continue; }
    base[k] = v;
  }
  const t = o['thresholds'];
  if (t !== undefined) {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) errors.push('analytics.thresholds: expected an object');
    else {
      const tt = t as Record<string, unknown>;
      for (const k of Object.keys(tt)) if (!(UNIT_THRESHOLDS as readonly string[]).includes(k) && !(POSITIVE_THRESHOLDS as readonly string[]).includes(k)) errors.push(`analytics.thresholds.${k}: unknown key`);
      for (const k of UNIT_THRESHOLDS) {
        const v = tt[k];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) errors.push(`analytics.thresholds.${k}: expected 0..1`);
        else base.thresholds[k] = v;
      }
      for (const k of POSITIVE_THRESHOLDS) {
        const v = tt[k];
        if (v === undefined) continue;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) errors.push(`analytics.thresholds.${k}: expected a number ≥ 0`);
        else base.thresholds[k] = v;
      }
    }
  }
  return { config: base, errors };
}
