/**
 * A small FlowRecord factory for analytics tests and the bench: sensible defaults (an attributed
 * TLS flow from a workstation to an external server) with shortcuts for the fields the analytics read.
 */
import type {
  Attribution, DirCounters, EncryptedChannel, FileEvent, FlowRecord, ImageLoad, ProcessInfo, PubSubLabel,
} from '../../src/flow/record.js';
import { putSection } from '../../src/flow/finalize.js';
import type { ChainFeatures } from '../../dissectors/x509/types.js';
import { tlsSection, type TlsInfo } from '../../dissectors/tls/record.js';
import { httpSection } from '../../dissectors/http/record.js';
import { BaselineStore } from '../../src/baseline/store.js';
import type { BeaconInfo } from '../../src/flow/record.js';
import { DEFAULT_ANALYTICS_CONFIG, resolveConfig, type AnalyticsConfig } from '../../src/analytics/config.js';
import type { AnalyticContext } from '../../src/analytics/context.js';
import { baseName } from '../../src/util/path.js';

export interface FlowSpec {
  id?: number;
  startTs?: number;
  durationMs?: number;
  client?: { ip: string; port: number };
  server?: { ip: string; port: number };
  transport?: 'tcp' | 'udp';
  protocol?: string | null;
  /** Client→server / server→client payload bytes. */
  bytes?: [number, number];
  /** TLS fields; `tls: null` for a non-TLS flow. */
  tls?: Partial<TlsInfo> | null;
  sni?: string | null;
  ja4?: string | null;
  chainAnomalies?: string[];
  pubsub?: Partial<PubSubLabel> | null;
  encrypted?: Partial<EncryptedChannel> | null;
  dnsName?: string | null;
  httpPathEntropy?: number | null;
  /** Attribution; `attribution: null` for an unattributed flow. */
  attribution?: Partial<Attribution> | null;
  host?: string | null;
  image?: string | null;
  user?: string | null;
  signed?: boolean | null;
  imageLoads?: ImageLoad[];
  fileEvents?: FileEvent[];
  imageNetworkHistory?: boolean | null;
  /** Additive Attribution field (EDR: has this host talked to this destination before?). */
  hostDestinationSeen?: boolean | null;
  smallRecordTs?: number[];
}

export const T0 = Date.UTC(2026, 10, 2, 9, 0, 0); // 2026-11-02 09:00:00 UTC

function dir(bytes: number, packets: number, start: number, end: number): DirCounters {
  return { packets, bytes, ipBytes: bytes + packets * 52, retransBytes: 0, tcpFlags: 0x1b, firstTs: start, lastTs: end };
}


let nextId = 1;

