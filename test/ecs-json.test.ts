// The ECS serializer (src/output/json.ts, EcsSerializer) writes the text JSON.stringify gives for
// the object form, field for field and in the same order, with the terminal-unsafe characters
// escaped as the JSON-lines sink always did: checked on every flow and alert of every capture with
// a golden file (the demo among them), and on the awkward values no capture holds.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertToEcs, defaultEcsContext, DescribedSet, ecsContext, EcsSerializer, flowToEcs } from '../src/output/ecs.js';
import { eventId, isoTime, jsonString, JsonWriter, ObjectWriter, terminalSafeJson } from '../src/output/json.js';
import { newFlowRecord, type FlowRecord } from '../src/flow/record.js';
import { captures, replayCapture } from './helpers/golden.js';
import { tlsOf } from '../dissectors/tls/record.js';
import { dnsSection, rcodeName, rrTypeName, type DnsInfo } from '../dissectors/dns/record.js';
import { httpSection, type HttpInfo } from '../dissectors/http/record.js';
import type { SectionContext } from '../src/contract/api.js';
import { withoutUserinfo } from '../src/util/redact.js';

describe('ECS JSON text equals the object form', () => {
  const caps = [...captures()];
  it('has captures', () => expect(caps.length).toBeGreaterThan(20));
  for (const cap of caps) {
    it(`${basename(dirname(cap))}/${basename(cap)}`, async () => {
      const { flows, alerts } = await replayCapture(cap);
      const ser = new EcsSerializer({ detail: 'full' });
      for (const f of flows) expect(ser.flow(f)).toBe(terminalSafeJson(JSON.stringify(flowToEcs(f))));
      for (const a of alerts) expect(ser.alert(a)).toBe(terminalSafeJson(JSON.stringify(alertToEcs(a))));
    });
  }
});

