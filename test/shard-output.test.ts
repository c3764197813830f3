// A sharded replay writes what one thread writes: the same ECS lines (flows and alerts, analytics
// on; flow ids and the alerts' flow_id included) from 1, 2 and 3 workers, on the demo scenario and
// the TLS, pub/sub and DNS golden captures.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles, type ReplayResult } from '../src/runtime/replay.js';
import { alertToEcs, flowToEcs } from '../src/output/ecs.js';

const pcaps = join(dirname(new URL(import.meta.url).pathname), '..', 'pcaps');

/** The replay options the golden test gives a capture (Sysmon log, JA4+ marker, analytics config). */
function optionsOf(capture: string): Parameters<typeof replayFiles>[1] {
  const stem = capture.replace(/\.(pcap|pcapng|cap)$/, '');
  const sysmon = [`${stem}.sysmon.jsonl`, join(dirname(capture), 'sysmon.jsonl')].filter(existsSync);
  const cfgFile = join(dirname(capture), 'analytics-config.json');
  return {
    ja4Plus: existsSync(join(dirname(capture), 'ja4plus')),
    ...(existsSync(cfgFile) ? { analyticsConfig: (JSON.parse(readFileSync(cfgFile, 'utf8')) as { analytics: unknown }).analytics } : {}),
    ...(sysmon.length > 0 ? { sysmon: [sysmon[0] as string] } : {}),
  };
}

function lines(r: ReplayResult): string[] {
  return [...r.flows.map((f) => JSON.stringify(flowToEcs(f))), ...r.alerts.map((a) => JSON.stringify(alertToEcs(a)))].sort();
}

const captures = ['demo/demo.pcap', 'tls/tls12-python-long-chain.pcap', 'tls/tls13-node.pcap', 'mqtt/mqtt-tls.pcap', 'amqp/amqp091-tls.pcap', 'misc/dns.pcap'];

describe('sharded replay output', () => {
  for (const cap of captures) {
    it(`2 workers write the lines 1 worker writes: ${cap}`, async () => {
      const path = join(pcaps, cap);
      const opts = optionsOf(path);
      const one = await replayFiles([path], { ...opts, workers: 1 });
      const two = await replayFiles([path], { ...opts, workers: 2 });
      expect(one.flows.length).toBeGreaterThan(0);
      expect(two.flows.length).toBe(one.flows.length);
      expect(two.alerts.length).toBe(one.alerts.length);
      expect(two.flows.map((f) => f.id)).toEqual(one.flows.map((f) => f.id));
      expect(lines(two)).toEqual(lines(one));
    });
  }

  it('3 workers write the demo as one does, alerts included', async () => {
    const path = join(pcaps, 'demo/demo.pcap');
    const one = await replayFiles([path], { ...optionsOf(path), workers: 1 });
    const three = await replayFiles([path], { ...optionsOf(path), workers: 3 });
    expect(three.alerts.length).toBeGreaterThan(0);
    expect(lines(three)).toEqual(lines(one));
  });
});
