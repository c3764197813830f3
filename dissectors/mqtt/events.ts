/** MQTT event catalog: stable ids `mqtt.<snake_case>` (STYLE.md rule 5), modelled on Suricata's set. */
import type { EventCatalog } from '../../src/contract/api.js';

export const mqttEvents = {
  'mqtt.missing_connect': { severity: 'anomaly', summary: 'CONNACK without a preceding CONNECT' },
  'mqtt.missing_publish': { severity: 'anomaly', summary: 'PUBACK/PUBREC/PUBREL/PUBCOMP for an unknown packet id' },
  'mqtt.missing_subscribe': { severity: 'anomaly', summary: 'SUBACK for an unknown packet id' },
  'mqtt.missing_unsubscribe': { severity: 'anomaly', summary: 'UNSUBACK for an unknown packet id' },
  'mqtt.double_connect': { severity: 'anomaly', summary: 'second CONNECT on one connection (MQTT-3.1.0-2)' },
  'mqtt.unintroduced_message': { severity: 'anomaly', summary: 'client message before any CONNECT' },
  'mqtt.invalid_qos_level': { severity: 'anomaly', summary: 'PUBLISH with both QoS bits set (MQTT-3.3.1-4)' },
  'mqtt.unassigned_msg_type': { severity: 'anomaly', summary: 'control packet type 0 (or 15 before v5)' },
  'mqtt.bad_header_flags': { severity: 'anomaly', summary: 'reserved fixed-header flag bits wrong (MQTT-2.2.2-1)' },
  'mqtt.bad_remaining_length': { severity: 'anomaly', summary: 'remaining length varint longer than 4 bytes (MQTT-2.2.3)' },
  'mqtt.unsupported_version': { severity: 'anomaly', summary: 'CONNECT protocol name/level not MQTT 3.1, 3.1.1 or 5' },
  'mqtt.malformed': { severity: 'anomaly', summary: 'packet body rejected by the body parser' },
  'mqtt.midstream_unsynced': { severity: 'anomaly', summary: 'flow picked up mid-stream: no packet boundary found in this direction' },
  'mqtt.truncated': { severity: 'anomaly', summary: 'stream ended or lost bytes in the middle of a packet' },
  'mqtt.too_many_transactions': { severity: 'limit', summary: 'open transactions over maxTxCount: oldest force-completed' },
  'mqtt.ws_bad_handshake': { severity: 'anomaly', summary: 'WebSocket upgrade request/response not understood' },
  'mqtt.ws_bad_frame': { severity: 'anomaly', summary: 'WebSocket frame with a reserved opcode, bad length or unmasked client frame' },
  'mqtt.limit.max_msg_bytes': { severity: 'limit', summary: 'packet over maxMsgBytes: skipped by counter, record truncated' },
  'mqtt.limit.max_string_bytes': { severity: 'limit', summary: 'a string field was cut to maxStringBytes' },
  'mqtt.limit.max_topics_count': { severity: 'limit', summary: 'SUBSCRIBE/UNSUBSCRIBE topics over maxTopicsCount' },
  'mqtt.limit.max_properties_count': { severity: 'limit', summary: 'v5 properties kept over maxPropertiesCount' },
  'mqtt.limit.max_messages_count': { severity: 'limit', summary: 'packets on this flow over maxMessagesCount: dissection stopped' },
  'mqtt.limit.max_ws_header_bytes': { severity: 'limit', summary: 'WebSocket upgrade headers over maxWsHeaderBytes' },
} as const satisfies EventCatalog<string>;

export type MqttEventId = keyof typeof mqttEvents;
