/**
 * `npm run longrun [-- MINUTES [FILE]]`: replay the benchmark capture in a loop through ONE pipeline
 * for MINUTES (default 10), shifting packet time forward each loop so the sensor sees continuous
 * traffic (flows start, end and expire as they would live). RSS and heap are sampled every 5 s;
 * the summary compares the samples after warm-up (first loop) with the last ones. Not run in CI.
 */
import { openCaptureFile } from '../src/capture/pcap-file.js';
import type { CaptureSource, PacketBatch } from '../src/capture/source.js';
import { Pipeline } from '../src/runtime/pipeline.js';

function shifted(src: CaptureSource, offsetMs: number): CaptureSource {
  return {
    name: src.name,
    stats: () => src.stats(),
    close: () => src.close(),
    async *batches(): AsyncIterable<PacketBatch> {
      for await (const b of src.batches()) {
        for (let i = 0; i < b.n; i++) b.tsMs[i] = (b.tsMs[i] as number) + offsetMs;
        yield b;
      }
    },
  };
}

const minutes = Number(process.argv[2] ?? 10);
const file = process.argv[3] ?? 'pcaps/bench/bench.pcap';
let flows = 0;
const p = new Pipeline({ onFlow: () => { flows++; } });
const t0 = Date.now();
const samples: { s: number; rssMiB: number; heapMiB: number; flows: number; loops: number }[] = [];
let loops = 0;
let firstLoopEnd = 0;
const timer = setInterval(() => {
  const m = process.memoryUsage();
  const s = { s: Math.round((Date.now() - t0) / 1000), rssMiB: Math.round(m.rss / 1048576), heapMiB: Math.round(m.heapUsed / 1048576), flows, loops };
  samples.push(s);
  console.log(`t=${s.s}s rss=${s.rssMiB}MiB heap=${s.heapMiB}MiB flows=${s.flows} loops=${s.loops} active=${p.engine.table.size}`);
}, 5000);
let span = 0;
while (Date.now() - t0 < minutes * 60_000) {
  const src = openCaptureFile(file);
  let first = 0;
  let last = 0;
  await p.run(shifted({ name: src.name, stats: () => src.stats(), close: () => src.close(), batches: async function* () {
    for await (const b of src.batches()) {
      if (first === 0 && b.n > 0) first = b.tsMs[0] as number;
      if (b.n > 0) last = b.tsMs[b.n - 1] as number;
      yield b;
    }
  } }, loops * (span + 60_000)));
  if (span === 0) span = last - first;
  loops++;
  if (loops === 1) firstLoopEnd = samples.length;
}
clearInterval(timer);
await p.finish();
const warm = samples.slice(firstLoopEnd);
const rss = warm.map((x) => x.rssMiB);
const third = Math.max(1, Math.floor(rss.length / 3));
const avg = (a: number[]) => a.reduce((x, y) => x + y, 0) / Math.max(1, a.length);
console.log(`\nlong run: ${loops} loops of ${file} in ${minutes} min, ${flows} flows; RSS after warm-up: first third ${avg(rss.slice(0, third)).toFixed(0)} MiB, last third ${avg(rss.slice(-third)).toFixed(0)} MiB, max ${Math.max(...rss, 0)} MiB, min ${Math.min(...rss, 1e9)} MiB`);