describe('DNS and HTTP section writers equal their object forms', () => {
  type Info = Record<string, unknown>;
  // The object forms the sections built before they wrote their fields one by one: the reference.
  const dnsEcsObject = (d: DnsInfo): Info => ({
    question: { name: d.queries[0] ?? null },
    response_code: d.rcode !== null ? rcodeName(d.rcode) : null,
    answers: d.answers.slice(0, 32).map((a) => ({ name: a.name, type: rrTypeName(a.type), data: a.data, ttl: a.ttl })),
    resolved_ip: d.answers.filter((a) => a.type === 1 || a.type === 28).map((a) => a.data),
  });
  const httpEcsObject = (h: HttpInfo, { redactor }: SectionContext): { doc: Info; ndr: Info } => ({
    doc: {
      http: { request: { method: h.method }, response: { status_code: h.statusCode } },
      url: { original: h.uri !== null ? redactor.redact(h.uri) : null, domain: h.host !== null ? withoutUserinfo(h.host) : null },
      user_agent: { original: h.userAgent },
    },
    ndr: {
      http: { requests: h.requests, path_entropy: h.pathEntropy, host_entropy: h.hostEntropy, upgrade: h.upgrade, websocket_protocol: h.wsProtocol !== null ? redactor.redactWebSocketProtocols(h.wsProtocol) : null },
    },
  });
  // The object form pruned as writeFlow pruned it before these sections wrote their own fields.
  const objectText = (parts: Record<string, unknown>): string => {
    const o = new ObjectWriter();
    o.begin();
    for (const k in parts) o.val(k, parts[k]);
    return terminalSafeJson(JSON.stringify(o.end()));
  };
  const writerText = (f: (w: JsonWriter) => void): string => {
    const w = new JsonWriter();
    w.begin();
    f(w);
    return w.end();
  };
  const checkDns = (d: DnsInfo): void => {
    expect(writerText((w) => dnsSection.write?.doc?.(d, w, defaultEcsContext))).toBe(objectText({ dns: dnsEcsObject(d) }));
  };
  const checkHttp = (h: HttpInfo): void => {
    const o = httpEcsObject(h, defaultEcsContext);
    expect(writerText((w) => httpSection.write?.doc?.(h, w, defaultEcsContext))).toBe(objectText(o.doc));
    expect(writerText((w) => httpSection.write?.ndr?.(h, w, defaultEcsContext))).toBe(objectText(o.ndr));
  };

  it('on every DNS and HTTP flow of the golden captures', async () => {
    let dns = 0;
    let http = 0;
    for (const cap of captures()) {
      const { flows } = await replayCapture(cap);
      for (const f of flows) {
        const d = f.apps.dns as DnsInfo | undefined;
        if (d !== undefined) { checkDns(d); dns++; }
        const h = f.apps.http as HttpInfo | undefined;
        if (h !== undefined) { checkHttp(h); http++; }
      }
    }
    expect(dns).toBeGreaterThan(5);
    expect(http).toBeGreaterThan(5);
  });

  it('on values no capture holds', () => {
    const odd = 'evil\u001b]0;t\u0007\u202e"q\\\ud800é';
    const many = Array.from({ length: 40 }, (_, i) => ({ name: `n${i}.example`, type: i % 2 === 0 ? 1 : 28, data: `10.0.0.${i}`, ttl: i }));
    const dnsCases: DnsInfo[] = [
      { queries: [], answers: [], rcode: null },
      { queries: [odd], answers: [], rcode: 3 },
      { queries: ['a.example', 'b.example'], answers: [{ name: odd, type: 99_999, data: odd, ttl: Number.NaN }], rcode: 200 },
      { queries: ['x.example'], answers: many, rcode: 0 },
      { queries: ['cname.example'], answers: [{ name: 'cname.example', type: 5, data: 'other.example', ttl: -0 }], rcode: 0 },
      // the address past the 32 listed answers is still a resolved_ip; a large TTL; no question
      { queries: ['chain.example'], answers: [...Array.from({ length: 33 }, (_, i) => ({ name: `c${i}.example`, type: 5, data: `c${i + 1}.example`, ttl: 2 ** 32 - 1 })), { name: 'c33.example', type: 28, data: '2001:db8::1', ttl: 1 }], rcode: 0 },
      { queries: [], answers: [{ name: 'x.example', type: 1, data: '192.0.2.1', ttl: 5 }], rcode: 0 },
      { queries: ['nx.example'], answers: [], rcode: 3 },
    ];
    for (const d of dnsCases) checkDns(d);
    const base: HttpInfo = { method: null, uri: null, host: null, userAgent: null, statusCode: null, requests: 0, pathEntropy: null, hostEntropy: null, upgrade: null, wsProtocol: null };
    const httpCases: Info[] = [
      {},
      { method: 'GET', uri: 'http://u:p@h.example/x?password=1', host: 'u:p@h.example:8080', userAgent: odd, statusCode: 200, requests: 3, pathEntropy: 2.5, hostEntropy: Number.NaN, upgrade: 'websocket', wsProtocol: 'chat, token.secret' },
      { method: odd, uri: odd, host: odd, upgrade: '', wsProtocol: '' },
      { statusCode: Number.POSITIVE_INFINITY, pathEntropy: 0 },
    ];
    for (const c of httpCases) checkHttp({ ...base, ...c } as HttpInfo);
  });
});

