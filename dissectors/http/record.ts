/**
 * What HTTP puts on the flow record: the `http` section, its ECS fields (http, url, user_agent,
 * ndr.http), its protobuf message (http.proto) and its features.
 */
import { appOf, defineSection, type AppSections, type EcsWriter } from '../../src/contract/api.js';
import { withoutUserinfo, type UrlRedactor } from '../../src/util/redact.js';
import type { HttpInfo, HttpSummary } from './types.js';

export type { HttpInfo } from './types.js';

/** An HTTP Host header without its port ("[v6]:port" and "name:port" forms). */
export function hostOnly(h: string | null): string | null {
  if (!h) return null;
  if (h.startsWith('[')) return h.slice(1, Math.max(1, h.indexOf(']')));
  const i = h.lastIndexOf(':');
  return i > 0 && h.indexOf(':') === i ? h.slice(0, i) : h;
}

/** The record keeps the summary's fields, not the driver's tunnel bookkeeping. */
export function httpInfo(h: HttpSummary): HttpInfo {
  return {
    method: h.method, uri: h.uri, host: h.host, userAgent: h.userAgent, statusCode: h.statusCode, requests: h.requests,
    pathEntropy: h.pathEntropy, hostEntropy: h.hostEntropy, upgrade: h.upgrade, wsProtocol: h.wsProtocol,
  };
}

/** The redactor of the section context being written (set before a kept part is looked for). */
let redactorNow: UrlRedactor | null = null;

/** An HttpInfo copied for a kept part, with the redactor that wrote its URL. */
interface KeptHttp extends HttpInfo {
  readonly redactor?: UrlRedactor | null;
}

function writeDoc(h: HttpInfo, w: EcsWriter): void {
  const redactor = redactorNow as UrlRedactor;
  w.open('http');
  w.open('request');
  w.str('method', h.method);
  w.close();
  w.open('response');
  w.num('status_code', h.statusCode);
  w.close();
  w.close();
  w.open('url');
  if (h.uri !== null) w.str('original', redactor.redact(h.uri));
  if (h.host !== null) w.str('domain', withoutUserinfo(h.host));
  w.close();
  w.open('user_agent');
  w.str('original', h.userAgent);
  w.close();
}

function writeNdr(h: HttpInfo, w: EcsWriter): void {
  w.open('http');
  w.num('requests', h.requests);
  w.num('path_entropy', h.pathEntropy);
  w.num('host_entropy', h.hostEntropy);
  w.str('upgrade', h.upgrade);
  if (h.wsProtocol !== null) w.str('websocket_protocol', (redactorNow as UrlRedactor).redactWebSocketProtocols(h.wsProtocol));
  w.close();
}

/** Whether writeDoc writes the same for `b` as it did for kept `a` (every field it reads, and the redactor). */
function sameDoc(a: KeptHttp, b: HttpInfo): boolean {
  return a.uri === b.uri && a.host === b.host && a.method === b.method && a.statusCode === b.statusCode && a.userAgent === b.userAgent && a.redactor === redactorNow;
}

/** Whether writeNdr writes the same for `b` as it did for kept `a`. */
function sameNdr(a: KeptHttp, b: HttpInfo): boolean {
  return a.requests === b.requests && a.pathEntropy === b.pathEntropy && a.hostEntropy === b.hostEntropy && a.upgrade === b.upgrade && a.wsProtocol === b.wsProtocol && a.redactor === redactorNow;
}

/** What sameDoc and sameNdr read, copied for a kept part (the record's object may change after). */
function snapshot(h: HttpInfo): KeptHttp {
  return { ...h, redactor: redactorNow };
}

export const httpSection = defineSection<HttpInfo>({
  key: 'http',
  // Written field by field, not built as objects and walked: a crowd of small HTTP flows (beacons)
  // writes these for every line, and the throw-away objects were garbage for each. Where the text
  // is bytes, both parts are kept per URL (else host) and copied into the next flow that writes
  // the same (a beacon's every check-in), rather than the URL redacted and written again.
  // URLs and Host headers can carry credentials: both leave the sensor redacted (util/redact.ts).
  write: {
    doc(h, w, { redactor }) {
      redactorNow = redactor;
      const memo = w.memo;
      if (memo === undefined) writeDoc(h, w);
      else memo.part('http.doc', h.uri ?? h.host ?? '', h, sameDoc, snapshot, writeDoc);
    },
    ndr(h, w, { redactor }) {
      redactorNow = redactor;
      const memo = w.memo;
      if (memo === undefined) writeNdr(h, w);
      else memo.part('http.ndr', h.uri ?? h.host ?? '', h, sameNdr, snapshot, writeNdr);
    },
  },
  destinationDomain: (h) => hostOnly(h.host !== null ? withoutUserinfo(h.host) : null),
  proto: {
    type: 'ndr.v1.Http',
    ecs: {
      method: 'http.request.method',
      uri: 'url.original',
      host: 'url.domain',
      userAgent: 'user_agent.original',
      statusCode: 'http.response.status_code',
      requests: 'ndr.http.requests',
      pathEntropy: 'ndr.http.path_entropy',
      hostEntropy: 'ndr.http.host_entropy',
      upgrade: 'ndr.http.upgrade',
      websocketProtocol: 'ndr.http.websocket_protocol',
    },
    toProto(h, { redactor }) {
      const out: Record<string, unknown> = {
        method: h.method ?? '',
        uri: h.uri !== null ? redactor.redact(h.uri) : '',
        host: h.host !== null ? withoutUserinfo(h.host) : '',
        userAgent: h.userAgent ?? '',
        requests: h.requests,
        upgrade: h.upgrade ?? '',
        websocketProtocol: h.wsProtocol !== null ? redactor.redactWebSocketProtocols(h.wsProtocol) : '',
      };
      if (h.statusCode !== null) out.statusCode = h.statusCode;
      if (h.pathEntropy !== null) out.pathEntropy = h.pathEntropy;
      if (h.hostEntropy !== null) out.hostEntropy = h.hostEntropy;
      return out;
    },
  },
  features: (h) => (h.wsProtocol !== null ? { webSocketProtocol: h.wsProtocol } : {}),
});

export function httpOf(rec: { readonly apps: AppSections }): HttpInfo | null {
  return appOf(rec, httpSection);
}
