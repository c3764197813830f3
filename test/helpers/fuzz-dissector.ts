/**
 * Seeded mutation fuzzing for any dissector (STYLE.md rule 10: no throw, bounded time and memory,
 * split/unsplit equivalence), plus the "conversation" fixture format the pub/sub dissector tests use.
 *
 * Conversation fixture (.hex): one message per line, `>` client→server or `<` server→client, then
 * hex bytes (spaces allowed); `#` starts a comment line.
 */
import { readFileSync } from 'node:fs';
import type { AnyDissectorSpec, Dir } from '../../src/contract/api.js';
import { fromHex, harness, type Harness } from './dissect-harness.js';
import { concatBytes } from '../../src/util/bytes.js';

export interface Message { dir: Dir; bytes: Uint8Array }
export type Conversation = Message[];

export function parseConversation(text: string): Conversation {
  const out: Conversation = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const d = line[0];
    if (d !== '>' && d !== '<') throw new Error(`bad conversation line: ${line.slice(0, 40)}`);
    out.push({ dir: d === '>' ? 0 : 1, bytes: fromHex(line.slice(1)) });
  }
  return out;
}

export function loadConversation(url: URL): Conversation {
  return parseConversation(readFileSync(url, 'utf8'));
}

/** Feed a conversation through a fresh harness (optionally splitting message `splitAt[0]` at byte `splitAt[1]`). */
export function runConversation(spec: AnyDissectorSpec, conv: Conversation, limits: object = spec.defaultLimits, splitAt: [number, number] | null = null, flow?: Parameters<typeof harness>[2]): Harness {
  const h = harness(spec, limits, flow);
  let ts = 1_700_000_000_000;
  for (let i = 0; i < conv.length; i++) {
    const m = conv[i] as Message;
    ts += 10;
    if (splitAt !== null && splitAt[0] === i) {
      h.feed(m.dir, m.bytes.subarray(0, splitAt[1]), ts);
      h.feed(m.dir, m.bytes.subarray(splitAt[1]), ts);
    } else {
      h.feed(m.dir, m.bytes, ts);
    }
  }
  h.end();
  return h;
}

/** Records + events as a comparable string (Uint8Array excerpts as hex). */
export function outcome(h: Harness): string {
  return JSON.stringify({ r: h.records, e: h.events, v: h.violations }, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
}

// ---- fuzzing ------------------------------------------------------------------------------

/** mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzOptions {
  limits?: object;
  /** Every n-th case is also fed unsplit and compared with the randomly split run (default 10; 0 = never). */
  splitCheckEvery?: number;
  /** A case slower than this counts as a hang (default 2000 ms). */
  maxCaseMs?: number;
  /** Feed as a flow picked up mid-stream (ctx.flow.midstream: the dissector resyncs itself). */
  midstream?: boolean;
}

export interface FuzzResult {
  cases: number;
  throws: { case: number; error: string }[];
  splitMismatches: number[];
  slow: number[];
  maxCaseMs: number;
  records: number;
  events: number;
  heapGrowthBytes: number;
  elapsedMs: number;
}

