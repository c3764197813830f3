/**
 * Handshake-bench TLS server (server namespace), one process per port. argv: JSON
 * HandshakeServerOptions. SNI picks the identity and so the chain the server sends; TLS 1.2-1.3.
 * A request "<n> <size> <pad>\n" gets a <size>-byte record; n = 0 is the last and ends the connection.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface HandshakeServerOptions {
  host: string;
  port: number;
  /** JSON file: [{ name, key (path), cert (PEM chain) }], the first one the default. */
  contexts: string;
}

interface Identity { name: string; key: string; cert: string }

const o = JSON.parse(process.argv[2] ?? '{}') as HandshakeServerOptions;
const ctxs = JSON.parse(readFileSync(o.contexts, 'utf8')) as Identity[];
const secure = new Map(ctxs.map((c) => [c.name, tls.createSecureContext({ key: readFileSync(c.key), cert: c.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' })]));
const first = ctxs[0];
if (first === undefined) throw new Error('handshake server: no identities');
const server = tls.createServer({
  key: readFileSync(first.key), cert: first.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3',
  ALPNProtocols: ['h2', 'http/1.1'],
  SNICallback: (name, cb) => cb(null, secure.get(name) ?? secure.get(first.name)),
}, (s) => {
  s.setNoDelay(true);
  s.on('error', () => {});
  s.on('data', (d: Buffer) => {
    const [n = 0, size = 0] = d.toString('latin1').trim().split(' ').map(Number);
    const body = Buffer.alloc(size || 100, 0x61 + (n % 26));
    if (n === 0) s.end(body); else s.write(body);
  });
});
server.listen(o.port, o.host, () => process.stdout.write('ready\n'));
