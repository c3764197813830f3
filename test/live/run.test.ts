// `ndr-sensor run` end to end on a real interface in network namespaces (root, as CI is):
// real TLS between two namespaces, the sensor watching the client's veth through libpcap
// (both directions) and through the eBPF feed (ingress: the server's packets), metrics served,
// SIGTERM drains open flows into the JSON-lines output and exits 0. Lines reach the file within
// about a second while the sensor runs.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab } from '../../lab/netns.js';

const root = join(new URL('.', import.meta.url).pathname, '..', '..');
const cli = join(root, 'dist', 'ndr-sensor.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ndr-run-'));
let lab: Lab;

beforeAll(async () => {
  lab = await createLab('rn', 231);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-subj', '/CN=run.test', '-days', '2'], { stdio: 'ignore' });
  lab.start(lab.server, 'openssl', ['s_server', '-accept', '4433', '-www', '-cert', join(dir, 'c.pem'), '-key', join(dir, 'k.pem')]);
  await sleep(500);
});
afterAll(async () => { await lab.close(); });

async function runSensor(source: 'pcap' | 'ebpf', port: number, workers = 1): Promise<{ code: number | null; log: string; flows: Record<string, any>[]; metrics: string; early: number }> {
  const out = join(dir, `${source}-${workers}.jsonl`);
  const cfg = join(dir, `${source}-${workers}.yaml`);
  writeFileSync(cfg, `sensor:\n  workers: ${workers}\ncapture:\n  interfaces: [${lab.clientDev}]\n  source: ${source}\noutput:\n  jsonLines: ${out}\nmetrics:\n  listen: 127.0.0.1:${port}\n`);
  const child = spawn('ip', ['netns', 'exec', lab.client, process.execPath, cli, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  for (let i = 0; i < 100 && !log.includes('capturing with'); i++) await sleep(100);
  for (let i = 0; i < 3; i++) lab.exec(lab.client, 'curl', ['-sk', '--resolve', `run.test:4433:${lab.serverIp}`, 'https://run.test:4433/', '-o', '/dev/null']);
  // Each connection ends with its FIN: its line is in the file within the sensor's one-second
  // flush, while the sensor still runs.
  let early = 0;
  for (let i = 0; i < 50 && early < 3; i++) {
    await sleep(100);
    early = readFileSync(out, 'utf8').split('\n').filter((l) => l.includes('"port":4433')).length;
  }
  let metrics = '';
  try {
    metrics = lab.exec(lab.client, 'curl', ['-s', `http://127.0.0.1:${port}/metrics`]);
  } catch (e) {
    throw new Error(`metrics unreachable; sensor log:\n${log}`, { cause: e });
  }
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
  const flows = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return { code, log, flows, metrics, early };
}

describe('ndr-sensor run (live)', () => {
  // With 2 flow workers the same flows come out, sharded (eBPF flow-end routing to the owning
  // worker is checked with the kernel's counters in feed-vs-replay.test.ts).
  for (const workers of [1, 2]) {
    const tag = workers === 1 ? '' : ` (${workers} flow workers)`;
    it(`libpcap: TLS flows with JA4 and SNI, metrics, clean drain on SIGTERM${tag}`, async () => {
      const r = await runSensor('pcap', 19111 + 2 * (workers - 1), workers);
      expect(r.log).toContain('capturing with libpcap');
      if (workers > 1) expect(r.log).toContain(`${workers} flow workers`);
      expect(r.code).toBe(0);
      expect(r.early, 'TLS flows in the file before SIGTERM').toBe(3);
      const tls = r.flows.filter((f) => f.destination?.port === 4433);
      expect(tls).toHaveLength(3);
      for (const f of tls) {
        expect(f.network.protocol).toBe('tls');
        expect(f.tls.client.server_name).toBe('run.test');
        expect(f.tls.client.ja4).toMatch(/^t1[23]d/);
        expect(f.source.packets).toBeGreaterThan(3);
      }
      expect(new Set(tls.map((f) => f.source.port)).size).toBe(3);
      expect(r.metrics).toMatch(/ndr_packets_total [1-9]/);
    });

    it(`eBPF feed on the same interface: the server side of every handshake, kernel counters${tag}`, async () => {
      const r = await runSensor('ebpf', 19112 + 2 * (workers - 1), workers);
      expect(r.log).toContain('capturing with the eBPF feed');
      if (workers > 1) expect(r.log).toContain(`${workers} flow workers`);
      expect(r.code).toBe(0);
      const tls = r.flows.filter((f) => f.source?.port === 4433 || f.destination?.port === 4433);
      expect(tls).toHaveLength(3);
      for (const f of tls) {
        expect(f.network.protocol).toBe('tls');
        expect(f.destination.packets + f.source.packets).toBeGreaterThan(3);
      }
    });
  }
});
