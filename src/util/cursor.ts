/**
 * Byte cursor over a Uint8Array with a sticky error flag and zero-copy views (STYLE.md §6.2).
 * Reads past `end` return 0 (or an empty view) and set `err`; callers check `err` once per PDU.
 */
const EMPTY = new Uint8Array(0);

export class Cursor {
  buf: Uint8Array;
  pos: number;
  end: number;
  err: boolean;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.err = false;
  }

  /** Re-point the cursor at another buffer (reuse without allocating). */
  reset(buf: Uint8Array, start = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.err = false;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos + 1 > this.end) return this.fail();
    return this.buf[this.pos++] as number;
  }

  u16(): number {
    const p = this.pos;
    if (p + 2 > this.end) return this.fail();
    this.pos = p + 2;
    return ((this.buf[p] as number) << 8) | (this.buf[p + 1] as number);
  }

  u24(): number {
    const p = this.pos;
    if (p + 3 > this.end) return this.fail();
    this.pos = p + 3;
    const b = this.buf;
    return ((b[p] as number) << 16) | ((b[p + 1] as number) << 8) | (b[p + 2] as number);
  }

  u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) return this.fail();
    this.pos = p + 4;
    const b = this.buf;
    return (((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number)) >>> 0;
  }

  /** 64-bit big-endian as a double (exact up to 2^53). */
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    return hi * 4294967296 + lo;
  }

  u16le(): number {
    const p = this.pos;
    if (p + 2 > this.end) return this.fail();
    this.pos = p + 2;
    return (this.buf[p] as number) | ((this.buf[p + 1] as number) << 8);
  }

  u32le(): number {
    const p = this.pos;
    if (p + 4 > this.end) return this.fail();
    this.pos = p + 4;
    const b = this.buf;
    return ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
  }

  /** A subarray view of the next n bytes; empty and err on overrun. */
  view(n: number): Uint8Array {
    const p = this.pos;
    if (n < 0 || p + n > this.end) {
      this.err = true;
      this.pos = this.end;
      return EMPTY;
    }
    this.pos = p + n;
    return this.buf.subarray(p, p + n);
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      this.err = true;
      this.pos = this.end;
      return;
    }
    this.pos += n;
  }

  /** Restrict end to pos+n (sets err and clamps if n overruns); returns the previous end. */
  narrow(n: number): number {
    const prev = this.end;
    if (n < 0 || this.pos + n > this.end) {
      this.err = true;
    } else {
      this.end = this.pos + n;
    }
    return prev;
  }

  /** Undo narrow(): continue after the narrowed region with the old end. */
  widen(prevEnd: number): void {
    this.pos = this.end;
    this.end = prevEnd;
  }

  private fail(): number {
    this.err = true;
    this.pos = this.end;
    return 0;
  }
}
