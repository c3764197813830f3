// Public captures from other projects (../shared: FoxIO's JA4 test captures, OTRF's datasets), read
// in place: every TCP/UDP conversation tshark decodes in them must be a flow of ours with the same
// endpoints, and every packet of it counted, in a flow's record or, after the record went out, as
// a late packet (docs/ARCHITECTURE.md, "Packets after the record"). A conversation is more than one
// flow only across an idle gap longer than the TCP idle timeout (5 min), as in Zeek.
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { flowToEcs } from '../src/output/ecs.js';
import { key, tsharkConvLines, tsharkConvs, type Conv } from './helpers/field-convs.js';
import { tsharkLines } from './helpers/tshark.js';

const shared = join(new URL('.', import.meta.url).pathname, '../../shared');
const FILES = ['conformance/ja4/pcaps', 'datasets/otrf-covenant-psremoting', 'datasets/otrf-empire-psremoting']
  .flatMap((d) => readdirSync(join(shared, d)).filter((f) => /\.(cap|pcap|pcapng)$/.test(f)).map((f) => join(d, f)));

const convs = new Map<string, Map<string, Conv>>();
beforeAll(async () => {
  const queue = [...FILES];
  const lane = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) convs.set(f, tsharkConvs(await tsharkConvLines(join(shared, f))));
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, lane));
}, 240_000);

/** The TCP conversations of a file with a silence longer than the TCP idle timeout (tcp.time_delta). */
async function idleSplit(f: string): Promise<Set<string>> {
  const gaps = await tsharkLines(['-r', join(shared, f), '-Y', 'tcp.time_delta > 300', '-o', 'tcp.calculate_timestamps:TRUE', '-T', 'fields', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport']);
  return new Set(gaps.map((l) => {
    const [s4, s6, sp, d4, d6, dp] = l.split('\t');
    return key('tcp', `${s4 || s6}:${sp}`, `${d4 || d6}:${dp}`);
  }));
}

const packetsOf = (c: Conv) => Object.values(c.sent).reduce((n, s) => n + s[0], 0);

describe('public captures: flows against tshark\'s conversations', () => {
  it('found the captures', () => expect(FILES.length).toBeGreaterThan(30));
  it.each(FILES)('%s', async (f) => {
    const want = convs.get(f) ?? new Map<string, Conv>();
    const r = await replayFiles([join(shared, f)], { withAnalytics: false });
    const got = new Map<string, number[]>();
    for (const fl of r.flows) {
      const d = flowToEcs(fl) as { source: { ip: string; port: number; packets?: number }; destination: { ip: string; port: number; packets?: number }; network: { transport: string } };
      const k = key(d.network.transport, `${d.source.ip}:${d.source.port}`, `${d.destination.ip}:${d.destination.port}`);
      got.set(k, [...(got.get(k) ?? []), (d.source.packets ?? 0) + (d.destination.packets ?? 0)]);
    }
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    let short = 0;
    for (const [k, c] of want) {
      const ours = got.get(k) ?? [];
      if (ours.length > 1) expect((await idleSplit(f)).has(k), `${k}: ${ours.length} flows`).toBe(true);
      const n = ours.reduce((a, b) => a + b, 0);
      expect(n, k).toBeLessThanOrEqual(packetsOf(c));
      short += packetsOf(c) - n;
    }
    expect(short).toBe(r.stats.latePackets);
  });
});
