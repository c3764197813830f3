// The record codec gives back what structured clone would: same values, same key order (so the
// same JSON), across batches, string-table resets and values it does not encode itself.
import { describe, expect, it } from 'vitest';
import { RecordDecoder, RecordEncoder, transferList, type EncodedBatch } from './record-codec.js';

/** A batch as it arrives in the other thread (cloned, buffers transferred). */
function cross(b: EncodedBatch): EncodedBatch {
  return structuredClone(b, { transfer: transferList(b) });
}

describe('record codec', () => {
  it('round-trips plain data with key order, nulls, undefined, numbers and nesting', () => {
    const recs = [
      { kind: 'flow', id: 1, a: null, b: undefined, n: -0.5, big: 2 ** 53, neg: -7, t: true, f: false, arr: [1, 'x', null, [2, { z: 1 }]], o: { q: 'é', r: '' } },
      { kind: 'flow', id: 2, a: 'now a string', b: 3, n: NaN, big: Infinity, neg: 0, t: false, f: true, arr: [], o: { q: 'ü', r: 'r' } },
      { other: 'shape', '10': 'integer-like key first', k: { deep: { deeper: [{ x: 1 }, { y: 2 }, { x: 3 }] } } },
      {},
    ];
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    for (const r of recs) enc.add(r);
    const out = dec.decode(cross(enc.take()));
    expect(out).toEqual(recs.map((r) => structuredClone(r)));
    expect(out.map((o) => JSON.stringify(o))).toEqual(recs.map((r) => JSON.stringify(r)));
    expect(Object.is((out[0] as { n: number }).n, -0.5)).toBe(true);
    expect(Number.isNaN((out[1] as { n: number }).n)).toBe(true);
  });

  it('keeps its tables across batches and decodes each batch in order', () => {
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    for (let batch = 0; batch < 5; batch++) {
      const recs = Array.from({ length: 50 }, (_, i) => ({ id: batch * 50 + i, sni: `host${i % 7}.example`, ja4: 't13d1516h2_8daaf6152771_02713d6af862', list: ['1301', '1302', String(i)] }));
      for (const r of recs) enc.add(r);
      expect(dec.decode(cross(enc.take()))).toEqual(recs);
    }
  });

  it('repeats of the previous record in the same place decode to the same values', () => {
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    const recs: unknown[] = [
      { a: 'x', list: ['1301', '1302', '1303'], nest: [['p', 'q'], 'r'], o: { s: 'one' } },
      { a: 'x', list: ['1301', '1302'], nest: [['p'], 'r'], o: { s: 'one' } },
      { a: 'y', list: ['1301', 7, '1303', '1304'], nest: ['r', ['p']], o: null },
      { a: 5, list: [], nest: [], o: { s: 'one' } },
      { a: 'y', list: ['1301', '1302', '1303'], nest: [['p', 'q'], 'r'], o: { s: 'two' } },
      { a: 'y', list: ['1301', '1302', '1303'], nest: [['p', 'q'], 'r'], o: { s: 'two', t: 'one' } },
    ];
    // One batch, and the same records one by one: the places carry across batches too.
    for (const r of recs) enc.add(r as object);
    expect(dec.decode(cross(enc.take()))).toEqual(recs);
    for (const r of recs) {
      enc.add(r as object);
      expect(dec.decode(cross(enc.take()))).toEqual([r]);
    }
  });

  it('starts its string table again when full, without mixing up numbers', () => {
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    let n = 0;
    for (let batch = 0; batch < 8; batch++) {
      const recs = Array.from({ length: 10_000 }, () => ({ s: `unique-${n++}`, repeat: 'same' }));
      for (const r of recs) enc.add(r);
      expect(dec.decode(cross(enc.take()))).toEqual(recs);
    }
  });

  it('sends values it does not know by structured clone, and long strings inline', () => {
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    class Point { x = 1; y = 2; }
    const long = 'x'.repeat(5000);
    const rec = { m: new Map([[1, 'a']]), d: new Date(5), u: new Uint8Array([1, 2, 3]), big: 5n, p: new Point(), long };
    enc.add(rec);
    const [out] = dec.decode(cross(enc.take())) as [typeof rec];
    expect(out).toEqual(structuredClone({ ...rec, p: { x: 1, y: 2 } }));
    expect(out.m.get(1)).toBe('a');
    expect(out.long).toBe(long);
  });

  it('a __proto__ key is an own property, not the prototype', () => {
    const enc = new RecordEncoder();
    const dec = new RecordDecoder();
    const rec = JSON.parse('{"a":1,"__proto__":{"polluted":true}}') as Record<string, unknown>;
    enc.add(rec);
    const [out] = dec.decode(cross(enc.take())) as [Record<string, unknown>];
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['a', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('an empty batch transfers nothing and decodes to nothing', () => {
    const enc = new RecordEncoder();
    const b = enc.take();
    expect(transferList(b)).toEqual([]);
    expect(new RecordDecoder().decode(cross(b))).toEqual([]);
  });
});
