/**
 * Misc lab captures from real software in network namespaces (lab/netns.ts):
 *   aes-stream.pcap    AN1389 shape: length-prefixed AES-256-CBC records over TCP, no handshake
 *   ssh.pcap           OpenSSH client → sshd (banners + key exchange; auth refused)
 *   http-entropy.pcap  curl fetching high-entropy paths with a high-entropy Host from a Node http server
 *   dns.pcap           Node's resolver (c-ares) → a tiny Node DNS server: A, AAAA, CNAME, NXDOMAIN,
 *                      and a truncated answer that makes the client retry over TCP
 *   gzip-upload.pcap   a gzip-compressed upload over plain TCP
 * Needs root, tcpdump, curl, openssh-server and openssh-client (/usr/sbin/sshd, ssh, ssh-keygen).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './netns.js';

export const MISC_CAPTURES = ['aes-stream.pcap', 'ssh.pcap', 'http-entropy.pcap', 'dns.pcap', 'gzip-upload.pcap'] as const;
export type MiscCapture = (typeof MISC_CAPTURES)[number];

/** Fixed high-entropy request paths and Host (so the committed capture is reproducible in shape). */
export const HTTP_PATHS = ['/Zk3q9XvB7mWcT1pLr8sYdN2fHg4jQ6uA0eKx5oVbIw', '/p4R7tY1uE9wQ3zX6cV8bN2mL5kJ0hG'];
export const HTTP_HOST = 'x7kq2vz9wb4tm.lab.test';
export const DNS_NAMES = { a: 'c2.lab.test', cname: 'www.lab.test', cnameTarget: 'edge.lab.test', nx: 'nx.lab.test', tcp: 'big.lab.test' } as const;
export const PORTS = { aes: 4444, http: 8080, gzip: 9000 } as const;

export interface MiscResult {
  files: Record<MiscCapture, string>;
  clientIp: string;
  serverIp: string;
  serverIp6: string;
}

// ---- the Node programs run inside the namespaces (written to a temp dir at generation time) ----

const AES_COMMON = `
import crypto from 'node:crypto';
export const key = crypto.createHash('sha256').update('ndr-sensor lab pre-shared key').digest();
// One record: u32 BE length of the rest | 16-byte IV | AES-256-CBC(JSON) — no handshake, no magic.
export function seal(obj) {
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  const body = Buffer.concat([iv, c.update(JSON.stringify(obj)), c.final()]);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32BE(body.length);
  return Buffer.concat([hdr, body]);
}
export function opener(onRecord) {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const body = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      const d = crypto.createDecipheriv('aes-256-cbc', key, body.subarray(0, 16));
      onRecord(JSON.parse(Buffer.concat([d.update(body.subarray(16)), d.final()]).toString()));
    }
  };
}
`;

const AES_SERVER = `
import net from 'node:net';
import { seal, opener } from './aes-common.mjs';
const commands = ['whoami', 'hostname', 'ipconfig /all', 'tasklist /v', 'dir C:\\\\Users\\\\Public', 'exit'];
net.createServer((s) => {
  let i = 0;
  s.on('data', opener((m) => {
    if (i < commands.length) s.write(seal({ id: i, cmd: commands[i++] }));
    else s.end();
  }));
  s.on('error', () => {});
}).listen(${PORTS.aes}, process.argv[2], () => console.log('ready'));
`;

const AES_CLIENT = `
import net from 'node:net';
import os from 'node:os';
import { seal, opener } from './aes-common.mjs';
const s = net.connect(${PORTS.aes}, process.argv[2]);
s.on('connect', () => s.write(seal({ checkin: true, host: os.hostname(), user: 'lab', pid: process.pid, os: os.type() + ' ' + os.release(), arch: os.arch(), cwd: process.cwd(), env: Object.keys(process.env).slice(0, 12) })));
s.on('data', opener((m) => {
  if (m.cmd === 'exit') { s.write(seal({ id: m.id, bye: true })); s.end(); return; }
  const out = Array.from({ length: 8 + m.id * 6 }, (_, k) => 'line ' + k + ' of ' + m.cmd + ' output: ' + 'x'.repeat(20 + ((k * 7) % 30))).join('\\n');
  setTimeout(() => s.write(seal({ id: m.id, out })), 20);
}));
s.on('close', () => process.exit(0));
setTimeout(() => process.exit(1), 15000);
`;

const HTTP_SERVER = `
import http from 'node:http';
http.createServer((req, res) => {
  const body = JSON.stringify({ ok: true, path: req.url, n: req.url.length });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}).listen(${PORTS.http}, process.argv[2], () => console.log('ready'));
`;

