/**
 * Community ID v1 (corelight community-id-spec): "1:" + base64(SHA1(seed ‖ saddr ‖ daddr ‖ proto ‖ 0 ‖ sport ‖ dport))
 * with the endpoints ordered so the smaller (address, port) comes first.
 * Computed once per flow at record time (allocates; not on the packet path).
 */
import * as crypto from 'node:crypto';

type OneShot = (algorithm: string, data: Uint8Array, outputEncoding: 'base64') => string;
/** crypto.hash (Node ≥ 20.12) skips the Hash object: several times cheaper for 40 bytes. */
const oneShot: OneShot | null = typeof (crypto as { hash?: unknown }).hash === 'function' ? (crypto as unknown as { hash: OneShot }).hash : null;

// The hash input is fully rewritten on every call: one buffer per common layout, no allocation.
const V4_PORTS = Buffer.alloc(2 + 8 + 2 + 4);
const V6_PORTS = Buffer.alloc(2 + 32 + 2 + 4);

function putWord(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/** Addresses as four 32-bit words each (IPv4 uses word 0). */
export function communityId(
  version: 4 | 6,
  proto: number,
  src: readonly [number, number, number, number],
  sport: number,
  dst: readonly [number, number, number, number],
  dport: number,
  seed = 0,
): string {
  return communityIdOf(version, proto, src[0], src[1], src[2], src[3], sport, dst[0], dst[1], dst[2], dst[3], dport, seed);
}

/** communityId() with the addresses' words as arguments (a flow holds them so: no arrays per flow). */
export function communityIdOf(
  version: 4 | 6,
  proto: number,
  s0: number, s1: number, s2: number, s3: number,
  sport: number,
  d0: number, d1: number, d2: number, d3: number,
  dport: number,
  seed = 0,
): string {
  // Order: compare addresses (bytes, big-endian), then ports.
  let swap: boolean;
  if (s0 !== d0) swap = s0 >>> 0 > d0 >>> 0;
  else if (version === 4) swap = sport > dport;
  else if (s1 !== d1) swap = s1 >>> 0 > d1 >>> 0;
  else if (s2 !== d2) swap = s2 >>> 0 > d2 >>> 0;
  else if (s3 !== d3) swap = s3 >>> 0 > d3 >>> 0;
  else swap = sport > dport;
  const hasPorts = proto === 6 || proto === 17 || proto === 132 || proto === 1 || proto === 58;
  const alen = version === 4 ? 4 : 16;
  const buf = hasPorts ? (version === 4 ? V4_PORTS : V6_PORTS) : Buffer.alloc(2 + 2 * alen + 2);
  // Plain byte stores: Buffer's write helpers check their arguments on every call, a measurable
  // share of a function that runs once per flow.
  buf[0] = seed >>> 8;
  buf[1] = seed;
  let o = 2;
  if (swap) {
    o = putAddr(buf, o, version, d0, d1, d2, d3);
    o = putAddr(buf, o, version, s0, s1, s2, s3);
  } else {
    o = putAddr(buf, o, version, s0, s1, s2, s3);
    o = putAddr(buf, o, version, d0, d1, d2, d3);
  }
  buf[o++] = proto;
  buf[o++] = 0;
  if (hasPorts) {
    const p0 = swap ? dport : sport;
    const p1 = swap ? sport : dport;
    buf[o++] = p0 >>> 8;
    buf[o++] = p0;
    buf[o++] = p1 >>> 8;
    buf[o++] = p1;
  }
  return '1:' + (oneShot !== null ? oneShot('sha1', buf, 'base64') : crypto.createHash('sha1').update(buf).digest('base64'));
}

function putAddr(b: Uint8Array, o: number, version: 4 | 6, w0: number, w1: number, w2: number, w3: number): number {
  putWord(b, o, w0);
  if (version === 4) return o + 4;
  putWord(b, o + 4, w1);
  putWord(b, o + 8, w2);
  putWord(b, o + 12, w3);
  return o + 16;
}

/** Parse a textual IPv4/IPv6 address into four words (for tests and tools). */
export function addrWords(ip: string): [number, number, number, number] {
  if (ip.includes('.') && !ip.includes(':')) {
    const p = ip.split('.').map(Number);
    return [(((p[0] ?? 0) << 24) | ((p[1] ?? 0) << 16) | ((p[2] ?? 0) << 8) | (p[3] ?? 0)) >>> 0, 0, 0, 0];
  }
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const g = groups.map((x) => parseInt(x, 16) || 0);
  const w = (i: number) => ((((g[i] ?? 0) << 16) | (g[i + 1] ?? 0)) >>> 0);
  return [w(0), w(2), w(4), w(6)];
}
