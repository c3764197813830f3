// A sharded replay writes what one thread writes: the same ECS lines (flows and alerts, analytics
// on) from 1 and from 2 workers, on the demo scenario and the TLS and pub/sub golden captures.
// Flow ids are numbered per run (worker-local id × N + worker), so both runs' flows are numbered
// again in one canonical order (by Community ID and times) before the lines are made; the alerts'
// flow_id follows its flow.
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

/** ECS lines with flows numbered by (Community ID, start, end) and alerts pointing at those numbers. */
function lines(r: ReplayResult): string[] {
  const order = [...r.flows].sort((a, b) => a.communityId.localeCompare(b.communityId) || a.startTs - b.startTs || a.endTs - b.endTs);
  const renumber = new Map<number, number>();
  order.forEach((f, i) => renumber.set(f.id, i + 1));
  const flows = r.flows.map((f) => JSON.stringify(flowToEcs({ ...f, id: renumber.get(f.id) as number })));
  const alerts = r.alerts.map((a) => JSON.stringify(alertToEcs({ ...a, flowId: renumber.get(a.flowId) ?? -1 })));
  return [...flows, ...alerts].sort();
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
      expect(lines(two)).toEqual(lines(one));
    });
  }

  it('the demo raises its alerts with 2 workers too', async () => {
    const path = join(pcaps, 'demo/demo.pcap');
    const two = await replayFiles([path], { ...optionsOf(path), workers: 2 });
    expect(two.alerts.length).toBeGreaterThan(0);
  });
});
