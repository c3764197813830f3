import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BaselineStore, learnFromFlows, textKey } from './store.js';
import { IMG, T0, makeFlow } from '../../test/helpers/flows.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('BaselineStore', () => {
  it('learns destinations per host and user, images, libraries, JA4 and destination prevalence', () => {
    const s = BaselineStore.open();
    s.learn(makeFlow({ host: 'WS01.corp.example', user: 'CORP\\alice', sni: 'a.example', ja4: 'J1', imageLoads: [{ path: 'C:\\Windows\\System32\\SCHANNEL.dll', ts: T0 - 1, signed: true }] }));
    s.learn(makeFlow({ host: 'WS02.corp.example', user: 'CORP\\bob', sni: 'a.example', ja4: 'J1' }));
    s.learn(makeFlow({ host: 'WS02.corp.example', user: 'CORP\\bob', sni: 'a.example', ja4: 'J1' })); // repeat: no double count
    expect(s.hostDestinationFirstSeen('ws01.corp.example', 'A.example')).toBe(T0);
    expect(s.hostDestinationFirstSeen('ws01.corp.example', 'b.example')).toBeNull();
    expect(s.userDestinationFirstSeen('corp\\bob', 'a.example')).toBe(T0);
    expect(s.imageNetworkFirstSeen('C:\\Program Files\\Contoso\\agent.exe')).toBe(T0);
    expect(s.imageLibraryFirstSeen('c:\\program files\\contoso\\agent.exe', 'schannel.dll')).toBe(T0 - 1);
    expect(s.ja4HostCount('J1')).toBe(2);
    expect(s.destinationHostCount('a.example')).toBe(2);
    expect(s.hostCount()).toBe(2);
  });
  it('a host whose one fact is forgotten to make room for its second destination holds only the new one', () => {
    const s = BaselineStore.open({ memoryMaxKeysCount: 3 });
    const flow = (dest: string, ts: number) => makeFlow({ attribution: null, client: { ip: '10.9.1.1', port: 1 }, sni: dest, ja4: null, startTs: ts });
    s.learn(flow('d1.example', T0)); // host, (host, d1), d1's count: the bound
    s.learn(flow('d2.example', T0 + 1)); // (host, d2) forgets the oldest (host, destination): (host, d1)
    expect(s.hostDestinationFirstSeen('10.9.1.1', 'd1.example')).toBeNull();
    expect(s.hostDestinationFirstSeen('10.9.1.1', 'd2.example')).toBe(T0 + 1);
    const [st] = s.state();
    expect(st!.size).toBeLessThanOrEqual(3);
    expect(st!.size + st!.evictions).toBe(5);
  });
  it('a host going from one destination to several keeps every fact, and forgetting it counts each', () => {
    const s = BaselineStore.open({ memoryMaxKeysCount: 400 });
    const dests = (h: number): number => 1 + (h % 3);
    let facts = 0;
    const destSeen = new Set<string>();
    for (let h = 0; h < 200; h++) {
      const host = `10.9.0.${h}`;
      for (let d = 0; d < dests(h); d++) {
        const dest = `d${d}.example`;
        s.learn(makeFlow({ attribution: null, client: { ip: host, port: 1 }, sni: dest, ja4: null, startTs: T0 + h * 10 + d }));
        // a host, a (host, destination) and, for a destination no host had, its prevalence count
        facts += (d === 0 ? 1 : 0) + 1 + (destSeen.has(dest) ? 0 : 1);
        destSeen.add(dest);
      }
      if (h < 60) {
        for (let d = 0; d < dests(h); d++) expect(s.hostDestinationFirstSeen(host, `d${d}.example`)).toBe(T0 + h * 10 + d);
        expect(s.hostDestinationFirstSeen(host, `d${dests(h)}.example`)).toBeNull();
      }
    }
    const [st] = s.state();
    expect(st!.size).toBeLessThanOrEqual(400);
    expect(st!.size + st!.evictions).toBe(facts);
    // the count is of the facts really held: each table's entries, a host's inline fact or its map's
    const tables = (s as unknown as { tables: { all: { pinned?: boolean; m: Map<string, unknown> }[] } }).tables.all;
    let held = 0;
    for (const t of tables) {
      if (t.pinned === true) continue;
      for (const v of t.m.values()) held += v instanceof Map ? v.size : 1;
    }
    expect(held).toBe(st!.size);
    // the last host's destinations (three of them) are all still known
    for (let d = 0; d < dests(199); d++) expect(s.hostDestinationFirstSeen('10.9.0.199', `d${d}.example`)).toBe(T0 + 1990 + d);
    expect(s.destinationHostCount('d0.example')).toBe(200);
  });
  it('in memory answers as a store over LMDB does: new hosts, hosts coming back, mixed-case names and addresses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-baseline-'));
    dirs.push(dir);
    const mem = BaselineStore.open();
    const disk = BaselineStore.open({ path: dir });
    const hosts = (h: number): { host: string | null; client: { ip: string; port: number } } => (h % 4 === 0 ? { host: `WS${h}.Corp.Example`, client: { ip: `10.8.0.${h}`, port: 1 } } : { host: null, client: { ip: `10.8.${h >> 8}.${h & 255}`, port: 1 } });
    const dest = (h: number, k: number): string => (k % 2 === 0 ? `Svc${(h * 7 + k) % 40}.example` : `198.51.100.${(h + k) % 60}`);
    const flows = [];
    for (let round = 0; round < 3; round++) {
      for (let h = 0; h < 300; h++) flows.push(makeFlow({ attribution: null, ...hosts(h), sni: dest(h, round + (h % 3)), ja4: null, startTs: T0 + round * 10_000 + h }));
    }
    for (const f of flows) { mem.learn(f); disk.learn(f); }
    for (let h = 0; h < 300; h++) {
      const host = hosts(h).host?.toLowerCase() ?? hosts(h).client.ip;
      for (let k = 0; k < 6; k++) expect(mem.hostDestinationFirstSeen(host, dest(h, k)), `${host} ${dest(h, k)}`).toBe(disk.hostDestinationFirstSeen(host, dest(h, k)));
    }
    for (let d = 0; d < 60; d++) {
      expect(mem.destinationHostCount(`svc${d}.example`)).toBe(disk.destinationHostCount(`svc${d}.example`));
      expect(mem.destinationHostCount(`198.51.100.${d}`)).toBe(disk.destinationHostCount(`198.51.100.${d}`));
    }
    expect(mem.hostCount()).toBe(300);
    expect(disk.hostCount()).toBe(300);
    expect(mem.destinationHostCount('svc0.example')).toBeGreaterThan(1);
    expect(mem.state()[0]!.evictions).toBe(0);
    await disk.close();
  });
  it('in memory, hosts learned before the bound are still known as hosts once facts are forgotten', () => {
    const s = BaselineStore.open({ memoryMaxKeysCount: 10 });
    const flow = (h: number, d: number, ts: number) => makeFlow({ attribution: null, client: { ip: `10.7.0.${h}`, port: 1 }, sni: `d${d}.example`, ja4: null, startTs: ts });
    for (let h = 1; h <= 3; h++) s.learn(flow(h, h, T0 + h)); // a host, its destination and the destination's count each: 9 facts
    expect(s.state()[0]).toMatchObject({ size: 9, evictions: 0 });
    s.learn(flow(4, 4, T0 + 4)); // the host fits; its destination forgets host 1's, the count forgets d1's
    expect(s.state()[0]).toMatchObject({ size: 10, evictions: 2 });
    expect(s.hostDestinationFirstSeen('10.7.0.1', 'd1.example')).toBeNull();
    expect(s.destinationHostCount('d1.example')).toBe(0);
    expect(s.hostDestinationFirstSeen('10.7.0.4', 'd4.example')).toBe(T0 + 4);
    // Host 1 is still a known host: a new destination of its own is no new host.
    s.learn(flow(1, 5, T0 + 5));
    expect(s.hostCount()).toBe(4);
    expect(s.state()[0]).toMatchObject({ size: 10, evictions: 4 });
    expect(s.hostDestinationFirstSeen('10.7.0.1', 'd5.example')).toBe(T0 + 5);
    expect(s.hostDestinationFirstSeen('10.7.0.2', 'd2.example')).toBeNull();
    expect(s.hostDestinationFirstSeen('10.7.0.3', 'd3.example')).toBe(T0 + 3);
    expect(s.destinationHostCount('d2.example')).toBe(0);
    expect(s.destinationHostCount('d5.example')).toBe(1);
  });
  it('in memory, hosts written out a few a flow past half the bound are forgotten oldest first, then known again as new', () => {
    const s = BaselineStore.open({ memoryMaxKeysCount: 60 });
    const flow = (h: number, d: number, ts: number) => makeFlow({ attribution: null, client: { ip: `10.6.0.${h}`, port: 1 }, sni: `e${d}.example`, ja4: null, startTs: ts });
    for (let h = 1; h <= 20; h++) s.learn(flow(h, h, T0 + h)); // three facts a host: the bound
    expect(s.state()[0]).toMatchObject({ size: 60, evictions: 0 });
    s.learn(flow(21, 21, T0 + 21)); // forgets host 1, its destination and that destination's count
    expect(s.state()[0]).toMatchObject({ size: 60, evictions: 3 });
    expect(s.hostCount()).toBe(21);
    s.learn(flow(1, 99, T0 + 99)); // host 1 was forgotten: a new host again, and host 2 goes
    expect(s.hostCount()).toBe(22);
    expect(s.hostDestinationFirstSeen('10.6.0.2', 'e2.example')).toBeNull();
    s.learn(flow(3, 98, T0 + 98)); // host 3 is known; its new destination forgets its old one
    expect(s.hostCount()).toBe(22);
    expect(s.state()[0]).toMatchObject({ size: 60, evictions: 8 });
    expect(s.hostDestinationFirstSeen('10.6.0.3', 'e3.example')).toBeNull();
    expect(s.hostDestinationFirstSeen('10.6.0.3', 'e98.example')).toBe(T0 + 98);
    expect(s.hostDestinationFirstSeen('10.6.0.1', 'e99.example')).toBe(T0 + 99);
    expect(s.hostDestinationFirstSeen('10.6.0.4', 'e4.example')).toBe(T0 + 4);
    expect(s.destinationHostCount('e3.example')).toBe(0);
    expect(s.destinationHostCount('e4.example')).toBe(1);
  });
  it('learning period runs in packet time from the first flow', () => {
    const s = BaselineStore.open({ learningPeriodMs: 60_000 });
    expect(s.isWarm(T0)).toBe(false);
    s.learn(makeFlow({ startTs: T0 }));
    expect(s.isWarm(T0 + 59_999)).toBe(false);
    expect(s.isWarm(T0 + 60_000)).toBe(true);
    expect(s.learningEndsAt()).toBe(T0 + 60_000);
  });
  it('persists in LMDB across a restart, learning start included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-baseline-'));
    dirs.push(dir);
    const a = BaselineStore.open({ path: dir, learningPeriodMs: 1000 });
    const n = await learnFromFlows([makeFlow({ image: IMG.backup, sni: 'vault.example' }), makeFlow({ image: IMG.backup, sni: 'vault.example', host: 'WS02.corp.example' })], a);
    expect(n).toBe(2);
    await a.close();
    // learnFromFlows can also open (and close) the store itself
    expect(await learnFromFlows([makeFlow({ image: IMG.notepad, sni: 'x.example' })], { path: dir, learningPeriodMs: 1000 })).toBe(1);
    const b = BaselineStore.open({ path: dir, learningPeriodMs: 1000 });
    expect(b.persistent).toBe(true);
    expect(b.imageNetworkFirstSeen(IMG.notepad)).toBe(T0);
    expect(b.isWarm(T0 + 1000)).toBe(true);
    expect(b.imageNetworkFirstSeen(IMG.backup)).toBe(T0);
    expect(b.destinationHostCount('vault.example')).toBe(2);
    expect(b.hostDestinationFirstSeen('WS02.corp.example', 'vault.example')).toBe(T0);
    await b.close();
  });
});

