/**
 * An AMQP 1.0 client (client namespace), rhea with SASL PLAIN. argv: host idleMs. Opens a sender
 * (three messages) and a receiver, stays idle for idleMs with a 2 s idle time-out, then closes.
 */
import { create_container } from 'rhea';

const c = create_container({ id: 'lab-client' });
const [host = '', idle = '0'] = process.argv.slice(2);
c.on('connection_open', (ctx) => {
  const s = ctx.connection.open_sender('lab/queue');
  let sent = false;
  s.on('sendable', () => { if (!sent) { sent = true; for (let i = 0; i < 3; i++) s.send({ body: 'amqp10 message ' + i }); } });
  ctx.connection.open_receiver('lab/topic');
});
c.on('message', () => {});
const conn = c.connect({ host, port: 5672, hostname: 'broker.lab', username: 'labuser', password: 'labsecret', idle_time_out: 2000, reconnect: false });
setTimeout(() => conn.close(), Number(idle));
conn.on('connection_close', () => setTimeout(() => process.exit(0), 100));
setTimeout(() => process.exit(2), Number(idle) + 8000);
