import { describe, expect, it } from 'vitest';
import { harness, splits } from '../../test/helpers/dissect-harness.js';
import { Dir } from '../../src/contract/api.js';
import { dnsSpec, dnsTcpSpec, probeDnsTcp, probeDnsUdp, summarizeDns } from './index.js';
import { ipv6Text, readName } from './parse.js';
import type { DnsMessageRecord, DnsRecord } from './types.js';
import { dnsSection, rrTypeName, type DnsInfo } from './record.js';
import { JsonWriter, ObjectWriter, terminalSafeJson } from '../../src/output/json.js';

function name(n: string): number[] {
  const out: number[] = [];
  for (const l of n.split('.').filter(Boolean)) out.push(l.length, ...[...l].map((c) => c.charCodeAt(0)));
  out.push(0);
  return out;
}
const u16 = (v: number) => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number) => [...u16(v >>> 16), ...u16(v & 0xffff)];
function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [...u16(id), ...u16(flags), ...u16(qd), ...u16(an), ...u16(ns), ...u16(ar)];
}
function rr(owner: number[], type: number, ttl: number, rdata: number[]): number[] {
  return [...owner, ...u16(type), ...u16(1), ...u32(ttl), ...u16(rdata.length), ...rdata];
}

// Query: www.c2.example.test A
const QUERY = Uint8Array.from([...header(0x1234, 0x0100, 1, 0), ...name('www.c2.example.test'), ...u16(1), ...u16(1)]);
// Response: question (at 12), CNAME via pointer to the question, A records for the target.
const targetOffset = 12 + name('www.c2.example.test').length + 4 + 2 + 10; // where the CNAME rdata starts
const RESPONSE = Uint8Array.from([
  ...header(0x1234, 0x8180, 1, 3),
  ...name('www.c2.example.test'), ...u16(1), ...u16(1),
  ...rr([0xc0, 12], 5, 300, [3, ...[...'cdn'].map((c) => c.charCodeAt(0)), 0xc0, 12 + 4]), // cdn.c2.example.test
  ...rr([0xc0, targetOffset], 1, 60, [10, 0, 0, 7]),
  ...rr([0xc0, targetOffset], 28, 60, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
]);

function udp(msgs: [Dir, Uint8Array][], limits: object = dnsSpec.defaultLimits) {
  const h = harness(dnsSpec, limits, { srcPort: 40000, dstPort: 53, transport: 'udp', startTs: 0 });
  for (const [d, m] of msgs) h.feed(d, m, 1000);
  h.end();
  return h;
}
const framed = (m: Uint8Array) => Uint8Array.from([...u16(m.length), ...m]);

describe('dns dissector', () => {
  it('1. valid query and response give the expected records and DnsInfo', () => {
    const h = udp([[Dir.ToServer, QUERY], [Dir.ToClient, RESPONSE]]);
    expect(h.confirmed).toBe(true);
    expect(h.events).toEqual([]);
    const [q, r] = h.records as DnsMessageRecord[];
    expect(q?.qr).toBe(false);
    expect(q?.questions).toEqual([{ name: 'www.c2.example.test', type: 1, class: 1 }]);
    expect(r?.answers).toEqual([
      { name: 'www.c2.example.test', type: 5, ttl: 300, data: 'cdn.c2.example.test' },
      { name: 'cdn.c2.example.test', type: 1, ttl: 60, data: '10.0.0.7' },
      { name: 'cdn.c2.example.test', type: 28, ttl: 60, data: '2001:db8::1' },
    ]);
    const s = summarizeDns(h.records as DnsRecord[]);
    expect(s.queries).toEqual(['www.c2.example.test']);
    expect(s.rcode).toBe(0);
    expect(s.answers.length).toBe(3);
  });

  it('2. TCP: every split point gives identical records and events', () => {
    const stream = Uint8Array.from([...framed(QUERY), ...framed(QUERY)]);
    const resp = framed(RESPONSE);
    const run = (cs: Uint8Array[], ss: Uint8Array[]) => {
      const h = harness(dnsTcpSpec);
      for (const c of cs) h.feed(Dir.ToServer, c);
      for (const s of ss) h.feed(Dir.ToClient, s);
      return h;
    };
    const ref = run([stream], [resp]);
    expect(ref.records.length).toBe(3);
    for (const [a, b] of splits(stream)) expect(JSON.stringify(run([a, b], [resp]).records)).toBe(JSON.stringify(ref.records));
    for (const [a, b] of splits(resp)) {
      const h = run([stream], [a, b]);
      expect(JSON.stringify(h.records)).toBe(JSON.stringify(ref.records));
      expect(h.events).toEqual(ref.events);
    }
  });

  it('3. TCP: every proper prefix gives need-more, never an error', () => {
    const resp = framed(RESPONSE);
    for (let i = 1; i < resp.length; i++) {
      const h = harness(dnsTcpSpec);
      expect(h.feed(Dir.ToClient, resp.subarray(0, i))).toBe('more');
      expect(h.records).toEqual([]);
      expect(h.events).toEqual([]);
      expect(h.violations).toEqual([]);
    }
  });

  it('4. malformed messages raise their specific events', () => {
    const selfPtr = Uint8Array.from([...header(1, 0x8180, 1, 1), ...name('a.b'), ...u16(1), ...u16(1), ...rr([0xc0, 12 + 5 + 4], 1, 1, [1, 2, 3, 4])]);
    const cases: [Uint8Array, string][] = [
      [QUERY.subarray(0, 8), 'dns.truncated_message'],
      [Uint8Array.from([...header(1, 0x0100, 1, 0), 0xc0, 0x0c, ...u16(1), ...u16(1)]), 'dns.bad_pointer'],
      [Uint8Array.from([...header(1, 0x0100, 1, 0), 0x45, 1, 0, ...u16(1), ...u16(1)]), 'dns.bad_label_type'],
      [Uint8Array.from([...header(1, 0x0100, 1, 0), 5, 0x61]), 'dns.bad_name'],
      [selfPtr, 'dns.bad_pointer'],
      [Uint8Array.from([...header(1, 0x8180, 1, 1), ...name('a'), ...u16(1), ...u16(1), ...rr([0xc0, 12], 1, 5, [1, 2, 3])]), 'dns.bad_rdata'],
      [Uint8Array.from([...header(1, 0x8180, 1, 2), ...name('a'), ...u16(1), ...u16(1), ...rr([0xc0, 12], 1, 5, [1, 2, 3, 4])]), 'dns.truncated_message'],
      [Uint8Array.from([...header(1, 0x0100, 1, 0), ...Array.from({ length: 5 }, () => [63, ...new Array(63).fill(0x61)]).flat(), 0, ...u16(1), ...u16(1)]), 'dns.bad_name'],
    ];
    for (const [msg, id] of cases) {
      // confirm first so malformed input is an anomaly, not a probe miss
      const h = udp([[Dir.ToServer, QUERY], [Dir.ToClient, msg]]);
      expect(h.events.map((e) => e.id), id).toContain(id);
    }
    const t = harness(dnsTcpSpec);
    t.feed(Dir.ToServer, framed(QUERY));
    t.feed(Dir.ToServer, Uint8Array.of(0, 0));
    expect(t.events.map((e) => e.id)).toEqual(['dns.zero_length']);
    // before confirmation a bad message is a violation
    const v = udp([[Dir.ToServer, QUERY.subarray(0, 5)]]);
    expect(v.violations).toEqual(['dns.truncated_message']);
  });

  it('5. limits raise their events and keep the true size', () => {
    // pointer chain: an unknown-type RR whose rdata holds p1 → name, p2 → p1, p3 → p2; a CNAME points to p3
    const base = [...header(1, 0x8180, 1, 2), ...name('a.example'), ...u16(1), ...u16(1)];
    const rdataAt = base.length + 2 + 10;
    const chain = [0xc0, 12, 0xc0, rdataAt, 0xc0, rdataAt + 2];
    const msg = Uint8Array.from([...base, ...rr([0xc0, 12], 99, 1, chain), ...rr([0xc0, 12], 5, 1, [0xc0, rdataAt + 4])]);
    const ok = udp([[Dir.ToClient, msg]]);
    expect((ok.records[0] as DnsMessageRecord).answers[1]?.data).toBe('a.example');
    const lim = udp([[Dir.ToClient, msg]], { ...dnsSpec.defaultLimits, maxPointerCount: 3 });
    expect(lim.events.map((e) => e.id)).toEqual(['dns.limit.max_pointer_count']);
    expect((lim.records[0] as DnsMessageRecord).bytes).toBe(msg.length);
    expect((lim.records[0] as DnsMessageRecord).status).toBe('truncated');

    const many = udp([[Dir.ToClient, RESPONSE]], { ...dnsSpec.defaultLimits, maxAnswersCount: 1 });
    expect(many.events.map((e) => e.id)).toEqual(['dns.limit.max_answers_count']);
    expect((many.records[0] as DnsMessageRecord).answers.length).toBe(1);

    const qs = Uint8Array.from([...header(1, 0x0100, 3, 0), ...name('a'), 0, 1, 0, 1, ...name('b'), 0, 1, 0, 1, ...name('c'), 0, 1, 0, 1]);
    const q = udp([[Dir.ToServer, qs]], { ...dnsSpec.defaultLimits, maxQuestionsCount: 2 });
    expect(q.events.map((e) => e.id)).toEqual(['dns.limit.max_questions_count']);

    const m = udp([[Dir.ToServer, QUERY], [Dir.ToServer, QUERY], [Dir.ToServer, QUERY]], { ...dnsSpec.defaultLimits, maxMessagesCount: 2 });
    expect(m.records.length).toBe(2);
    expect(m.events.map((e) => e.id)).toEqual(['dns.limit.max_messages_count']);

    const txt = Uint8Array.from([...header(1, 0x8180, 1, 1), ...name('t'), 0, 16, 0, 1, ...rr([0xc0, 12], 16, 1, [200, ...new Array(200).fill(0x41)])]);
    const tx = udp([[Dir.ToClient, txt]], { ...dnsSpec.defaultLimits, maxStringBytes: 50 });
    expect(tx.events.map((e) => e.id)).toEqual(['dns.limit.max_string_bytes']);
    expect((tx.records[0] as DnsMessageRecord).answers[0]?.data.length).toBe(50);

    const t = harness(dnsTcpSpec, { ...dnsTcpSpec.defaultLimits, maxMessageBytes: 20 });
    t.feed(Dir.ToClient, Uint8Array.from([...framed(RESPONSE), ...framed(QUERY.subarray(0, 0)).subarray(0, 0)]));
    expect(t.events.map((e) => e.id)).toEqual(['dns.limit.max_message_bytes']);
    expect(t.pending(Dir.ToClient)).toBe(0); // skipped by counter, not buffered
  });

  it('probes', () => {
    expect(probeDnsUdp(QUERY, Dir.ToServer)).toBe('yes');
    expect(probeDnsUdp(RESPONSE, Dir.ToClient)).toBe('yes');
    expect(probeDnsUdp(QUERY, Dir.ToClient)).toBe('no');
    expect(probeDnsUdp(QUERY.subarray(0, 20), Dir.ToServer)).toBe('no');
    expect(probeDnsTcp(framed(QUERY).subarray(0, 16), Dir.ToServer)).toBe('unsure');
    expect(probeDnsTcp(framed(QUERY), Dir.ToServer)).toBe('yes');
    expect(probeDnsUdp(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Dir.ToServer)).toBe('no');
    expect(probeDnsUdp(Uint8Array.of(0x16, 3, 1, 0, 0x2e, 1, 0, 0, 0x2a, 3, 3, 0, 0, 0, 0), Dir.ToServer)).toBe('no');
  });

  it('readName and ipv6Text helpers', () => {
    const lim = dnsSpec.defaultLimits;
    expect(readName(Uint8Array.of(0), 0, lim)).toEqual({ name: '.', next: 1 });
    expect(readName(Uint8Array.of(3, 0x61, 0x2e, 0x01, 0), 0, lim)).toEqual({ name: 'a\\046\\001', next: 5 });
    expect(ipv6Text(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1))).toBe('::1');
    expect(ipv6Text(Uint8Array.of(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1))).toBe('2001:db8:0:1::1');
    expect(ipv6Text(Uint8Array.of(0x20, 1, 0x0d, 0xb8, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1))).toBe('2001:db8:1:1:1:1:1:1');
  });
});

