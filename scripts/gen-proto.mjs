#!/usr/bin/env node
// Generates the static protobuf code for proto/ndr/v1/*.proto into src/gen/ (gitignored):
//   src/gen/ndr.js   (pbjs -t static-module -w es6, 64-bit integers as JS numbers)
//   src/gen/ndr.d.ts (pbts)
// Run from the build/setup step: `node scripts/gen-proto.mjs`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'proto');
const outDir = join(root, 'src', 'gen');
const outJs = join(outDir, 'ndr.js');
const outDts = join(outDir, 'ndr.d.ts');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const sources = readdirSync(join(protoDir, 'ndr', 'v1'))
  .filter((f) => f.endsWith('.proto'))
  .sort()
  .map((f) => join(protoDir, 'ndr', 'v1', f));

// Skip when the outputs are newer than every source (keeps repeated builds fast).
const force = process.argv.includes('--force');
if (!force && existsSync(outJs) && existsSync(outDts)) {
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (statSync(outJs).mtimeMs > newest && statSync(outDts).mtimeMs > newest) process.exit(0);
}

mkdirSync(outDir, { recursive: true });
const js = execFileSync(
  bin('pbjs'),
  ['-t', 'static-module', '-w', 'es6', '--force-number', '--no-verify', '--no-delimited', '-p', protoDir, ...sources],
  { encoding: 'utf8', maxBuffer: 64 << 20 },
);
// Node ESM needs the file extension, and protobufjs/minimal is CommonJS: take its default export.
const fixed = js.replace(
  /import \* as \$protobuf from "protobufjs\/minimal";/,
  'import $protobuf from "protobufjs/minimal.js";\n' +
    '// 64-bit fields as JS numbers (epoch ms, counters, sequence numbers stay below 2^53).\n' +
    'if ($protobuf.util.Long) { $protobuf.util.Long = undefined; $protobuf.configure(); }',
);
if (fixed === js) throw new Error('gen-proto: unexpected pbjs import line');
writeFileSync(outJs, '// @ts-nocheck\n' + fixed);

const dts = execFileSync(bin('pbts'), ['--no-comments', outJs], { encoding: 'utf8', maxBuffer: 64 << 20 });
writeFileSync(outDts, dts);
console.log(`gen-proto: ${sources.length} protos -> ${outJs.slice(root.length + 1)}, ${outDts.slice(root.length + 1)}`);
