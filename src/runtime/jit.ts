/**
 * V8 tuning for the packet path.
 *
 * On a small machine the packet thread's worst competitor is V8 itself: while TurboFan compiles
 * the hot functions and the GC helpers run on their background threads, the packet thread shares
 * its core with them and runs unoptimised code. Three settings keep that phase short and off the
 * packet thread's core (the figures behind each are in docs/PERFORMANCE.md):
 *
 *   - one background thread fewer than there are cores (`--v8-pool-size`, 1 to 4), so V8's
 *     helpers leave one core to the packet thread. It must be given when node starts:
 *     bin/ndr-sensor passes it, and so does everything here that starts a sensor process
 *     (nodeFlags());
 *   - half the cumulative inlining budget (set here, before the first packet): less for TurboFan
 *     to compile while the first flows run, with no loss once the process is warm;
 *   - a quarter of the default tier-up budget (`--interrupt-budget`, the bytecode executed before a
 *     function is considered for TurboFan; set here too): a function called once per connection
 *     (the record build, the hello handlers) would otherwise stay unoptimised for the first
 *     thousand or so connections, which is most of a short capture.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { codeCacheState } from '../util/code-cache.js';

/** V8's flags are process-wide: a memo that they have been set, so a second pipeline does not set them again. */
let tuned = false;

export function tuneJit(): void {
  if (tuned) return;
  tuned = true;
  // V8 refuses a code cache made under other flags than its reader's, so the build's warm-up run,
  // which makes the CLI's cache, keeps V8's defaults (the bytecode it keeps does not depend on them).
  if (codeCacheState() === 'writing') return;
  setFlagsFromString('--max-inlined-bytecode-size-cumulative=460');
  setFlagsFromString('--interrupt-budget=16000');
}

/**
 * A replay of capture files this small (regular files, not gzip-compressed) runs in one thread
 * unless asked for shards (src/cli/commands.ts), and holds V8's young generation at the size it has
 * when the replay starts (holdYoungGeneration).
 *
 * V8 doubles its young generation, up to 32 MiB resident, whenever most of what a scavenge finds
 * survives, and in a capture of many short flows that is every scavenge: each flow lives until its
 * timeout or the end of the capture, which in a small capture is the same moment. For a capture
 * this small the larger young generation costs its resident memory and saves nothing, since the
 * process ends before fewer scavenges make up for it. A longer one needs it: with a young
 * generation that small, its live flows are promoted early and the old generation is marked over
 * and over, and a hold released part way still leaves it slower (docs/PERFORMANCE.md). So the
 * choice is made once, from the files' sizes, before the first packet. A compressed file's size
 * says little of its capture, stdin nothing: neither is held.
 */
export const SHORT_CAPTURE_BYTES = 8 << 20;

/** The capture files are regular, uncompressed and together at most SHORT_CAPTURE_BYTES. */
export function isShortCapture(files: readonly string[]): boolean {
  let total = 0;
  for (const f of files) {
    if (f === '-') return false;
    let fd = -1;
    try {
      fd = openSync(f, 'r');
      const st = fstatSync(fd);
      if (!st.isFile()) return false;
      total += st.size;
      const magic = new Uint8Array(2);
      if (readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b) return false;
    } catch {
      // The replay itself reports a file it cannot open.
      return false;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  return total <= SHORT_CAPTURE_BYTES;
}

let youngHeld = false;

/** Keep V8's young generation from growing (a short replay; releaseYoungGeneration ends it). */
export function holdYoungGeneration(): void {
  // As in tuneJit: the build's warm-up run writes the code cache under V8's own flags.
  if (youngHeld || codeCacheState() === 'writing') return;
  youngHeld = true;
  setFlagsFromString('--semi-space-growth-factor=1');
}

/** V8 grows its young generation again as by default (factor 2); a no-op unless held. */
export function releaseYoungGeneration(): void {
  if (!youngHeld) return;
  youngHeld = false;
  setFlagsFromString('--semi-space-growth-factor=2');
}

/** V8 background threads for a sensor process: a core is left to the packet thread (1 to 4). */
export function v8PoolSize(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores - 1));
}

/**
 * Flow workers for a replay when none are asked for: one per core but one, which is left to the
 * main thread (reading and dispatch, then the later stages: naming, enrichment, analytics,
 * outputs) and V8's own threads. So 1 on two cores, which means everything in one thread: there a
 * second worker costs more CPU than it brings (each worker isolate compiles the engine again, and
 * every record is encoded in the worker and rebuilt in the main thread; docs/PERFORMANCE.md, "two
 * workers against one").
 */
export function replayWorkers(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** Flow workers for a replay not told how many: one for a short capture (isShortCapture), else replayWorkers. */
export function defaultReplayWorkers(short: boolean, cores = availableParallelism()): number {
  return short ? 1 : replayWorkers(cores);
}

/** Node flags for a process that runs the packet path (as bin/ndr-sensor starts the CLI). */
export function nodeFlags(): string[] {
  const env = Number(process.env.NDR_V8_POOL_SIZE);
  return [`--v8-pool-size=${Number.isInteger(env) && env > 0 ? env : v8PoolSize()}`];
}
