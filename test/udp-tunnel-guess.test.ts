// A UDP tunnel recognised by its port number alone is a guess. Ephemeral ports include 4789
// (VXLAN), 4790 (VXLAN-GPE), 6081 (Geneve), 2152 (GTP-U), 1701 (L2TP), 37008 (TZSP), 4754
// (GRE-in-UDP), 6635 (MPLS-in-UDP) and 3544 (Teredo): a DNS lookup sent from one of them must stay
// a DNS lookup whatever its message id makes the first bytes look like, as Suricata falls back to
// UDP when a tunnel does not decode.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FLOOD_T0, ip4, PcapStreamWriter } from '../lab/gen-floods.js';
import { replayFiles } from '../src/runtime/replay.js';
import { dnsOf } from '../dissectors/dns/record.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-udp-guess-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PORTS = [4789, 4790, 6081, 2152, 1701, 37008, 4754, 6635, 3544, 8472];

/** A one-question A lookup: id, flags, counts, the name, type A, class IN; answered with one record. */
function lookup(id: number, name: string, answer: boolean): Uint8Array {
  const labels = name.split('.');
  const qlen = labels.reduce((n, l) => n + 1 + l.length, 1) + 4;
  const out = Buffer.alloc(12 + qlen + (answer ? 16 : 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(answer ? 0x8180 : 0x0100, 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(answer ? 1 : 0, 6);
  let o = 12;
  for (const l of labels) { out[o++] = l.length; out.write(l, o, 'latin1'); o += l.length; }
  out[o++] = 0;
  out.writeUInt16BE(1, o); out.writeUInt16BE(1, o + 2); o += 4;
  if (answer) {
    out.writeUInt16BE(0xc00c, o); out.writeUInt16BE(1, o + 2); out.writeUInt16BE(1, o + 4);
    out.writeUInt32BE(60, o + 6); out.writeUInt16BE(4, o + 10); out.writeUInt32BE(0x64400001, o + 12);
  }
  return out;
}

describe('UDP tunnels guessed by port', () => {
  it('DNS lookups sent from a tunnel port stay DNS lookups, whatever their message id', async () => {
    const file = join(dir, 'dns-from-tunnel-ports.pcap');
    const w = new PcapStreamWriter(file);
    const resolver = ip4('10.0.0.53');
    // Message ids spread over every value of the first two bytes a tunnel header check reads.
    const ids: number[] = [];
    for (let hi = 0; hi < 256; hi += 1) ids.push((hi << 8) | ((hi * 37) & 0xff));
    let n = 0;
    for (const port of PORTS) {
      for (const id of ids) {
        // One client per lookup: the tuple (client, port, resolver, 53) is then new each time.
        const client = ip4('10.60.0.0') + n + 1;
        const name = `q${n}.guess.test`;
        const ts = FLOOD_T0 + n * 10;
        w.udp(ts, client, port, resolver, 53, lookup(id, name, false));
        w.udp(ts + 1, resolver, 53, client, port, lookup(id, name, true));
        n++;
      }
    }
    w.close();
    const r = await replayFiles([file], { workers: 1 });
    const names = new Set<string>();
    for (const f of r.flows) {
      const d = dnsOf(f);
      for (const q of d?.queries ?? []) names.add(q);
    }
    const missing: string[] = [];
    for (let i = 0; i < n; i++) if (!names.has(`q${i}.guess.test`)) missing.push(`q${i} (port ${PORTS[Math.floor(i / ids.length)]}, id ${ids[i % ids.length]!.toString(16)})`);
    expect(missing.slice(0, 10)).toEqual([]);
    expect(r.stats.malformed).toBe(0);
    // Each lookup is one flow of two packets: the answer was not taken for a tunnel either.
    const dnsFlows = r.flows.filter((f) => dnsOf(f) !== null);
    expect(dnsFlows.length).toBe(n);
    for (const f of dnsFlows) expect(f.dirs[0].packets + f.dirs[1].packets).toBe(2);
  });

  it('between ephemeral ports, a datagram on 4789 or 4790 is VXLAN only when its reserved bits are zero', async () => {
    const file = join(dir, 'vxlan-reserved.pcap');
    const w = new PcapStreamWriter(file);
    const a = ip4('10.61.0.1');
    const z = ip4('10.61.0.2');
    const text = new TextEncoder().encode('an application of its own that happens to use this port');
    // The I flag (VXLAN) or the I and P flags (VXLAN-GPE) set, but other bytes where zeros belong.
    const cases: [number, number, Uint8Array][] = [
      [50_000, 4789, Buffer.concat([Buffer.from([0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00]), text])],
      [50_001, 4789, Buffer.concat([Buffer.from([0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x2a]), text])],
      [50_002, 4790, Buffer.concat([Buffer.from([0x0c, 0x00, 0x10, 0x01, 0x00, 0x00, 0x07, 0x00]), text])],
    ];
    let ts = FLOOD_T0;
    for (const [sp, dp, body] of cases) {
      w.udp(ts, a, sp, z, dp, body);
      w.udp(ts + 1, z, dp, a, sp, body);
      ts += 10;
    }
    w.close();
    const r = await replayFiles([file], { workers: 1 });
    for (const [sp, dp] of cases) {
      const f = r.flows.find((x) => x.client.port === sp && x.server.port === dp);
      expect(f, `flow ${sp} -> ${dp}`).toBeDefined();
      expect(f!.tunnelDepth).toBe(0);
      expect(f!.dirs[0].packets + f!.dirs[1].packets).toBe(2);
    }
  });
});
