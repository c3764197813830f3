/**
 * The CLI bundle the appliance runs carries the product only: bundling src/main.ts and the
 * worker the way scripts/build.mjs does pulls in no file of the lab, the benches or the tests, and
 * the CLI offers no generator command (those belong to bin/ndr-lab).
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { commands } from '../src/cli/commands.js';
import { labCommands } from '../lab/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('the product bundle', () => {
  it('holds no lab, bench or test source', async () => {
    const r = await build({
      absWorkingDir: root,
      entryPoints: ['src/main.ts', 'src/runtime/worker.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outdir: 'dist-check',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.some((p) => p.startsWith('src/analytics/'))).toBe(true);
    expect(inputs.some((p) => p.startsWith('dissectors/tls/'))).toBe(true);
    expect(inputs.filter((p) => /^(lab|bench|test)\//.test(p))).toEqual([]);
    expect(inputs.filter((p) => !/^(src|dissectors)\//.test(p))).toEqual([]);
  });

  it('the sensor CLI has no generator; the lab entry point has them all', () => {
    expect(commands.filter((c) => c.name.startsWith('gen'))).toEqual([]);
    const lab = labCommands.map((c) => c.name);
    expect(lab).toEqual(expect.arrayContaining(['gen bench', 'gen demo', 'gen handshakes', 'gen misc', 'gen pubsub', 'gen tls']));
    expect(lab.filter((n) => !n.startsWith('gen '))).toEqual([]);
  });
});
