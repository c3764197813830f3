/**
 * The programs the demo generator runs inside its network namespaces, as ESM source text (written
 * to a temp dir and run with `node`). Kept here so gen-demo.ts stays readable.
 *
 * SERVER (server namespace): TLS 1.2 4444 (self-signed), TLS 8443 (CA-issued, many SANs), TLS 1.2
 * 9443 (self-signed), raw TCP 9001 (answers with random bytes). A request starting "GET " gets a 20 kB
 * answer; anything else gets 48 bytes per chunk received.
 *
 * CLIENT (client namespace): one connection per run, from a JSON argument:
 *   { kind: 'tls' | 'raw', host, port, servername?, upload, chunk, get?, pauseMs? }
 */

export const SERVER_SOURCE = String.raw`
import tls from 'node:tls';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
const dir = process.argv[2];
const f = (n) => readFileSync(dir + '/' + n);
function handler(sock) {
  let first = true;
  sock.on('data', (d) => {
    if (first && d.subarray(0, 4).toString() === 'GET ') sock.write(randomBytes(20000));
    else sock.write(randomBytes(48));
    first = false;
  });
  sock.on('error', () => {});
  sock.on('end', () => sock.end());
}
const servers = [
  // The self-signed servers stop at TLS 1.2 (as many C2 kits do), so the certificate is on the wire.
  tls.createServer({ key: f('self.key'), cert: f('self.pem'), maxVersion: 'TLSv1.2' }, handler).listen(4444),
  tls.createServer({ key: f('srv.key'), cert: Buffer.concat([f('srv.pem'), f('int.pem')]) }, handler).listen(8443),
  tls.createServer({ key: f('self.key'), cert: f('self.pem'), maxVersion: 'TLSv1.2' }, handler).listen(9443),
  net.createServer(handler).listen(9001),
];
let up = 0;
for (const s of servers) s.on('listening', () => { if (++up === servers.length) console.log('ready'); });
`;

export const CLIENT_SOURCE = String.raw`
import tls from 'node:tls';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
const o = JSON.parse(process.argv[2]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sock = o.kind === 'tls'
  ? tls.connect({ host: o.host, port: o.port, servername: o.servername || undefined, rejectUnauthorized: false, ALPNProtocols: o.alpn || undefined })
  : net.connect({ host: o.host, port: o.port });
let got = 0;
sock.on('data', (d) => { got += d.length; });
sock.on('error', (e) => { console.error(String(e)); process.exit(1); });
sock.once(o.kind === 'tls' ? 'secureConnect' : 'connect', async () => {
  if (o.get) sock.write('GET / HTTP/1.1\r\nHost: ' + (o.servername || o.host) + '\r\nUser-Agent: Mozilla/5.0\r\n\r\n');
  let left = o.upload;
  while (left > 0) {
    const n = Math.min(o.chunk, left);
    // Random payload: an archive/ciphertext look. A 4-byte length prefix on raw channels.
    const body = randomBytes(n);
    if (o.kind === 'raw') { const h = Buffer.alloc(4); h.writeUInt32BE(n); sock.write(Buffer.concat([h, body])); }
    else sock.write(body);
    left -= n;
    if (o.pauseMs) await sleep(o.pauseMs);
  }
  await sleep(400);
  sock.end();
});
sock.on('close', () => { console.log(JSON.stringify({ got })); process.exit(0); });
`;
