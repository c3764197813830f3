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
import { tsharkLines } from './helpers/tshark.js';

const root = join(new URL('.', import.meta.url).pathname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndr-field-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** key: the transport and the two endpoints sorted; sent: per endpoint, packets, payload bytes, IP bytes. */
interface Conv { key: string; client: string; start: number; sent: Record<string, [number, number, number]>; sni: string; ja3: string }

const FIELDS = ['frame.time_epoch', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport',
  'ip.hdr_len', 'ipv6.plen', 'ipv6.reassembled.length', 'ipv6.hopopts.len_oct', 'ipv6.routing.len_oct', 'ipv6.dstopts.len_oct', 'tcp.hdr_len', 'tcp.len', 'udp.length', 'tls.handshake.extensions_server_name', 'tls.handshake.ja3'];

/**
 * Decoding tshark cannot guess: an Ethernet pseudowire behind a control word whose MAC address
 * begins with a 0 nibble is read as bare Ethernet unless told the label's payload.
 */
const DECODE_AS: Record<string, string[]> = { 'mpls-pw': ['-d', 'mpls.label==200,pwethcw'] };

function tshark(file: string, extra: string[] = []): Promise<string[]> {
  // Out-of-order reassembly on: else tshark gives up on a ClientHello whose segments were
  // retransmitted with other bytes or overlap, which a receiving stack still assembles.
  return tsharkLines(['-o', 'tcp.reassemble_out_of_order:TRUE', ...extra, '-r', file, '-T', 'fields', '-E', 'occurrence=l', ...FIELDS.flatMap((f) => ['-e', f])]);
}

function key(transport: string, a: string, b: string): string {
  return `${transport} ${[a, b].sort().join(' ')}`;
}

/** tshark's innermost TCP/UDP conversations: per endpoint, packets, payload bytes and IP bytes sent. */
function tsharkConvs(lines: string[]): Map<string, Conv> {
  const convs = new Map<string, Conv>();
  for (const line of lines) {
    const [epoch = '', protos = '', ips, ipd, i6s, i6d, ts, td, us, ud, ipHl, plen, p6Reasm, hbh, rth, dopt, tcpHl, tcpLen, udpLen, sni, ja3] = line.split('\t');
    const pl = protos.split(':');
    if (pl.includes('icmp') || pl.includes('icmpv6')) continue;
    const lastIp = Math.max(pl.lastIndexOf('ip'), pl.lastIndexOf('ipv6'));
    if (lastIp < 0) continue;
    const l4 = pl.lastIndexOf('tcp') > lastIp ? 'tcp' : pl.lastIndexOf('udp') > lastIp ? 'udp' : '';
    if (l4 === '') continue;
    const v6 = pl[lastIp] === 'ipv6';
    const src = `${v6 ? i6s : ips}:${l4 === 'tcp' ? ts : us}`;
    const dst = `${v6 ? i6d : ipd}:${l4 === 'tcp' ? td : ud}`;
    // The innermost IP datagram's length, reassembled if it was fragmented: from its headers and
    // the TCP/UDP length (a reassembled-length field may be an outer tunnel header's, and IPv6's
    // leaves out the extension headers before the fragment header).
    const payload = l4 === 'tcp' ? Number(tcpLen) : Number(udpLen) - 8;
    const l4Len = l4 === 'tcp' ? Number(tcpHl) + payload : Number(udpLen);
    const bytes = !v6 ? Number(ipHl) + l4Len : p6Reasm ? 40 + Number(hbh || 0) + Number(rth || 0) + Number(dopt || 0) + l4Len : 40 + Number(plen);
    const k = key(l4, src, dst);
    let c = convs.get(k);
    // start: the first packet's time in whole milliseconds, as event.start carries it
    // The generator's clients use ports from 50000 up, its servers 443 and 53: the client is
    // known whatever order or direction the tap gave the packets in.
    const client = Number(src.slice(src.lastIndexOf(':') + 1)) >= 50000 ? src : dst;
    if (c === undefined) { c = { key: k, client, start: Math.floor(Number(epoch) * 1000), sent: {}, sni: '', ja3: '' }; convs.set(k, c); }
    const s = (c.sent[src] ??= [0, 0, 0]);
    s[0]++;
    s[1] += payload;
    s[2] += bytes;
    if (sni && c.sni === '') c.sni = sni;
    if (ja3 && c.ja3 === '') c.ja3 = ja3;
  }
  return convs;
}

interface EcsSide { ip: string; port: number; packets?: number; bytes?: number }

function ourConvs(docs: Record<string, unknown>[]): Map<string, Conv> {
  const convs = new Map<string, Conv>();
  for (const d of docs) {
    const s = d.source as EcsSide;
    const t = d.destination as EcsSide;
    const transport = (d.network as { transport: string }).transport;
    const sa = `${s.ip}:${s.port}`;
    const ta = `${t.ip}:${t.port}`;
    const tls = (d.tls as { client?: { server_name?: string; ja3?: string } } | undefined)?.client;
    const ipBytes = (d.ndr as { flow: { ip_bytes: { to_server: number; to_client: number } } }).flow.ip_bytes;
    const sent: Record<string, [number, number, number]> = {};
    if ((s.packets ?? 0) > 0) sent[sa] = [s.packets ?? 0, s.bytes ?? 0, ipBytes.to_server];
    if ((t.packets ?? 0) > 0) sent[ta] = [t.packets ?? 0, t.bytes ?? 0, ipBytes.to_client];
    const k = key(transport, sa, ta);
    expect(convs.has(k), `one flow per conversation: ${k}`).toBe(false);
    convs.set(k, { key: k, client: sa, start: Date.parse((d.event as { start: string }).start), sent, sni: tls?.server_name ?? '', ja3: tls?.ja3 ?? '' });
  }
  return convs;
}

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
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) decoded.set(name, await tshark(fileOf(name), DECODE_AS[name]));
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
