/**
 * Payload entropy per direction (DESIGN.md §2.5, STYLE.md §6.4 "Entropy"): a 256-bin histogram of
 * the first `maxEntropyBytes` payload bytes after the handshake end, and the Shannon entropy of
 * that sample compared with what uniformly random bytes of the same length would score.
 *
 * Why the comparison: the plug-in estimator H = −Σ p̂ log2 p̂ is biased low for short samples
 * (256 random bytes score ≈ 7.18 bits, not 8), so a fixed "≥ 7.9 bits" cut would miss every short
 * encrypted exchange. `randomExpected(n)` is the exact expectation of H for n uniform bytes, and
 * `score = bits / randomExpected(n)` is ≈ 1 for random/encrypted data at any sample size.
 */
import type { EntropyInfo } from './record.js';
import type { Dir } from '../contract/api.js';

export const DEFAULT_MAX_ENTROPY_BYTES = 4096;

/**
 * Per-flow, per-direction accumulator, fed from the reassembly path (not from dissectors).
 * The driver calls `add(dir, bytes, streamOffset)` with every contiguous view it hands to the
 * dissector (after the dissector's feed, so that a `payloadStart` raised during that feed applies),
 * and `setPayloadStart(dir, offset)` when ctx.payloadStart fires. Re-feeding bytes already counted
 * is harmless (a per-direction high-water mark skips them). No allocation per call.
 */
export class EntropyAccumulator {
  readonly hist: [Uint32Array, Uint32Array] = [new Uint32Array(256), new Uint32Array(256)];
  readonly n: [number, number] = [0, 0];
  private readonly start: [number, number] = [0, 0];
  private readonly next: [number, number] = [0, 0];
  private readonly maxBytes: number;

  constructor(maxEntropyBytes = DEFAULT_MAX_ENTROPY_BYTES) {
    this.maxBytes = maxEntropyBytes;
  }

  /** The application payload of `dir` starts at `streamOffset`: restart the sample there. */
  setPayloadStart(dir: Dir, streamOffset: number): void {
    if (streamOffset === this.start[dir]) return; // already sampling from there
    this.start[dir] = streamOffset;
    this.next[dir] = streamOffset;
    this.n[dir] = 0;
    this.hist[dir].fill(0);
  }

  /** Count the bytes of `bytes` (at stream offset `streamOffset`) that fall in the sample window. */
  add(dir: Dir, bytes: Uint8Array, streamOffset: number): void {
    const end = this.start[dir] + this.maxBytes;
    const from = Math.max(this.next[dir], streamOffset);
    const to = Math.min(end, streamOffset + bytes.length);
    if (to <= from) return;
    const h = this.hist[dir];
    for (let i = from - streamOffset, e = to - streamOffset; i < e; i++) {
      const b = bytes[i] as number;
      h[b] = (h[b] as number) + 1;
    }
    this.n[dir] += to - from;
    this.next[dir] = to;
  }

  /** True once the window of `dir` is full (the driver may stop calling add). */
  full(dir: Dir): boolean {
    return this.n[dir] >= this.maxBytes;
  }

  /** EntropyInfo for `dir`, or null when no byte was sampled. */
  info(dir: Dir): EntropyInfo | null {
    return this.n[dir] > 0 ? entropyInfo(this.hist[dir], this.n[dir]) : null;
  }
}

/**
 * c·log2(c) for small counts, so a histogram's entropy costs 256 table reads, not 256 logs. Filled
 * up to the largest count asked for so far rather than when the module loads: all 8,192 entries
 * are milliseconds of every process's start, and a 1 KiB sample needs the first 1,025.
 */
const CLOG_TABLE_SIZE = 8193;
const clog = new Float64Array(CLOG_TABLE_SIZE);
/** clog[0..clogFilled] hold their values (0 and 1 are 0). */
let clogFilled = 1;

function fillClog(upTo: number): void {
  for (let c = clogFilled + 1; c <= upTo; c++) clog[c] = c * Math.log2(c);
  clogFilled = upTo;
}

