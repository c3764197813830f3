/**
 * Generates the project's own TLS/DTLS captures (pcaps/tls/) from real TLS stacks talking across
 * a two-namespace lab (lab/netns.ts): Node's tls, openssl s_client/s_server, curl and
 * python3's ssl. Keys and certificates are made at generation time in a temp dir (never
 * committed); SNI names, certificate subjects, addresses and ports are fixed so the captures
 * differ between runs only in keys, randoms, timings and serials.
 *
 * Needs root (namespaces, tcpdump), openssl, curl, python3, tcpdump. Hooked into
 * `bin/ndr-lab gen tls`; lab/gen-tls.test.ts runs it in CI.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import type { TlsClientOptions } from './peers/tls-client.js';
import type { TlsServerOptions } from './peers/tls-server.js';

/** Subnet of the lab (10.<n>.0.1 client, 10.<n>.0.2 server): fixed so the captures are stable. */
export const TLS_LAB_SUBNET = 143;
export const TLS_PORT = 443;
export const DTLS_PORT = 4433;

export interface TlsCaptureCase {
  /** File name without extension: `<name>.pcap`. */
  readonly name: string;
  readonly description: string;
  readonly transport: 'tcp' | 'udp';
  /** Server name the client sends (null = no SNI). */
  readonly sni: string | null;
  /** Negotiated version, as tshark shows it in the ServerHello ('1.2' | '1.3'). */
  readonly version: '1.2' | '1.3';
  /** Server certificates visible in clear (0 for TLS 1.3). */
  readonly serverCerts: number;
  /** Client certificates visible in clear. */
  readonly clientCerts: number;
}

export const TLS_CASES: readonly TlsCaptureCase[] = [
  { name: 'tls12-node', description: 'Node tls client → Node tls server, TLS 1.2, leaf + intermediate, ALPN http/1.1', transport: 'tcp', sni: 'tls12.example.test', version: '1.2', serverCerts: 2, clientCerts: 0 },
  { name: 'tls13-node', description: 'Node tls client → Node tls server, TLS 1.3, ALPN h2', transport: 'tcp', sni: 'tls13.example.test', version: '1.3', serverCerts: 0, clientCerts: 0 },
  { name: 'tls12-node-client-cert', description: 'Node tls, TLS 1.2, server requests and client sends a certificate (leaf + intermediate)', transport: 'tcp', sni: 'mtls.example.test', version: '1.2', serverCerts: 2, clientCerts: 2 },
  { name: 'tls13-openssl', description: 'openssl s_client → openssl s_server, TLS 1.3', transport: 'tcp', sni: 'openssl13.example.test', version: '1.3', serverCerts: 0, clientCerts: 0 },
  { name: 'tls12-openssl-self-signed', description: 'openssl s_client → openssl s_server, TLS 1.2, self-signed leaf', transport: 'tcp', sni: 'selfsigned.example.test', version: '1.2', serverCerts: 1, clientCerts: 0 },
  { name: 'tls12-curl-expired', description: 'curl -k → openssl s_server -www, TLS 1.2, leaf valid only in January 2020 (issued by intermediate 1), + intermediate', transport: 'tcp', sni: 'expired.example.test', version: '1.2', serverCerts: 2, clientCerts: 0 },
  { name: 'tls12-python-long-chain', description: 'python3 ssl client → Node tls server, TLS 1.2, chain leaf → int3 → int2 → int1 → root (5 certificates sent)', transport: 'tcp', sni: 'longchain.example.test', version: '1.2', serverCerts: 5, clientCerts: 0 },
  { name: 'tls12-python-unknown-root', description: 'python3 ssl client → Node tls server, TLS 1.2, leaf + intermediate + a root in no trust store', transport: 'tcp', sni: 'unknownroot.example.test', version: '1.2', serverCerts: 3, clientCerts: 0 },
  { name: 'tls12-node-no-sni', description: 'Node tls client to an IP address (no SNI), TLS 1.2', transport: 'tcp', sni: null, version: '1.2', serverCerts: 2, clientCerts: 0 },
  { name: 'dtls12-openssl', description: 'openssl s_client -dtls1_2 → s_server -dtls1_2 -listen (HelloVerifyRequest cookie), MTU 400 so the Certificate is fragmented', transport: 'udp', sni: 'dtls.example.test', version: '1.2', serverCerts: 2, clientCerts: 0 },
];

// ---- PKI ---------------------------------------------------------------------------------------

interface Pki {
  dir: string;
  file(name: string): string;
}

