/**
 * The reference EDR in process (the default for `replay --sysmon FILE`): the same store and join
 * code as the gRPC server, behind the same `enrich(requests)` interface as the gRPC client.
 */
import { EdrStore } from './edr-store.js';
import type { EdrStoreLimits } from './edr-store.js';
import { answerBatch } from './edr-server.js';
import type { EnrichRequestMsg, EnrichResultMsg } from '../grpc/services.js';

/** What the Enricher needs from an EDR, local or remote. */
export interface EnrichBackend {
  /** Answers a batch; rejects with an EdrCallError on failure. */
  enrich(requests: EnrichRequestMsg[], deadlineMs: number): Promise<EnrichResultMsg[]>;
  close(): Promise<void>;
}

export type EdrFailureKind = 'timeout' | 'edr_down' | 'error' | 'tls';

export class EdrCallError extends Error {
  readonly kind: EdrFailureKind;
  constructor(kind: EdrFailureKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface EmbeddedEdr extends EnrichBackend {
  store: EdrStore;
}

export function createEmbeddedEdr(files: string[], opts: { tail?: boolean; limits?: Partial<EdrStoreLimits>; store?: EdrStore } = {}): EmbeddedEdr {
  const store = opts.store ?? new EdrStore(opts.limits ?? {});
  if (!opts.store) for (const f of files) opts.tail ? store.follow(f) : store.loadFile(f);
  return {
    store,
    enrich(requests) {
      return Promise.resolve(answerBatch(store, requests));
    },
    close() {
      store.close();
      return Promise.resolve();
    },
  };
}
