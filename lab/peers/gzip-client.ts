/**
 * A gzip-compressed upload over plain TCP (client namespace). argv: server address. The body is
 * 600 made-up log lines, so the capture's entropy is that of real compressed text.
 */
import net from 'node:net';
import zlib from 'node:zlib';
import { PORTS } from './misc-names.js';

const lines: string[] = [];
for (let i = 0; i < 600; i++) lines.push(new Date(1700000000000 + i * 1000).toISOString() + ' host=ws05 user=lab event=' + (i % 7) + ' file=C:/Users/lab/Documents/report-' + (i % 40) + '.docx size=' + (i * 7919 % 100000));
const body = zlib.gzipSync(Buffer.from(lines.join('\n')));
const s = net.connect(PORTS.gzip, process.argv[2] ?? '', () => s.end(body));
s.on('data', (d: Buffer) => process.stdout.write(d));
s.on('close', () => process.exit(0));
