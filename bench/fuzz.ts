/**
 * `npm run fuzz [-- CASES [SEED] [NAMES...] [--captures DIR]...]`: mutation fuzzing with real
 * inputs, one million cases per target by default. Targets: the whole engine (decoder + every
 * dissector, mutated packets of the shared and project captures), and each dissector alone
 * (mutated conversations taken from the captures whose streams its probe accepts; `--captures`
 * takes them from the named folders only). A target passes with no throw, no split/unsplit
 * difference, no case slower than 2 s and bounded heap growth. Prints one line per target.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dissectorSpecs } from '../dissectors/index.js';
import type { AnyDissectorSpec, Dir } from '../src/contract/api.js';
import { fuzzEngine, loadSeeds } from './fuzz-engine.js';
import { fuzzDissector, type Conversation, type FuzzResult } from '../test/helpers/fuzz-dissector.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const repo = existsSync(join(root, 'package.json')) ? root : join(root, '..');
const shared = join(repo, '..', 'shared');

function captures(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) { if (e !== 'bench') walk(p); } else if (/\.(pcap|pcapng|cap)$/.test(e) && !e.includes('notest')) out.push(p);
    }
  };
  walk(join(repo, 'pcaps'));
  walk(join(shared, 'conformance', 'ja4', 'pcaps'));
  walk(join(shared, 'datasets'));
  return out;
}

/** Conversations (payloads in capture order per TCP or UDP stream) via tshark. */
function conversations(files: string[], transport: 'tcp' | 'udp'): Conversation[] {
  const convs: Conversation[] = [];
  for (const f of files) {
    let out: string;
    try {
      // TCP: the SYN (without ACK) names the client, so server-first protocols (SMTP's greeting,
      // MySQL's handshake) get their directions right; without one the first sender is the client.
      out = execFileSync('tshark', ['-r', f, '-Y', transport === 'tcp' ? 'tcp.len > 0 || (tcp.flags.syn == 1 && tcp.flags.ack == 0)' : 'udp.length > 8', '-T', 'fields', '-E', 'separator=|', '-e', `${transport}.stream`, '-e', `${transport}.srcport`, '-e', `${transport}.dstport`, '-e', transport === 'tcp' ? 'tcp.payload' : 'udp.payload'], { maxBuffer: 512 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    } catch {
      continue;
    }
    const byStream = new Map<string, { first: string; msgs: Conversation }>();
    for (const line of out.split('\n')) {
      const [stream, sp, dp, hex] = line.split('|');
      if (stream && !hex && !byStream.has(stream)) { byStream.set(stream, { first: `${sp}>${dp}`, msgs: [] }); continue; }
      if (!stream || !hex) continue;
      let s = byStream.get(stream);
      if (!s) { s = { first: `${sp}>${dp}`, msgs: [] }; byStream.set(stream, s); }
      const dir: Dir = `${sp}>${dp}` === s.first ? 0 : 1;
      const h = hex.split(',').pop() as string;
      s.msgs.push({ dir, bytes: Buffer.from(h, 'hex') });
    }
    for (const s of byStream.values()) if (s.msgs.length > 0) convs.push(s.msgs.slice(0, 64));
  }
  return convs;
}

function seedsFor(spec: AnyDissectorSpec, convs: Conversation[]): Conversation[] {
  const out: Conversation[] = [];
  for (const c of convs) {
    const first = c[0];
    if (!first) continue;
    let r: string;
    try { r = spec.probe.probe(first.bytes, first.dir); } catch { r = 'no'; }
    if (r === 'yes') out.push(c);
    if (out.length >= 400) break;
  }
  return out;
}

const CHUNK = 50_000;

/**
 * A dissector target in chunks of 50,000 cases with a progress line each, so a long run on a busy
 * machine shows where it is. Chunk k is seeded from (seed, k): a run is reproducible from its seed
 * and a failing case is found again by its chunk.
 */
function chunked(name: string, spec: AnyDissectorSpec, seeds: readonly Conversation[], cases: number, seed: number, midstream: boolean): FuzzResult {
  const r: FuzzResult = { cases: 0, throws: [], splitMismatches: [], slow: [], maxCaseMs: 0, records: 0, events: 0, heapGrowthBytes: 0, elapsedMs: 0 };
  for (let done = 0, k = 0; done < cases; done += CHUNK, k++) {
    const c = fuzzDissector(spec, seeds, Math.min(CHUNK, cases - done), (seed * 7919 + k) >>> 0, { midstream });
    r.cases += c.cases;
    r.throws.push(...c.throws.map((t) => ({ ...t, case: t.case + done })));
    r.splitMismatches.push(...c.splitMismatches.map((i) => i + done));
    r.slow.push(...c.slow.map((i) => i + done));
    r.maxCaseMs = Math.max(r.maxCaseMs, c.maxCaseMs);
    r.heapGrowthBytes = Math.max(r.heapGrowthBytes, c.heapGrowthBytes);
    r.elapsedMs += c.elapsedMs;
    if (cases > CHUNK) console.log(`  ${name}: ${r.cases} cases, ${r.throws.length} throws, ${r.splitMismatches.length} split mismatches, ${(r.elapsedMs / 1000).toFixed(0)} s`);
  }
  return r;
}

async function main(): Promise<void> {
  // `--captures DIR` (repeatable) seeds from those folders only: reading every capture with tshark
  // takes minutes on a busy machine, and a protocol's own captures are its best seeds.
  const argv = process.argv.slice(2);
  const dirs: string[] = [];
  const args = argv.filter((a, i) => {
    if (a === '--captures') return false;
    if (argv[i - 1] === '--captures') { dirs.push(a); return false; }
    return true;
  });
  const cases = Number(args[0] ?? 1_000_000);
  const seed = Number(args[1] ?? 1);
  const only = new Set(args.slice(2));
  const files = dirs.length > 0 ? dirs.flatMap((d) => readdirSync(d).filter((e) => /\.(pcap|pcapng|cap)$/.test(e)).map((e) => join(d, e))) : captures();
  let failed = 0;
  const want = (n: string) => only.size === 0 || only.has(n);
  if (want('engine')) {
    const seeds = await loadSeeds(files, 3000);
    const r = fuzzEngine(seeds, cases, seed);
    const ok = r.thrown === 0 && r.faults === 0;
    if (!ok) failed++;
    console.log(`engine (decoder + all dissectors): ${r.cases} cases from ${seeds.length} real packets, ${r.thrown} throws, ${r.faults} dissector faults, ${r.seconds.toFixed(1)} s, heap +${r.heapGrowthMiB.toFixed(1)} MiB ${ok ? 'OK' : `FAIL ${r.firstError ?? ''}`}`);
  }
  const wanted = dissectorSpecs.filter((s) => want(s.name) || (s.probe.midstream !== undefined && want(`${s.name}-midstream`)));
  const tcp = wanted.some((s) => s.transport === 'tcp') ? conversations(files, 'tcp') : [];
  const udp = wanted.some((s) => s.transport === 'udp') ? conversations(files, 'udp') : [];
  for (const spec of dissectorSpecs) {
    if (!want(spec.name)) continue;
    const seeds = seedsFor(spec, spec.transport === 'tcp' ? tcp : udp);
    if (seeds.length === 0) {
      console.log(`${spec.name}: no seed conversation in the captures`);
      continue;
    }
    const r = chunked(spec.name, spec, seeds, cases, seed, false);
    const ok = r.throws.length === 0 && r.splitMismatches.length === 0 && r.slow.length === 0;
    if (!ok) failed++;
    console.log(`${spec.name}: ${r.cases} cases from ${seeds.length} real conversations, ${r.throws.length} throws, ${r.splitMismatches.length} split mismatches, slowest ${r.maxCaseMs.toFixed(1)} ms, heap +${(r.heapGrowthBytes / 1048576).toFixed(1)} MiB, ${(r.elapsedMs / 1000).toFixed(1)} s ${ok ? 'OK' : `FAIL ${r.throws[0]?.error ?? ''}`}`);
  }
  // Mid-stream pick-up: the same conversations with their opening messages dropped (as a sensor
  // started while they ran), fed to dissectors told to resync.
  for (const spec of dissectorSpecs) {
    const name = `${spec.name}-midstream`;
    if (spec.probe.midstream === undefined || !want(name)) continue;
    const seeds = seedsFor(spec, tcp).filter((c) => c.length > 3).map((c) => c.slice(2 + (c.length % 3)));
    if (seeds.length === 0) continue;
    const r = chunked(name, spec, seeds, cases, seed, true);
    const ok = r.throws.length === 0 && r.splitMismatches.length === 0 && r.slow.length === 0;
    if (!ok) failed++;
    console.log(`${name}: ${r.cases} cases from ${seeds.length} real conversations cut mid-stream, ${r.throws.length} throws, ${r.splitMismatches.length} split mismatches, slowest ${r.maxCaseMs.toFixed(1)} ms, heap +${(r.heapGrowthBytes / 1048576).toFixed(1)} MiB, ${(r.elapsedMs / 1000).toFixed(1)} s ${ok ? 'OK' : `FAIL ${r.throws[0]?.error ?? ''}`}`);
  }
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
