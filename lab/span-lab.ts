/**
 * A SPAN-port lab, as an appliance sees one:
 *
 *   ns <id>c (client) ──veth── ns <id>s (server) ──veth (mirror)── ns <id>t (tap, no addresses)
 *
 * `tc` on the server's veth copies both directions (clsact ingress + egress, u32 match-all, mirred
 * mirror) out of a second veth pair whose far end `tapIface` sits in the tap namespace, where the
 * sensor watches (ingress only). Plus a throw-away TLS server/client (Node tls) for real handshakes.
 * Everything is removed by close(); processes are killed by PID.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SpanLab {
  client: string;
  server: string;
  tap: string;
  tapIface: string;
  /** The client ↔ server veth ends. */
  clientIface: string;
  serverIface: string;
  clientIp: string;
  serverIp: string;
  clientIp6: string;
  serverIp6: string;
  /** Directory holding the TLS key/cert (and anything else the test wants to drop there). */
  dir: string;
  /** Prefix that runs a command inside a namespace (for spawnPrefix options). */
  nsPrefix(ns: string): string[];
  start(ns: string, cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv }): ChildProcess;
  exec(ns: string, cmd: string, args: string[], timeoutMs?: number): string;
  /**
   * tcpdump on the tap interface into `file` (`args`: more options and a filter); resolves once it
   * is capturing, with a function that stops it and waits for the file to be complete.
   */
  tapDump(file: string, args?: string[]): Promise<() => Promise<void>>;
  /** Start the TLS echo server in the server namespace (port 4433); resolves when listening. */
  startTlsServer(): Promise<ChildProcess>;
  /** Run `count` TLS connections from the client namespace; returns the client ports used. */
  runTlsClients(o: { host?: string; count: number; concurrency?: number; messages?: number; intervalMs?: number; timeoutMs?: number }): Promise<number[]>;
  close(): Promise<void>;
}

let counter = 0;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

const TLS_SERVER = String.raw`
const tls = require('tls'); const fs = require('fs');
const srv = tls.createServer({ key: fs.readFileSync(process.argv[1] + '/key.pem'), cert: fs.readFileSync(process.argv[1] + '/cert.pem') }, (s) => {
  s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); s.on('error', () => {});
});
srv.listen(4433, '::', () => console.log('listening'));
`;

const TLS_CLIENT = String.raw`
const tls = require('tls');
const [host, count, conc, msgs, gap] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4], +process.argv[5]];
let started = 0, finished = 0; const ports = [];
function one() {
  if (started >= count) return;
  started++;
  const s = tls.connect({ host, port: 4433, rejectUnauthorized: false, servername: 'lab.test' });
  let sent = 0, got = 0;
  const next = () => { if (sent < msgs) { sent++; s.write('ping ' + sent + ' ' + 'x'.repeat(200) + '\n'); } else s.end(); };
  s.on('secureConnect', () => { ports.push(s.localPort); next(); });
  s.on('data', (d) => { got += d.length; setTimeout(next, gap); });
  s.on('error', () => {});
  s.on('close', () => { finished++; if (finished === count) { console.log(JSON.stringify(ports)); process.exit(0); } else one(); });
}
for (let i = 0; i < conc; i++) one();
`;