describe('JSON writer', () => {
  it('formats timestamps as Date does, cached day and second included', () => {
    const base = Date.UTC(2026, 11, 7, 23, 59, 58, 999);
    const times = [0, 1, 999.999, 86_399_999, 86_400_000, base, base + 0.5, base + 1, base + 1001, base + 2000, 951_782_400_000 /* 2000-02-29 */, 253_402_300_799_999, 1.5e12 + 0.25];
    let x = 1;
    for (let i = 0; i < 2000; i++) { x = (x * 48271) % 2147483647; times.push((x / 2147483647) * 4.1e12); }
    for (const t of times) expect(isoTime(t)).toBe(new Date(t).toISOString());
    // outside the fast range Date decides, as before: a six-digit year, or a RangeError
    expect(isoTime(-1)).toBe(new Date(-1).toISOString());
    expect(isoTime(253_402_300_800_000)).toBe(new Date(253_402_300_800_000).toISOString());
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
  });

  it('writes numbers as JSON.stringify does: int32s, integers up to 2^53 and past it, decimals, non-finite', () => {
    const values = [0, -0, 1, 9, 10, 99, 100, 101, 999, 1000, 65_535, 2_147_483_647, 2_147_483_648, 4_294_967_296, 999_999_999_999, 1e12, 1e15 + 1,
      9_000_000_999_999_999, 9_007_199_254_740_991, 9_007_199_254_740_992, 1e16, 1e21, 1e22, -1, -2_147_483_648, -5e12, 0.5, 1.25, 0.0001, 2.2359263506290326,
      12_345.6789, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    let x = 7;
    const next = (): number => (x = (x * 48271) % 2147483647);
    for (let i = 0; i < 20_000; i++) {
      values.push(next(), next() * 4096 + (next() % 4096), next() * 4_194_304 + (next() % 4_194_304), next() / 1e4, (next() * 1000 + (next() % 1000)) * 1e6);
    }
    const w = new JsonWriter();
    for (const v of values) {
      w.begin();
      w.num('n', v);
      expect(w.end(), `${v}`).toBe(JSON.stringify({ n: v }));
    }
  });

  it('writes a timestamp value as Date does, on the cached and the uncached path', () => {
    let seed = 11;
    const base = Date.UTC(2026, 10, 2, 8, 0, 0, 0);
    const times = [0, 999.999, base, base + 0.001, base + 5, base + 999.5, base + 1000, base + 86_400_000, base - 1, 253_402_300_799_999, -1, 253_402_300_800_000];
    for (let i = 0; i < 5000; i++) times.push(base + (next() % 200_000) + (next() % 1000) / 1000);
    const w = new JsonWriter();
    for (const t of times) {
      w.begin();
      w.time('t', t);
      expect(w.end(), `${t}`).toBe(JSON.stringify({ t: new Date(t).toISOString() }));
    }
    function next(): number {
      seed = (seed * 48271) % 2147483647;
      return seed;
    }
  });

  it('flow ids written when the lines leave the writer are each flow\'s own, across batches and abandoned documents', () => {
    const records = [];
    for (let i = 0; i < 700; i++) {
      // every seventh flow's times have more decimals than msText writes: its id input is made as a string
      const start = 1_796_652_308_226 + i * 1.5 + (i % 7 === 0 ? 1 / 3 : 0.125);
      const r = newFlowRecord({ id: i + 1, client: { ip: `10.0.${i >> 8}.${i & 255}`, port: 40_000 + i }, server: { ip: '10.9.9.9', port: 53 }, startTs: start, endTs: start + (i % 5) * 0.001, transport: 'udp', protocol: 'dns', endReason: 'complete' });
      r.communityId = `1:${Buffer.from(`flow ${i}`).toString('base64')}`;
      records.push(r);
    }
    const ser = new EcsSerializer({ detail: 'full' });
    const w = ser.writer;
    const expected: string[] = [];
    const chunks: Buffer[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as FlowRecord;
      // begun and never kept: its id must not land in what the next line has in its place
      if (i % 50 === 10 || i % 50 === 20) {
        ser.flowWriter(records[(i * 7) % records.length] as FlowRecord);
        const note = `{"note":"${'n'.repeat(80 + (i % 3))}"}`;
        if (i % 50 === 10) {
          w.begin();
          w.str('note', 'n'.repeat(80 + (i % 3)));
          w.line();
        } else {
          w.textLine(note);
        }
        expected.push(`${note}\n`);
      }
      ser.flowWriter(r).line();
      expected.push(`${new EcsSerializer({ detail: 'full' }).flow(r)}\n`);
      if (i % 300 === 299) chunks.push(Buffer.from(w.takeLines(1 << 16)));
      // a document ended as a string among deferred lines gets its own id at once
      if (i % 97 === 0) expect(ser.flow(r)).toBe((expected[expected.length - 1] as string).slice(0, -1));
    }
    ser.flowWriter(records[3] as FlowRecord);
    chunks.push(Buffer.from(w.takeLines(1 << 16)));
    const lines = Buffer.concat(chunks).toString('latin1');
    expect(lines).toBe(expected.join(''));
    const ids = lines.trimEnd().split('\n').filter((l) => !l.startsWith('{"note"')).map((l) => (JSON.parse(l) as { event: { id: string } }).event.id);
    expect(ids).toEqual(records.map((r) => eventId(`flow|${r.communityId}|${r.startTs}|${r.endTs}`)));
  });

  it('escapes strings as JSON.stringify does, plus the terminal-unsafe set', () => {
    const samples = ['plain', 'q"uote', 'back\\slash', 'nl\n\ttab\u0000', 'esc\u001b[31m', 'del\u007f', 'c1\u009b', 'bidi\u202e', 'zw\u200b', 'bom\ufeff', 'lone\ud800', 'pair\ud83d\ude00', 'é ü ß', ''];
    for (const s of samples) {
      const j = jsonString(s);
      expect(JSON.parse(j)).toBe(s);
      expect(j).toBe(terminalSafeJson(JSON.stringify(s)));
      expect(/[\u007f-\u009f\u202e\u200b\ufeff\u001b]/.test(j)).toBe(false);
    }
  });

  it('leaves out empty values and empty objects while writing, as the prune pass did', () => {
    const doc = { a: null, b: undefined, c: [], d: { e: null, f: { g: [] } }, h: 0, i: '', j: false, k: [null, { x: null }], l: { m: 1 }, n: Number.NaN };
    for (const w of [new JsonWriter(), new ObjectWriter()]) {
      w.begin();
      for (const [k, v] of Object.entries(doc)) w.val(k, v);
      w.open('empty');
      w.open('deeper');
      w.str('none', null);
      w.close();
      w.close();
      w.open('late');
      w.open('inner');
      w.time('t', 0);
      w.close();
      w.close();
      const out = w.end();
      const text = typeof out === 'string' ? out : JSON.stringify(out);
      expect(text).toBe('{"h":0,"i":"","j":false,"k":[null,{"x":null}],"l":{"m":1},"n":null,"late":{"inner":{"t":"1970-01-01T00:00:00.000Z"}}}');
    }
  });

  it('a flow record with wire strings that need escaping stays one parseable line', () => {
    const r = newFlowRecord({ id: 7, client: { ip: '10.0.0.1', port: 5000 }, server: { ip: '10.0.0.2', port: 80 }, startTs: 1_700_000_000_123.4, endTs: 1_700_000_001_000 });
    r.dnsName = 'evil\u001b]0;title\u0007\u202e.example';
    r.events = ['a"b', 'c\\d'];
    const line = new EcsSerializer({ detail: 'full' }).flow(r);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
    expect(JSON.parse(line)).toEqual(JSON.parse(JSON.stringify(flowToEcs(r))));
    expect(line).toBe(terminalSafeJson(JSON.stringify(flowToEcs(r))));
  });
});

describe('described set', () => {
  it('is a bounded LRU that counts its evictions', () => {
    const d = new DescribedSet(3);
    expect(['a', 'b', 'c'].map((k) => d.check(k))).toEqual([false, false, false]);
    expect(d.check('a')).toBe(true); // a is now the most recent
    expect(d.check('d')).toBe(false); // evicts b, the least recent
    expect(d.evictions).toBe(1);
    expect(d.size).toBe(3);
    expect(d.check('b')).toBe(false); // described again after eviction (evicts c)
    expect(d.check('a')).toBe(true);
    expect(d.check('c')).toBe(false);
    expect(d.evictions).toBe(3);
  });

  it('describes an object again on a later day, once', () => {
    const d = new DescribedSet(3);
    expect([d.check('a', 20000), d.check('a', 20000), d.check('a', 20001), d.check('a', 20001)]).toEqual([false, true, false, true]);
    expect(d.size).toBe(1);
    expect(d.evictions).toBe(0);
  });

  it('stays exact over many hits and evictions (the oldest found past the holes moves leave)', () => {
    const max = 1000;
    const d = new DescribedSet(max);
    const recent: string[] = []; // the reference LRU, most recent last
    let x = 7;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 48271) % 2147483647;
      const k = String(x % 1500);
      const had = recent.indexOf(k);
      expect(d.check(k)).toBe(had >= 0);
      if (had >= 0) recent.splice(had, 1);
      recent.push(k);
      if (recent.length > max) recent.shift();
    }
    expect(d.size).toBe(max);
    for (const k of recent) expect(d.check(k)).toBe(true);
  });

  it('a lean serializer without a place for the certificate documents is refused by name', () => {
    expect(() => new EcsSerializer()).toThrow(/onRef/);
    expect(() => new EcsSerializer({ detail: 'full' })).not.toThrow();
  });
});