describe('textKey (the tables\' key for a host or destination text)', () => {
  it('is an integer for an IPv4 address as the decoder writes it, and the text itself for anything else', () => {
    expect(textKey('10.40.0.1')).toBe((10 << 24) | (40 << 16) | 1);
    expect(textKey('0.0.0.0')).toBe(0);
    expect(textKey('255.255.255.255')).toBe(-1);
    for (const s of ['010.40.0.1', '10.40.0.01', '10.40.00.1', '10.40.0', '10.40.0.1.2', '256.1.1.1', '10.40.0.1 ', '1..2.3', '.1.2.3', '1.2.3.', '::1', '::ffff:10.0.0.1', 'ws01.corp.example', '', '1.2.3.4a']) {
      expect(textKey(s), s).toBe(s);
    }
  });

  it('gives different texts different keys, so a host named like a non-canonical address keeps facts of its own', () => {
    const seen = new Map<number | string, string>();
    for (const s of ['1.2.3.4', '01.2.3.4', '1.2.3.04', '10.0.0.1', '10.0.0.10', '100.0.0.1', '1.0.0.1', '0.0.0.1']) {
      const k = textKey(s);
      expect(seen.get(k), `${s} and ${seen.get(k)}`).toBeUndefined();
      seen.set(k, s);
    }
    const st = BaselineStore.open();
    st.learn(makeFlow({ host: '010.0.0.1', sni: 'a.example', startTs: T0 }));
    st.learn(makeFlow({ client: { ip: '10.0.0.1', port: 50_000 }, host: null, sni: 'b.example', startTs: T0 + 5 }));
    expect(st.hostDestinationFirstSeen('010.0.0.1', 'a.example')).toBe(T0);
    expect(st.hostDestinationFirstSeen('010.0.0.1', 'b.example')).toBeNull();
    expect(st.hostDestinationFirstSeen('10.0.0.1', 'b.example')).toBe(T0 + 5);
    expect(st.hostDestinationFirstSeen('10.0.0.1', 'a.example')).toBeNull();
    expect(st.hostCount()).toBe(2);
  });
});
