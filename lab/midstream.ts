/**
 * Mid-stream twins of lab captures: the same packets with the start of each chosen TCP
 * connection dropped (its handshake and its first payload packets), as a sensor that started
 * while the connection ran would see it. Built on the pcap rewriter, so the twin keeps every
 * other packet byte for byte.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rewritePcap, type PacketView, type Rewrite } from './pcap-rewrite.js';

export interface MidstreamCut {
  /** Payload-carrying packets dropped per connection after its handshake (both directions count). */
  skipPayloadPackets: number;
  /** Which connections to cut (default: every TCP connection). */
  select?: (p: PacketView) => boolean;
  /** Further changes to the packets kept (e.g. a client port that makes the port guess wrong). */
  rewrite?: (p: PacketView) => Rewrite;
}

/** Connection key, the same both ways. */
function connKey(p: PacketView): string {
  const a = `${p.src}:${p.sport}`;
  const b = `${p.dst}:${p.dport}`;
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

/** The capture with the start of each selected TCP connection dropped. */
export function cutMidstream(input: Buffer, cut: MidstreamCut): Buffer {
  const seen = new Map<string, number>();
  return rewritePcap(input, (p) => {
    if (!p.ipv4 || p.proto !== 6 || (cut.select !== undefined && !cut.select(p))) return cut.rewrite?.(p) ?? {};
    const k = connKey(p);
    const n = seen.get(k) ?? 0;
    if ((p.tcpFlags & 0x02) !== 0) return null; // SYN, SYN-ACK: the handshake is what a late start misses
    if (n < cut.skipPayloadPackets) {
      if (p.payloadLength > 0) seen.set(k, n + 1);
      return null;
    }
    return cut.rewrite?.(p) ?? {};
  });
}

/**
 * The committed mid-stream captures (pcaps/midstream/), cut from the committed real captures of
 * mosquitto, RabbitMQ, rhea, OpenSSL and the HTTP lab server: `<name>-mid.pcap` per source.
 */
export const MIDSTREAM_SOURCES: readonly { name: string; source: string; skip: number }[] = [
  { name: 'mqtt-plain', source: 'mqtt/mqtt-plain.pcap', skip: 4 },
  { name: 'mqtt-tls', source: 'mqtt/mqtt-tls.pcap', skip: 8 },
  { name: 'amqp091-plain', source: 'amqp/amqp091-plain.pcap', skip: 12 },
  { name: 'amqp10', source: 'amqp/amqp10.pcap', skip: 8 },
  { name: 'http-entropy', source: 'misc/http-entropy.pcap', skip: 1 },
];

/** Write the mid-stream twins into `outDir` from the captures under `pcapsDir`. */
export function generateMidstreamCaptures(pcapsDir: string, outDir: string): string[] {
  const out: string[] = [];
  for (const s of MIDSTREAM_SOURCES) {
    const path = join(outDir, `${s.name}-mid.pcap`);
    writeFileSync(path, cutMidstream(readFileSync(join(pcapsDir, s.source)), { skipPayloadPackets: s.skip }));
    out.push(path);
  }
  return out;
}
