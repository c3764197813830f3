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

/** Node flags for a process that runs the packet path (as bin/ndr-sensor starts the CLI). */
export function nodeFlags(): string[] {
  const env = Number(process.env.NDR_V8_POOL_SIZE);
  return [`--v8-pool-size=${Number.isInteger(env) && env > 0 ? env : v8PoolSize()}`];
}
