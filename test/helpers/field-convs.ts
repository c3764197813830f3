/**
 * The field tests' measure: a capture's TCP/UDP conversations as tshark decodes them (innermost
 * tuple) and as the sensor's flow documents give them, in one shape to compare: endpoints, client,
 * start, per endpoint packets, payload bytes and IP bytes sent, TLS server name and JA3.
 */
import { expect } from 'vitest';
import { tsharkLines } from './tshark.js';

/** key: the transport and the two endpoints sorted; sent: per endpoint, packets, payload bytes, IP bytes. */
export interface Conv { key: string; client: string; start: number; sent: Record<string, [number, number, number]>; sni: string; ja3: string }

const FIELDS = ['frame.time_epoch', 'frame.protocols', 'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport',
  'ip.hdr_len', 'ipv6.plen', 'ipv6.reassembled.length', 'ipv6.hopopts.len_oct', 'ipv6.routing.len_oct', 'ipv6.dstopts.len_oct', 'tcp.hdr_len', 'tcp.len', 'udp.length', 'tls.handshake.extensions_server_name', 'tls.handshake.ja3'];

/** tshark's lines for tsharkConvs (`extra`: decode-as and preferences a case needs). */
export function tsharkConvLines(file: string, extra: string[] = []): Promise<string[]> {
  // Out-of-order reassembly on: else tshark gives up on a ClientHello whose segments were
  // retransmitted with other bytes or overlap, which a receiving stack still assembles.
  return tsharkLines(['-o', 'tcp.reassemble_out_of_order:TRUE', ...extra, '-r', file, '-T', 'fields', '-E', 'occurrence=l', ...FIELDS.flatMap((f) => ['-e', f])]);
}

export function key(transport: string, a: string, b: string): string {
  return `${transport} ${[a, b].sort().join(' ')}`;
}

/** tshark's innermost TCP/UDP conversations: per endpoint, packets, payload bytes and IP bytes sent. */
export function tsharkConvs(lines: string[]): Map<string, Conv> {
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
    // A jumbogram's payload length is 0 (RFC 2675: the hop-by-hop jumbo option carries it).
    const bytes = !v6 ? Number(ipHl) + l4Len : p6Reasm || plen === '0' ? 40 + Number(hbh || 0) + Number(rth || 0) + Number(dopt || 0) + l4Len : 40 + Number(plen);
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

export function ourConvs(docs: Record<string, unknown>[]): Map<string, Conv> {
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

