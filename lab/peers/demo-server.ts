/**
 * The demo's servers (server namespace). argv: the directory holding the keys and certificates.
 * TLS 1.2 on 4444 (self-signed), TLS on 8443 (CA-issued, many SANs), TLS 1.2 on 9443
 * (self-signed), raw TCP on 9001. A first chunk starting "GET " gets a 20 kB answer; anything else
 * gets 48 random bytes per chunk received. Prints "ready" when every port listens.
 */
import tls from 'node:tls';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const dir = process.argv[2] ?? '.';
const f = (n: string): Buffer => readFileSync(dir + '/' + n);
function handler(sock: net.Socket): void {
  let first = true;
  sock.on('data', (d: Buffer) => {
    if (first && d.subarray(0, 4).toString() === 'GET ') sock.write(randomBytes(20000));
    else sock.write(randomBytes(48));
    first = false;
  });
  sock.on('error', () => {});
  sock.on('end', () => sock.end());
}
const servers: net.Server[] = [
  // The self-signed servers stop at TLS 1.2 (as many C2 kits do), so the certificate is on the wire.
  tls.createServer({ key: f('self.key'), cert: f('self.pem'), maxVersion: 'TLSv1.2' }, handler).listen(4444),
  tls.createServer({ key: f('srv.key'), cert: Buffer.concat([f('srv.pem'), f('int.pem')]) }, handler).listen(8443),
  tls.createServer({ key: f('self.key'), cert: f('self.pem'), maxVersion: 'TLSv1.2' }, handler).listen(9443),
  net.createServer(handler).listen(9001),
];
let up = 0;
for (const s of servers) s.on('listening', () => { if (++up === servers.length) console.log('ready'); });
