/**
 * The misc lab captures, read back with tshark and run through this area's dissectors and
 * classifiers: once on the committed captures (pcaps/misc/), once on a fresh generation in
 * network namespaces (root, as CI is).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harness } from '../test/helpers/dissect-harness.js';
import { Dir, type AnyDissectorSpec } from '../src/contract/api.js';
import { httpSpec, summarizeHttp } from '../dissectors/http/index.js';
import { dnsSpec, dnsTcpSpec, probeDnsTcp, summarizeDns } from '../dissectors/dns/index.js';
import { probeSsh, sshSpec, summarizeSsh } from '../dissectors/ssh/index.js';
import { probeHttp } from '../dissectors/http/index.js';
import type { DnsRecord } from '../dissectors/dns/types.js';
import type { HttpRecord } from '../dissectors/http/types.js';
import type { SshRecord } from '../dissectors/ssh/types.js';
import { emptyDir, type FlowRecord } from '../src/flow/record.js';
import { putSection } from '../src/flow/finalize.js';
import { sshSection } from '../dissectors/ssh/record.js';
import type { DnsInfo } from '../dissectors/dns/record.js';
import { DnsCache } from '../src/flow/dns-cache.js';
import { EntropyAccumulator } from '../src/flow/entropy.js';
import { classifyEncrypted, SUSPICIOUS_MIN_SAMPLE_BYTES, SUSPICIOUS_MIN_SCORE } from '../src/fingerprint/encrypted.js';
import { DNS_NAMES, generateMiscCaptures, HTTP_HOST, HTTP_PATHS, MISC_CAPTURES } from './gen-misc.js';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

interface Pkt { ts: number; src: string; dst: string; sport: number; dport: number; udp: boolean; seq: number; payload: Uint8Array }
interface Flow { udp: boolean; client: string; server: string; cport: number; sport: number; pkts: { dir: Dir; ts: number; payload: Uint8Array }[] }

function tshark(file: string, args: string[]): string {
  return execFileSync('tshark', ['-r', file, ...args], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** Flows of a capture with their payloads in order (TCP by relative sequence number, deduplicated). */
function flows(file: string): Flow[] {
  const out = tshark(file, ['-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.seq', '-e', 'tcp.payload', '-e', 'udp.payload']);
  const pkts: Pkt[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [t, src, dst, ts1, td1, us1, ud1, seq, tp, up] = line.split('|') as string[];
    const udp = (us1 ?? '') !== '';
    pkts.push({ ts: Number(t) * 1000, src: src!, dst: dst!, sport: Number(udp ? us1 : ts1), dport: Number(udp ? ud1 : td1), udp, seq: Number(seq || 0), payload: Buffer.from((udp ? up : tp) ?? '', 'hex') });
  }
  const byKey = new Map<string, Flow>();
  const seen = new Set<string>();
  for (const p of pkts) {
    const a = `${p.src}:${p.sport}`;
    const b = `${p.dst}:${p.dport}`;
    const key = `${p.udp}|${a < b ? a + b : b + a}`;
    let f = byKey.get(key);
    if (!f) byKey.set(key, (f = { udp: p.udp, client: p.src, server: p.dst, cport: p.sport, sport: p.dport, pkts: [] }));
    if (p.payload.length === 0) continue;
    const dir = p.src === f.client && p.sport === f.cport ? Dir.ToServer : Dir.ToClient;
    if (!p.udp) {
      const k = `${key}|${dir}|${p.seq}`;
      if (seen.has(k)) continue; // retransmission
      seen.add(k);
    }
    f.pkts.push({ dir, ts: p.ts, payload: p.payload });
  }
  return [...byKey.values()];
}

function run(spec: AnyDissectorSpec, f: Flow) {
  const h = harness(spec, spec.defaultLimits, { srcPort: f.cport, dstPort: f.sport, transport: f.udp ? 'udp' : 'tcp', startTs: 0 });
  for (const p of f.pkts) {
    const v = h.feed(p.dir, p.payload, p.ts);
    if (v === 'done' || v === 'abort') break;
  }
  h.end();
  return h;
}

const stream = (f: Flow, dir: Dir) => Buffer.concat(f.pkts.filter((p) => p.dir === dir).map((p) => p.payload));

