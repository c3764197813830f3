/**
 * What AMQP puts on the flow record: the `amqp` section, its ECS extras (ndr.amqp), its protobuf
 * message (amqp.proto) and the features the pub/sub analytics read.
 */
import { appOf, defineSection, type AppSections } from '../../src/contract/api.js';

export interface AmqpInfo {
  version: '0-9-1' | '1.0' | null;
  product: string | null;
  platform: string | null;
  clientVersion: string | null;
  mechanism: string | null;
  vhost: string | null; // 0-9-1 Open vhost; 1.0 open hostname
  containerId: string | null;
  heartbeatS: number | null;
  exchanges: string[];
  queues: string[];
  routingKeys: string[];
  addresses: string[]; // 1.0 attach source/target addresses
  publishCount: number;
  publishBytes: number;
  heartbeats: number;
  closeCode: number | null;
  closeReason: string | null;
  messages: number;
}

export const amqpSection = defineSection<AmqpInfo>({
  key: 'amqp',
  ecs(a, { ndr }) {
    ndr.amqp = {
      version: a.version, product: a.product, platform: a.platform, client_version: a.clientVersion,
      mechanism: a.mechanism, vhost: a.vhost, container_id: a.containerId, heartbeat_s: a.heartbeatS,
      exchanges: a.exchanges, queues: a.queues, routing_keys: a.routingKeys, addresses: a.addresses,
      publish_count: a.publishCount, publish_bytes: a.publishBytes, heartbeats: a.heartbeats,
      close_code: a.closeCode, close_reason: a.closeReason, messages: a.messages,
    };
  },
  proto: {
    type: 'ndr.v1.Amqp',
    ecs: {
      version: 'ndr.amqp.version',
      product: 'ndr.amqp.product',
      vhost: 'ndr.amqp.vhost',
      heartbeatS: 'ndr.amqp.heartbeat_s',
      publishCount: 'ndr.amqp.publish_count',
      exchanges: 'ndr.amqp.exchanges',
      queues: 'ndr.amqp.queues',
    },
    toProto(a) {
      const out: Record<string, unknown> = {
        version: a.version ?? '',
        product: a.product ?? '',
        vhost: a.vhost ?? '',
        publishCount: a.publishCount,
        exchanges: a.exchanges,
        queues: a.queues,
      };
      if (a.heartbeatS !== null) out.heartbeatS = a.heartbeatS;
      return out;
    },
  },
  features: () => ({ pubsub: 'amqp' }),
});

export function amqpOf(rec: { readonly apps: AppSections }): AmqpInfo | null {
  return appOf(rec, amqpSection);
}
