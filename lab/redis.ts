// Real Redis servers for the fleet tests and bench: Debian's redis-server on loopback ports of their own,
// data in temp dirs, stopped by PID. A cluster is three masters and three replicas joined with
// redis-cli --cluster create (redis-tools).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RedisNode {
  readonly port: number;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Start it again on the same port and data dir (after stop/kill). */
  restart(): Promise<RedisNode>;
}

/** Can this loopback port be bound now? */
function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/**
 * A base port with base..base+12 free, and base+10000..base+10005 (the cluster bus ports) free.
 * Bases lie in 12000-21980, so the bus ports stay below Linux's ephemeral range (32768 up), where
 * any outgoing connection of the machine may hold them. The first base tried is spread by the
 * process id and `offset`, so test files running at once start apart.
 */
export async function portBase(offset: number): Promise<number> {
  const start = (process.pid * 37 + offset * 101) % 500;
  for (let k = 0; k < 500; k++) {
    const base = 12_000 + ((start + k) % 500) * 20;
    const ports = [...Array.from({ length: 13 }, (_, i) => base + i), ...Array.from({ length: 6 }, (_, i) => base + 10_000 + i)];
    let free = true;
    for (const p of ports) if (!(await portFree(p))) { free = false; break; }
    if (free) return base;
  }
  throw new Error('no free loopback port range for redis-server');
}

function ping(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
    s.setTimeout(500);
    s.on('data', (d) => { s.destroy(); res(d.toString().startsWith('+PONG')); });
    s.on('error', () => res(false));
    s.on('timeout', () => { s.destroy(); res(false); });
  });
}

export async function startRedis(port: number, dir: string, cluster = false): Promise<RedisNode> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--protected-mode', 'no', '--logfile', join(dir, `redis-${port}.log`)];
  if (cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '1000', '--cluster-replica-validity-factor', '0');
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not start (exit ${proc.exitCode})`);
    }
    await sleep(50);
  }
  const node: RedisNode = { port, proc, pid: proc.pid!, restart: () => startRedis(port, dir, cluster) };
  return node;
}

export async function stopRedis(n: RedisNode): Promise<void> {
  if (n.proc.exitCode !== null || n.proc.signalCode !== null) return;
  const gone = new Promise((res) => n.proc.once('exit', res));
  process.kill(n.pid, 'SIGCONT'); // a stopped process would not act on SIGTERM
  process.kill(n.pid, 'SIGTERM');
  await Promise.race([gone, sleep(5000)]);
}

export interface Single {
  node: RedisNode;
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startSingle(port: number): Promise<Single> {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-redis-'));
  let node: RedisNode;
  try {
    node = await startRedis(port, dir);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const s: Single = {
    node,
    dir,
    url: `redis://127.0.0.1:${port}`,
    stop: async () => { await stopRedis(s.node); rmSync(dir, { recursive: true, force: true }); },
  };
  return s;
}

export interface Cluster {
  nodes: RedisNode[];
  seeds: string[];
  dir: string;
  /** Role of each node now (from its INFO replication). */
  masters(): number[];
  stop(): Promise<void>;
}

function cli(port: number, ...args: string[]): string {
  return execFileSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10_000 });
}

export async function waitClusterOk(ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = true;
    for (const p of ports) {
      try {
        if (!cli(p, 'cluster', 'info').includes('cluster_state:ok')) ok = false;
      } catch { ok = false; }
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error('redis cluster did not reach cluster_state:ok');
    await sleep(200);
  }
}

export async function startCluster(base: number): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-rcluster-'));
  const ports = [0, 1, 2, 3, 4, 5].map((i) => base + i);
  // A node that fails to start (or a cluster that does not form) must not leave the others running.
  const started = await Promise.allSettled(ports.map((p) => startRedis(p, dir, true)));
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const abandon = async (e: unknown): Promise<never> => {
    await Promise.all(nodes.map((n) => stopRedis(n)));
    rmSync(dir, { recursive: true, force: true });
    throw e;
  };
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) return abandon(failed.reason);
  try {
    execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
    await waitClusterOk(ports);
    // Every replica must have finished its first sync, or a failover could promote an empty one.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const linked = ports.every((p) => { const i = cli(p, 'info', 'replication'); return i.includes('role:master') || i.includes('master_link_status:up'); });
      if (linked) break;
      if (Date.now() > deadline) throw new Error('redis cluster replicas did not sync');
      await sleep(200);
    }
  } catch (e) {
    return abandon(e);
  }
  const c: Cluster = {
    nodes,
    seeds: ports.map((p) => `127.0.0.1:${p}`),
    dir,
    masters: () => c.nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null).filter((n) => { try { return cli(n.port, 'info', 'replication').includes('role:master'); } catch { return false; } }).map((n) => n.port),
    stop: async () => {
      await Promise.all(c.nodes.map((n) => stopRedis(n)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return c;
}

export function redisCli(port: number, ...args: string[]): string {
  return cli(port, ...args).trim();
}
