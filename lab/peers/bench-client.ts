/**
 * Mixed-bench TLS client (client namespace). argv: host port shortN bulkN bulkBytes concurrency.
 * Runs the bulk connections and the short ones (`concurrency` at a time) together, alternating
 * TLS 1.3 and 1.2, then prints "done".
 */
import tls from 'node:tls';

const [host = '', ...nums] = process.argv.slice(2);
const [port = 443, shortN = 0, bulkN = 0, bulkBytes = 0, conc = 1] = nums.map(Number);

function one(bytes: number, version: tls.SecureVersion): Promise<void> {
  return new Promise((res) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, servername: 'bench.ndr.test', minVersion: version, maxVersion: version }, () => s.write('GET ' + bytes + '\n'));
    s.on('data', () => {});
    s.on('end', () => { s.end(); res(); });
    s.on('error', () => res());
    s.on('close', () => res());
  });
}

let started = 0;
async function worker(): Promise<void> {
  while (started < shortN) {
    const i = started++;
    await one(200 + (i % 7) * 100, i % 2 === 0 ? 'TLSv1.3' : 'TLSv1.2');
  }
}
const bulk: Promise<void>[] = [];
for (let i = 0; i < bulkN; i++) bulk.push(one(bulkBytes, i % 2 === 0 ? 'TLSv1.3' : 'TLSv1.2'));
const ws: Promise<void>[] = [];
for (let i = 0; i < conc; i++) ws.push(worker());
await Promise.all([...bulk, ...ws]);
process.stdout.write('done\n');