const DNS_SERVER = `
import dgram from 'node:dgram';
import net from 'node:net';
const [ip4, ip6] = [process.argv[2], process.argv[3]];
const enc = (name) => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
const u16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const rr = (nameBytes, type, ttl, rdata) => Buffer.concat([nameBytes, u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
const a4 = (ip) => Buffer.from(ip.split('.').map(Number));
function a6(ip) {
  const [h, t] = ip.split('::');
  const hs = h ? h.split(':') : [], ts = t ? t.split(':') : [];
  const words = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  return Buffer.concat(words.map((w) => u16(parseInt(w, 16))));
}
function answer(q, tcp) {
  const id = q.readUInt16BE(0);
  let p = 12; const labels = [];
  while (q[p] !== 0) { labels.push(q.subarray(p + 1, p + 1 + q[p]).toString()); p += q[p] + 1; }
  const qname = labels.join('.').toLowerCase(); const qtype = q.readUInt16BE(p + 1);
  const question = q.subarray(12, p + 5);
  const ptr = Buffer.from([0xc0, 12]);
  let rcode = 0, tc = 0; const ans = [];
  if (qname === '${DNS_NAMES.a}' && qtype === 1) ans.push(rr(ptr, 1, 300, a4(ip4)));
  else if (qname === '${DNS_NAMES.a}' && qtype === 28) ans.push(rr(ptr, 28, 300, a6(ip6)));
  else if (qname === '${DNS_NAMES.cname}') {
    const target = enc('${DNS_NAMES.cnameTarget}');
    ans.push(rr(ptr, 5, 600, target));
    const targetAt = 12 + question.length + 12;
    if (qtype === 1) ans.push(rr(Buffer.from([0xc0, targetAt]), 1, 60, a4(ip4)));
  } else if (qname === '${DNS_NAMES.tcp}' && qtype === 1) {
    if (!tcp) tc = 1;
    else for (let i = 1; i <= 40; i++) ans.push(rr(ptr, 1, 120, a4('10.99.' + (i >> 8) + '.' + (i & 255))));
  } else if (qname === '${DNS_NAMES.nx}') rcode = 3;
  const flags = 0x8000 | 0x0400 | (tc << 9) | (q.readUInt16BE(2) & 0x0100) | 0x0080 | rcode;
  return Buffer.concat([u16(id), u16(flags), u16(1), u16(ans.length), u16(0), u16(0), question, ...ans]);
}
const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => { try { udp.send(answer(m, false), r.port, r.address); } catch {} });
const tcpServer = net.createServer((s) => {
  let buf = Buffer.alloc(0);
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const m = buf.subarray(2, 2 + buf.readUInt16BE(0)); buf = buf.subarray(2 + m.length);
      const a = answer(m, true); s.write(Buffer.concat([u16(a.length), a]));
    }
  });
  s.on('error', () => {});
});
udp.bind(53, ip4, () => tcpServer.listen(53, ip4, () => console.log('ready')));
`;

const DNS_CLIENT = `
import { promises as dns } from 'node:dns';
const r = new dns.Resolver({ timeout: 2000, tries: 2 });
r.setServers([process.argv[2]]);
const out = {};
out.a = await r.resolve4('${DNS_NAMES.a}', { ttl: true });
out.aaaa = await r.resolve6('${DNS_NAMES.a}');
out.www = await r.resolve4('${DNS_NAMES.cname}');
try { await r.resolve4('${DNS_NAMES.nx}'); out.nx = 'resolved?'; } catch (e) { out.nx = e.code; }
out.big = (await r.resolve4('${DNS_NAMES.tcp}')).length;
console.log(JSON.stringify(out));
`;

const GZIP_SERVER = `
import net from 'node:net';
net.createServer((s) => {
  let n = 0;
  s.on('data', (d) => { n += d.length; });
  s.on('end', () => s.end('received ' + n + '\\n'));
  s.on('error', () => {});
}).listen(${PORTS.gzip}, process.argv[2], () => console.log('ready'));
`;

const GZIP_CLIENT = `
import net from 'node:net';
import zlib from 'node:zlib';
const lines = [];
for (let i = 0; i < 600; i++) lines.push(new Date(1700000000000 + i * 1000).toISOString() + ' host=ws05 user=lab event=' + (i % 7) + ' file=C:/Users/lab/Documents/report-' + (i % 40) + '.docx size=' + (i * 7919 % 100000));
const body = zlib.gzipSync(Buffer.from(lines.join('\\n')));
const s = net.connect(${PORTS.gzip}, process.argv[2], () => s.end(body));
s.on('data', (d) => process.stdout.write(d));
s.on('close', () => process.exit(0));
`;

