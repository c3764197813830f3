// The eBPF feed and a pcap replay of the same traffic give the same flow records (issue 7):
// a SPAN lab (client ↔ server, both directions mirrored to a tap namespace), `ndr-sensor run`
// on the tap interface through the eBPF feed, tcpdump on the same interface at the same time;
// then the tcpdump capture is replayed. Per flow: protocol, SNI, JA4, and the packet and byte
// counters per direction (the kernel's, from its flow-end records) must be equal.
//
// The reference is two tcpdumps, not one. An AF_PACKET capture once missed a client's pure ACK
// that the kernel program counted (once in 48 runs of about 100 packets, no drop reported);
// every other flow of that run had the same ACK at the same place. So the counters must equal
// those of at least one of the two captures: a bug of ours would disagree with both.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSpanLab, type SpanLab } from '../../lab/span-lab.js';
import { replayFiles } from '../../src/runtime/replay.js';
import { tlsOf } from '../../dissectors/tls/record.js';

const root = join(new URL('.', import.meta.url).pathname, '..', '..');
const cli = join(root, 'dist', 'ndr-sensor.mjs');
let lab: SpanLab;
let tries = 0;

beforeAll(async () => {
  lab = await createSpanLab('fv');
  await lab.startTlsServer();
});
afterAll(async () => { await lab.close(); });

describe('eBPF feed vs pcap replay', () => {
  // With 2 workers the kernel's flow-end records must reach the worker that owns each flow, or
  // the counters below would be user space's (a few forwarded packets), not the kernel's.
  // One retry, with fresh traffic and captures: a loaded machine has made both AF_PACKET captures
  // miss a packet the kernel counted (once, in a full-suite run); a bug of ours fails both tries.
  for (const workers of [1, 2]) it(`equal records for the same TLS traffic (${workers} flow worker${workers > 1 ? 's' : ''})`, { retry: 1 }, async () => {
    const run = `${workers}-${++tries}`; // a retry writes files of its own
    const out = join(lab.dir, `feed-${run}.jsonl`);
    const cfg = join(lab.dir, `sensor-${run}.yaml`);
    writeFileSync(cfg, `sensor:\n  workers: ${workers}\ncapture:\n  interfaces: [${lab.tapIface}]\n  source: ebpf\noutput:\n  jsonLines: ${out}\nmetrics:\n  listen: ''\n`);
    const pcaps = [0, 1].map((k) => join(lab.dir, `tap-${run}-${k}.pcap`));
    const stops = await Promise.all(pcaps.map((pcap) => lab.tapDump(pcap, ['-s', '0', '-Q', 'in'])));
    const sensor = spawn('ip', ['netns', 'exec', lab.tap, process.execPath, cli, 'run', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    sensor.stderr.on('data', (d: Buffer) => { log += d.toString(); });
    for (let i = 0; i < 100 && !log.includes('capturing with'); i++) await sleep(100);
    expect(log).toContain('capturing with the eBPF feed');
    await sleep(500);
    const ports = await lab.runTlsClients({ count: 5, concurrency: 5, messages: 4, intervalMs: 20 });
    expect(ports).toHaveLength(5);
    await sleep(3000); // FIN + the loader's linger: flow-end records with the final counters
    sensor.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => sensor.once('exit', (c) => res(c)));
    expect(code).toBe(0);
    await Promise.all(stops.map((stop) => stop()));

    const feed = readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    const refs = await Promise.all(pcaps.map(async (p) => (await replayFiles([p], { withAnalytics: false })).flows));
    for (const port of ports) {
      const a = feed.find((f) => f.source?.port === port && f.destination?.port === 4433); // certificate and JA4 documents name no endpoints
      expect(a, `feed flow for client port ${port}`).toBeDefined();
      const both = refs.map((flows) => flows.find((f) => f.client.port === port && f.server.port === 4433));
      for (const b of both) expect(b, `replayed flow for client port ${port}`).toBeDefined();
      const same = (b: typeof both[number]): boolean => a!.source.packets === b!.dirs[0].packets && a!.destination.packets === b!.dirs[1].packets
        && a!.source.bytes === b!.dirs[0].bytes && a!.destination.bytes === b!.dirs[1].bytes;
      const b = both.find(same) ?? both[0];
      if (!both.every(same)) console.log(`port ${port}: the feed's counters equal ${both.filter(same).length} of the 2 captures'`);
      expect(a!.network.protocol).toBe('tls');
      expect(b!.protocol).toBe('tls');
      expect(a!.tls.client.server_name).toBe('lab.test');
      expect(a!.tls.client.ja4).toBe(tlsOf(b!)!.ja4);
      expect(a!.tls.client.server_name).toBe(tlsOf(b!)!.sni);
      expect(a!.source.packets).toBe(b!.dirs[0].packets);
      expect(a!.destination.packets).toBe(b!.dirs[1].packets);
      expect(a!.source.bytes).toBe(b!.dirs[0].bytes);
      expect(a!.destination.bytes).toBe(b!.dirs[1].bytes);
      expect(a!.event.reason).toBe('fin');
    }
  });
});
