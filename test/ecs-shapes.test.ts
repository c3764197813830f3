// The flow document's own writers for JsonWriter (src/output/ecs.ts writeHead, relatedOfFlow: runs
// of constant bytes between the values) against the field-method path the object form takes
// (ObjectWriter), lean and full, on every golden capture and on records built to take each branch
// the shapes have; and the described set's recency list against a reference LRU at its edges.
import { basename, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultSections, DescribedSet, ecsContext, EcsSerializer, flowToEcs, presentSections, type EcsContext } from '../src/output/ecs.js';
import { terminalSafeJson } from '../src/output/json.js';
import { newFlowRecord, type FlowRecord } from '../src/flow/record.js';
import { captures, replayCapture } from './helpers/golden.js';

/** The serializer's text for r and the object form's, lean or full. */
function both(r: FlowRecord, full: boolean, ctx: EcsContext): [string, string] {
  const ser = new EcsSerializer({ ctx, detail: full ? 'full' : 'lean', onRef: () => {} });
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
        for (const f of flows) {
          for (const full of [false, true]) {
            const [text, object] = both(f, full, ctx);
            expect(text).toBe(object);
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
