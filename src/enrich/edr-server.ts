/**
 * The reference EDR server (`ndr-sensor edr serve --sysmon FILE... --listen 127.0.0.1:50051`):
 * loads Sysmon files into an EdrStore (optionally following them as they grow) and answers the
 * EdrEnrichmentService.Enrich stream with the §7 join.
 */
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { EdrStore } from './edr-store.js';
import type { EdrStoreLimits } from './edr-store.js';
import { joinResultToPb } from '../grpc/convert.js';
import { edrEnrichmentService, InvalidMessage } from '../grpc/services.js';
import type { EnrichBatchMsg, EnrichRequestMsg, EnrichResultMsg } from '../grpc/services.js';
import { bindServer, serverCredentials, serverOptions, shutdownServer } from '../grpc/tls.js';
import type { ServerLimits, TlsFiles } from '../grpc/tls.js';
import { stderrLine } from '../util/terminal.js';
import { addStandardServices } from '../grpc/standard.js';

/** Requests accepted per batch. */
export const MAX_REQUESTS_PER_BATCH = 10_000;

export interface EdrServerOptions {
  sysmon: string[];
  /** host:port; port 0 picks a free port. */
  listen: string;
  /** Follow the Sysmon files as they grow (live use). */
  tail?: boolean;
  tls?: TlsFiles | null;
  allowPlaintextRemote?: boolean;
  limits?: Partial<EdrStoreLimits>;
  /** gRPC server limits (message size, streams, idle, keepalive). */
  serverLimits?: Partial<ServerLimits>;
  /** Use this store instead of loading `sysmon` (benchmarks, tests). */
  store?: EdrStore;
  /** Fault injection for tests: answer each batch after this many ms. */
  responseDelayMs?: number;
  log?: (line: string) => void;
}

export interface EdrServerHandle {
  port: number;
  address: string;
  store: EdrStore;
  stats(): { batches: number; requests: number; invalid: number; streams: number };
  close(): Promise<void>;
}

/** Validates one request; returns a reason when it is garbage. */
export function validateEnrichRequest(r: EnrichRequestMsg): string | null {
  const t = r.transport;
  if (t !== 'tcp' && t !== 'udp') return `transport must be "tcp" or "udp", got ${JSON.stringify(String(t ?? '')).slice(0, 40)}`;
  for (const [side, ep] of [
    ['client', r.client],
    ['server', r.server],
  ] as const) {
    if (!ep) return `${side} endpoint missing`;
    if (!ep.ip || isIP(ep.ip) === 0) return `${side}.ip is not an IP address: ${JSON.stringify(String(ep.ip ?? '')).slice(0, 60)}`;
    const port = ep.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) return `${side}.port out of range: ${port}`;
  }
  const ts = r.startTsMs ?? 0;
  if (!Number.isFinite(ts) || ts <= 0 || ts > 8.64e15) return `start_ts_ms invalid: ${ts}`;
  return null;
}

/**
 * Answers one batch from a store (shared by the server and the embedded EDR). Each query stands
 * alone: an invalid one, or one beyond the batch limit, gets a result with `error` and the others
 * are answered as usual.
 */
export function answerBatch(store: EdrStore, requests: EnrichRequestMsg[]): EnrichResultMsg[] {
  const out: EnrichResultMsg[] = new Array(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i]!;
    if (i >= MAX_REQUESTS_PER_BATCH) {
      out[i] = { requestId: r.requestId ?? 0, error: `batch_too_large: a batch holds at most ${MAX_REQUESTS_PER_BATCH} queries` };
      continue;
    }
    const why = validateEnrichRequest(r);
    if (why) {
      out[i] = { requestId: r.requestId ?? 0, error: `invalid: ${why}` };
      continue;
    }
    const res = store.join({
      transport: r.transport!,
      clientIp: r.client!.ip!,
      clientPort: r.client!.port ?? 0,
      serverIp: r.server!.ip!,
      serverPort: r.server!.port ?? 0,
      startTs: r.startTsMs!,
    });
    out[i] = joinResultToPb(r.requestId ?? 0, res);
  }
  return out;
}

export async function startEdrServer(opts: EdrServerOptions): Promise<EdrServerHandle> {
  const log = opts.log ?? stderrLine;
  const creds = serverCredentials(opts.listen, opts.tls ?? null, opts.allowPlaintextRemote ?? false, 'edr serve');
  const store = opts.store ?? new EdrStore(opts.limits ?? {});
  if (!opts.store) {
    for (const f of opts.sysmon) {
      if (opts.tail) store.follow(f);
      else store.loadFile(f);
    }
    const s = store.stats();
    log(`edr: loaded ${s.events} Sysmon events (${s.connections} network, ${s.processes} processes, ${s.hosts} hosts) from ${opts.sysmon.length} file(s); ${s.parse.malformed} malformed line(s)`);
    for (const w of store.warnings.slice(0, 20)) log(`edr: warning: ${w.source}:${w.line}: ${w.reason}`);
  }
  const counters = { batches: 0, requests: 0, invalid: 0, streams: 0 };
  const server = new grpc.Server(serverOptions(opts.serverLimits));
  const health = addStandardServices(server, ['ndr.v1.EdrEnrichmentService']);
  server.addService(edrEnrichmentService, {
    Enrich: (call: grpc.ServerDuplexStream<EnrichBatchMsg | InvalidMessage, unknown>) => {
      counters.streams++;
      let failed = false;
      let pending = 0;
      let ended = false;
      const fail = (details: string): void => {
        if (failed) return;
        failed = true;
        counters.invalid++;
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
      };
      const maybeEnd = (): void => {
        if (ended && pending === 0 && !failed) call.end();
      };
      call.on('data', (batch: EnrichBatchMsg | InvalidMessage) => {
        if (failed) return;
        if (batch instanceof InvalidMessage) return fail(batch.reason);
        const reqs = batch.requests ?? [];
        counters.batches++;
        counters.requests += reqs.length;
        const results = answerBatch(store, reqs);
        for (const r of results) if (r.error) counters.invalid++;
        const send = (): void => {
          pending--;
          if (!failed && !call.cancelled && call.writable) call.write({ results });
          maybeEnd();
        };
        pending++;
        if (opts.responseDelayMs) setTimeout(send, opts.responseDelayMs);
        else send();
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
    store.close();
    throw e;
  }
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(':'));
  const address = `${host}:${port}`;
  log(`edr: listening on ${address}${opts.tls ? ' (mTLS)' : ' (plaintext)'}`);
  return {
    port,
    address,
    store,
    stats: () => ({ ...counters }),
    close: async () => {
      health.shutdown();
      store.close();
      await shutdownServer(server);
    },
  };
}
