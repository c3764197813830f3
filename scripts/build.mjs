// Build: protobuf static code from proto/ (src/gen, never edited by hand), the CLI (its loader
// dist/ndr-sensor.cjs, dist/ndr-sensor.mjs, the bundle dist/ndr-sensor-main.cjs and its V8 code
// cache), the worker and capture helper entries, the lab's own bundles (dist/ndr-lab.mjs, bench,
// fuzz, longrun: never part of the sensor's), and the eBPF program + loader when the toolchain is
// present.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

if (existsSync('scripts/gen-proto.mjs')) execFileSync(process.execPath, ['scripts/gen-proto.mjs'], { stdio: 'inherit' });

// The worker and capture helper entries are split ES modules: what one of them alone needs sits in
// chunks of its own, and without splitting esbuild hoists every external package a bundled module
// imports to the top of the one file, where all of them load before the first line runs.
const sensorEntries = {};
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

// The CLI is one CommonJS file, because Node 20 can start CommonJS from a V8 code cache and not an
// ES module (src/cli/boot.ts compiles it with the cache, src/util/code-cache.ts). A module another
// one imports dynamically stays behind an initialiser there: its packages (gRPC, OpenTelemetry, the
// fleet store, lmdb) are still required only when a command uses it, and with no import() left in
// the file (dynamic imports become require()) the script needs no ES module loader.
// import.meta.url is the bundle's own file URL, as it was for the ES module entry, so the files
// found beside it (worker.mjs, pcap-helper.mjs, node-roots.json) are the same.
rmSync('dist/ndr-sensor-main.cache', { force: true });
await esbuild.build({
  ...common,
  entryPoints: { 'ndr-sensor-main': 'src/main.ts' },
  format: 'cjs',
  outExtension: { '.js': '.cjs' },
  supported: { 'dynamic-import': false },
  define: { 'import.meta.url': '__ndrBundleUrl' },
  // The directive first: the banner comes before esbuild's own "use strict", which would then no
  // longer make the file strict (the ES modules it is built from are).
  banner: { js: '"use strict";\nvar __ndrBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
await esbuild.build({ ...common, entryPoints: { 'ndr-sensor': 'src/cli/boot.ts' }, format: 'cjs', outExtension: { '.js': '.cjs' }, sourcemap: false });
// The sensor's files in ASCII: Node decodes a source file as UTF-8, several times slower than
// one-byte text once a single other character is in it. esbuild writes strings, regular
// expressions and names in ASCII (escapes), so what is left is in comments: each UTF-16 unit
// becomes one '?' there, which keeps the source maps' columns.
for (const f of readdirSync('dist')) {
  if (!/^(ndr-sensor-main\.cjs|worker\.mjs|pcap-helper\.mjs|chunk-.*\.mjs)$/.test(f)) continue;
  const text = readFileSync(join('dist', f), 'utf8');
  if (/[^\x00-\x7f]/.test(text)) writeFileSync(join('dist', f), text.replace(/[^\x00-\x7f]/g, '?'));
}
// The bundle's name for its code cache: the digest of its text, as its last line (src/util/code-cache.ts).
{
  const text = readFileSync('dist/ndr-sensor-main.cjs');
  writeFileSync('dist/ndr-sensor-main.cjs', Buffer.concat([text, Buffer.from(`//# ndr-bundle ${createHash('sha256').update(text).digest('hex')}\n`)]));
}
// Left by builds before the CLI was one CommonJS file.
rmSync('dist/ndr-sensor.mjs.map', { force: true });
// The name users, tests and the docs know: the same loader, from an ES module.
writeFileSync('dist/ndr-sensor.mjs', "// The CLI: its loader is the CommonJS file beside this one (src/cli/boot.ts).\nimport './ndr-sensor.cjs';\n");
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

// The CLI's code cache: a warm-up run replays the demo capture and writes V8's bytecode of what it
// ran (src/cli/boot.ts); a second run must then start from it, else the file goes (it would only be
// read and refused on every start). One thread (-w 1): the cache is the main thread's code. No
// memcap: were it to engage, it would change V8's flags, under which V8 refuses the cache.
if (existsSync('pcaps/demo/demo.pcap')) {
  const tmp = mkdtempSync(join(tmpdir(), 'ndr-build-'));
  try {
    const args = ['dist/ndr-sensor.cjs', 'replay', 'pcaps/demo/demo.pcap', '-o', join(tmp, 'out.jsonl'), '-w', '1', '--memcap-mib', '0', '-q', '--no-summary'];
    const warm = spawnSync(process.execPath, args, { env: { ...process.env, NDR_CODE_CACHE_WRITE: '1' }, encoding: 'utf8' });
    const check = spawnSync(process.execPath, args, { env: { ...process.env, NDR_BENCH_MARK: '1' }, encoding: 'utf8' });
    const state = /code-cache (\S+)/.exec(check.stderr ?? '')?.[1];
    if (warm.status !== 0 || check.status !== 0 || state !== 'used') {
      rmSync('dist/ndr-sensor-main.cache', { force: true });
      console.error(`build: no code cache for the CLI (warm-up exit ${warm.status}, check exit ${check.status}, cache ${state ?? '?'}): it starts from source, slower\n${warm.stderr ?? ''}${check.stderr ?? ''}`);
    }
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
