// Import rules (STYLE.md rule 1), checked over every .ts file of src/, dissectors/, lab/ and bench/,
// and for rule 5 over the tests beside product code and test/helpers/.
//
// 1. Layers only point down. A file may import its own layer or a lower one, never a higher one,
//    `import type` included (a type is a dependency too). Lowest first:
//      util (src/util, generated src/gen) → capture → decode → contract (src/contract, the dissector
//      contract the flow record and the per-flow state name) → flow → dissect
//      (src/dissect, and every protocol folder under dissectors/) → fingerprint → grpc (wire
//      formats, conversions, credentials) → enrich → baseline → analytics → output → runtime →
//      config → cli (src/cli, src/main.ts) → lab, bench (they may use the product and the test
//      helpers under test/helpers/; the product never imports them, nor test/).
// 2. No cycles: neither between files nor between folders (a folder of src/, a protocol folder of
//    dissectors/, lab/, bench/).
// 3. dissectors/<name>/* import only the contract, src/util/*, their own folder, other protocol
//    folders (TLS's hello parser in QUIC and DTLS, X.509 types in TLS), and the npm codec their
//    protocol uses; node:crypto only where a protocol needs a cipher or hash (QUIC's Initial keys).
//    dissectors/index.ts, the registration list, imports the protocol folders.
// 4. src/analytics and src/fingerprint read records only: no capture, decode or reassembly.
// 5. A test may reach anything it checks, with one exception: a *.test.ts beside product code
//    (src/, dissectors/) and a test helper (test/helpers/) never import lab/ or bench/. Fixture
//    factories and harnesses live in test/helpers/ and the lab imports them from there, so the
//    lab can change without a product unit test noticing, and no tie runs lab ↔ helpers.
// Prints each violation as "file: import 'x' — rule" and exits 1 when there are any.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TOPS = ['src', 'dissectors', 'lab', 'bench'];
/** Where rule 5 looks: tests beside product code, and the test helpers. */
const TEST_TOPS = ['src', 'dissectors', 'test/helpers'];
const npmCodecs = { mqtt: ['mqtt-packet'], amqp: ['rhea'] };
const nodeCrypto = new Set(['quic']);

/** Layers, lowest first; a path belongs to the first entry whose prefix it starts with. */
const LAYERS = [
  ['util', ['src/util/', 'src/gen/']],
  ['capture', ['src/capture/']],
  ['decode', ['src/decode/']],
  ['contract', ['src/contract/']],
  ['flow', ['src/flow/']],
  ['dissect', ['src/dissect/', 'dissectors/']],
  ['fingerprint', ['src/fingerprint/']],
  ['grpc', ['src/grpc/']],
  ['enrich', ['src/enrich/']],
  ['baseline', ['src/baseline/']],
  ['analytics', ['src/analytics/']],
  ['output', ['src/output/']],
  ['runtime', ['src/runtime/']],
  ['config', ['src/config/']],
  ['cli', ['src/cli/', 'src/main.ts']],
  ['lab', ['lab/', 'bench/']],
];

export function layerOf(rel) {
  for (let i = 0; i < LAYERS.length; i++) for (const p of LAYERS[i][1]) if (rel === p || rel.startsWith(p)) return i;
  return -1;
}

/** The folder a file counts in for the folder-cycle rule. */
export function unitOf(rel) {
  const parts = rel.split('/');
  if (parts[0] === 'src' || parts[0] === 'dissectors') return parts.length > 2 ? `${parts[0]}/${parts[1]}` : rel;
  return parts[0];
}

/** The .ts files under dir: product and lab code, or (tests) the *.test.ts files and test/helpers/. */
function* files(dir, tests = false) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === 'node_modules' || e === 'fixtures') continue;
    if (statSync(p).isDirectory()) yield* files(p, tests);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts') && (p.endsWith('.test.ts') === tests || (tests && p.includes(`${sep}test${sep}helpers${sep}`)))) yield p;
  }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every relative import of the tree as [from, to] (repository-relative .ts paths), plus npm/node ones. */
function imports() {
  const out = [];
  const sources = [...TOPS.flatMap((t) => [...files(join(root, t))]), ...TEST_TOPS.flatMap((t) => [...files(join(root, t), true)])];
  {
    for (const file of sources) {
      const rel = relative(root, file).split(sep).join('/');
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(importRe)) {
        const spec = m[1] ?? m[2] ?? m[3];
        const target = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts') : null;
        out.push({ rel, spec, target });
      }
    }
  }
  return out;
}