describe('lean output: certificates described once per stream and day', () => {
  type Name = { distinguished_name?: string };
  type D = {
    event: { dataset?: string; id: string; type?: string[] };
    file?: { hash: { sha256: string }; x509?: { subject?: Name; issuer?: Name } };
    tls?: { server?: { hash?: { sha256?: string }; certificate_chain?: string[]; x509?: unknown } };
    ndr?: { tls?: { chain?: { length?: number; anomalies?: string[]; certificates?: unknown } } };
  };
  const longChain = [...captures()].find((p) => p.endsWith('tls12-python-long-chain.pcap')) as string;
  const demo = [...captures()].find((p) => p.endsWith('demo.pcap')) as string;

  async function stream(cap: string, opts: { describedMax?: number; shiftDays?: number[] } = {}): Promise<D[]> {
    const { flows } = await replayCapture(cap);
    const lines: string[] = [];
    const ser = new EcsSerializer({ onRef: (j) => lines.push(j), ...(opts.describedMax !== undefined ? { describedMax: opts.describedMax } : {}) });
    for (const shift of opts.shiftDays ?? [0]) {
      for (const f of flows) lines.push(ser.flow({ ...f, startTs: f.startTs + shift * 86_400_000, endTs: f.endTs + shift * 86_400_000 }));
    }
    return lines.map((l) => JSON.parse(l) as D);
  }

  for (const name of ['long chain', 'demo']) {
    it(`${name}: the leaf a flow names is described before it, once, the chain walks from it by issuer, and flows carry no description`, async () => {
      const cap = name === 'demo' ? demo : longChain;
      const docs = await stream(cap);
      const { flows } = await replayCapture(cap);
      const full = new EcsSerializer({ detail: 'full' });
      const wholes = flows.map((f) => JSON.parse(full.flow(f)) as D);
      const described = new Map<string, number>();
      let walked = 0;
      let flowNo = 0;
      docs.forEach((d, i) => {
        if (d.event.dataset === 'ndr.x509') {
          const h = d.file?.hash.sha256 as string;
          expect(described.has(h), `described twice: ${h}`).toBe(false);
          described.set(h, i);
          return;
        }
        if (d.event.type?.[0] !== 'connection') return;
        const whole = wholes[flowNo++] as D;
        expect(d.tls?.server?.x509).toBeUndefined();
        expect(d.tls?.server?.certificate_chain).toBeUndefined();
        expect(d.ndr?.tls?.chain?.certificates).toBeUndefined();
        const chain = whole.tls?.server?.certificate_chain ?? [];
        // the same keyword as the description's key (full writes it in upper case)
        const leaf = d.tls?.server?.hash?.sha256;
        expect(leaf).toBe(chain[0]);
        expect(whole.tls?.server?.hash?.sha256).toBe(chain[0]?.toUpperCase());
        if (leaf === undefined) return;
        expect(described.get(leaf), `leaf ${leaf} not described before flow ${i}`).toBeLessThan(i);
        expect(d.ndr?.tls?.chain?.length).toBe(chain.length);
        if (d.ndr?.tls?.chain?.anomalies?.includes('broken_chain')) return;
        // what a reader does without the list: from each certificate's issuer to the one described
        // (before this flow) with that subject, as many steps as the chain is long
        const before = docs.slice(0, i).filter((x) => x.event.dataset === 'ndr.x509');
        const path = [leaf];
        let cur = before.find((x) => x.file?.hash.sha256 === leaf) as D;
        while (path.length < chain.length) {
          const next = before.filter((x) => x.file?.x509?.subject?.distinguished_name === cur.file?.x509?.issuer?.distinguished_name);
          expect(next, `one certificate issued ${String(cur.file?.x509?.issuer?.distinguished_name)}`).toHaveLength(1);
          cur = next[0] as D;
          path.push(cur.file?.hash.sha256 as string);
        }
        expect(path).toEqual(chain);
        walked++;
      });
      expect(flowNo).toBe(flows.length);
      expect(walked).toBeGreaterThan(0);
      expect(described.size).toBeGreaterThan(0);
      expect(new Set(docs.map((d) => d.event.id)).size).toBe(docs.length);
    });
  }

  it('describes a certificate again on the next UTC day, with its own event id', async () => {
    const docs = await stream(longChain, { shiftDays: [0, 0, 1] });
    const certs = docs.filter((d) => d.event.dataset === 'ndr.x509');
    const hashes = new Set(certs.map((d) => d.file?.hash.sha256));
    expect(hashes.size).toBeGreaterThan(1);
    expect(certs.length).toBe(2 * hashes.size); // day 0 once (though replayed twice), day 1 once
    expect(new Set(certs.map((d) => d.event.id)).size).toBe(certs.length);
  });

  it('past the described set bound, a certificate is described again (never lost) and the eviction counted', async () => {
    const { flows } = await replayCapture(longChain);
    const f = flows.find((x) => (tlsOf(x)?.chain.length ?? 0) > 1);
    expect(f).toBeDefined();
    if (f === undefined) return;
    const n = (tlsOf(f)?.chain ?? []).length;
    const kinds: string[] = [];
    const ser = new EcsSerializer({ describedMax: 1, onRef: (_j, kind) => kinds.push(kind) });
    ser.flow(f);
    ser.flow(f);
    expect(kinds.filter((k) => k === 'x509')).toHaveLength(2 * n);
    // the client's fingerprint document shares the set: n + 1 objects a flow, each pushing out the
    // last, after the sensor's own document (once a day: the serializer knows it wrote it today)
    expect(kinds.filter((k) => k === 'ja4')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'sensor')).toHaveLength(1);
    expect(kinds).toHaveLength(2 * n + 3);
    expect(ser.described.evictions).toBe(2 * n + 2);
    expect(ser.described.size).toBe(1);
  });
});