function waitReady(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`${what} did not start: ${err}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) { clearTimeout(t); resolve(); }
    });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${what} exited (${code}): ${err}`)); });
  });
}

async function waitListening(lab: Lab, port: number, timeoutMs = 10_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 100) {
    const out = lab.exec(lab.server, 'ss', ['-ltnH', `sport = :${port}`]);
    if (out.trim().length > 0) return;
    await sleep(100);
  }
  throw new Error(`nothing listening on ${port}`);
}

/** Run every scenario, each under its own tcpdump; returns the capture paths. */
export async function generateMiscCaptures(outDir: string): Promise<MiscResult> {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'ndr-gen-misc-'));
  const node = process.execPath;
  const files = Object.fromEntries(MISC_CAPTURES.map((f) => [f, join(outDir, f)])) as Record<MiscCapture, string>;
  const scripts: Record<string, string> = {
    'aes-common.mjs': AES_COMMON, 'aes-server.mjs': AES_SERVER, 'aes-client.mjs': AES_CLIENT, 'http-server.mjs': HTTP_SERVER,
    'dns-server.mjs': DNS_SERVER, 'dns-client.mjs': DNS_CLIENT, 'gzip-server.mjs': GZIP_SERVER, 'gzip-client.mjs': GZIP_CLIENT,
  };
  for (const [name, text] of Object.entries(scripts)) writeFileSync(join(work, name), text);
  const lab = await createLab('msc');
  const s = lab.serverIp;
  try {
    // (a) AN1389 shape: AES records, no handshake.
    {
      const srv = lab.start(lab.server, node, [join(work, 'aes-server.mjs'), s]);
      await waitReady(srv, 'aes server');
      const stop = await lab.capture(files['aes-stream.pcap'], `tcp port ${PORTS.aes}`);
      lab.exec(lab.client, node, [join(work, 'aes-client.mjs'), s], { timeoutMs: 20_000 });
      await stop();
      srv.kill('SIGTERM');
    }
    // (b) ssh → sshd: banners and key exchange; authentication fails by design.
    {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'host_ed25519')]);
      mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation directory
      writeFileSync(join(work, 'sshd_config'), [
        'Port 22', `ListenAddress ${s}`, `HostKey ${join(work, 'host_ed25519')}`, `PidFile ${join(work, 'sshd.pid')}`,
        'UsePAM no', 'StrictModes no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
        'AuthorizedKeysFile none', 'LogLevel ERROR', '',
      ].join('\n'));
      lab.start(lab.server, '/usr/sbin/sshd', ['-D', '-e', '-f', join(work, 'sshd_config')]);
      await waitListening(lab, 22);
      const stop = await lab.capture(files['ssh.pcap'], 'tcp port 22');
      try {
        lab.exec(lab.client, 'ssh', ['-F', '/dev/null', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
          '-o', 'PubkeyAuthentication=no', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'ConnectTimeout=5',
          `nobody@${s}`, 'true'], { timeoutMs: 15_000 });
      } catch { /* "Permission denied": expected, the exchange up to auth is what we want */ }
      await stop();
    }
    // (c) HTTP with high-entropy paths and Host, two requests on one connection.
    {
      const srv = lab.start(lab.server, node, [join(work, 'http-server.mjs'), s]);
      await waitReady(srv, 'http server');
      const stop = await lab.capture(files['http-entropy.pcap'], `tcp port ${PORTS.http}`);
      lab.exec(lab.client, 'curl', ['-s', '-o', '/dev/null', '-H', `Host: ${HTTP_HOST}`, '-A', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
        ...HTTP_PATHS.map((p) => `http://${s}:${PORTS.http}${p}`)], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
    // (d) DNS over UDP (and TCP after a truncated answer).
    {
      const srv = lab.start(lab.server, node, [join(work, 'dns-server.mjs'), s, lab.serverIp6]);
      await waitReady(srv, 'dns server');
      const stop = await lab.capture(files['dns.pcap'], 'port 53');
      lab.exec(lab.client, node, [join(work, 'dns-client.mjs'), s], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
    // (e) gzip upload over plain TCP.
    {
      const srv = lab.start(lab.server, node, [join(work, 'gzip-server.mjs'), s]);
      await waitReady(srv, 'gzip server');
      const stop = await lab.capture(files['gzip-upload.pcap'], `tcp port ${PORTS.gzip}`);
      lab.exec(lab.client, node, [join(work, 'gzip-client.mjs'), s], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  return { files, clientIp: lab.clientIp, serverIp: lab.serverIp, serverIp6: lab.serverIp6 };
}
