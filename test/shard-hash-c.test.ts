// The kernel program and the loader pick a flow's worker with ndr_shard_hash / ndr_ring_of
// (bpf/flow.h); the sensor's threads with shardHash (src/runtime/shard-hash.ts). They must agree on
// every tuple, or a worker would get packets of flows it does not own. flow.h is compiled here into
// a small program that hashes tuples given on stdin, in either direction.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PacketMeta } from '../src/decode/packet-meta.js';
import { tupleMeta } from '../src/runtime/engine.js';
import { shardHash } from '../src/runtime/shard-hash.js';

const root = join(new URL('.', import.meta.url).pathname, '..');
const dir = mkdtempSync(join(tmpdir(), 'ndr-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Reads lines "family proto sport dport <32 hex: src> <32 hex: dst>", prints hash and ring of 3.
const PROGRAM = String.raw`
#include <stdio.h>
#include <string.h>
#include <linux/types.h>
#include "flow.h"
static void hex16(const char *h, __u8 *out) { for (int i = 0; i < 16; i++) sscanf(h + 2 * i, "%2hhx", &out[i]); }
int main(void) {
  unsigned fam, proto, sp, dp; char s[40], d[40];
  while (scanf("%u %u %u %u %32s %32s", &fam, &proto, &sp, &dp, s, d) == 6) {
    struct ndr_flow_key k; memset(&k, 0, sizeof(k));
    hex16(s, k.addr_a); hex16(d, k.addr_b);
    k.port_a = (__u16)sp; k.port_b = (__u16)dp; k.proto = (__u8)proto; k.family = (__u8)fam;
    printf("%u %d\n", ndr_shard_hash(&k), ndr_ring_of(&k, 3));
  }
  return 0;
}
`;

// A fixed sequence (xorshift32), so a failure can be run again as it was.
let seed = 0x9e3779b9;
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return Math.floor(((seed >>> 0) / 4294967296) * n);
}

/** The UDP ports whose flows stay on the shared ring (bpf/flow.h ndr_udp_tunnel_port). */
const TUNNEL_PORTS = new Set([4789, 6081, 2152, 3544]);

function addr(v6: boolean): { text: string; hex: string } {
  if (!v6) {
    const b = [10, rand(256), rand(256), rand(256)];
    return { text: b.join('.'), hex: b.map((x) => x.toString(16).padStart(2, '0')).join('').padEnd(32, '0') };
  }
  const g = Array.from({ length: 8 }, (_, i) => (i === 0 ? 0xfd00 : rand(0x10000)));
  return { text: g.map((x) => x.toString(16)).join(':'), hex: g.map((x) => x.toString(16).padStart(4, '0')).join('') };
}

describe('shard hash in C (bpf/flow.h) and TypeScript', () => {
  it('gives the same hash and worker for IPv4 and IPv6 tuples, both directions, UDP tunnels to the shared ring', () => {
    writeFileSync(join(dir, 'h.c'), PROGRAM);
    execFileSync('cc', ['-O2', '-I', join(root, 'bpf'), join(dir, 'h.c'), '-o', join(dir, 'h')]);
    const tuples: { v6: boolean; proto: number; a: ReturnType<typeof addr>; b: ReturnType<typeof addr>; sp: number; dp: number }[] = [];
    for (let i = 0; i < 2000; i++) {
      const v6 = i % 2 === 1;
      const a = addr(v6);
      // Every fourth pair has equal addresses, so the ports decide the orientation.
      const b = i % 4 === 0 ? a : addr(v6);
      const tunnel = i % 50 === 0;
      tuples.push({ v6, proto: tunnel || i % 3 === 0 ? 17 : 6, a, b, sp: rand(65536), dp: tunnel ? [4789, 6081, 2152, 3544][(i / 50) % 4] as number : i % 5 === 0 ? 443 : rand(65536) });
    }
    const lines: string[] = [];
    for (const t of tuples) {
      lines.push(`${t.v6 ? 6 : 4} ${t.proto} ${t.sp} ${t.dp} ${t.a.hex} ${t.b.hex}`);
      lines.push(`${t.v6 ? 6 : 4} ${t.proto} ${t.dp} ${t.sp} ${t.b.hex} ${t.a.hex}`);
    }
    const got = execFileSync(join(dir, 'h'), { input: `${lines.join('\n')}\n` }).toString().trim().split('\n');
    expect(got).toHaveLength(lines.length);
    const m = new PacketMeta();
    let tunnels = 0;
    const perRing = [0, 0, 0];
    tuples.forEach((t, i) => {
      const h = shardHash(tupleMeta(m, { proto: t.proto, srcIp: t.a.text, srcPort: t.sp, dstIp: t.b.text, dstPort: t.dp }));
      const tunnel = t.proto === 17 && (TUNNEL_PORTS.has(t.sp) || TUNNEL_PORTS.has(t.dp));
      for (const line of [got[2 * i], got[2 * i + 1]]) {
        const [hash, ring] = (line as string).split(' ').map(Number) as [number, number];
        expect(hash, lines[2 * i]).toBe(h);
        expect(ring).toBe(tunnel ? -1 : h % 3);
      }
      if (tunnel) tunnels++;
      else perRing[h % 3] = (perRing[h % 3] as number) + 1;
    });
    expect(tunnels).toBeGreaterThan(0);
    // The hash spreads: each of three rings gets a fair share of 2,000 random flows.
    for (const n of perRing) expect(n).toBeGreaterThan(500);
  });
});
