// Beacon scoring on real TLS traffic (issue 6): a Node TLS client makes 240 connections to a
// Node TLS server in network namespaces; the capture is then re-timed (lab/pcap-rewrite.ts)
// into (a) a periodic client, one connection every 5 s with ±60 ms jitter, and (b) a browser-like
// client, the same connections in sessions of page loads (bursts of connections within seconds,
// minutes idle between), with requests of varying size. Replayed without EDR data: the periodic
// series scores above 0.7; most browser-like flows do not (see the note at the assertions).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../lab/netns.js';
import { rewritePcap, scanPcap } from '../lab/pcap-rewrite.js';
import { replayFiles } from '../src/runtime/replay.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-beacon-'));
const N = 240;
let lab: Lab;
let raw: string;

const SERVER = `
const tls = require('tls'); const fs = require('fs');
tls.createServer({ key: fs.readFileSync(process.argv[2]), cert: fs.readFileSync(process.argv[3]) }, (s) => {
  s.on('data', () => { s.end('ok\\n'); }); s.on('error', () => {});
}).listen(8443, () => console.log('ready'));`;
const CLIENT = `
const tls = require('tls');
const [host, n] = [process.argv[2], Number(process.argv[3])];
(async () => {
  for (let i = 0; i < n; i++) {
    await new Promise((res) => {
      const s = tls.connect({ host, port: 8443, rejectUnauthorized: false, servername: 'c2.beacon.test' }, () => s.write('x'.repeat(i % 2 ? 40 + (i * 7919) % 6000 : 40) + '\\n'));
      s.on('data', () => {}); s.on('close', res); s.on('error', res);
    });
  }
})();`;

beforeAll(async () => {
  lab = await createLab('bc', 233);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', '/CN=c2.beacon.test', '-days', '2'], { stdio: 'ignore' });
  writeFileSync(join(dir, 'server.cjs'), SERVER);
  writeFileSync(join(dir, 'client.cjs'), CLIENT);
  raw = join(dir, 'raw.pcap');
  const stop = await lab.capture(raw, 'tcp port 8443');
  const srv = lab.start(lab.server, process.execPath, [join(dir, 'server.cjs'), join(dir, 'k.pem'), join(dir, 'c.pem')]);
  await new Promise<void>((res) => { srv.stdout?.on('data', () => res()); setTimeout(res, 5000); });
  await sleep(200);
  lab.exec(lab.client, process.execPath, [join(dir, 'client.cjs'), lab.serverIp, String(N)], { timeoutMs: 120_000 });
  await stop();
});
afterAll(async () => { await lab.close(); });

/** Re-time connection k (by order of its SYN) to start at start(k); packets keep their offsets within the connection. */
function retime(input: string, output: string, start: (k: number) => number, base: number): void {
  const buf = readFileSync(input);
  const pkts = scanPcap(buf);
  const firstOf = new Map<number, { k: number; t0: number }>();
  let k = 0;
  for (const p of pkts) {
    const port = p.dport === 8443 ? p.sport : p.dport;
    if (!firstOf.has(port)) firstOf.set(port, { k: k++, t0: p.tsUs });
  }
  writeFileSync(output, (rewritePcap(buf, (p) => {
    const port = p.dport === 8443 ? p.sport : p.dport;
    const c = firstOf.get(port);
    if (c === undefined) return null;
    return { tsUs: base + Math.round(start(c.k) * 1000) + (p.tsUs - c.t0) };
  })));
}



function rng(seed: number): () => number {
  let x = seed;
  return () => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x / 4294967296; };
}

describe('beacon score on a real TLS client', () => {
  it('a periodic client scores above 0.7; most browser-like flows do not', async () => {
    const base = Date.UTC(2026, 5, 1) * 1000;
    const r1 = rng(7);
    const jitter = Array.from({ length: N }, () => (r1() - 0.5) * 120);
    retime(raw, join(dir, 'periodic.pcap'), (k) => k * 5000 + (jitter[k] as number), base);
    // Browser-like: sessions of page loads (many connections within seconds), idle minutes between.
    const r2 = rng(11);
    const starts: number[] = [];
    let t = 0;
    for (let i = 0; i < N; i++) {
      starts.push(t);
      t += i % 30 === 29 ? 120_000 + r2() * 900_000 : r2() < 0.6 ? 20 + r2() * 300 : 1000 + r2() * 8000;
    }
    retime(raw, join(dir, 'browser.pcap'), (k) => starts[k] as number, base);

    const periodic = await replayFiles([join(dir, 'periodic.pcap')]);
    const tlsP = periodic.flows.filter((f) => f.server.port === 8443);
    expect(tlsP.length).toBe(N);
    const scoresP = tlsP.map((f) => f.beacon?.score ?? 0);
    const last = tlsP[tlsP.length - 1]!;
    expect(last.beacon?.basis).toBe('connections');
    expect(last.beacon!.connections).toBeGreaterThan(200);
    expect(last.beacon!.medianIntervalS).toBeCloseTo(5, 0);
    expect(Math.max(...scoresP)).toBeGreaterThan(0.7);
    expect(last.beacon!.score).toBeGreaterThan(0.7);

    const browser = await replayFiles([join(dir, 'browser.pcap')]);
    const tlsB = browser.flows.filter((f) => f.server.port === 8443);
    expect(tlsB.length).toBe(N);
    const scoresB = tlsB.map((f) => f.beacon?.score ?? 0).sort((a, b) => a - b);
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)] as number;
    // Most browser-like flows stay below 0.7 (the median does). Measured here: periodic last 0.85,
    // median 0.87; browser-like median 0.56, last 0.72. RITA's duration (coverage) and histogram
    // terms are computed over the data's own window, so on a capture of one ~2-hour series they are
    // high for any series that spans it; timing and size regularity is what separates the two.
    expect(median(scoresB)).toBeLessThan(0.7);
    expect(median(scoresP.sort((a, b) => a - b))).toBeGreaterThan(0.8);
    expect(tlsB[tlsB.length - 1]!.beacon!.score).toBeLessThan(last.beacon!.score);
    expect(tlsB[tlsB.length - 1]!.beacon!.tsScore).toBeLessThan(last.beacon!.tsScore);
  });
});
