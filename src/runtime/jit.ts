/**
 * V8 tuning for the packet path.
 *
 * On a small machine the packet thread's worst competitor is V8 itself. In the first few hundred
 * milliseconds of a replay TurboFan compiles the hot functions and the GC helpers run, on four
 * background threads by default; on the 2-core test machine the packet thread then got only
 * two thirds of a core, and ran unoptimised code meanwhile. Three settings, measured there on
 * the benchmark capture (7 to 11 alternating runs each):
 *
 *   - one background thread fewer than there are cores (`--v8-pool-size`, 1 to 4): 9 % faster.
 *     It must be given when node starts: bin/ndr-sensor passes it, and so does everything here
 *     that starts a sensor process (nodeFlags());
 *   - half the cumulative inlining budget (set here, before the first packet): TurboFan's compile
 *     time for the replay falls from about 870 to 570 ms, and the replay is 1-4 % faster cold and
 *     no slower warm;
 *   - a quarter of the default tier-up budget (`--interrupt-budget`, 66 KB of bytecode executed
 *     before a function is considered for TurboFan; set here too): a function called once per
 *     connection (the record build, the hello handlers) reaches TurboFan after a few hundred
 *     connections instead of about a thousand. Replay of the benchmark capture 3.9 % faster cold
 *     (11 alternating rounds; 24 KB gave 3.2 %, 40 KB nothing), the handshake capture unchanged.
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';

let tuned = false;

export function tuneJit(): void {
  if (tuned) return;
  tuned = true;
  setFlagsFromString('--max-inlined-bytecode-size-cumulative=460');
  setFlagsFromString('--interrupt-budget=16000');
}

/** V8 background threads for a sensor process: a core is left to the packet thread (1 to 4). */
export function v8PoolSize(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, cores - 1));
}

/**
 * Flow workers for a replay when none are asked for: one per core but one, which is left to the
 * main thread (the later stages: naming, enrichment, analytics, outputs) and V8's own threads.
 * So 1 on two cores, which means everything in one thread: there the whole `replay` of the mixed
 * capture took 2.4-2.6 s with one worker and 3.3 s with two (each worker reads and decodes the
 * whole file, and every record crosses to the main thread).
 */
export function replayWorkers(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** Node flags for a process that runs the packet path (as bin/ndr-sensor starts the CLI). */
export function nodeFlags(): string[] {
  const env = Number(process.env.NDR_V8_POOL_SIZE);
  return [`--v8-pool-size=${Number.isInteger(env) && env > 0 ? env : v8PoolSize()}`];
}
