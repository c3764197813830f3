// Tunnels on the committed captures (pcaps/tunnels/, lab/gen-tunnels.ts): the inner flow is the
// flow (its tuple equals tshark's innermost one), the outermost tunnel and its outer endpoints are
// named on the record, broken or cut-short tunnel headers are named decoder events that lose no
// other packet's flow, and one thread, worker threads reading the file, and this thread dispatching
// to workers all give the same records.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTER } from '../lab/gen-tunnels.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import type { FlowRecord } from '../src/flow/record.js';
import { flowToEcs } from '../src/output/ecs.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { replayFiles } from '../src/runtime/replay.js';
import { appOf } from '../src/dissect/api.js';
import { httpSection } from '../dissectors/http/record.js';
import { ShardedRunner } from '../src/runtime/shard.js';

const dir = join(new URL('.', import.meta.url).pathname, '..', 'pcaps', 'tunnels');
const http = (f: FlowRecord) => appOf(f, httpSection);
const canon = (fs: FlowRecord[]) => fs.map((f) => JSON.stringify({ ...f, id: 0 })).sort();

/** tshark's innermost "src:sport dst:dport" of the capture's first TCP packet. */
function tsharkInner(file: string): string {
  const out = execFileSync('tshark', ['-r', file, '-c', '1', '-T', 'fields', '-E', 'occurrence=l', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport'],
    { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split('\t');
  const [s4, s6, sp, d4, d6, dp] = out;
  return `${s6 || s4}:${sp} ${d6 || d4}:${dp}`;
}

const CASES: readonly [string, string][] = [['ipip-http.pcap', 'ipip'], ['sit-http.pcap', '6in4'], ['gtpu-http.pcap', 'gtpu'], ['teredo-http.pcap', 'teredo']];

describe('tunnels', () => {
  for (const [file, type] of CASES) {
    it(`${file}: the inner HTTP flow, with the ${type} tunnel named`, async () => {
      const path = join(dir, file);
      const { flows } = await replayFiles([path], { withAnalytics: false });
      expect(flows.length).toBe(1);
      const f = flows[0] as FlowRecord;
      expect(`${f.client.ip}:${f.client.port} ${f.server.ip}:${f.server.port}`).toBe(tsharkInner(path));
      expect([f.protocol, http(f)?.method, http(f)?.statusCode, http(f)?.requests]).toEqual(['http', 'GET', 200, 2]);
      expect(f.tunnelDepth).toBe(1);
      const t = (flowToEcs(f).ndr as { tunnel: { type: string; outer: { client_ip: string; server_ip: string }; id?: number } }).tunnel;
      expect([t.type, t.outer.client_ip, t.outer.server_ip]).toEqual([type, OUTER.client, OUTER.server]);
      if (type === 'gtpu') expect(t.id).toBe(0xa1b2c3);
    });
  }

  it('broken GTP-U and Teredo headers are named events; the flow keeps every other packet', async () => {
    for (const [bad, good, events] of [
      ['gtpu-malformed.pcap', 'gtpu-http.pcap', ['decoder.gtpu.bad_ext_header', 'decoder.gtpu.bad_length', 'decoder.gtpu.truncated']],
      ['teredo-malformed.pcap', 'teredo-http.pcap', ['decoder.teredo.truncated']],
    ] as const) {
      const b = await replayFiles([join(dir, bad)], { withAnalytics: false });
      const g = await replayFiles([join(dir, good)], { withAnalytics: false });
      for (const e of events) expect(b.stats.events.get(e), `${bad} ${e}`).toBe(1);
      expect(b.stats.malformed).toBe(events.length);
      expect(b.flows.length).toBe(1);
      const [fb, fg] = [b.flows[0] as FlowRecord, g.flows[0] as FlowRecord];
      expect(http(fb)).toEqual(http(fg));
      expect(fb.dirs[0].packets + fb.dirs[1].packets).toBe(fg.dirs[0].packets + fg.dirs[1].packets - events.length);
      expect(fb.tunnel).toEqual(fg.tunnel);
    }
  });

  it('worker threads (file and dispatched) give the same records, tunnel fields included', async () => {
    for (const [file] of CASES) {
      const path = join(dir, file);
      const one = await replayFiles([path], { workers: 1, withAnalytics: false });
      const two = await replayFiles([path], { workers: 2, withAnalytics: false });
      expect(canon(two.flows)).toEqual(canon(one.flows));
      const flows: FlowRecord[] = [];
      const p = new Pipeline({ onFlow: (r) => flows.push(r) });
      const runner = new ShardedRunner(p, 2, {});
      await runner.run(openCaptureFile(path));
      await runner.finish();
      await p.finish();
      expect(canon(flows)).toEqual(canon(one.flows));
      expect(flows[0]?.tunnel?.outerClient).toBe(OUTER.client);
    }
  });
});
