/** Helpers for the gRPC end-to-end tests: bundle the child entry once, spawn, wait for ready. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const datasets = resolve(repoRoot, '../shared/datasets');

let bundled: Promise<string> | null = null;

/** Bundles test/e2e/fixtures/child.ts into <repo>/tmp/e2e (gitignored) so plain node can run it. */
export function childScript(): Promise<string> {
  if (!bundled) {
    const base = join(repoRoot, 'tmp', 'e2e');
    // Remove bundles left by earlier test processes that are gone.
    for (const d of existsSync(base) ? readdirSync(base) : []) {
      const pid = Number(d);
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (!alive) rmSync(join(base, d), { recursive: true, force: true });
    }
    const outdir = join(base, String(process.pid));
    mkdirSync(outdir, { recursive: true });
    const outfile = join(outdir, 'child.mjs');
    process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
    bundled = build({
      entryPoints: [join(repoRoot, 'test/e2e/fixtures/child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      packages: 'external',
      logLevel: 'error',
    }).then(() => outfile);
  }
  return bundled;
}

export interface Child {
  proc: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string[];
  waitFor(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnChild(args: string[]): Promise<Child> {
  const script = await childScript();
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  const lines: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not ours */
      }
      for (const l of listeners) l();
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    lines,
    stderr,
    waitFor(pred, timeoutMs = 20_000) {
      return new Promise((res, rej) => {
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            listeners.delete(check);
            clearTimeout(t);
            res(hit);
          }
        };
        const t = setTimeout(() => {
          listeners.delete(check);
          rej(new Error(`child ${args[0]}: timed out; stderr: ${stderr.join('').slice(-2000)}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** SYN tuples of a capture via tshark: [epoch ms, src ip, src port, dst ip, dst port]. */
export async function synTuples(cap: string): Promise<[number, string, number, string, number][]> {
  const out = await new Promise<string>((res, rej) => {
    const p = spawn('tshark', ['-r', cap, '-Y', 'tcp.flags.syn==1 && tcp.flags.ack==0', '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let s = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (s += d));
    p.on('error', rej);
    p.on('close', () => res(s));
  });
  return out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [t, a, ap, b, bp] = l.split('\t');
      return [Math.round(Number(t) * 1000), a!, Number(ap), b!, Number(bp)];
    });
}
