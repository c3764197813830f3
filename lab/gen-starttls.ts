/**
 * The STARTTLS and RDP captures (pcaps/starttls/, pcaps/rdp/) from real clients in a two-namespace
 * lab (lab/netns.ts): `openssl s_client -starttls <proto>` against small servers of our own
 * (lab/peers/starttls-server.ts: the clear dialogue, then node:tls on the same socket), curl
 * against the same servers refusing the upgrade (it goes on in clear, logging in with a lab
 * password that must never reach a record), psql and openssl against a real PostgreSQL, and a
 * Node RDP client start. Each protocol also gets a malformed server answer and a cut-short copy
 * of its upgrade (the capture ends before the server's answer). A self-signed certificate is made
 * at generation time in a temp dir (never committed); names and ports are fixed.
 * Needs root, tcpdump, openssl, curl, editcap, tshark, PostgreSQL 15 (initdb, postgres, psql).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import type { StarttlsServerOptions } from './peers/starttls-server.js';

type Proto = StarttlsServerOptions['proto'];

export const LAB_PASSWORD = 's3cr3t-lab-pw';
export const LAB_USER = 'labuser';
export const SNI = 'mail.lab.test';

const PORTS: Record<Proto | 'postgres', number> = {
  smtp: 25, lmtp: 24, imap: 143, pop3: 110, ftp: 21, nntp: 119, sieve: 4190, xmpp: 5222, ldap: 389, mysql: 3306, rdp: 3389, postgres: 5432,
};
const OPENSSL: Partial<Record<Proto, string>> = {
  smtp: 'smtp', lmtp: 'lmtp', imap: 'imap', pop3: 'pop3', ftp: 'ftp', nntp: 'nntp', sieve: 'sieve', xmpp: 'xmpp', ldap: 'ldap', mysql: 'mysql',
};
/** curl URLs for the refused upgrades (--ssl: try TLS, go on in clear when refused). */
function curlArgs(proto: Proto, ip: string, work: string): string[] | null {
  const auth = ['-u', `${LAB_USER}:${LAB_PASSWORD}`];
  switch (proto) {
    case 'smtp': {
      const msg = join(work, 'mail.txt');
      writeFileSync(msg, 'From: labuser@lab.test\r\nTo: bob@lab.test\r\nSubject: lab\r\n\r\nhello from the lab\r\n');
      return ['--ssl', ...auth, '--mail-from', 'labuser@lab.test', '--mail-rcpt', 'bob@lab.test', '-T', msg, `smtp://${ip}:${PORTS.smtp}`];
    }
    case 'imap': return ['--ssl', ...auth, `imap://${ip}:${PORTS.imap}/INBOX`, '-X', 'EXAMINE INBOX'];
    case 'pop3': return ['--ssl', ...auth, `pop3://${ip}:${PORTS.pop3}/`];
    case 'ftp': return ['--ssl', ...auth, '-I', `ftp://${ip}:${PORTS.ftp}/notes.txt`];
    default: return null;
  }
}

export interface StarttlsCapture { file: string; proto: Proto | 'postgres'; kind: 'accept' | 'refuse' | 'malformed' | 'cut' }

function waitReady(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`${what} did not start: ${err}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve(); } });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited (${code}): ${err}`)); });
  });
}

function run(lab: Lab, cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  try {
    lab.exec(lab.client, cmd, args, { timeoutMs: 15_000, ...(env ? { env } : {}) });
  } catch { /* refusals, malformed answers and closed stdin end these clients with an error: expected */ }
}

