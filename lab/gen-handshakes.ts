/**
 * The handshake-heavy benchmark capture (issue 3): tens of thousands of short TLS connections
 * between real Node `tls` clients and servers in two network namespaces, captured by tcpdump on
 * the client's veth. Most connections carry a 2–3 certificate chain (leaf + intermediate
 * (+ root)); TLS 1.2 and 1.3 are mixed; after the handshake each connection exchanges a few
 * small request/response records, so a connection is ~25 packets of ~400 bytes on average.
 *
 * Keys and certificates are made in a temp dir at generation time. Choices (SNI, version,
 * sizes) come from a seeded PRNG, so two runs differ only in crypto bytes, ports and timing.
 * Needs root (namespaces, tcpdump) and openssl.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import type { HandshakeClientOptions, HandshakeClientResult } from './peers/handshake-client.js';
import type { HandshakeServerOptions } from './peers/handshake-server.js';

export interface HandshakeBenchOptions {
  /** TLS connections to make (the benchmark uses ≥ 40,000; the test 500). */
  connections: number;
  /** Concurrent connections per client process (default 48). */
  concurrency?: number;
  /** Client processes (default 2). */
  clients?: number;
  /** PRNG seed for the per-connection choices (default 1). */
  seed?: number;
}

export interface HandshakeBenchResult {
  file: string;
  connections: number;
  /** Connections that completed the handshake (as the clients counted them). */
  completed: number;
  tls13: number;
  tls12: number;
  /** Connections per chain length the server sent (index = certificates). */
  chainLengths: number[];
  bytes: number;
  /** Packets tcpdump wrote, and the kernel-drop count it reported. */
  packets: number;
  dropped: number;
  elapsedMs: number;
  /** Connections that closed before their handshake without an error, in the capture kept. */
  aborted: number;
  /** Captures made: a capture short of complete connections is made again (at most 3 times). */
  attempts: number;
}

export const BENCH_LAB_SUBNET = 144;
export const BENCH_PORTS = [443, 8443] as const;

/** Server identities: SNI → chain the server sends (leaf first). Mostly 2–3 certificates. */
const IDENTITIES: readonly { name: string; chain: readonly string[] }[] = [
  { name: 'api.bench.example.test', chain: ['leaf0', 'intA'] },
  { name: 'cdn.bench.example.test', chain: ['leaf1', 'intA', 'root'] },
  { name: 'login.bench.example.test', chain: ['leaf2', 'intB'] },
  { name: 'static.bench.example.test', chain: ['leaf3', 'intB', 'root'] },
  { name: 'mqtt.bench.example.test', chain: ['leaf4', 'intA'] },
  { name: 'metrics.bench.example.test', chain: ['leaf5', 'intB'] },
  { name: 'update.bench.example.test', chain: ['leaf6', 'intA', 'root'] },
  { name: 'self.bench.example.test', chain: ['self'] },
];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeBenchPki(dir: string): void {
  const f = (n: string) => path.join(dir, n);
  const ext = (name: string, body: string) => { writeFileSync(f(`${name}.ext`), `[ext]\n${body}\n`); return f(`${name}.ext`); };
  const ca = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always';
  const leaf = (dns: string) => `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${dns}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid`;
  const key = (n: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(`${n}.key`)], dir);
  const self = (n: string, cn: string, e: string, serial: number) => {
    key(n);
    openssl(['req', '-new', '-x509', '-key', f(`${n}.key`), '-out', f(`${n}.pem`), '-subj', `/O=ndr-sensor bench/CN=${cn}`, '-days', '3650', '-set_serial', String(serial), '-extensions', 'ext', '-config', ext(n, e)], dir);
  };
  const issue = (n: string, cn: string, issuer: string, e: string, serial: number) => {
    key(n);
    openssl(['req', '-new', '-key', f(`${n}.key`), '-out', f(`${n}.csr`), '-subj', `/O=ndr-sensor bench/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', f(`${n}.csr`), '-CA', f(`${issuer}.pem`), '-CAkey', f(`${issuer}.key`), '-set_serial', String(serial), '-days', '825', '-sha256', '-out', f(`${n}.pem`), '-extfile', ext(n, e), '-extensions', 'ext'], dir);
  };
  self('root', 'ndr-sensor bench root', ca, 1);
  issue('intA', 'ndr-sensor bench intermediate A', 'root', ca, 2);
  issue('intB', 'ndr-sensor bench intermediate B', 'root', ca, 3);
  IDENTITIES.forEach((id, i) => {
    const leafName = id.chain[0] as string;
    if (leafName === 'self') self('self', id.name, leaf(id.name), 100 + i);
    else issue(leafName, id.name, id.chain[1] as string, leaf(id.name), 100 + i);
  });
  const contexts = IDENTITIES.map((id) => ({
    name: id.name,
    key: f(`${id.chain[0]}.key`),
    chain: id.chain.length,
    cert: id.chain.map((n) => readFileSync(f(`${n}.pem`), 'utf8')).join(''),
  }));
  writeFileSync(f('contexts.json'), JSON.stringify(contexts));
}

function collect(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bench client exited ${code}: ${err.slice(0, 500)}`))));
  });
}

