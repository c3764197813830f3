/**
 * HttpDissector: HTTP/1.x message framing per direction (RFC 9112 §6.3 message body length),
 * requests paired with responses in order, CONNECT / Upgrade turning the flow into a tunnel.
 */
import { Dir, MidUnsure, Role, type DissectorContext, type FlowDissector, type StreamView, type Verdict } from '../../src/contract/api.js';
import type { HttpEventId } from './events.js';
import { headResumeAt, httpHeadLength, INVALID, leadingNewlines, lineLength, NEED_MORE } from './framing.js';
import { newParsedHead, parseChunkSize, parseRequestHead, parseResponseHead } from './parse.js';
import type { HttpLimits, HttpRecord, HttpRequestRecord } from './types.js';
import { HTTP_RESYNC_SCAN_BYTES, httpBoundary } from './midstream.js';

const Mode = {
  Head: 0,
  Body: 1, // Content-Length bytes to skip
  ChunkSize: 2,
  ChunkData: 3,
  ChunkEnd: 4, // the CRLF after chunk data
  Trailers: 5,
  UntilClose: 6, // response delimited by connection close
  AwaitTunnel: 7, // client sent CONNECT / Upgrade; its next bytes may not be HTTP
} as const;
type Mode = (typeof Mode)[keyof typeof Mode];

interface DirState {
  mode: Mode;
  remaining: number;
  /** Absolute stream offset where the next header-terminator scan may resume. */
  scanAt: number;
  /** Packet time when the current head's first bytes were seen (0 = not yet). */
  headTs: number;
  trailerBytes: number;
}

function dirState(): DirState {
  return { mode: Mode.Head, remaining: 0, scanAt: 0, headTs: 0, trailerBytes: 0 };
}

interface Pending {
  method: string;
  /** CONNECT authority or the Upgrade value; null for ordinary requests. */
  target: string | null;
  /** Stream offset (client direction) just after this request's head. */
  endOffset: number;
}

/**
 * The one parse result every message is read into: the records copy what they keep out of it, so
 * a message costs no result object of its own (parsing is synchronous; one per thread).
 */
const PARSED = newParsedHead();

/**
 * Per flow the dissector holds its fields and its two directions' states, nothing more unless the
 * flow needs it: a mid-stream pick-up gets its resync scans, pipelined requests their queue.
 * Most HTTP flows carry one request and its answer, and every object made for them is garbage.
 */
export class HttpDissector implements FlowDissector {
  private readonly toServer: DirState = dirState();
  private readonly toClient: DirState = dirState();
  /** The oldest request still waiting for its final response (method null: none) … */
  private headMethod: string | null = null;
  private headTarget: string | null = null;
  private headEnd = 0;
  /** … and those sent after it (pipelining), oldest first; null until a second one waits. */
  private queued: Pending[] | null = null;
  private requests = 0;
  private confirmed = false;
  /** Set once the flow became a tunnel: per-direction stream offsets where tunnelled bytes start. */
  tunnelOffsets: [number, number] | null = null;

  private readonly ctx: DissectorContext<HttpRecord, HttpEventId>;
  private readonly lim: HttpLimits;

  /** Picked up mid-stream: bit 1 << dir set while that direction's bytes before its first message line are skipped. */
  private unsynced: number;
  /** Per unsynced direction: where its scan for the first message line resumes, and the stream offset that is relative to. */
  private readonly resync: [{ from: number; base: number }, { from: number; base: number }] | null;

  constructor(ctx: DissectorContext<HttpRecord, HttpEventId>, lim: HttpLimits) {
    this.ctx = ctx;
    this.lim = lim;
    this.unsynced = ctx.flow.midstream ? (1 << Dir.ToServer) | (1 << Dir.ToClient) : 0;
    this.resync = ctx.flow.midstream ? [{ from: 0, base: 0 }, { from: 0, base: 0 }] : null;
  }

