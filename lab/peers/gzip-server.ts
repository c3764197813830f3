/** Receiver of the gzip upload (server namespace). argv: listen address. Acknowledges the byte count. */
import net from 'node:net';
import { PORTS } from './misc-names.js';

net.createServer((s) => {
  let n = 0;
  s.on('data', (d: Buffer) => { n += d.length; });
  s.on('end', () => s.end('received ' + n + '\n'));
  s.on('error', () => {});
}).listen(PORTS.gzip, process.argv[2], () => console.log('ready'));
