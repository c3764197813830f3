// The import rules of scripts/lint-imports.mjs hold on the whole tree (CI runs the suite, not the
// lint script), and the rule machinery itself catches what it is meant to.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { checkOne, cycles, layerOf, lint, unitOf } from '../scripts/lint-imports.mjs';

const layer = layerOf as (rel: string) => number;
const unit = unitOf as (rel: string) => string;
const sccs = cycles as (edges: [string, string][]) => string[][];
const check = checkOne as (rel: string, spec: string, target: string | null) => string | null;

describe('import layers', () => {
  it('the tree has no violation', () => {
    expect((lint as () => string[])()).toEqual([]);
  });

  it('places the layers in the documented order', () => {
    const order = ['src/util/bytes.ts', 'src/capture/source.ts', 'src/decode/decode.ts', 'src/contract/api.ts', 'src/flow/record.ts', 'dissectors/tls/index.ts', 'src/fingerprint/ja4.ts', 'src/grpc/convert.ts', 'src/enrich/edr-store.ts', 'src/baseline/store.ts', 'src/analytics/engine.ts', 'src/output/ecs.ts', 'src/runtime/pipeline.ts', 'src/config/config.ts', 'src/cli/commands.ts', 'lab/cli.ts'];
    const ranks = order.map(layer);
    expect(ranks.every((r) => r >= 0)).toBe(true);
    expect([...ranks].sort((a, b) => a - b)).toEqual(ranks);
    expect(layer('src/dissect/driver.ts')).toBe(layer('dissectors/http/state.ts'));
    expect(layer('src/nowhere/x.ts')).toBe(-1);
  });

  it('counts folders of src/ and protocol folders apart', () => {
    expect(unit('src/contract/api.ts')).toBe('src/contract');
    expect(unit('src/dissect/driver.ts')).toBe('src/dissect');
    expect(unit('dissectors/tls/state.ts')).toBe('dissectors/tls');
    expect(unit('dissectors/index.ts')).toBe('dissectors/index.ts');
    expect(unit('lab/peers/x.ts')).toBe('lab');
  });

  it('finds every cycle, and only cycles', () => {
    expect(sccs([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['d', 'e'], ['e', 'd'], ['f', 'f']]).sort((x, y) => x.length - y.length).reverse()).toEqual([['a', 'b', 'c'], ['d', 'e']]);
    expect(sccs([['a', 'b'], ['b', 'c'], ['a', 'c']])).toEqual([]);
  });

  it('keeps the lab out of product tests and test helpers, and test files out of the lab', () => {
    // A unit test beside product code takes its factories and harnesses from test/helpers/.
    expect(check('src/analytics/an0002.test.ts', '../../test/helpers/flows.js', 'test/helpers/flows.ts')).toBeNull();
    expect(check('src/analytics/an0002.test.ts', '../../lab/gen-demo.js', 'lab/gen-demo.ts')).toMatch(/not the lab/);
    expect(check('dissectors/mqtt/mqtt.test.ts', '../../bench/fuzz.js', 'bench/fuzz.ts')).toMatch(/not the lab/);
    // Tests of the lab itself, and tests under test/, may reach it.
    expect(check('lab/gen-misc.test.ts', './gen-misc.js', 'lab/gen-misc.ts')).toBeNull();
    expect(check('test/engine.test.ts', '../lab/midstream.js', 'lab/midstream.ts')).toBeNull();
    // The helpers never import the lab; the lab imports the helpers, never a test.
    expect(check('test/helpers/flows.ts', '../../lab/netns.js', 'lab/netns.ts')).toMatch(/never import the lab/);
    expect(check('bench/fuzz.ts', '../test/helpers/fuzz-dissector.js', 'test/helpers/fuzz-dissector.ts')).toBeNull();
    expect(check('lab/gen-demo.ts', '../test/engine.test.js', 'test/engine.test.ts')).toMatch(/not tests/);
    // Product code imports neither.
    expect(check('src/output/ecs.ts', '../../test/helpers/flows.js', 'test/helpers/flows.ts')).toMatch(/never imports lab\/, bench\/ or test\//);
    expect(check('dissectors/tls/state.ts', '../../lab/netns.js', 'lab/netns.ts')).toMatch(/never imports/);
  });
});
