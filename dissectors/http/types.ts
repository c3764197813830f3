/** HTTP/1.x records and limits. */
import type { DissectorRecord } from '../../src/contract/api.js';
import type { HttpEventId } from './events.js';

export interface HttpLimits {
  /** Largest header block (start line + fields + blank line) we buffer. */
  readonly maxHeaderBytes: number;
  /** Requests dissected per flow; after that the flow is left alone ('done'). */
  readonly maxRequestsCount: number;
  /** Header lines looked at per message. */
  readonly maxHeadersCount: number;
  /** Cap on each kept string (request target, Host, User-Agent, Upgrade, …). */
  readonly maxStringBytes: number;
  /** Longest chunk-size line (with extensions) we buffer. */
  readonly maxChunkLineBytes: number;
}

export const defaultHttpLimits: HttpLimits = {
  maxHeaderBytes: 16 * 1024,
  maxRequestsCount: 32,
  maxHeadersCount: 128,
  maxStringBytes: 2048,
  maxChunkLineBytes: 1024,
};

export interface HttpRequestRecord extends DissectorRecord {
  readonly kind: 'http.request';
  readonly method: string;
  readonly uri: string;
  readonly version: string; // '1.0' | '1.1'
  readonly host: string | null;
  readonly userAgent: string | null;
  readonly upgrade: string | null;
  readonly wsProtocol: string | null;
  readonly contentLength: number | null;
  readonly chunked: boolean;
  /** Size of the header block on the wire (start line to blank line inclusive). */
  readonly headerBytes: number;
  readonly status: 'complete' | 'truncated';
  readonly events: readonly HttpEventId[];
}

export interface HttpResponseRecord extends DissectorRecord {
  readonly kind: 'http.response';
  readonly version: string;
  readonly statusCode: number;
  /** Method of the request this answers (null when none was outstanding). */
  readonly requestMethod: string | null;
  readonly upgrade: string | null;
  readonly wsProtocol: string | null;
  readonly contentLength: number | null;
  readonly chunked: boolean;
  readonly headerBytes: number;
  readonly status: 'complete' | 'truncated';
  readonly events: readonly HttpEventId[];
}

/**
 * The stream stopped being HTTP: a 2xx to CONNECT (a tunnel, usually TLS follows) or a 101 upgrade
 * (WebSocket, h2c). `offsets` are the stream offsets, per direction, where the tunnelled bytes
 * start; the dissector returns 'done' right after emitting this and leaves those bytes unconsumed.
 */
export interface HttpTunnelRecord extends DissectorRecord {
  readonly kind: 'http.tunnel';
  readonly reason: 'connect' | 'upgrade';
  readonly target: string | null; // CONNECT authority, or the Upgrade token
  readonly offsets: readonly [number, number];
}

export type HttpRecord = HttpRequestRecord | HttpResponseRecord | HttpTunnelRecord;

/** What the flow record keeps of HTTP (the `http` section). */
export interface HttpInfo {
  method: string | null;
  uri: string | null;
  host: string | null;
  userAgent: string | null;
  statusCode: number | null;
  requests: number;
  pathEntropy: number | null; // bits per char of the first request path
  hostEntropy: number | null;
  upgrade: string | null; // e.g. 'websocket'
  wsProtocol: string | null; // Sec-WebSocket-Protocol
}

/**
 * The per-flow summary: HttpInfo plus what the driver needs for its "re-probe after CONNECT" hook.
 * `reprobe` is true when the flow turned into a tunnel (CONNECT 2xx or 101): the driver should run
 * classification again on each direction from `tunnelOffsets[dir]`.
 */
export interface HttpSummary extends HttpInfo {
  reprobe: boolean;
  tunnel: 'connect' | 'upgrade' | null;
  tunnelOffsets: [number, number] | null;
}
