/**
 * Mutation fuzzing of the decoder and the whole engine (every dissector attached) with real
 * packets as seeds: byte flips, truncations, length-field lies (16-bit fields set to extremes),
 * and splices of two packets. A case passes when nothing throws out of the engine and no
 * dissector throw reaches the driver's fuse (faults stay 0). Deterministic for a seed.
 */
import { Pipeline } from '../src/runtime/pipeline.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';

export interface Seed {
  bytes: Uint8Array;
  linkType: number;
}

export async function loadSeeds(files: string[], maxPerFile = 2000): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for (const f of files) {
    let n = 0;
    for await (const b of openCaptureFile(f).batches()) {
      for (let i = 0; i < b.n && n < maxPerFile; i++, n++) {
        const off = b.off[i] as number;
        seeds.push({ bytes: b.buf.slice(off, off + (b.capLen[i] as number)), linkType: b.linkType[i] as number });
      }
    }
  }
  return seeds;
}

/** xorshift32: a tiny deterministic PRNG. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

export function mutate(src: Uint8Array, r: () => number, other: Uint8Array): Uint8Array {
  const b = Uint8Array.from(src);
  const kind = Math.floor(r() * 5);
  const pos = () => Math.floor(r() * Math.max(1, b.length));
  switch (kind) {
    case 0: { // byte flips
      const k = 1 + Math.floor(r() * 8);
      for (let i = 0; i < k; i++) b[pos()] = Math.floor(r() * 256);
      return b;
    }
    case 1: // truncation
      return b.subarray(0, pos());
    case 2: { // length-field lie: a 16-bit field to an extreme
      const p = pos();
      const v = [0, 1, 0xffff, 0x7fff, 0x4000, b.length + 1][Math.floor(r() * 6)] as number;
      if (p + 1 < b.length) { b[p] = v >>> 8; b[p + 1] = v & 255; }
      return b;
    }
    case 3: { // splice with another packet
      const p = pos();
      const q = Math.floor(r() * Math.max(1, other.length));
      const out = new Uint8Array(p + other.length - q);
      out.set(b.subarray(0, p));
      out.set(other.subarray(q), p);
      return out;
    }
    default: { // 32-bit field to an extreme (TLS/MQTT/AMQP lengths, counts)
      const p = pos();
      if (p + 3 < b.length) { b[p] = 0xff; b[p + 1] = r() < 0.5 ? 0xff : 0x00; b[p + 2] = 0xff; b[p + 3] = 0xff; }
      return b;
    }
  }
}

export interface FuzzResult {
  cases: number;
  faults: number;
  thrown: number;
  firstError: string | null;
  seconds: number;
  heapGrowthMiB: number;
}

/** Run `cases` mutated packets through one engine (flows form across cases, as in traffic). */
export function fuzzEngine(seeds: Seed[], cases: number, seed = 1): FuzzResult {
  const r = rng(seed);
  const p = new Pipeline({ limits: { table: { maxFlowsCount: 20_000 } }, onFlow: () => {} });
  const eng = p.engine;
  let thrown = 0;
  let firstError: string | null = null;
  const t0 = Date.now();
  const heap0 = process.memoryUsage().heapUsed;
  let ts = Date.UTC(2026, 0, 1);
  for (let i = 0; i < cases; i++) {
    const s = seeds[Math.floor(r() * seeds.length)] as Seed;
    const o = seeds[Math.floor(r() * seeds.length)] as Seed;
    const b = r() < 0.15 ? s.bytes : mutate(s.bytes, r, o.bytes);
    ts += 1;
    eng.meta.tsMs = ts;
    try {
      eng.packet(b, 0, b.length, s.linkType);
    } catch (e) {
      thrown++;
      firstError ??= (e as Error).stack ?? String(e);
    }
  }
  try {
    eng.flush('eof');
  } catch (e) {
    thrown++;
    firstError ??= (e as Error).stack ?? String(e);
  }
  return { cases, faults: eng.driver.faults, thrown, firstError, seconds: (Date.now() - t0) / 1000, heapGrowthMiB: (process.memoryUsage().heapUsed - heap0) / 1048576 };
}
