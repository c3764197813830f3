import { describe, expect, it } from 'vitest';
import { harness, splits } from '../../test/helpers/dissect-harness.js';
import { Dir } from '../../src/contract/api.js';
import { httpSpec, probeHttp, summarizeHttp } from './index.js';
import type { HttpInfo, HttpRecord } from './types.js';
import { httpSection } from './record.js';
import { UrlRedactor } from '../../src/util/redact.js';
import { ObjectWriter } from '../../src/output/json.js';

const enc = (s: string) => new TextEncoder().encode(s);

const REQ1 = 'GET /a9Xq7Zt2LmP0vB4kR8sY1wE6uJ3cN5hD?x=1 HTTP/1.1\r\nHost: qz7xk2vb9w.example:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n';
const REQ2 = 'POST /upload HTTP/1.1\r\nHost: qz7xk2vb9w.example:8080\r\nContent-Length: 5\r\n\r\nhello';
const RESP1 = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\nX-T: 1\r\n\r\n';
const RESP2 = 'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
const CLIENT = enc(REQ1 + REQ2);
const SERVER = enc(RESP1 + RESP2);

function run(client: Uint8Array[], server: Uint8Array[], limits: object = httpSpec.defaultLimits) {
  const h = harness(httpSpec, limits, { srcPort: 40000, dstPort: 8080, transport: 'tcp', startTs: 0 });
  for (const c of client) h.feed(Dir.ToServer, c, 1000);
  for (const c of server) h.feed(Dir.ToClient, c, 2000);
  h.end();
  return h;
}

const strip = (rs: unknown[]) => JSON.stringify(rs);

