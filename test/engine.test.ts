// The engine end to end on synthetic captures: direction, counters, reassembly through the
// driver, port reuse, timeouts in packet time, the flow cap, and a 1-million-flow flood.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { LinkType } from '../src/capture/source.js';
import { F, conversation, frame, writePcap, type Seg } from './helpers/packets.js';
import { fromHex } from './helpers/dissect-harness.js';
import { loadConversation, type Conversation } from './helpers/fuzz-dissector.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import { tupleMeta } from '../src/runtime/engine.js';
import { PacketMeta } from '../src/decode/packet-meta.js';
import type { FlowRecord } from '../src/flow/record.js';
import { tlsOf } from '../dissectors/tls/record.js';
import { mqttOf } from '../dissectors/mqtt/record.js';
import { httpOf } from '../dissectors/http/record.js';
import { amqpOf } from '../dissectors/amqp/record.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-engine-'));
const T0 = Date.UTC(2026, 0, 1);
let n = 0;
const pcap = (segs: Seg[]) => { const p = join(dir, `t${n++}.pcap`); writePcap(p, segs); return p; };

describe('flow direction and counters', () => {
  it('the SYN sender is the client; counters per direction; community id; byte ratio', async () => {
    const segs = conversation('10.0.0.1', 40000, '10.0.0.2', 8080, T0, ['hello there', 'more'], ['ok']);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows).toHaveLength(1);
    const f = flows[0]!;
    expect(f.client).toEqual({ ip: '10.0.0.1', port: 40000 });
    expect(f.server).toEqual({ ip: '10.0.0.2', port: 8080 });
    expect(f.directionFromSyn).toBe(true);
    expect(f.dirs[0].packets).toBe(5);
    expect(f.dirs[1].packets).toBe(3);
    expect(f.dirs[0].bytes).toBe(15);
    expect(f.dirs[1].bytes).toBe(2);
    expect(f.dirs[0].ipBytes).toBe(5 * 40 + 15);
    expect(f.byteRatio).toBeCloseTo(7.5);
    expect(f.communityId).toMatch(/^1:/);
    expect(f.endReason).toBe('eof');
    expect(f.startTs).toBe(T0);
  });

  it('without a SYN the lower port is the server', async () => {
    const segs: Seg[] = [
      { src: '10.0.0.2', dst: '10.0.0.1', sport: 443, dport: 51000, flags: F.ACK | F.PSH, seq: 9, payload: 'x', ts: T0 },
      { src: '10.0.0.1', dst: '10.0.0.2', sport: 51000, dport: 443, flags: F.ACK | F.PSH, seq: 1, payload: 'yy', ts: T0 + 1 },
    ];
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.server.port).toBe(443);
    expect(flows[0]!.directionFromSyn).toBe(false);
    expect(flows[0]!.dirs[0].bytes).toBe(2);
  });

  it('a SYN reusing the ports of a finished connection starts a new flow', async () => {
    const a = conversation('10.0.0.1', 40001, '10.0.0.2', 80, T0, ['GET / HTTP/1.1\r\nHost: a\r\n\r\n']);
    const b = conversation('10.0.0.1', 40001, '10.0.0.2', 80, T0 + 100, ['GET /b HTTP/1.1\r\nHost: b\r\n\r\n']);
    const { flows } = await replayFiles([pcap([...a, ...b])]);
    expect(flows).toHaveLength(2);
    expect(flows[0]!.endReason).toBe('fin');
  });

  it('a clean close goes out when both FINs are acknowledged; late packets never make a flow', async () => {
    const segs = conversation('10.0.0.1', 40010, '10.0.0.2', 9001, T0, ['abc'], ['de']);
    const finS = segs[segs.length - 1]!; // server FIN|ACK, seq 5002
    segs.push({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40010, dport: 9001, flags: F.ACK, seq: 1004, ack: 5003, ts: finS.ts + 1 });
    // A retransmitted server FIN 2 s later, inside the close delay, and an unrelated flow after it.
    segs.push({ ...finS, ts: finS.ts + 2000 });
    segs.push(...conversation('10.0.0.1', 40011, '10.0.0.2', 9001, T0 + 3000, ['x']));
    const { flows, stats } = await replayFiles([pcap(segs)]);
    expect(flows).toHaveLength(2);
    const f = flows.find((r) => r.client.port === 40010)!;
    expect(f.endReason).toBe('fin');
    expect(f.dirs[0].packets).toBe(5); // SYN, ACK, data, FIN, final ACK
    expect(f.dirs[1].packets).toBe(3); // the late FIN is not in the record
    expect(f.endTs).toBe(finS.ts + 1);
    expect(stats.latePackets).toBe(1);
  });

  it('after a clean close a tomb with the identity only stands in the table; the record keeps its lists', async () => {
    const segs = conversation('10.0.0.1', 40013, '10.0.0.2', 9003, T0, ['abc', 'defg'], ['hi']);
    const finS = segs[segs.length - 1]!;
    segs.push({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40013, dport: 9003, flags: F.ACK, seq: 1008, ack: 5004, ts: finS.ts + 1 });
    const recs: FlowRecord[] = [];
    const atEmit: string[] = [];
    const p = new Pipeline({ onFlow: (r) => { recs.push(r); atEmit.push(JSON.stringify(r)); } });
    await p.run(openCaptureFile(pcap(segs)));
    // The record is out (both FINs acknowledged) while the entry still absorbs late packets.
    expect(recs).toHaveLength(1);
    const e = p.engine.table.find(tupleMeta(new PacketMeta(), { proto: 6, srcIp: '10.0.0.2', srcPort: 9003, dstIp: '10.0.0.1', dstPort: 40013 }));
    expect(e).not.toBeNull();
    expect(e!.tomb).toBe(true);
    expect(p.engine.table.dir).toBe(1); // looked up from the server's side
    expect([e!.aPort, e!.bPort, e!.proto]).toEqual([40013, 9003, 6]);
    expect(Object.keys(e!)).not.toContain('toServer');
    expect(p.engine.table.size).toBe(1);
    const r = recs[0]!;
    expect(r.endReason).toBe('fin');
    expect(r.dirs[0].bytes).toBe(7);
    await p.finish();
    expect(recs).toHaveLength(1);
    expect(p.engine.table.size).toBe(0);
    // The flow let go of its references when the tomb took its place, never the contents the record shares with it.
    expect(JSON.stringify(r)).toBe(atEmit[0]);
  });

  it('a SYN on the ports of a cleanly closed connection replaces its tomb with a new flow', async () => {
    const a = conversation('10.0.0.1', 40014, '10.0.0.2', 9004, T0, ['abc'], ['de']);
    const finS = a[a.length - 1]!;
    a.push({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40014, dport: 9004, flags: F.ACK, seq: 1005, ack: 5004, ts: finS.ts + 1 });
    a.push({ ...finS, ts: finS.ts + 50 }); // late: absorbed by the tomb
    const b = conversation('10.0.0.1', 40014, '10.0.0.2', 9004, T0 + 200, ['fghij']);
    const { flows, stats } = await replayFiles([pcap([...a, ...b])]);
    expect(flows).toHaveLength(2);
    expect(flows.map((f) => f.dirs[0].bytes)).toEqual([3, 5]);
    expect(flows[1]!.startTs).toBe(T0 + 200);
    expect(flows[1]!.directionFromSyn).toBe(true);
    expect(stats.latePackets).toBe(1);
  });

  it('FINs without the final ACK: the record waits for the close delay and counts what comes', async () => {
    const segs = conversation('10.0.0.1', 40012, '10.0.0.2', 9002, T0, ['abc'], ['de']);
    const finC = segs[segs.length - 2]!;
    segs.push({ ...finC, ts: finC.ts + 1500 }); // retransmitted client FIN, no ACK of the server FIN seen
    const { flows, stats } = await replayFiles([pcap(segs)]);
    expect(flows).toHaveLength(1);
    expect(flows[0]!.dirs[0].packets).toBe(5);
    expect(flows[0]!.endTs).toBe(finC.ts + 1500);
    expect(flows[0]!.endReason).toBe('eof');
    expect(stats.latePackets).toBe(0);
  });

  it('counts retransmitted bytes', async () => {
    const segs = conversation('10.0.0.1', 40002, '10.0.0.2', 9000, T0, ['abcdef']);
    const dataSeg = segs[3]!;
    segs.splice(4, 0, { ...dataSeg, ts: dataSeg.ts + 0.5 });
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.dirs[0].retransBytes).toBe(6);
    expect(flows[0]!.dirs[0].bytes).toBe(12);
  });

  it('expires idle flows in packet time and ends closed ones', async () => {
    const a = conversation('10.0.0.1', 40003, '10.0.0.2', 9000, T0, ['x']);
    const idle: Seg = { src: '10.0.0.5', dst: '10.0.0.6', sport: 5353, dport: 53, proto: 17, payload: 'q', ts: T0 + 10 };
    const later: Seg = { src: '10.0.0.7', dst: '10.0.0.8', sport: 1234, dport: 53, proto: 17, payload: 'q', ts: T0 + 3_600_000 };
    const { flows, stats } = await replayFiles([pcap([...a, idle, later])]);
    expect(flows).toHaveLength(3);
    expect(stats.flowsExpired).toBe(2);
    expect(flows.find((f) => f.client.port === 40003)!.endReason).toBe('fin');
    expect(flows.find((f) => f.client.port === 5353)!.endReason).toBe('idle');
  });
});

