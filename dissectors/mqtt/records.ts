/** MQTT record model and limits (STYLE.md rule 8: one interface per kind, every field always set). */
import type { Dir, DissectorRecord } from '../../src/contract/api.js';
import type { MqttEventId } from './events.js';

export const MqttOp = {
  connect: 'connect', connack: 'connack', publish: 'publish', puback: 'puback', pubrec: 'pubrec',
  pubrel: 'pubrel', pubcomp: 'pubcomp', subscribe: 'subscribe', suback: 'suback', unsubscribe: 'unsubscribe',
  unsuback: 'unsuback', pingreq: 'pingreq', pingresp: 'pingresp', disconnect: 'disconnect', auth: 'auth',
  reserved: 'reserved',
} as const;
export type MqttOp = (typeof MqttOp)[keyof typeof MqttOp];

/** Control packet type (high nibble of byte 0) → op (MQTT 5 §2.1.2). */
export const OP_BY_TYPE: readonly MqttOp[] = [
  'reserved', 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
];

export interface MqttProperty { readonly name: string; readonly value: string }

/** One transaction: a request and (when paired) its response. */
export interface MqttTxRecord extends DissectorRecord {
  readonly kind: 'mqtt.tx';
  readonly op: MqttOp;
  readonly packetId: number | null;
  /** CONNECT */
  readonly protocolName: string | null;
  readonly protocolLevel: number | null; // 3, 4, 5
  readonly version: string | null; // '3.1' | '3.1.1' | '5'
  readonly clientId: string | null;
  readonly keepAliveS: number | null;
  readonly cleanSession: boolean | null;
  readonly willTopic: string | null;
  readonly usernamePresent: boolean;
  /** Presence only: the password value is never read into a record. */
  readonly passwordPresent: boolean;
  /** PUBLISH */
  readonly topic: string | null;
  readonly qos: number | null;
  readonly retain: boolean | null;
  readonly dup: boolean | null;
  /** True payload length, even when truncated or when no excerpt is kept. */
  readonly payloadBytes: number;
  readonly payloadExcerpt: Uint8Array | null;
  /** SUBSCRIBE / UNSUBSCRIBE */
  readonly topics: readonly string[];
  /** CONNECT/CONNACK/PUBLISH/DISCONNECT v5 properties (name=value strings, bounded). */
  readonly properties: readonly MqttProperty[];
  /** Paired response */
  readonly responseOp: MqttOp | null;
  readonly responseTs: number | null;
  /** CONNACK return/reason code, PUBACK/… reason code, first SUBACK granted code, DISCONNECT reason. */
  readonly responseCode: number | null;
  readonly sessionPresent: boolean | null;
  readonly responseProperties: readonly MqttProperty[];
  /** Number of MQTT packets folded into this transaction. */
  readonly messages: number;
  /** Wire length of the request packet (fixed header included), true length when truncated. */
  readonly msgBytes: number;
  readonly overWebSocket: boolean;
  readonly status: 'complete' | 'incomplete' | 'truncated';
  readonly events: readonly MqttEventId[];
}

/** The WebSocket upgrade that carried MQTT (MQTT over WebSocket, MQTT 5 §6). */
export interface MqttWebSocketRecord extends DissectorRecord {
  readonly kind: 'mqtt.websocket';
  readonly path: string | null;
  readonly host: string | null;
  readonly subprotocol: string | null;
  readonly statusCode: number | null;
}

export type MqttRecord = MqttTxRecord | MqttWebSocketRecord;

export interface MqttLimits {
  /** Largest packet parsed; bigger ones are skipped by counter and recorded truncated. */
  readonly maxMsgBytes: number;
  readonly maxTxCount: number;
  /** 0 = never copy payload bytes (default). */
  readonly maxPayloadExcerptBytes: number;
  readonly maxStringBytes: number;
  readonly maxTopicsCount: number;
  readonly maxPropertiesCount: number;
  readonly maxMessagesCount: number;
  readonly maxWsHeaderBytes: number;
}

export const defaultMqttLimits: MqttLimits = {
  maxMsgBytes: 1024 * 1024,
  maxTxCount: 256,
  maxPayloadExcerptBytes: 0,
  maxStringBytes: 1024,
  maxTopicsCount: 64,
  maxPropertiesCount: 32,
  maxMessagesCount: 10_000_000,
  maxWsHeaderBytes: 8192,
};

export type { Dir };
