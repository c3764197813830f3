/**
 * pcap / pcapng file reader (DESIGN §2.1). Reads in large chunks (never the whole file), yields
 * PacketBatch objects whose arrays and buffer are reused: a batch is valid until the next one is
 * asked for. Packets point into the read buffer; a record straddling a chunk boundary is carried
 * into the next chunk.
 *
 * Two buffers of [reserve | chunk], used in turn: at the switch the unparsed tail (at most one
 * record, ≤ reserve bytes) is copied in front of the new chunk. Both buffers start on a page
 * boundary (see pageAligned).
 *
 * A regular file is read synchronously, a small chunk at a time, when the packets before it are
 * done: a chunk well inside one core's cache is still there when the packet path reads its headers
 * and payload (of a chunk of several MiB, most is out of the cache by the time it is parsed, and
 * every packet starts with cache misses). Read on the packet thread, such a chunk also lands in
 * this core's cache and costs no hand-off to libuv's thread pool and back, of which small chunks
 * would need many; the price is that the copy does not overlap the packet work on an idle second
 * core. Pipes, sockets and the shared ring of a sharded replay are still read on the pool. So that
 * timers, the sinks' writes and signals are not held up, the reader lets the event loop turn once
 * per few MiB read.
 *
 * Formats (either gzip-compressed, when read from a file):
 * - pcap (draft-ietf-opsawg-pcap): magic a1b2c3d4 (µs) and a1b23c4d (ns), either byte order; and
 *   a1b2cd34, Alexey Kuznetsov's patched libpcap (old Red Hat and SuSE tcpdump, still read by
 *   libpcap and Wireshark): µs, each record header 8 bytes longer (interface index, protocol,
 *   packet type, padding), which are skipped.
 * - snoop (RFC 1761: Solaris, and captures of its age still published): big-endian, µs, its
 *   Ethernet data links; other data links give packets of a link type no decoder reads.
 * - pcapng (draft-ietf-opsawg-pcapng): SHB in either byte order, several sections, several IDBs
 *   per section (per-interface link type, snaplen, if_tsresol incl. power-of-2 resolutions,
 *   if_tsoffset), EPB, SPB (interface 0), the obsolete PB; other blocks are skipped (streamed
 *   past when larger than the chunk).
 *
 * Errors: a file that is not a capture, or a record that cannot be right (caplen over
 * maxCapLenBytes, block length not a multiple of 4, trailing length mismatch, unknown interface),
 * throws CaptureFormatError (one line, naming the offset) after yielding every good packet before
 * it. A file ending inside a record is not an error: the complete packets are yielded,
 * stats().truncated is set and a warning names the offset.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CaptureFormatError, newBatch } from './source.js';
import type { CaptureSource, PacketBatch, SourceStats } from './source.js';

export interface CaptureFileOptions {
  /** Size of the read buffer (records are parsed in place from it). Min 1 MiB. */
  chunkBytes?: number;
  /** Packets per batch. */
  batchPackets?: number;
  /** A record whose captured length is larger is a format error ("absurd record"). */
  maxCapLenBytes?: number;
  /**
   * Read buffers that outlive their batch (a sharded replay hands packets to worker threads that
   * read them in place): `buffers` buffers (at least 2) in one SharedArrayBuffer, used in turn, and
   * a buffer is read into again only once `reuse(i)` resolves, i.e. once everyone given packets of
   * buffer i is done with them. `bufferOf` tells which buffer a batch's `buf` is.
   */
  ring?: { buffers: number; reuse(index: number): Promise<void> };
}

/** The shared read buffers of a reader opened with `ring`: the block, and where buffer i starts. */
export interface SharedRing {
  block: Uint8Array;
  /** Bytes per buffer; buffer i is block[i * size, (i + 1) * size). */
  size: number;
}

const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const MIN_CHUNK_BYTES = 1024 * 1024;
/** Chunk of a regular file read synchronously: well inside one core's L2 cache with the reserve. */
const SYNC_CHUNK_BYTES = 256 * 1024;
/** A synchronous reader lets the event loop turn after this many bytes. */
const SYNC_TURN_BYTES = 4 * 1024 * 1024;
const DEFAULT_BATCH_PACKETS = 4096;
const DEFAULT_MAX_CAPLEN_BYTES = 256 * 1024;

/**
 * `n` zeroed bytes starting on a page boundary. The kernel's copy into a read buffer (rep movsb)
 * runs several times slower on some AMD EPYC parts when the destination sits at certain offsets
 * within a cache line, and a plain Uint8Array of this size starts 16 bytes into a page (malloc's
 * header before an mmap'd block); the figures are in docs/PERFORMANCE.md. WebAssembly.Memory is the one page-aligned allocation JavaScript has; a plain array is the
 * fallback if it cannot be had (an address-space limit).
 */