export function makeFlow(s: FlowSpec = {}): FlowRecord {
  const startTs = s.startTs ?? T0;
  const endTs = startTs + (s.durationMs ?? 2_000);
  const client = s.client ?? { ip: '10.1.0.21', port: 51_000 };
  const server = s.server ?? { ip: '203.0.113.10', port: 443 };
  const [cb, sb] = s.bytes ?? [1_200, 6_000];
  let tls: TlsInfo | null = null;
  if (s.tls !== null) {
    const chainFeatures: ChainFeatures | null = s.chainAnomalies
      ? { length: 1, leafSelfSigned: s.chainAnomalies.includes('self_signed'), sniInSan: !s.chainAnomalies.includes('sni_mismatch'), expired: s.chainAnomalies.includes('expired'), notYetValid: false, linked: !s.chainAnomalies.includes('broken_chain'), trustedRoot: s.chainAnomalies.length === 0, anomalies: s.chainAnomalies }
      : { length: 3, leafSelfSigned: false, sniInSan: true, expired: false, notYetValid: false, linked: true, trustedRoot: true, anomalies: [] };
    tls = {
      version: '1.3', sni: s.sni === undefined ? 'www.example.com' : s.sni, alpnOffered: ['h2', 'http/1.1'], nextProtocol: null, cipher: '1302',
      ja4: s.ja4 === undefined ? 't13d1516h2_8daaf6152771_02713d6af862' : s.ja4, ja4_r: null, ja4_o: null, ja4_ro: null,
      ja3: null, ja3_full: null, ja3s: null, ja4s: null, ja4x: [], supportedCiphers: [], extraJa4: [],
      established: true, resumed: false, clientCertificate: false, chain: [], chainFeatures, appRecordSizes: [[], []],
      ...(s.tls ?? {}),
    };
  }
  const protocol = s.protocol !== undefined ? s.protocol : tls ? 'tls' : null;
  let attribution: Attribution | null = null;
  if (s.attribution !== null) {
    const image = s.image === undefined ? 'C:\\Program Files\\Contoso\\agent.exe' : s.image;
    const process: ProcessInfo | null = image === null ? null : {
      entityId: `{a1b2c3d4-0000-0000-0000-${baseName(image).length.toString(16).padStart(12, '0')}}`, pid: 4242, executable: image, name: baseName(image),
      commandLine: `"${image}"`, user: s.user === undefined ? 'CORP\\alice' : s.user, parentExecutable: 'C:\\Windows\\explorer.exe', parentCommandLine: null,
      signed: s.signed === undefined ? true : s.signed, signature: null, signatureStatus: null, startTs: startTs - 60_000,
    };
    attribution = {
      status: 'attributed', reason: null, match: 'exact_tuple',
      host: { name: s.host === undefined ? 'WS01.corp.example' : s.host, id: null, os: 'windows', ips: [client.ip] },
      process,
      imageLoads: s.imageLoads ?? [],
      fileEvents: s.fileEvents ?? [],
      imageNetworkHistory: s.imageNetworkHistory === undefined ? true : s.imageNetworkHistory,
      clockOffsetMs: 0,
      ...(s.hostDestinationSeen !== undefined ? { hostDestinationSeen: s.hostDestinationSeen } : {}),
      ...(s.attribution ?? {}),
    };
  }
  const pubsub: PubSubLabel | null = s.pubsub ? { protocol: 'mqtt', encrypted: true, confidence: 0.9, evidence: [{ signal: 'port', value: 8883, weight: 0.5 }], ...s.pubsub } : null;
  const encrypted: EncryptedChannel | null = s.encrypted ? { known: null, suspicious: false, compressed: null, evidence: [], ...s.encrypted } : null;
  const rec: FlowRecord = {
    kind: 'flow', id: s.id ?? nextId++, communityId: `1:test${(s.id ?? nextId).toString(36)}=`, transport: s.transport ?? 'tcp', ipVersion: 4,
    client, server, vlan: 0, tunnelDepth: 0, tunnel: null, startTs, endTs, endReason: 'fin',
    dirs: [dir(cb, 10, startTs, endTs), dir(sb, 10, startTs + 5, endTs)],
    byteRatio: sb > 0 ? cb / sb : null, directionFromSyn: true, protocol, events: [], limits: [],
    apps: {}, features: {}, dnsName: s.dnsName ?? null,
    entropy: [null, null],
    smallRecords: [{ ts: s.smallRecordTs ?? [], sizes: (s.smallRecordTs ?? []).map(() => 2) }, { ts: [], sizes: [] }],
    pubsub, encrypted, beacon: null, ja4t: null, ja4ts: null, attribution,
  };
  if (tls !== null) putSection(rec, tlsSection, tls);
  if (s.httpPathEntropy !== undefined) putSection(rec, httpSection, { method: 'GET', uri: '/', host: null, userAgent: null, statusCode: 200, requests: 1, pathEntropy: s.httpPathEntropy, hostEntropy: null, upgrade: null, wsProtocol: null });
  return rec;
}


export interface ContextSpec {
  config?: Partial<AnalyticsConfig>;
  baseline?: BaselineStore;
  /** Flows the baseline learns first (their times start learning). */
  learn?: FlowRecord[];
  beacon?: BeaconInfo | null;
  recordBeacon?: BeaconInfo | null;
}

export function makeContext(s: ContextSpec = {}): AnalyticContext {
  const baseline = s.baseline ?? BaselineStore.open({ learningPeriodMs: 3_600_000 });
  for (const f of s.learn ?? []) baseline.learn(f);
  return {
    config: resolveConfig({ ...DEFAULT_ANALYTICS_CONFIG, ...(s.config ?? {}) }),
    baseline,
    beacon: s.beacon ?? null,
    recordBeacon: s.recordBeacon ?? null,
  };
}

export function beaconInfo(score: number, basis: 'connections' | 'records' = 'connections'): BeaconInfo {
  return { score, connections: basis === 'records' ? 1 : 12, medianIntervalS: 30, tsScore: score, dsScore: score, durScore: 0, histScore: 0, basis };
}

export const IMG = {
  powershell: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
  python: 'C:\\Users\\bob\\AppData\\Local\\Programs\\Python\\Python312\\python.exe',
  rundll32: 'C:\\Windows\\System32\\rundll32.exe',
  chrome: 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  fakeChrome: 'C:\\Users\\Public\\chrome.exe',
  mqttApp: 'C:\\Program Files\\Contoso\\Telemetry\\telemetry-agent.exe',
  updater: 'C:\\Program Files (x86)\\Contoso\\Update\\ContosoUpdate.exe',
  backup: 'C:\\Program Files\\Contoso\\Backup\\backupd.exe',
  sevenZip: 'C:\\Program Files\\7-Zip\\7z.exe',
  rclone: 'C:\\Users\\carol\\Downloads\\rclone.exe',
  notepad: 'C:\\Windows\\System32\\notepad.exe',
  unsigned: 'C:\\ProgramData\\svc\\svchelper.exe',
} as const;
