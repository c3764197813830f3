/** Seeded fuzz: random and mutated DNS never throws; TCP framing is split-invariant; records bounded. */
import { describe, expect, it } from 'vitest';
import { harness } from '../../test/helpers/dissect-harness.js';
import { prng as rng } from '../../test/helpers/fuzz-dissector.js';
import { Dir } from '../../src/contract/api.js';
import { dnsSpec, dnsTcpSpec, probeDnsTcp, probeDnsUdp } from './index.js';
import { parseMessage } from './parse.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// Real messages from pcaps/misc/dns.pcap: an AAAA answer and a CNAME + A answer with pointers.
const SEEDS = [
  hex('5fbf85800001000100000000026332036c6162047465737400001c0001c00c001c00010000012c0010fd000052000000000000000000000002'),
  hex('2f0a8580000100020000000003777777036c616204746573740000010001c00c0005000100000258000f04656467650' + '36c616204746573740' + '0c02a000100010000003c00040a340002'),
  hex('fb5c01000001000000000000026332036c616204746573740000010001'),
];

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  const b = Array.from(src);
  for (let i = 0, n = 1 + Math.floor(r() * 5); i < n; i++) {
    const at = Math.floor(r() * b.length);
    const pick = [0xc0, 0x0c, 0x00, 0x3f, 0xff, 0x40, Math.floor(r() * 256)][Math.floor(r() * 7)] as number;
    const op = r();
    if (op < 0.6) b[at] = pick;
    else if (op < 0.8) b.splice(at, 0, pick);
    else b.splice(at, 1 + Math.floor(r() * 3));
  }
  return Uint8Array.from(b);
}
const framed = (m: Uint8Array) => Uint8Array.from([m.length >> 8, m.length & 255, ...m]);

describe('dns fuzz', () => {
  it('seeds parse cleanly (sanity for the mutation base)', () => {
    for (const s of SEEDS) {
      const m = parseMessage(s, dnsSpec.defaultLimits);
      expect(typeof m === 'object' && m.events).toEqual([]);
    }
  });

  it('UDP: random and mutated datagrams never throw; probes never throw; answers bounded', () => {
    const r = rng(3);
    for (let i = 0; i < 3000; i++) {
      const b = i % 3 === 0 ? Uint8Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256)) : mutate(r, SEEDS[i % SEEDS.length] as Uint8Array);
      probeDnsUdp(b, Dir.ToServer);
      probeDnsTcp(b, Dir.ToClient);
      const h = harness(dnsSpec);
      h.feed(Dir.ToServer, SEEDS[2] as Uint8Array); // confirm, so damage is reported as events
      h.feed(Dir.ToClient, b);
      for (const rec of h.records) expect((rec as unknown as { answers: unknown[] }).answers.length).toBeLessThanOrEqual(dnsSpec.defaultLimits.maxAnswersCount);
    }
  });

  it('TCP: mutated message streams give the same records whole and split', () => {
    const r = rng(11);
    for (let i = 0; i < 500; i++) {
      const msgs = [mutate(r, SEEDS[i % 3] as Uint8Array), SEEDS[(i + 1) % 3] as Uint8Array, mutate(r, SEEDS[(i + 2) % 3] as Uint8Array)];
      const stream = Uint8Array.from(msgs.flatMap((m) => [...framed(m)]));
      const whole = harness(dnsTcpSpec);
      whole.feed(Dir.ToClient, stream);
      const split = harness(dnsTcpSpec);
      for (let p = 0; p < stream.length; ) {
        const n = 1 + Math.floor(r() * 30);
        split.feed(Dir.ToClient, stream.subarray(p, p + n));
        p += n;
      }
      expect(JSON.stringify(split.records)).toBe(JSON.stringify(whole.records));
      expect(split.events).toEqual(whole.events);
    }
  });
});