function pageAligned(n: number, shared = false): Uint8Array {
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => { buffer: ArrayBufferLike } } }).WebAssembly;
  const pages = Math.ceil(n / 65536);
  try {
    return new Uint8Array(new wasm.Memory(shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages }).buffer, 0, n);
  } catch {
    return new Uint8Array(shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n));
  }
}

const PCAPNG_SHB = 0x0a0d0d0a;
/** "snoop\0\0\0" read as two big-endian words. */
const SNOOP_MAGIC_HI = 0x736e6f6f;
const SNOOP_MAGIC_LO = 0x70000000;
const PCAPNG_IDB = 0x00000001;
const PCAPNG_PB = 0x00000002; // obsolete Packet Block
const PCAPNG_SPB = 0x00000003;
const PCAPNG_EPB = 0x00000006;
const PCAPNG_BOM = 0x1a2b3c4d;

/** Where the bytes come from: a file handle or a stream. */
interface ByteSource {
  /** Read up to len bytes into into[at..]; 0 at end of input. */
  read(into: Uint8Array, at: number, len: number): Promise<number>;
  /**
   * The same without waiting, or null when the source must be read asynchronously (it is not a
   * regular file). Asked once, at the first read.
   */
  syncRead(): ((into: Uint8Array, at: number, len: number) => number) | null;
  close(): Promise<void>;
}

function cannotOpen(path: string, e: unknown): CaptureFormatError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new CaptureFormatError(`cannot open capture file: ${path} (${code})`);
}

/** A read the file refused after it opened (a directory, an I/O error), named with the file. */
function cannotRead(path: string, e: unknown): CaptureFormatError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new CaptureFormatError(`cannot read capture file: ${path} (${code})`);
}

class FileByteSource implements ByteSource {
  private fh: FileHandle | null = null;
  private closed = false;
  private readonly path: string;
  constructor(path: string) {
    this.path = path;
  }

  async read(into: Uint8Array, at: number, len: number): Promise<number> {
    if (this.closed) return 0;
    if (this.fh === null) {
      try {
        this.fh = await open(this.path, 'r');
      } catch (e) {
        throw cannotOpen(this.path, e);
      }
    }
    let total = 0;
    // One large read normally fills the request; loop for short reads (e.g. a FIFO). Reads go
    // from the file's own position (one read is in flight at a time): a pipe has no offsets to
    // read at (ESPIPE).
    while (total < len) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.fh.read(into, at + total, len - total, null));
      } catch (e) {
        throw cannotRead(this.path, e);
      }
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }

  syncRead(): null {
    return null;
  }

  async close(): Promise<void> {
    this.closed = true;
    const fh = this.fh;
    this.fh = null;
    if (fh !== null) await fh.close();
  }
}

/** A regular file, read without waiting (see the header: the bytes stay in this core's cache). */
class SyncFileByteSource implements ByteSource {
  private fd = -1;
  private pos = 0;
  private closed = false;
  private readonly path: string;
  private readonly readNow = (into: Uint8Array, at: number, len: number): number => {
    if (this.closed) return 0;
    if (this.fd < 0) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch (e) {
        throw cannotOpen(this.path, e);
      }
    }
    let total = 0;
    while (total < len) {
      let n: number;
      try {
        n = readSync(this.fd, into, at + total, len - total, this.pos);
      } catch (e) {
        throw cannotRead(this.path, e);
      }
      if (n === 0) break;
      this.pos += n;
      total += n;
    }
    return total;
  };
  constructor(path: string) {
    this.path = path;
  }

  syncRead(): (into: Uint8Array, at: number, len: number) => number {
    return this.readNow;
  }

  read(into: Uint8Array, at: number, len: number): Promise<number> {
    try {
      return Promise.resolve(this.readNow(into, at, len));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) closeSync(fd);
  }
}

/** True for a regular file (a FIFO, a device or a missing path is read through the pool). */
function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // the open reports it, at the first read
  }
}

class StreamByteSource implements ByteSource {
  private readonly it: AsyncIterator<unknown>;
  private pending: Uint8Array | null = null;
  private pendingOff = 0;
  private done = false;
  /** A stream error met after bytes were copied: those bytes go out first, the error next read. */
  private failed: unknown = null;
  private readonly stream: Readable;
  /** `first`: bytes already taken from the stream's iterator `it` (by a sniffer), read first. */
  constructor(stream: Readable, it?: AsyncIterator<unknown>, first?: Uint8Array) {
    this.stream = stream;
    this.it = it ?? stream[Symbol.asyncIterator]();
    if (first !== undefined && first.length > 0) this.pending = first;
  }

