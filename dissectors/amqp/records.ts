/** AMQP record model and limits (STYLE.md rule 8). One wide, monomorphic record per method/performative. */
import type { DissectorRecord } from '../../src/contract/api.js';
import type { AmqpEventId } from './events.js';

export type AmqpVersion = '0-9-1' | '1.0';

/**
 * kind 'amqp.header': a protocol header (version, protocolId);
 * kind 'amqp.method': a 0-9-1 method (with its content size when it carries one) or a 1.0 performative;
 * kind 'amqp.stats': per-direction totals, emitted by end().
 */
export interface AmqpRecord extends DissectorRecord {
  readonly kind: 'amqp.header' | 'amqp.method' | 'amqp.stats';
  readonly version: AmqpVersion | null;
  /** Header: "0-9-1", "1.0.0", or the raw "a.b.c.d" of an unknown one. */
  readonly headerVersion: string | null;
  /** 1.0 header protocol id: 0 AMQP, 2 TLS, 3 SASL. */
  readonly protocolId: number | null;
  readonly channel: number | null;
  /** 'connection.start', 'basic.publish', … (0-9-1); 'open', 'attach', 'sasl-init', … (1.0). */
  readonly method: string | null;
  readonly classId: number | null;
  readonly methodId: number | null;
  readonly product: string | null;
  readonly platform: string | null;
  readonly clientVersion: string | null;
  /** Chosen SASL mechanism (StartOk / sasl-init). The SASL response is never read. */
  readonly mechanism: string | null;
  /** Offered mechanisms (Start / sasl-mechanisms). */
  readonly mechanisms: readonly string[];
  readonly vhost: string | null;
  readonly containerId: string | null;
  readonly heartbeatS: number | null;
  readonly frameMax: number | null;
  readonly channelMax: number | null;
  readonly exchange: string | null;
  readonly exchangeType: string | null;
  readonly queue: string | null;
  readonly routingKey: string | null;
  readonly consumerTag: string | null;
  readonly linkName: string | null;
  readonly role: 'sender' | 'receiver' | null;
  readonly source: string | null;
  readonly target: string | null;
  /** Content size: 0-9-1 content-header body size; 1.0 transfer payload bytes. */
  readonly bodyBytes: number | null;
  /** Wire size of the frame (true size when truncated). */
  readonly frameBytes: number;
  readonly code: number | null;
  readonly reason: string | null;
  /** amqp.stats */
  readonly frames: number;
  readonly heartbeats: number;
  readonly status: 'complete' | 'incomplete' | 'truncated';
  readonly events: readonly AmqpEventId[];
}

export interface AmqpLimits {
  readonly maxFrameBytes: number;
  readonly maxStringBytes: number;
  readonly maxTableDepthCount: number;
  readonly maxTableEntriesCount: number;
  readonly maxPendingCount: number;
  readonly maxFramesCount: number;
}

export const defaultAmqpLimits: AmqpLimits = {
  maxFrameBytes: 1024 * 1024,
  maxStringBytes: 1024,
  maxTableDepthCount: 8,
  maxTableEntriesCount: 256,
  maxPendingCount: 64,
  maxFramesCount: 10_000_000,
};

export type MutableAmqpRecord = { -readonly [K in keyof AmqpRecord]: AmqpRecord[K] } & { events: AmqpEventId[]; mechanisms: string[] };

const NONE: readonly string[] = [];

export function newAmqpRecord(kind: AmqpRecord['kind'], ts: number, dir: 0 | 1 | null, version: AmqpVersion | null): MutableAmqpRecord {
  return {
    kind, ts, dir, version, headerVersion: null, protocolId: null, channel: null, method: null, classId: null,
    methodId: null, product: null, platform: null, clientVersion: null, mechanism: null, mechanisms: NONE as string[],
    vhost: null, containerId: null, heartbeatS: null, frameMax: null, channelMax: null, exchange: null,
    exchangeType: null, queue: null, routingKey: null, consumerTag: null, linkName: null, role: null, source: null,
    target: null, bodyBytes: null, frameBytes: 0, code: null, reason: null, frames: 0, heartbeats: 0,
    status: 'complete', events: [],
  };
}
