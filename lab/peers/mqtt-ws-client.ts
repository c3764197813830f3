/**
 * A raw MQTT-over-WebSocket client (client namespace): RFC 6455 upgrade and masked client frames
 * written by hand, MQTT 3.1.1 packets from mqtt-packet, keep-alive 2 s. argv: host port idleMs.
 * Connects, subscribes, publishes once, pings every 2 s for idleMs, then disconnects.
 */
import net from 'node:net';
import crypto from 'node:crypto';
import mqtt, { type Packet } from 'mqtt-packet';

const [host = '', port = '0', idle = '0'] = process.argv.slice(2);
const s = net.connect(Number(port), host);

function frame(payload: Buffer): Buffer {
  const mask = crypto.randomBytes(4);
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255]);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = (payload[i] as number) ^ (mask[i & 3] as number);
  return Buffer.concat([head, mask, body]);
}
const send = (p: Packet): boolean => s.write(frame(mqtt.generate(p)));

let upgraded = false;
let acc = Buffer.alloc(0);
s.on('connect', () => {
  s.write('GET /mqtt HTTP/1.1\r\nHost: ' + host + ':' + port + '\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: ' + crypto.randomBytes(16).toString('base64') + '\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n');
});
s.on('data', (d: Buffer) => {
  acc = Buffer.concat([acc, d]);
  if (!upgraded && acc.indexOf('\r\n\r\n') >= 0) {
    upgraded = true;
    send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'lab-ws', keepalive: 2, clean: true });
    setTimeout(() => send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'lab/ws/#', qos: 1 }] }), 200);
    setTimeout(() => send({ cmd: 'publish', topic: 'lab/ws/t', payload: Buffer.from('over websocket'), qos: 1, messageId: 2, dup: false, retain: false }), 400);
    const timer = setInterval(() => send({ cmd: 'pingreq' }), 2000);
    setTimeout(() => { clearInterval(timer); send({ cmd: 'disconnect' }); setTimeout(() => s.end(), 200); }, Number(idle));
  }
});
s.on('close', () => process.exit(0));
setTimeout(() => process.exit(2), Number(idle) + 10000);