  async read(into: Uint8Array, at: number, len: number): Promise<number> {
    if (this.failed !== null) {
      const e = this.failed;
      this.failed = null;
      this.done = true;
      throw e;
    }
    let copied = 0;
    while (copied < len) {
      if (this.pending === null) {
        // Wait only when nothing was copied yet; otherwise take what the stream already buffers.
        if (this.done || (copied > 0 && this.stream.readableLength === 0)) break;
        let r: IteratorResult<unknown>;
        try {
          r = await this.it.next();
        } catch (e) {
          if (copied === 0) throw e;
          this.failed = e;
          break;
        }
        if (r.done === true) { this.done = true; break; }
        const v = r.value;
        const chunk = typeof v === 'string' ? Buffer.from(v, 'latin1') : (v as Uint8Array);
        if (chunk.length === 0) continue;
        this.pending = chunk;
        this.pendingOff = 0;
      }
      const p = this.pending;
      const n = Math.min(len - copied, p.length - this.pendingOff);
      into.set(p.subarray(this.pendingOff, this.pendingOff + n), at + copied);
      copied += n;
      this.pendingOff += n;
      if (this.pendingOff >= p.length) this.pending = null;
    }
    return copied;
  }

  syncRead(): null {
    return null;
  }

  async close(): Promise<void> {
    this.done = true;
    this.pending = null;
    if (typeof this.it.return === 'function') await this.it.return();
  }
}

/** The file starts with gzip's magic (1f 8b); false when it cannot be read (the open reports why). */
function isGzip(path: string): boolean {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const b = new Uint8Array(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } catch {
    return false;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * A gzip-compressed capture (.pcap.gz, .pcapng.gz: how public captures are often published, and
 * what tshark reads as is), inflated as it is read. A file cut short inside the compressed data
 * ends where the inflated bytes end, so the reader reports the record it cuts as truncated, as
 * for an uncompressed file; corrupt compressed data is a CaptureFormatError.
 */
class GzipByteSource extends StreamByteSource {
  private readonly path: string;
  /** `from`: a file path, or the compressed stream itself (stdin, a pipe). */
  constructor(from: string | Readable, name = typeof from === 'string' ? from : 'stream') {
    const gz = createGunzip();
    // pipeline, not pipe: a read error of the file reaches the inflater's reader
    pipeline(typeof from === 'string' ? createReadStream(from) : from, gz, () => {});
    super(gz);
    this.path = name;
  }

  override async read(into: Uint8Array, at: number, len: number): Promise<number> {
    try {
      return await super.read(into, at, len);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'Z_BUF_ERROR') return 0; // cut short
      if (e instanceof CaptureFormatError) throw e;
      throw new CaptureFormatError(`gzip-compressed capture ${this.path}: ${(e as Error).message}`);
    }
  }
}

/** The byte source for a capture file: inflating a gzip file, synchronous for a regular one. */
function fileSource(path: string, shared: boolean): ByteSource {
  if (!isRegularFile(path)) return new FileByteSource(path);
  if (isGzip(path)) return new GzipByteSource(path);
  return shared ? new FileByteSource(path) : new SyncFileByteSource(path);
}

/** Open a capture file (`'-'` reads standard input). Nothing is read until batches() is iterated. */
export function openCaptureFile(path: string | '-', opts: CaptureFileOptions = {}): CaptureSource {
  if (path === '-') return openCaptureStream(process.stdin, 'stdin', opts);
  return new CaptureFileReader(path, fileSource(path, false), opts);
}

/** A capture file read into shared buffers (see CaptureFileOptions.ring). */
export function openSharedCaptureFile(path: string, opts: CaptureFileOptions & { ring: NonNullable<CaptureFileOptions['ring']> }): CaptureSource & { readonly ring: SharedRing; bufferOf(b: PacketBatch): number } {
  return new CaptureFileReader(path, fileSource(path, true), opts) as CaptureFileReader & { readonly ring: SharedRing };
}

/**
 * A stream that may be gzip-compressed (`zcat`-less `replay - < x.pcap.gz`, `curl ... | replay -`):
 * its first bytes are looked at before anything is parsed, and a gzip stream (1f 8b) is inflated
 * as it is read, as a .gz file is; anything else is read as it comes, without a copy.
 */
class SniffedStreamSource implements ByteSource {
  private inner: ByteSource | null = null;
  private readonly stream: Readable;
  private readonly name: string;
  constructor(stream: Readable, name: string) {
    this.stream = stream;
    this.name = name;
  }

  private async open(): Promise<ByteSource> {
    const it = this.stream[Symbol.asyncIterator]();
    const seen: Uint8Array[] = [];
    let have = 0;
    let ended = false;
    while (have < 2) {
      const r = await it.next();
      if (r.done === true) { ended = true; break; }
      const v = r.value as Uint8Array | string;
      const c = typeof v === 'string' ? Buffer.from(v, 'latin1') : v;
      seen.push(c);
      have += c.length;
    }
    const first = seen.length === 1 ? (seen[0] as Uint8Array) : Buffer.concat(seen);
    if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
      // The inflater reads what was taken, then the rest of the stream through the same iterator.
      const rest = Readable.from((async function* () {
        yield first;
        if (ended) return;
        for (let r = await it.next(); r.done !== true; r = await it.next()) yield r.value as Uint8Array;
      })(), { objectMode: false });
      return new GzipByteSource(rest, this.name);
    }
    return new StreamByteSource(this.stream, it, first);
  }

  async read(into: Uint8Array, at: number, len: number): Promise<number> {
    if (this.inner === null) this.inner = await this.open();
    return this.inner.read(into, at, len);
  }

  syncRead(): null {
    return null;
  }

  async close(): Promise<void> {
    if (this.inner !== null) await this.inner.close();
    else this.stream.destroy();
  }
}

