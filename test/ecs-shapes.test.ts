// The flow document's own writers for JsonWriter (src/output/ecs.ts writeHead, relatedOfFlow: runs
// of constant bytes between the values) against the field-method path the object form takes
// (ObjectWriter), lean and full, on every golden capture and on records built to take each branch
// the shapes have; and the described set's recency list against a reference LRU at its edges.
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSections, DescribedSet, ecsContext, EcsSerializer, flowToEcs, presentSections, writeFlow, type EcsContext } from '../src/output/ecs.js';
import type { HttpInfo } from '../dissectors/http/record.js';
import { eventId, flowEventId, JsonWriter, msText, terminalSafeJson } from '../src/output/json.js';
import { newFlowRecord, type FlowRecord, type HostInfo, type ProcessInfo } from '../src/flow/record.js';
import { captures, replayCapture } from './helpers/golden.js';
import { tlsOf, type TlsInfo } from '../dissectors/tls/record.js';
import type { CertInfo, ChainFeatures } from '../dissectors/x509/types.js';

const defaultContext = ecsContext();

/** The serializer's text for r and the object form's, lean or full (a fresh serializer unless given). */
function both(r: FlowRecord, full: boolean, ctx: EcsContext, ser = new EcsSerializer({ ctx, detail: full ? 'full' : 'lean', onRef: () => {} })): [string, string] {
  return [ser.flow(r), terminalSafeJson(JSON.stringify(flowToEcs(r, defaultSections, ctx, full)))];
}

const contexts: [string, EcsContext][] = [
  ['no observer names', ecsContext()],
  ['observer names beyond ASCII', ecsContext({ hostname: 'capteur-\u00e9t\u00e9', name: 'Zweig\u00fc "s1"' })],
  ['external networks only', ecsContext({ name: 's1' }, [])],
];

describe('flow head and related.*: byte writers equal the field methods', () => {
  const caps = [...captures()];
  it('has captures', () => expect(caps.length).toBeGreaterThan(20));
  for (const cap of caps) {
    it(`${basename(dirname(cap))}/${basename(cap)}`, async () => {
      const { flows } = await replayCapture(cap);
      for (const [, ctx] of contexts) {
        for (const full of [false, true]) {
          // one stream's serializer for the whole capture, so parts kept as bytes are copied into
          // later flows (and, with room for one key, kept and dropped all the time)
          for (const memoKeys of [1024, 1]) {
            const ser = new EcsSerializer({ ctx, detail: full ? 'full' : 'lean', onRef: () => {}, memoKeys });
            for (const f of flows) {
              const [text, object] = both(f, full, ctx, ser);
              expect(text).toBe(object);
            }
            expect(ser.memo.size).toBeLessThanOrEqual(memoKeys);
          }
        }
      }
    });
  }

  it('on records taking every branch of the head and of related.*', () => {
    const records: FlowRecord[] = [];
    const add = (f: (r: FlowRecord) => void, init: Partial<Parameters<typeof newFlowRecord>[0]> = {}): void => {
      const r = newFlowRecord({ id: records.length + 1, client: { ip: '10.0.0.1', port: 5000 }, server: { ip: '192.0.2.7', port: 443 }, startTs: 1_700_000_000_123.4, endTs: 1_700_000_002_000.25, ...init });
      f(r);
      records.push(r);
    };
    add(() => {});
    add((r) => { r.protocol = null; });
    add((r) => { r.protocol = 'dns'; r.vlan = 42; }, { transport: 'udp' });
    add((r) => { r.ipVersion = 6; }, { client: { ip: 'fe80::1', port: 1 }, server: { ip: '2001:db8::2', port: 53 }, transport: 'udp' });
    add((r) => { r.dnsName = 'same.example'; }, { client: { ip: '10.0.0.9', port: 1 }, server: { ip: '10.0.0.9', port: 2 } });
    add((r) => { r.dnsName = ''; r.communityId = ''; }, { client: { ip: '', port: 0 }, server: { ip: '', port: 0 } });
    add((r) => { r.dnsName = 'only.hosts'; }, { client: { ip: '', port: 0 }, server: { ip: '', port: 0 } });
    add((r) => { r.dnsName = 'esc\u001b"\\\u202e.example'; r.protocol = 'p"q'; });
    add(() => {}, { startTs: -1.5, endTs: 253_402_300_800_000 });
    add(() => {}, { startTs: 0, endTs: 0.999 });
    add((r) => { r.dirs[0].bytes = 2 ** 40; r.dirs[1].packets = 3_000_000_000; r.endTs = r.startTs + 86_400_000 * 40; });
    add((r) => { (r as { endReason: unknown }).endReason = null; });
    // ndr.beacon: lean's three fields as runs, full's through the field methods
    const beacon = { score: 0.8123, connections: 12, medianIntervalS: 60, tsScore: 0.9, dsScore: 0.8, durScore: 0.7, histScore: 0.6, basis: 'connections' as const };
    add((r) => { r.beacon = { ...beacon }; });
    add((r) => { r.beacon = { ...beacon, medianIntervalS: null, score: Number.NaN, connections: 0 }; });
    add((r) => { r.beacon = { ...beacon, score: 1, connections: 2 ** 33, medianIntervalS: 0.5 }; r.id = null as unknown as number; });
    add((r) => { r.beacon = { ...beacon, score: null as unknown as number }; });
    // end reasons are the engine's few names, kept as bytes; any other text is written as a value
    for (const reason of ['fin', 'rst', 'idle', 'evicted', 'eof', 'shutdown', 'complete', 'caf\u00e9 "x"', 'esc\u001b', 'fin']) add((r) => { (r as { endReason: unknown }).endReason = reason; });
    add((r) => { (r as { transport: unknown }).transport = 'sctp'; });
    for (const [name, ctx] of contexts) {
      for (const r of records) {
        for (const full of [false, true]) {
          const [text, object] = both(r, full, ctx);
          expect(text, `${name}, record ${r.id}, ${full ? 'full' : 'lean'}`).toBe(object);
        }
      }
    }
  });
});

