import { describe, expect, it } from 'vitest';
import { encodeCommand, FeedReader, FeedRecord, parseFlowEnd } from './ebpf.js';
import { LinkType, newBatch } from './source.js';

function rec(type: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(4 + payload.length, 0);
  h[4] = type;
  return Buffer.concat([h, payload]);
}

function packet(tsNs: bigint, frame: Buffer, orig = frame.length): Buffer {
  const p = Buffer.alloc(16);
  p.writeBigUInt64LE(tsNs, 0);
  p.writeUInt32LE(orig, 8);
  return rec(FeedRecord.Packet, Buffer.concat([p, frame]));
}

function dir(packets: number, bytes: number, firstNs: bigint, lastNs: bigint, payload: number, fwdP: number, fwdB: number, flags: number): Buffer {
  const b = Buffer.alloc(48);
  b.writeBigUInt64LE(BigInt(packets), 0);
  b.writeBigUInt64LE(BigInt(bytes), 8);
  b.writeBigUInt64LE(firstNs, 16);
  b.writeBigUInt64LE(lastNs, 24);
  b.writeUInt32LE(payload, 32);
  b.writeUInt32LE(fwdP, 36);
  b.writeUInt32LE(fwdB, 40);
  b[44] = flags;
  return b;
}

function flowEnd(o: { family: number; reason: number; firstDir: number; synDir: number; portA: number; portB: number; a: number[]; b: number[] }): Buffer {
  const h = Buffer.alloc(48);
  h[0] = o.family; h[1] = 6; h[2] = o.reason; h[3] = o.firstDir; h[4] = o.synDir;
  h.writeUInt16LE(o.portA, 8);
  h.writeUInt16LE(o.portB, 10);
  Buffer.from(o.a).copy(h, 16);
  Buffer.from(o.b).copy(h, 32);
  return Buffer.concat([h, dir(5, 700, 1_700_000_000_000_000_000n, 1_700_000_000_500_000_000n, 300, 2, 300, 0x1b), dir(4, 2400, 1_700_000_000_001_000_000n, 1_700_000_000_400_000_000n, 2000, 3, 2000, 0x13)]);
}

function stats(vals: number[]): Buffer {
  const b = Buffer.alloc(8 + 8 * vals.length);
  b.writeUInt32LE(vals.length, 0);
  vals.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 + 8 * i));
  return rec(FeedRecord.Stats, b);
}