async function waitReady(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`bench server not ready: ${out}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) { clearTimeout(t); resolve(); } });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
  });
}

/**
 * Generate the handshake benchmark capture into `outFile` (classic pcap, Ethernet).
 * Throws if the clients fail or tcpdump drops packets. A capture in which a connection closed
 * before its handshake without any error (a client count short of `connections`) is made again,
 * at most 3 times in all; the result says how many captures it took.
 */
export async function generateHandshakeBench(outFile: string, opts: HandshakeBenchOptions): Promise<HandshakeBenchResult> {
  let r: HandshakeBenchResult | null = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    r = await generateOnce(outFile, opts, attempt);
    if (r.completed === opts.connections) break;
  }
  return r as HandshakeBenchResult;
}

async function generateOnce(outFile: string, opts: HandshakeBenchOptions, attempts: number): Promise<HandshakeBenchResult> {
  const t0 = Date.now();
  const concurrency = opts.concurrency ?? 48;
  const clients = Math.max(1, opts.clients ?? 2);
  const work = mkdtempSync(path.join(tmpdir(), 'ndr-gen-hs-'));
  const lab = await createLab('ghs', BENCH_LAB_SUBNET);
  let tcpdump: ChildProcess | null = null;
  try {
    makeBenchPki(work);
    const server = peerProgram('handshake-server.ts', work);
    const client = peerProgram('handshake-client.ts', work);
    rmSync(outFile, { force: true });
    // Our own tcpdump (not lab.capture) for a large kernel buffer: a burst of short flows.
    const dev = lab.exec(lab.client, 'ip', ['-o', 'link', 'show']).split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').find((n) => n !== '' && n !== 'lo');
    if (dev === undefined) throw new Error('no veth in the client namespace');
    tcpdump = lab.start(lab.client, 'tcpdump', ['-i', dev, '-w', outFile, '-n', '-s', '0', '-B', '131072', '--immediate-mode', '-U', 'tcp']);
    let tcpdumpErr = '';
    tcpdump.stderr?.on('data', (d: Buffer) => { tcpdumpErr += d.toString(); });
    for (let i = 0; i < 600 && !tcpdumpErr.includes('listening on') && tcpdump.exitCode === null; i++) await sleep(50);
    if (!tcpdumpErr.includes('listening on')) throw new Error(`tcpdump did not start capturing: ${tcpdumpErr.trim().slice(-300)}`);

    const servers = BENCH_PORTS.map((port) => lab.start(lab.server, process.execPath, [server, JSON.stringify({ host: lab.serverIp, port, contexts: path.join(work, 'contexts.json') } satisfies HandshakeServerOptions)]));
    await Promise.all(servers.map((s) => waitReady(s)));
    const names = IDENTITIES.map((id) => ({ name: id.name, chain: id.chain.length }));
    const per = Math.floor(opts.connections / clients);
    const runs = Array.from({ length: clients }, (_, k) => {
      const count = k === clients - 1 ? opts.connections - per * (clients - 1) : per;
      const child = lab.start(lab.client, process.execPath, [client, JSON.stringify({ host: lab.serverIp, ports: BENCH_PORTS, names, count, concurrency, seed: (opts.seed ?? 1) * 1000 + k } satisfies HandshakeClientOptions)]);
      return collect(child);
    });
    const outs = await Promise.all(runs);
    let completed = 0; let tls13 = 0; let tls12 = 0; let failed = 0; let aborted = 0;
    const chainLengths = [0, 0, 0, 0, 0];
    for (const o of outs) {
      const r = JSON.parse(o.trim().split('\n').pop() ?? '{}') as HandshakeClientResult;
      completed += r.ok; tls13 += r.v13; tls12 += r.v12; failed += r.failed; aborted += r.aborted;
      r.chains.forEach((n, i) => { chainLengths[i] = (chainLengths[i] ?? 0) + n; });
    }
    await sleep(500);
    tcpdump.kill('SIGINT');
    await new Promise<void>((res) => { tcpdump?.once('exit', () => res()); setTimeout(res, 10_000); });
    const captured = /(\d+) packets captured/.exec(tcpdumpErr);
    const droppedM = /(\d+) packets dropped by kernel/.exec(tcpdumpErr);
    const packets = captured ? Number(captured[1]) : 0;
    const dropped = droppedM ? Number(droppedM[1]) : -1;
    if (failed > 0) throw new Error(`${failed} bench connections failed`);
    if (dropped !== 0) throw new Error(`tcpdump dropped ${dropped} packets (stderr: ${tcpdumpErr.trim()})`);
    return { file: outFile, connections: opts.connections, completed, tls13, tls12, chainLengths, bytes: statSync(outFile).size, packets, dropped, elapsedMs: Date.now() - t0, aborted, attempts };
  } finally {
    if (tcpdump !== null && tcpdump.exitCode === null) tcpdump.kill('SIGKILL');
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
}
