/**
 * AES "C2" server (server namespace). argv: listen address. Answers each record from the client
 * with the next command, and closes after the last.
 */
import net from 'node:net';
import { opener, seal } from './aes-record.js';
import { PORTS } from './misc-names.js';

const commands = ['whoami', 'hostname', 'ipconfig /all', 'tasklist /v', 'dir C:\\Users\\Public', 'exit'];
net.createServer((s) => {
  let i = 0;
  s.on('data', opener(() => {
    if (i < commands.length) s.write(seal({ id: i, cmd: commands[i++] }));
    else s.end();
  }));
  s.on('error', () => {});
}).listen(PORTS.aes, process.argv[2], () => console.log('ready'));
