// A UDP DNS flow whose every query has its response ends at that response (end reason
// 'complete') instead of waiting out the UDP idle timeout: the record is the one the timeout would
// have written but for its reason, it goes out at the answer's packet, and the tuple used again
// later is a new flow, as it is after a timeout. Flows still waiting on an answer wait as before.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { Pipeline } from '../src/runtime/pipeline.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import type { FlowRecord } from '../src/flow/record.js';
import { dnsOf } from '../dissectors/dns/record.js';
import { conversation, writePcap, type Seg } from './helpers/packets.js';

const dir = mkdtempSync(join(tmpdir(), 'ndr-dns-complete-'));
const T0 = Date.UTC(2026, 0, 1);
let n = 0;
const pcap = (segs: Seg[]) => { const p = join(dir, `t${n++}.pcap`); writePcap(p, segs); return p; };

function nameBytes(name: string): number[] {
  const out: number[] = [];
  for (const l of name.split('.')) out.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}
const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
/** A query or its response with one address record (A, or AAAA when qtype is 28). */
function msg(id: number, name: string, answer: number[] | null, qtype = 1): Uint8Array {
  const head = [...u16(id), ...u16(answer === null ? 0x0100 : 0x8180), ...u16(1), ...u16(answer === null ? 0 : 1), 0, 0, 0, 0];
  const question = [...nameBytes(name), ...u16(qtype), ...u16(1)];
  const rr = answer === null ? [] : [0xc0, 12, ...u16(qtype), ...u16(1), 0, 0, 1, 44, ...u16(answer.length), ...answer];
  return Uint8Array.from([...head, ...question, ...rr]);
}
const C = '10.9.0.5';
const R = '10.9.0.53';
const query = (ts: number, sport: number, id: number, name: string): Seg => ({ src: C, dst: R, sport, dport: 53, proto: 17, payload: msg(id, name, null), ts });
const answer = (ts: number, sport: number, id: number, name: string, ip: string): Seg => ({ src: R, dst: C, sport: 53, dport: sport, proto: 17, payload: msg(id, name, ip.split('.').map(Number)), ts });

/** Records in the order the pipeline hands them on, and the engine's counters. */
async function run(path: string): Promise<{ flows: FlowRecord[]; completed: number; expired: number; size: number }> {
  const flows: FlowRecord[] = [];
  const p = new Pipeline({ flood: { enabled: false }, onFlow: (r) => flows.push(r) });
  await p.run(openCaptureFile(path));
  const size = p.engine.table.size;
  await p.finish();
  return { flows, completed: p.engine.stats.flowsCompleted, expired: p.engine.stats.flowsExpired, size };
}

