// The JSON writer writes UTF-8 bytes, and the JSON-lines sink writes out the lines its writer kept
// in that buffer: the file must hold exactly the text the serializer's strings give (which the golden
// files and test/ecs-json.test.ts hold to the object form), on every golden capture, on values
// that take the slow paths (escapes, text past ASCII, numbers String() writes, documents larger
// than the writer's first buffer and than the sink's chunk).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EcsSerializer, type OutputDetail } from '../src/output/ecs.js';
import { JsonWriter, ObjectWriter, terminalSafeJson } from '../src/output/json.js';
import { JsonLinesSink } from '../src/output/sinks.js';
import { newFlowRecord, type FlowRecord } from '../src/flow/record.js';
import { captures, replayCapture } from './helpers/golden.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-json-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the sink writes for these flows, and the serializer's strings for the same, as lines. */
async function both(flows: readonly FlowRecord[], detail: OutputDetail, name: string): Promise<{ file: Buffer; lines: Buffer }> {
  const path = join(dir, `${name}-${detail}.jsonl`);
  const sink = new JsonLinesSink(path, undefined, { detail });
  for (const f of flows) sink.flow(f);
  await sink.close();
  const text: string[] = [];
  const ser = new EcsSerializer({ detail, onRef: (j) => text.push(j) });
  for (const f of flows) text.push(ser.flow(f));
  return { file: readFileSync(path), lines: Buffer.from(text.map((l) => `${l}\n`).join(''), 'utf8') };
}

describe('JSON-lines sink: the bytes equal the serializer\'s text', () => {
  const caps = [...captures()];
  it('has captures', () => expect(caps.length).toBeGreaterThan(20));
  for (const cap of caps) {
    it(`${basename(dirname(cap))}/${basename(cap)}`, async () => {
      const { flows } = await replayCapture(cap);
      for (const detail of ['lean', 'full'] as const) {
        const { file, lines } = await both(flows, detail, basename(cap));
        expect(file.equals(lines), `${detail}: the file differs from the serializer's lines`).toBe(true);
      }
    });
  }

  it('documents past the writer\'s first buffer and past the sink\'s 1 MiB chunk, text past ASCII', async () => {
    const mk = (id: number, dnsName: string, events: string[]): FlowRecord => {
      const r = newFlowRecord({ id, client: { ip: '10.0.0.1', port: 5000 + id }, server: { ip: '10.0.0.2', port: 53 }, startTs: 1_700_000_000_123.4 + id, endTs: 1_700_000_001_000 + id });
      r.dnsName = dnsName;
      r.events = events;
      return r;
    };
    const flows = [
      mk(1, 'plain.example', []),
      mk(2, 'é.example\u202e', ['naïve', 'pair\ud83d\ude00', 'lone\udc00']),
      mk(3, 'x'.repeat(100_000), ['y'.repeat(70_000)]),
      mk(4, `${'z'.repeat(1_200_000)}ü`, []),
      mk(5, 'after.example', ['a"b', 'c\\d', 'del\u007f']),
    ];
    for (const detail of ['lean', 'full'] as const) {
      const { file, lines } = await both(flows, detail, 'odd');
      expect(file.length).toBeGreaterThan(1_300_000);
      expect(file.equals(lines)).toBe(true);
    }
    for (const l of readFileSync(join(dir, 'odd-full.jsonl'), 'utf8').split('\n').filter((x) => x !== '')) expect(() => JSON.parse(l)).not.toThrow();
  });
});

describe('JSON writer bytes', () => {
  /** The writer's text, its bytes, and the text JSON.stringify gives for the object form. */
  function forms(f: (w: JsonWriter | ObjectWriter) => void): { text: string; bytes: Buffer; oracle: string } {
    const w = new JsonWriter();
    w.begin();
    f(w);
    const text = w.end();
    // kept as a line after another (the document starts past the buffer's start), then taken
    w.textLine('{"before":"é"}');
    w.begin();
    f(w);
    w.line();
    const lines = w.takeLines(16);
    const first = Buffer.byteLength('{"before":"é"}\n');
    expect(lines.subarray(0, first).toString('utf8')).toBe('{"before":"é"}\n');
    expect(lines[lines.length - 1]).toBe(0x0a);
    const bytes = Buffer.from(lines.subarray(first, lines.length - 1));
    const o = new ObjectWriter();
    o.begin();
    f(o);
    return { text, bytes, oracle: terminalSafeJson(JSON.stringify(o.end())) };
  }

  it('numbers are written as String() writes them, integers by the digit loop', () => {
    const vals = [0, -0, 1, 9, 10, 99, 100, 65_535, 2_147_483_647, 2_147_483_648, 4_294_967_296, -1, -2_147_483_648, 0.5, 1.5e-7, 123.456, 1e21, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    let x = 3;
    for (let i = 0; i < 500; i++) { x = (x * 48271) % 2147483647; vals.push(x, x % 1000, x / 7, Math.round((x / 2147483647) * 8e4) / 1e4, -x / 1e4, x / 1e5); }
    // every value of at most 4 decimals the lean output rounds to in [-30, 30], and some far out
    const dec4: number[] = [];
    for (let k = -300_000; k <= 300_000; k++) dec4.push(k / 1e4);
    dec4.push(214_748.3647, -214_748.3648, 214_748.3648, 99_999.9999, 0.0001, -0.0001, 1e-4 + 1e-12);
    const { text, bytes, oracle } = forms((w) => { vals.forEach((v, i) => w.num(`n${i}`, v)); w.nums('all', vals); w.nums('dec4', dec4); });
    expect(text).toBe(oracle);
    expect(bytes.toString('utf8')).toBe(oracle);
  });

  it('timestamps, strings and nested objects agree with the object form, in bytes and in text', () => {
    const strs = ['plain', '', 'q"uote', 'back\\slash', 'nl\n\ttab\u0000', 'esc\u001b[31m', 'del\u007f', 'c1\u009b', 'bidi\u202e', 'bom\ufeff', 'lone\ud800', 'pair\ud83d\ude00', 'é ü ß', '日本'];
    const times = [0, 999.999, 1_700_000_000_000, 1_700_000_000_999.5, 253_402_300_799_999, 253_402_300_800_000, -1];
    const { text, bytes, oracle } = forms((w) => {
      w.open('a');
      w.open('b');
      strs.forEach((s, i) => w.str(`s${i}`, s));
      w.close();
      w.open('empty');
      w.close();
      w.safe('id', 'abc123');
      times.forEach((t, i) => w.time(`t${i}`, t));
      w.close();
      w.strs('list', strs);
      w.bool('yes', true);
      w.bool('no', false);
      w.json('k\u00e9y', '"v\u00e9"');
      w.val('obj', { x: 1, y: [null, 'é'], z: { w: null } });
    });
    expect(text).toBe(oracle);
    expect(bytes.equals(Buffer.from(oracle, 'utf8'))).toBe(true);
  });
});