describe('presentSections', () => {
  it('lists the sections a record holds in the registration order, whatever order they were set in', () => {
    const keys = defaultSections.map((s) => s.key);
    expect(keys.length).toBeGreaterThan(3);
    const apps: Record<string, unknown> = {};
    apps[keys[3] as string] = {};
    apps['not-registered-here'] = {};
    apps[keys[0] as string] = {};
    apps[keys[2] as string] = undefined;
    apps[keys[1] as string] = {};
    expect(presentSections(apps, defaultSections)).toEqual([0, 1, 3]);
    expect(presentSections({}, defaultSections)).toEqual([]);
  });
});

describe('described set: the recency list', () => {
  it('equals a reference LRU at the smallest bounds and on a mixed stream, days included', () => {
    for (const max of [1, 2, 3, 17]) {
      const d = new DescribedSet(max);
      const ref: { key: string; day: number }[] = []; // most recent last
      let evictions = 0;
      let x = 11;
      for (let i = 0; i < 5000; i++) {
        x = (x * 48271) % 2147483647;
        const key = String(x % (max + 4));
        const day = 20_000 + ((x >> 8) % 3 === 0 ? 1 : 0);
        const at = ref.findIndex((e) => e.key === key);
        const expected = at >= 0 && (ref[at] as { day: number }).day === day;
        if (at >= 0) ref.splice(at, 1);
        ref.push({ key, day });
        if (ref.length > max) {
          ref.shift();
          evictions++;
        }
        expect(d.check(key, day), `max ${max}, step ${i}`).toBe(expected);
      }
      expect(d.evictions).toBe(evictions);
      expect(d.size).toBe(ref.length);
    }
  });
});