describe('feed framing', () => {
  it('cuts a stream split anywhere into batches, keeps flow ends after the packets before them', () => {
    const fe = rec(FeedRecord.FlowEnd, flowEnd({ family: 4, reason: 1, firstDir: 1, synDir: 2, portA: 4433, portB: 50000, a: [10, 0, 0, 2], b: [10, 0, 0, 1] }));
    const stream = Buffer.concat([
      packet(1_700_000_000_123_456_789n, Buffer.from('aaaa')),
      stats([1, 2, 3]),
      packet(1_700_000_000_223_456_789n, Buffer.from('bbbbbb'), 1500),
      fe,
      packet(1_700_000_001_000_000_000n, Buffer.from('c')),
    ]);
    for (const step of [1, 3, 7, 64, stream.length]) {
      const r = new FeedReader();
      const batch = newBatch(16);
      const seen: string[] = [];
      const other = (t: number, b: Buffer, off: number): void => {
        if (t === FeedRecord.FlowEnd) seen.push(`end:${parseFlowEnd(b, off).tuple.srcPort}`);
        if (t === FeedRecord.Stats) seen.push(`stats:${b.readUInt32LE(off)}`);
      };
      for (let i = 0; i < stream.length; i += step) {
        r.append(stream.subarray(i, i + step));
        for (;;) {
          const n = r.fill(batch, 16, LinkType.Ethernet, other);
          if (n === 0 && r.peekType() === 0) break;
          for (let k = 0; k < n; k++) {
            const o = batch.off[k] as number;
            seen.push(`pkt:${Buffer.from(batch.buf.subarray(o, o + (batch.capLen[k] as number))).toString()}:${batch.origLen[k]}:${(batch.tsMs[k] as number).toFixed(6)}:${batch.linkType[k]}`);
          }
        }
      }
      // Stats are not ordered against packets (handled as met while a batch fills); flow ends are.
      expect(seen.filter((x) => x.startsWith('stats:'))).toEqual(['stats:3']);
      expect(seen.filter((x) => !x.startsWith('stats:')), `chunk size ${step}`).toEqual([
        'pkt:aaaa:4:1700000000123.456787:1',
        'pkt:bbbbbb:1500:1700000000223.456787:1',
        'end:50000',
        'pkt:c:1:1700000001000.000000:1',
      ]);
    }
  });

  it('rejects a corrupt record length', () => {
    const r = new FeedReader();
    r.append(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0]));
    expect(() => r.peekType()).toThrow(/corrupt record length/);
  });

  it('keeps the bytes a batch points at while more data arrives', () => {
    const r = new FeedReader();
    const batch = newBatch(4);
    const big = Buffer.alloc(600_000, 0x41);
    r.append(packet(1n, Buffer.from('first')));
    expect(r.fill(batch, 4, 1, () => {})).toBe(1);
    const o = batch.off[0] as number;
    r.append(packet(2n, big)); // forces the reader to grow
    r.append(packet(3n, big));
    expect(Buffer.from(batch.buf.subarray(o, o + 5)).toString()).toBe('first');
    expect(r.fill(batch, 4, 1, () => {})).toBe(2);
    expect(batch.capLen[1]).toBe(600_000);
  });

  it('orients flow-end records on the SYN sender, else the first talker', () => {
    const a = [0xfd, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const b = [0xfd, 0, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const bySyn = parseFlowEnd(flowEnd({ family: 6, reason: 2, firstDir: 0, synDir: 2, portA: 40000, portB: 443, a, b }), 0);
    expect(bySyn.tuple).toEqual({ ipVersion: 6, proto: 6, srcIp: 'fd00:14::2', srcPort: 443, dstIp: 'fd00:14::1', dstPort: 40000 });
    expect(bySyn.reason).toBe('rst');
    expect(bySyn.sawSyn).toBe(true);
    expect(bySyn.orig.packets).toBe(4); // direction 1 (b→a) is the initiator's
    expect(bySyn.reply.packets).toBe(5);
    const byFirst = parseFlowEnd(flowEnd({ family: 4, reason: 3, firstDir: 0, synDir: 0, portA: 53, portB: 5353, a: [192, 168, 1, 1], b: [192, 168, 1, 2] }), 0);
    expect(byFirst.tuple.srcIp).toBe('192.168.1.1');
    expect(byFirst.reason).toBe('idle');
    expect(byFirst.sawSyn).toBe(false);
    expect(byFirst.orig).toEqual({ packets: 5, bytes: 700, firstMs: 1_700_000_000_000, lastMs: 1_700_000_000_500, payloadBytes: 300, fwdPackets: 2, fwdBytes: 300, tcpFlags: 0x1b });
  });

  it('encodes done commands for IPv4 and IPv6', () => {
    const c4 = encodeCommand(1, { ipVersion: 4, proto: 6, srcIp: '10.1.2.3', srcPort: 50000, dstIp: '10.1.2.4', dstPort: 443 });
    expect(c4.length).toBe(40);
    expect([c4[0], c4[1], c4[2], c4.readUInt16LE(4), c4.readUInt16LE(6)]).toEqual([1, 4, 6, 50000, 443]);
    expect([...c4.subarray(8, 12)]).toEqual([10, 1, 2, 3]);
    expect([...c4.subarray(24, 28)]).toEqual([10, 1, 2, 4]);
    const c6 = encodeCommand(1, { ipVersion: 6, proto: 17, srcIp: 'fd00:1::5', srcPort: 1, dstIp: '::ffff:1.2.3.4', dstPort: 2 });
    expect(c6[1]).toBe(6);
    expect(c6.subarray(8, 24).toString('hex')).toBe('fd000001000000000000000000000005');
    expect(c6.subarray(24, 40).toString('hex')).toBe('00000000000000000000ffff01020304');
    expect(encodeCommand(2).subarray(0, 4).toString('hex')).toBe('02000000');
    expect(() => encodeCommand(1, { ipVersion: 4, proto: 6, srcIp: 'x', srcPort: 1, dstIp: 'y', dstPort: 2 })).toThrow(/not an IP/);
  });
});
