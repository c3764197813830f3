/**
 * An AMQP 1.0 peer acting as the broker (server namespace), rhea on 5672 with SASL ANONYMOUS and
 * PLAIN, a 2 s idle time-out (so the capture holds empty keep-alive frames). It accepts every
 * message and greets each receiving link with one message.
 */
import { create_container } from 'rhea';

const c = create_container({ id: 'lab-broker' });
c.sasl_server_mechanisms.enable_anonymous();
c.sasl_server_mechanisms.enable_plain(() => true);
c.on('message', () => { /* accepted */ });
c.on('sender_open', (ctx) => { ctx.sender?.send({ body: 'welcome' }); });
c.listen({ port: 5672, host: '0.0.0.0', idle_time_out: 2000 });