/** One mutated conversation. Mutations: byte flips, truncation, length-field lies, huge counts, nesting. */
export function mutate(conv: Conversation, rnd: () => number): Conversation {
  const out: Conversation = conv.map((m) => ({ dir: m.dir, bytes: Uint8Array.from(m.bytes) }));
  const n = 1 + Math.floor(rnd() * 3);
  for (let k = 0; k < n && out.length > 0; k++) {
    const mi = Math.floor(rnd() * out.length);
    const m = out[mi] as Message;
    const b = m.bytes;
    const pos = b.length === 0 ? 0 : Math.floor(rnd() * b.length);
    switch (Math.floor(rnd() * 8)) {
      case 0: case 1: { // byte flips
        const flips = 1 + Math.floor(rnd() * 6);
        for (let i = 0; i < flips && b.length > 0; i++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
        break;
      }
      case 2: // truncate this message and drop the rest of the conversation
        m.bytes = b.subarray(0, pos);
        out.length = mi + 1;
        break;
      case 3: { // length-field lie: a big or off-by-some value at a random offset
        const lies = [[0xff, 0xff, 0xff, 0x7f], [0x7f, 0xff, 0xff, 0xff], [0x00, 0x00, 0x00, 0x00], [0xff, 0xff], [0x80, 0x80, 0x80, 0x80, 0x01], [0x00, 0x01]];
        const lie = lies[Math.floor(rnd() * lies.length)] as number[];
        for (let i = 0; i < lie.length && pos + i < b.length; i++) b[pos + i] = lie[i] as number;
        break;
      }
      case 4: { // huge count inserted
        const ins = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
        m.bytes = concatBytes([b.subarray(0, pos), ins, b.subarray(pos)]);
        break;
      }
      case 5: { // deep nesting: repeat a short slice many times
        const len = 1 + Math.floor(rnd() * 4);
        const slice = b.subarray(pos, Math.min(b.length, pos + len));
        const reps = 16 + Math.floor(rnd() * 512);
        const parts: Uint8Array[] = [b.subarray(0, pos)];
        for (let i = 0; i < reps; i++) parts.push(slice);
        parts.push(b.subarray(pos));
        m.bytes = concatBytes(parts);
        break;
      }
      case 6: // drop a message
        out.splice(mi, 1);
        break;
      default: { // random garbage insert
        const g = new Uint8Array(1 + Math.floor(rnd() * 32));
        for (let i = 0; i < g.length; i++) g[i] = Math.floor(rnd() * 256);
        m.bytes = concatBytes([b.subarray(0, pos), g, b.subarray(pos)]);
        break;
      }
    }
  }
  return out;
}


function feedSplit(spec: AnyDissectorSpec, conv: Conversation, limits: object, rnd: (() => number) | null, midstream = false): Harness {
  const h = harness(spec, limits, { srcPort: 50000, dstPort: 443, transport: spec.transport, startTs: 0, midstream });
  let ts = 1_700_000_000_000;
  for (const m of conv) {
    ts += 10;
    if (rnd === null || m.bytes.length < 2) { h.feed(m.dir, m.bytes, ts); continue; }
    let p = 0;
    while (p < m.bytes.length) {
      const step = 1 + Math.floor(rnd() * Math.min(64, m.bytes.length));
      h.feed(m.dir, m.bytes.subarray(p, p + step), ts);
      p += step;
    }
  }
  h.end();
  return h;
}

/**
 * Run `cases` mutated conversations (seeded) through `spec`. Never throws itself: dissector throws
 * are collected in the result. Each case is fed in random pieces; every splitCheckEvery-th case is
 * also fed whole and must give the same records and events.
 */
export function fuzzDissector(spec: AnyDissectorSpec, seeds: readonly Conversation[], cases: number, seed: number, opts: FuzzOptions = {}): FuzzResult {
  const rnd = prng(seed);
  const limits = opts.limits ?? spec.defaultLimits;
  // Datagrams cannot be split (each feed is one datagram): UDP dissectors get whole messages only.
  const udp = spec.transport === 'udp';
  const every = udp ? 0 : (opts.splitCheckEvery ?? 10);
  const maxMs = opts.maxCaseMs ?? 2000;
  const res: FuzzResult = { cases, throws: [], splitMismatches: [], slow: [], maxCaseMs: 0, records: 0, events: 0, heapGrowthBytes: 0, elapsedMs: 0 };
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const conv = mutate(seeds[Math.floor(rnd() * seeds.length)] as Conversation, rnd);
    const c0 = performance.now();
    try {
      const h = feedSplit(spec, conv, limits, udp ? null : rnd, opts.midstream === true);
      res.records += h.records.length;
      res.events += h.events.length;
      if (every > 0 && i % every === 0) {
        const whole = feedSplit(spec, conv, limits, null, opts.midstream === true);
        if (outcome(whole) !== outcome(h)) res.splitMismatches.push(i);
      }
    } catch (e) {
      if (res.throws.length < 20) res.throws.push({ case: i, error: String((e as Error)?.stack ?? e).slice(0, 500) });
    }
    const ms = performance.now() - c0;
    if (ms > res.maxCaseMs) res.maxCaseMs = ms;
    if (ms > maxMs && res.slow.length < 20) res.slow.push(i);
  }
  res.elapsedMs = performance.now() - t0;
  res.heapGrowthBytes = process.memoryUsage().heapUsed - heap0;
  return res;
}
