/**
 * HTTP/1.x dissector registration: request line, Host, User-Agent, Upgrade, status codes; several
 * requests per flow (maxRequestsCount); CONNECT / 101 tunnels end dissection with a re-probe hint.
 */
import { defineDissector, Dir, leadBytes, type ProbeResult } from '../../src/contract/api.js';
import { asciiBytes } from '../../src/util/bytes.js';
import { httpEvents, type HttpEventId } from './events.js';
import { textEntropy } from './parse.js';
import { HttpDissector } from './state.js';
import { probeHttpMidstream } from './midstream.js';
import { httpInfo, httpSection } from './record.js';
import { defaultHttpLimits, type HttpLimits, type HttpRecord, type HttpRequestRecord, type HttpResponseRecord, type HttpSummary, type HttpTunnelRecord } from './types.js';

const METHOD_NAMES = ['GET ', 'POST ', 'PUT ', 'HEAD ', 'OPTIONS ', 'DELETE ', 'CONNECT ', 'PATCH '];
const METHODS = METHOD_NAMES.map(asciiBytes);
const RESPONSE = asciiBytes('HTTP/1.');

/** 'yes' on a full match, 'unsure' while `bytes` is a proper prefix of the pattern, else 'no'. */
function matchPrefix(bytes: Uint8Array, pat: readonly number[]): ProbeResult {
  const n = bytes.length < pat.length ? bytes.length : pat.length;
  for (let i = 0; i < n; i++) if (bytes[i] !== pat[i]) return 'no';
  return n === pat.length ? 'yes' : 'unsure';
}

export function probeHttp(bytes: Uint8Array, dir: Dir): ProbeResult {
  if (dir === Dir.ToClient) return matchPrefix(bytes, RESPONSE);
  let result: ProbeResult = 'no';
  for (let i = 0; i < METHODS.length; i++) {
    const r = matchPrefix(bytes, METHODS[i] as number[]);
    if (r === 'yes') return 'yes';
    if (r === 'unsure') result = 'unsure';
  }
  return result;
}

/** Host without port or IPv6 brackets, lowercased (for entropy). */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return (close > 0 ? host.slice(1, close) : host.slice(1)).toLowerCase();
  }
  const colon = host.lastIndexOf(':');
  return (colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host).toLowerCase();
}

/**
 * Request path for entropy: the request-target with any absolute-form `scheme://authority`
 * removed (proxy requests). The query is kept on purpose: C2 encodes its data there as often as
 * in the path. CONNECT's authority-form has no path (null).
 */
function requestPath(method: string, uri: string): string | null {
  if (method === 'CONNECT') return null;
  const scheme = uri.indexOf('://');
  if (scheme > 0 && uri.charCodeAt(0) !== 0x2f) {
    const slash = uri.indexOf('/', scheme + 3);
    return slash < 0 ? '/' : uri.slice(slash);
  }
  return uri;
}

/**
 * The last request path's and Host's entropy: entropy is a pure function of the string, and a
 * crowd of beacons (or one client's many flows) repeats the same URL and Host flow after flow.
 */
let lastPath: string | null = null;
let lastPathEntropy = 0;
let lastHost: string | null = null;
let lastHostEntropy = 0;

function pathEntropy(path: string): number {
  if (path !== lastPath) {
    lastPathEntropy = textEntropy(path);
    lastPath = path;
  }
  return lastPathEntropy;
}

function hostEntropy(host: string): number {
  if (host !== lastHost) {
    lastHostEntropy = textEntropy(hostName(host));
    lastHost = host;
  }
  return lastHostEntropy;
}

export function summarizeHttp(records: readonly HttpRecord[]): HttpSummary {
  let first: HttpRequestRecord | null = null;
  let firstResponse: HttpResponseRecord | null = null;
  let tunnel: HttpTunnelRecord | null = null;
  let requests = 0;
  let upgrade: string | null = null;
  let wsProtocol: string | null = null;
  for (const r of records) {
    if (r.kind === 'http.request') {
      requests++;
      if (first === null) first = r;
      if (upgrade === null && r.upgrade !== null) upgrade = r.upgrade;
      if (wsProtocol === null && r.wsProtocol !== null) wsProtocol = r.wsProtocol;
    } else if (r.kind === 'http.response') {
      if (firstResponse === null && r.statusCode >= 200) firstResponse = r;
      if (r.statusCode === 101 && r.wsProtocol !== null) wsProtocol = r.wsProtocol; // the one selected
    } else if (tunnel === null) tunnel = r;
  }
  const path = first !== null ? requestPath(first.method, first.uri) : null;
  const host = first?.host ?? null;
  return {
    method: first?.method ?? null,
    uri: first?.uri ?? null,
    host,
    userAgent: first?.userAgent ?? null,
    statusCode: firstResponse?.statusCode ?? null,
    requests,
    pathEntropy: path !== null ? pathEntropy(path) : null,
    hostEntropy: host !== null && host.length > 0 ? hostEntropy(host) : null,
    upgrade: upgrade !== null ? upgrade.toLowerCase() : null,
    wsProtocol,
    reprobe: tunnel !== null,
    tunnel: tunnel?.reason ?? null,
    tunnelOffsets: tunnel !== null ? [tunnel.offsets[0], tunnel.offsets[1]] : null,
  };
}

export const httpSpec = defineDissector<HttpLimits, HttpRecord, HttpEventId, HttpSummary>({
  name: 'http',
  apiVersion: 1,
  carrier: true,
  transport: 'tcp',
  handsBack: true,
  probe: {
    ports: [80, 8080, 8000, 8008, 8888, 3128],
    prefixes: [...METHODS, RESPONSE],
    minBytes: 4,
    maxBytes: 8,
    probe: probeHttp,
    midstream: probeHttpMidstream,
    leads: [leadBytes(METHOD_NAMES), leadBytes(['HTTP/1.'])],
  },
  defaultLimits: defaultHttpLimits,
  events: httpEvents,
  create: (ctx, limits) => new HttpDissector(ctx, limits),
  summarize: summarizeHttp,
  sections: [httpSection],
  toRecord: (h, out) => out.set(httpSection, httpInfo(h)),
});

export type { HttpLimits, HttpRecord, HttpSummary } from './types.js';