describe('DNS flows end when every query is answered', () => {
  it('a lookup ends at its response, before a connection that started earlier; only the unanswered query is left in the table', async () => {
    const segs: Seg[] = [
      ...conversation('10.9.0.5', 41000, '10.9.0.80', 80, T0, ['GET / HTTP/1.1\r\nHost: x\r\n\r\n']).slice(0, 4),
      query(T0 + 10, 50001, 0x11, 'one.example'),
      answer(T0 + 12, 50001, 0x11, 'one.example', '192.0.2.1'),
      query(T0 + 20, 50002, 0x12, 'lost.example'),
    ];
    const { flows, completed, size } = await run(pcap(segs));
    // Open at the end of the packets: the HTTP connection (no FIN) and the unanswered query.
    expect(size).toBe(2);
    expect(completed).toBe(1);
    expect(flows.map((f) => [f.protocol, f.endReason])).toEqual([['dns', 'complete'], ['http', 'eof'], ['dns', 'eof']]);
    const f = flows[0] as FlowRecord;
    expect(f.client).toEqual({ ip: C, port: 50001 });
    expect([f.dirs[0].packets, f.dirs[1].packets]).toEqual([1, 1]);
    expect(f.endTs - f.startTs).toBe(2);
    expect(dnsOf(f)?.queries).toEqual(['one.example']);
    expect(dnsOf(f)?.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(f.limits).toEqual([]);
    // The unanswered query's flow is otherwise the same kind of record.
    expect(dnsOf(flows[2] as FlowRecord)?.queries).toEqual(['lost.example']);
    expect(flows[2]?.dirs[1].packets).toBe(0);
  });

  it('the same ports used again after the answer make a new flow, as after the idle timeout', async () => {
    const segs = [
      query(T0, 50010, 1, 'a.example'), answer(T0 + 1, 50010, 1, 'a.example', '192.0.2.10'),
      query(T0 + 2_000, 50010, 2, 'b.example'), answer(T0 + 2_001, 50010, 2, 'b.example', '192.0.2.11'),
    ];
    const early = await run(pcap(segs));
    expect(early.flows).toHaveLength(2);
    expect(early.flows.map((f) => dnsOf(f)?.queries[0])).toEqual(['a.example', 'b.example']);
    expect(new Set(early.flows.map((f) => f.id)).size).toBe(2);
    expect(early.flows[0]?.communityId).toBe(early.flows[1]?.communityId);
    // With the second lookup past the idle timeout (60 s) the records are the same but for the reason.
    const late = await run(pcap(segs.map((s, i) => (i >= 2 ? { ...s, ts: s.ts + 120_000 } : s))));
    expect(late.flows).toHaveLength(2);
    const strip = (f: FlowRecord) => ({ ...f, endReason: null, startTs: 0, endTs: 0, dirs: f.dirs.map((d) => ({ ...d, firstTs: 0, lastTs: 0 })) });
    expect(early.flows.map(strip)).toEqual(late.flows.map(strip));
  });

  it('A and AAAA asked on one socket stay one flow until both are answered', async () => {
    const aaaa = (ts: number, isQuery: boolean): Seg => {
      const m = msg(6, 'c.example', isQuery ? null : [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20], 28);
      return isQuery ? { src: C, dst: R, sport: 50020, dport: 53, proto: 17, payload: m, ts } : { src: R, dst: C, sport: 53, dport: 50020, proto: 17, payload: m, ts };
    };
    const segs = [query(T0, 50020, 5, 'c.example'), aaaa(T0 + 1, true), answer(T0 + 3, 50020, 5, 'c.example', '192.0.2.20'), aaaa(T0 + 4, false)];
    const { flows, completed } = await run(pcap(segs));
    expect(completed).toBe(1);
    expect(flows).toHaveLength(1);
    expect(flows[0]?.endReason).toBe('complete');
    expect([flows[0]?.dirs[0].packets, flows[0]?.dirs[1].packets]).toEqual([2, 2]);
    expect(dnsOf(flows[0] as FlowRecord)?.answers.map((a) => a.data)).toEqual(['192.0.2.20', '2001:db8::20']);
  });

  it('2 workers end the same flows as one thread, with the same records', async () => {
    const segs: Seg[] = [];
    for (let i = 0; i < 200; i++) {
      const sport = 40000 + (i % 50);
      segs.push(query(T0 + i * 10, sport, i, `n${i}.example`));
      if (i % 7 !== 0) segs.push(answer(T0 + i * 10 + 3, sport, i, `n${i}.example`, `192.0.2.${i % 250}`));
    }
    const path = pcap(segs);
    const one = await replayFiles([path], { workers: 1 });
    const two = await replayFiles([path], { workers: 2 });
    expect(one.stats.flowsCompleted).toBe(two.stats.flowsCompleted);
    expect(two.flows).toEqual(one.flows);
    expect(one.flows.filter((f) => f.endReason === 'complete').length).toBe(one.stats.flowsCompleted);
    // The answered lookups end one by one; the unanswered queries share their ports' flows with
    // the lookups after them (one flow per source port until it is complete).
    expect(one.stats.flowsCompleted).toBeGreaterThan(100);
    expect(one.flows.length).toBeGreaterThan(one.stats.flowsCompleted);
  });
});
