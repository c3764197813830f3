/**
 * Pub/sub classification (DESIGN.md §2.5, EDR-ANALYTICS.md §6): is this flow MQTT or AMQP, either
 * seen in clear by a dissector or inferred inside TLS from port, ALPN, broker SNI and keep-alive
 * shape? Every inference names its evidence.
 *
 * Scoring: each signal has a weight w ∈ (0, 1] read as "probability this signal alone is right";
 * signals for one protocol combine by noisy-OR, confidence = 1 − Π(1 − wᵢ). Negative signals
 * multiply the result by (1 + w) with w < 0. A label is returned when confidence ≥ MIN_CONFIDENCE.
 * The weights are judgement calls documented next to each constant; they are meant to be tuned
 * against labelled traffic, not taken as measured.
 */
import type { Evidence, FlowRecord, PubSubLabel } from '../flow/record.js';
import { tlsOf, type TlsInfo } from '../../dissectors/tls/record.js';

export interface PubSubConfig {
  /** SNI suffixes of known brokers. '*' matches exactly one DNS label. Leading '.' recommended. */
  brokerSniSuffixes: string[];
}

/** EDR-ANALYTICS.md §6.1 SNI suffixes. */
export const DEFAULT_BROKER_SNI_SUFFIXES: readonly string[] = [
  '.iot.*.amazonaws.com', // AWS IoT Core data endpoints <id>-ats.iot.<region>.amazonaws.com
  '.azure-devices.net', // Azure IoT Hub (MQTT or AMQP)
  '.servicebus.windows.net', // Azure Event Hubs / Service Bus (AMQP 1.0)
  '.hivemq.cloud', // HiveMQ Cloud (MQTT)
];

/** Which protocol a default suffix implies; configured extra suffixes imply either. */
const SUFFIX_PROTOCOL: Record<string, 'mqtt' | 'amqp' | 'either'> = {
  '.iot.*.amazonaws.com': 'mqtt',
  '.azure-devices.net': 'either',
  '.servicebus.windows.net': 'amqp',
  '.hivemq.cloud': 'mqtt',
};

/** Below this the flow gets no label. 0.5 = one strong signal (a dedicated port alone) suffices. */
export const MIN_CONFIDENCE = 0.5;

// ---- weights ------------------------------------------------------------------------------
/** ALPN offered by the client names the protocol: an explicit claim, spoofable but rarely wrong. */
const W_ALPN_OFFERED = 0.8;
/** The server selected that ALPN: both ends agree. */
const W_ALPN_SELECTED = 0.9;
/** IANA secure ports (8883 secure-mqtt, 5671 amqps): dedicated, few other services use them. */
const W_PORT_SECURE = 0.5;
/** Plain-protocol ports carrying TLS (1883, 5672 with the Azure TLS upgrade), HiveMQ WSS 8884. */
const W_PORT_OTHER = 0.35;
/** Broker SNI whose service is one protocol (AWS IoT → MQTT, Service Bus → AMQP, HiveMQ). */
const W_SNI_KNOWN = 0.6;
/** Broker SNI that could be either protocol (IoT Hub, configured suffixes). */
const W_SNI_EITHER = 0.4;
/** ≥ MIN_PING_PAIRS client ping-size records answered by the same size, at a steady cadence. */
const W_KEEPALIVE_STEADY = 0.6;
/** Ping-size pairs present but too few or irregular. */
const W_KEEPALIVE_PAIRS = 0.3;
/** Only record sizes (no timing): client and server both sent ping-size records. */
const W_KEEPALIVE_SIZES = 0.2;
/**
 * ALPN says HTTP (h2 selected, x-amzn-http-ca): scales any pub/sub inference by 0.6, so only a
 * combination of strong signals (≥ 0.84 before scaling) survives the threshold.
 */
const W_ALPN_HTTP = -0.4;