describe('http dissector', () => {
  it('1. valid exchange gives the expected records and summary', () => {
    const h = run([CLIENT], [SERVER]);
    expect(h.confirmed).toBe(true);
    expect(h.events).toEqual([]);
    const recs = h.records as HttpRecord[];
    expect(recs.map((r) => r.kind)).toEqual(['http.request', 'http.request', 'http.response', 'http.response']);
    const s = summarizeHttp(recs);
    expect(s.method).toBe('GET');
    expect(s.uri).toBe('/a9Xq7Zt2LmP0vB4kR8sY1wE6uJ3cN5hD?x=1');
    expect(s.host).toBe('qz7xk2vb9w.example:8080');
    expect(s.userAgent).toBe('curl/7.88.1');
    expect(s.statusCode).toBe(200);
    expect(s.requests).toBe(2);
    expect(s.pathEntropy).toBeGreaterThan(5); // 39 chars, almost all distinct
    expect(s.hostEntropy).toBeGreaterThan(3.5);
    expect(s.reprobe).toBe(false);
    // every byte was framed: nothing left over
    expect(h.pending(Dir.ToServer)).toBe(0);
    expect(h.pending(Dir.ToClient)).toBe(0);
    const r2 = recs[3];
    expect(r2?.kind === 'http.response' && r2.requestMethod).toBe('POST');
  });

  it('2. every split point gives identical records and events', () => {
    const ref = run([CLIENT], [SERVER]);
    for (const [a, b] of splits(CLIENT)) {
      const h = run([a, b], [SERVER]);
      expect(strip(h.records)).toBe(strip(ref.records));
      expect(h.events).toEqual(ref.events);
    }
    for (const [a, b] of splits(SERVER)) {
      const h = run([CLIENT], [a, b]);
      expect(strip(h.records)).toBe(strip(ref.records));
    }
    // byte by byte
    const bytes = [...CLIENT].map((x) => Uint8Array.of(x));
    const h = run(bytes, [...SERVER].map((x) => Uint8Array.of(x)));
    expect(strip(h.records)).toBe(strip(ref.records));
  });

  it('3. every proper prefix gives need-more, never an error', () => {
    const one = enc(REQ1);
    for (let i = 1; i < one.length; i++) {
      const h = run([one.subarray(0, i)], []);
      expect(h.records).toEqual([]);
      expect(h.events).toEqual([]);
      expect(h.violations).toEqual([]);
      expect(h.verdicts.every((v) => v === 'more')).toBe(true);
    }
  });

  it('4. malformed input raises its specific event', () => {
    const cases: [string, Dir, string][] = [
      ['GET /x HTTP/2.0\r\n\r\n', Dir.ToServer, 'http.bad_request_line'],
      ['GET  HTTP/1.1\r\n\r\n', Dir.ToServer, 'http.bad_request_line'],
      ['HTTP/1.1 2x0 OK\r\n\r\n', Dir.ToClient, 'http.bad_status_line'],
      ['GET / HTTP/1.1\r\nHost example\r\n\r\n', Dir.ToServer, 'http.bad_header_line'],
      ['POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n', Dir.ToServer, 'http.bad_content_length'],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', Dir.ToServer, 'http.bad_chunk_size'],
    ];
    for (const [text, dir, id] of cases) {
      const h = harness(httpSpec);
      if (dir === Dir.ToClient) h.feed(Dir.ToServer, enc('GET / HTTP/1.1\r\n\r\n'));
      h.feed(dir, enc(text));
      expect(h.events.map((e) => e.id), text).toContain(id);
    }
    const h = harness(httpSpec);
    h.feed(Dir.ToClient, enc('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(h.events.map((e) => e.id)).toContain('http.response_without_request');
    // a bad first start line is a violation (the driver detaches before confirmation)
    const v = harness(httpSpec);
    expect(v.feed(Dir.ToServer, enc('GET / SPDY/3\r\n\r\n'))).toBe('abort');
    expect(v.violations).toEqual(['http.bad_request_line']);
    expect(v.confirmed).toBe(false);
  });

  it('5. limits raise their event and keep the true length', () => {
    const big = 'GET / HTTP/1.1\r\nX-Pad: ' + 'a'.repeat(300) + '\r\n\r\n';
    const h1 = run([enc(big)], [], { ...httpSpec.defaultLimits, maxHeaderBytes: 256 });
    expect(h1.events.map((e) => e.id)).toEqual(['http.limit.max_header_bytes']);
    expect(h1.verdicts.at(-1)).toBe('done');

    const many = Array.from({ length: 5 }, () => 'GET / HTTP/1.1\r\nHost: a\r\n\r\n').join('');
    const h2 = run([enc(many)], [], { ...httpSpec.defaultLimits, maxRequestsCount: 3 });
    expect(h2.records.length).toBe(3);
    expect(h2.events.map((e) => e.id)).toEqual(['http.limit.max_requests_count']);

    const longUri = '/' + 'z'.repeat(100);
    const h3 = run([enc(`GET ${longUri} HTTP/1.1\r\nUser-Agent: ${'u'.repeat(80)}\r\n\r\n`)], [], { ...httpSpec.defaultLimits, maxStringBytes: 32 });
    const r = h3.records[0] as HttpRecord;
    expect(r.kind === 'http.request' && r.uri.length).toBe(32);
    expect(r.kind === 'http.request' && r.status).toBe('truncated');
    expect(r.kind === 'http.request' && r.headerBytes).toBe(enc(`GET ${longUri} HTTP/1.1\r\nUser-Agent: ${'u'.repeat(80)}\r\n\r\n`).length);
    expect(h3.events.map((e) => e.id)).toEqual(['http.limit.max_string_bytes']);

    const hdrs = 'GET / HTTP/1.1\r\n' + Array.from({ length: 10 }, (_, i) => `X-${i}: v\r\n`).join('') + 'Host: late\r\n\r\n';
    const h4 = run([enc(hdrs)], [], { ...httpSpec.defaultLimits, maxHeadersCount: 4 });
    expect(h4.events.map((e) => e.id)).toEqual(['http.limit.max_headers_count']);
    expect(summarizeHttp(h4.records as HttpRecord[]).host).toBeNull();

    const chunk = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' + '1'.repeat(40) + '\r\n';
    const h5 = harness(httpSpec, { ...httpSpec.defaultLimits, maxChunkLineBytes: 16 });
    h5.feed(Dir.ToServer, enc('GET / HTTP/1.1\r\n\r\n'));
    h5.feed(Dir.ToClient, enc(chunk));
    expect(h5.events.map((e) => e.id)).toEqual(['http.limit.max_chunk_line_bytes']);
  });

  it('CONNECT 200 ends dissection, leaves the tunnel unconsumed and asks for a re-probe', () => {
    const req = enc('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const hello = Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5);
    const resp = enc('HTTP/1.1 200 Connection established\r\n\r\n');
    const h = harness(httpSpec);
    expect(h.feed(Dir.ToServer, new Uint8Array([...req, ...hello]))).toBe('more');
    expect(h.pending(Dir.ToServer)).toBe(hello.length); // held back, not parsed as HTTP
    expect(h.feed(Dir.ToClient, new Uint8Array([...resp, 0x16, 0x03, 0x03]))).toBe('done');
    expect(h.events).toEqual([]);
    const s = summarizeHttp(h.records as HttpRecord[]);
    expect(s.reprobe).toBe(true);
    expect(s.tunnel).toBe('connect');
    expect(s.tunnelOffsets).toEqual([req.length, resp.length]);
    expect(s.pathEntropy).toBeNull();
    expect(h.pending(Dir.ToClient)).toBe(3);
  });

  it('CONNECT refused goes back to HTTP; WebSocket upgrade becomes a tunnel', () => {
    const h = harness(httpSpec);
    h.feed(Dir.ToServer, enc('CONNECT x:443 HTTP/1.1\r\n\r\n'));
    expect(h.feed(Dir.ToClient, enc('HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n'))).toBe('more');
    h.feed(Dir.ToServer, enc('GET / HTTP/1.1\r\n\r\n'));
    expect(h.records.filter((r) => r.kind === 'http.request').length).toBe(2);

    const w = harness(httpSpec);
    w.feed(Dir.ToServer, enc('GET /mqtt HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n'));
    const sw = enc('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n');
    expect(w.feed(Dir.ToClient, new Uint8Array([...sw, 0x82, 0x02, 0xc0, 0x00]))).toBe('done');
    const s = summarizeHttp(w.records as HttpRecord[]);
    expect(s.upgrade).toBe('websocket');
    expect(s.wsProtocol).toBe('mqtt');
    expect(s.tunnel).toBe('upgrade');
    expect(w.pending(Dir.ToClient)).toBe(4);
  });

  it('HEAD, 204, 304 and 1xx responses have no body; close-delimited body ends the direction', () => {
    const h = harness(httpSpec);
    h.feed(Dir.ToServer, enc('HEAD / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.0\r\n\r\n'));
    h.feed(Dir.ToClient, enc('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n'));
    expect(h.feed(Dir.ToClient, enc('HTTP/1.0 200 OK\r\n\r\nbody until close'))).toBe('dir-done');
    expect(h.events).toEqual([]);
    expect(h.records.filter((r) => r.kind === 'http.response').length).toBe(4);
  });

  it('a gap inside a body is skipped exactly; elsewhere it stops', () => {
    const h = harness(httpSpec);
    h.feed(Dir.ToServer, enc('POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789'));
    expect(h.dissector.gap(Dir.ToServer, 90)).toBe('more');
    h.feed(Dir.ToServer, enc('GET /next HTTP/1.1\r\n\r\n'));
    expect(h.records.length).toBe(2);
    expect(h.dissector.gap(Dir.ToServer, 5)).toBe('done');
  });

  it('probe: method tokens and HTTP/1. only', () => {
    expect(probeHttp(enc('GET /'), Dir.ToServer)).toBe('yes');
    expect(probeHttp(enc('OPTI'), Dir.ToServer)).toBe('unsure');
    expect(probeHttp(enc('GETX'), Dir.ToServer)).toBe('no');
    expect(probeHttp(enc('HTTP/1.1 200'), Dir.ToClient)).toBe('yes');
    expect(probeHttp(enc('HTTP/2'), Dir.ToClient)).toBe('no');
    expect(probeHttp(enc('HTTP/1.1 200'), Dir.ToServer)).toBe('no');
    expect(probeHttp(Uint8Array.of(0x16, 3, 1), Dir.ToServer)).toBe('no');
  });
});

describe('http section: redaction follows the context it is given', () => {
  it('two outputs with different lists in one process each get their own, in ECS and protobuf alike', () => {
    const info: HttpInfo = {
      method: 'GET', uri: 'http://u:p@h.example/cb?ticket=T1&password=P1', host: 'h.example', userAgent: null, statusCode: 200,
      requests: 1, pathEntropy: null, hostEntropy: null, upgrade: null, wsProtocol: null,
    };
    const standard = { redactor: new UrlRedactor() };
    const custom = { redactor: new UrlRedactor(['ticket']) };
    const ecsUrl = (ctx: typeof standard): unknown => {
      const w = new ObjectWriter();
      w.begin();
      httpSection.write!.doc!(info, w, ctx);
      return (w.end().url as { original: string }).original;
    };
    // Interleaved: neither call leaves anything behind for the next.
    expect(ecsUrl(custom)).toBe('http://h.example/cb?ticket=REDACTED&password=P1');
    expect(ecsUrl(standard)).toBe('http://h.example/cb?ticket=T1&password=REDACTED');
    expect(httpSection.proto.toProto(info, custom).uri).toBe('http://h.example/cb?ticket=REDACTED&password=P1');
    expect(httpSection.proto.toProto(info, standard).uri).toBe('http://h.example/cb?ticket=T1&password=REDACTED');
  });
});
