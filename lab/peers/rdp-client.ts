/**
 * A minimal RDP client start (client namespace): the X.224 Connection Request with a cookie and
 * RDP_NEG_REQ (TLS or CredSSP), then, if the Confirm selects either, a real TLS handshake with
 * node:tls on the same socket and one record of data. argv: host port.
 */
import net from 'node:net';
import tls from 'node:tls';

const [host, port] = [process.argv[2] ?? '127.0.0.1', Number(process.argv[3] ?? 3389)];
const cookie = Buffer.from('Cookie: mstshash=labuser\r\n');
const neg = Buffer.from([0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]); // PROTOCOL_SSL | PROTOCOL_HYBRID
const x224 = Buffer.concat([Buffer.from([6 + cookie.length + neg.length, 0xe0, 0, 0, 0, 0, 0]), cookie, neg]);
const tpkt = Buffer.concat([Buffer.from([3, 0, (4 + x224.length) >> 8, (4 + x224.length) & 0xff]), x224]);

const sock = net.connect(port, host, () => { sock.write(tpkt); });
sock.on('error', () => process.exit(0));
sock.once('data', (d: Buffer) => {
  const selected = d.length >= 19 && d[11] === 0x02 ? d.readUInt32LE(15) : 0;
  if (selected === 0) { sock.end(); return; }
  const t = tls.connect({ socket: sock, rejectUnauthorized: false }, () => {
    t.write(Buffer.alloc(64, 0x41));
    setTimeout(() => t.end(), 200);
  });
  t.on('error', () => process.exit(0));
  t.on('close', () => process.exit(0));
});