const SUBJECT_PREFIX = '/C=ZZ/O=ndr-sensor lab';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function ecKey(pki: Pki, name: string): void {
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.file(`${name}.key`)], pki.dir);
}

function writeExt(pki: Pki, name: string, body: string): string {
  const f = pki.file(`${name}.ext`);
  writeFileSync(f, `[ext]\n${body}\n`);
  return f;
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always';
const leafExt = (dns: string, usage: 'serverAuth' | 'clientAuth') => `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${usage}\nsubjectAltName=DNS:${dns}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid`;

function selfSigned(pki: Pki, name: string, cn: string, ext: string, serial: number): void {
  ecKey(pki, name);
  openssl(['req', '-new', '-x509', '-key', pki.file(`${name}.key`), '-out', pki.file(`${name}.pem`), '-subj', `${SUBJECT_PREFIX}/CN=${cn}`, '-days', '3650', '-set_serial', String(serial), '-extensions', 'ext', '-config', writeExt(pki, name, ext)], pki.dir);
}

function issued(pki: Pki, name: string, cn: string, issuer: string, ext: string, serial: number): void {
  ecKey(pki, name);
  openssl(['req', '-new', '-key', pki.file(`${name}.key`), '-out', pki.file(`${name}.csr`), '-subj', `${SUBJECT_PREFIX}/CN=${cn}`], pki.dir);
  openssl(['x509', '-req', '-in', pki.file(`${name}.csr`), '-CA', pki.file(`${issuer}.pem`), '-CAkey', pki.file(`${issuer}.key`), '-set_serial', String(serial), '-days', '825', '-sha256', '-out', pki.file(`${name}.pem`), '-extfile', writeExt(pki, name, ext), '-extensions', 'ext'], pki.dir);
}

/** A certificate valid only in January 2020: `openssl ca` is the openssl 3.0 way to set both dates. */
function expired(pki: Pki, name: string, cn: string, issuer: string, serial: number): void {
  ecKey(pki, name);
  openssl(['req', '-new', '-key', pki.file(`${name}.key`), '-out', pki.file(`${name}.csr`), '-subj', `${SUBJECT_PREFIX}/CN=${cn}`], pki.dir);
  const caDir = path.join(pki.dir, 'ca-db');
  mkdirSync(path.join(caDir, 'new'), { recursive: true });
  writeFileSync(path.join(caDir, 'index.txt'), '');
  writeFileSync(path.join(caDir, 'serial'), serial.toString(16).padStart(4, '0') + '\n');
  const cnf = pki.file('ca.cnf');
  writeFileSync(cnf, [
    '[ca]', 'default_ca = lab', '[lab]', `database = ${caDir}/index.txt`, `new_certs_dir = ${caDir}/new`, `serial = ${caDir}/serial`,
    'default_md = sha256', 'policy = any', 'unique_subject = no', 'email_in_dn = no', '[any]', 'countryName = optional', 'organizationName = optional', 'commonName = supplied',
    '[ext]', leafExt(cn, 'serverAuth'), '',
  ].join('\n'));
  openssl(['ca', '-batch', '-config', cnf, '-cert', pki.file(`${issuer}.pem`), '-keyfile', pki.file(`${issuer}.key`), '-in', pki.file(`${name}.csr`), '-out', pki.file(`${name}.pem`), '-startdate', '20200101000000Z', '-enddate', '20200131000000Z', '-extensions', 'ext', '-notext'], pki.dir);
}

function concatPem(pki: Pki, out: string, names: string[]): string {
  const f = pki.file(out);
  writeFileSync(f, names.map((n) => readFileSync(pki.file(`${n}.pem`), 'utf8')).join(''));
  return f;
}

function makePki(dir: string): Pki {
  const pki: Pki = { dir, file: (n) => path.join(dir, n) };
  selfSigned(pki, 'root', 'ndr-sensor lab root CA', CA_EXT, 1);
  issued(pki, 'int1', 'ndr-sensor lab intermediate 1', 'root', CA_EXT, 2);
  issued(pki, 'int2', 'ndr-sensor lab intermediate 2', 'int1', CA_EXT, 3);
  issued(pki, 'int3', 'ndr-sensor lab intermediate 3', 'int2', CA_EXT, 4);
  selfSigned(pki, 'uroot', 'Unknown Root CA', CA_EXT, 5);
  issued(pki, 'uint', 'Unknown Intermediate CA', 'uroot', CA_EXT, 6);
  for (const [i, [name, cn]] of ([['tls12', 'tls12.example.test'], ['tls13', 'tls13.example.test'], ['mtls', 'mtls.example.test'], ['openssl13', 'openssl13.example.test'], ['dtls', 'dtls.example.test'], ['nosni', 'nosni.example.test']] as const).entries()) {
    issued(pki, name, cn, 'int1', leafExt(cn, 'serverAuth'), 10 + i);
  }
  issued(pki, 'client', 'lab client 0001', 'int1', leafExt('client.example.test', 'clientAuth'), 30);
  issued(pki, 'longchain', 'longchain.example.test', 'int3', leafExt('longchain.example.test', 'serverAuth'), 31);
  issued(pki, 'unknownroot', 'unknownroot.example.test', 'uint', leafExt('unknownroot.example.test', 'serverAuth'), 32);
  selfSigned(pki, 'selfsigned', 'selfsigned.example.test', leafExt('selfsigned.example.test', 'serverAuth'), 33);
  expired(pki, 'expired', 'expired.example.test', 'int1', 34);
  return pki;
}

async function waitFor(child: ChildProcess, marker: string, timeoutMs = 10_000): Promise<void> {
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not print "${marker}" in time: ${out}`)), timeoutMs);
    const on = (d: Buffer) => { out += d.toString(); if (out.includes(marker)) { clearTimeout(t); resolve(); } };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`server exited (${code}) before "${marker}": ${out}`)); });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise<void>((res) => { child.once('exit', () => res()); setTimeout(res, 2000); });
}

interface RunCtx { lab: Lab; pki: Pki; peers: { server: string; client: string; python: string } }

async function runCase(c: TlsCaptureCase, r: RunCtx): Promise<void> {
  const { lab, pki } = r;
  const srv = lab.serverIp;
  const nodeServer = (o: Omit<TlsServerOptions, 'host' | 'port'>) => lab.start(lab.server, process.execPath, [r.peers.server, JSON.stringify({ host: srv, port: TLS_PORT, ...o } satisfies TlsServerOptions)]);
  const nodeClient = (o: Omit<TlsClientOptions, 'host' | 'port'>) => lab.exec(lab.client, process.execPath, [r.peers.client, JSON.stringify({ host: srv, port: TLS_PORT, ...o } satisfies TlsClientOptions)], { timeoutMs: 20_000 });
  const sslServer = (args: string[]) => lab.start(lab.server, 'openssl', ['s_server', '-accept', `${srv}:${TLS_PORT}`, '-naccept', '1', ...args]);
  let server: ChildProcess;
  switch (c.name) {
    case 'tls12-node':
      server = nodeServer({ key: pki.file('tls12.key'), cert: concatPem(pki, 'tls12-chain.pem', ['tls12', 'int1']), min: 'TLSv1.2', max: 'TLSv1.2', alpn: ['http/1.1'] });
      await waitFor(server, 'ready');
      nodeClient({ servername: c.sni, min: 'TLSv1.2', max: 'TLSv1.2', alpn: ['http/1.1'] });
      break;
    case 'tls13-node':
      server = nodeServer({ key: pki.file('tls13.key'), cert: concatPem(pki, 'tls13-chain.pem', ['tls13', 'int1']), min: 'TLSv1.3', max: 'TLSv1.3', alpn: ['h2', 'http/1.1'] });
      await waitFor(server, 'ready');
      nodeClient({ servername: c.sni, min: 'TLSv1.3', max: 'TLSv1.3', alpn: ['h2', 'http/1.1'] });
      break;
    case 'tls12-node-client-cert':
      server = nodeServer({ key: pki.file('mtls.key'), cert: concatPem(pki, 'mtls-chain.pem', ['mtls', 'int1']), min: 'TLSv1.2', max: 'TLSv1.2', requestCert: true });
      await waitFor(server, 'ready');
      nodeClient({ servername: c.sni, min: 'TLSv1.2', max: 'TLSv1.2', cert: concatPem(pki, 'client-chain.pem', ['client', 'int1']), key: pki.file('client.key') });
      break;
    case 'tls12-node-no-sni':
      server = nodeServer({ key: pki.file('nosni.key'), cert: concatPem(pki, 'nosni-chain.pem', ['nosni', 'int1']), min: 'TLSv1.2', max: 'TLSv1.2' });
      await waitFor(server, 'ready');
      nodeClient({ min: 'TLSv1.2', max: 'TLSv1.2' }); // connecting to an IP: Node sends no SNI
      break;
    case 'tls12-python-long-chain':
      server = nodeServer({ key: pki.file('longchain.key'), cert: concatPem(pki, 'longchain-chain.pem', ['longchain', 'int3', 'int2', 'int1', 'root']), min: 'TLSv1.2', max: 'TLSv1.2' });
      await waitFor(server, 'ready');
      lab.exec(lab.client, 'python3', [r.peers.python, srv, String(TLS_PORT), c.sni ?? ''], { timeoutMs: 20_000 });
      break;
    case 'tls12-python-unknown-root':
      server = nodeServer({ key: pki.file('unknownroot.key'), cert: concatPem(pki, 'unknownroot-chain.pem', ['unknownroot', 'uint', 'uroot']), min: 'TLSv1.2', max: 'TLSv1.2' });
      await waitFor(server, 'ready');
      lab.exec(lab.client, 'python3', [r.peers.python, srv, String(TLS_PORT), c.sni ?? ''], { timeoutMs: 20_000 });
      break;
    case 'tls13-openssl':
      server = sslServer(['-tls1_3', '-cert', pki.file('openssl13.pem'), '-key', pki.file('openssl13.key'), '-cert_chain', pki.file('int1.pem'), '-www']);
      await waitFor(server, 'ACCEPT');
      lab.exec(lab.client, 'openssl', ['s_client', '-connect', `${srv}:${TLS_PORT}`, '-servername', c.sni ?? '', '-tls1_3', '-ign_eof', '-quiet'], { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 20_000 });
      break;
    case 'tls12-openssl-self-signed':
      server = sslServer(['-tls1_2', '-cert', pki.file('selfsigned.pem'), '-key', pki.file('selfsigned.key'), '-www']);
      await waitFor(server, 'ACCEPT');
      lab.exec(lab.client, 'openssl', ['s_client', '-connect', `${srv}:${TLS_PORT}`, '-servername', c.sni ?? '', '-tls1_2', '-ign_eof', '-quiet'], { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 20_000 });
      break;
    case 'tls12-curl-expired':
      server = sslServer(['-tls1_2', '-cert', pki.file('expired.pem'), '-key', pki.file('expired.key'), '-cert_chain', pki.file('int1.pem'), '-www']);
      await waitFor(server, 'ACCEPT');
      lab.exec(lab.client, 'curl', ['-s', '-k', '--tlsv1.2', '--tls-max', '1.2', '--resolve', `${c.sni}:${TLS_PORT}:${srv}`, `https://${c.sni}:${TLS_PORT}/`, '-o', '/dev/null'], { timeoutMs: 20_000 });
      break;
    case 'dtls12-openssl':
      server = lab.start(lab.server, 'openssl', ['s_server', '-dtls1_2', '-listen', '-mtu', '400', '-accept', `${srv}:${DTLS_PORT}`, '-naccept', '1', '-cert', pki.file('dtls.pem'), '-key', pki.file('dtls.key'), '-cert_chain', pki.file('int1.pem')]);
      await waitFor(server, 'ACCEPT');
      {
        // s_client -dtls does not exit on stdin EOF: wait until the server printed our line, then stop it.
        const got = waitFor(server, 'hello over dtls');
        const client = lab.start(lab.client, 'openssl', ['s_client', '-dtls1_2', '-connect', `${srv}:${DTLS_PORT}`, '-servername', c.sni ?? '', '-quiet']);
        client.stdin?.write('hello over dtls\n');
        await got;
        await sleep(200);
        await stopChild(client);
      }
      break;
    default:
      throw new Error(`unknown case ${c.name}`);
  }
  await sleep(200);
  await stopChild(server);
}

/**
 * Create every capture of TLS_CASES in `outDir` (`<name>.pcap`). Returns the files written.
 * One lab for all cases; each case gets its own tcpdump.
 */
export async function generateTlsCaptures(outDir: string, cases: readonly TlsCaptureCase[] = TLS_CASES): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(path.join(tmpdir(), 'ndr-gen-tls-'));
  const lab = await createLab('gtls', TLS_LAB_SUBNET);
  const written: string[] = [];
  try {
    const pki = makePki(work);
    const peers = { server: peerProgram('tls-server.ts', work), client: peerProgram('tls-client.ts', work), python: peerProgram('tls12-client.py', work) };
    for (const c of cases) {
      const file = path.join(outDir, `${c.name}.pcap`);
      rmSync(file, { force: true });
      const port = c.transport === 'udp' ? DTLS_PORT : TLS_PORT;
      const stop = await lab.capture(file, `${c.transport} port ${port}`);
      try {
        await runCase(c, { lab, pki, peers });
      } finally {
        await stop();
      }
      if (statSync(file).size <= 24) throw new Error(`${c.name}: empty capture`);
      written.push(file);
    }
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  return written;
}
