/**
 * A two-host lab in network namespaces for generating captures from real clients and servers:
 *
 *   ns <tag>-c (10.<n>.0.1, fd00:<n>::1)  ──veth──  ns <tag>-s (10.<n>.0.2, fd00:<n>::2)
 *
 * Traffic never leaves the namespaces. tcpdump runs in the client namespace on its veth end.
 * Everything made here is removed by `close()` (namespaces, and processes started here by PID).
 * Needs root (CI is root).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Lab {
  readonly client: string; // namespace names
  readonly server: string;
  readonly clientIp: string;
  readonly serverIp: string;
  readonly clientIp6: string;
  readonly serverIp6: string;
  /** The veth ends (inside the client and server namespaces). */
  readonly clientDev: string;
  readonly serverDev: string;
  /** Run a command to completion inside a namespace; returns stdout. */
  exec(ns: string, cmd: string, args: string[], opts?: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): string;
  /** Start a long-running process inside a namespace (killed by close()). */
  start(ns: string, cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): ChildProcess;
  /**
   * Start tcpdump on the client side's veth, writing `file`; resolves when it is capturing, with
   * the function that stops it and tells how many packets the kernel dropped (tcpdump's own count).
   */
  capture(file: string, filter?: string, snaplen?: number): Promise<() => Promise<{ dropped: number }>>;
  close(): Promise<void>;
}

let counter = 0;

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Create the two namespaces and the veth between them. `n` picks the 10.n.0.0/24 subnet. */
export async function createLab(tag: string, n = 50 + ((process.pid + counter++) % 150)): Promise<Lab> {
  const id = `${tag}${process.pid % 10000}${counter}`;
  const client = `${id}c`.slice(0, 15);
  const server = `${id}s`.slice(0, 15);
  const vc = `v${id}c`.slice(0, 15);
  const vs = `v${id}s`.slice(0, 15);
  const clientIp = `10.${n}.0.1`;
  const serverIp = `10.${n}.0.2`;
  const clientIp6 = `fd00:${n}::1`;
  const serverIp6 = `fd00:${n}::2`;
  for (const ns of [client, server]) {
    try { ip(['netns', 'del', ns]); } catch { /* not there */ }
  }
  ip(['netns', 'add', client]);
  ip(['netns', 'add', server]);
  ip(['link', 'add', vc, 'netns', client, 'type', 'veth', 'peer', 'name', vs, 'netns', server]);
  for (const [ns, dev, a4, a6] of [[client, vc, clientIp, clientIp6], [server, vs, serverIp, serverIp6]] as const) {
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', ns, 'addr', 'add', `${a4}/24`, 'dev', dev]);
    ip(['-n', ns, 'addr', 'add', `${a6}/64`, 'dev', dev, 'nodad']);
    ip(['-n', ns, 'link', 'set', dev, 'up']);
    // Keep segments at the veth MTU so captures look like a real link (no 64 KiB GRO frames).
    try { execFileSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'gro', 'off', 'tso', 'off', 'gso', 'off'], { stdio: 'ignore' }); } catch { /* ethtool absent */ }
  }
  const children: ChildProcess[] = [];

  const lab: Lab = {
    client, server, clientIp, serverIp, clientIp6, serverIp6, clientDev: vc, serverDev: vs,
    exec(ns, cmd, args, opts = {}) {
      return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], {
        input: opts.input ?? '',
        timeout: opts.timeoutMs ?? 60_000,
        env: opts.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['pipe', 'pipe', 'pipe'],
      }).toString();
    },
    start(ns, cmd, args, opts = {}) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      children.push(child);
      return child;
    },
    async capture(file, filter = '', snaplen = 0) {
      // A 64 MiB ring (-B, KiB): bulk transfers on a veth outrun tcpdump's default 2 MiB.
      const args = ['-i', vc, '-w', file, '-U', '-n', '-s', String(snaplen || 262144), '-B', '65536', '--immediate-mode'];
      if (filter) args.push(filter);
      const child = lab.start(client, 'tcpdump', args);
      let err = '';
      child.stderr?.on('data', (d: Buffer) => { if (err.length < 65536) err += d.toString(); });
      // Traffic must not start before tcpdump listens (a busy machine can take seconds to get there).
      for (let i = 0; i < 600 && !err.includes('listening on') && child.exitCode === null; i++) await sleep(50);
      if (!err.includes('listening on')) throw new Error(`tcpdump did not start capturing: ${err.trim().slice(-300)}`);
      return async () => {
        await sleep(300);
        if (child.exitCode === null) {
          child.kill('SIGINT');
          await new Promise<void>((res) => { child.once('exit', () => res()); setTimeout(res, 5000); });
        }
        for (let i = 0; i < 50 && !existsSync(file); i++) await sleep(20);
        return { dropped: Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? 0) };
      };
    },
    async close() {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      }
      await sleep(100);
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
      for (const ns of [client, server]) {
        // Kill anything still running inside the namespace that we started (by PID, via ip netns pids).
        try {
          const pids = execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean);
          for (const p of pids) { try { process.kill(Number(p), 'SIGKILL'); } catch { /* gone */ } }
        } catch { /* ns gone */ }
        try { ip(['netns', 'del', ns]); } catch { /* already gone */ }
      }
    },
  };
  return lab;
}
