/** Fold one flow's MQTT records into the flow record's `mqtt` section (record.ts). */
import type { MqttInfo } from './record.js';
import type { MqttRecord } from './records.js';

/** Summary bounds (the per-flow record stays small whatever the flow did). */
export const SUMMARY_MAX_TOPICS_COUNT = 32;
export const SUMMARY_MAX_PING_TS_COUNT = 256;

export function summarizeMqtt(records: readonly MqttRecord[]): MqttInfo {
  const info: MqttInfo = {
    version: null, clientId: null, keepAliveS: null, cleanSession: null, usernamePresent: false,
    passwordPresent: false, willTopic: null, connackCode: null, publishTopics: [], subscribeTopics: [],
    publishCount: 0, publishBytes: 0, pingCount: 0, pingTs: [], messages: 0, overWebSocket: false,
  };
  let connectDone = false;
  for (const r of records) {
    if (r.kind === 'mqtt.websocket') { info.overWebSocket = true; continue; }
    info.messages += r.messages;
    if (r.overWebSocket) info.overWebSocket = true;
    switch (r.op) {
      case 'connect':
        if (!connectDone) {
          connectDone = true;
          info.version = r.version;
          info.clientId = r.clientId;
          info.keepAliveS = r.keepAliveS;
          info.cleanSession = r.cleanSession;
          info.usernamePresent = r.usernamePresent;
          info.passwordPresent = r.passwordPresent;
          info.willTopic = r.willTopic;
          if (r.responseOp === 'connack') info.connackCode = r.responseCode;
        }
        break;
      case 'connack':
        if (info.connackCode === null) info.connackCode = r.responseCode;
        break;
      case 'publish':
        info.publishCount++;
        info.publishBytes += r.payloadBytes;
        if (r.topic !== null && info.publishTopics.length < SUMMARY_MAX_TOPICS_COUNT && !info.publishTopics.includes(r.topic)) info.publishTopics.push(r.topic);
        break;
      case 'subscribe':
        for (const t of r.topics) {
          if (info.subscribeTopics.length >= SUMMARY_MAX_TOPICS_COUNT) break;
          if (!info.subscribeTopics.includes(t)) info.subscribeTopics.push(t);
        }
        break;
      case 'pingreq':
        info.pingCount++;
        if (info.pingTs.length < SUMMARY_MAX_PING_TS_COUNT) info.pingTs.push(r.ts);
        break;
      default:
        break;
    }
  }
  return info;
}
