/**
 * JSON-lines output (stdout or a file) and the human replay summary. Lines are buffered and
 * written in large chunks: to a file at once, to stdout through its stream (a slow consumer
 * applies back-pressure there).
 */
import { accessSync, closeSync, constants, lstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import type { Alert } from '../analytics/alert.js';
import type { FloodSummary, FlowRecord } from '../flow/record.js';
import { defaultEcsContext, EcsSerializer, type EcsContext, type OutputDetail } from './ecs.js';
import { terminalSafeJson, type JsonWriter } from './json.js';
import { termSafe } from '../util/terminal.js';
import { tlsOf } from '../../dissectors/tls/record.js';

export interface JsonLinesOptions {
  /** lean (default) or full: see OutputDetail. */
  readonly detail?: OutputDetail;
  /** Entries of the set of certificates and JA4 fingerprints this file has described (lean). */
  readonly describedMax?: number;
  /** Add to an existing file (a live sensor's restart) instead of starting it afresh (a replay). */
  readonly append?: boolean;
  /**
   * A chunk the file refused (disk full, I/O error): its lines are counted in `lost` and the sink
   * goes on with the next chunk. Without it the write error is thrown to the caller.
   */
  readonly onWriteError?: (e: OutputWriteError) => void;
}

/** The output file refused a write; `lines` of output were lost with it. */
export class OutputWriteError extends Error {
  override name = 'OutputWriteError';
  readonly path: string;
  readonly lines: number;
  constructor(path: string, lines: number, cause: Error) {
    super(lines > 0 ? `cannot write ${path}: ${cause.message} (${lines} line(s) lost)` : `cannot open ${path} for output: ${cause.message}`, { cause });
    this.path = path;
    this.lines = lines;
  }
}

/**
 * Bytes of output gathered before one write. The serializer's writer keeps the lines in its own
 * buffer (JsonWriter.line), so a flow's bytes are written where they will be sent from: no string
 * is made of them and they are not copied into a chunk of the sink's.
 */
const CHUNK_BYTES = 1 << 20;
/** The writer's buffer after each write: a chunk and room for the document that crosses its end. */
const BUFFER_BYTES = CHUNK_BYTES + (1 << 16);
/** Written buffers kept for the writer: enough for a stream that lags a few writes behind. */
const SPARE_BUFFERS = 32;

export class JsonLinesSink {
  private readonly out: NodeJS.WritableStream | null;
  /**
   * The output file, written synchronously from the writer's buffer while its bytes are still in
   * the cache (Node writes stdout to a file the same way, Suricata its EVE log). Through a write
   * stream the chunks queued up and went to the kernel from the thread pool in multi-megabyte
   * batches, which cost several times the system time of the same bytes written as they came.
   */
  private fd: number;
  private readonly path: string;
  private readonly onWriteError: ((e: OutputWriteError) => void) | undefined;
  written = 0;
  /** Lines the output file refused (see JsonLinesOptions.onWriteError). */
  lost = 0;
  /** Lines in the writer's buffer, not yet written. */
  private pending = 0;

  /** Writes this file's documents; its described set is this file's. */
  readonly ecs: EcsSerializer;
  private readonly w: JsonWriter;
  private readonly spare: Buffer[] = [];

  constructor(path: string | null, ctx: EcsContext = defaultEcsContext, opts: JsonLinesOptions = {}) {
    this.ecs = new EcsSerializer({
      ctx,
      detail: opts.detail ?? 'lean',
      ...(opts.describedMax !== undefined ? { describedMax: opts.describedMax } : {}),
      onRef: (json) => this.safeLine(json),
    });
    this.w = this.ecs.writer;
    this.path = path ?? '-';
    this.onWriteError = opts.onWriteError;
    if (path === null || path === '-') {
      this.out = process.stdout;
      this.fd = -1;
      quietOnClosedPipe();
    } else {
      this.out = null;
      try {
        if (opts.append !== true) replaceable(path);
        this.fd = openSync(path, opts.append === true ? 'a' : 'w');
      } catch (e) {
        throw new OutputWriteError(path, 0, e as Error);
      }
    }
  }

  flow(r: FlowRecord): void {
    this.ecs.flowWriter(r).line();
    this.written++;
    this.pending++;
    if (this.w.keptBytes >= CHUNK_BYTES) this.flushSync();
  }

  alert(a: Alert): void {
    this.safeLine(this.ecs.alert(a));
  }

  flood(f: FloodSummary): void {
    this.safeLine(this.ecs.flood(f));
  }

  /** Any other record (the fleet's state in `fleet show`), escaped as every line is. */
  record(o: unknown): void {
    this.line(JSON.stringify(o));
  }

  private line(json: string): void {
    // JSON.stringify escapes only C0 controls; DEL, C1 (CSI, OSC…), bidi and invisible characters
    // are escaped here too, so JSON lines shown on a terminal (-o -, cat, less -R) stay inert.
    this.safeLine(terminalSafeJson(json));
  }

  /** A line the ECS serializer wrote (it escapes those characters as it writes). */
  private safeLine(s: string): void {
    this.written++;
    this.pending++;
    this.w.textLine(s);
    if (this.w.keptBytes >= CHUNK_BYTES) this.flushSync();
  }

  /**
   * Write what the buffer holds now: a live sensor calls it every second, so a line waits about a
   * second to be read (as Zeek's and Suricata's logs are flushed), not for a megabyte of others.
   */
  flush(): void {
    this.flushSync();
  }

  private flushSync(): void {
    if (this.w.keptBytes === 0) return;
    const lines = this.pending;
    this.pending = 0;
    if (this.out === null) {
      // Written before the writer goes on, so the writer keeps its one buffer.
      const chunk = this.w.takeLines(BUFFER_BYTES, this.spare.pop());
      this.spare.push(Buffer.from(chunk.buffer, chunk.byteOffset));
      try {
        for (let at = 0; at < chunk.length; ) at += writeSync(this.fd, chunk, at);
      } catch (e) {
        const err = new OutputWriteError(this.path, lines, e as Error);
        if (this.onWriteError === undefined) throw err;
        this.lost += lines;
        this.onWriteError(err);
      }
      return;
    }
    // The stream keeps the bytes until they are written, so the writer goes on in another buffer;
    // once written, a buffer is kept for a later take. A fresh megabyte per take counted as
    // external memory, and V8 starts a full collection for every 64 MiB of it: a flood's output
    // made most of its full collections that way, each marking the whole flow table.
    const chunk = this.w.takeLines(BUFFER_BYTES, this.spare.pop());
    this.out.write(chunk, () => { if (this.spare.length < SPARE_BUFFERS) this.spare.push(Buffer.from(chunk.buffer, chunk.byteOffset)); });
  }

  async close(): Promise<void> {
    this.flushSync();
    const o = this.out;
    if (o === null) {
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
      return;
    }
    await new Promise<void>((res) => { if (o.write('')) res(); else o.once('drain', () => res()); });
  }
}

let pipeWatched = false;

/**
 * A reader that stops early (`ndr-sensor replay FILE | head`) closes the pipe: the sensor then ends
 * quietly, as a Unix filter does on SIGPIPE (Node ignores the signal and raised an unhandled EPIPE
 * with a stack trace instead). Any other error on stdout is one named line and exit 1.
 */
function quietOnClosedPipe(): void {
  if (pipeWatched) return;
  pipeWatched = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    process.stderr.write(`ndr-sensor: cannot write to stdout: ${e.message}\n`);
    process.exit(1);
  });
}

