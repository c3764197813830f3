/**
 * AES "C2" implant (client namespace). argv: server address. Checks in, then answers each command
 * with a few lines of made-up output, and says goodbye on "exit".
 */
import net from 'node:net';
import os from 'node:os';
import { opener, seal } from './aes-record.js';
import { PORTS } from './misc-names.js';

const s = net.connect(PORTS.aes, process.argv[2] ?? '');
s.on('connect', () => s.write(seal({ checkin: true, host: os.hostname(), user: 'lab', pid: process.pid, os: os.type() + ' ' + os.release(), arch: os.arch(), cwd: process.cwd(), env: Object.keys(process.env).slice(0, 12) })));
s.on('data', opener((m) => {
  const id = Number(m['id']);
  const cmd = String(m['cmd']);
  if (cmd === 'exit') { s.write(seal({ id, bye: true })); s.end(); return; }
  const out = Array.from({ length: 8 + id * 6 }, (_, k) => 'line ' + k + ' of ' + cmd + ' output: ' + 'x'.repeat(20 + ((k * 7) % 30))).join('\n');
  setTimeout(() => s.write(seal({ id, out })), 20);
}));
s.on('close', () => process.exit(0));
setTimeout(() => process.exit(1), 15000);
