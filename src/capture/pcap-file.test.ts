import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { openCaptureFile, openCaptureStream } from './pcap-file.js';
import { CaptureFormatError } from './source.js';
import type { CaptureSource } from './source.js';
import { walkFile } from './walk.js';

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const ja4Dir = path.join(shared, 'conformance/ja4/pcaps');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ndr-pcap-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Pkt { ts: number; len: number; link: number; data: Uint8Array }

async function readAll(src: CaptureSource): Promise<Pkt[]> {
  const out: Pkt[] = [];
  for await (const b of src.batches()) {
    for (let i = 0; i < b.n; i++) {
      const off = b.off[i] as number;
      const cap = b.capLen[i] as number;
      out.push({ ts: b.tsMs[i] as number, len: b.origLen[i] as number, link: b.linkType[i] as number, data: b.buf.slice(off, off + cap) });
    }
  }
  return out;
}

async function errorOf(src: CaptureSource): Promise<{ err: unknown; packets: number }> {
  let packets = 0;
  try {
    for await (const b of src.batches()) packets += b.n;
  } catch (err) {
    return { err, packets };
  }
  return { err: null, packets };
}

// ---- synthetic writers -------------------------------------------------------------------

function u16(v: number, le: boolean): number[] {
  return le ? [v & 255, (v >>> 8) & 255] : [(v >>> 8) & 255, v & 255];
}
function u32(v: number, le: boolean): number[] {
  return le ? [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255] : [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}
function pad4(a: number[]): number[] {
  while (a.length % 4 !== 0) a.push(0);
  return a;
}
function payload(tag: number, len: number): number[] {
  const a: number[] = [];
  for (let i = 0; i < len; i++) a.push((tag + i) & 255);
  return a;
}

function pcapFile(le: boolean, ns: boolean, link: number, pkts: { sec: number; frac: number; data: number[]; orig?: number }[]): Buffer {
  const out: number[] = [...u32(ns ? 0xa1b23c4d : 0xa1b2c3d4, le), ...u16(2, le), ...u16(4, le), ...u32(0, le), ...u32(0, le), ...u32(65535, le), ...u32(link, le)];
  for (const p of pkts) out.push(...u32(p.sec, le), ...u32(p.frac, le), ...u32(p.data.length, le), ...u32(p.orig ?? p.data.length, le), ...p.data);
  return Buffer.from(out);
}

function block(type: number, body: number[], le: boolean): number[] {
  const b = pad4([...body]);
  const len = 12 + b.length;
  return [...u32(type, le), ...u32(len, le), ...b, ...u32(len, le)];
}
function shb(le: boolean): number[] {
  return block(0x0a0d0d0a, [...u32(0x1a2b3c4d, le), ...u16(1, le), ...u16(0, le), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], le);
}
function idb(le: boolean, link: number, snap: number, tsresol?: number, tsoffsetSec?: number): number[] {
  const opts: number[] = [];
  if (tsresol !== undefined) opts.push(...u16(9, le), ...u16(1, le), tsresol, 0, 0, 0);
  if (tsoffsetSec !== undefined) opts.push(...u16(14, le), ...u16(8, le), ...(le ? [...u32(tsoffsetSec, le), 0, 0, 0, 0] : [0, 0, 0, 0, ...u32(tsoffsetSec, le)]));
  if (opts.length > 0) opts.push(0, 0, 0, 0);
  return block(1, [...u16(link, le), 0, 0, ...u32(snap, le), ...opts], le);
}
function epb(le: boolean, ifid: number, units: bigint, data: number[], orig?: number): number[] {
  const hi = Number(units >> 32n);
  const lo = Number(units & 0xffffffffn);
  return block(6, [...u32(ifid, le), ...u32(hi, le), ...u32(lo, le), ...u32(data.length, le), ...u32(orig ?? data.length, le), ...pad4([...data])], le);
}
function spb(le: boolean, data: number[], orig: number): number[] {
  return block(3, [...u32(orig, le), ...pad4([...data])], le);
}

function write(name: string, bytes: Buffer | number[]): string {
  const p = path.join(tmp, name);
  writeFileSync(p, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes));
  return p;
}

// ---- shared captures --------------------------------------------------------------------