  private st(dir: Dir): DirState {
    return dir === Dir.ToServer ? this.toServer : this.toClient;
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    const s = this.st(dir);
    let pos = 0;
    let verdict: Verdict = 'more';
    if ((this.unsynced & (1 << dir)) !== 0 && this.resync !== null) {
      // Picked up mid-stream: skip to this direction's first request (status) line.
      const scan = this.resync[dir];
      if (scan.base !== view.streamOffset) { scan.base = view.streamOffset; scan.from = 0; }
      const r = httpBoundary(b, dir === Dir.ToServer ? Role.Client : Role.Server, true, scan);
      if (r < 0) {
        if (r === MidUnsure && b.length < HTTP_RESYNC_SCAN_BYTES && !view.eof) {
          view.needAtLeast(b.length + 1);
          return 'more';
        }
        this.ctx.event('http.midstream_unsynced', dir);
        return 'dir-done';
      }
      this.unsynced &= ~(1 << dir);
      pos = r >> 2;
    }
    for (;;) {
      if (s.mode === Mode.UntilClose) {
        pos = b.length;
        verdict = 'dir-done';
        break;
      }
      if (pos >= b.length) break;
      if (s.mode === Mode.Body || s.mode === Mode.ChunkData) {
        const n = Math.min(s.remaining, b.length - pos);
        pos += n;
        s.remaining -= n;
        if (s.remaining > 0) break;
        s.mode = s.mode === Mode.Body ? Mode.Head : Mode.ChunkEnd;
        continue;
      }
      if (s.mode === Mode.AwaitTunnel) {
        view.needAtLeast(b.length - pos + 1);
        break;
      }
      if (s.mode === Mode.Head) {
        pos += leadingNewlines(b, pos);
        if (pos >= b.length) break;
        if (s.headTs === 0) s.headTs = view.ts;
        const base = view.streamOffset + pos;
        const len = httpHeadLength(b, pos, this.lim.maxHeaderBytes, s.scanAt > base ? s.scanAt - base : 0);
        if (len === NEED_MORE) {
          s.scanAt = base + headResumeAt(b.length - pos);
          view.needAtLeast(b.length - pos + 1);
          break;
        }
        if (len === INVALID) {
          this.ctx.event('http.limit.max_header_bytes', dir);
          verdict = 'done';
          break;
        }
        const r = dir === Dir.ToServer ? this.onRequest(b, pos, pos + len, base + len, s.headTs) : this.onResponse(b, pos, pos + len, base + len, s.headTs);
        s.headTs = 0;
        s.scanAt = 0;
        if (r !== 'more') {
          if (r === 'done' && this.tunnelOffsets !== null) pos += len; // tunnel bytes stay unconsumed
          verdict = r;
          break;
        }
        pos += len;
        continue;
      }
      // Chunk-size line, the CRLF after chunk data, or a trailer line.
      const maxLine = s.mode === Mode.Trailers ? this.lim.maxHeaderBytes : this.lim.maxChunkLineBytes;
      const len = lineLength(b, pos, maxLine);
      if (len === NEED_MORE) {
        view.needAtLeast(b.length - pos + 1);
        break;
      }
      if (len === INVALID) {
        this.ctx.event(s.mode === Mode.Trailers ? 'http.limit.max_header_bytes' : 'http.limit.max_chunk_line_bytes', dir);
        verdict = 'done';
        break;
      }
      const lineAt = pos;
      pos += len;
      if (s.mode === Mode.ChunkEnd) {
        s.mode = Mode.ChunkSize;
      } else if (s.mode === Mode.ChunkSize) {
        const size = parseChunkSize(b, lineAt, pos);
        if (size < 0) {
          this.ctx.event('http.bad_chunk_size', dir);
          verdict = 'done';
          break;
        }
        if (size === 0) {
          s.mode = Mode.Trailers;
          s.trailerBytes = 0;
        } else {
          s.mode = Mode.ChunkData;
          s.remaining = size;
        }
      } else {
        // Trailers end at the first empty line (RFC 9112 §7.1.2).
        s.trailerBytes += len;
        if (len <= 2) s.mode = Mode.Head;
        else if (s.trailerBytes > this.lim.maxHeaderBytes) {
          this.ctx.event('http.limit.max_header_bytes', dir);
          verdict = 'done';
          break;
        }
      }
    }
    if (pos > 0) view.consume(pos);
    return verdict;
  }

  private onRequest(b: Uint8Array, start: number, end: number, endOffset: number, ts: number): Verdict {
    if (this.requests >= this.lim.maxRequestsCount) {
      this.ctx.event('http.limit.max_requests_count', Dir.ToServer);
      return 'done';
    }
    const p = PARSED;
    const bad = parseRequestHead(b, start, end, this.lim, p);
    if (bad !== null) return this.bad(bad, Dir.ToServer);
    this.ok();
    this.requests++;
    for (let i = 0; i < p.events.length; i++) this.ctx.event(p.events[i] as HttpEventId, Dir.ToServer);
    // Framing reads the record, not the shared parse result (valid only until the emit).
    const r: HttpRequestRecord = {
      kind: 'http.request', ts, dir: Dir.ToServer,
      method: p.method, uri: p.uri, version: p.version, host: p.host, userAgent: p.userAgent,
      upgrade: p.upgrade, wsProtocol: p.wsProtocol, contentLength: p.contentLength, chunked: p.chunked,
      headerBytes: end - start, status: p.truncated ? 'truncated' : 'complete',
      events: p.events,
    };
    this.ctx.emit(r);
    const isConnect = r.method === 'CONNECT';
    const target = isConnect ? r.uri : r.upgrade;
    if (this.headMethod === null) {
      this.headMethod = r.method;
      this.headTarget = target;
      this.headEnd = endOffset;
    } else (this.queued ??= []).push({ method: r.method, target, endOffset });
    const s = this.toServer;
    if (r.chunked) s.mode = Mode.ChunkSize;
    else if (r.contentLength !== null && r.contentLength > 0) {
      s.mode = Mode.Body;
      s.remaining = r.contentLength;
    } else s.mode = Mode.Head; // RFC 9112 §6.3 rule 7: no length, no body
    // After CONNECT or an Upgrade offer the client's next bytes may be tunnelled: hold them until
    // the response decides (bodyless requests only; an upgrade with a body is rare and not handled).
    if ((isConnect || r.upgrade !== null) && s.mode === Mode.Head) s.mode = Mode.AwaitTunnel;
    return 'more';
  }

