/**
 * Node TLS server of the TLS captures (server namespace). argv: JSON TlsServerOptions. Answers the
 * first request with a tiny HTTP response and closes; prints "ready" once listening.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface TlsServerOptions {
  host: string;
  port: number;
  key: string;
  cert: string;
  min: tls.SecureVersion;
  max: tls.SecureVersion;
  requestCert?: boolean;
  alpn?: string[];
}

const o = JSON.parse(process.argv[2] ?? '{}') as TlsServerOptions;
const server = tls.createServer({
  key: readFileSync(o.key), cert: readFileSync(o.cert), minVersion: o.min, maxVersion: o.max,
  requestCert: !!o.requestCert, rejectUnauthorized: false, ...(o.alpn ? { ALPNProtocols: o.alpn } : {}),
}, (s) => {
  s.on('error', () => {});
  s.once('data', () => { s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'); });
});
server.listen(o.port, o.host, () => { process.stdout.write('ready\n'); });
