/**
 * Mixed-bench TLS server (server namespace). argv: cert key port. A request "GET <n>\n" gets <n>
 * bytes of a fixed pseudo-random chunk (so bulk transfers are full-size records), then the end.
 */
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

const [cert = '', key = '', port = '443'] = process.argv.slice(2);
const chunk = Buffer.alloc(64 * 1024, 0x5a);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
const srv = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' }, (s) => {
  let got = '';
  s.on('data', (d: Buffer) => {
    got += d.toString();
    if (!got.includes('\n')) return;
    const m = /^GET (\d+)/.exec(got);
    let left = m ? Number(m[1]) : 64;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) { s.once('drain', pump); return; }
      }
      s.end();
    };
    pump();
  });
  s.on('error', () => {});
});
srv.listen(Number(port), '0.0.0.0', () => process.stdout.write('ready\n'));
