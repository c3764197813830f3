/**
 * The flow record: what the flow table produces when a flow ends, and what every later stage
 * (fingerprints, enrichment, analytics, outputs) reads. Typed, plain data, owned (no views), so it
 * crosses worker threads (src/runtime/record-codec.ts, or structured clone).
 *
 * The record names no application protocol: what a protocol saw lives in `apps`, one section per
 * key, typed by the AppKey its folder under dissectors/ exports, and rendered by the section it
 * registers (src/contract/api.ts RecordSection).
 *
 * Absent values are null, never a missing key. Times are epoch milliseconds (packet time).
 */

import type { AppFeatures, AppSections } from '../contract/api.js';

export type { AppFeatures, AppKey, AppSections } from '../contract/api.js';
export { appOf } from '../contract/api.js';

/** Adds the facts `add` reports that `into` does not have yet. */
export function mergeFeatures(into: AppFeatures, add: AppFeatures): void {
  for (const k of Object.keys(add) as (keyof AppFeatures)[]) {
    if (into[k] === undefined && add[k] !== undefined) (into as Record<string, unknown>)[k] = add[k];
  }
}

/** A tunnelled flow's outermost tunnel: its type, id (VNI, TEID, GRE key) and outer endpoints. */
export interface FlowTunnel {
  type: string;
  id: number;
  /** Outer IP addresses on the client's and the server's side ('' without an outer IP header). */
  outerClient: string;
  outerServer: string;
  /** Teredo only: what its addresses and indicators say (null when none was seen). */
  teredo?: TeredoInfo | null;
}

/**
 * What a Teredo tunnel (RFC 4380) says about its ends. `address`: from a flow endpoint whose IPv6
 * address is a Teredo address (2001:0::/32, §4): its Teredo server, flags, and the client's
 * mapped (NAT-external) IPv4 address and port, deobfuscated. `origin`: the first origin indication
 * (what a server or relay adds on packets it forwards to the client, §5.1.1), deobfuscated, and
 * how many packets carried one. `auth`: the first authentication indicator (qualification
 * exchanges, §5.2.2) and how many packets carried one.
 */
export interface TeredoInfo {
  address: { end: 'client' | 'server'; server: string; flags: number; mappedIp: string; mappedPort: number } | null;
  origin: { ip: string; port: number; packets: number } | null;
  auth: { clientIdLength: number; valueLength: number; nonce: string; confirmation: number; packets: number } | null;
}

export interface DirCounters {
  packets: number;
  /** Transport payload bytes (what the application sent). */
  bytes: number;
  /** IP bytes (headers included), as Zeek's orig_ip_bytes. */
  ipBytes: number;
  /** Payload bytes seen again (TCP retransmissions / overlaps). */
  retransBytes: number;
  /** OR of TCP flags seen in this direction. */
  tcpFlags: number;
  firstTs: number; // 0 when this direction sent nothing
  lastTs: number;
}

export interface Endpoint {
  ip: string;
  port: number;
}

/** Shannon entropy of the first payload bytes after any recognised handshake (src/fingerprint/entropy.ts). */
export interface EntropyInfo {
  /** Bits per byte, 0..8. */
  bits: number;
  /** Bytes sampled. */
  sample: number;
  /** Expected entropy of uniformly random bytes of this sample size. */
  randomExpected: number;
  /** bits / randomExpected (≥ ~0.97 looks random/encrypted). */
  score: number;
}

/** Timestamps and sizes of the first small payload packets after the handshake, per direction. */
export interface SmallRecords {
  ts: number[];
  sizes: number[];
}

/** Evidence item shared by classifications and alerts. */
export interface Evidence {
  signal: string;
  value: string | number | boolean;
  weight: number;
}

export interface PubSubLabel {
  protocol: 'mqtt' | 'amqp';
  encrypted: boolean;
  confidence: number; // 0..1
  evidence: Evidence[];
}