export function checkOne(rel, spec, target) {
  const parts = rel.split('/');
  if (rel.endsWith('.test.ts') || rel.startsWith('test/')) {
    const bound = rel.startsWith('test/helpers/') || parts[0] === 'src' || parts[0] === 'dissectors';
    if (bound && target !== null && /^(lab|bench)\//.test(target)) {
      return rel.startsWith('test/helpers/') ? 'test helpers never import the lab (the lab imports them)' : 'a test beside product code takes its helpers from test/helpers/, not the lab';
    }
    return null;
  }
  if (target === null) {
    if (parts[0] !== 'dissectors' || parts.length < 3) return null;
    const own = parts[1];
    if (spec === 'node:crypto' && nodeCrypto.has(own)) return null;
    if (spec.startsWith('node:')) return 'no Node built-ins (I/O, timers) in dissectors';
    if ((npmCodecs[own] ?? []).some((p) => spec === p || spec.startsWith(p + '/'))) return null;
    return `npm package '${spec}' is not this dissector's codec`;
  }
  const product = parts[0] === 'src' || parts[0] === 'dissectors';
  if (product && /^(lab|bench|test)\//.test(target)) return 'the product never imports lab/, bench/ or test/';
  if (/^test\//.test(target)) return parts[0] !== 'lab' && parts[0] !== 'bench' ? 'only tests import test/' : /^test\/helpers\//.test(target) ? null : 'the lab imports test helpers (test/helpers/), not tests';
  const from = layerOf(rel);
  const to = layerOf(target);
  if (to < 0) return `'${target}' is in no layer (add it to LAYERS in scripts/lint-imports.mjs)`;
  if (to > from) return `layer ${LAYERS[from][0]} imports the higher layer ${LAYERS[to][0]}`;
  if (parts[0] === 'dissectors' && parts.length > 2) {
    const ok = target === 'src/contract/api.ts' || target.startsWith('src/util/') || target.startsWith('dissectors/');
    if (!ok) return 'dissectors import only src/contract/api.ts, src/util/* and protocol folders';
  }
  if (parts[0] === 'src' && (parts[1] === 'analytics' || parts[1] === 'fingerprint')) {
    if (/^src\/(capture|decode)\//.test(target) || target === 'src/flow/tcp-reassembly.ts' || target === 'src/flow/table.ts') {
      return `${parts[1]} reads records only (no capture, decode or reassembly)`;
    }
  }
  return null;
}

/** Strongly connected components with more than one node (Tarjan), each sorted. */
export function cycles(edges) {
  const nodes = new Set();
  for (const [a, b] of edges) { nodes.add(a); nodes.add(b); }
  const adj = new Map([...nodes].map((n) => [n, []]));
  for (const [a, b] of edges) if (a !== b) adj.get(a).push(b);
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const on = new Set();
  const out = [];
  const visit = (v) => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of adj.get(v)) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const comp = [];
      let w;
      do { w = stack.pop(); on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const n of [...nodes].sort()) if (!idx.has(n)) visit(n);
  return out;
}

export function lint() {
  const problems = [];
  const all = imports();
  for (const { rel, spec, target } of all) {
    const why = checkOne(rel, spec, target);
    if (why) problems.push(`${rel}: import '${spec}' — ${why}`);
  }
  // Cycles are a matter of the product and the lab: tests and helpers sit outside the layers.
  const local = all.filter((i) => i.target !== null && layerOf(i.target) >= 0 && layerOf(i.rel) >= 0 && !i.rel.endsWith('.test.ts'));
  for (const c of cycles(local.map((i) => [i.rel, i.target]))) problems.push(`file cycle: ${c.join(' ↔ ')}`);
  for (const c of cycles(local.map((i) => [unitOf(i.rel), unitOf(i.target)]))) {
    const ties = local.filter((i) => c.includes(unitOf(i.rel)) && c.includes(unitOf(i.target)) && unitOf(i.rel) !== unitOf(i.target)).map((i) => `${i.rel} → ${i.target}`);
    problems.push(`folder cycle: ${c.join(' ↔ ')} (${ties.join('; ')})`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const p = lint();
  for (const l of p) console.log(l);
  console.log(p.length === 0 ? 'lint: import rules hold' : `lint: ${p.length} violation(s)`);
  process.exit(p.length === 0 ? 0 : 1);
}
