/**
 * The mixed benchmark capture (`bin/ndr-lab gen bench`, issue 2): real TLS 1.2 and 1.3 between
 * Node clients and servers in two network namespaces, captured by tcpdump on the client's veth.
 *  - bulk transfers over a few long TLS connections, so full-size data packets dominate;
 *  - many short TLS connections (handshake, a small request, a small answer, close);
 *  - MQTT publishes to a mosquitto broker when mosquitto is installed.
 * Deterministic in shape (fixed counts, sizes and concurrency), so two runs give comparable figures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab } from './netns.js';

export interface BenchShape {
  shortConnections: number; // short TLS connections
  bulkConnections: number;
  bulkBytesPerConnection: number;
  concurrency: number;
  mqttMessages: number;
}

export const defaultBenchShape: BenchShape = {
  shortConnections: 20_000,
  bulkConnections: 12,
  bulkBytesPerConnection: 96 * 1024 * 1024,
  concurrency: 64,
  mqttMessages: 2_000,
};

const SERVER = `
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
const [cert, key, port] = process.argv.slice(2);
const chunk = Buffer.alloc(64 * 1024, 0x5a);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 2654435761) >>> 24;
const srv = tls.createServer({ cert: readFileSync(cert), key: readFileSync(key), minVersion: 'TLSv1.2' }, (s) => {
  let got = '';
  s.on('data', (d) => {
    got += d.toString();
    if (!got.includes('\\n')) return;
    const m = /^GET (\\d+)/.exec(got);
    let left = m ? Number(m[1]) : 64;
    const pump = () => {
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
srv.listen(Number(port), '0.0.0.0', () => process.stdout.write('ready\\n'));
`;

const CLIENT = `
import tls from 'node:tls';
const [host, port, shortN, bulkN, bulkBytes, conc] = process.argv.slice(2).map((v, i) => i === 0 ? v : Number(v));
function one(bytes, version) {
  return new Promise((res) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, servername: 'bench.ndr.test', minVersion: version, maxVersion: version }, () => s.write('GET ' + bytes + '\\n'));
    s.on('data', () => {});
    s.on('end', () => { s.end(); res(); });
    s.on('error', () => res());
    s.on('close', () => res());
  });
}
let started = 0;
async function worker() {
  while (started < shortN) {
    const i = started++;
    await one(200 + (i % 7) * 100, i % 2 === 0 ? 'TLSv1.3' : 'TLSv1.2');
  }
}
const bulk = [];
for (let i = 0; i < bulkN; i++) bulk.push(one(bulkBytes, i % 2 === 0 ? 'TLSv1.3' : 'TLSv1.2'));
const ws = [];
for (let i = 0; i < conc; i++) ws.push(worker());
await Promise.all([...bulk, ...ws]);
process.stdout.write('done\\n');
`;

function have(cmd: string): boolean {
  try { execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Generate the benchmark capture into `outFile`; returns its packet count and size. */
export async function generateBenchCapture(outFile: string, shape: BenchShape = defaultBenchShape, log: (s: string) => void = () => {}): Promise<{ packets: number; bytes: number; seconds: number }> {
  const t0 = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'ndr-bench-'));
  const lab = await createLab('nb', 211);
  try {
    const cert = join(work, 'cert.pem');
    const key = join(work, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', '/CN=bench.ndr.test', '-addext', 'subjectAltName=DNS:bench.ndr.test'], { stdio: 'ignore' });
    writeFileSync(join(work, 'server.mjs'), SERVER);
    writeFileSync(join(work, 'client.mjs'), CLIENT);
    const stop = await lab.capture(outFile, 'tcp', 0);
    const srv = lab.start(lab.server, process.execPath, [join(work, 'server.mjs'), cert, key, '443']);
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('bench server did not start')), 10_000);
      srv.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); res(); } });
    });
    if (shape.mqttMessages > 0 && have('mosquitto') && have('mosquitto_pub')) {
      const conf = join(work, 'mosquitto.conf');
      writeFileSync(conf, 'listener 1883 0.0.0.0\nallow_anonymous true\npersistence false\n');
      lab.start(lab.server, 'mosquitto', ['-c', conf]);
      await new Promise((r) => setTimeout(r, 500));
      log('mqtt publishes');
      const perConn = 100;
      for (let i = 0; i < shape.mqttMessages / perConn; i++) {
        const lines = Array.from({ length: perConn }, (_, k) => `reading ${i}-${k} ${'x'.repeat(40)}`).join('\n') + '\n';
        lab.exec(lab.client, 'mosquitto_pub', ['-h', lab.serverIp, '-t', `bench/sensor/${i}`, '-l', '-q', '1', '-i', `bench-${i}`], { input: lines });
      }
    }
    log('tls short + bulk connections');
    lab.exec(lab.client, process.execPath, [join(work, 'client.mjs'), lab.serverIp, '443', String(shape.shortConnections), String(shape.bulkConnections), String(shape.bulkBytesPerConnection), String(shape.concurrency)], { timeoutMs: 30 * 60_000 });
    const { dropped } = await stop();
    if (dropped > 0) log(`warning: tcpdump dropped ${dropped} packets; the capture has gaps and its figures are not comparable`);
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  const out = execFileSync('capinfos', ['-c', '-M', outFile]).toString();
  const packets = Number(/Number of packets:\s*(\d+)/.exec(out)?.[1] ?? 0);
  return { packets, bytes: statSync(outFile).size, seconds: (Date.now() - t0) / 1000 };
}