export interface EncryptedChannel {
  /** What the payload was recognised as, or 'unknown' when no known encrypted protocol matched. */
  known: string | null; // 'tls' | 'ssh' | 'quic' | 'wireguard' | 'openvpn' | 'esp' | 'rdp' | 'dtls' | null
  /** Non-TLS, unrecognised, high-entropy payload (the network half of AN1389). */
  suspicious: boolean;
  compressed: string | null; // 'gzip' | 'zip' | … when a magic number says so
  evidence: Evidence[];
}

export interface BeaconInfo {
  score: number; // 0..1, RITA v5
  connections: number;
  medianIntervalS: number | null;
  tsScore: number;
  dsScore: number;
  durScore: number;
  histScore: number;
  /** 'connections' (per host/destination/port) or 'records' (small-record cadence inside the flow). */
  basis: 'connections' | 'records';
}

/** EDR attribution (filled by src/enrich). */
export interface ProcessInfo {
  entityId: string | null; // ProcessGuid
  pid: number | null;
  executable: string | null;
  name: string | null;
  commandLine: string | null;
  user: string | null;
  parentExecutable: string | null;
  parentCommandLine: string | null;
  signed: boolean | null;
  signature: string | null;
  signatureStatus: string | null;
  startTs: number | null;
}

export interface HostInfo {
  name: string | null;
  id: string | null;
  os: string | null;
  ips: string[];
}

export interface ImageLoad {
  path: string;
  ts: number;
  signed: boolean | null;
}

export interface FileEvent {
  path: string;
  ts: number;
  processEntityId: string | null;
  image: string | null;
  kind: 'file_create' | 'archiver_run' | 'file_delete';
}

export type AttributionStatus = 'attributed' | 'unattributed' | 'pending' | 'disabled';
export type UnattributedReason = 'timeout' | 'edr_down' | 'no_match' | 'error' | null;

export interface Attribution {
  status: AttributionStatus;
  reason: UnattributedReason;
  match: 'exact_tuple' | 'tuple_time_offset' | 'none';
  host: HostInfo | null;
  process: ProcessInfo | null;
  imageLoads: ImageLoad[]; // loads by that process before the flow
  fileEvents: FileEvent[]; // staging on that host in the window before the flow
  /** Has the EDR seen this image make network connections before this flow? null = unknown. */
  imageNetworkHistory: boolean | null;
  /**
   * Has the EDR seen this host connect to this destination (IP, or the name it resolved) before
   * this flow? null/absent = unknown. Additive (analytics: AN1413/AN1389 "unfamiliar destination"
   * while the sensor's own baseline is still learning).
   */
  hostDestinationSeen?: boolean | null;
  /** Host-side clock offset used for the join (ms, flow time − EDR time). */
  clockOffsetMs: number | null;
}

export type EndReason = 'fin' | 'rst' | 'idle' | 'evicted' | 'eof' | 'shutdown' | 'complete';

export interface FlowRecord {
  readonly kind: 'flow';
  /** Sensor-local id, increasing in flow-start order within one run. */
  id: number;
  communityId: string;
  transport: 'tcp' | 'udp';
  ipVersion: 4 | 6;
  client: Endpoint;
  server: Endpoint;
  vlan: number;
  tunnelDepth: number;
  /** The outermost tunnel (GTP-U, Teredo, VXLAN, ...) and its outer endpoints; absent or null when not tunnelled. */
  tunnel?: FlowTunnel | null;
  startTs: number;
  endTs: number;
  endReason: EndReason;
  /** Index 0 = client→server, 1 = server→client. */
  dirs: [DirCounters, DirCounters];
  /** Client-sent / server-sent payload bytes (null when the server sent nothing). */
  byteRatio: number | null;
  /** True when direction came from a SYN; false when the port rule guessed it. */
  directionFromSyn: boolean;
  /** Application protocol, lowercase ('tls', 'mqtt', 'amqp', 'http', 'dns', 'ssh', 'quic', …) or null. */
  protocol: string | null;
  /** The protocol the flow upgraded to in place (STARTTLS, RDP → 'tls'); absent or null when none. */
  upgraded?: string | null;
  /**
   * The protocol the flow asked to switch to when not one byte of it came (MySQL's SSLRequest or
   * an accepted STARTTLS, then the capture or the connection ended); `upgraded` is then null and
   * the first protocol's section says it was requested but did not happen.
   */
  upgradeUnanswered?: string | null;
  /** Named events raised on this flow (decoder, reassembly, dissectors), deduplicated, bounded. */
  events: string[];
  /** Flow-level limit hits, e.g. 'flow.reassembly_depth', 'flow.evicted'. */
  limits: string[];

