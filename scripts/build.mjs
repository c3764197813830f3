// Build: protobuf static code from proto/ (src/gen, never edited by hand), the CLI bundle
// (dist/ndr-sensor.mjs), the lab's own bundles (dist/ndr-lab.mjs, bench, fuzz, longrun: never part of
// the sensor's), and the eBPF program + loader when the toolchain is present.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

if (existsSync('scripts/gen-proto.mjs')) execFileSync(process.execPath, ['scripts/gen-proto.mjs'], { stdio: 'inherit' });

// The sensor's own entries are split: what one command alone needs (the gRPC feeds, OTLP, the fleet
// store, lmdb...) sits in chunks loaded by dynamic import(), so a replay does not pay for loading
// them at start. Without splitting, esbuild hoists every external package a bundled module imports
// to the top of the one file, and all of them load before the first line runs.
const sensorEntries = { 'ndr-sensor': 'src/main.ts' };
if (existsSync('src/runtime/worker.ts')) sensorEntries['worker'] = 'src/runtime/worker.ts';
if (existsSync('src/capture/pcap-helper.ts')) sensorEntries['pcap-helper'] = 'src/capture/pcap-helper.ts';
const labEntries = { 'ndr-lab': 'lab/cli.ts', bench: 'bench/main.ts', fuzz: 'bench/fuzz.ts', longrun: 'bench/longrun.ts' };
mkdirSync('dist', { recursive: true });
const common = {
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
};
// Chunk names change with their content: the previous build's are removed so dist/ holds one set.
for (const f of readdirSync('dist', { withFileTypes: true })) if (f.isFile() && f.name.startsWith('chunk-')) rmSync(join('dist', f.name));
await esbuild.build({ ...common, entryPoints: sensorEntries, splitting: true, chunkNames: 'chunk-[name]-[hash]' });
await esbuild.build({ ...common, entryPoints: labEntries });

// The subjects and hashes of Node's bundled roots, made by the sensor's own parser once here rather
// than in every process that meets its first certificate chain (src/fingerprint/trust.ts reads
// dist/node-roots.json and checks it was made from the same root set, else parses them itself).
if (existsSync('src/fingerprint/trust.ts')) {
  const tmp = mkdtempSync(join(tmpdir(), 'ndr-build-'));
  try {
    await esbuild.build({ ...common, entryPoints: { trust: 'src/fingerprint/trust.ts' }, outdir: tmp, sourcemap: false });
    const { nodeRootIndex } = await import(pathToFileURL(join(tmp, 'trust.mjs')).href);
    writeFileSync('dist/node-roots.json', JSON.stringify(nodeRootIndex()) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const haveBpf = existsSync('bpf/Makefile') && spawnSync('sh', ['-c', 'command -v clang && command -v bpftool'], { stdio: 'ignore' }).status === 0;
if (haveBpf) {
  const r = spawnSync('make', ['-s', '-C', 'bpf'], { stdio: 'inherit' });
  if (r.status !== 0) console.error('build: the eBPF loader did not build; live capture will fall back to libpcap');
} else if (existsSync('bpf/Makefile')) {
  console.error('build: clang/bpftool missing: eBPF loader not built (live capture falls back to libpcap)');
}
