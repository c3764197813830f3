// Every document the sensor writes must be ECS as @elastic/ecs publishes it (test/helpers/ecs-schema.ts):
// the committed golden files (which test/pcap-golden.test.ts holds equal to the output) and the
// JSON lines of a real `replay` of the demo through the CLI bundle, flows and alerts.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ecsProblems, ecsVersion } from './helpers/ecs-schema.js';

const root = join(dirname(new URL(import.meta.url).pathname), '..');

function* goldenFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) { if (e !== 'bench') yield* goldenFiles(p); }
    else if (e.endsWith('.expected.jsonl')) yield p;
  }
}

function problemsOf(lines: string[], where: string): string[] {
  const out: string[] = [];
  lines.forEach((l, i) => {
    for (const p of ecsProblems(JSON.parse(l) as Record<string, unknown>)) out.push(`${where}:${i + 1}: ${p}`);
  });
  return out;
}

describe('ECS conformance', () => {
  it('the schema checker catches what it should', () => {
    const good = { '@timestamp': '2026-01-01T00:00:00.000Z', ecs: { version: ecsVersion }, event: { id: 'x', kind: 'event', category: ['network'], type: ['connection'] } };
    expect(ecsProblems(good)).toEqual([]);
    const bad = {
      ...good,
      event: { id: 'x', kind: 'bogus', category: ['network'], type: ['indicator'], count: 2 },
      source: { ip: '300.1.1.1', port: 1.5 },
      tls: { server: { x509: { subject: { common_name: 'a' } } }, client: { ja4: 't13d' } },
      ndr: { mqtt: { clientId: 'c' } },
      made: { up: 1 },
    };
    const p = ecsProblems(bad).join('\n');
    for (const want of ['event.kind', 'event.type indicator', 'event.count', 'source.ip', 'source.port', 'common_name', 'clientId', 'made.up']) expect(p).toContain(want);
    expect(p).not.toContain('tls.client.ja4');
  });

  const files = [...goldenFiles(join(root, 'pcaps'))];
  it('has golden files to check', () => expect(files.length).toBeGreaterThan(10));
  for (const f of files) {
    it(relative(root, f), () => {
      const lines = readFileSync(f, 'utf8').split('\n').filter((l) => l.length > 0);
      expect(problemsOf(lines, relative(root, f))).toEqual([]);
    });
  }

  it('a replay of the demo through the CLI writes ECS flows and alerts', () => {
    const bundle = join(root, 'dist', 'ndr-sensor.mjs');
    if (!existsSync(bundle)) execFileSync('node', [join(root, 'scripts', 'build.mjs')], { stdio: 'ignore' });
    const dir = mkdtempSync(join(tmpdir(), 'ndr-ecs-'));
    try {
      const out = join(dir, 'out.jsonl');
      const demo = join(root, 'pcaps', 'demo');
      execFileSync('node', [bundle, 'replay', join(demo, 'demo.pcap'), '--sysmon', join(demo, 'sysmon.jsonl'), '-o', out], { stdio: 'ignore', timeout: 60_000 });
      const lines = readFileSync(out, 'utf8').split('\n').filter((l) => l.length > 0);
      const docs = lines.map((l) => JSON.parse(l) as { event: { kind: string; id: string; dataset?: string; type: string[] }; observer?: { type?: string; name?: string } });
      expect(docs.filter((d) => d.event.kind === 'alert').length).toBeGreaterThan(0);
      expect(new Set(docs.map((d) => d.event.id)).size).toBe(docs.length);
      // every document names its sensor; lean flows leave the sensor's type, vendor and version to
      // the ndr.sensor document written before the first of them
      expect(docs.every((d) => d.observer?.name !== undefined)).toBe(true);
      const sensorDoc = docs.findIndex((d) => d.event.dataset === 'ndr.sensor');
      expect(docs[sensorDoc]?.observer?.type).toBe('sensor');
      expect(docs.findIndex((d) => d.event.type.includes('connection'))).toBeGreaterThan(sensorDoc);
      expect(docs.every((d) => d.observer?.type === 'sensor' || d.event.type.includes('connection'))).toBe(true);
      expect(problemsOf(lines, 'demo replay')).toEqual([]);
      type Alert = { threat: { tactic: { id: string[]; name: string[]; reference: string[] }; technique: { id: string[]; name: string[]; reference: string[]; subtechnique?: { id: string[] } } }; rule: { reference: string; version: string; ruleset: string } };
      const full = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const a of full.filter((d) => (d.event as { kind: string }).kind === 'alert') as unknown as Alert[]) {
        const t = a.threat;
        expect(t.tactic.id.length).toBeGreaterThan(0);
        expect(t.tactic.id.every((id) => /^TA\d{4}$/.test(id))).toBe(true);
        expect(t.tactic.name.length).toBe(t.tactic.id.length);
        expect(t.technique.id.every((id) => /^T\d{4}$/.test(id))).toBe(true);
        expect(t.technique.name.every((n) => !/^T\d/.test(n))).toBe(true);
        expect(t.technique.reference.every((r, i) => r === `https://attack.mitre.org/techniques/${t.technique.id[i]}/`)).toBe(true);
        for (const sub of t.technique.subtechnique?.id ?? []) expect(t.technique.id).toContain(sub.split('.')[0]);
        expect(a.rule.reference).toMatch(/^https:\/\/attack\.mitre\.org\/analytics\/AN\d{4}\/$/);
        expect(a.rule.ruleset).toBe('ndr-sensor');
      }
      for (const d of full) {
        const src = (d.source as { ip?: string } | undefined)?.ip;
        const dst = (d.destination as { ip?: string } | undefined)?.ip;
        const related = (d.related as { ip?: string[] } | undefined)?.ip ?? [];
        if (src !== undefined) expect(related).toContain(src);
        if (dst !== undefined) expect(related).toContain(dst);
        if (src !== undefined && dst !== undefined) expect(['internal', 'outbound', 'inbound', 'external']).toContain((d.network as { direction: string }).direction);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