/** Read a pcap/pcapng byte stream (stdin, a pipe, a socket), gzip-compressed or not. */
export function openCaptureStream(stream: Readable, name = 'stream', opts: CaptureFileOptions = {}): CaptureSource {
  return new CaptureFileReader(name, new SniffedStreamSource(stream, name), opts);
}

/**
 * A classic pcap's byte order, timestamp unit and record header length from its magic number read
 * big-endian (a1b2c3d4 µs, a1b23c4d ns, a1b2cd34 µs with 24-byte record headers; either byte
 * order); null for anything else.
 */
export function pcapForm(magicBE: number): { le: boolean; ns: boolean; recHdr: number } | null {
  switch (magicBE) {
    case 0xa1b2c3d4: return { le: false, ns: false, recHdr: 16 };
    case 0xd4c3b2a1: return { le: true, ns: false, recHdr: 16 };
    case 0xa1b23c4d: return { le: false, ns: true, recHdr: 16 };
    case 0x4d3cb2a1: return { le: true, ns: true, recHdr: 16 };
    case 0xa1b2cd34: return { le: false, ns: false, recHdr: 24 };
    case 0x34cdb2a1: return { le: true, ns: false, recHdr: 24 };
    default: return null;
  }
}

/** Why a parse loop stopped. */
const Parse = { Need: 0, Full: 1 } as const;

class CaptureFileReader implements CaptureSource {
  readonly name: string;
  private readonly src: ByteSource;
  /** The source's synchronous read (a regular file outside a ring), else null. */
  private readonly readNow: ((into: Uint8Array, at: number, len: number) => number) | null;
  /** Bytes read synchronously since the event loop last turned. */
  private sinceTurn = 0;
  private readonly st: SourceStats = { packets: 0, bytes: 0, kernelDrops: 0, truncated: false, warnings: [] };
  private readonly batch: PacketBatch;
  private readonly batchCap: number;
  private readonly maxCapLen: number;
  /** Read buffers (two, or the ring's), each [reserve | chunkBytes]; `cur` is the one being parsed. */
  private readonly bufs: Uint8Array[];
  private readonly dvs: DataView[];
  private readonly reuse: ((index: number) => Promise<void>) | null;
  readonly ring: SharedRing | null;
  private readonly reserve: number;
  private readonly chunkBytes: number;
  private cur = 0;
  private chunk: Uint8Array;
  private dv: DataView;
  /** Valid bytes are chunk[pos, end); chunk[0] is at file offset `base`. */
  private pos = 0;
  private end = 0;
  private base = 0;
  /** Read in flight into the other buffer (at offset `reserve`). */
  private pendingRead: Promise<number> | null = null;
  private eof = false;
  private started = false;

