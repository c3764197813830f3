import { describe, expect, it } from 'vitest';
import { DnsCache } from './dns-cache.js';
import { parseIpv4 } from '../util/ipv4.js';
import type { DnsAnswers as DnsInfo } from './dns-cache.js';

const info: DnsInfo = {
  queries: ['www.c2.example.test'],
  answers: [
    { name: 'www.c2.example.test', type: 5, data: 'edge.cdn.example.net', ttl: 300 },
    { name: 'edge.cdn.example.net', type: 5, data: 'e1.cdn.example.net', ttl: 300 },
    { name: 'e1.cdn.example.net', type: 1, data: '10.0.0.7', ttl: 120 },
    { name: 'e1.cdn.example.net', type: 28, data: '2001:db8::7', ttl: 0 },
  ],
  rcode: 0,
};

describe('DnsCache', () => {
  it('names a later flow from the same host to an answered IP, via the CNAME chain', () => {
    const c = new DnsCache();
    c.learn('192.168.1.10', info, 1000);
    expect(c.lookup('192.168.1.10', '10.0.0.7', 2000)).toBe('www.c2.example.test');
    expect(c.lookup('192.168.1.10', '2001:db8::7', 2000)).toBe('www.c2.example.test');
    expect(c.lookup('192.168.1.11', '10.0.0.7', 2000)).toBeNull(); // another host did not ask
    expect(c.lookup('192.168.1.10', '10.0.0.8', 2000)).toBeNull();
  });

  it('expires in packet time: TTL clamped to [minTtlMs, maxTtlMs]', () => {
    const c = new DnsCache({ minTtlMs: 10_000, maxTtlMs: 60_000 });
    c.learn('h', info, 0);
    expect(c.lookup('h', '2001:db8::7', 10_000)).toBe('www.c2.example.test'); // TTL 0 → 10 s
    expect(c.lookup('h', '2001:db8::7', 10_001)).toBeNull();
    expect(c.lookup('h', '10.0.0.7', 60_000)).toBe('www.c2.example.test'); // TTL 120 s → capped at 60 s
    expect(c.lookup('h', '10.0.0.7', 60_001)).toBeNull();
    expect(c.size).toBe(0); // expired entries are dropped on lookup
  });

  it('LRU cap on entries: least recently used goes first', () => {
    const c = new DnsCache({ maxEntriesCount: 2 });
    const one = (ip: string, name: string): DnsInfo => ({ queries: [name], answers: [{ name, type: 1, data: ip, ttl: 300 }], rcode: 0 });
    c.learn('h', one('1.1.1.1', 'a'), 0);
    c.learn('h', one('2.2.2.2', 'b'), 0);
    expect(c.lookup('h', '1.1.1.1', 1)).toBe('a'); // touch a
    c.learn('h', one('3.3.3.3', 'c'), 2);
    expect(c.size).toBe(2);
    expect(c.lookup('h', '2.2.2.2', 3)).toBeNull(); // b was least recently used
    expect(c.lookup('h', '1.1.1.1', 3)).toBe('a');
    expect(c.lookup('h', '3.3.3.3', 3)).toBe('c');
  });

  it('an answer learnt again moves to the fresh end with its new name and expiry', () => {
    const c = new DnsCache({ maxEntriesCount: 2 });
    const one = (ip: string, name: string): DnsInfo => ({ queries: [name], answers: [{ name, type: 1, data: ip, ttl: 300 }], rcode: 0 });
    c.learn('h', one('1.1.1.1', 'a'), 0);
    c.learn('h', one('2.2.2.2', 'b'), 0);
    c.learn('h', one('1.1.1.1', 'a2'), 100_000); // again: now the most recent
    c.learn('h', one('3.3.3.3', 'c'), 100_000);
    expect(c.size).toBe(2);
    expect(c.evictions).toBe(1);
    expect(c.lookup('h', '2.2.2.2', 100_001)).toBeNull(); // b went, not a
    expect(c.lookup('h', '1.1.1.1', 100_001)).toBe('a2');
    expect(c.lookup('h', '1.1.1.1', 300_000 + 100_000)).toBe('a2'); // the later expiry
  });

  it('ignores failed responses and non-address answers', () => {
    const c = new DnsCache();
    c.learn('h', { ...info, rcode: 3 }, 0);
    expect(c.size).toBe(0);
    c.learn('h', { queries: ['t'], answers: [{ name: 't', type: 16, data: '1.2.3.4', ttl: 60 }], rcode: 0 }, 0);
    expect(c.size).toBe(0);
  });

  it('holds the order of a plain LRU as it grows to its bound (random learns, uses and expiries)', () => {
    // The model: a Map in least-recently-used order, delete and set again on every learn or use.
    const max = 3000;
    const c = new DnsCache({ maxEntriesCount: max, minTtlMs: 20_000, maxTtlMs: 20_000 });
    const model = new Map<string, { name: string; expiry: number }>();
    let evicted = 0;
    let seed = 7;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    for (let step = 0; step < 60_000; step++) {
      const ts = step;
      const ip = `10.0.${rnd(20)}.${rnd(250)}`; // about 5,000 addresses: hits, misses and evictions
      if (rnd(3) === 0) {
        const key = `h|${ip}`;
        const e = model.get(key);
        let want: string | null = null;
        if (e !== undefined) {
          model.delete(key);
          if (ts <= e.expiry) { want = e.name; model.set(key, e); }
        }
        expect(c.lookup('h', ip, ts)).toBe(want);
      } else {
        const name = `n${step}`;
        c.learn('h', { queries: [name], answers: [{ name, type: 1, data: ip, ttl: 1 }], rcode: 0 }, ts);
        const key = `h|${ip}`;
        model.delete(key);
        model.set(key, { name, expiry: ts + 20_000 });
        while (model.size > max) { model.delete(model.keys().next().value as string); evicted++; }
      }
      expect(c.size).toBe(model.size);
    }
    expect(c.evictions).toBe(evicted);
    expect(evicted).toBeGreaterThan(1000);
  });

  it('reads only canonical dotted quads as IPv4 words', () => {
    expect(parseIpv4('10.0.0.7')).toBe(0x0a000007);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('0.0.0.0')).toBe(0);
    for (const bad of ['10.0.0.07', '10.0.0.256', '10.0.0', '10.0.0.7.1', '10..0.7', '.10.0.0', '10.0.0.7.', ' 10.0.0.7', '1.2.3.4a', '::1', 'h', '', '0010.0.0.7']) {
      expect(parseIpv4(bad)).toBe(-1);
    }
  });

  it('keeps a non-canonical address text apart from the canonical one', () => {
    const c = new DnsCache();
    const one = (ip: string, name: string): DnsInfo => ({ queries: [name], answers: [{ name, type: 1, data: ip, ttl: 300 }], rcode: 0 });
    c.learn('10.1.1.1', one('10.0.0.07', 'odd'), 0);
    c.learn('10.1.1.1', one('10.0.0.7', 'even'), 0);
    c.learn('010.1.1.1', one('10.0.0.7', 'other-host'), 0);
    expect(c.size).toBe(3);
    expect(c.lookup('10.1.1.1', '10.0.0.7', 1)).toBe('even');
    expect(c.lookup('10.1.1.1', '10.0.0.07', 1)).toBe('odd');
    expect(c.lookup('010.1.1.1', '10.0.0.7', 1)).toBe('other-host');
    expect(c.lookup('10.1.1.1', '10.0.0.8', 1)).toBeNull();
  });

  // A plain model: a Map from 'client|ip' in least-recently-used order (delete and set again on
  // every learn or use; the first key is the one evicted), each answer's expected name known from
  // how its response was built.
  const equivalence = (label: string, max: number, clients: number, addrs: number, steps: number, seed0: number): void => {
    it(`matches a plain LRU model over mixed IPv4/IPv6 learns, uses and expiries (${label})`, () => {
      const minTtl = 10_000;
      const maxTtl = 100_000;
      const c = new DnsCache({ maxEntriesCount: max, minTtlMs: minTtl, maxTtlMs: maxTtl });
      const model = new Map<string, { name: string; expiry: number }>();
      let evicted = 0;
      let seed = seed0;
      const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
      const clientOf = (): string => {
        const k = rnd(clients);
        return k % 5 === 4 ? `2001:db8:1::${k.toString(16)}` : `192.168.${k >> 8}.${k & 255}`;
      };
      const addrOf = (): { type: number; data: string } => {
        const k = rnd(addrs);
        if (k % 7 === 6) return { type: 28, data: `2001:db8::${k.toString(16)}` };
        if (k % 31 === 30) return { type: 1, data: `10.0.0.0${k % 10}` }; // not canonical: a text key
        return { type: 1, data: `10.${k >> 16}.${(k >> 8) & 255}.${k & 255}` };
      };
      const touch = (key: string, e: { name: string; expiry: number }): void => {
        model.delete(key);
        model.set(key, e);
        while (model.size > max) { model.delete(model.keys().next().value as string); evicted++; }
      };
      // Pairs learnt lately, so that lookups find some (most random pairs were never learnt).
      const recent: [string, string][] = [];
      let ts = 0;
      let hits = 0;
      let expired = 0;
      for (let step = 0; step < steps; step++) {
        ts += rnd(4) === 0 ? rnd(30_000) : rnd(50);
        let client = clientOf();
        const op = rnd(10);
        if (op < 4) {
          let ip = addrOf().data;
          if (recent.length > 0 && rnd(2) === 0) [client, ip] = recent[rnd(recent.length)] as [string, string];
          const key = `${client}|${ip}`;
          const e = model.get(key);
          let want: string | null = null;
          if (e !== undefined) {
            model.delete(key);
            if (ts <= e.expiry) { want = e.name; model.set(key, e); hits++; } else expired++;
          }
          expect(c.lookup(client, ip, ts)).toBe(want);
        } else {
          // A response of 1-3 addresses, directly or behind a CNAME, sometimes a failure.
          const q = `q${step}.example.test`;
          const viaCname = rnd(4) === 0;
          const owner = viaCname ? `edge${step}.cdn.example.net` : q;
          const answers: { name: string; type: number; data: string; ttl: number }[] = [];
          if (viaCname) answers.push({ name: q, type: 5, data: owner, ttl: 300 });
          const n = 1 + rnd(3);
          for (let i = 0; i < n; i++) answers.push({ name: owner, ...addrOf(), ttl: rnd(150) });
          const rcode = rnd(20) === 0 ? 3 : 0;
          // An IPv4 client is learnt by its word half of the time (as the engine passes it).
          const word = parseIpv4(client);
          c.learn(word >= 0 && rnd(2) === 0 ? word : client, { queries: [q], answers, rcode }, ts);
          if (rcode === 0) {
            for (const a of answers) {
              if (a.type === 5) continue;
              if (recent.length < 64) recent.push([client, a.data]);
              else recent[rnd(64)] = [client, a.data];
              touch(`${client}|${a.data}`, { name: q, expiry: ts + Math.min(maxTtl, Math.max(minTtl, a.ttl * 1000)) });
            }
          }
        }
        expect(c.size).toBe(model.size);
        if (step % 97 === 0) expect(c.evictions).toBe(evicted);
      }
      expect(c.evictions).toBe(evicted);
      // The run went through every path: evictions, hits, and expiries found by a lookup.
      expect(evicted).toBeGreaterThan(steps / 20);
      expect(hits).toBeGreaterThan(steps / 50);
      expect(expired).toBeGreaterThan(10);
    });
  };
  equivalence('bound 40', 40, 12, 200, 40_000, 11);
  equivalence('bound 3,000, the tables grown', 3_000, 64, 9_000, 60_000, 23);
});
