// Tunnels on the committed captures (pcaps/tunnels/, lab/gen-tunnels.ts): the inner flow is the
// flow (its tuple equals tshark's innermost one), the outermost tunnel and its outer endpoints are
// named on the record, broken or cut-short tunnel headers are named decoder events that lose no
// other packet's flow, and one thread, worker threads reading the file, and this thread dispatching
// to workers all give the same records.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTER, TEREDO_CLIENT_PORT } from '../lab/gen-tunnels.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import type { FlowRecord } from '../src/flow/record.js';
import { flowToEcs } from '../src/output/ecs.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { replayFiles } from '../src/runtime/replay.js';
import { appOf } from '../src/contract/api.js';
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

  it('Teredo: the server, flags and mapped address/port in the client\'s Teredo address, and the origin and authentication indicators, as tshark reads them', async () => {
    const path = join(dir, 'teredo-http.pcap');
    const { flows } = await replayFiles([path], { withAnalytics: false });
    const t = (flowToEcs(flows[0] as FlowRecord).ndr as { tunnel: { teredo: Record<string, unknown> } }).tunnel.teredo;
    // tshark, frame by frame: the Teredo address fields of the IPv6 source and destination, then
    // the origin indication (deobfuscated by tshark) and the authentication indicator
    const rows = execFileSync('tshark', ['-r', path, '-T', 'fields', '-E', 'separator=|', '-e', 'ipv6.src_ts_ipv4', '-e', 'ipv6.src_tc_port', '-e', 'ipv6.src_tc_ipv4', '-e', 'ipv6.dst_ts_ipv4', '-e', 'ipv6.dst_tc_port', '-e', 'ipv6.dst_tc_ipv4',
      '-e', 'teredo.orig.port', '-e', 'teredo.orig.addr', '-e', 'teredo.auth.idlen', '-e', 'teredo.auth.aulen', '-e', 'teredo.auth.nonce', '-e', 'teredo.auth.conf'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim().split('\n').map((l) => l.split('|'));
    expect(rows.length).toBeGreaterThan(8);
    const addr = rows.map((r) => (r[0] ? r.slice(0, 3) : r.slice(3, 6)));
    expect(new Set(addr.map((a) => a.join(' '))).size).toBe(1); // one Teredo client throughout
    const [server, port, mapped] = addr[0] as string[];
    const origins = rows.filter((r) => r[6]);
    const auths = rows.filter((r) => r[8]);
    expect([origins.length, auths.length]).toEqual([5, 1]);
    const o = origins[0] as string[];
    const a = auths[0] as string[];
    expect(t).toEqual({
      endpoint: 'client', server_ip: server, flags: 0x8000, mapped: { ip: mapped, port: Number(port) },
      origin: { ip: o[7], port: Number(o[6]), packets: origins.length },
      auth: { client_id_length: Number(a[8]), value_length: Number(a[9]), nonce: a[10], confirmation: parseInt(a[11] as string, 16), packets: auths.length },
    });
    expect([server, mapped, Number(port)]).toEqual([OUTER.server, OUTER.client, TEREDO_CLIENT_PORT]);
    // the flags word sits between the server and the obfuscated port in the address (RFC 4380 §4)
    expect((flows[0] as FlowRecord).client.ip.split(':')[4]).toBe('8000');
    // other tunnels carry no Teredo section
    const gtp = await replayFiles([join(dir, 'gtpu-http.pcap')], { withAnalytics: false });
    expect((flowToEcs(gtp.flows[0] as FlowRecord).ndr as { tunnel: Record<string, unknown> }).tunnel.teredo).toBeUndefined();
  });

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