// ---- keep-alive shape (EDR-ANALYTICS.md §6.2) -----------------------------------------------
/** On-wire TLS record sizes of MQTT PINGREQ/PINGRESP (2-byte plaintext) per cipher family. */
export const MQTT_PING_RECORD_SIZES: readonly number[] = [23, 24, 31, 53, 69];
/** AMQP heartbeat (8-byte frame, 0-9-1 and 1.0 empty frame). 53/69 (CBC) are shared with MQTT. */
export const AMQP_HEARTBEAT_RECORD_SIZES: readonly number[] = [29, 30, 37, 53, 69];
/** A server record of the same size within this time answers the client's ping. */
const PING_ANSWER_WINDOW_MS = 2000;
/** Pairs needed before cadence is judged (3 pairs = 2 intervals). */
const MIN_PING_PAIRS = 3;
/** MAD / median of ping intervals at or below this is "steady" (RITA's dispersion idea, §3). */
const STEADY_MAD_RATIO = 0.1;

type Proto = 'mqtt' | 'amqp';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}


/** The SNI as suffixes are matched: lowercase, no trailing dot. */
function hostOf(sni: string): string {
  const h = sni.toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** A configured suffix, lowercased once: plain ('.example.com' and the bare name) or a pattern. */
interface Suffix {
  readonly dotted: string;
  readonly bare: string;
  readonly re: RegExp | null;
  /** The literal end of a pattern (after its last '*'): a host that lacks it cannot match. */
  readonly tail: string;
}
/** Cache: each configured pattern compiled once, keyed by its text (patterns come from the config). */
const compiled = new Map<string, Suffix>();

function compile(suffix: string): Suffix {
  let c = compiled.get(suffix);
  if (c !== undefined) return c;
  const suf = suffix.toLowerCase();
  let re: RegExp | null = null;
  if (suf.includes('*')) {
    const body = suf.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[a-z0-9-]+');
    re = new RegExp((suf.startsWith('.') ? '' : '(^|\\.)') + body + '$');
  }
  c = { dotted: suf.startsWith('.') ? suf : '.' + suf, bare: suf.replace(/^\./, ''), re, tail: suf.slice(suf.lastIndexOf('*') + 1) };
  if (compiled.size < 1024) compiled.set(suffix, c);
  return c;
}

/** `host` is already lowercase without a trailing dot (hostOf). */
function suffixMatches(host: string, suffix: string): boolean {
  const c = compile(suffix);
  if (c.re !== null) return host.endsWith(c.tail) && c.re.test(host);
  return host.endsWith(c.dotted) || host === c.bare;
}

interface KeepAlive {
  pairs: number;
  madRatio: number | null;
  medianIntervalMs: number | null;
  sizes: number[];
}

/** Client ping-size records answered by a same-size server record within the window. */
function pingPairs(flow: FlowRecord, sizes: readonly number[]): KeepAlive {
  const [c, s] = flow.smallRecords;
  const times: number[] = [];
  const seen: number[] = [];
  let j = 0;
  for (let i = 0; i < c.sizes.length && i < c.ts.length; i++) {
    const size = c.sizes[i] as number;
    const t = c.ts[i] as number;
    if (!sizes.includes(size)) continue;
    while (j < s.ts.length && (s.ts[j] as number) < t) j++;
    for (let k = j; k < s.ts.length && (s.ts[k] as number) <= t + PING_ANSWER_WINDOW_MS; k++) {
      if (s.sizes[k] === size) {
        times.push(t);
        if (!seen.includes(size)) seen.push(size);
        j = k + 1;
        break;
      }
    }
  }
  let madRatio: number | null = null;
  let med: number | null = null;
  if (times.length >= MIN_PING_PAIRS) {
    const iv: number[] = [];
    for (let i = 1; i < times.length; i++) iv.push((times[i] as number) - (times[i - 1] as number));
    med = median(iv);
    const mad = median(iv.map((x) => Math.abs(x - (med as number))));
    madRatio = med > 0 ? mad / med : null;
  }
  return { pairs: times.length, madRatio, medianIntervalMs: med, sizes: seen };
}

/** Sizes only: both directions sent at least one record of a size from the set. */
function sizeMatches(flow: FlowRecord, sizes: readonly number[]): number[] {
  const tls = tlsOf(flow);
  const cs = [...(tls?.appRecordSizes[0] ?? []), ...flow.smallRecords[0].sizes];
  const ss = [...(tls?.appRecordSizes[1] ?? []), ...flow.smallRecords[1].sizes];
  const out: number[] = [];
  for (const x of sizes) if (cs.filter((y) => y === x).length >= 2 && ss.includes(x)) out.push(x);
  return out;
}

const SIGNAL_PORTS = new Set([8883, 5671, 1883, 8884, 5672]);
const SIGNAL_ALPN = new Set(['mqtt', 'x-amzn-mqtt-ca', 'amqp']);
const PING_SIZES = new Set<number>([...MQTT_PING_RECORD_SIZES, ...AMQP_HEARTBEAT_RECORD_SIZES]);

function pingSized(sizes: readonly number[]): number {
  let k = 0;
  for (let i = 0; i < sizes.length; i++) if (PING_SIZES.has(sizes[i] as number)) k++;
  return k;
}

/**
 * Cheap pre-check: a label needs a pub/sub port, ALPN or broker SNI, or else a steady keep-alive
 * (the only record-size signal that reaches MIN_CONFIDENCE alone), which needs at least
 * MIN_PING_PAIRS ping-sized client records and one ping-sized server record. Without any of these
 * the answer is null, and most TLS flows end here.
 */
function anySignal(flow: FlowRecord, tls: TlsInfo, host: string | null, cfg: PubSubConfig): boolean {
  if (SIGNAL_PORTS.has(flow.server.port)) return true;
  if (tls.nextProtocol !== null && SIGNAL_ALPN.has(tls.nextProtocol.toLowerCase())) return true;
  for (const a of tls.alpnOffered) if (SIGNAL_ALPN.has(a.toLowerCase())) return true;
  if (host !== null) for (const suf of cfg.brokerSniSuffixes) if (suffixMatches(host, suf)) return true;
  return pingSized(flow.smallRecords[0].sizes) >= MIN_PING_PAIRS && pingSized(flow.smallRecords[1].sizes) >= 1;
}

export function classifyPubSub(flow: FlowRecord, cfg: PubSubConfig = { brokerSniSuffixes: [...DEFAULT_BROKER_SNI_SUFFIXES] }): PubSubLabel | null {
  // 1. Seen in clear by a dissector: certain.
  const f = flow.features;
  if (f.pubsub === 'mqtt' || flow.protocol === 'mqtt') {
    const ev: Evidence[] = [{ signal: 'dissector', value: 'mqtt', weight: 1 }];
    if (f.overWebSocket === true) ev.push({ signal: 'websocket', value: true, weight: 1 });
    return { protocol: 'mqtt', encrypted: false, confidence: 1, evidence: ev };
  }
  if (f.pubsub === 'amqp' || flow.protocol === 'amqp') {
    return { protocol: 'amqp', encrypted: false, confidence: 1, evidence: [{ signal: 'dissector', value: 'amqp', weight: 1 }] };
  }
  // MQTT over a clear WebSocket (HTTP saw the upgrade, nothing re-probed the frames).
  const tls = tlsOf(flow);
  const ws = f.webSocketProtocol?.toLowerCase() ?? null;
  if (ws !== null && tls === null) {
    if (ws.includes('mqtt')) return { protocol: 'mqtt', encrypted: false, confidence: 0.9, evidence: [{ signal: 'websocket_subprotocol', value: ws, weight: 0.9 }] };
    if (ws.includes('amqp')) return { protocol: 'amqp', encrypted: false, confidence: 0.9, evidence: [{ signal: 'websocket_subprotocol', value: ws, weight: 0.9 }] };
  }
  if (tls === null) return null;
  const host = tls.sni !== null ? hostOf(tls.sni) : null;
  if (!anySignal(flow, tls, host, cfg)) return null;

  // 2. Inside TLS: collect evidence per protocol.
  const ev: Record<Proto, Evidence[]> = { mqtt: [], amqp: [] };
  const add = (p: Proto | 'either', e: Evidence) => {
    if (p === 'either') { ev.mqtt.push(e); ev.amqp.push(e); } else ev[p].push(e);
  };
  const alpnProto = (a: string): Proto | null => {
    const x = a.toLowerCase();
    if (x === 'mqtt' || x === 'x-amzn-mqtt-ca') return 'mqtt';
    if (x === 'amqp') return 'amqp';
    return null;
  };
  const selected = tls.nextProtocol;
  const selProto = selected !== null ? alpnProto(selected) : null;
  if (selected !== null && selProto !== null) add(selProto, { signal: 'alpn_selected', value: selected, weight: W_ALPN_SELECTED });
  else {
    for (const a of tls.alpnOffered) {
      const p = alpnProto(a);
      if (p !== null) { add(p, { signal: 'alpn_offered', value: a, weight: W_ALPN_OFFERED }); break; }
    }
  }
  let negative: Evidence | null = null;
  const httpAlpn = (selected ?? '').toLowerCase();
  if (httpAlpn === 'h2' || httpAlpn === 'x-amzn-http-ca' || (selected === null && tls.alpnOffered.length > 0 && tls.alpnOffered.every((a) => a === 'x-amzn-http-ca'))) {
    negative = { signal: 'alpn_http', value: selected ?? tls.alpnOffered.join(','), weight: W_ALPN_HTTP };
  }

  const port = flow.server.port;
  if (port === 8883) add('mqtt', { signal: 'port', value: port, weight: W_PORT_SECURE });
  else if (port === 5671) add('amqp', { signal: 'port', value: port, weight: W_PORT_SECURE });
  else if (port === 1883 || port === 8884) add('mqtt', { signal: 'port', value: port, weight: W_PORT_OTHER });
  else if (port === 5672) add('amqp', { signal: 'port', value: port, weight: W_PORT_OTHER });

  if (host !== null && tls.sni !== null) {
    for (const suf of cfg.brokerSniSuffixes) {
      if (!suffixMatches(host, suf)) continue;
      const p = SUFFIX_PROTOCOL[suf] ?? 'either';
      add(p, { signal: 'broker_sni', value: tls.sni, weight: p === 'either' ? W_SNI_EITHER : W_SNI_KNOWN });
      break;
    }
  }

  for (const [p, sizes] of [['mqtt', MQTT_PING_RECORD_SIZES], ['amqp', AMQP_HEARTBEAT_RECORD_SIZES]] as const) {
    const ka = pingPairs(flow, sizes);
    if (ka.pairs >= MIN_PING_PAIRS && ka.madRatio !== null && ka.madRatio <= STEADY_MAD_RATIO) {
      add(p, { signal: 'keepalive_steady', value: `pairs=${ka.pairs} size=${ka.sizes.join('/')} interval_ms=${Math.round(ka.medianIntervalMs ?? 0)} mad_ratio=${ka.madRatio.toFixed(3)}`, weight: W_KEEPALIVE_STEADY });
    } else if (ka.pairs >= 1) {
      add(p, { signal: 'keepalive_pairs', value: `pairs=${ka.pairs} size=${ka.sizes.join('/')}`, weight: W_KEEPALIVE_PAIRS });
    } else {
      const sm = sizeMatches(flow, sizes);
      if (sm.length > 0) add(p, { signal: 'keepalive_sizes', value: sm.join('/'), weight: W_KEEPALIVE_SIZES });
    }
  }

  const score = (p: Proto): number => {
    let miss = 1;
    for (const e of ev[p]) miss *= 1 - e.weight;
    let c = 1 - miss;
    if (negative !== null) c *= 1 + negative.weight;
    return c;
  };
  // Shared evidence (CBC sizes 53/69, 'either' SNIs) counts for both; the specific signals decide.
  const m = score('mqtt');
  const a = score('amqp');
  const proto: Proto = a > m ? 'amqp' : 'mqtt';
  const conf = Math.max(m, a);
  if (conf < MIN_CONFIDENCE || ev[proto].length === 0) return null;
  const evidence = [...ev[proto]];
  if (negative !== null) evidence.push(negative);
  return { protocol: proto, encrypted: true, confidence: Math.round(conf * 1000) / 1000, evidence };
}
