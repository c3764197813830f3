/** http.* event catalog (STYLE.md rule 5). */
import type { EventCatalog } from '../../src/contract/api.js';

export const httpEvents = {
  'http.midstream_unsynced': { severity: 'anomaly', summary: 'flow picked up mid-stream: no request or status line found in this direction' },
  'http.bad_request_line': { severity: 'anomaly', summary: 'request line is not METHOD SP target SP HTTP/1.x (RFC 9112 §3)' },
  'http.bad_status_line': { severity: 'anomaly', summary: 'status line is not HTTP/1.x SP 3DIGIT (RFC 9112 §4)' },
  'http.bad_header_line': { severity: 'anomaly', summary: 'header field line without a colon, or whitespace before the colon (RFC 9112 §5.1)' },
  'http.bad_content_length': { severity: 'anomaly', summary: 'Content-Length is not a decimal number, or conflicting values (RFC 9110 §8.6)' },
  'http.bad_chunk_size': { severity: 'anomaly', summary: 'chunk-size line is not hex (RFC 9112 §7.1)' },
  'http.response_without_request': { severity: 'anomaly', summary: 'a response arrived with no request outstanding' },
  'http.gap': { severity: 'info', summary: 'bytes lost outside a body: dissection stopped' },
  'http.limit.max_header_bytes': { severity: 'limit', summary: 'header block larger than maxHeaderBytes' },
  'http.limit.max_requests_count': { severity: 'limit', summary: 'more requests than maxRequestsCount on one flow' },
  'http.limit.max_headers_count': { severity: 'limit', summary: 'more header lines than maxHeadersCount in one message' },
  'http.limit.max_string_bytes': { severity: 'limit', summary: 'a kept string (target, Host, User-Agent, …) was cut at maxStringBytes' },
  'http.limit.max_chunk_line_bytes': { severity: 'limit', summary: 'chunk-size line longer than maxChunkLineBytes' },
} as const satisfies EventCatalog<string>;

export type HttpEventId = keyof typeof httpEvents;
