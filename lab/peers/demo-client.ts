/**
 * One demo connection (client namespace), described by a JSON argument:
 *   { kind: 'tls' | 'raw', host, port, servername?, alpn?, upload, chunk, get?, pauseMs? }
 * Uploads `upload` random bytes in `chunk`-sized writes (raw channels length-prefix each write),
 * then prints {"got": <bytes received>} when the connection closes.
 */
import tls from 'node:tls';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

interface DemoConnection {
  kind: 'tls' | 'raw';
  host: string;
  port: number;
  servername?: string;
  alpn?: string[];
  upload: number;
  chunk: number;
  get?: boolean;
  pauseMs?: number;
}

const o = JSON.parse(process.argv[2] ?? '{}') as DemoConnection;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sock: net.Socket = o.kind === 'tls'
  ? tls.connect({ host: o.host, port: o.port, rejectUnauthorized: false, ...(o.servername ? { servername: o.servername } : {}), ...(o.alpn ? { ALPNProtocols: o.alpn } : {}) })
  : net.connect({ host: o.host, port: o.port });
let got = 0;
sock.on('data', (d: Buffer) => { got += d.length; });
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
