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
import { peerProgram } from './peer-programs.js';

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
    const server = peerProgram('bench-server.ts', work);
    const client = peerProgram('bench-client.ts', work);
    const stop = await lab.capture(outFile, 'tcp', 0);
    const srv = lab.start(lab.server, process.execPath, [server, cert, key, '443']);
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
    lab.exec(lab.client, process.execPath, [client, lab.serverIp, '443', String(shape.shortConnections), String(shape.bulkConnections), String(shape.bulkBytesPerConnection), String(shape.concurrency)], { timeoutMs: 30 * 60_000 });
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