describe('dns ECS section', () => {
  // The reference: the object list JSON.stringify writes, with the terminal-unsafe characters
  // escaped as the JSON-lines output always did (the generic list path the section used before).
  function reference(info: DnsInfo): string {
    const list = info.answers.slice(0, 32).map((a) => ({ name: a.name, type: rrTypeName(a.type), data: a.data, ttl: a.ttl }));
    return terminalSafeJson(JSON.stringify(list));
  }
  function written(info: DnsInfo): string {
    const w = new JsonWriter(false);
    w.begin();
    dnsSection.write?.doc?.(info, w, {} as never);
    const doc = w.end();
    const m = /"answers":(\[.*\]),"resolved_ip"|"answers":(\[.*\])\}\}$/.exec(doc);
    return (m?.[1] ?? m?.[2]) as string;
  }

  it('writes dns.answers as the object list would be written, awkward strings and the 32-answer cut included', () => {
    const awkward = ['plain.example', 'q"uote\\back', 'tab\there\nnl', '\u009b31m', 'bidi\u202eevil', 'zw\u200bsp', 'caf\u00e9.example', '\ud800lone', 'emoji\ud83d\ude00.example', ''];
    const types = [1, 28, 5, 16, 12, 999, 65];
    for (let n = 1; n <= 40; n += 3) {
      const answers = Array.from({ length: n }, (_, i) => ({
        name: awkward[i % awkward.length] as string,
        type: types[i % types.length] as number,
        data: types[i % types.length] === 1 ? `10.0.0.${i}` : (awkward[(i + 3) % awkward.length] as string),
        ttl: [0, 300, 4294967295, 86400][i % 4] as number,
      }));
      const info: DnsInfo = { queries: ['x.example'], answers, rcode: 0 };
      expect(written(info)).toBe(reference(info));
      expect(JSON.parse(written(info))).toHaveLength(Math.min(n, 32));
    }
  });

  it('gives the object writer the same answers', () => {
    const info: DnsInfo = { queries: ['x.example'], answers: [{ name: 'a\u202e', type: 28, data: '::1', ttl: 5 }], rcode: 3 };
    const o = new ObjectWriter(false);
    o.begin();
    dnsSection.write?.doc?.(info, o, {} as never);
    expect(o.end()).toEqual({ dns: { question: { name: 'x.example' }, response_code: 'NXDOMAIN', answers: [{ name: 'a\u202e', type: 'AAAA', data: '::1', ttl: 5 }], resolved_ip: ['::1'] } });
  });
});