describe('shared captures', () => {
  it('reads every conformance and dataset capture with the packet count, link types and timestamps tshark sees', async () => {
    const files = [
      ...readdirSync(ja4Dir).map((f) => path.join(ja4Dir, f)),
      path.join(shared, 'datasets/otrf-empire-psremoting/workstation5.cap'),
      path.join(shared, 'datasets/otrf-empire-psremoting/workstation6.cap'),
    ];
    // One tshark run over the merged file list is too slow per file; capinfos (same library) takes them all at once.
    const out = execFileSync('capinfos', ['-T', '-r', '-c', '-E', ...files], { encoding: 'utf8' });
    const want = new Map<string, { count: number; encap: string }>();
    for (const line of out.split('\n')) {
      const [file, encap, count] = line.split('\t');
      if (file !== undefined && count !== undefined && encap !== undefined) want.set(file, { count: Number(count), encap });
    }
    const encapLink: Record<string, number> = { ether: 1, null: 0 };
    let total = 0;
    for (const f of files) {
      const src = openCaptureFile(f);
      const pkts = await readAll(src);
      const w = want.get(f);
      expect(w, f).toBeDefined();
      expect(pkts.length, f).toBe(w?.count);
      expect(new Set(pkts.map((p) => p.link)), f).toEqual(new Set([encapLink[w?.encap ?? '']]));
      expect(src.stats().packets, f).toBe(pkts.length);
      expect(src.stats().bytes, f).toBe(pkts.reduce((a, p) => a + p.data.length, 0));
      expect(src.stats().truncated, f).toBe(false);
      total += pkts.length;
    }
    expect(total).toBeGreaterThan(9000);
  });

  it('timestamps match tshark (pcap µs and pcapng)', async () => {
    for (const f of ['tls-handshake.pcapng', 'gre-sample.pcap', 'http1-with-cookies.pcapng']) {
      const file = path.join(ja4Dir, f);
      const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const want = out.trim().split('\n').map((s) => Number(s) * 1000);
      const got = (await readAll(openCaptureFile(file))).map((p) => p.ts);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < got.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(0.001);
    }
  });

  it('a capture cut short mid-record yields every complete packet and reports the truncation', async () => {
    const src = openCaptureFile(path.join(shared, 'datasets/otrf-covenant-psremoting/capture.cap'));
    const pkts = await readAll(src);
    expect(pkts.length).toBe(153);
    expect(src.stats().truncated).toBe(true);
    expect(src.stats().warnings).toEqual(['capture truncated: last record cut short at byte offset 435312 (15 bytes missing)']);
  });

  it('gzip-compressed captures read as the plain file; cut short: the whole packets and the truncation; corrupt: a named error', async () => {
    const plain = path.join(shared, 'datasets/otrf-empire-psremoting/workstation5.cap');
    const want = await readAll(openCaptureFile(plain));
    const gz = gzipSync(readFileSync(plain));
    expect(await readAll(openCaptureFile(write('w5.cap.gz', gz)))).toEqual(want);
    // two gzip members one after the other (gzip -c a >> b) are one stream
    const raw = readFileSync(plain);
    const two = Buffer.concat([gzipSync(raw.subarray(0, 100_000)), gzipSync(raw.subarray(100_000))]);
    expect(await readAll(openCaptureFile(write('w5-2.cap.gz', two)))).toEqual(want);
    const cutSrc = openCaptureFile(write('w5-cut.cap.gz', gz.subarray(0, Math.floor(gz.length / 2))));
    const cut = await readAll(cutSrc);
    expect(cut.length).toBeGreaterThan(10);
    expect(cut).toEqual(want.slice(0, cut.length));
    expect(cutSrc.stats().truncated).toBe(true);
    const bad = Buffer.from(gz);
    bad[bad.length - 6] ^= 0xff; // the CRC of the inflated data
    const { err } = await errorOf(openCaptureFile(write('w5-bad.cap.gz', bad)));
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect(String(err)).toMatch(/gzip-compressed capture .*w5-bad\.cap\.gz: incorrect data check/);
  });

  it('a gzip stream (stdin, a pipe) is inflated as a .gz file is, whole, one byte at a time or cut short', async () => {
    const plain = path.join(shared, 'datasets/otrf-empire-psremoting/workstation5.cap');
    const want = await readAll(openCaptureFile(plain));
    const gz = gzipSync(readFileSync(plain));
    expect(await readAll(openCaptureStream(createReadStream(write('w5-stream.cap.gz', gz)), 'stdin'))).toEqual(want);
    // the magic split over the first two chunks
    const first = [gz.subarray(0, 1), gz.subarray(1, 7), gz.subarray(7)];
    expect(await readAll(openCaptureStream(Readable.from(first), 'stdin'))).toEqual(want);
    const cutSrc = openCaptureStream(Readable.from([gz.subarray(0, Math.floor(gz.length / 2))]), 'stdin');
    const cut = await readAll(cutSrc);
    expect(cut.length).toBeGreaterThan(10);
    expect(cut).toEqual(want.slice(0, cut.length));
    expect(cutSrc.stats().truncated).toBe(true);
    // not compressed, and the first chunk one byte long: read as it comes
    const raw = readFileSync(plain);
    expect(await readAll(openCaptureStream(Readable.from([raw.subarray(0, 1), raw.subarray(1)]), 'stdin'))).toEqual(want);
    const bad = Buffer.from(gz);
    bad[bad.length - 6] ^= 0xff;
    const { err } = await errorOf(openCaptureStream(Readable.from([bad]), 'stdin'));
    expect(String(err)).toMatch(/gzip-compressed capture stdin: incorrect data check/);
  });

  it('the Kuznetsov format (magic a1b2cd34, 24-byte record headers) in both byte orders reads as tshark reads it', async () => {
    for (const le of [true, false]) {
      const recs = [{ sec: 5, frac: 7, data: payload(3, 33) }, { sec: 6, frac: 999_999, data: payload(4, 17) }];
      const bytes = [...u32(0xa1b2cd34, le), ...u16(2, le), ...u16(4, le), ...u32(0, le), ...u32(0, le), ...u32(65535, le), ...u32(1, le)];
      for (const r of recs) bytes.push(...u32(r.sec, le), ...u32(r.frac, le), ...u32(r.data.length, le), ...u32(r.data.length + 4, le), ...u32(2, le), ...u16(0x0800, le), 0, 0, ...r.data);
      const file = write(`kuz-${le ? 'le' : 'be'}.pcap`, bytes);
      const got = await readAll(openCaptureFile(file));
      expect(got.map((p) => [p.ts, p.len, p.link, p.data.length])).toEqual([[5000.007, 37, 1, 33], [6999.999, 21, 1, 17]]);
      expect(got.map((p) => Array.from(p.data))).toEqual(recs.map((r) => r.data));
      const ts = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len'], { encoding: 'utf8' });
      expect(ts.stdout.trim().split('\n')).toEqual(['37\t33', '21\t17']);
    }
  });

  it('snoop files (RFC 1761): Ethernet records with their padding, timestamps as tshark reads them; cut short; damaged', async () => {
    const recs = [payload(5, 61), payload(6, 64), payload(7, 1514)];
    const bytes: number[] = [...Buffer.from('snoop\0\0\0', 'latin1'), ...u32(2, false), ...u32(4, false)];
    recs.forEach((d, i) => {
      const pad = -d.length & 3;
      bytes.push(...u32(d.length + 10, false), ...u32(d.length, false), ...u32(24 + d.length + pad, false), ...u32(0, false), ...u32(1_796_000_000 + i, false), ...u32(250_001 * i, false), ...d, ...new Array<number>(pad).fill(0));
    });
    const file = write('eth.snoop', bytes);
    const got = await readAll(openCaptureFile(file));
    expect(got.map((p) => [p.len, p.link, p.data.length])).toEqual(recs.map((d) => [d.length + 10, 1, d.length]));
    expect(got.map((p) => Array.from(p.data))).toEqual(recs);
    const ts = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len'], { encoding: 'utf8' });
    expect(ts.stdout.trim().split('\n').map((l) => l.split('\t').map(Number))).toEqual(got.map((p) => [p.ts / 1000, p.len]));
    const cutSrc = openCaptureFile(write('cut.snoop', bytes.slice(0, bytes.length - 100)));
    expect((await readAll(cutSrc)).length).toBe(2);
    expect(cutSrc.stats().truncated).toBe(true);
    const bad = Buffer.from(bytes);
    bad.writeUInt32BE(7, 16 + 8); // the first record's record length below its header
    const { err, packets } = await errorOf(openCaptureFile(write('bad.snoop', bad)));
    expect(packets).toBe(0);
    expect(String(err)).toMatch(/snoop record at byte offset 16 has included length 61 and record length 7: file damaged/);
  });

  it('a file cut inside packet data names the missing byte count', async () => {
    const full = pcapFile(true, false, 1, [
      { sec: 1, frac: 0, data: payload(1, 60) },
      { sec: 2, frac: 0, data: payload(2, 100) },
    ]);
    const cut = write('cut.pcap', full.subarray(0, full.length - 30));
    const src = openCaptureFile(cut);
    const pkts = await readAll(src);
    expect(pkts.length).toBe(1);
    expect(src.stats().truncated).toBe(true);
    expect(src.stats().warnings).toEqual([`capture truncated: last record cut short at byte offset ${24 + 16 + 60} (30 bytes missing)`]);
  });

  it('walkFile counts packets and bytes', async () => {
    const r = await walkFile(path.join(ja4Dir, 'ssh-r.pcap'));
    expect(r.packets).toBe(1852);
    expect(r.bytes).toBeGreaterThan(200_000);
    expect(r.seconds).toBeGreaterThan(0);
  });
});