describe('HTTP parts kept as bytes (JsonSectionMemo)', () => {
  it('a flow differing from a kept one in any field the HTTP writers read, or written under another redactor, gets its own text', () => {
    const base: HttpInfo = { method: 'GET', uri: '/status?token=abc', host: 'svc', userAgent: 'agent/1', statusCode: 204, requests: 1, pathEntropy: 2.5, hostEntropy: 1.5, upgrade: null, wsProtocol: null };
    const changes: Partial<HttpInfo>[] = [
      {}, { method: 'POST' }, { uri: '/other' }, { uri: null }, { host: 'svc2' }, { host: null }, { userAgent: 'agent/2' }, { userAgent: null },
      { statusCode: 200 }, { statusCode: null }, { requests: 2 }, { pathEntropy: 3 }, { pathEntropy: null }, { hostEntropy: 0 },
      { upgrade: 'websocket' }, { wsProtocol: 'chat, secret.token' }, { uri: null, host: null },
    ];
    const infos = [...changes, ...changes].map((c) => ({ ...base, ...c }));
    // a context whose redactor keeps `token` and one that takes it out
    const plain = ecsContext({ name: 's1' }, undefined, []);
    const redacting = ecsContext({ name: 's1' }, undefined, ['token', 'secret']);
    for (const full of [false, true]) {
      for (const memoKeys of [1024, 2]) {
        const ser = new EcsSerializer({ ctx: plain, detail: full ? 'full' : 'lean', onRef: () => {}, memoKeys });
        let id = 0;
        for (const ctx of [plain, redacting, plain]) {
          for (const h of infos) {
            const r = newFlowRecord({ id: ++id, client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.2', port: 80 }, startTs: 1_700_000_000_000, endTs: 1_700_000_000_005 });
            r.protocol = 'http';
            (r.apps as Record<string, unknown>).http = { ...h };
            const w = ser.writer;
            w.begin();
            writeFlow(r, w, defaultSections, ctx);
            const bare = new JsonWriter(full);
            bare.begin();
            writeFlow(r, bare, defaultSections, ctx);
            expect(w.end(), `${JSON.stringify(h)} ${full} ${memoKeys}`).toBe(bare.end());
          }
        }
        expect(ser.memo.hits).toBeGreaterThan(0);
        expect(ser.memo.size).toBeLessThanOrEqual(memoKeys);
      }
    }
  });
});

describe('event.id input as bytes', () => {
  it('msText writes String(ms) for times of at most three decimals and declines every other number', () => {
    const b = new Uint8Array(64);
    const text = (ms: number): string | null => {
      const end = msText(b, 0, ms);
      return end < 0 ? null : Buffer.from(b.subarray(0, end)).toString('latin1');
    };
    let x = 12345;
    const next = (): number => (x = (x * 48271) % 2147483647);
    const samples: number[] = [0, 0.001, 0.01, 0.1, 0.5, 1, 9.999, 10, 1_000, 1_700_000_000_000, 1_796_652_308_226.123, 1_796_652_308_226.1, 1_796_652_308_226.12, 4_398_046_511_103.999];
    for (let i = 0; i < 20_000; i++) {
      const sec = next() % 2_000_000_000;
      const usec = next() % 1_000_000;
      samples.push(sec * 1000 + usec / 1000); // as a capture's clock gives them
      samples.push((sec * 1000 * 1000 + usec) / 1000);
      samples.push(next() / 7); // most are not three-decimal numbers: declined
    }
    let taken = 0;
    for (const ms of samples) {
      const t = text(ms);
      if (t !== null) {
        expect(t, `${ms}`).toBe(String(ms));
        taken++;
      }
    }
    expect(taken).toBeGreaterThan(40_000);
    for (const ms of [-0.5, -1, 4_398_046_511_104, 1e21, Number.NaN, Number.POSITIVE_INFINITY, 0.0001, 1.0005, 1_796_652_308_226.1234]) expect(text(ms), `${ms}`).toBeNull();
  });

  it('a flow id from bytes equals the id of the string, whichever way its input is formatted', () => {
    const cases: [string, number, number][] = [
      ['1:wjoDRL3+ecp9QhYHE1tXrCRIkNY=', 1_796_652_308_226.123, 1_796_652_308_738.689],
      ['1:x', 1_700_000_000_123.4, 1_700_000_000_123.4 + 1 / 3],
      ['', 0, -1],
      ['caf\u00e9', 1, 2],
      ['a'.repeat(300), 5, 6],
    ];
    for (const [cid, s, e] of cases) {
      const id = eventId(`flow|${cid}|${s}|${e}`);
      expect(flowEventId(cid, s, e)).toBe(id);
      // the writer's id, hex from the digest's bytes (or the string's id where its input declines)
      const w = new JsonWriter();
      w.begin();
      w.vflowId(cid, s, e);
      expect(w.end()).toBe(`{${id}}`);
    }
  });
});

describe('TLS parts kept as bytes (JsonSectionMemo)', () => {
  it('a record differing from a kept one in any field the TLS writers read gets its own text', async () => {
    let base: FlowRecord | null = null;
    for (const cap of captures()) {
      const { flows } = await replayCapture(cap);
      base = flows.find((f) => (tlsOf(f)?.chain.length ?? 0) > 1 && tlsOf(f)?.chainFeatures !== null && (tlsOf(f)?.alpnOffered.length ?? 0) > 0) ?? null;
      if (base !== null) break;
    }
    expect(base).not.toBeNull();
    if (base === null) return;
    const t0 = tlsOf(base) as TlsInfo;
    const other = t0.chain[1] as CertInfo;
    const cf = t0.chainFeatures as ChainFeatures;
    const changes: [string, Partial<TlsInfo>][] = [
      ['version', { version: t0.version === '1.2' ? '1.3' : '1.2' }], ['no version', { version: null }],
      ['cipher', { cipher: 'c0ff' }], ['established', { established: !t0.established }], ['resumed', { resumed: !t0.resumed }],
      ['next_protocol', { nextProtocol: 'x-other' }], ['ja4', { ja4: 't13d0000h2_000000000000_000000000000' }],
      ['ja3', { ja3: '0'.repeat(32) }], ['ja3s', { ja3s: '1'.repeat(32) }], ['ja4s', { ja4s: 't130200_1301_000000000000' }],
      ['sni', { sni: 'other.example' }], ['sni invalid', { sni: 'bad name' }], ['no sni', { sni: null }],
      ['supported ciphers', { supportedCiphers: [...t0.supportedCiphers, 'abcd'] }],
      ['another leaf', { chain: [other, ...t0.chain.slice(1)] }], ['shorter chain', { chain: t0.chain.slice(0, 1) }], ['no chain', { chain: [] }],
      ['ja4x', { ja4x: ['a_b_c'] }], ['extra ja4', { extraJa4: ['t13d0000h2_x_y'] }], ['alpn offered', { alpnOffered: ['h2'] }],
      ['client certificate', { clientCertificate: !t0.clientCertificate }],
      ['chain length', { chainFeatures: { ...cf, length: cf.length + 1 } }], ['anomalies', { chainFeatures: { ...cf, anomalies: [...cf.anomalies, 'expired'] } }],
      ['expired', { chainFeatures: { ...cf, expired: !cf.expired } }], ['linked', { chainFeatures: { ...cf, linked: !cf.linked } }],
      ['trusted root', { chainFeatures: { ...cf, trustedRoot: !cf.trustedRoot } }], ['sni in san', { chainFeatures: { ...cf, sniInSan: cf.sniInSan === true ? false : true } }],
      ['leaf self signed', { chainFeatures: { ...cf, leafSelfSigned: !cf.leafSelfSigned } }], ['not yet valid', { chainFeatures: { ...cf, notYetValid: !cf.notYetValid } }],
      ['no chain features', { chainFeatures: null }],
      ['ja4_r', { ja4_r: 'r' }], ['ja4_o', { ja4_o: 'o' }], ['ja4_ro', { ja4_ro: 'ro' }], ['ja3 string', { ja3_full: '771,1-2,3,4,5' }],
      ['nothing inside ndr', { alpnOffered: [], chainFeatures: null, ja4x: [], extraJa4: [], clientCertificate: false, appRecordSizes: [[], []] }],
      ['app record sizes', { appRecordSizes: [[100, 200], [300]] }], ['no app record sizes', { appRecordSizes: [[], []] }],
    ];
    const ctx = ecsContext({ name: 's1' });
    for (const full of [false, true]) {
      const ser = new EcsSerializer({ ctx, detail: full ? 'full' : 'lean', onRef: () => {} });
      for (const [what, change] of changes) {
        // the original first (kept), then the changed record, then both again (each may be copied now)
        const changed: FlowRecord = { ...base, apps: { ...base.apps, tls: { ...t0, ...change } } };
        for (const r of [base, changed, base, changed]) {
          const [text, object] = both(r, full, ctx, ser);
          expect(text, `${what}, ${full ? 'full' : 'lean'}`).toBe(object);
        }
      }
      expect(ser.memo.hits).toBeGreaterThan(changes.length);
      expect(ser.memo.misses).toBeGreaterThan(0);
    }
  });

  it('keeps at most its bound of keys and counts what it drops', async () => {
    const records: FlowRecord[] = [];
    for (const cap of captures()) for (const f of (await replayCapture(cap)).flows) if (tlsOf(f) !== null) records.push(f);
    expect(records.length).toBeGreaterThan(20);
    const ser = new EcsSerializer({ detail: 'lean', onRef: () => {}, memoKeys: 3 });
    for (let i = 0; i < 200; i++) {
      const r = records[i % records.length] as FlowRecord;
      const t = tlsOf(r) as TlsInfo;
      // a new server name every time: every record is a new key
      const named: FlowRecord = { ...r, apps: { ...r.apps, tls: { ...t, sni: `host-${i}.example` } } };
      const [text, object] = both(named, false, defaultContext, ser);
      expect(text).toBe(object);
      expect(ser.memo.size).toBeLessThanOrEqual(3);
    }
    // every record keeps its TLS part under a new key (and its ndr part when it has one)
    expect(ser.memo.evictions).toBeGreaterThanOrEqual(200 - 3);
  });
});

describe('EDR process and host parts kept as bytes', () => {
  it('a flow differing in any process or host field, or whose EDR objects changed since, gets its own text', async () => {
    let base: FlowRecord | null = null;
    for (const cap of captures()) {
      base = (await replayCapture(cap)).flows.find((f) => f.attribution?.process != null && f.attribution.host !== null) ?? null;
      if (base !== null) break;
    }
    expect(base).not.toBeNull();
    if (base === null || base.attribution === null) return;
    const a = base.attribution;
    const p0 = a.process as ProcessInfo;
    const h0 = a.host as HostInfo;
    const pc: Partial<ProcessInfo>[] = [
      { entityId: '{other}' }, { entityId: null }, { pid: 4242 }, { pid: null }, { executable: 'C:\\x\\y.exe' }, { name: 'y.exe' }, { commandLine: 'y.exe -z' },
      { user: 'CORP\\eve' }, { user: null }, { user: '' }, { parentExecutable: 'p.exe' }, { parentCommandLine: 'p -q' }, { signed: !p0.signed }, { signed: null },
      { signature: 'Other Corp' }, { signatureStatus: 'expired' }, { startTs: 1_700_000_000_000 }, { startTs: null },
    ];
    const hc: Partial<HostInfo>[] = [{ name: 'other-host' }, { name: null }, { id: 'h-2' }, { os: 'Linux' }, { os: null }, { ips: ['10.9.9.9'] }, { ips: [...h0.ips, '10.1.1.1'] }, { ips: [] }];
    const ctx = ecsContext({ name: 's1' });
    for (const full of [false, true]) {
      const ser = new EcsSerializer({ ctx, detail: full ? 'full' : 'lean', onRef: () => {} });
      const variants: FlowRecord[] = [
        ...pc.map((c) => ({ ...base, attribution: { ...a, process: { ...p0, ...c } } }) as FlowRecord),
        ...hc.map((c) => ({ ...base, attribution: { ...a, host: { ...h0, ...c } } }) as FlowRecord),
      ];
      for (const v of variants) {
        for (const r of [base, v, base, v]) {
          const [text, object] = both(r, full, ctx, ser);
          expect(text, JSON.stringify(v.attribution?.process)).toBe(object);
        }
      }
      // the same objects changed in place after their flow was written
      // (keys no earlier flow used, so these very objects are the ones kept with the bytes)
      const p = { ...p0, entityId: `{fresh-${String(full)}}` };
      const h = { ...h0, id: `fresh-${String(full)}`, ips: [...h0.ips] };
      const r: FlowRecord = { ...base, attribution: { ...a, process: p, host: h } };
      expect(both(r, full, ctx, ser)[0]).toBe(both(r, full, ctx, ser)[1]);
      p.commandLine = 'changed.exe --now';
      h.ips.push('10.7.7.7');
      const [text, object] = both(r, full, ctx, ser);
      expect(text).toBe(object);
      expect(text).toContain('changed.exe --now');
      expect(text).toContain('10.7.7.7');
      expect(ser.memo.hits).toBeGreaterThan(variants.length);
    }
  });
});
