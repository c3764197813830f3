// The bench's "ECS line per TLS flow" child (`dist/bench.mjs --one ecs FILE`): the replay's TLS
// records written through the JSON-lines sink into a file, lean and full, on the demo capture.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('bench ECS line', () => {
  it('times the sink on the demo capture\'s TLS flows and counts the bytes it wrote', () => {
    const root = process.cwd();
    const bundle = join(root, 'dist', 'bench.mjs');
    if (!existsSync(bundle)) execFileSync('node', [join(root, 'scripts', 'build.mjs')], { stdio: 'ignore' });
    const r = spawnSync(process.execPath, ['--expose-gc', bundle, '--one', 'ecs', join(root, 'pcaps', 'demo', 'demo.pcap')], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, BENCH_ECS_PASSES: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const one = JSON.parse(r.stdout.trim().split('\n').pop() as string) as { flows: number; ecs?: { tlsFlows: number; leanMicros: number; fullMicros: number; leanBytes: number; fullBytes: number } };
    const e = one.ecs;
    expect(e).toBeDefined();
    if (e === undefined) return;
    expect(e.tlsFlows).toBeGreaterThan(0);
    expect(e.tlsFlows).toBeLessThan(one.flows);
    expect(e.leanMicros).toBeGreaterThan(0);
    expect(e.fullMicros).toBeGreaterThan(0);
    // lean carries certificates once, as documents of their own: fewer bytes a flow than full
    expect(e.leanBytes).toBeGreaterThan(300);
    expect(e.fullBytes).toBeGreaterThan(e.leanBytes);
  });
});