describe('DNS exchange completion (UDP)', () => {
  const q = (id: number, n = 'a.example') => Uint8Array.from([...header(id, 0x0100, 1, 0), ...name(n), ...u16(1), ...u16(1)]);
  const r = (id: number, n = 'a.example') => Uint8Array.from([...header(id, 0x8180, 1, 1), ...name(n), ...u16(1), ...u16(1), ...rr([0xc0, 12], 1, 60, [10, 0, 0, 1])]);
  const run = (msgs: [Dir, Uint8Array][], spec = dnsSpec) => {
    const h = harness(spec, spec.defaultLimits, { srcPort: 40000, dstPort: 53, transport: spec.transport, startTs: 0 });
    for (const [d, m] of msgs) {
      if (spec.transport === 'tcp') h.feed(d, Uint8Array.from([...u16(m.length), ...m]));
      else h.feed(d, m);
    }
    return h;
  };

  it('says complete once the query has its response, not before', () => {
    expect(run([[Dir.ToServer, q(1)]]).completes).toEqual([]);
    expect(run([[Dir.ToServer, q(1)], [Dir.ToClient, r(1)]]).completes).toEqual([2]);
  });

  it('waits for every open query: A and AAAA on one socket, answered in either order', () => {
    expect(run([[Dir.ToServer, q(1)], [Dir.ToServer, q(2)], [Dir.ToClient, r(1)], [Dir.ToClient, r(2)]]).completes).toEqual([4]);
    expect(run([[Dir.ToServer, q(1)], [Dir.ToServer, q(2)], [Dir.ToClient, r(2)], [Dir.ToClient, r(1)]]).completes).toEqual([4]);
  });

  it('a retransmitted query is answered by the one response; a response with another id answers nothing', () => {
    expect(run([[Dir.ToServer, q(7)], [Dir.ToServer, q(7)], [Dir.ToClient, r(7)]]).completes).toEqual([3]);
    expect(run([[Dir.ToServer, q(7)], [Dir.ToClient, r(8)]]).completes).toEqual([]);
    expect(run([[Dir.ToServer, q(7)], [Dir.ToClient, r(8)], [Dir.ToClient, r(7)]]).completes).toEqual([3]);
  });

  it('a response without a query (mDNS announcements) never completes; nor does DNS over TCP (its connection ends it)', () => {
    expect(run([[Dir.ToClient, r(1)], [Dir.ToClient, r(2)]]).completes).toEqual([]);
    expect(run([[Dir.ToServer, q(1)], [Dir.ToClient, r(1)]], dnsTcpSpec).completes).toEqual([]);
  });

  it('more open queries than it tracks: the flow is left to the idle timeout', () => {
    const msgs: [Dir, Uint8Array][] = [];
    for (let id = 1; id <= 18; id++) msgs.push([Dir.ToServer, q(id)]);
    for (let id = 1; id <= 18; id++) msgs.push([Dir.ToClient, r(id)]);
    expect(run(msgs).completes).toEqual([]);
    // Seventeen open at most are tracked (one slot and sixteen more).
    expect(run(msgs.filter((_, i) => i % 18 < 17)).completes).toEqual([34]);
  });
});
