// Worker threads sharded by flow hash give the same set of records as one thread
// (flow ids aside: they are unique per run, not equal across runs).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import type { FlowRecord } from '../src/flow/record.js';

const shared = join(new URL('.', import.meta.url).pathname, '..', '..', 'shared');
const canon = (fs: FlowRecord[]) => fs.map((f) => JSON.stringify({ ...f, id: 0 })).sort();

describe('sharded replay', () => {
  for (const cap of ['conformance/ja4/pcaps/tls-handshake.pcapng', 'conformance/ja4/pcaps/gre-erspan-vxlan.pcap', 'conformance/ja4/pcaps/ipv6.pcapng', 'datasets/otrf-empire-psremoting/workstation5.cap']) {
    it(`2 workers = 1 worker on ${cap}`, async () => {
      const path = join(shared, cap);
      const one = await replayFiles([path], { workers: 1, withAnalytics: false });
      const two = await replayFiles([path], { workers: 2, withAnalytics: false });
      expect(one.flows.length).toBeGreaterThan(0);
      expect(canon(two.flows)).toEqual(canon(one.flows));
      expect(two.stats.packets).toBe(one.stats.packets);
      expect(new Set(two.flows.map((f) => f.id)).size).toBe(two.flows.length);
    });
  }
});
