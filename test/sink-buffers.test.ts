// The JSON-lines sink hands each written megabyte's buffer back to its writer once it is written:
// a flood's output then reuses a few buffers instead of allocating one per megabyte (external
// memory, which makes V8 start full collections). The bytes must stay the serializer's.
import { lstatSync, mkdtempSync, readFileSync, rmSync, linkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EcsSerializer } from '../src/output/ecs.js';
import { JsonWriter } from '../src/output/json.js';
import { JsonLinesSink, OutputWriteError } from '../src/output/sinks.js';
import { newFlowRecord, type FlowRecord } from '../src/flow/record.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-sink-buffers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flow(id: number): FlowRecord {
  const r = newFlowRecord({ id, client: { ip: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`, port: 1024 + (id % 60000) }, server: { ip: '10.255.0.53', port: 53 }, startTs: 1_700_000_000_000 + id, endTs: 1_700_000_000_500 + id });
  r.dnsName = `n${id}.flood.example`;
  r.events = id % 7 === 0 ? ['x'.repeat(3000)] : [];
  return r;
}

describe('JSON-lines sink buffers', () => {
  it('continues in the spare buffer it is given', () => {
    const w = new JsonWriter(false);
    w.begin();
    w.str('a', 'b');
    w.line();
    const spare = Buffer.alloc(4096);
    const out = w.takeLines(1 << 20, spare);
    expect(out.toString()).toBe('{"a":"b"}\n');
    w.begin();
    w.str('c', 'd');
    w.line();
    expect(spare.subarray(0, 10).toString()).toBe('{"c":"d"}\n');
    expect(w.takeLines(1 << 20).buffer).toBe(spare.buffer);
  });

  it('writes 40 MiB of flows to a file from one buffer, and the file holds the serializer\'s lines', async () => {
    const path = join(dir, 'flood.jsonl');
    const sink = new JsonLinesSink(path);
    const writer = sink.ecs.writer;
    const take = writer.takeLines.bind(writer);
    const seen = new Set<ArrayBufferLike>();
    let takes = 0;
    writer.takeLines = (cap, spare) => { takes++; const b = take(cap, spare); seen.add(b.buffer); return b; };
    const flows: FlowRecord[] = [];
    for (let id = 0; takes < 40; id++) {
      const f = flow(id);
      flows.push(f);
      sink.flow(f);
    }
    await sink.close();
    // without the buffer going back to the writer every megabyte would be a new one
    expect(seen.size).toBeLessThanOrEqual(2);
    const text: string[] = [];
    const ser = new EcsSerializer({ detail: 'lean', onRef: (j) => text.push(j) });
    for (const f of flows) text.push(ser.flow(f));
    const want = Buffer.from(text.map((l) => `${l}\n`).join(''), 'utf8');
    expect(readFileSync(path).equals(want)).toBe(true);
  });

  it('a refused write is a named error naming the file, or with a handler counted as lost lines while later lines go on', async () => {
    expect(() => new JsonLinesSink(join(dir, 'no', 'such', 'dir.jsonl'))).toThrow(OutputWriteError);
    expect(() => new JsonLinesSink(join(dir, 'no', 'such', 'dir.jsonl'))).toThrow(/cannot open .*dir\.jsonl for output: ENOENT/);
    const thrower = new JsonLinesSink('/dev/full');
    expect(() => { for (let id = 0; id < 20_000; id++) thrower.flow(flow(id)); }).toThrow(/cannot write \/dev\/full: ENOSPC.*line\(s\) lost/);
    const errors: OutputWriteError[] = [];
    const sink = new JsonLinesSink('/dev/full', undefined, { onWriteError: (e) => errors.push(e) });
    for (let id = 0; id < 20_000; id++) sink.flow(flow(id));
    await sink.close();
    expect(sink.written).toBeGreaterThanOrEqual(20_000);
    expect(errors.length).toBeGreaterThan(1);
    expect(errors.every((e) => e.path === '/dev/full' && e.lines > 0)).toBe(true);
    // every line went into a refused chunk, the last one at close
    expect(sink.lost).toBe(sink.written);
    expect(errors.reduce((n, e) => n + e.lines, 0)).toBe(sink.written);
  });

  it('appends to an existing file when asked, and otherwise writes a new file in its place', async () => {
    const path = join(dir, 'append.jsonl');
    writeFileSync(path, '{"before":1}\n');
    const a = new JsonLinesSink(path, undefined, { append: true });
    a.record({ after: 2 });
    await a.close();
    expect(readFileSync(path, 'utf8')).toBe('{"before":1}\n{"after":2}\n');
    const keep = join(dir, 'keep.jsonl');
    linkSync(path, keep);
    const b = new JsonLinesSink(path);
    b.record({ fresh: 3 });
    await b.close();
    expect(readFileSync(path, 'utf8')).toBe('{"fresh":3}\n');
    // a new file, not the old one emptied: another name of the old file keeps its lines
    expect(readFileSync(keep, 'utf8')).toBe('{"before":1}\n{"after":2}\n');
    // through a symbolic link the link's target is written
    const link = join(dir, 'link.jsonl');
    symlinkSync(path, link);
    const c = new JsonLinesSink(link);
    c.record({ via: 'link' });
    await c.close();
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('{"via":"link"}\n');
  });
});
