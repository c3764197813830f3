import { describe, expect, it } from 'vitest';
import { serialize } from 'node:v8';
import { join } from 'node:path';
import { replayFiles } from './replay.js';
import { RecordPacker, RecordUnpacker } from './record-pack.js';
import type { FlowRecord } from '../flow/record.js';

const pcaps = join(new URL('.', import.meta.url).pathname, '..', '..', 'pcaps');

async function tlsRecords(): Promise<FlowRecord[]> {
  const files = ['tls/tls12-python-long-chain.pcap', 'tls/tls12-node.pcap', 'tls/tls13-node.pcap', 'misc/dns.pcap'].map((f) => join(pcaps, f));
  const { flows } = await replayFiles(files, { workers: 1, withAnalytics: false });
  return flows;
}

/** The same records many times over, as a busy channel would carry them (shared objects kept). */
function repeated(recs: FlowRecord[], times: number): FlowRecord[] {
  const out: FlowRecord[] = [];
  for (let i = 0; i < times; i++) for (const r of recs) out.push({ ...r, tls: r.tls === null ? null : { ...r.tls } });
  return out;
}

describe('record packing between threads', () => {
  it('round-trips records exactly (through a real structured clone) and sends each group once', async () => {
    const recs = await tlsRecords();
    expect(recs.some((r) => (r.tls?.chain.length ?? 0) >= 3)).toBe(true);
    const batch = repeated(recs, 20);
    const want = structuredClone(batch);
    const packer = new RecordPacker();
    const packed = packer.pack(batch);
    const distinctChains = new Set(recs.flatMap((r) => r.tls?.chain ?? []));
    expect(packed.certs.length).toBe(distinctChains.size);
    expect(packed.prints.length).toBeLessThanOrEqual(recs.filter((r) => r.tls !== null).length);
    const got = new RecordUnpacker().unpack(structuredClone(packed));
    expect(got).toEqual(want);
    // TLS records repeat their fingerprint strings (never shared by the serializer): packed, each
    // goes once. Measured on these captures: about a third of the bytes.
    const tlsOnly = repeated(recs.filter((r) => r.tls !== null), 20);
    const plain = serialize(structuredClone(tlsOnly)).length;
    expect(serialize(new RecordPacker().pack(tlsOnly)).length).toBeLessThan(plain * 0.6);
  });

  it('later batches refer to groups sent earlier; a reset starts both sides over', async () => {
    const recs = await tlsRecords();
    const packer = new RecordPacker();
    const unpacker = new RecordUnpacker();
    const first = packer.pack(repeated(recs, 1));
    unpacker.unpack(structuredClone(first));
    const want = structuredClone(repeated(recs, 1));
    const second = packer.pack(repeated(recs, 1));
    expect(second.prints).toHaveLength(0);
    expect(second.certs).toHaveLength(0);
    expect(unpacker.unpack(structuredClone(second))).toEqual(want);
    // A receiver that missed the first batch cannot resolve the references: a named error.
    expect(() => new RecordUnpacker().unpack(structuredClone(packer.pack(repeated(recs, 1))))).toThrow(/unknown (print group|certificate)/);
  });
});
