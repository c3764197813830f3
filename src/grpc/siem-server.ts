/**
 * The reference SIEM collector (`ndr-sensor siem serve --out FILE --listen host:port`): accepts
 * SiemFeed.Publish streams, writes the ECS JSON of every received flow/alert (and a small JSON
 * document per stats sample) as JSON lines, and acknowledges each batch once its lines are handed
 * to the file. Batches at or below the last sequence seen from a sensor are duplicates of a
 * resend: acknowledged again, not written again.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { InvalidMessage, ndr, siemFeedService } from './services.js';
import type { AckMsg, RecordBatchMsg } from './services.js';
import { bindServer, serverCredentials, shutdownServer } from './tls.js';
import type { TlsFiles } from './tls.js';
import { stderrLine } from '../util/terminal.js';

export interface SiemServerOptions {
  /** JSON-lines output file (appended), or '-' for stdout. */
  out: string;
  listen: string;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  log?: (line: string) => void;
  /** Called with each accepted (non-duplicate) batch (tests, bench). */
  onBatch?: (b: RecordBatchMsg) => void;
}

export interface SiemServerStats {
  batches: number;
  records: number;
  duplicates: number;
  gaps: number;
  invalid: number;
  streams: number;
}

export interface SiemServerHandle {
  port: number;
  address: string;
  stats(): SiemServerStats;
  close(): Promise<void>;
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

export function batchLines(b: RecordBatchMsg): { text: string; records: number } {
  let text = '';
  let records = 0;
  if (b.flows) {
    for (const f of b.flows.flows ?? []) {
      text += (f.ecsJson || JSON.stringify(ndr.v1.FlowRecord.toObject(ndr.v1.FlowRecord.fromObject(f)))) + '\n';
      records++;
    }
  } else if (b.alerts) {
    for (const a of b.alerts.alerts ?? []) {
      text += (a.ecsJson || JSON.stringify(ndr.v1.Alert.toObject(ndr.v1.Alert.fromObject(a)))) + '\n';
      records++;
    }
  } else if (b.stats) {
    text = statsLine(b) + '\n';
    records = 1;
  }
  return { text, records };
}

export async function startSiemServer(opts: SiemServerOptions): Promise<SiemServerHandle> {
  const log = opts.log ?? stderrLine;
  // Refuse an insecure listen address before touching the output file.
  const creds = serverCredentials(opts.listen, opts.tls ?? null, opts.allowPlaintextRemote ?? false, 'siem serve');
  const out: WriteStream | NodeJS.WriteStream = opts.out === '-' ? process.stdout : createWriteStream(opts.out, { flags: 'a' });
  const lastSeq = new Map<string, number>();
  const st: SiemServerStats = { batches: 0, records: 0, duplicates: 0, gaps: 0, invalid: 0, streams: 0 };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 256 << 20 });
  server.addService(siemFeedService, {
    Publish: (call: grpc.ServerDuplexStream<RecordBatchMsg | InvalidMessage, AckMsg>) => {
      st.streams++;
      let failed = false;
      let pendingWrites = 0;
      let ended = false;
      const ack = (sensorId: string, seq: number): void => {
        if (!failed && !call.cancelled && call.writable) call.write({ ackedSeq: seq, sensorId });
      };
      const maybeEnd = (): void => {
        if (ended && pendingWrites === 0 && !failed) call.end();
      };
      call.on('data', (b: RecordBatchMsg | InvalidMessage) => {
        if (failed) return;
        if (b instanceof InvalidMessage || !b.sensorId || !b.seq || b.seq < 1) {
          failed = true;
          st.invalid++;
          call.emit('error', {
            code: grpc.status.INVALID_ARGUMENT,
            details: b instanceof InvalidMessage ? b.reason : 'record batch needs sensor_id and seq >= 1',
          });
          return;
        }
        const sensor = b.sensorId;
        const seq = b.seq;
        const prev = lastSeq.get(sensor) ?? 0;
        if (seq <= prev) {
          st.duplicates++;
          ack(sensor, prev);
          return;
        }
        if (prev > 0 && seq > prev + 1) st.gaps++;
        lastSeq.set(sensor, seq);
        const { text, records } = batchLines(b);
        st.batches++;
        st.records += records;
        opts.onBatch?.(b);
        pendingWrites++;
        out.write(text, () => {
          pendingWrites--;
          ack(sensor, seq);
          maybeEnd();
        });
      });
      call.on('end', () => {
        ended = true;
        maybeEnd();
      });
      call.on('error', () => undefined);
    },
  });
  let port: number;
  try {
    port = await bindServer(server, opts.listen, creds);
  } catch (e) {
    if (out !== process.stdout) (out as WriteStream).end();
    throw e;
  }
  const address = `${opts.listen.slice(0, opts.listen.lastIndexOf(':'))}:${port}`;
  log(`siem: listening on ${address}${opts.tls ? ' (mTLS)' : ' (plaintext)'}, writing ${opts.out}`);
  return {
    port,
    address,
    stats: () => ({ ...st }),
    close: async () => {
      await shutdownServer(server);
      if (out !== process.stdout) await new Promise<void>((resolve) => (out as WriteStream).end(() => resolve()));
    },
  };
}