function record(f: Flow, p: Partial<FlowRecord> = {}): FlowRecord {
  const acc = new EntropyAccumulator();
  const off = [0, 0];
  for (const pk of f.pkts) {
    acc.add(pk.dir, pk.payload, off[pk.dir] as number);
    off[pk.dir] = (off[pk.dir] as number) + pk.payload.length;
  }
  return {
    kind: 'flow', id: 1, communityId: '', transport: f.udp ? 'udp' : 'tcp', ipVersion: 4, client: { ip: f.client, port: f.cport }, server: { ip: f.server, port: f.sport },
    vlan: 0, tunnelDepth: 0, startTs: 0, endTs: 0, endReason: 'fin', dirs: [emptyDir(), emptyDir()], byteRatio: null, directionFromSyn: true, protocol: null,
    events: [], limits: [], apps: {}, features: {}, dnsName: null,
    entropy: [acc.info(Dir.ToServer), acc.info(Dir.ToClient)], smallRecords: [{ ts: [], sizes: [] }, { ts: [], sizes: [] }],
    pubsub: null, encrypted: null, beacon: null, ja4t: null, ja4ts: null, attribution: null, ...p,
  };
}
const first = (f: Flow): [Uint8Array, Uint8Array] => [stream(f, Dir.ToServer).subarray(0, 512), stream(f, Dir.ToClient).subarray(0, 512)];