// ---- synthetic formats --------------------------------------------------------------------

describe('pcap variants', () => {
  const pkts = [
    { sec: 1_700_000_000, frac: 123_456, data: payload(7, 60), orig: 1514 },
    { sec: 1_700_000_001, frac: 999_999, data: payload(9, 42) },
  ];
  it.each([
    ['little-endian µs', true, false],
    ['big-endian µs', false, false],
    ['little-endian ns', true, true],
    ['big-endian ns', false, true],
  ])('%s', async (_name, le, ns) => {
    const p = write(`v-${le}-${ns}.pcap`, pcapFile(le, ns, 228, pkts));
    const got = await readAll(openCaptureFile(p));
    expect(got.length).toBe(2);
    const div = ns ? 1e6 : 1e3;
    expect(got[0]?.ts).toBeCloseTo(1_700_000_000_000 + 123_456 / div, 6);
    expect(got[1]?.ts).toBeCloseTo(1_700_000_001_000 + 999_999 / div, 6);
    expect(got[0]?.len).toBe(1514);
    expect(got[0]?.link).toBe(228);
    expect(Array.from(got[0]?.data ?? [])).toEqual(pkts[0]?.data);
    expect(Array.from(got[1]?.data ?? [])).toEqual(pkts[1]?.data);
  });

  it('records straddling chunk boundaries come out whole, in order (file and stream)', async () => {
    // ~3 MiB of records of varying size against a 1 MiB chunk.
    const list: { sec: number; frac: number; data: number[] }[] = [];
    for (let i = 0; i < 30_000; i++) {
      const d = payload(i, 40 + ((i * 37) % 160));
      d[0] = i & 255; d[1] = (i >>> 8) & 255;
      list.push({ sec: i, frac: 0, data: d });
    }
    const file = write('many.pcap', pcapFile(true, false, 1, list));
    const check = (got: Pkt[]): void => {
      expect(got.length).toBe(list.length);
      for (let i = 0; i < got.length; i++) {
        const g = got[i] as Pkt;
        const d = list[i]?.data as number[];
        if (g.data.length !== d.length || g.data[0] !== d[0] || g.data[1] !== d[1] || g.data[d.length - 1] !== d[d.length - 1] || g.ts !== i * 1000) {
          throw new Error(`packet ${i} differs`);
        }
      }
    };
    check(await readAll(openCaptureFile(file, { chunkBytes: 1 << 20, batchPackets: 1000 })));
    // A chunk size off the page grid is rounded up (the buffers stay page-aligned): same packets.
    check(await readAll(openCaptureFile(file, { chunkBytes: (1 << 20) + 123, batchPackets: 777 })));
    check(await readAll(openCaptureStream(createReadStream(file, { highWaterMark: 4093 }), 'fifo')));
    // The default for a regular file: synchronous reads of a small chunk (many records straddle).
    check(await readAll(openCaptureFile(file)));
    // A named pipe is no regular file: read through the pool, fed by a real writer process.
    const fifo = path.join(tmp, 'many.fifo');
    execFileSync('mkfifo', [fifo]);
    const writer = spawn('sh', ['-c', 'exec cat "$1" > "$2"', 'sh', file, fifo], { stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => writer.on('exit', (code) => resolve(code)));
    try {
      check(await readAll(openCaptureFile(fifo)));
      expect(await exited).toBe(0);
    } finally {
      if (writer.exitCode === null && writer.pid !== undefined) process.kill(writer.pid);
    }
  });

  it('a regular file read without waiting still lets the event loop turn every few MiB', async () => {
    // 12,000 records of 1,008 bytes: about 12 MiB.
    const list = Array.from({ length: 12_000 }, (_, i) => ({ sec: i, frac: 0, data: payload(i, 992) }));
    const file = write('turns.pcap', pcapFile(true, false, 1, list));
    let turns = 0;
    let stop = false;
    const tick = (): void => {
      if (stop) return;
      turns++;
      setImmediate(tick);
    };
    setImmediate(tick);
    let packets = 0;
    let turnsWhileReading = 0;
    for await (const b of openCaptureFile(file).batches()) {
      packets += b.n;
      turnsWhileReading = turns;
    }
    stop = true;
    expect(packets).toBe(12_000);
    expect(turnsWhileReading).toBeGreaterThanOrEqual(2);
  });

  it('a file ending exactly on a chunk boundary, mid-record: the whole records, then the truncation', async () => {
    // 1 MiB chunks; records of 1,008 bytes (16 header + 992 data) after the 24-byte file header.
    const list = Array.from({ length: 3000 }, (_, i) => ({ sec: i, frac: 0, data: payload(i, 992) }));
    const whole = pcapFile(true, false, 1, list);
    const src = openCaptureFile(write('exact.pcap', whole.subarray(0, 2 << 20)), { chunkBytes: 1 << 20 });
    const got = await readAll(src);
    expect(got.length).toBe(Math.floor(((2 << 20) - 24) / 1008));
    expect(got.every((g, i) => g.ts === i * 1000 && g.data.length === 992 && g.data[5] === (list[i]?.data[5] as number))).toBe(true);
    expect(src.stats().truncated).toBe(true);
  });

  it('a missing file is a CaptureFormatError with the path', async () => {
    const p = path.join(tmp, 'no-such-file.pcap');
    const { err, packets } = await errorOf(openCaptureFile(p));
    expect(packets).toBe(0);
    expect((err as Error).message).toBe(`cannot open capture file: ${p} (ENOENT)`);
  });

  it('a directory given as a capture is a CaptureFormatError with the path', async () => {
    const { err, packets } = await errorOf(openCaptureFile(tmp));
    expect(packets).toBe(0);
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as Error).message).toBe(`cannot read capture file: ${tmp} (EISDIR)`);
  });

  it('a stream delivering one byte at a time still parses', async () => {
    const bytes = pcapFile(false, true, 1, [{ sec: 5, frac: 7, data: payload(3, 33) }, { sec: 6, frac: 8, data: payload(4, 17) }]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    const got = await readAll(openCaptureStream(Readable.from(chunks), 'drip'));
    expect(got.map((p) => p.data.length)).toEqual([33, 17]);
  });

  it('not a capture: CaptureFormatError with the magic, on the first iteration', async () => {
    const p = write('text.pcap', Buffer.from('hello world, not a capture\n'));
    const { err, packets } = await errorOf(openCaptureFile(p));
    expect(packets).toBe(0);
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as Error).message).toBe(`not a pcap or pcapng file: ${p} (magic 0x68656c6c)`);
    const empty = write('empty.pcap', Buffer.alloc(0));
    expect(((await errorOf(openCaptureFile(empty))).err as Error).message).toBe(`not a pcap or pcapng file: ${empty} (empty file)`);
    const missing = path.join(tmp, 'nope.pcap');
    expect((await errorOf(openCaptureFile(missing))).err).toBeInstanceOf(CaptureFormatError);
  });

  it('an absurd record length: good packets first, then CaptureFormatError naming the offset', async () => {
    const good = pcapFile(true, false, 1, [{ sec: 1, frac: 0, data: payload(1, 50) }]);
    const bad = Buffer.from([...u32(2, true), ...u32(0, true), ...u32(10_000_000, true), ...u32(60, true), ...payload(0, 64)]);
    const p = write('absurd.pcap', Buffer.concat([good, bad]));
    const src = openCaptureFile(p);
    const { err, packets } = await errorOf(src);
    expect(packets).toBe(1);
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as Error).message).toContain(`byte offset ${good.length}`);
    expect(src.stats().warnings.length).toBe(1);
  });
});

