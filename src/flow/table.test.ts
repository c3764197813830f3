import { describe, expect, it } from 'vitest';
import { PacketMeta, TcpFlag } from '../decode/packet-meta.js';
import { defaultTableLimits, FlowTable } from './table.js';
import type { Flow, TableEntry } from './flow.js';

/** A TCP packet of connection `i` (client 10.x.y.z:port → 192.0.2.1:443), either way round. */
function tcp(m: PacketMeta, i: number, reply: boolean, ts: number): PacketMeta {
  const client = (0x0a000000 + i) | 0;
  const server = 0xc0000201 | 0;
  const cport = 1024 + (i % 60000);
  m.proto = 6;
  m.ipVersion = 4;
  m.tsMs = ts;
  m.tcpFlags = reply ? TcpFlag.SYN | TcpFlag.ACK : TcpFlag.SYN;
  m.src0 = reply ? server : client;
  m.dst0 = reply ? client : server;
  m.sport = reply ? 443 : cport;
  m.dport = reply ? cport : 443;
  return m;
}

describe('FlowTable buckets', () => {
  it('finds every flow from both ends as it grows past its first buckets, and after removals', () => {
    const t = new FlowTable({ ...defaultTableLimits });
    const m = new PacketMeta();
    const n = 20_000; // several doublings of the bucket array
    const flows: TableEntry[] = [];
    const none = (): void => { throw new Error('nothing is evicted below the cap'); };
    for (let i = 0; i < n; i++) {
      const f = t.lookup(tcp(m, i, false, 1000 + i), none);
      expect(t.dir).toBe(0);
      flows.push(f);
    }
    expect(t.size).toBe(n);
    expect(new Set(flows).size).toBe(n);
    for (let i = 0; i < n; i += 7) {
      expect(t.find(tcp(m, i, true, 0))).toBe(flows[i]);
      expect(t.dir).toBe(1);
      expect(t.lookup(tcp(m, i, false, 2e6 + i), none)).toBe(flows[i]);
    }
    for (let i = 0; i < n; i += 2) t.remove(flows[i] as TableEntry);
    expect(t.size).toBe(n / 2);
    for (let i = 0; i < n; i++) {
      const found = t.find(tcp(m, i, i % 3 === 0, 0));
      expect(found).toBe(i % 2 === 0 ? null : flows[i]);
    }
    // A removed tuple comes back as a new flow, found again afterwards.
    const again = t.lookup(tcp(m, 4, false, 3e6), none);
    expect(again).not.toBe(flows[4]);
    expect(t.find(tcp(m, 4, true, 0))).toBe(again);
    expect(t.size).toBe(n / 2 + 1);
  });

  it('drains every flow it holds exactly once', () => {
    const t = new FlowTable({ ...defaultTableLimits });
    const m = new PacketMeta();
    for (let i = 0; i < 9000; i++) t.lookup(tcp(m, i, false, 1000 + i), () => undefined);
    const seen = new Set<TableEntry>();
    t.drain((f) => { seen.add(f); });
    expect(seen.size).toBe(9000);
    expect(t.size).toBe(0);
    expect(t.find(tcp(m, 5, false, 0))).toBe(null);
  });

  it('flows that expire each second are reused by the next second\'s new flows; the pool shrinks when fewer come', () => {
    const t = new FlowTable({ ...defaultTableLimits, tcpIdleMs: 2000 });
    const m = new PacketMeta();
    const perSecond = 10_000; // more than the pool's floor
    let conn = 0;
    const second = (sec: number, n: number): void => {
      // The engine's order: expiry on the second's grid, then the second's packets.
      t.expire(sec * 1000, (f) => t.recycle(f as Flow));
      for (let i = 0; i < n; i++) t.lookup(tcp(m, conn++, false, sec * 1000 + i / 100), () => undefined);
    };
    for (let sec = 0; sec < 8; sec++) second(sec, perSecond);
    // Second s's flows expire at s + 3 and every one is taken again in that second.
    expect(t.reused).toBe(5 * perSecond);
    expect(t.created).toBe(8 * perSecond);
    for (let sec = 8; sec < 14; sec++) second(sec, 100);
    expect(t.pooled).toBeLessThanOrEqual(4096);
    expect(t.pooled).toBeGreaterThan(0);
  });

  it('tombs that expire stand in for the next closed connections, each for its own tuple', () => {
    const t = new FlowTable({ ...defaultTableLimits, tcpClosedMs: 5000 });
    const m = new PacketMeta();
    const none = (): void => undefined;
    const close = (from: number, n: number, ts: number): TableEntry[] => {
      const out: TableEntry[] = [];
      for (let i = from; i < from + n; i++) {
        const f = t.lookup(tcp(m, i, false, ts), none) as Flow;
        t.setList(f, 1); // closing, as after both FINs
        out.push(t.bury(f));
      }
      return out;
    };
    const first = close(0, 100, 1000);
    t.expire(7000, none); // past the close delay: the tombs leave the table
    expect(t.size).toBe(0);
    const second = close(100, 100, 7000);
    expect(second.filter((x) => first.includes(x)).length).toBe(100);
    for (let i = 0; i < 100; i++) {
      expect(t.find(tcp(m, i, true, 0))).toBe(null);
      const e = t.find(tcp(m, 100 + i, true, 0));
      expect(e).toBe(second[i]);
      expect(e?.tomb).toBe(true);
      expect(t.dir).toBe(1);
      expect(e?.startTs).toBe(7000);
    }
  });
});