  // format state
  private ng = false;
  private snoop = false;
  private le = true;
  // pcap
  private pcapLink = 0;
  private fracDiv = 1000;
  /** Bytes of a record header: 16, or 24 in Kuznetsov's format. */
  private recHdr = 16;
  // pcapng: per-interface of the current section
  private ifLink: number[] = [];
  private ifSnap: number[] = [];
  private ifUnitsPerMs: number[] = [];
  private ifOffsetMs: number[] = [];
  private lastTsMs = 0;
  /** Bytes of a large skipped block still to discard. */
  private skip = 0;
  /** Bytes still needed by the incomplete record at pos (for the truncation warning). */
  private need = 0;
  /** Set when the record at pos is absurd: thrown after the good packets are yielded. */
  private formatError: string | null = null;

  constructor(name: string, src: ByteSource, opts: CaptureFileOptions) {
    this.name = name;
    this.src = src;
    this.batchCap = Math.max(1, opts.batchPackets ?? DEFAULT_BATCH_PACKETS);
    this.maxCapLen = opts.maxCapLenBytes ?? DEFAULT_MAX_CAPLEN_BYTES;
    // A ring's buffers are handed to other threads and read into once released: always the pool.
    this.readNow = opts.ring === undefined ? src.syncRead() : null;
    const chunk = opts.chunkBytes !== undefined ? Math.max(MIN_CHUNK_BYTES, opts.chunkBytes) : this.readNow !== null ? SYNC_CHUNK_BYTES : DEFAULT_CHUNK_BYTES;
    this.chunkBytes = (chunk + 4095) & ~4095;
    // Largest record kept whole: a packet of maxCapLen plus headers and options.
    this.reserve = (this.maxCapLen + 65536 + 4095) & ~4095;
    // One page-aligned block for both buffers; reads land at page offsets of it, as chunks of the
    // file start at multiples of chunkBytes.
    const size = this.reserve + this.chunkBytes;
    const count = opts.ring ? Math.max(2, opts.ring.buffers) : 2;
    const block = pageAligned(count * size, opts.ring !== undefined);
    this.bufs = [];
    this.dvs = [];
    for (let i = 0; i < count; i++) {
      const a = block.subarray(i * size, (i + 1) * size);
      this.bufs.push(a);
      this.dvs.push(new DataView(a.buffer, a.byteOffset, size));
    }
    this.reuse = opts.ring ? opts.ring.reuse : null;
    this.ring = opts.ring ? { block, size } : null;
    const a = this.bufs[0] as Uint8Array;
    this.chunk = a;
    this.dv = this.dvs[0];
    this.pos = this.reserve;
    this.end = this.reserve;
    this.base = -this.reserve;
    this.batch = newBatch(this.batchCap);
    this.batch.buf = this.chunk;
  }

  /** Which read buffer a batch points into (its `buf` is always one whole buffer). */
  bufferOf(b: PacketBatch): number {
    return this.bufs.indexOf(b.buf);
  }

  stats(): SourceStats {
    return this.st;
  }

  async close(): Promise<void> {
    await this.settle();
    await this.src.close();
  }

  /** Wait for a read in flight (its result is not needed any more). */
  private async settle(): Promise<void> {
    const p = this.pendingRead;
    this.pendingRead = null;
    if (p !== null) await p.catch(() => 0);
  }

  async *batches(): AsyncGenerator<PacketBatch> {
    if (this.started) throw new Error('batches() can be iterated once');
    this.started = true;
    try {
      await this.fill();
      while (this.end - this.pos < 24 && !this.eof) await this.fill();
      this.detect();
      const batch = this.batch;
      for (;;) {
        const r = this.ng ? this.parsePcapng() : this.snoop ? this.parseSnoop() : this.parsePcap();
        if (r === Parse.Full) {
          yield batch;
          batch.n = 0;
          continue;
        }
        // Need more input for the record at pos (or a format error was found there).
        if (this.formatError !== null) {
          if (batch.n > 0) {
            yield batch;
            batch.n = 0;
          }
          this.st.warnings.push(this.formatError);
          throw new CaptureFormatError(this.formatError);
        }
        if (this.eof) {
          if (batch.n > 0) {
            yield batch;
            batch.n = 0;
          }
          if (this.end > this.pos || this.skip > 0) {
            const have = this.end - this.pos;
            const missing = this.skip > 0 ? this.skip : this.need - have;
            this.st.truncated = true;
            this.st.warnings.push(
              `capture truncated: last record cut short at byte offset ${this.base + this.pos} (${missing} bytes missing)`,
            );
          }
          return;
        }
        // The batch points into the chunk: hand it out before moving bytes.
        if (batch.n > 0) {
          yield batch;
          batch.n = 0;
        }
        await this.fill();
      }
    } finally {
      await this.settle();
      await this.src.close();
    }
  }

