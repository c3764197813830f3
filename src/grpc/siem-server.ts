/**
 * The reference SIEM collector (`ndr-sensor siem serve --out FILE --listen host:port`): accepts
 * SiemFeedService.Publish streams and writes one JSON line per record (the flow's or alert's ECS JSON, a
 * small document per stats sample or delivery loss).
 *
 * What an acknowledgement promises: every batch of that (sensor, epoch) up to the acknowledged
 * sequence has been written to the output file and fdatasync'ed. Batches are written in sequence
 * order only; within a stream one that would leave a gap is refused (ABORTED) and not
 * acknowledged. Batches waiting in
 * the queue are written together and share one fdatasync (group commit). A write that fails (full
 * disk) is cut back off the file, nothing of it is acknowledged, and the streams that sent it get
 * RESOURCE_EXHAUSTED, so the sensors resend it later.
 *
 * The sequence state survives restarts in `<out>.state` (rewritten at most every 200 ms: see
 * scheduleState). A (sensor, epoch) the collector has no
 * state for starts at whatever sequence it first sees (a wiped collector cannot ask for what it
 * lost; the log says so). With mTLS the sensor identity is the client certificate's subject CN and
 * a batch naming another sensor ends the stream with PERMISSION_DENIED.
 */
import { closeSync, existsSync, fdatasync, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, write, writeSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { InvalidMessage, ndr, siemFeedService } from './services.js';
import type { AckMsg, RecordBatchMsg } from './services.js';
import { bindServer, serverCredentials, serverOptions, shutdownServer } from './tls.js';
import type { ServerLimits, TlsFiles } from './tls.js';
import { stderrLine } from '../util/terminal.js';
import { addStandardServices, ServingStatus } from './standard.js';

export interface SiemServerOptions {
  /** JSON-lines output file (appended), or '-' for stdout (no durability, no state file). */
  out: string;
  listen: string;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  /** Where the sequence state is kept (default `<out>.state`). */
  stateFile?: string;
  limits?: Partial<ServerLimits>;
  log?: (line: string) => void;
  /** Called with each accepted (non-duplicate) batch (tests, bench). */
  onBatch?: (b: RecordBatchMsg) => void;
}

export interface SiemServerStats {
  batches: number;
  records: number;
  duplicates: number;
  /** Batches refused because they would leave a gap in a sensor's sequence. */
  gaps: number;
  invalid: number;
  streams: number;
  /** Records not written: their ecs_json is not a JSON object, or they are empty (reported to the sensor). */
  rejected: number;
  /** Batches whose sensor_id differs from the client certificate's identity. */
  forged: number;
  /** Sequences / records the sensors reported lost before delivery. */
  lostBatches: number;
  lostRecords: number;
  /** Write or fsync failures of the output (nothing of them was acknowledged). */
  writeErrors: number;
  /** fdatasync calls (one per group of batches). */
  syncs: number;
  /** Streams that resumed ahead of the collector's (older) state file. */
  resumedAhead: number;
}

export interface SiemServerHandle {
  port: number;
  address: string;
  stats(): SiemServerStats;
  close(): Promise<void>;
}

export type RecordLine = { line: string } | { reason: 'ecs_json_invalid' | 'ecs_json_not_object' | 'record_empty'; detail: string };

/** The typed record as JSON, for a record sent without its ECS document; null when it has none. */
function typedObject(r: ndr.v1.IFeedRecord): unknown {
  if (r.flow) return ndr.v1.FlowRecord.toObject(ndr.v1.FlowRecord.fromObject(r.flow));
  if (r.alert) return ndr.v1.Alert.toObject(ndr.v1.Alert.fromObject(r.alert));
  if (r.flood) return ndr.v1.FloodSummary.toObject(ndr.v1.FloodSummary.fromObject(r.flood));
  return null;
}

/**
 * The output line of one record: its ECS document. The document is re-serialised when its text
 * spans lines, so a record is always exactly one line; anything but a JSON object is refused with
 * a named reason. A record without a document is written as its typed record.
 */
export function recordLine(r: ndr.v1.IFeedRecord): RecordLine {
  const ecsJson = r.ecsJson;
  if (!ecsJson) {
    const typed = typedObject(r);
    return typed === null ? { reason: 'record_empty', detail: 'neither an ECS document nor a typed record this collector knows' } : { line: JSON.stringify(typed) };
  }
  let v: unknown;
  try {
    v = JSON.parse(ecsJson);
  } catch (e) {
    return { reason: 'ecs_json_invalid', detail: (e as Error).message.slice(0, 200) };
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    return { reason: 'ecs_json_not_object', detail: `got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}` };
  }
  return { line: ecsJson.includes('\n') || ecsJson.includes('\r') ? JSON.stringify(v) : ecsJson };
}

function statsLine(b: RecordBatchMsg): string {
  const s = b.stats!;
  return JSON.stringify({
    '@timestamp': new Date(s.tsMs ?? 0).toISOString(),
    event: { kind: 'metric', dataset: 'ndr.sensor_stats' },
    observer: { id: b.sensorId ?? '' },
    ndr: { stats: ndr.v1.SensorStats.toObject(ndr.v1.SensorStats.fromObject(s), { defaults: true }) },
  });
}

function lossLine(b: RecordBatchMsg): string {
  const l = b.loss!;
  return JSON.stringify({
    '@timestamp': new Date().toISOString(),
    event: { kind: 'event', dataset: 'ndr.delivery', action: 'sensor-loss', outcome: 'failure' },
    observer: { id: b.sensorId ?? '' },
    message: `sensor ${b.sensorId} lost batches ${l.firstSeq}..${b.seq} before delivery (${l.reason})`,
    ndr: { delivery: { epoch: b.epoch ?? 0, first_seq: l.firstSeq ?? 0, last_seq: b.seq ?? 0, records: l.records ?? 0, reason: l.reason ?? '' } },
  });
}

/** The lines of one batch and the records refused from it. */
export function batchLines(b: RecordBatchMsg): { text: string; records: number; rejected: ndr.v1.IRecordRejection[] } {
  let text = '';
  let records = 0;
  const rejected: ndr.v1.IRecordRejection[] = [];
  const add = (r: RecordLine, index: number): void => {
    if ('line' in r) {
      text += r.line + '\n';
      records++;
    } else rejected.push({ seq: b.seq ?? 0, index, reason: r.reason, detail: r.detail });
  };
  if (b.records) {
    (b.records.records ?? []).forEach((r, i) => add(recordLine(r), i));
  } else if (b.stats) {
    text = statsLine(b) + '\n';
    records = 1;
  } else if (b.loss) {
    text = lossLine(b) + '\n';
  } else {
    // A sensor of another version (a payload kind this collector does not know): acknowledged so
    // the sensor's sequence goes on, and named so the operator sees what was not written.
    rejected.push({ seq: b.seq ?? 0, index: 0, reason: 'payload_unknown', detail: 'the batch carries no payload this collector knows (a sensor of another version?)' });
  }
  return { text, records, rejected };
}

interface KeyState {
  sensorId: string;
  epoch: number;
  /** Highest sequence written and synced. */
  acked: number;
  /** Highest sequence accepted into the write queue. */
  queued: number;
  /** Open streams that sent batches of this key: each is told about every new acknowledgement. */
  calls: Set<grpc.ServerDuplexStream<RecordBatchMsg | InvalidMessage, AckMsg>>;
}

interface Job {
  key: KeyState;
  seq: number;
  data: Buffer;
  rejected: ndr.v1.IRecordRejection[];
  call: grpc.ServerDuplexStream<RecordBatchMsg | InvalidMessage, AckMsg>;
  done: (err: NodeJS.ErrnoException | null) => void;
}

/** Serialised appends with group commit: write, fdatasync, persist state, then acknowledge. */
class OutputWriter {
  private fd: number | null;
  private size: number;
  private queue: Job[] = [];
  private running = false;
  private readonly toStdout: boolean;
  syncs = 0;

  private readonly stateFile: string | null;
  private readonly states: Map<string, KeyState>;
  private stateTimer: NodeJS.Timeout | null = null;

  constructor(out: string, stateFile: string | null, states: Map<string, KeyState>) {
    this.stateFile = stateFile;
    this.states = states;
    this.toStdout = out === '-';
    this.fd = this.toStdout ? null : openSync(out, 'a');
    this.size = this.fd === null ? 0 : fstatSync(this.fd).size;
  }

  submit(job: Job): void {
    this.queue.push(job);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      // Only batches that continue their sensor's written sequence are written: after a failed
      // write, batches queued behind it must not be written (and acknowledged) across the gap.
      const jobs: Job[] = [];
      const next = new Map<KeyState, number>();
      for (const j of this.queue.splice(0)) {
        const expected = (next.get(j.key) ?? j.key.acked) + 1;
        if (j.seq === expected) {
          jobs.push(j);
          next.set(j.key, j.seq);
        } else j.done(Object.assign(new Error(`batch ${j.seq} is out of sequence (expected ${expected})`), { code: 'ESEQ' }));
      }
      if (jobs.length === 0) continue;
      const buf = Buffer.concat(jobs.map((j) => j.data));
      const before = this.size;
      try {
        if (this.toStdout) await new Promise<void>((res, rej) => process.stdout.write(buf, (e) => (e ? rej(e) : res())));
        else {
          await this.writeAll(buf);
          this.size += buf.length;
          await new Promise<void>((res, rej) => fdatasync(this.fd!, (e) => (e ? rej(e) : res())));
          this.syncs++;
        }
        for (const j of jobs) if (j.seq > j.key.acked) j.key.acked = j.seq;
        this.scheduleState();
      } catch (e) {
        if (this.fd !== null) {
          try {
            ftruncateSync(this.fd, before);
            this.size = before;
          } catch {
            // The torn tail stays; readers skip a line that does not parse.
          }
        }
        for (const j of jobs) j.done(e as NodeJS.ErrnoException);
        continue;
      }
      for (const j of jobs) j.done(null);
    }
    this.running = false;
  }

  private writeAll(buf: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      let off = 0;
      const step = (): void => {
        if (off >= buf.length) return resolve();
        write(this.fd!, buf, off, buf.length - off, null, (err, n) => {
          if (err) return reject(err);
          off += n;
          step();
        });
      };
      step();
    });
  }

  /**
   * The state file is rewritten at most every 200 ms, without fsync: what an acknowledgement
   * promises is the fdatasync'ed output. A state file that a crash leaves older (or unreadable)
   * only makes the collector write resent batches again (duplicates), and a sensor whose
   * acknowledged sequence is ahead of it resumes there (see Publish): never a loss, never a stall.
   */
  private scheduleState(): void {
    if (!this.stateFile || this.stateTimer) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = null;
      this.persistState();
    }, 200);
    this.stateTimer.unref();
  }

  private persistState(): void {
    if (!this.stateFile) return;
    const o: Record<string, { sensor_id: string; epoch: number; acked: number }> = {};
    for (const [k, s] of this.states) if (s.acked > 0) o[k] = { sensor_id: s.sensorId, epoch: s.epoch, acked: s.acked };
    try {
      this.writeState(o);
    } catch (e) {
      // A full disk: the next write tries again; the output's own writes decide what is acknowledged.
      if ((e as NodeJS.ErrnoException).code === undefined) throw e;
      this.scheduleState();
    }
  }

  private writeState(o: Record<string, unknown>): void {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, JSON.stringify({ version: 1, sensors: o }) + '\n');
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.stateFile);
  }

  async close(): Promise<void> {
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    this.persistState();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function loadState(file: string | null, log: (l: string) => void): Map<string, KeyState> {
  const m = new Map<string, KeyState>();
  if (!file || !existsSync(file)) return m;
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { sensors?: Record<string, { sensor_id: string; epoch: number; acked: number }> };
    for (const [k, v] of Object.entries(doc.sensors ?? {})) {
      if (typeof v.acked === 'number' && typeof v.sensor_id === 'string') m.set(k, { sensorId: v.sensor_id, epoch: v.epoch, acked: v.acked, queued: v.acked, calls: new Set() });
    }
  } catch (e) {
    log(`siem: state file ${file} is unreadable (${(e as Error).message}); starting without sequence state`);
  }
  return m;
}

