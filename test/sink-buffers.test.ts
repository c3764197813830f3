// The JSON-lines sink hands each written megabyte's buffer back to its writer once the stream has
// written it: a flood's output then reuses a few buffers instead of allocating one per megabyte
// (external memory, which makes V8 start full collections). The bytes must stay the serializer's.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EcsSerializer } from '../src/output/ecs.js';
import { JsonWriter } from '../src/output/json.js';
import { JsonLinesSink } from '../src/output/sinks.js';
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

  it('reuses written buffers across 40 MiB of flows, and the file holds the serializer\'s lines', async () => {
    const path = join(dir, 'flood.jsonl');
    const sink = new JsonLinesSink(path);
    const stream = (sink as unknown as { out: NodeJS.WritableStream }).out;
    const write = stream.write.bind(stream) as (c: Buffer, cb?: () => void) => boolean;
    const seen = new Set<ArrayBufferLike>();
    let writes = 0;
    (stream as unknown as { write: typeof write }).write = (c, cb) => { writes++; seen.add(c.buffer); return write(c, cb); };
    const flows: FlowRecord[] = [];
    for (let i = 0; i < 40; i++) {
      // about a megabyte of flows, then a turn of the event loop as the replay's reader gives one
      const before = writes;
      for (let id = i * 2000; writes === before; id++) {
        const f = flow(id);
        flows.push(f);
        sink.flow(f);
      }
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    await sink.close();
    expect(writes).toBeGreaterThanOrEqual(40);
    // one buffer in the writer, one or two with the stream: without the hand-back every write is new
    expect(seen.size).toBeLessThanOrEqual(6);
    const text: string[] = [];
    const ser = new EcsSerializer({ detail: 'lean', onRef: (j) => text.push(j) });
    for (const f of flows) text.push(ser.flow(f));
    const want = Buffer.from(text.map((l) => `${l}\n`).join(''), 'utf8');
    expect(readFileSync(path).equals(want)).toBe(true);
  });
});
