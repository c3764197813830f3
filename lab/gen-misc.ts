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
import { peerProgram } from './peer-programs.js';
import { HTTP_HOST, HTTP_PATHS, PORTS } from './peers/misc-names.js';

export const MISC_CAPTURES = ['aes-stream.pcap', 'ssh.pcap', 'http-entropy.pcap', 'dns.pcap', 'gzip-upload.pcap'] as const;
export type MiscCapture = (typeof MISC_CAPTURES)[number];

export { DNS_NAMES, HTTP_HOST, HTTP_PATHS, PORTS } from './peers/misc-names.js';

export interface MiscResult {
  files: Record<MiscCapture, string>;
  clientIp: string;
  serverIp: string;
  serverIp6: string;
}

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
  const peer = (name: string): string => peerProgram(name, work);
  const lab = await createLab('msc');
  const s = lab.serverIp;
  try {
    // (a) AN1389 shape: AES records, no handshake.
    {
      const srv = lab.start(lab.server, node, [peer('aes-server.ts'), s]);
      await waitReady(srv, 'aes server');
      const stop = await lab.capture(files['aes-stream.pcap'], `tcp port ${PORTS.aes}`);
      lab.exec(lab.client, node, [peer('aes-client.ts'), s], { timeoutMs: 20_000 });
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
      const srv = lab.start(lab.server, node, [peer('http-server.ts'), s]);
      await waitReady(srv, 'http server');
      const stop = await lab.capture(files['http-entropy.pcap'], `tcp port ${PORTS.http}`);
      lab.exec(lab.client, 'curl', ['-s', '-o', '/dev/null', '-H', `Host: ${HTTP_HOST}`, '-A', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)',
        ...HTTP_PATHS.map((p) => `http://${s}:${PORTS.http}${p}`)], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
    // (d) DNS over UDP (and TCP after a truncated answer).
    {
      const srv = lab.start(lab.server, node, [peer('dns-server.ts'), s, lab.serverIp6]);
      await waitReady(srv, 'dns server');
      const stop = await lab.capture(files['dns.pcap'], 'port 53');
      lab.exec(lab.client, node, [peer('dns-client.ts'), s], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
    // (e) gzip upload over plain TCP.
    {
      const srv = lab.start(lab.server, node, [peer('gzip-server.ts'), s]);
      await waitReady(srv, 'gzip server');
      const stop = await lab.capture(files['gzip-upload.pcap'], `tcp port ${PORTS.gzip}`);
      lab.exec(lab.client, node, [peer('gzip-client.ts'), s], { timeoutMs: 15_000 });
      await stop();
      srv.kill('SIGTERM');
    }
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  return { files, clientIp: lab.clientIp, serverIp: lab.serverIp, serverIp6: lab.serverIp6 };
}