export async function createSpanLab(tag: string): Promise<SpanLab> {
  const n = 20 + ((process.pid + counter) % 200);
  const id = `${tag}${process.pid % 1000}${counter++}`.slice(0, 10);
  const client = `${id}c`;
  const server = `${id}s`;
  const tap = `${id}t`;
  const vc = `${id}vc`;
  const vs = `${id}vs`;
  const vm = `${id}vm`;
  const tapIface = `${id}vt`;
  const clientIp = `10.${n}.0.1`;
  const serverIp = `10.${n}.0.2`;
  const clientIp6 = `fd00:${n}::1`;
  const serverIp6 = `fd00:${n}::2`;
  for (const ns of [client, server, tap]) {
    try { run('ip', ['netns', 'del', ns]); } catch { /* not there */ }
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  run('ip', ['link', 'add', vc, 'netns', client, 'type', 'veth', 'peer', 'name', vs, 'netns', server]);
  run('ip', ['link', 'add', vm, 'netns', server, 'type', 'veth', 'peer', 'name', tapIface, 'netns', tap]);
  run('ip', ['-n', client, 'addr', 'add', `${clientIp}/24`, 'dev', vc]);
  run('ip', ['-n', server, 'addr', 'add', `${serverIp}/24`, 'dev', vs]);
  run('ip', ['-n', client, 'addr', 'add', `${clientIp6}/64`, 'dev', vc, 'nodad']);
  run('ip', ['-n', server, 'addr', 'add', `${serverIp6}/64`, 'dev', vs, 'nodad']);
  // The mirror pair carries no traffic of its own (no IPv6 router solicitations on the tap).
  run('ip', ['netns', 'exec', server, 'sysctl', '-qw', `net.ipv6.conf.${vm}.disable_ipv6=1`]);
  run('ip', ['netns', 'exec', tap, 'sysctl', '-qw', `net.ipv6.conf.${tapIface}.disable_ipv6=1`]);
  for (const [ns, dev] of [[client, vc], [server, vs], [server, vm], [tap, tapIface]] as const) run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  run('ip', ['netns', 'exec', server, 'tc', 'qdisc', 'add', 'dev', vs, 'clsact']);
  for (const dir of ['ingress', 'egress']) {
    run('ip', ['netns', 'exec', server, 'tc', 'filter', 'add', 'dev', vs, dir, 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'mirror', 'dev', vm]);
  }
  const dir = mkdtempSync(join(tmpdir(), 'ndr-span-'));
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=lab.test',
    '-days', '2', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);

  const children: ChildProcess[] = [];
  const nsPrefix = (ns: string): string[] => ['ip', 'netns', 'exec', ns];
  const lab: SpanLab = {
    client, server, tap, tapIface, clientIface: vc, serverIface: vs, clientIp, serverIp, clientIp6, serverIp6, dir, nsPrefix,
    start(ns, cmd, args, opts = {}) {
      const c = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
    exec(ns, cmd, args, timeoutMs = 60_000) {
      return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }).toString();
    },
    async tapDump(file, args = []) {
      const c = lab.start(tap, 'tcpdump', ['-i', tapIface, '-w', file, '-U', '-n', '--immediate-mode', ...args]);
      let ready = false;
      c.stderr?.on('data', (d: Buffer) => { if (d.toString().includes('listening')) ready = true; });
      for (let t = 0; t < 30_000 && !ready; t += 20) await sleep(20);
      if (!ready) throw new Error('tcpdump did not start capturing on the tap');
      return async () => {
        await sleep(200);
        c.kill('SIGINT');
        await new Promise<void>((res) => { if (c.exitCode !== null || c.signalCode !== null) res(); else c.once('exit', () => res()); });
      };
    },
    async startTlsServer() {
      const c = lab.start(server, process.execPath, ['-e', TLS_SERVER, dir]);
      let ok = false;
      c.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('listening')) ok = true; });
      for (let i = 0; i < 200 && !ok; i++) await sleep(25);
      if (!ok) throw new Error('TLS server did not start');
      return c;
    },
    async runTlsClients(o) {
      const c = lab.start(client, process.execPath, ['-e', TLS_CLIENT, o.host ?? serverIp, String(o.count), String(o.concurrency ?? 1),
        String(o.messages ?? 1), String(o.intervalMs ?? 0)]);
      let out = '';
      c.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      const code = await new Promise<number | null>((res) => {
        const t = setTimeout(() => { c.kill('SIGKILL'); }, o.timeoutMs ?? 60_000);
        c.once('exit', (code) => { clearTimeout(t); res(code); });
      });
      if (code !== 0) throw new Error(`TLS clients failed (exit ${code})`);
      return JSON.parse(out.trim().split('\n').pop() as string) as number[];
    },
    async close() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await sleep(100);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const ns of [client, server, tap]) {
        try {
          const pids = run('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean);
          for (const p of pids) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
        } catch { /* gone */ }
        try { run('ip', ['netns', 'del', ns]); } catch { /* gone */ }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return lab;
}