/** Plug-in Shannon entropy of a byte histogram, bits per byte (0..8): log2 n − (Σ c·log2 c)/n. */
export function shannonBits(hist: Uint32Array, n: number): number {
  if (n <= 0) return 0;
  const need = n < CLOG_TABLE_SIZE ? n : CLOG_TABLE_SIZE - 1;
  if (need > clogFilled) fillClog(need);
  let sum = 0;
  if (n < CLOG_TABLE_SIZE) {
    // Every count is ≤ n: table reads only, no branch (clog[0] = clog[1] = 0). Eight partial sums,
    // so that the additions do not wait on each other as one running sum's do (the result may
    // differ from it in the last bit).
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (let i = 0; i < 256; i += 8) {
      s0 += clog[hist[i] as number] as number;
      s1 += clog[hist[i + 1] as number] as number;
      s2 += clog[hist[i + 2] as number] as number;
      s3 += clog[hist[i + 3] as number] as number;
      s4 += clog[hist[i + 4] as number] as number;
      s5 += clog[hist[i + 5] as number] as number;
      s6 += clog[hist[i + 6] as number] as number;
      s7 += clog[hist[i + 7] as number] as number;
    }
    sum = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  } else {
    for (let i = 0; i < 256; i++) {
      const c = hist[i] as number;
      if (c > 1) sum += c < CLOG_TABLE_SIZE ? (clog[c] as number) : c * Math.log2(c);
    }
  }
  const h = Math.log2(n) - sum / n;
  return h > 0 ? h : 0;
}

/** Cache: the expected entropy of n random bytes, by n (a pure function; bounded, cleared when full). */
const expectedCache = new Map<number, number>();
const EXPECTED_CACHE_MAX_COUNT = 4096;

/**
 * Exact E[H_plugin] for n i.i.d. uniform bytes. With C_k ~ Binomial(n, 1/256) the count of value k,
 *   H = log2 n − (1/n) Σ_k C_k log2 C_k   ⇒   E[H] = log2 n − (256/n) · E[C log2 C].
 * E[C log2 C] is summed over the binomial pmf (log-space recurrence, no underflow) up to
 * mean + 12 sd, beyond which terms are < 1e-30. O(n/256) work; cached.
 * Large-n check: this tends to the Miller–Madow value 8 − 255 / (2 n ln 2) (see millerMadow()).
 */
export function randomExpected(n: number): number {
  if (n <= 1) return 0;
  const cached = expectedCache.get(n);
  if (cached !== undefined) return cached;
  const q = 1 / 256;
  const mean = n * q;
  const sd = Math.sqrt(n * q * (1 - q));
  const kMax = Math.min(n, Math.ceil(mean + 12 * sd + 20));
  let logP = n * Math.log1p(-q); // log P(C = 0)
  const logRatio = Math.log(q / (1 - q));
  let eClogC = 0;
  for (let k = 0; k < kMax; k++) {
    logP += Math.log((n - k) / (k + 1)) + logRatio; // → log P(C = k + 1)
    const c = k + 1;
    if (c > 1) eClogC += Math.exp(logP) * c * Math.log2(c);
  }
  const e = Math.log2(n) - (256 / n) * eClogC;
  if (expectedCache.size >= EXPECTED_CACHE_MAX_COUNT) expectedCache.clear();
  expectedCache.set(n, e);
  return e;
}

/** Miller–Madow approximation of randomExpected: 8 − (256 − 1) / (2 n ln 2). Good for n ≳ 1000. */
export function millerMadow(n: number): number {
  return 8 - 255 / (2 * n * Math.LN2);
}

export function entropyInfo(hist: Uint32Array, n: number): EntropyInfo {
  const bits = shannonBits(hist, n);
  const expected = randomExpected(n);
  return { bits, sample: n, randomExpected: expected, score: expected > 0 ? bits / expected : 0 };
}

/** Convenience for tests and one-off callers: EntropyInfo of a byte array (allocates one histogram). */
export function entropyOf(bytes: Uint8Array): EntropyInfo {
  const h = new Uint32Array(256);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    h[b] = (h[b] as number) + 1;
  }
  return entropyInfo(h, bytes.length);
}
