/** AMQP dissector registration (0-9-1 and 1.0, recognised by the protocol header on any port). */
import { defineDissector, type Dir } from '../../src/contract/api.js';
import { amqpSection, type AmqpInfo } from './record.js';
import { amqpEvents, type AmqpEventId } from './events.js';
import { probeAmqp } from './framing.js';
import { probeAmqpMidstream } from './midstream.js';
import { defaultAmqpLimits, type AmqpLimits, type AmqpRecord } from './records.js';
import { AmqpDissector } from './state.js';
import { summarizeAmqp } from './summarize.js';

export const amqpDissector = defineDissector<AmqpLimits, AmqpRecord, AmqpEventId, AmqpInfo>({
  name: 'amqp',
  apiVersion: 1,
  transport: 'tcp',
  probe: {
    ports: [5672], // 5671 is AMQP over TLS: the TLS dissector sees that one
    prefixes: [[0x41, 0x4d, 0x51, 0x50]],
    minBytes: 1,
    maxBytes: 8,
    probe: (bytes: Uint8Array, dir: Dir) => probeAmqp(bytes, dir),
    leads: [[0x41], [0x41]], // the protocol header 'AMQP', from either end
    midstream: (bytes: Uint8Array) => probeAmqpMidstream(bytes),
  },
  defaultLimits: defaultAmqpLimits,
  events: amqpEvents,
  create: (ctx, limits) => new AmqpDissector(ctx, limits),
  summarize: summarizeAmqp,
  sections: [amqpSection],
  toRecord: (a, out) => out.set(amqpSection, a),
});

export default amqpDissector;
export type { AmqpRecord, AmqpLimits } from './records.js';
export type { AmqpEventId } from './events.js';
