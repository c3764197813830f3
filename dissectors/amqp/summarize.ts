/** Fold one flow's AMQP records into the flow record's `amqp` section (record.ts). */
import type { AmqpInfo } from './record.js';
import type { AmqpRecord } from './records.js';

export const SUMMARY_MAX_NAMES_COUNT = 32;

function addUnique(list: string[], v: string | null): void {
  if (v === null || v === '' || list.length >= SUMMARY_MAX_NAMES_COUNT || list.includes(v)) return;
  list.push(v);
}

export function summarizeAmqp(records: readonly AmqpRecord[]): AmqpInfo {
  const info: AmqpInfo = {
    version: null, product: null, platform: null, clientVersion: null, mechanism: null, vhost: null,
    containerId: null, heartbeatS: null, exchanges: [], queues: [], routingKeys: [], addresses: [],
    publishCount: 0, publishBytes: 0, heartbeats: 0, closeCode: null, closeReason: null, messages: 0,
  };
  let serverHeartbeat: number | null = null;
  for (const r of records) {
    if (info.version === null && r.version !== null) info.version = r.version;
    if (r.kind === 'amqp.stats') {
      info.heartbeats += r.heartbeats;
      info.messages += r.frames;
      continue;
    }
    if (r.kind !== 'amqp.method') continue;
    switch (r.method) {
      case 'connection.start-ok':
        info.product = r.product;
        info.platform = r.platform;
        info.clientVersion = r.clientVersion;
        info.mechanism = r.mechanism;
        break;
      case 'connection.tune':
        serverHeartbeat = r.heartbeatS;
        break;
      case 'connection.tune-ok':
        info.heartbeatS = r.heartbeatS;
        break;
      case 'connection.open':
        info.vhost = r.vhost;
        break;
      case 'connection.close':
        if (info.closeCode === null) { info.closeCode = r.code; info.closeReason = r.reason; }
        break;
      case 'exchange.declare':
        addUnique(info.exchanges, r.exchange);
        break;
      case 'queue.declare': case 'queue.declare-ok': case 'queue.bind': case 'basic.consume': case 'basic.get':
        addUnique(info.queues, r.queue);
        if (r.method === 'queue.bind') addUnique(info.exchanges, r.exchange);
        break;
      case 'basic.publish':
        info.publishCount++;
        info.publishBytes += r.bodyBytes ?? 0;
        addUnique(info.exchanges, r.exchange);
        addUnique(info.routingKeys, r.routingKey);
        break;
      // ---- 1.0 ----
      case 'sasl-init':
        info.mechanism = r.mechanism;
        break;
      case 'open':
        if (r.dir === 0 || info.containerId === null) {
          info.containerId = r.containerId;
          if (r.vhost !== null) info.vhost = r.vhost;
          if (r.heartbeatS !== null) info.heartbeatS = r.heartbeatS;
          if (r.product !== null) { info.product = r.product; info.platform = r.platform; info.clientVersion = r.clientVersion; }
        }
        break;
      case 'attach':
        addUnique(info.addresses, r.source);
        addUnique(info.addresses, r.target);
        break;
      case 'transfer':
        if (r.dir === 0) { info.publishCount++; info.publishBytes += r.bodyBytes ?? 0; }
        break;
      case 'close':
        if (info.closeReason === null && r.reason !== null) info.closeReason = r.reason;
        break;
      default:
        break;
    }
  }
  if (info.heartbeatS === null) info.heartbeatS = serverHeartbeat;
  return info;
}
