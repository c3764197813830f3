/**
 * The CLI's loader (dist/ndr-sensor.cjs; dist/ndr-sensor.mjs imports it): compiles the CLI bundle
 * (dist/ndr-sensor-main.cjs, one CommonJS file) with the V8 code cache the build made for it
 * (dist/ndr-sensor-main.cache, src/util/code-cache.ts) and runs it as Node would run a CommonJS
 * module. Without a usable cache it compiles the bundle from source: the same program, slower to
 * start.
 *
 * NDR_CODE_CACHE_WRITE=1 is the build's warm-up run (scripts/build.mjs): the bundle is compiled
 * without a cache, runs its command, and V8's bytecode of everything that ran is written at exit.
 */
import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { bundleName, decodeCodeCache, encodeCodeCache, setCodeCacheState, type CodeCacheState } from '../util/code-cache.js';

const bundleFile = join(__dirname, 'ndr-sensor-main.cjs');
const cacheFile = join(__dirname, 'ndr-sensor-main.cache');

const writing = process.env.NDR_CODE_CACHE_WRITE === '1';
// Only the warm-up process itself writes: nothing it starts inherits the request.
delete process.env.NDR_CODE_CACHE_WRITE;

let bundle: Buffer;
try {
  bundle = readFileSync(bundleFile);
} catch (e) {
  process.stderr.write(`ndr-sensor: cannot read the CLI bundle ${bundleFile} (${(e as NodeJS.ErrnoException).code ?? String(e)}): run npm run build\n`);
  process.exit(1);
}
const name = bundleName(bundle);
let cached: Buffer | null = null;
let state: CodeCacheState = 'writing';
if (!writing) {
  let file: Buffer | null = null;
  try {
    file = readFileSync(cacheFile);
  } catch {
    state = 'missing';
  }
  if (file !== null) ({ data: cached, state } = decodeCodeCache(name, file));
}

// The wrapper Node's CommonJS loader puts around a module; the bundle is one (its own `require`
// resolves packages from dist/, as it would if Node loaded the file itself).
// The build leaves the bundle in ASCII (scripts/build.mjs), which becomes one-byte text at memory
// speed, where decoding it as UTF-8 takes several times as long.
const source = isAscii(bundle) ? bundle.toString('latin1') : bundle.toString('utf8');
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundleFile,
  ...(cached !== null ? { cachedData: cached } : {}),
});
if (cached !== null && script.cachedDataRejected === true) state = 'rejected';
setCodeCacheState(state);

if (writing && name !== null) {
  // At exit, after the command ran: the cache then holds the bytecode of every function it called,
  // not only the top level. Written aside and renamed, so a reader never sees half a file.
  process.once('exit', () => {
    const tmp = `${cacheFile}.${process.pid}`;
    writeFileSync(tmp, encodeCodeCache(name, script.createCachedData()));
    renameSync(tmp, cacheFile);
  });
}

const mod = { exports: {} };
(script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, createRequire(bundleFile), mod, bundleFile, dirname(bundleFile));
