/**
 * What MQTT puts on the flow record: the `mqtt` section, its ECS extras (ndr.mqtt), its protobuf
 * message (mqtt.proto) and the features the pub/sub analytics read.
 */
import { appOf, defineSection, type AppSections } from '../../src/contract/api.js';

export interface MqttInfo {
  version: string | null; // '3.1' | '3.1.1' | '5'
  clientId: string | null;
  keepAliveS: number | null;
  cleanSession: boolean | null;
  usernamePresent: boolean;
  passwordPresent: boolean;
  willTopic: string | null;
  connackCode: number | null;
  publishTopics: string[];
  subscribeTopics: string[];
  publishCount: number;
  publishBytes: number;
  pingCount: number;
  /** Times of PINGREQ (epoch ms), bounded. */
  pingTs: number[];
  messages: number;
  overWebSocket: boolean;
}

export const mqttSection = defineSection<MqttInfo>({
  key: 'mqtt',
  ecs(m, { ndr }) {
    ndr.mqtt = {
      version: m.version, client_id: m.clientId, keep_alive_s: m.keepAliveS, clean_session: m.cleanSession,
      username_present: m.usernamePresent, password_present: m.passwordPresent, will_topic: m.willTopic,
      connack_code: m.connackCode, publish_topics: m.publishTopics, subscribe_topics: m.subscribeTopics,
      publish_count: m.publishCount, publish_bytes: m.publishBytes, ping_count: m.pingCount, ping_ts: m.pingTs,
      messages: m.messages, over_websocket: m.overWebSocket,
    };
  },
  proto: {
    type: 'ndr.v1.Mqtt',
    ecs: {
      version: 'ndr.mqtt.version',
      clientId: 'ndr.mqtt.client_id',
      keepAliveS: 'ndr.mqtt.keep_alive_s',
      publishCount: 'ndr.mqtt.publish_count',
      pingCount: 'ndr.mqtt.ping_count',
      publishTopics: 'ndr.mqtt.publish_topics',
      subscribeTopics: 'ndr.mqtt.subscribe_topics',
    },
    toProto(m) {
      const out: Record<string, unknown> = {
        version: m.version ?? '',
        clientId: m.clientId ?? '',
        publishCount: m.publishCount,
        pingCount: m.pingCount,
        publishTopics: m.publishTopics,
        subscribeTopics: m.subscribeTopics,
      };
      if (m.keepAliveS !== null) out.keepAliveS = m.keepAliveS;
      return out;
    },
  },
  features: (m) => ({ pubsub: 'mqtt', overWebSocket: m.overWebSocket, keepAliveTs: m.pingTs }),
});

export function mqttOf(rec: { readonly apps: AppSections }): MqttInfo | null {
  return appOf(rec, mqttSection);
}
