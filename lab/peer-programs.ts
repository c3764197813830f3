/**
 * The programs the generators run inside their network namespaces are ordinary files in
 * lab/peers/, type-checked and linted with the rest of the tree. A Python or shell peer runs from
 * its own path. A TypeScript peer is bundled by esbuild into one self-contained .mjs in the
 * generator's work directory first: Node 20 cannot run TypeScript itself, and a bundle carries
 * its npm dependencies (rhea, mqtt-packet) so it runs from a temp dir with no node_modules above it.
 */
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

/** lab/peers/ of the checkout, whether this code runs from source (vitest) or from dist/ndr-lab.mjs. */
export function peersDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const cand = join(dir, 'lab', 'peers');
    if (existsSync(join(dir, 'package.json')) && existsSync(cand)) return cand;
    const up = dirname(dir);
    if (up === dir) throw new Error('lab/peers not found: the generators run from a source checkout');
    dir = up;
  }
}

// CommonJS dependencies bundled into an ES module call require() for Node's built-ins; an ES
// module has no require of its own, so the bundle gets one.
const requireShim = "import { createRequire as __ndrCreateRequire } from 'node:module'; const require = __ndrCreateRequire(import.meta.url);";

/**
 * The path to run for peer `file` (a name in lab/peers/, e.g. 'tls-server.ts' or
 * 'tls12-client.py'). TypeScript peers are bundled into `workDir` as `<name>.mjs`.
 */
export function peerProgram(file: string, workDir: string): string {
  const src = join(peersDir(), file);
  if (!existsSync(src)) throw new Error(`no lab peer ${file} in ${peersDir()}`);
  if (extname(file) !== '.ts') return src;
  const out = join(workDir, `${basename(file, '.ts')}.mjs`);
  buildSync({
    entryPoints: [src],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: requireShim },
    logLevel: 'error',
  });
  return out;
}
