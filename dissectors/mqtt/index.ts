/** MQTT dissector registration (3.1, 3.1.1, 5; plain TCP and MQTT over WebSocket). */
import { defineDissector, leadBytes, type Dir } from '../../src/contract/api.js';
import { mqttSection, type MqttInfo } from './record.js';
import { mqttEvents, type MqttEventId } from './events.js';
import { probeMqtt } from './framing.js';
import { probeMqttMidstream } from './midstream.js';
import { defaultMqttLimits, type MqttLimits, type MqttRecord } from './records.js';
import { MqttDissector } from './state.js';
import { summarizeMqtt } from './summarize.js';

export const MQTT_PROBE_MAX_BYTES = 4096;

export const mqttDissector = defineDissector<MqttLimits, MqttRecord, MqttEventId, MqttInfo>({
  name: 'mqtt',
  apiVersion: 1,
  transport: 'tcp',
  probe: {
    // 1883 plain; 9001, mosquitto's usual websockets listener, so MQTT in WebSocket frames picked
    // up mid-stream is probed before TLS, whose mid-stream probe waits for many bytes; 8883 is
    // MQTT over TLS: the TLS dissector sees that one.
    ports: [1883, 9001],
    prefixes: [[0x10], [0x47, 0x45, 0x54, 0x20]],
    minBytes: 1,
    maxBytes: MQTT_PROBE_MAX_BYTES,
    probe: (bytes: Uint8Array, dir: Dir) => probeMqtt(bytes, dir, MQTT_PROBE_MAX_BYTES),
    // client-first: CONNECT, or a WebSocket upgrade's GET in either case
    leads: [[0x10, ...leadBytes(['GET'], true)], []],
    midstream: (bytes: Uint8Array) => probeMqttMidstream(bytes),
  },
  defaultLimits: defaultMqttLimits,
  events: mqttEvents,
  create: (ctx, limits) => new MqttDissector(ctx, limits),
  summarize: summarizeMqtt,
  sections: [mqttSection],
  toRecord: (m, out) => out.set(mqttSection, m),
});

export default mqttDissector;
export type { MqttRecord, MqttTxRecord, MqttWebSocketRecord, MqttLimits } from './records.js';
export type { MqttEventId } from './events.js';