describe('pcapng', () => {
  it('two interfaces with different link types and resolutions, SPB, skipped blocks, two sections of different byte order', async () => {
    const le = true;
    const be = false;
    const bytes = [
      ...shb(le),
      ...idb(le, 1, 0), // Ethernet, default µs
      ...idb(le, 101, 0, 9), // raw IP, ns
      ...epb(le, 0, 1_700_000_000_123_456n, payload(1, 60)),
      ...epb(le, 1, 1_700_000_000_987_654_321n, payload(2, 41), 1500),
      ...block(5, [...u32(0, le), ...u32(0, le), ...u32(0, le)], le), // interface statistics: skipped
      ...block(0x0bad, payload(0, 100), le), // custom/unknown: skipped
      ...spb(le, payload(3, 70), 70),
      // section 2, big-endian, interface resolution 2^-10 s with a 100 s offset, snaplen 64
      ...shb(be),
      ...idb(be, 113, 64, 0x80 | 10, 100),
      ...epb(be, 0, 1024n * 5n + 512n, payload(4, 30)),
      ...spb(be, payload(5, 64), 200), // written cut to snaplen 64
    ];
    const p = write('multi.pcapng', bytes);
    const src = openCaptureFile(p);
    const got = await readAll(src);
    expect(got.map((g) => g.link)).toEqual([1, 101, 1, 113, 113]);
    expect(got.map((g) => g.data.length)).toEqual([60, 41, 70, 30, 64]);
    expect(got.map((g) => g.len)).toEqual([60, 1500, 70, 30, 200]);
    expect(got[0]?.ts).toBeCloseTo(1_700_000_000_123.456, 3);
    expect(got[1]?.ts).toBeCloseTo(1_700_000_000_987.654321, 3);
    expect(got[2]?.ts).toBe(got[1]?.ts); // SPB: no timestamp of its own
    expect(got[3]?.ts).toBeCloseTo((100 + 5.5) * 1000, 6);
    expect(Array.from(got[1]?.data ?? [])).toEqual(payload(2, 41));
    expect(Array.from(got[4]?.data ?? [])).toEqual(payload(5, 64));
    expect(src.stats().packets).toBe(5);
    expect(src.stats().truncated).toBe(false);
    // tshark agrees on the packet count and link types
    // (tshark lists the unknown block as a record of bare 'data'; it is not a packet.)
    const ts = spawnSync('tshark', ['-r', p, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' });
    expect(ts.stderr.split('\n').filter((l) => l.length > 0 && !l.startsWith('Running as user'))).toEqual([]);
    expect(ts.stdout.trim().split('\n').filter((l) => l !== 'data').length).toBe(5);
  });

  it('a block larger than the read buffer that the reader does not use is streamed past', async () => {
    const bytes = [...shb(true), ...idb(true, 1, 0), ...block(0x0bad, new Array(3 * 1024 * 1024).fill(7), true), ...epb(true, 0, 1000n, payload(9, 20))];
    const got = await readAll(openCaptureFile(write('bigblock.pcapng', bytes), { chunkBytes: 1 << 20 }));
    expect(got.map((g) => g.data.length)).toEqual([20]);
  });

  it('block length not a multiple of 4: CaptureFormatError naming the offset, after the good packets', async () => {
    const head = [...shb(true), ...idb(true, 1, 0), ...epb(true, 0, 1n, payload(1, 20))];
    const bad = [...u32(6, true), ...u32(45, true), ...payload(0, 60)];
    const src = openCaptureFile(write('badlen.pcapng', [...head, ...bad]));
    const { err, packets } = await errorOf(src);
    expect(packets).toBe(1);
    expect(err).toBeInstanceOf(CaptureFormatError);
    expect((err as Error).message).toContain(`byte offset ${head.length}`);
    expect((err as Error).message).toContain('not a multiple of 4');
  });

  it('a packet block for an interface the section does not have is an error', async () => {
    const bytes = [...shb(true), ...idb(true, 1, 0), ...epb(true, 3, 1n, payload(1, 20))];
    const { err } = await errorOf(openCaptureFile(write('badif.pcapng', bytes)));
    expect((err as Error).message).toContain('interface 3');
  });

  it('a pcapng file cut mid-block is truncated, not an error', async () => {
    const bytes = [...shb(true), ...idb(true, 1, 0), ...epb(true, 0, 1n, payload(1, 20)), ...epb(true, 0, 2n, payload(2, 40))];
    const src = openCaptureFile(write('cutng.pcapng', bytes.slice(0, bytes.length - 10)));
    const got = await readAll(src);
    expect(got.length).toBe(1);
    expect(src.stats().truncated).toBe(true);
    expect(src.stats().warnings[0]).toMatch(/^capture truncated: last record cut short at byte offset \d+ \(10 bytes missing\)$/);
  });
});
