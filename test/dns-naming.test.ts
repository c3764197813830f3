// Flows are named from the DNS answers their client received (DESIGN.md §2.4), through the whole
// replay: IPv4 and IPv6 clients and answers, only the host that asked, only until the answer's TTL
// runs out; the same names with the answers forwarded from two workers to the main thread's cache.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import type { FlowRecord } from '../src/flow/record.js';
import { conversation, writePcap, type Seg } from './helpers/packets.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-dns-naming-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 2, 1);

const be16 = (v: number): number[] => [v >> 8, v & 255];
function labels(name: string): number[] {
  const out: number[] = [];
  for (const part of name.split('.')) out.push(part.length, ...Array.from(part, (ch) => ch.charCodeAt(0)));
  return [...out, 0];
}
/** A response of one address record (A when 4 bytes, else AAAA) for `name`, TTL in seconds. */
function response(id: number, name: string, addr: number[], ttl: number): Uint8Array {
  const type = addr.length === 4 ? 1 : 28;
  return Uint8Array.from([
    ...be16(id), 0x81, 0x80, ...be16(1), ...be16(1), 0, 0, 0, 0,
    ...labels(name), ...be16(type), ...be16(1),
    0xc0, 12, ...be16(type), ...be16(1), ttl >>> 24, (ttl >>> 16) & 255, (ttl >>> 8) & 255, ttl & 255, ...be16(addr.length), ...addr,
  ]);
}
function query(id: number, name: string, type: number): Uint8Array {
  return Uint8Array.from([...be16(id), 1, 0, ...be16(1), 0, 0, 0, 0, 0, 0, ...labels(name), ...be16(type), ...be16(1)]);
}
/** A lookup from `client` to `resolver` and its answer 2 ms later. */
function lookup(client: string, resolver: string, port: number, ts: number, name: string, addr: number[], ttl: number): Seg[] {
  const type = addr.length === 4 ? 1 : 28;
  return [
    { src: client, dst: resolver, sport: port, dport: 53, proto: 17, payload: query(port, name, type), ts },
    { src: resolver, dst: client, sport: 53, dport: port, proto: 17, payload: response(port, name, addr, ttl), ts: ts + 2 },
  ];
}
const connect = (client: string, server: string, port: number, ts: number): Seg[] =>
  conversation(client, port, server, 443, ts, ['hello'], ['world']);

const V6_ANSWER = [0x20, 0x01, 0x0d, 0xb8, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];

describe('flows named from the DNS answers their client received', () => {
  const segs: Seg[] = [
    ...lookup('10.7.0.5', '10.7.0.53', 41000, T0, 'www.named.example', [203, 0, 113, 7], 120),
    ...lookup('2001:db8:7::5', '2001:db8:7::53', 41001, T0 + 10, 'v6.named.example', V6_ANSWER, 120),
    ...lookup('10.7.0.5', '10.7.0.53', 41002, T0 + 20, 'dual.named.example', V6_ANSWER, 120),
    ...connect('10.7.0.5', '203.0.113.7', 50001, T0 + 1_000),
    ...connect('10.7.0.6', '203.0.113.7', 50002, T0 + 1_100), // did not ask
    ...connect('2001:db8:7::5', '2001:db8:99::7', 50003, T0 + 1_200),
    ...connect('10.7.0.5', '203.0.113.8', 50004, T0 + 1_300), // not an answer
    ...connect('10.7.0.5', '203.0.113.7', 50005, T0 + 119_000), // within the TTL
    ...connect('10.7.0.5', '203.0.113.7', 50006, T0 + 121_000), // past it
  ];
  const path = join(dir, 'naming.pcap');
  writePcap(path, segs);
  const names = (flows: readonly FlowRecord[]): Record<string, string | null> => {
    const out: Record<string, string | null> = {};
    for (const f of flows) if (f.server.port === 443) out[`${f.client.ip} ${f.client.port} ${f.server.ip}`] = f.dnsName;
    return out;
  };
  const want = {
    '10.7.0.5 50001 203.0.113.7': 'www.named.example',
    '10.7.0.6 50002 203.0.113.7': null,
    '2001:db8:7::5 50003 2001:db8:99::7': 'v6.named.example',
    '10.7.0.5 50004 203.0.113.8': null,
    '10.7.0.5 50005 203.0.113.7': 'www.named.example',
    '10.7.0.5 50006 203.0.113.7': null,
  };

  it('one thread', async () => {
    const r = await replayFiles([path], { workers: 1 });
    expect(names(r.flows)).toEqual(want);
    const dns = r.state.find((s) => s.structure === 'dns_names');
    // Three answers learnt; the one that ran out went when it was looked up past its TTL.
    expect(dns).toMatchObject({ size: 2, evictions: 0 });
  });

  it('two workers forward the answers to one cache', async () => {
    const r = await replayFiles([path], { workers: 2 });
    expect(names(r.flows)).toEqual(want);
  });
});