describe('lean output: JA4 raw forms described once per stream and day', () => {
  type P = { event: { dataset?: string; kind: string }; tls?: { client?: { ja4?: string } }; ndr?: { tls?: { ja4_r?: string; ja4_o?: string; ja4_ro?: string } } };
  const pick = (suffix: string) => [...captures()].find((p) => p.endsWith(suffix)) as string;

  for (const suffix of ['demo.pcap', 'dtls12-openssl.pcap', 'tls13-openssl.pcap', 'webrtc-call.pcap']) {
    it(`${suffix}: ndr.ja4 per ja4, once, before the first flow, holding what full flows carry; the wire-order form only in full`, async () => {
      const { flows } = await replayCapture(pick(suffix));
      const lines: string[] = [];
      const lean = new EcsSerializer({ onRef: (j) => lines.push(j) });
      const full = new EcsSerializer({ detail: 'full' });
      const sorted = new Map<string, P>();
      let named = 0;
      for (const f of flows) {
        lines.push(lean.flow(f));
        const flow = JSON.parse(lines[lines.length - 1] as string) as P;
        for (const l of lines.slice(0, -1)) {
          const d = JSON.parse(l) as P;
          expect(d.event.dataset, 'a lean stream describes the sensor, certificates and ja4 only').toMatch(/^ndr\.(sensor|x509|ja4)$/);
          if (d.event.dataset !== 'ndr.ja4') continue;
          const k = d.tls?.client?.ja4 as string;
          expect(sorted.has(k), `described twice: ${k}`).toBe(false);
          sorted.set(k, d);
        }
        lines.length = 0;
        const whole = JSON.parse(full.flow(f)) as P;
        expect(flow.ndr?.tls?.ja4_r).toBeUndefined();
        expect(flow.ndr?.tls?.ja4_o).toBeUndefined();
        expect(flow.ndr?.tls?.ja4_ro).toBeUndefined();
        const ja4 = flow.tls?.client?.ja4;
        expect(ja4).toBe(whole.tls?.client?.ja4);
        if (whole.ndr?.tls?.ja4_o === undefined || ja4 === undefined) continue;
        named++;
        const d = sorted.get(ja4);
        expect(d, `ja4 ${ja4} not described before its flow`).toBeDefined();
        expect(d?.ndr?.tls).toEqual({ ja4_r: whole.ndr?.tls?.ja4_r });
        expect(whole.ndr?.tls?.ja4_ro).toBeDefined();
      }
      expect(named).toBeGreaterThan(0);
    });
  }

  it('a client shuffling its extensions (Chrome) gets its sorted form once and no document per connection', async () => {
    const { flows } = await replayCapture(pick('demo.pcap'));
    const f = flows.find((x) => tlsOf(x)?.ja4_o != null);
    expect(f).toBeDefined();
    if (f === undefined) return;
    const t = tlsOf(f)!;
    const kinds: string[] = [];
    const ser = new EcsSerializer({ onRef: (_j, kind) => kinds.push(kind) });
    // the same hello in three wire orders: ja4 and ja4_r stay, ja4_o and ja4_ro change
    for (const n of [1, 2, 3]) ser.flow({ ...f, apps: { ...f.apps, tls: { ...t, ja4_o: `${t.ja4_o}${n}`, ja4_ro: `${t.ja4_ro},${n}` } } });
    expect(kinds.filter((k) => k === 'ja4')).toHaveLength(1);
    expect(kinds.filter((k) => k !== 'ja4' && k !== 'x509')).toEqual(['sensor']);
  });

  it('a flow without a ClientHello names no fingerprint and gets no ndr.ja4 document', async () => {
    const { flows } = await replayCapture(pick('demo.pcap'));
    const plain = flows.filter((f) => tlsOf(f)?.ja4_o == null);
    expect(plain.length).toBeGreaterThan(0);
    const refs: string[] = [];
    const ser = new EcsSerializer({ onRef: (j, kind) => refs.push(kind) });
    for (const f of plain) ser.flow(f);
    expect(refs.filter((k) => k.startsWith('ja4'))).toEqual([]);
  });
});

