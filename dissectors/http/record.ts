/**
 * What HTTP puts on the flow record: the `http` section, its ECS fields (http, url, user_agent,
 * ndr.http), its protobuf message (http.proto) and its features.
 */
import { appOf, defineSection, type AppSections } from '../../src/contract/api.js';
import { withoutUserinfo } from '../../src/util/redact.js';
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

export const httpSection = defineSection<HttpInfo>({
  key: 'http',
  // Written field by field, not built as objects and walked: a crowd of small HTTP flows (beacons)
  // writes these for every line, and the throw-away objects were garbage for each.
  // URLs and Host headers can carry credentials: both leave the sensor redacted (util/redact.ts).
  write: {
    doc(h, w, { redactor }) {
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
    },
    ndr(h, w, { redactor }) {
      w.open('http');
      w.num('requests', h.requests);
      w.num('path_entropy', h.pathEntropy);
      w.num('host_entropy', h.hostEntropy);
      w.str('upgrade', h.upgrade);
      if (h.wsProtocol !== null) w.str('websocket_protocol', redactor.redactWebSocketProtocols(h.wsProtocol));
      w.close();
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
