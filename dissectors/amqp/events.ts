/** AMQP event catalog (0-9-1 and 1.0): stable ids `amqp.<snake_case>` (STYLE.md rule 5). */
import type { EventCatalog } from '../../src/contract/api.js';

export const amqpEvents = {
  'amqp.bad_protocol_header': { severity: 'anomaly', summary: 'stream does not start with the "AMQP" protocol header' },
  'amqp.unsupported_version': { severity: 'anomaly', summary: 'AMQP protocol header with a version other than 0-9-1 or 1.0.0' },
  'amqp.version_mismatch': { severity: 'info', summary: 'server answered with its own protocol header (version refused)' },
  'amqp.bad_frame_end': { severity: 'anomaly', summary: '0-9-1 frame not terminated by 0xCE (AMQP 0-9-1 §4.2.3)' },
  'amqp.bad_frame_type': { severity: 'anomaly', summary: 'unknown 0-9-1 frame type, or 1.0 frame type other than AMQP/SASL' },
  'amqp.bad_frame_size': { severity: 'anomaly', summary: '1.0 frame size below 8 or data offset below 2 (AMQP 1.0 §2.3.1)' },
  'amqp.malformed_method': { severity: 'anomaly', summary: '0-9-1 method arguments run past the frame' },
  'amqp.unknown_method': { severity: 'info', summary: '0-9-1 class/method id not in the 0-9-1 spec' },
  'amqp.bad_field_table': { severity: 'anomaly', summary: 'field table with an unknown value type or an overrun' },
  'amqp.malformed_performative': { severity: 'anomaly', summary: '1.0 frame body is not a valid described performative' },
  'amqp.heartbeat_channel': { severity: 'anomaly', summary: '0-9-1 heartbeat frame on a channel other than 0' },
  'amqp.tls_upgrade': { severity: 'info', summary: '1.0 protocol id 2: TLS follows; dissection stops' },
  'amqp.connection_error': { severity: 'info', summary: 'Connection.Close with a non-200 code, or 1.0 close with an error' },
  'amqp.midstream_unsynced': { severity: 'anomaly', summary: 'flow picked up mid-stream: no frame boundary found in this direction' },
  'amqp.truncated': { severity: 'anomaly', summary: 'stream ended or lost bytes in the middle of a frame' },
  'amqp.limit.max_frame_bytes': { severity: 'limit', summary: 'frame over maxFrameBytes: skipped by counter, record truncated' },
  'amqp.limit.max_table_depth_count': { severity: 'limit', summary: 'field table / 1.0 value nesting over maxTableDepthCount' },
  'amqp.limit.max_table_entries_count': { severity: 'limit', summary: 'field table / 1.0 compound over maxTableEntriesCount' },
  'amqp.limit.max_string_bytes': { severity: 'limit', summary: 'a string field was cut to maxStringBytes' },
  'amqp.limit.max_pending_count': { severity: 'limit', summary: 'publishes waiting for their content header over maxPendingCount' },
  'amqp.limit.max_frames_count': { severity: 'limit', summary: 'frames on this flow over maxFramesCount: dissection stopped' },
} as const satisfies EventCatalog<string>;

export type AmqpEventId = keyof typeof amqpEvents;
