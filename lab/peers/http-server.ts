/** HTTP server of the high-entropy-path capture (server namespace). argv: listen address. */
import http from 'node:http';
import { PORTS } from './misc-names.js';

http.createServer((req, res) => {
  const url = req.url ?? '';
  const body = JSON.stringify({ ok: true, path: url, n: url.length });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}).listen(PORTS.http, process.argv[2], () => console.log('ready'));