function checkCaptures(dir: string): void {
  const file = (n: string) => join(dir, n);

  it('aes-stream: no protocol for tshark or our probes; high entropy; suspicious with length-prefix evidence', () => {
    const protos = tshark(file('aes-stream.pcap'), ['-Y', 'tcp.len > 0', '-T', 'fields', '-e', 'frame.protocols']).trim().split('\n');
    expect(new Set(protos)).toEqual(new Set(['eth:ethertype:ip:tcp:data']));
    const [f] = flows(file('aes-stream.pcap'));
    const [c, s] = first(f!);
    for (const b of [c, s]) {
      expect(probeHttp(b.subarray(0, 8), Dir.ToServer)).toBe('no');
      expect(probeSsh(b.subarray(0, 8), Dir.ToServer)).toBe('no');
      expect(probeDnsTcp(b, Dir.ToServer)).toBe('no');
    }
    const rec = record(f!);
    const e0 = rec.entropy[0]!;
    expect(e0.sample).toBeGreaterThanOrEqual(SUSPICIOUS_MIN_SAMPLE_BYTES);
    expect(e0.score).toBeGreaterThanOrEqual(SUSPICIOUS_MIN_SCORE);
    const r = classifyEncrypted(rec, [c, s]);
    expect(r?.suspicious).toBe(true);
    // (the server side carries only ~330 bytes of short commands, score ≈ 0.975: not asserted)
    expect(r?.evidence.map((x) => x.signal)).toEqual(expect.arrayContaining(['client_entropy', 'client_length_prefixed', 'server_length_prefixed']));
  });

  it('ssh: both OpenSSH banners (tshark agrees); known ssh by dissector and by content', () => {
    const banners = tshark(file('ssh.pcap'), ['-Y', 'ssh.protocol', '-T', 'fields', '-e', 'ssh.protocol']).trim().split('\n');
    const [f] = flows(file('ssh.pcap'));
    const h = run(sshSpec, f!);
    const s = summarizeSsh(h.records as SshRecord[]);
    expect(s.clientBanner).toMatch(/^SSH-2\.0-OpenSSH_/);
    expect(s.serverBanner).toMatch(/^SSH-2\.0-OpenSSH_/);
    expect(banners.sort()).toEqual([s.clientBanner, s.serverBanner].sort());
    expect(h.verdicts.at(-1)).toBe('done');
    expect(classifyEncrypted(putSection(record(f!, { protocol: 'ssh' }), sshSection, { clientBanner: s.clientBanner, serverBanner: s.serverBanner }), first(f!))?.known).toBe('ssh');
    expect(classifyEncrypted(record(f!), first(f!))).toMatchObject({ known: 'ssh', suspicious: false });
  });

  it('http-entropy: two requests on one connection, high-entropy path and host', () => {
    const uris = tshark(file('http-entropy.pcap'), ['-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri']).trim().split('\n');
    expect(uris).toEqual(HTTP_PATHS);
    const [f] = flows(file('http-entropy.pcap'));
    const h = run(httpSpec, f!);
    expect(h.events).toEqual([]);
    const s = summarizeHttp(h.records as HttpRecord[]);
    expect(s).toMatchObject({ method: 'GET', uri: HTTP_PATHS[0], host: HTTP_HOST, statusCode: 200, requests: 2, reprobe: false });
    expect(s.userAgent).toContain('Mozilla/5.0');
    expect(s.pathEntropy).toBeGreaterThan(5); // 43 chars, nearly all distinct
    expect(s.hostEntropy).toBeGreaterThan(3.5);
  });

  it('dns: A, AAAA, CNAME, NXDOMAIN over UDP, truncation then TCP; the cache names the server IPs', () => {
    const tsharkA = tshark(file('dns.pcap'), ['-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.a']).split(/[\n,]/).filter(Boolean);
    const fs = flows(file('dns.pcap'));
    const cache = new DnsCache();
    const infos: DnsInfo[] = [];
    const ourA: string[] = [];
    for (const f of fs) {
      const h = run(f.udp ? dnsSpec : dnsTcpSpec, f);
      expect(h.events).toEqual([]);
      expect(h.confirmed).toBe(true);
      const info = summarizeDns(h.records as DnsRecord[]);
      infos.push(info);
      for (const a of info.answers) if (a.type === 1) ourA.push(a.data);
      cache.learn(f.client, info, 0);
    }
    expect(ourA.sort()).toEqual(tsharkA.sort());
    const byName = (n: string) => infos.filter((i) => i.queries[0] === n);
    expect(byName(DNS_NAMES.nx)[0]?.rcode).toBe(3);
    const big = byName(DNS_NAMES.tcp);
    expect(big.map((i) => i.answers.length).sort()).toEqual([0, 40]); // truncated UDP answer, full TCP answer
    expect(fs.filter((f) => !f.udp).length).toBe(1);
    const www = byName(DNS_NAMES.cname)[0]!;
    expect(www.answers.map((a) => a.type)).toEqual([5, 1]);
    const aaaa = byName(DNS_NAMES.a).flatMap((i) => i.answers).find((a) => a.type === 28)!;
    const client = fs[0]!.client;
    const server = fs[0]!.server;
    // Several names resolve to the lab server (c2, www via its CNAME, big): the last one learned
    // names it. Alone, www's answer names it by walking the CNAME back to the queried name.
    expect([DNS_NAMES.a, DNS_NAMES.cname, DNS_NAMES.tcp]).toContain(cache.lookup(client, server, 1000));
    const alone = new DnsCache();
    alone.learn(client, www, 0);
    expect(alone.lookup(client, server, 1000)).toBe(DNS_NAMES.cname);
    expect(cache.lookup(client, aaaa.data, 1000)).toBe(DNS_NAMES.a);
    expect(aaaa.data).toMatch(/^fd00:\d+::2$/);
  });

  it('gzip-upload: gzip magic (tshark sees it too); compressed, not suspicious', () => {
    const firstPayload = tshark(file('gzip-upload.pcap'), ['-Y', 'tcp.len > 0', '-T', 'fields', '-e', 'tcp.payload']).split('\n')[0];
    expect(firstPayload?.startsWith('1f8b08')).toBe(true);
    const [f] = flows(file('gzip-upload.pcap'));
    const rec = record(f!);
    expect(rec.entropy[0]!.score).toBeGreaterThan(0.9); // compressed data looks nearly random…
    expect(classifyEncrypted(rec, first(f!))).toMatchObject({ known: null, suspicious: false, compressed: 'gzip' }); // …the magic explains it
  });
}

describe('committed misc captures (pcaps/misc)', () => {
  checkCaptures(join(repoRoot, 'pcaps/misc'));
});

describe('fresh misc captures from the namespace lab', () => {
  const out = mkdtempSync(join(tmpdir(), 'ndr-misc-'));
  let ms = 0;
  beforeAll(async () => {
    const t = Date.now();
    const r = await generateMiscCaptures(out);
    ms = Date.now() - t;
    expect(Object.keys(r.files)).toEqual([...MISC_CAPTURES]);
  }, 120_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  it('generates within a reasonable time', () => {
    expect(ms).toBeLessThan(60_000);
  });
  checkCaptures(out);
});