describe('lean output: analytics inputs and redundant forms in full only', () => {
  type E = { bits: number; random_expected: number; score: number; sample: number };
  type N = {
    observer?: Record<string, string>;
    ndr: {
      flow: { byte_ratio?: number; direction_from_syn?: boolean; midstream?: boolean; ip_bytes?: unknown; tcp_flags?: unknown; retransmitted_bytes?: { to_server: number; to_client: number } };
      entropy?: { to_server?: E; to_client?: E };
      encrypted_channel?: { known?: string; suspicious: boolean };
      beacon?: Record<string, unknown>;
    };
    network: { protocol?: string };
  };

  it('lean leaves them out, full writes them exactly, and the record keeps them', async () => {
    const { flows } = await replayCapture([...captures()].find((p) => p.endsWith('demo.pcap')) as string);
    const ctx = ecsContext({ hostname: 'h', name: 'n' });
    const lean = new EcsSerializer({ ctx, onRef: () => {} });
    const full = new EcsSerializer({ ctx, detail: 'full' });
    let entropies = 0;
    let beacons = 0;
    let channels = 0;
    for (const f of flows) {
      const exact = JSON.stringify({ ratio: f.byteRatio, entropy: f.entropy, beacon: f.beacon, encrypted: f.encrypted });
      const l = JSON.parse(lean.flow(f)) as N;
      const w = JSON.parse(full.flow(f)) as N;
      expect(JSON.stringify({ ratio: f.byteRatio, entropy: f.entropy, beacon: f.beacon, encrypted: f.encrypted })).toBe(exact);
      expect(l.observer).toEqual({ hostname: 'h', name: 'n' });
      expect(w.observer).toMatchObject({ type: 'sensor', vendor: 'ndr-sensor', hostname: 'h', name: 'n' });
      expect(w.ndr.flow.byte_ratio).toBe(f.byteRatio ?? undefined);
      expect(w.ndr.flow.direction_from_syn).toBe(f.directionFromSyn);
      expect(w.ndr.flow.ip_bytes).toBeDefined();
      for (const k of ['byte_ratio', 'direction_from_syn', 'ip_bytes', 'tcp_flags'] as const) expect(l.ndr.flow[k]).toBeUndefined();
      expect(l.ndr.flow.midstream).toBe(w.ndr.flow.midstream);
      const retrans = f.dirs[0].retransBytes + f.dirs[1].retransBytes;
      expect(l.ndr.flow.retransmitted_bytes).toEqual(retrans > 0 ? w.ndr.flow.retransmitted_bytes : undefined);
      expect(l.ndr.entropy).toBeUndefined();
      for (const [i, side] of (['to_server', 'to_client'] as const).entries()) {
        const e = f.entropy[i];
        if (e === null || e === undefined) continue;
        entropies++;
        expect(w.ndr.entropy?.[side]).toEqual({ bits: e.bits, sample: e.sample, random_expected: e.randomExpected, score: e.score });
      }
      const ec = f.encrypted;
      if (ec !== null) {
        channels++;
        const repeats = !ec.suspicious && ec.compressed === null && ec.known !== null && ec.known === f.protocol;
        expect(l.ndr.encrypted_channel).toEqual(repeats ? undefined : w.ndr.encrypted_channel);
      }
      if (f.beacon !== null) {
        beacons++;
        expect(l.ndr.beacon).toEqual({ score: f.beacon.score, connections: f.beacon.connections, median_interval_s: f.beacon.medianIntervalS ?? undefined });
        expect(w.ndr.beacon).toMatchObject({ basis: f.beacon.basis, ts_score: f.beacon.tsScore });
      }
    }
    expect(entropies).toBeGreaterThan(5);
    expect(beacons).toBeGreaterThan(0);
    expect(channels).toBeGreaterThan(0);
  });

  it('a flow that retransmitted and a suspicious channel keep them in lean', async () => {
    const { flows } = await replayCapture([...captures()].find((p) => p.endsWith('demo.pcap')) as string);
    const f = flows.find((x) => x.encrypted !== null) as (typeof flows)[0];
    expect(f).toBeDefined();
    const lean = new EcsSerializer({ onRef: () => {} });
    const odd = { ...f, dirs: [{ ...f.dirs[0], retransBytes: 7 }, f.dirs[1]] as typeof f.dirs, encrypted: { known: null, suspicious: true, compressed: null, evidence: [{ signal: 'client_entropy', value: 'x', weight: 0.6 }] } };
    const l = JSON.parse(lean.flow(odd)) as N;
    expect(l.ndr.flow.retransmitted_bytes).toEqual({ to_server: 7, to_client: f.dirs[1].retransBytes });
    expect(l.ndr.encrypted_channel?.suspicious).toBe(true);
    const named = JSON.parse(lean.flow({ ...f, protocol: null, encrypted: { known: 'tls', suspicious: false, compressed: null, evidence: [{ signal: 'content', value: 'tls: handshake record', weight: 1 }] } })) as N;
    expect(named.ndr.encrypted_channel?.known).toBe('tls');
  });
});