/** The client certificate's subject CN: the sensor identity under mTLS. */
function peerIdentity(call: grpc.ServerDuplexStream<RecordBatchMsg | InvalidMessage, AckMsg>): string | null {
  const cert = call.getAuthContext()?.sslPeerCertificate;
  const cn = cert?.subject?.CN;
  if (Array.isArray(cn)) return cn[0] ?? null;
  return typeof cn === 'string' && cn !== '' ? cn : null;
}

export async function startSiemServer(opts: SiemServerOptions): Promise<SiemServerHandle> {
  const log = opts.log ?? stderrLine;
  // Refuse an insecure listen address before touching the output file.
  const creds = serverCredentials(opts.listen, opts.tls ?? null, opts.allowPlaintextRemote ?? false, 'siem serve');
  const stateFile = opts.out === '-' ? null : (opts.stateFile ?? `${opts.out}.state`);
  const states = loadState(stateFile, log);
  const writer = new OutputWriter(opts.out, stateFile, states);
  const st: SiemServerStats = { batches: 0, records: 0, duplicates: 0, gaps: 0, invalid: 0, streams: 0, rejected: 0, forged: 0, lostBatches: 0, lostRecords: 0, writeErrors: 0, syncs: 0, resumedAhead: 0 };
  const server = new grpc.Server(serverOptions(opts.limits));
  const mtls = !!opts.tls;
  // Health says NOT_SERVING while the output cannot be written (a full disk), SERVING again after
  // the next successful write: a load balancer can steer sensors to another collector meanwhile.
  const health = addStandardServices(server, ['ndr.v1.SiemFeedService']);
  server.addService(siemFeedService, {
    Publish: (call: grpc.ServerDuplexStream<RecordBatchMsg | InvalidMessage, AckMsg>) => {
      st.streams++;
      let failed = false;
      let pendingWrites = 0;
      let ended = false;
      const keys = new Set<KeyState>();
      const identity = mtls ? peerIdentity(call) : null;
      const send = (m: AckMsg): void => {
        if (!failed && !call.cancelled && call.writable) call.write(m);
      };
      const fail = (code: grpc.status, details: string): void => {
        if (failed) return;
        failed = true;
        for (const k of keys) k.calls.delete(call);
        call.emit('error', { code, details });
      };
      const maybeEnd = (): void => {
        if (ended && pendingWrites === 0 && !failed) call.end();
      };
      const detach = (): void => {
        for (const k of keys) k.calls.delete(call);
      };
      call.on('cancelled', detach);
      call.on('finish', detach);
      call.on('data', (b: RecordBatchMsg | InvalidMessage) => {
        if (failed) return;
        if (b instanceof InvalidMessage || !b.sensorId || !b.seq || b.seq < 1) {
          st.invalid++;
          return fail(grpc.status.INVALID_ARGUMENT, b instanceof InvalidMessage ? b.reason : 'record batch needs sensor_id and seq >= 1');
        }
        if (mtls) {
          if (!identity) return fail(grpc.status.UNAUTHENTICATED, 'no client certificate subject CN to take the sensor identity from');
          if (b.sensorId !== identity) {
            st.forged++;
            log(`siem: refused batch claiming sensor "${b.sensorId}" from a client certified as "${identity}"`);
            return fail(grpc.status.PERMISSION_DENIED, `sensor_id "${b.sensorId}" does not match the client certificate's identity "${identity}"`);
          }
        }
        const epoch = b.epoch ?? 0;
        const id = `${b.sensorId}\u0000${epoch}`;
        const seq = b.seq;
        let key = states.get(id);
        if (!key) {
          key = { sensorId: b.sensorId, epoch, acked: seq - 1, queued: seq - 1, calls: new Set() };
          states.set(id, key);
          if (seq > 1) log(`siem: sensor "${b.sensorId}" epoch ${epoch} starts here at batch ${seq}; batches before it are unknown to this collector (new collector, or its state was wiped)`);
        }
        if (!keys.has(key)) {
          keys.add(key);
          key.calls.add(call);
          if (seq > key.queued + 1) {
            // A sensor resumes after the last batch it saw acknowledged; ahead of our state means
            // our state is older than our output (a crash before the state was rewritten): those
            // batches were written and acknowledged, so carry on from here.
            log(`siem: sensor "${b.sensorId}" epoch ${epoch} resumes at batch ${seq}; this collector's state had ${key.queued} (older than its output)`);
            st.resumedAhead++;
            key.queued = seq - 1;
            key.acked = Math.max(key.acked, seq - 1);
          }
        }
        if (seq <= key.queued) {
          // A resend: acknowledged now if written, else with the write in flight.
          st.duplicates++;
          if (seq <= key.acked) send({ ackedSeq: key.acked, sensorId: key.sensorId, epoch: key.epoch });
          return;
        }
        if (seq > key.queued + 1) {
          st.gaps++;
          return fail(grpc.status.ABORTED, `sensor "${b.sensorId}" epoch ${epoch}: expected batch ${key.queued + 1}, got ${seq}; resend from the last acknowledgement`);
        }
        key.queued = seq;
        const { text, records, rejected } = batchLines(b);
        st.batches++;
        st.records += records;
        st.rejected += rejected.length;
        if (b.loss) {
          st.lostBatches += seq - (b.loss.firstSeq ?? seq) + 1;
          st.lostRecords += b.loss.records ?? 0;
          log(`siem: sensor "${b.sensorId}" reports batches ${b.loss.firstSeq}..${seq} lost before delivery (${b.loss.reason}, ${b.loss.records ?? 0} records)`);
        }
        opts.onBatch?.(b);
        pendingWrites++;
        const k = key;
        writer.submit({
          key: k,
          seq,
          data: Buffer.from(text),
          rejected,
          call,
          done: (err) => {
            pendingWrites--;
            if (err) {
              // Nothing of this batch or anything queued after it counts: resend from the ack.
              k.queued = Math.max(k.acked, Math.min(k.queued, seq - 1));
              if (err.code === 'ESEQ') {
                st.gaps++;
                fail(grpc.status.ABORTED, `sensor "${k.sensorId}": ${err.message}; resend from the last acknowledgement`);
                return;
              }
              st.writeErrors++;
              health.set('ndr.v1.SiemFeedService', ServingStatus.NOT_SERVING);
              log(`siem: writing ${opts.out} failed (${err.code ?? ''} ${err.message}); batch ${seq} of "${k.sensorId}" not acknowledged`);
              fail(err.code === 'ENOSPC' || err.code === 'EDQUOT' ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.UNAVAILABLE, `collector cannot write its output: ${err.code ?? err.message}`);
              return;
            }
            st.syncs = writer.syncs;
            if (health.get('ndr.v1.SiemFeedService') !== ServingStatus.SERVING) health.set('ndr.v1.SiemFeedService', ServingStatus.SERVING);
            const ack: AckMsg = { ackedSeq: k.acked, sensorId: k.sensorId, epoch: k.epoch };
            if (rejected.length > 0) send({ ...ack, rejected });
            for (const c of k.calls) if (c !== call || rejected.length === 0) if (!c.cancelled && c.writable) c.write(ack);
            maybeEnd();
          },
        });
      });
      call.on('end', () => {
        ended = true;
        maybeEnd();
      });
      call.on('error', () => detach());
    },
  });
  let port: number;
  try {
    port = await bindServer(server, opts.listen, creds);
  } catch (e) {
    await writer.close();
    throw e;
  }
  const address = `${opts.listen.slice(0, opts.listen.lastIndexOf(':'))}:${port}`;
  log(`siem: listening on ${address}${opts.tls ? ' (mTLS)' : ' (plaintext)'}, writing ${opts.out}`);
  return {
    port,
    address,
    stats: () => ({ ...st, syncs: writer.syncs }),
    close: async () => {
      health.shutdown();
      await shutdownServer(server);
      await writer.close();
    },
  };
}
