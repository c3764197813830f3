import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BaselineStore } from './store.js';
import { T0, makeFlow } from '../../test/helpers/flows.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('BaselineStore in-process tables', () => {
  it('reads back every fact while a tiny cache is dropped and unwritten batches are pending', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-baseline-cache-'));
    dirs.push(dir);
    // 7 cached keys at most, writes held back until 1000 are buffered: the tables are dropped
    // many times while the facts they held are still unwritten.
    const s = BaselineStore.open({ path: dir, learningPeriodMs: 1000, cacheMaxKeysCount: 7, writeBatchKeysCount: 1000 });
    for (let i = 0; i < 40; i++) s.learn(makeFlow({ startTs: T0 + i, host: `WS${i % 5}.corp.example`, sni: `D${i}.example`, ja4: `J${i % 3}` }));
    for (let i = 0; i < 40; i++) expect(s.hostDestinationFirstSeen(`ws${i % 5}.corp.example`, `d${i}.example`)).toBe(T0 + i);
    expect(s.hostCount()).toBe(5);
    expect(s.ja4HostCount('J0')).toBe(5);
    expect(s.destinationHostCount('d7.example')).toBe(1);
    await s.close();
    const again = BaselineStore.open({ path: dir, learningPeriodMs: 1000 });
    expect(again.hostDestinationFirstSeen('WS3.corp.example', 'D38.example')).toBe(T0 + 38);
    expect(again.hostCount()).toBe(5);
    await again.close();
  });

  it('a learned tuple is skipped only when all five raw parts match', () => {
    const s = BaselineStore.open({ learningPeriodMs: 1000 });
    s.learn(makeFlow({ host: 'WS01.corp.example', sni: 'a.example', ja4: 'J1', user: 'CORP\\alice' }));
    s.learn(makeFlow({ host: 'WS01.corp.example', sni: 'a.example', ja4: 'J1', user: 'CORP\\bob' }));
    s.learn(makeFlow({ host: 'WS01.corp.example', sni: 'a.example', ja4: 'J2', user: 'CORP\\bob' }));
    expect(s.userDestinationFirstSeen('corp\\bob', 'a.example')).toBe(T0);
    expect(s.ja4HostCount('J2')).toBe(1);
  });

  it('after a restart every fact reads back from LMDB, next to facts learned since, and nothing of a neighbouring host', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-baseline-rows-'));
    dirs.push(dir);
    const hosts = ['WS1.corp', 'WS10.corp', 'ws1.corp.example', 'hôte-é.corp'];
    const dests = (h: number): string[] => Array.from({ length: 5 + h * 3 }, (_, i) => `d${h}-${i}.Example`);
    const a = BaselineStore.open({ path: dir, learningPeriodMs: 1000 });
    hosts.forEach((host, h) => dests(h).forEach((sni, i) => a.learn(makeFlow({ startTs: T0 + h * 100 + i, host, sni, user: `CORP\\u${h}` }))));
    await a.close();
    const b = BaselineStore.open({ path: dir, learningPeriodMs: 1000 });
    // a fact learned after the restart, before its neighbours are read back
    b.learn(makeFlow({ startTs: T0 + 5000, host: 'WS10.corp', sni: 'late.example', user: 'CORP\\u1' }));
    hosts.forEach((host, h) => {
      dests(h).forEach((sni, i) => {
        expect(b.hostDestinationFirstSeen(host, sni)).toBe(T0 + h * 100 + i);
        expect(b.userDestinationFirstSeen(`corp\\u${h}`, sni)).toBe(T0 + h * 100 + i);
      });
      // another host's destination is not this host's
      expect(b.hostDestinationFirstSeen(host, dests((h + 1) % hosts.length)[0]!)).toBeNull();
    });
    expect(b.hostDestinationFirstSeen('ws10.corp', 'late.example')).toBe(T0 + 5000);
    expect(b.hostDestinationFirstSeen('ws1.corp', 'late.example')).toBeNull();
    expect(b.destinationHostCount('d1-0.example')).toBe(1);
    await b.close();
  });
});