  private onResponse(b: Uint8Array, start: number, end: number, endOffset: number, ts: number): Verdict {
    const p = PARSED;
    const bad = parseResponseHead(b, start, end, this.lim, p);
    if (bad !== null) return this.bad(bad, Dir.ToClient);
    this.ok();
    for (let i = 0; i < p.events.length; i++) this.ctx.event(p.events[i] as HttpEventId, Dir.ToClient);
    // What framing needs, read before emitting: the shared result is only valid until then.
    const code = p.statusCode;
    const chunked = p.chunked;
    const contentLength = p.contentLength;
    const reqMethod = this.headMethod;
    const reqTarget = this.headTarget;
    const reqEnd = this.headEnd;
    if (reqMethod === null) this.ctx.event('http.response_without_request', Dir.ToClient);
    const final = code >= 200 || code === 101;
    if (final && reqMethod !== null) this.nextPending();
    const events = reqMethod === null ? [...p.events, 'http.response_without_request' as const] : p.events;
    this.ctx.emit({
      kind: 'http.response', ts, dir: Dir.ToClient,
      version: p.version, statusCode: code, requestMethod: reqMethod,
      upgrade: p.upgrade, wsProtocol: p.wsProtocol, contentLength, chunked,
      headerBytes: end - start, status: p.truncated ? 'truncated' : 'complete',
      events,
    });
    const c = this.toServer;
    const isConnect = reqMethod === 'CONNECT';
    // RFC 9110 §9.3.6: any 2xx to CONNECT switches both sides to tunnel mode; §15.2.2: 101 too.
    if ((isConnect && code >= 200 && code < 300) || (code === 101 && reqMethod !== null)) {
      this.tunnelOffsets = [reqMethod !== null ? reqEnd : 0, endOffset];
      this.ctx.emit({
        kind: 'http.tunnel', ts, dir: null, reason: isConnect ? 'connect' : 'upgrade',
        target: reqMethod !== null ? reqTarget : null, offsets: [this.tunnelOffsets[0], this.tunnelOffsets[1]],
      });
      return 'done';
    }
    if (final && reqMethod !== null && c.mode === Mode.AwaitTunnel) c.mode = Mode.Head; // refused: back to HTTP
    const s = this.toClient;
    // RFC 9112 §6.3: responses to HEAD, 1xx, 204 and 304 have no body; then chunked; then length; else close.
    if (reqMethod === 'HEAD' || code < 200 || code === 204 || code === 304) s.mode = Mode.Head;
    else if (chunked) s.mode = Mode.ChunkSize;
    else if (contentLength !== null) {
      s.mode = contentLength > 0 ? Mode.Body : Mode.Head;
      s.remaining = contentLength;
    } else s.mode = Mode.UntilClose;
    return 'more';
  }

  /** The oldest waiting request was answered: the next one (if any) becomes the oldest. */
  private nextPending(): void {
    const next = this.queued !== null ? this.queued.shift() : undefined;
    if (next === undefined) {
      this.headMethod = null;
      this.headTarget = null;
      this.headEnd = 0;
    } else {
      this.headMethod = next.method;
      this.headTarget = next.target;
      this.headEnd = next.endOffset;
    }
  }

  private ok(): void {
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
  }

  private bad(id: HttpEventId, dir: Dir): Verdict {
    this.ctx.event(id, dir);
    this.ctx.violation(id);
    return 'abort';
  }

  gap(dir: Dir, lostBytes: number): Verdict {
    const s = this.st(dir);
    // Inside a counted body the gap is skipped exactly: framing resumes at the next message.
    if ((s.mode === Mode.Body || s.mode === Mode.ChunkData) && lostBytes <= s.remaining) {
      s.remaining -= lostBytes;
      if (s.remaining === 0) s.mode = s.mode === Mode.Body ? Mode.Head : Mode.ChunkEnd;
      return 'more';
    }
    if (s.mode === Mode.UntilClose) return 'dir-done';
    this.ctx.event('http.gap', dir);
    return 'done';
  }

  end(_dir: Dir): void {
    // Records are emitted per complete head; nothing is held open.
  }
}