  /**
   * Switch to the next buffer: take the chunk read into it (waiting if needed), copy the unparsed
   * tail of the current buffer in front of it, and start reading the next chunk into the buffer
   * after it (with two buffers, the one just left: its packets were all handed out before this
   * call; with a ring, once its holders release it). Bytes of a skipped block are dropped here.
   */
  private async fill(): Promise<void> {
    const R = this.reserve;
    const count = this.bufs.length;
    const other = (this.cur + 1) % count;
    const next = this.bufs[other] as Uint8Array;
    let n: number;
    const readNow = this.readNow;
    if (readNow !== null) {
      if (this.sinceTurn >= SYNC_TURN_BYTES) {
        this.sinceTurn = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      n = readNow(next, R, this.chunkBytes);
      this.sinceTurn += n;
    } else {
      if (this.pendingRead === null) this.pendingRead = this.readInto(other);
      n = await this.pendingRead;
      this.pendingRead = null;
    }
    const tail = this.end - this.pos; // ≤ reserve: parse loops only stop before records ≤ reserve
    if (tail > 0) next.set(this.chunk.subarray(this.pos, this.end), R - tail);
    this.base += this.pos - (R - tail);
    this.cur = other;
    this.chunk = next;
    this.dv = this.dvs[other] as DataView;
    this.pos = R - tail;
    this.end = R + n;
    if (n === 0) {
      this.eof = true;
    } else if (readNow === null) {
      this.pendingRead = this.readInto((other + 1) % count);
    }
    if (this.skip > 0) {
      const d = Math.min(this.skip, this.end - this.pos);
      this.pos += d;
      this.skip -= d;
    }
  }

  private readInto(i: number): Promise<number> {
    const buf = this.bufs[i] as Uint8Array;
    if (this.reuse === null) return this.src.read(buf, this.reserve, this.chunkBytes);
    return this.reuse(i).then(() => this.src.read(buf, this.reserve, this.chunkBytes));
  }

  private detect(): void {
    const c = this.chunk;
    const p = this.pos;
    const have = this.end - p;
    if (have < 4) {
      let m = '';
      for (let i = 0; i < have; i++) m += (c[p + i] as number).toString(16).padStart(2, '0');
      throw new CaptureFormatError(
        have === 0 ? `not a pcap or pcapng file: ${this.name} (empty file)` : `not a pcap or pcapng file: ${this.name} (magic 0x${m}, file too short)`,
      );
    }
    const magic = this.dv.getUint32(p, false);
    if (magic === SNOOP_MAGIC_HI && have >= 8 && this.dv.getUint32(p + 4, false) === SNOOP_MAGIC_LO) {
      if (have < 16) throw new CaptureFormatError(`snoop file ${this.name}: header cut short`);
      this.snoop = true;
      this.le = false;
      const dl = this.dv.getUint32(p + 12, false);
      // RFC 1761 data links 0 (IEEE 802.3) and 4 (Ethernet) are Ethernet frames; others are kept
      // under a link type no decoder reads, so they are counted, not misread.
      this.pcapLink = dl === 0 || dl === 4 ? 1 : 0xffff;
      this.pos = p + 16;
      return;
    }
    if (magic === PCAPNG_SHB) {
      this.ng = true;
      return; // the SHB is parsed as a block
    }
    const form = pcapForm(magic);
    if (form === null) throw new CaptureFormatError(`not a pcap or pcapng file: ${this.name} (magic 0x${magic.toString(16).padStart(8, '0')})`);
    const { le, ns, recHdr } = form;
    this.le = le;
    this.fracDiv = ns ? 1e6 : 1e3;
    this.recHdr = recHdr;
    if (have < 24) {
      // Header cut short: treated like a record cut short (no packets).
      this.need = 24;
      this.pcapHeaderPending = true;
      return;
    }
    this.pcapLink = this.dv.getUint32(p + 20, le) & 0xffff; // upper bits: FCS length info
    this.pos = p + 24;
  }

  private pcapHeaderPending = false;

  /** snoop records: original length, included length, record length, drops, ts sec, ts µs; data, padding. */
  private parseSnoop(): number {
    const dv = this.dv;
    const b = this.batch;
    const cap = this.batchCap;
    const end = this.end;
    let p = this.pos;
    let n = b.n;
    let bytes = 0;
    let res: number = Parse.Need;
    for (;;) {
      if (n >= cap) { res = Parse.Full; break; }
      if (end - p < 24) { this.need = 24; break; }
      const incl = dv.getUint32(p + 4, false);
      const rec = dv.getUint32(p + 8, false);
      if (incl > this.maxCapLen || rec < 24 + incl || rec > 24 + incl + 4096) {
        this.formatError = `snoop record at byte offset ${this.base + p} has included length ${incl} and record length ${rec}: file damaged`;
        break;
      }
      if (end - p < rec) { this.need = rec; break; }
      b.off[n] = p + 24;
      b.capLen[n] = incl;
      b.origLen[n] = dv.getUint32(p, false);
      b.tsMs[n] = dv.getUint32(p + 16, false) * 1000 + dv.getUint32(p + 20, false) / 1000;
      b.linkType[n] = this.pcapLink;
      n++;
      bytes += incl;
      p += rec;
    }
    this.st.packets += n - b.n;
    this.st.bytes += bytes;
    b.n = n;
    b.buf = this.chunk;
    this.pos = p;
    return res;
  }

  /** pcap records: 16-byte header (ts sec, ts frac, incl len, orig len) + data. */
  private parsePcap(): number {
    if (this.pcapHeaderPending) return Parse.Need;
    const dv = this.dv;
    const le = this.le;
    const b = this.batch;
    const off = b.off;
    const capLen = b.capLen;
    const origLen = b.origLen;
    const tsMs = b.tsMs;
    const linkT = b.linkType;
    const cap = this.batchCap;
    const maxCap = this.maxCapLen;
    const fracDiv = this.fracDiv;
    const link = this.pcapLink;
    const end = this.end;
    const rh = this.recHdr;
    let p = this.pos;
    let n = b.n;
    let bytes = 0;
    let res: number = Parse.Need;
    for (;;) {
      if (n >= cap) { res = Parse.Full; break; }
      if (end - p < rh) { this.need = rh; break; }
      const incl = dv.getUint32(p + 8, le);
      if (incl > maxCap) {
        this.formatError = `pcap record at byte offset ${this.base + p} has captured length ${incl} (over ${maxCap}): file damaged`;
        break;
      }
      if (end - p - rh < incl) { this.need = rh + incl; break; }
      off[n] = p + rh;
      capLen[n] = incl;
      origLen[n] = dv.getUint32(p + 12, le);
      tsMs[n] = dv.getUint32(p, le) * 1000 + dv.getUint32(p + 4, le) / fracDiv;
      linkT[n] = link;
      n++;
      bytes += incl;
      p += rh + incl;
    }
    this.st.packets += n - b.n;
    this.st.bytes += bytes;
    b.n = n;
    b.buf = this.chunk;
    this.pos = p;
    return res;
  }

  /** pcapng blocks: type, total length, body, total length. */
  private parsePcapng(): number {
    const dv = this.dv;
    const c = this.chunk;
    const b = this.batch;
    const cap = this.batchCap;
    const maxCap = this.maxCapLen;
    const end = this.end;
    let p = this.pos;
    let n = b.n;
    let bytes = 0;
    let res: number = Parse.Need;
    for (;;) {
      if (n >= cap) { res = Parse.Full; break; }
      if (end - p < 12) { this.need = 12; break; }
      let le = this.le;
      const type = dv.getUint32(p, le);
      if (type === PCAPNG_SHB) {
        // Section Header Block: its byte-order magic decides the section's byte order.
        const bom = dv.getUint32(p + 8, true);
        if (bom === PCAPNG_BOM) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else {
          this.formatError = `pcapng section header at byte offset ${this.base + p} has a bad byte-order magic 0x${bom.toString(16)}`;
          break;
        }
      }
      const len = dv.getUint32(p + 4, le);
      if (len < 12 || (len & 3) !== 0) {
        this.formatError = `pcapng block at byte offset ${this.base + p} has length ${len} (not a multiple of 4 or below 12): file damaged`;
        break;
      }
      const isPacket = type === PCAPNG_EPB || type === PCAPNG_SPB || type === PCAPNG_PB;
      if (len > this.reserve) {
        if (isPacket || type === PCAPNG_SHB || type === PCAPNG_IDB) {
          this.formatError = `pcapng block type ${type} at byte offset ${this.base + p} has length ${len}: file damaged`;
          break;
        }
        // A huge block we do not use: stream past it.
        if (end - p >= len) { p += len; continue; }
        this.skip = len - (end - p);
        p = end;
        this.need = 0;
        break;
      }
      if (end - p < len) { this.need = len; break; }
      if (dv.getUint32(p + len - 4, le) !== len) {
        this.formatError = `pcapng block at byte offset ${this.base + p}: trailing length does not match ${len}: file damaged`;
        break;
      }

      if (type === PCAPNG_EPB || type === PCAPNG_PB) {
        if (len < 32) {
          this.formatError = `pcapng packet block at byte offset ${this.base + p} too short (${len} bytes)`;
          break;
        }
        const ifid = type === PCAPNG_EPB ? dv.getUint32(p + 8, le) : dv.getUint16(p + 8, le);
        const incl = dv.getUint32(p + 20, le);
        if (incl > maxCap || 32 + incl > len) {
          this.formatError = `pcapng packet block at byte offset ${this.base + p} has captured length ${incl} (block ${len}, max ${maxCap}): file damaged`;
          break;
        }
        if (ifid >= this.ifLink.length) {
          this.formatError = `pcapng packet block at byte offset ${this.base + p} names interface ${ifid}, section has ${this.ifLink.length}`;
          break;
        }
        const units = dv.getUint32(p + 12, le) * 4294967296 + dv.getUint32(p + 16, le);
        const ts = units / (this.ifUnitsPerMs[ifid] as number) + (this.ifOffsetMs[ifid] as number);
        this.lastTsMs = ts;
        b.off[n] = p + 28;
        b.capLen[n] = incl;
        b.origLen[n] = dv.getUint32(p + 24, le);
        b.tsMs[n] = ts;
        b.linkType[n] = this.ifLink[ifid] as number;
        n++;
        bytes += incl;
      } else if (type === PCAPNG_SPB) {
        if (this.ifLink.length === 0) {
          this.formatError = `pcapng simple packet block at byte offset ${this.base + p} before any interface description`;
          break;
        }
        const orig = dv.getUint32(p + 8, le);
        let incl = len - 16;
        if (orig < incl) incl = orig;
        const snap = this.ifSnap[0] as number;
        if (snap > 0 && snap < incl) incl = snap;
        b.off[n] = p + 12;
        b.capLen[n] = incl;
        b.origLen[n] = orig;
        b.tsMs[n] = this.lastTsMs; // SPB carries no timestamp: keep packet time monotonic
        b.linkType[n] = this.ifLink[0] as number;
        n++;
        bytes += incl;
      } else if (type === PCAPNG_SHB) {
        if (len < 28) {
          this.formatError = `pcapng section header at byte offset ${this.base + p} too short (${len} bytes)`;
          break;
        }
        const major = dv.getUint16(p + 12, le);
        if (major !== 1) {
          this.formatError = `pcapng section header at byte offset ${this.base + p} has unsupported version ${major}`;
          break;
        }
        this.le = le;
        this.ifLink.length = 0;
        this.ifSnap.length = 0;
        this.ifUnitsPerMs.length = 0;
        this.ifOffsetMs.length = 0;
      } else if (type === PCAPNG_IDB) {
        if (len < 20) {
          this.formatError = `pcapng interface description at byte offset ${this.base + p} too short (${len} bytes)`;
          break;
        }
        this.addInterface(c, dv, p, len, le);
      }
      p += len;
    }
    this.st.packets += n - b.n;
    this.st.bytes += bytes;
    b.n = n;
    b.buf = c;
    this.pos = p;
    return res;
  }

  private addInterface(c: Uint8Array, dv: DataView, p: number, len: number, le: boolean): void {
    const link = dv.getUint16(p + 8, le);
    const snap = dv.getUint32(p + 12, le);
    let unitsPerSec = 1e6;
    let offsetSec = 0;
    // Options: code u16, length u16, value padded to 4 (draft-ietf-opsawg-pcapng §3.5).
    let o = p + 16;
    const oend = p + len - 4;
    while (oend - o >= 4) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === 0) break; // opt_endofopt
      const v = o + 4;
      if (v + olen > oend) break;
      if (code === 9 && olen >= 1) {
        // if_tsresol: MSB 0 → 10^-n, MSB 1 → 2^-n
        const r = c[v] as number;
        unitsPerSec = (r & 0x80) !== 0 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === 14 && olen >= 8) {
        // if_tsoffset: seconds to add, signed 64-bit
        const hi = dv.getInt32(le ? v + 4 : v, le);
        const lo = dv.getUint32(le ? v : v + 4, le);
        offsetSec = hi * 4294967296 + lo;
      }
      o = v + ((olen + 3) & ~3);
    }
    this.ifLink.push(link);
    this.ifSnap.push(snap);
    this.ifUnitsPerMs.push(unitsPerSec / 1000);
    this.ifOffsetMs.push(offsetSec * 1000);
  }
}