  /** What each application protocol saw, by section key (appOf() reads it typed). */
  apps: AppSections;
  /** Protocol-neutral facts from those sections. */
  features: AppFeatures;
  /** Name for the server IP from DNS answers that host received earlier (bounded time). */
  dnsName: string | null;

  entropy: [EntropyInfo | null, EntropyInfo | null];
  smallRecords: [SmallRecords, SmallRecords];
  pubsub: PubSubLabel | null;
  encrypted: EncryptedChannel | null;
  beacon: BeaconInfo | null;

  /** JA4T / JA4TS from the SYN and SYN-ACK (FoxIO License 1.1: only when JA4+ is on). */
  ja4t: string | null;
  ja4ts: string | null;

  attribution: Attribution | null;
}

export function emptyDir(): DirCounters {
  return { packets: 0, bytes: 0, ipBytes: 0, retransBytes: 0, tcpFlags: 0, firstTs: 0, lastTs: 0 };
}

/** A flow record with its tuple and times set and nothing observed yet (tools, tests, benchmarks). */
export function newFlowRecord(init: {
  id: number;
  client: Endpoint;
  server: Endpoint;
  startTs: number;
  endTs?: number;
  transport?: 'tcp' | 'udp';
  protocol?: string | null;
  endReason?: EndReason;
}): FlowRecord {
  return {
    kind: 'flow',
    id: init.id,
    communityId: '',
    transport: init.transport ?? 'tcp',
    ipVersion: init.client.ip.includes(':') ? 6 : 4,
    client: init.client,
    server: init.server,
    vlan: 0,
    tunnelDepth: 0,
    tunnel: null,
    startTs: init.startTs,
    endTs: init.endTs ?? init.startTs,
    endReason: init.endReason ?? 'eof',
    dirs: [emptyDir(), emptyDir()],
    byteRatio: null,
    directionFromSyn: true,
    protocol: init.protocol ?? null,
    events: [],
    limits: [],
    apps: {},
    features: {},
    dnsName: null,
    entropy: [null, null],
    smallRecords: [
      { ts: [], sizes: [] },
      { ts: [], sizes: [] },
    ],
    pubsub: null,
    encrypted: null,
    beacon: null,
    ja4t: null,
    ja4ts: null,
    attribution: null,
  };
}

/** Which key a flood summary aggregates by. */
export type FloodScope = 'service' | 'source' | 'other';

/**
 * What the flood shedder (src/runtime/flood.ts) sends instead of the flows it shed: what `flows`
 * shed flows of one interval had in common. The outputs render it beside flow records.
 */
export interface FloodSummary {
  readonly kind: 'flood';
  scope: FloodScope;
  transport: FlowRecord['transport'];
  /** service: the server and port; source: null. */
  server: { ip: string; port: number } | null;
  /** source: the client; otherwise null. */
  client: string | null;
  intervalStart: number;
  intervalMs: number;
  /** Shed flows this summary stands for. */
  flows: number;
  /** Earliest flow start and latest flow end among them. */
  firstTs: number;
  lastTs: number;
  packets: number;
  /** IP bytes, both directions. */
  ipBytes: number;
  clients: number;
  servers: number;
  ports: number;
  /** True when a distinct count stopped at distinctMax (it is then a lower bound). */
  distinctCapped: boolean;
  /** TCP: SYNs nobody answered; UDP: datagrams with no reply. */
  unanswered: number;
  /** TCP: answered by a reset (a closed port). */
  rejected: number;
  /** Answered without a byte of payload either way (a handshake, an empty UDP reply). */
  answeredEmpty: number;
}