describe('reassembly through the driver', () => {
  it('an HTTP request split across out-of-order segments is parsed once reassembled', async () => {
    const req = 'GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: probe/1\r\n\r\n';
    const segs = conversation('10.0.0.1', 40010, '10.0.0.2', 80, T0, [req.slice(0, 20), req.slice(20, 40), req.slice(40)]);
    // deliver the three data segments as 3, 1, 2
    const data = segs.splice(3, 3);
    segs.splice(3, 0, data[2]!, data[0]!, data[1]!);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.protocol).toBe('http');
    expect(httpOf(flows[0]!)!.host).toBe('example.test');
    expect(httpOf(flows[0]!)!.userAgent).toBe('probe/1');
  });

  it('overlapping segments with different bytes: the first copy wins and an event is raised', async () => {
    const segs = conversation('10.0.0.1', 40011, '10.0.0.2', 80, T0, ['GET /first HTTP/1.1\r\n', 'Host: first.test\r\n', '\r\n']);
    const second = segs[4]!;
    segs.splice(5, 0, { ...second, payload: 'Host: other.test\r\n', ts: second.ts + 0.1 });
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.events).toContain('tcp.overlap_mismatch');
    expect(httpOf(flows[0]!)!.host).toBe('first.test');
    expect(flows[0]!.dirs[0].retransBytes).toBe(18);
  });

  it('entropy starts at the payload start even when it falls inside a later packet', async () => {
    // TLS 1.2 client: ClientHello | ClientKeyExchange, CCS, 10 bytes of the encrypted Finished |
    // the rest of it, 44 bytes of application data and an encrypted alert (31 bytes, not an
    // application record but payload all the same).
    const fx = (name: string) => fromHex(readFileSync(new URL(`../dissectors/tls/fixtures/${name}.hex`, import.meta.url), 'utf8'));
    const c = fx('tls12-chain.client');
    const finishedAt = 275; // record offsets in the fixture: CH 0, CKE 227, CCS 269, Finished 275, app data 320, alert 364
    expect([c[finishedAt], c[320], c[364], c.length]).toEqual([22, 23, 21, 395]);
    const segs = conversation('10.0.0.1', 40013, '10.0.0.2', 443, T0, [c.subarray(0, 227), c.subarray(227, finishedAt + 15), c.subarray(finishedAt + 15)], [fx('tls12-chain.server')]);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.protocol).toBe('tls');
    expect(tlsOf(flows[0]!)!.appRecordSizes[0]).toEqual([44]);
    expect(flows[0]!.entropy[0]?.sample).toBe(395 - 320);
  });

  it('the same TLS conversation cut into segments of any size, or reordered, gives the same record', async () => {
    // Whole segments are read in place, cut records leave a remainder in the buffer, reordered
    // segments go through it: the three paths must agree.
    const fx = (name: string) => fromHex(readFileSync(new URL(`../dissectors/tls/fixtures/${name}.hex`, import.meta.url), 'utf8'));
    const c = fx('tls12-chain.client');
    const sv = fx('tls12-chain.server');
    const cut = (b: Uint8Array, size: number) => { const out: Uint8Array[] = []; for (let o = 0; o < b.length; o += size) out.push(b.subarray(o, Math.min(b.length, o + size))); return out; };
    // Reordering changes what the engine counts as retransmitted and the contiguous entropy
    // sample, by design; what reassembly delivers to the dissector must not change.
    const view = (f: FlowRecord, reordered: boolean) => JSON.stringify(reordered
      ? { tls: tlsOf(f), events: f.events, limits: f.limits }
      : { tls: tlsOf(f), entropy: f.entropy, events: f.events, limits: f.limits, bytes: [f.dirs[0].bytes, f.dirs[1].bytes], retrans: [f.dirs[0].retransBytes, f.dirs[1].retransBytes] });
    const run = async (size: number, reorder: boolean) => {
      const segs = conversation('10.0.0.1', 40014, '10.0.0.2', 443, T0, [c.subarray(0, 227), ...cut(c.subarray(227), size)], cut(sv, size));
      if (reorder) {
        // swap every other pair of data segments after the handshake
        for (let i = 4; i + 1 < segs.length; i += 4) [segs[i], segs[i + 1]] = [segs[i + 1] as Seg, segs[i] as Seg];
      }
      const { flows } = await replayFiles([pcap(segs)]);
      expect(flows).toHaveLength(1);
      return flows[0]!;
    };
    const whole = await run(1 << 16, false);
    expect(tlsOf(whole)!.chain.length).toBe(2);
    expect(whole.entropy[0]?.sample).toBe(395 - 320);
    expect(whole.entropy[1]?.sample).toBe(31);
    for (const size of [1, 3, 7, 50, 333, 1460]) {
      expect(view(await run(size, false), false)).toBe(view(whole, false));
      expect(view(await run(size, true), true)).toBe(view(whole, true));
    }
  });

  it('pub/sub and WebSocket conversations give the same record however their messages are cut', async () => {
    // Each message whole, or cut into 1-, 5- or 64-byte segments: in place, remainder in the
    // buffer, the dissector's own waits for more (needAtLeast) and classification all meet.
    const cases: [URL, number][] = [
      [new URL('../dissectors/mqtt/fixtures/v311-subscriber.hex', import.meta.url), 1883],
      [new URL('../dissectors/mqtt/fixtures/v5-publish-qos1.hex', import.meta.url), 1883],
      [new URL('../dissectors/mqtt/fixtures/v31-publish-qos2.hex', import.meta.url), 1883],
      [new URL('../dissectors/mqtt/fixtures/oversize-publish.hex', import.meta.url), 1883],
      [new URL('../dissectors/amqp/fixtures/amqp091-pika.hex', import.meta.url), 5672],
      [new URL('../dissectors/amqp/fixtures/amqp10-rhea.hex', import.meta.url), 5672],
      // MQTT over WebSocket: a cut upgrade request looks like plain HTTP (a 'yes' from HTTP's
      // probe) before MQTT's probe has seen the Sec-WebSocket-Protocol header; HTTP waits for it
      [new URL('../dissectors/mqtt/fixtures/websocket-v311.hex', import.meta.url), 8080],
    ];
    const segsOf = (conv: Conversation, port: number, size: number): Seg[] => {
      const c = '10.0.0.1', sv = '10.0.0.2', cp = 40020;
      let cseq = 1000, sseq = 5000, t = T0;
      const segs: Seg[] = [
        { src: c, dst: sv, sport: cp, dport: port, flags: F.SYN, seq: cseq - 1, ts: t++ },
        { src: sv, dst: c, sport: port, dport: cp, flags: F.SYN | F.ACK, seq: sseq - 1, ack: cseq, ts: t++ },
        { src: c, dst: sv, sport: cp, dport: port, flags: F.ACK, seq: cseq, ack: sseq, ts: t++ },
      ];
      for (const m of conv) {
        t++; // one time per message, whatever its cut
        for (let o = 0; o < m.bytes.length; o += size) {
          const payload = m.bytes.subarray(o, Math.min(m.bytes.length, o + size));
          if (m.dir === 0) { segs.push({ src: c, dst: sv, sport: cp, dport: port, flags: F.ACK | F.PSH, seq: cseq, ack: sseq, payload, ts: t }); cseq += payload.length; }
          else { segs.push({ src: sv, dst: c, sport: port, dport: cp, flags: F.ACK | F.PSH, seq: sseq, ack: cseq, payload, ts: t }); sseq += payload.length; }
        }
      }
      return segs;
    };
    const view = (f: FlowRecord) => JSON.stringify({ protocol: f.protocol, mqtt: mqttOf(f), amqp: amqpOf(f), http: httpOf(f), events: f.events, limits: f.limits, entropy: f.entropy, bytes: [f.dirs[0].bytes, f.dirs[1].bytes] });
    for (const [url, port] of cases) {
      const conv = loadConversation(url);
      const whole = await replayFiles([pcap(segsOf(conv, port, 1 << 20))]);
      expect(whole.flows).toHaveLength(1);
      expect(whole.flows[0]!.protocol).not.toBeNull();
      for (const size of [1, 5, 64]) {
        const cut = await replayFiles([pcap(segsOf(conv, port, size))]);
        expect(view(cut.flows[0]!), `${url.pathname.split('/').pop()} in ${size}-byte segments`).toBe(view(whole.flows[0]!));
      }
    }
  });

  it('a flow whose more specific probe never made up its mind gets the waiting dissector at its end', async () => {
    // The request's header never ends: MQTT's WebSocket probe stays unsure, HTTP's 'yes' waits,
    // and the end of the flow takes it.
    const segs = conversation('10.0.0.1', 40015, '10.0.0.2', 8080, T0, ['GET /mqtt HTTP/1.1\r\n', 'Host: broker.test\r\nUpgrade: websocket\r\n']);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows).toHaveLength(1);
    expect(flows[0]!.protocol).toBe('http');
  });

  it('a request cut into segments, with bare LF line ends, is parsed before its response', async () => {
    const segs = conversation('10.0.0.1', 40016, '10.0.0.2', 9200, T0, ['GET / HTTP/1.0\n', 'User-Agent:\n', '\n'], ['', '', 'HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n']);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.protocol).toBe('http');
    expect(httpOf(flows[0]!)!.method).toBe('GET');
    expect(httpOf(flows[0]!)!.statusCode).toBe(200);
    expect(flows[0]!.events).not.toContain('http.response_without_request');
  });

  it('unknown payload gets entropy figures from its first byte', async () => {
    const rnd = new Uint8Array(2000);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (Math.imul(i + 1, 2654435761) >>> 13) & 255;
    const segs = conversation('10.0.0.1', 40012, '10.0.0.2', 4444, T0, [rnd.subarray(0, 1000), rnd.subarray(1000)]);
    const { flows } = await replayFiles([pcap(segs)]);
    expect(flows[0]!.protocol).toBeNull();
    expect(flows[0]!.entropy[0]!.sample).toBe(1024); // the default sample size
    expect(flows[0]!.entropy[0]!.bits).toBeGreaterThan(7.5);
  });

  it('without namedEntropy a named flow gets no entropy and the rest of its record is the same; an unknown flow keeps it', async () => {
    const fx = (name: string) => fromHex(readFileSync(new URL(`../dissectors/tls/fixtures/${name}.hex`, import.meta.url), 'utf8'));
    const c = fx('tls12-chain.client');
    const rnd = new Uint8Array(2000);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (Math.imul(i + 1, 2654435761) >>> 13) & 255;
    const file = pcap([
      ...conversation('10.0.0.1', 40030, '10.0.0.2', 443, T0, [c.subarray(0, 227), c.subarray(227, 290), c.subarray(290)], [fx('tls12-chain.server')]),
      ...conversation('10.0.0.1', 40031, '10.0.0.2', 4444, T0 + 50, [rnd.subarray(0, 1000), rnd.subarray(1000)]),
    ]);
    const all = await replayFiles([file]);
    const unnamed = await replayFiles([file], { limits: { features: { namedEntropy: false } } });
    const byPort = (fs: FlowRecord[], port: number) => fs.find((f) => f.server.port === port) as FlowRecord;
    const tlsAll = byPort(all.flows, 443), tlsOff = byPort(unnamed.flows, 443);
    expect(tlsAll.protocol).toBe('tls');
    expect(tlsAll.entropy[0]?.sample).toBe(395 - 320);
    expect(tlsOff.entropy).toEqual([null, null]);
    expect(JSON.stringify({ ...tlsOff, entropy: null })).toBe(JSON.stringify({ ...tlsAll, entropy: null }));
    const unknownOff = byPort(unnamed.flows, 4444);
    expect(unknownOff.protocol).toBeNull();
    expect(unknownOff.entropy[0]?.sample).toBe(1024);
    expect(JSON.stringify(unknownOff)).toBe(JSON.stringify(byPort(all.flows, 4444)));
  });

  it('replay measures a named flow\'s entropy for --output-detail full (the only document that shows it)', () => {
    const root = join(dirname(new URL(import.meta.url).pathname), '..');
    const bundle = join(root, 'dist', 'ndr-sensor.mjs');
    if (!existsSync(bundle)) execFileSync('node', [join(root, 'scripts', 'build.mjs')], { stdio: 'ignore' });
    const out = join(dir, 'full.jsonl');
    const r = spawnSync('node', [bundle, 'replay', '-q', '--no-summary', '--no-analytics', '--output-detail', 'full', join(root, 'pcaps', 'tls', 'tls12-python-long-chain.pcap'), '-o', out], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    type Doc = { network?: { protocol?: string }; ndr?: { entropy?: { to_server?: { sample: number } } } };
    const tls = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Doc).filter((d) => d.network?.protocol === 'tls');
    expect(tls.length).toBeGreaterThan(0);
    expect(tls.every((d) => (d.ndr?.entropy?.to_server?.sample ?? 0) > 0)).toBe(true);
  });
});

