/** Benchmarks of the other stages (gRPC enrichment and SIEM delivery, analytics, pub/sub dissectors, live feeds). */
import { benchEnrich, benchSiem } from './enrich-siem.js';
import { benchAnalytics } from './analytics.js';
import { benchPubsub } from './fuzz-pubsub.js';
import { benchFleet } from './fleet.js';
import { benchClassify, classifyLines } from './classify.js';

export interface Bench {
  name: string;
  run(): Promise<string[]>;
}

const f = (n: number, d = 0) => n.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });

export const extraBenches: Bench[] = [
  {
    name: 'EDR attribution over gRPC (loopback, reference EDR holding 1,000,000 network events)',
    async run() {
      const r = await benchEnrich({ events: 1_000_000 });
      return [`${f(r.perSecond)} flows/s attributed (${f(r.count)} flows in ${r.seconds.toFixed(2)} s; target ${f(r.target)})`, JSON.stringify(r.detail)];
    },
  },
  {
    name: 'SIEM feed (loopback collector, through the disk spool)',
    async run() {
      const r = await benchSiem();
      return [`${f(r.perSecond)} records/s delivered and acknowledged (${f(r.count)} in ${r.seconds.toFixed(2)} s; target ${f(r.target)})`, JSON.stringify(r.detail)];
    },
  },
  {
    name: 'Five analytics with a warm lmdb baseline',
    async run() {
      const r = await benchAnalytics(200_000);
      return [`${f(r.flowsPerSecond)} flows/s wall, ${f(r.flowsPerCpuSecond)} flows per CPU-second (${f(r.flows)} flows, ${r.alerts} alerts, warm=${String(r.baselineWarm)}; target 100,000)`];
    },
  },
  {
    name: 'Five analytics on the fleet store (Redis: one server, then a 3x3 cluster with WAIT 1), beside lmdb',
    async run() {
      const lm = await benchAnalytics(50_000);
      const out = [`lmdb: ${f(lm.flowsPerSecond)} flows/s (${f(lm.flows)} flows)`];
      for (const kind of ['redis', 'redis cluster'] as const) {
        const r = await benchFleet(kind, 50_000);
        out.push(`${kind}: ${f(r.flowsPerSecond)} flows/s (${f(r.flows)} flows, ${r.alerts} alerts), ${f(r.roundTripsPerFlow, 4)} round trips per flow (${f(r.flushes)} flushes), ${f(r.scorings)} pair scorings; ${f(r.pairs)} pairs, ${f(r.bytesPerPair)} bytes per pair (${f(r.connectionsPerPair, 1)} connections each)`);
      }
      return out;
    },
  },
  {
    name: 'Classification per call (in process, best of 15 passes of 200,000 calls; probing only)',
    async run() {
      return Promise.resolve(classifyLines(benchClassify()));
    },
  },
  {
    name: 'Pub/sub dissectors (one concatenated stream in 64 KiB pieces)',
    async run() {
      return benchPubsub(200_000).map((b) => `${b.name}: ${f(b.msgPerS)} messages/s, ${f(b.mbPerS, 1)} MB/s`);
    },
  },
  {
    name: 'Live feeds under load (iperf3 + 1,000 TLS handshakes; eBPF vs libpcap; root only, BENCH_LIVE=0 skips)',
    async run() {
      if (process.env.BENCH_LIVE === '0') return ['skipped (BENCH_LIVE=0)'];
      if (typeof process.getuid === 'function' && process.getuid() !== 0) return ['skipped: needs root (network namespaces, eBPF)'];
      const { runLoadComparison, formatLoadFigures } = await import('./live-load.js');
      return formatLoadFigures(await runLoadComparison({})).split('\n');
    },
  },
];
