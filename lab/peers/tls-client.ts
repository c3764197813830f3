/**
 * Node TLS client of the TLS captures (client namespace). argv: JSON TlsClientOptions. Sends one
 * HTTP request, reads to the end, exits 0 (2 on a TLS error). No servername = no SNI when the
 * host is an IP address.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface TlsClientOptions {
  host: string;
  port: number;
  min: tls.SecureVersion;
  max: tls.SecureVersion;
  servername?: string | null;
  alpn?: string[];
  /** Client certificate chain and key (PEM paths) for mutual TLS. */
  cert?: string;
  key?: string;
}

const o = JSON.parse(process.argv[2] ?? '{}') as TlsClientOptions;
const opts: tls.ConnectionOptions = { host: o.host, port: o.port, minVersion: o.min, maxVersion: o.max, rejectUnauthorized: false };
if (o.alpn) opts.ALPNProtocols = o.alpn;
if (o.servername) opts.servername = o.servername;
if (o.cert && o.key) { opts.cert = readFileSync(o.cert); opts.key = readFileSync(o.key); }
const s = tls.connect(opts, () => { s.write('GET / HTTP/1.1\r\nHost: ' + (o.servername || o.host) + '\r\n\r\n'); });
s.on('data', () => {});
s.on('end', () => { s.end(); });
s.on('close', () => process.exit(0));
s.on('error', (e) => { console.error(e.message); process.exit(2); });
