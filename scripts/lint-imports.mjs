// Import rules (STYLE.md rule 1), checked over every .ts file:
//  - dissectors/<name>/* import only src/dissect/api.ts, src/util/*, their own folder, and the
//    npm codec their protocol uses; dissectors/quic and dissectors/dtls may also use the pure
//    ClientHello parser in dissectors/tls/ (shared handshake code, like Arkime's named functions),
//    and dissectors/quic may use node:crypto (AES/HKDF for RFC 9001 Initial keys). No other node:*.
//    They may name the record contract (src/flow/record.ts) in `import type`.
//  - src/analytics and src/fingerprint read records only: no capture, decode or reassembly;
//    analytics names dissector types only.
// Prints each violation as "file: import 'x' — rule" and exits 1 when there are any.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npmCodecs = { mqtt: ['mqtt-packet'], amqp: ['rhea'] };

function* files(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (e === 'node_modules' || e === 'gen' || e === 'fixtures') continue;
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts') && !p.endsWith('.d.ts')) yield p;
  }
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function lint() {
  const problems = [];
  for (const top of ['dissectors', 'src']) {
    for (const file of files(join(root, top))) {
      const rel = relative(root, file).split(sep).join('/');
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(importRe)) {
        const spec = m[1] ?? m[2] ?? m[3];
        const target = spec.startsWith('.') ? relative(root, resolve(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts') : spec;
        const typeOnly = /^\s*(import|export)\s+type\s/.test(m[0]);
        const why = check(rel, spec, target, typeOnly);
        if (why) problems.push(`${rel}: import '${spec}' — ${why}`);
      }
    }
  }
  return problems;
}

function check(rel, spec, target, typeOnly) {
  const parts = rel.split('/');
  if (parts[0] === 'dissectors' && parts.length > 2) {
    const own = parts[1];
    if (spec.startsWith('.')) {
      if (target === 'src/dissect/api.ts' || target.startsWith('src/util/')) return null;
      if (target.startsWith(`dissectors/${own}/`)) return null;
      if ((own === 'quic' || own === 'dtls') && target.startsWith('dissectors/tls/')) return null;
      if (own === 'tls' && typeOnly && target.startsWith('dissectors/x509/')) return null;
      // The record contract (summary shapes) may be named in types; it is erased at build time.
      if (typeOnly && target === 'src/flow/record.ts') return null;
      return 'dissectors import only src/dissect/api.ts, src/util/* and their own files';
    }
    if (spec === 'node:crypto' && own === 'quic') return null;
    if (spec.startsWith('node:')) return 'no Node built-ins (I/O, timers) in dissectors';
    if ((npmCodecs[own] ?? []).some((p) => spec === p || spec.startsWith(p + '/'))) return null;
    return `npm package '${spec}' is not this dissector's codec`;
  }
  if (parts[0] === 'src' && (parts[1] === 'analytics' || parts[1] === 'fingerprint')) {
    if (!spec.startsWith('.')) return null;
    if (/^src\/(capture|decode)\//.test(target) || target === 'src/flow/tcp-reassembly.ts' || target === 'src/flow/table.ts') {
      return `${parts[1]} reads records only (no capture, decode or reassembly)`;
    }
    if (parts[1] === 'analytics' && target.startsWith('dissectors/') && !typeOnly && !/^dissectors\/[^/]+\/record\.ts$/.test(target)) {
      return 'analytics may import dissector record types only';
    }
  }
  return null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const p = lint();
  for (const l of p) console.log(l);
  console.log(p.length === 0 ? 'lint: import rules hold' : `lint: ${p.length} violation(s)`);
  process.exit(p.length === 0 ? 0 : 1);
}