/**
 * A writable regular file at `path` is removed, so the output is a new file rather than the old one
 * cut to nothing, as linkers do with their output. ext4 starts writing back a file emptied that
 * way when it is closed, and a replay's run then waited for its whole output to be queued to disk.
 * A device, a pipe or a link's target are left as they are.
 */
function replaceable(path: string): void {
  try {
    if (!lstatSync(path).isFile()) return;
    accessSync(path, constants.W_OK);
    unlinkSync(path);
  } catch {
    // not there, not ours to remove: opening it says what is wrong
  }
}

/** Counts for the end-of-replay table. */
export class Summary {
  flows = 0;
  byProto = new Map<string, number>();
  ja4 = new Map<string, number>();
  alerts = new Map<string, { count: number; top: Map<string, number>; example: string }>();
  attributed = 0;

  flow(r: FlowRecord): void {
    this.flows++;
    const p = r.protocol ?? `${r.transport}/unknown`;
    this.byProto.set(p, (this.byProto.get(p) ?? 0) + 1);
    const j = tlsOf(r)?.ja4;
    if (j) this.ja4.set(j, (this.ja4.get(j) ?? 0) + 1);
    if (r.attribution?.status === 'attributed') this.attributed++;
  }

  alert(a: Alert): void {
    let e = this.alerts.get(a.analytic);
    if (!e) {
      e = { count: 0, top: new Map(), example: a.explanation };
      this.alerts.set(a.analytic, e);
    }
    e.count += a.count;
    for (const ev of a.evidence) e.top.set(ev.signal, (e.top.get(ev.signal) ?? 0) + ev.weight);
  }

  render(extra: [string, string][]): string {
    const lines: string[] = [];
    const row = (k: string, v: string) => lines.push(`  ${k.padEnd(28)} ${v}`);
    lines.push('', 'ndr-sensor replay summary');
    for (const [k, v] of extra) row(k, v);
    row('flows', String(this.flows));
    if (this.attributed > 0) row('flows attributed to a process', String(this.attributed));
    lines.push('', '  flows per protocol');
    for (const [p, n] of [...this.byProto].sort((a, b) => b[1] - a[1])) row(`  ${p}`, String(n));
    if (this.ja4.size > 0) {
      lines.push('', '  top JA4');
      for (const [j, n] of [...this.ja4].sort((a, b) => b[1] - a[1]).slice(0, 8)) row(`  ${j}`, String(n));
    }
    lines.push('', '  alerts per analytic');
    if (this.alerts.size === 0) row('  (none)', '');
    for (const [id, e] of [...this.alerts].sort()) {
      const top = [...e.top].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([s]) => s).join(', ');
      row(`  ${id}`, `${e.count}  top evidence: ${top}`);
      lines.push(`      e.g. ${e.example}`);
    }
    lines.push('');
    // Protocol names, JA4s and alert explanations carry names from the wire and from Sysmon.
    return lines.map(termSafe).join('\n');
  }
}

/** A one-line progress display on a terminal (stderr), at most ~5 updates per second. */
export class Progress {
  private last = 0;
  private readonly start = Date.now();
  private readonly on: boolean;
  constructor(enabled: boolean) {
    this.on = enabled && process.stderr.isTTY === true;
  }
  update(packets: number, flows: number): void {
    if (!this.on) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const pps = secs > 0 ? Math.round(packets / secs) : 0;
    process.stderr.write(`\r  ${packets.toLocaleString('en')} packets  ${pps.toLocaleString('en')} pkt/s  ${flows.toLocaleString('en')} flows   `);
  }
  done(): void {
    if (this.on) process.stderr.write('\r' + ' '.repeat(72) + '\r');
  }
}
