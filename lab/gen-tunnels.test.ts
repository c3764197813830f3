/**
 * The tunnel generator run afresh in network namespaces (root, as CI is): a real curl ↔ Node HTTP
 * exchange over IPv4 and IPv6, wrapped in IP-in-IP, 6in4, GTP-U and Teredo; tshark reads every
 * wrap down to the inner HTTP request, and the sensor gives the inner flow with the tunnel named.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { appOf } from '../src/contract/api.js';
import { httpSection } from '../dissectors/http/record.js';
import type { FlowRecord } from '../src/flow/record.js';

const http = (f: FlowRecord | undefined) => (f === undefined ? null : appOf(f, httpSection));
import { generateTunnelCaptures, OUTER, type TunnelResult } from './gen-tunnels.js';
import { HTTP_PATHS } from './peers/misc-names.js';

const out = mkdtempSync(join(tmpdir(), 'ndr-tunnels-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('tunnel captures generated afresh', () => {
  let r: TunnelResult;
  it('wraps a real exchange four ways; tshark and the sensor both see the inner flow', async () => {
    r = await generateTunnelCaptures(out);
    for (const [file, layer, type, inner] of [
      ['ipip-http.pcap', 'ip:ip:tcp', 'ipip', r.inner4], ['sit-http.pcap', 'ip:ipv6:tcp', '6in4', r.inner6],
      ['gtpu-http.pcap', 'udp:gtp:ip:tcp', 'gtpu', r.inner4], ['teredo-http.pcap', 'udp:teredo:ipv6:tcp', 'teredo', r.innerTeredo],
    ] as const) {
      const path = r.files[file];
      const reqs = execFileSync('tshark', ['-r', path, '-Y', 'http.request', '-T', 'fields', '-e', 'frame.protocols', '-e', 'http.request.uri'], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString().trim().split('\n');
      expect(reqs.map((l) => l.split('\t')[1])).toEqual(HTTP_PATHS);
      expect(reqs.every((l) => l.includes(layer))).toBe(true);
      const { flows } = await replayFiles([path], { withAnalytics: false });
      expect(flows.map((f) => [f.client.ip, f.server.ip, f.protocol, http(f)?.requests, f.tunnel?.type, f.tunnel?.outerClient, f.tunnel?.outerServer]))
        .toEqual([[inner.client, inner.server, 'http', 2, type, OUTER.client, OUTER.server]]);
    }
  }, 60_000);

  it('the broken twins lose only their broken packets', async () => {
    const good = await replayFiles([r.files['gtpu-http.pcap']], { withAnalytics: false });
    const bad = await replayFiles([r.files['gtpu-malformed.pcap']], { withAnalytics: false });
    expect(bad.stats.malformed).toBe(3);
    expect(http(bad.flows[0])).toEqual(http(good.flows[0]));
    const tbad = await replayFiles([r.files['teredo-malformed.pcap']], { withAnalytics: false });
    expect(tbad.stats.events.get('decoder.teredo.truncated')).toBe(1);
    expect(tbad.flows[0]?.protocol).toBe('http');
  });
});