/** The capture up to (not including) the server's answer to the upgrade request. */
function cutShort(src: string, dst: string, serverPort: number): boolean {
  const fields = (filter: string) => execFileSync('tshark', ['-r', src, '-Y', filter, '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.srcport'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString().trim().split('\n').filter((l) => l.length > 0).map((l) => l.split('\t').map(Number) as [number, number]);
  const hello = fields('tcp.payload[0:2] == 16:03')[0];
  if (hello === undefined) return false;
  const answers = fields(`tcp.len > 0 && frame.number < ${hello[0]}`).filter(([, sp]) => sp === serverPort);
  const last = answers[answers.length - 1];
  // MySQL's server does not answer the SSLRequest: the cut drops the ClientHello instead.
  const keep = serverPort === PORTS.mysql || last === undefined ? hello[0] - 1 : last[0] - 1;
  execFileSync('editcap', ['-r', src, dst, `1-${keep}`], { stdio: 'ignore' });
  return true;
}

export interface StarttlsGenOptions {
  /** Protocols to generate (default all but PostgreSQL, which `postgres` switches). */
  protos?: readonly Proto[];
  modes?: readonly ('accept' | 'refuse' | 'malformed')[];
  postgres?: boolean;
}

export async function generateStarttlsCaptures(outDir: string, rdpDir: string, opts: StarttlsGenOptions = {}): Promise<StarttlsCapture[]> {
  mkdirSync(outDir, { recursive: true });
  mkdirSync(rdpDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'ndr-gen-starttls-'));
  chmodSync(work, 0o755);
  const node = process.execPath;
  const key = join(work, 'server.key');
  const cert = join(work, 'server.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-subj', `/O=NDR Lab/CN=${SNI}`, '-addext', `subjectAltName=DNS:${SNI}`, '-days', '3650'], { stdio: 'ignore' });
  const server = peerProgram('starttls-server.ts', work);
  const rdpClient = peerProgram('rdp-client.ts', work);
  const lab = await createLab('stl');
  const s = lab.serverIp;
  const out: StarttlsCapture[] = [];
  const capture = async (file: string, port: number, body: () => Promise<void> | void) => {
    const stop = await lab.capture(file, `tcp port ${port}`);
    try { await body(); } finally { await stop(); }
  };
  try {
    const protos = opts.protos ?? (['smtp', 'lmtp', 'imap', 'pop3', 'ftp', 'nntp', 'sieve', 'xmpp', 'ldap', 'mysql', 'rdp'] as const);
    for (const proto of protos) {
      const dir = proto === 'rdp' ? rdpDir : outDir;
      const port = PORTS[proto];
      for (const mode of opts.modes ?? (['accept', 'refuse', 'malformed'] as const)) {
        const client = proto === 'rdp' ? 'node' : mode === 'refuse' && curlArgs(proto, s, work) !== null ? 'curl' : 'openssl';
        const file = join(dir, `${proto}-${mode === 'accept' ? 'starttls' : mode}-${client}.pcap`);
        const opts: StarttlsServerOptions = { proto, host: s, port, mode, key, cert };
        const srv = lab.start(lab.server, node, [server, JSON.stringify(opts)]);
        await waitReady(srv, `${proto} server`);
        await capture(file, port, () => {
          if (client === 'node') run(lab, node, [rdpClient, s, String(port)]);
          else if (client === 'curl') run(lab, 'curl', ['-s', '-S', '--max-time', '10', ...(curlArgs(proto, s, work) as string[])]);
          else {
            const extra = proto === 'xmpp' ? ['-xmpphost', 'lab.test'] : [];
            run(lab, 'openssl', ['s_client', '-connect', `${s}:${port}`, '-starttls', OPENSSL[proto] as string, '-servername', SNI, ...extra, '-brief']);
          }
        });
        srv.kill('SIGTERM');
        out.push({ file, proto, kind: mode });
        if (mode === 'accept') {
          const cut = join(dir, `${proto}-cut-short.pcap`);
          if (cutShort(file, cut, port)) out.push({ file: cut, proto, kind: 'cut' });
        }
      }
    }
    if (opts.postgres !== false) out.push(...await postgres(lab, work, key, cert, outDir, capture));
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

/** A real PostgreSQL 15: openssl and psql upgrading (ssl=on), psql refused in clear (ssl=off). */
async function postgres(lab: Lab, work: string, key: string, cert: string, outDir: string,
  capture: (file: string, port: number, body: () => Promise<void> | void) => Promise<void>): Promise<StarttlsCapture[]> {
  const bin = existsSync('/usr/lib/postgresql/15/bin/postgres') ? '/usr/lib/postgresql/15/bin' : '/usr/local/bin';
  const data = join(work, 'pg');
  mkdirSync(data);
  const pw = join(work, 'pw');
  writeFileSync(pw, `${LAB_PASSWORD}\n`);
  const pgKey = join(work, 'pg.key');
  const pgCert = join(work, 'pg.pem');
  execFileSync('cp', [key, pgKey]);
  execFileSync('cp', [cert, pgCert]);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  for (const p of [data, pw, pgKey, pgCert]) chownSync(p, uid, gid);
  chmodSync(pgKey, 0o600);
  execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'initdb'), '-D', data, '-U', LAB_USER, '--pwfile', pw, '-A', 'scram-sha-256'], { stdio: 'ignore' });
  const sock = join(work, 'sock');
  mkdirSync(sock);
  chownSync(sock, uid, gid);
  const out: StarttlsCapture[] = [];
  const s = lab.serverIp;
  const start = async (ssl: boolean) => {
    lab.start(lab.server, 'runuser', ['-u', 'postgres', '--', join(bin, 'postgres'), '-D', data, '-c', `listen_addresses=${s}`, '-c', `unix_socket_directories=${sock}`,
      '-c', `ssl=${ssl ? 'on' : 'off'}`, '-c', `ssl_cert_file=${pgCert}`, '-c', `ssl_key_file=${pgKey}`, '-c', 'log_min_messages=fatal']);
    for (let i = 0; i < 100; i++) {
      try { lab.exec(lab.client, join(bin, 'pg_isready'), ['-h', s, '-p', '5432', '-t', '1'], { timeoutMs: 3000 }); return; } catch { await sleep(100); }
    }
    throw new Error('postgres did not start');
  };
  const stop = () => { execFileSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), 'stop', '-D', data, '-m', 'fast'], { stdio: 'ignore' }); };
  writeFileSync(join(data, 'pg_hba.conf'), `host all all 0.0.0.0/0 scram-sha-256\nlocal all all trust\n`);
  const env = { ...process.env, PGPASSWORD: LAB_PASSWORD, PGCONNECT_TIMEOUT: '5' };
  await start(true);
  try {
    const a = join(outDir, 'postgres-starttls-openssl.pcap');
    await capture(a, 5432, () => run(lab, 'openssl', ['s_client', '-connect', `${s}:5432`, '-starttls', 'postgres', '-servername', SNI, '-brief']));
    out.push({ file: a, proto: 'postgres', kind: 'accept' });
    const b = join(outDir, 'postgres-starttls-psql.pcap');
    await capture(b, 5432, () => run(lab, 'psql', [`host=${s} port=5432 user=${LAB_USER} dbname=postgres sslmode=require`, '-c', 'SELECT 1'], env));
    out.push({ file: b, proto: 'postgres', kind: 'accept' });
    const c = join(outDir, 'postgres-cut-short.pcap');
    if (cutShort(b, c, 5432)) out.push({ file: c, proto: 'postgres', kind: 'cut' });
  } finally { stop(); }
  await start(false);
  try {
    const r = join(outDir, 'postgres-refuse-psql.pcap');
    await capture(r, 5432, () => run(lab, 'psql', [`host=${s} port=5432 user=${LAB_USER} dbname=postgres sslmode=prefer`, '-c', 'SELECT 1'], env));
    out.push({ file: r, proto: 'postgres', kind: 'refuse' });
  } finally { stop(); }
  return out;
}
