// Tap realities against tshark: lab/gen-field.py (scapy) writes one TLS connection and a DNS
// exchange the way taps and capture tools hand them over: VLAN, QinQ, MPLS (and an Ethernet
// pseudowire), PPPoE, GRE (key, sequence, checksum; PPTP), ERSPAN I-III, VXLAN, Geneve, GTP-U,
// IP-in-IP, 6in4, 4in6, outer and inner fragments, IPv6 extension headers; Ethernet with FCS or
// padding, SLL, SLL2, raw IP, null/loop, PPP, Cisco HDLC, NFLOG, 802.11, radiotap, PPI; pcap in
// both byte orders and resolutions, pcapng with three interfaces and resolutions; snap lengths;
// ClientHellos over many segments, many records, out of order, rewritten and overlapping, in a
// TFO SYN, without the handshake, after a HelloRetryRequest, across a sequence number wrap;
// one direction only; SYN-ACK before SYN; L2TP and TZSP streams.
// On every file, each TCP/UDP conversation tshark decodes (innermost tuple) must be one flow of
// ours with the same endpoints, client, start, packets, payload bytes and IP bytes each way, TLS server
// name and JA3.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { flowToEcs } from '../src/output/ecs.js';
import { ourConvs, tsharkConvLines, tsharkConvs } from './helpers/field-convs.js';

const root = join(new URL('.', import.meta.url).pathname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndr-field-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Decoding tshark cannot guess: an Ethernet pseudowire behind a control word whose MAC address
 * begins with a 0 nibble is read as bare Ethernet unless told the label's payload.
 */
const DECODE_AS: Record<string, string[]> = { 'mpls-pw': ['-d', 'mpls.label==200,pwethcw'] };

const GEN = join(root, 'lab/gen-field.py');
const CASES = execFileSync('/usr/bin/python3', [GEN, '--list'], { encoding: 'utf8' }).trim().split('\n');
let files: string[] = [];
/** tshark's lines per case, decoded up front a few files at a time (its start-up is most of its time). */
const decoded = new Map<string, string[]>();
const fileOf = (name: string) => join(tmp, files.find((f) => f.startsWith(`${name}.`)) ?? name);
beforeAll(async () => {
  execFileSync('/usr/bin/python3', [GEN, tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
  files = readdirSync(tmp).sort();
  const queue = [...CASES];
  const lane = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) decoded.set(name, await tsharkConvLines(fileOf(name), DECODE_AS[name]));
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, lane));
}, 300_000);

describe('tap realities: flows equal tshark\'s conversations', () => {
  it('generated every case', () => {
    expect(files.length).toBe(CASES.length);
    expect(CASES.length).toBeGreaterThan(60);
  });
  it('a gzip-compressed capture read by worker threads gives the flows one thread gives', async () => {
    const file = join(tmp, 'gzip-pcap.pcap.gz');
    const canon = (fs: Record<string, unknown>[]) => fs.map((d) => JSON.stringify({ ...d, event: { ...(d.event as object), id: 0 }, ndr: { ...(d.ndr as object), flow: 0 } })).sort();
    const one = (await replayFiles([file], { withAnalytics: false })).flows.map((f) => flowToEcs(f) as Record<string, unknown>);
    const two = (await replayFiles([file], { withAnalytics: false, workers: 2 })).flows.map((f) => flowToEcs(f) as Record<string, unknown>);
    expect(one.length).toBe(2);
    expect(canon(two)).toEqual(canon(one));
  });
  it.each(CASES)('%s', async (name) => {
    const file = fileOf(name);
    const want = tsharkConvs(decoded.get(name) ?? []);
    const { flows } = await replayFiles([file], { withAnalytics: false });
    const got = ourConvs(flows.map((f) => flowToEcs(f) as Record<string, unknown>));
    expect(want.size).toBeGreaterThan(0);
    expect([...got.values()].sort((a, b) => a.key.localeCompare(b.key))).toEqual([...want.values()].sort((a, b) => a.key.localeCompare(b.key)));
    // tshark reads a server name wherever a ClientHello was captured whole
    if (!name.startsWith('snaplen') && name !== 'asym-server' && name !== 'midstream-cut-hello') expect([...want.values()].some((c) => c.sni.endsWith('.field.example.test'))).toBe(true);
  });
});