describe('limits', () => {
  it('the flow cap evicts the least recently active flow and marks it', async () => {
    const segs: Seg[] = [];
    for (let i = 0; i < 50; i++) segs.push({ src: '10.1.0.1', dst: '10.1.0.2', sport: 10000 + i, dport: 53, proto: 17, payload: 'q', ts: T0 + i });
    const { flows, stats } = await replayFiles([pcap(segs)], { limits: { table: { maxFlowsCount: 10 } } });
    expect(flows).toHaveLength(50);
    expect(flows.filter((f) => f.limits.includes('flow.evicted'))).toHaveLength(40);
    expect(flows.filter((f) => f.endReason === 'evicted')).toHaveLength(40);
    expect(stats.flowsEvicted).toBe(40);
  });

  it('a tracked flow costs under 1,000 bytes of heap, so 1,000,000 concurrent flows fit in 1 GiB', () => {
    const n = 200_000;
    const p = new Pipeline({ onFlow: () => {} }); // default cap: 1,000,000
    const tmpl = frame({ src: '10.4.0.1', dst: '10.5.0.1', sport: 1, dport: 443, flags: F.SYN, seq: 7, ts: 0 });
    const buf = new Uint8Array(tmpl);
    const dv = new DataView(buf.buffer);
    const gc = (globalThis as { gc?: () => void }).gc as () => void;
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) {
      dv.setUint32(14 + 12, (0x0a040000 + (i >>> 14)) >>> 0);
      dv.setUint16(14 + 20, 1024 + (i & 0x3fff));
      p.engine.meta.tsMs = T0 + i / 100;
      p.engine.packet(buf, 0, buf.length, LinkType.Ethernet);
    }
    gc();
    const perFlow = (process.memoryUsage().heapUsed - heap0) / n;
    expect(p.engine.table.size).toBe(n);
    expect(p.engine.table.evicted).toBe(0);
    expect(perFlow).toBeLessThan(1000);
  });

  it('a flood of 1,000,000 distinct flows stays within the cap and a memory bound', () => {
    const cap = 50_000;
    let out = 0;
    const p = new Pipeline({ limits: { table: { maxFlowsCount: cap } }, onFlow: () => { out++; } });
    const tmpl = frame({ src: '10.2.0.1', dst: '10.3.0.1', sport: 1, dport: 80, flags: F.SYN, ts: 0 });
    const buf = new Uint8Array(tmpl);
    const dv = new DataView(buf.buffer);
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'tests run with --expose-gc').toBeTypeOf('function');
    gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    let peakSize = 0;
    for (let i = 0; i < 1_000_000; i++) {
      dv.setUint32(14 + 12, (0x0a020000 + (i >>> 16)) >>> 0); // source address varies
      dv.setUint16(14 + 20, 1024 + (i & 0xffff) % 60000); // source port varies
      p.engine.meta.tsMs = T0 + i / 1000;
      p.engine.packet(buf, 0, buf.length, LinkType.Ethernet);
      if (p.engine.table.size > peakSize) peakSize = p.engine.table.size;
    }
    gc?.();
    const heapGrowthMiB = (process.memoryUsage().heapUsed - heap0) / 1048576;
    expect(peakSize).toBeLessThanOrEqual(cap);
    expect(p.engine.table.evicted).toBeGreaterThanOrEqual(1_000_000 - cap - 1000);
    // Every evicted flow comes out once: written, or (empty SYNs past the flood rate) counted in a summary.
    expect(p.flood.stats.shed).toBeGreaterThan(0);
    expect(out + p.flood.stats.shed).toBe(p.engine.table.evicted);
    // 50k tracked flows at well under 2 KiB each
    expect(heapGrowthMiB).toBeLessThan(100);
  });
});
