/**
 * A small DER reader (X.690 §8, §10) over the project Cursor: single-byte tags (all X.509 needs),
 * definite lengths up to 4 bytes, nesting depth and element-count limits. Errors are sticky.
 */
import { Cursor } from '../../src/util/cursor.js';
import type { X509EventId } from './events.js';

export const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  Null: 0x05,
  Oid: 0x06,
  Utf8String: 0x0c,
  NumericString: 0x12,
  PrintableString: 0x13,
  TeletexString: 0x14,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  VisibleString: 0x1a,
  UniversalString: 0x1c,
  BmpString: 0x1e,
  Sequence: 0x30,
  Set: 0x31,
} as const;

export class Der {
  readonly c: Cursor;
  /** First fatal problem, sticky. */
  err: X509EventId | null = null;
  private depth = 0;
  private elements = 0;
  private readonly maxDepth: number;
  private readonly maxElements: number;
  /** Length of the element whose header was read last. */
  len = 0;

  constructor(buf: Uint8Array, maxDepth: number, maxElements: number) {
    this.c = new Cursor(buf);
    this.maxDepth = maxDepth;
    this.maxElements = maxElements;
  }

  get buf(): Uint8Array {
    return this.c.buf;
  }

  fail(id: X509EventId): void {
    if (this.err === null) this.err = id;
    this.c.pos = this.c.end;
  }

  /** Tag at the cursor without consuming, or -1 at the end. */
  peek(): number {
    return this.c.pos < this.c.end ? (this.c.buf[this.c.pos] as number) : -1;
  }

  /** Read a header; sets len and leaves pos at the content. Returns the tag, or -1. */
  header(): number {
    if (this.err !== null) return -1;
    if (++this.elements > this.maxElements) {
      this.fail('x509.limit.elements');
      return -1;
    }
    const c = this.c;
    const tag = c.u8();
    if ((tag & 0x1f) === 0x1f) {
      this.fail('x509.malformed'); // high-tag-number form: not used by X.509
      return -1;
    }
    let len = c.u8();
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) {
        this.fail('x509.malformed'); // indefinite length is not DER (X.690 §10.1)
        return -1;
      }
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + c.u8();
    }
    if (c.err || len > c.remaining) {
      this.fail('x509.malformed');
      return -1;
    }
    this.len = len;
    return tag;
  }

  /** Enter a constructed element with the given tag; returns the outer end for leave(), or -1. */
  enter(tag: number): number {
    const t = this.header();
    if (t !== tag) {
      if (t >= 0) this.fail('x509.malformed');
      return -1;
    }
    if (++this.depth > this.maxDepth) {
      this.fail('x509.limit.depth');
      return -1;
    }
    return this.c.narrow(this.len);
  }

  /** Continue after the element entered with enter(). */
  leave(prevEnd: number): void {
    if (prevEnd < 0) return;
    this.depth--;
    this.c.widen(prevEnd);
  }

  /** Read a primitive with the given tag; empty view (and err) on mismatch. */
  prim(tag: number): Uint8Array {
    const t = this.header();
    if (t !== tag) {
      if (t >= 0) this.fail('x509.malformed');
      return EMPTY;
    }
    return this.c.view(this.len);
  }

  /** Read any element: returns its tag and leaves its content in `last`. */
  any(): number {
    const t = this.header();
    if (t < 0) return -1;
    this.last = this.c.view(this.len);
    return t;
  }

  last: Uint8Array = EMPTY;

  get remaining(): number {
    return this.c.remaining;
  }
}

const EMPTY = new Uint8Array(0);

/** Dotted form of OID content octets (X.690 §8.19), or null when malformed. */
export function oidToString(b: Uint8Array): string | null {
  if (b.length === 0 || ((b[b.length - 1] as number) & 0x80) !== 0) return null;
  let s = '';
  let v = 0;
  let first = true;
  for (let i = 0; i < b.length; i++) {
    const x = b[i] as number;
    if (v === 0 && x === 0x80) return null; // non-minimal encoding
    v = v * 128 + (x & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 128) return null;
    if ((x & 0x80) === 0) {
      if (first) {
        const a = v < 40 ? 0 : v < 80 ? 1 : 2;
        s += a + '.' + (v - a * 40);
        first = false;
      } else {
        s += '.' + v;
      }
      v = 0;
    }
  }
  return s;
}