describe('replay --output-detail', () => {
  const root = join(dirname(new URL(import.meta.url).pathname), '..');
  const cap = join(root, 'pcaps', 'tls', 'tls12-python-long-chain.pcap');
  function replayCli(args: string[]): { code: number; stderr: string; docs: Record<string, unknown>[] } {
    const bundle = join(root, 'dist', 'ndr-sensor.mjs');
    if (!existsSync(bundle)) execFileSync('node', [join(root, 'scripts', 'build.mjs')], { stdio: 'ignore' });
    const dir = mkdtempSync(join(tmpdir(), 'ndr-detail-'));
    try {
      const out = join(dir, 'out.jsonl');
      const r = spawnSync('node', [bundle, 'replay', '-q', '--no-summary', '--no-analytics', cap, '-o', out, ...args], { encoding: 'utf8', timeout: 60_000 });
      const docs = existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
      return { code: r.status ?? -1, stderr: r.stderr, docs };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  type Tls = { tls?: { server?: { x509?: unknown; hash?: { sha256?: string }; certificate_chain?: string[] } }; event: { dataset?: string } };

  it('writes the lean form by default and the full form when asked; anything else is refused by name', () => {
    const lean = replayCli([]);
    const full = replayCli(['--output-detail', 'full']);
    expect(lean.code, lean.stderr).toBe(0);
    expect(full.code, full.stderr).toBe(0);
    const described = (docs: Record<string, unknown>[]) => (docs as Tls[]).filter((d) => d.event.dataset !== undefined);
    const certs = (docs: Record<string, unknown>[]) => (docs as Tls[]).filter((d) => d.event.dataset === 'ndr.x509');
    const leafed = (docs: Record<string, unknown>[]) => (docs as Tls[]).filter((d) => d.tls?.server?.hash?.sha256 !== undefined);
    const chained = (docs: Record<string, unknown>[]) => (docs as Tls[]).filter((d) => (d.tls?.server?.certificate_chain?.length ?? 0) > 0);
    expect(leafed(lean.docs).length).toBeGreaterThan(0);
    expect(leafed(lean.docs).length).toBe(chained(full.docs).length);
    expect(chained(lean.docs)).toEqual([]);
    expect(certs(lean.docs).length).toBe(new Set(chained(full.docs).flatMap((d) => d.tls?.server?.certificate_chain ?? [])).size);
    expect(described(lean.docs).filter((d) => d.event.dataset === 'ndr.sensor')).toHaveLength(1);
    expect(leafed(lean.docs).every((d) => d.tls?.server?.x509 === undefined)).toBe(true);
    expect(described(full.docs)).toEqual([]);
    expect(chained(full.docs).every((d) => d.tls?.server?.x509 !== undefined)).toBe(true);
    const bad = replayCli(['--output-detail', 'verbose']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--output-detail');
  });
});
