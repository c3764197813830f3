/**
 * How flow records cross from a worker thread to the main thread: a compact encoding that the
 * main thread turns back into plain objects, instead of a structured clone per record.
 *
 * Why not structured clone: a cloned record is rebuilt property by property and every string is
 * copied, so a TLS record (some 150 values, most of them strings repeated flow after flow: JA4
 * raw forms, cipher lists, names) costs as much on each side as a good part of building it.
 * Here both sides learn as they go:
 *   - an object's key list (its shape) is sent once and numbered; the main thread makes one
 *     function per shape that builds the object as a literal, so all records of a shape share one
 *     hidden class there, as records built in one thread do;
 *   - a string is sent once and numbered (a bounded table, cleared on both sides when full), so a
 *     repeated string costs one number and the main thread holds one copy of it;
 *   - a string equal to the one last sent in the same place (the same field of the same shape, or
 *     the same index of the array last sent in that field) costs one byte and no table look-up:
 *     most of a TLS record's strings repeat the previous record's of the same client stack.
 * Values the encoding does not know (a Map, a Date, class instances, BigInt) go through
 * structured clone inside the same message, so a record comes out as structured clone makes it.
 *
 * The encoder's tables and the decoder's must stay in step: one encoder per worker, one decoder
 * per worker on the main thread, batches decoded in the order they were encoded.
 */

/** Value tags (one byte each in `code`). */
const Tag = {
  Null: 0,
  Undefined: 1,
  False: 2,
  True: 3,
  Number: 4,
  /** An interned string: its number follows. */
  Str: 5,
  /** A string sent in this batch's `text` list (long, or the table is full). */
  Text: 6,
  Array: 7,
  Object: 8,
  /** Anything else: the next value of the batch's `other` list (structured clone). */
  Other: 9,
  /** The string last sent in this place (a shape's field). */
  Same: 10,
  /** The string at this index of the array last sent in this place. */
  SameElem: 11,
} as const;

/** Most strings interned before both tables are cleared (at the next batch). */
const MAX_STRINGS = 65536;
/**
 * Longer strings are sent inline every time (a certificate's PEM, a long URL); the JA4/JA3 raw
 * forms (some 500 characters, repeated by every connection of a client stack) stay under it.
 */
const MAX_INTERNED_LENGTH = 2048;

/** What one encoded batch carries (the typed arrays are transferred). */
export interface EncodedBatch {
  /** Records in the batch. */
  count: number;
  /** Tags and unsigned numbers (varints). */
  code: Uint8Array;
  codeLen: number;
  nums: Float64Array;
  numsLen: number;
  /** Strings interned by this batch, in number order (after `reset` when set). */
  strings: string[];
  /** Key lists of the shapes new in this batch, in number order. */
  shapes: string[][];
  text: string[];
  other: unknown[];
  /** The string table was cleared before this batch's strings. */
  reset: boolean;
}

/** A batch with no records (shared: nothing in it is transferred or changed). */
const EMPTY_BATCH: EncodedBatch = { count: 0, code: new Uint8Array(0), codeLen: 0, nums: new Float64Array(0), numsLen: 0, strings: [], shapes: [], text: [], other: [], reset: false };

/** A shape on the encoder's side, with the shape last seen in each of its fields (a guess). */
interface EncShape {
  id: number;
  keys: string[];
  /** Place number of field 0 (the others follow); both sides number places in shape order. */
  base: number;
  child: (EncShape | undefined)[];
  /** For arrays' elements: the shape last seen. */
  elem: EncShape | undefined;
  /** Encodes an object of this shape's fields (made on first use: fieldsEncoderOf). */
  fields?: FieldsEncoder;
}

/** Encodes the fields of one shape, in key order. */
type FieldsEncoder = (e: RecordEncoder, o: Record<string, unknown>, s: EncShape) => void;

/**
 * One function per shape that reads each field by its name, as the decoder's builders write them:
 * a property load with a name in the code is specialised to the records' one hidden class, where
 * o[keys[i]] looks the name up again for every field of every record.
 */
function fieldsEncoderOf(keys: readonly string[], base: number): FieldsEncoder {
  if (keys.includes('__proto__')) {
    return (e, o, s) => { for (let i = 0; i < keys.length; i++) e.value(o[keys[i] as string], s, i, base + i); };
  }
  const body = keys.map((k, i) => `e.value(o[${JSON.stringify(k)}], s, ${i}, ${base + i});`).join('\n');
  return new Function('e', 'o', 's', body) as FieldsEncoder;
}

const OBJECT_PROTO = Object.prototype;

export class RecordEncoder {
  private readonly shapeIds = new Map<string, EncShape>();
  private nShapes = 0;
  private readonly strIds = new Map<string, number>();
  private code = new Uint8Array(1 << 16);
  private codeLen = 0;
  private nums = new Float64Array(1 << 12);
  private numsLen = 0;
  private strings: string[] = [];
  private shapes: string[][] = [];
  private text: string[] = [];
  private other: unknown[] = [];
  private reset = false;
  private count = 0;
  /** The guess for a record's own shape. */
  private readonly root: EncShape = { id: -1, keys: [], base: 0, child: [undefined], elem: undefined };
  /** Place 0 is the record itself; shapes' fields are numbered from 1. */
  private nextPlace = 1;
  /** By place: the string last sent there, and the array last sent there. */
  private readonly lastStr: (string | undefined)[] = [];
  private readonly lastArr: (unknown[] | undefined)[] = [];

  /** Records encoded since the last take(). */
  get size(): number {
    return this.count;
  }

  add(rec: object): void {
    this.value(rec, this.root, 0, 0);
    this.count++;
  }

  /**
   * The batch so far; the encoder starts a new one. The tables carry on, except that a full string
   * table is cleared here, between batches, and the next batch says so: the decoder clears its own
   * before reading that batch, so no record refers to a number of the old table.
   */
  take(): EncodedBatch {
    if (this.count === 0 && !this.reset && this.shapes.length === 0) return EMPTY_BATCH;
    const b: EncodedBatch = {
      count: this.count, code: this.code, codeLen: this.codeLen, nums: this.nums, numsLen: this.numsLen,
      strings: this.strings, shapes: this.shapes, text: this.text, other: this.other, reset: this.reset,
    };
    // The buffers are transferred with the batch: fresh ones of the same size for the next.
    this.code = new Uint8Array(this.code.length);
    this.nums = new Float64Array(this.nums.length);
    this.codeLen = 0;
    this.numsLen = 0;
    this.strings = [];
    this.shapes = [];
    this.text = [];
    this.other = [];
    this.reset = false;
    this.count = 0;
    if (this.strIds.size >= MAX_STRINGS) {
      this.strIds.clear();
      this.reset = true;
    }
    return b;
  }

  private byte(v: number): void {
    if (this.codeLen === this.code.length) {
      const c = new Uint8Array(this.code.length * 2);
      c.set(this.code);
      this.code = c;
    }
    this.code[this.codeLen++] = v;
  }

  private varint(v: number): void {
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.byte(v);
  }

  private num(v: number): void {
    if (this.numsLen === this.nums.length) {
      const n = new Float64Array(this.nums.length * 2);
      n.set(this.nums);
      this.nums = n;
    }
    this.nums[this.numsLen++] = v;
  }

  private str(s: string): void {
    let id = this.strIds.get(s);
    if (id === undefined) {
      if (s.length > MAX_INTERNED_LENGTH || this.strIds.size >= MAX_STRINGS) {
        // Long, or the table is full until the next batch starts it again: sent as it is.
        this.byte(Tag.Text);
        this.text.push(s);
        return;
      }
      id = this.strIds.size;
      this.strIds.set(s, id);
      this.strings.push(s);
    }
    this.byte(Tag.Str);
    this.varint(id);
  }

  private shapeOf(o: Record<string, unknown>, guess: EncShape | undefined): EncShape {
    if (guess !== undefined) {
      const keys = guess.keys;
      let i = 0;
      let same = true;
      for (const k in o) {
        if (keys[i] !== k) { same = false; break; }
        i++;
      }
      if (same && i === keys.length) return guess;
    }
    const keys = Object.keys(o);
    const name = keys.join('\u0000');
    let s = this.shapeIds.get(name);
    if (s === undefined) {
      s = { id: this.nShapes++, keys, base: this.nextPlace, child: new Array<EncShape | undefined>(keys.length).fill(undefined), elem: undefined };
      this.nextPlace += keys.length;
      this.shapeIds.set(name, s);
      this.shapes.push(keys);
    }
    return s;
  }

  /**
   * Encode v, found in field `slot` of `parent` (the guess for its shape lives there), at place
   * `place` (-1: an array's element, or no place). Public for the shapes' field encoders only.
   */
  value(v: unknown, parent: EncShape, slot: number, place: number): void {
    switch (typeof v) {
      case 'string':
        if (place >= 0) {
          if (this.lastStr[place] === v) { this.byte(Tag.Same); return; }
          this.lastStr[place] = v;
        }
        this.str(v);
        return;
      case 'number':
        this.byte(Tag.Number);
        this.num(v);
        return;
      case 'boolean':
        this.byte(v ? Tag.True : Tag.False);
        return;
      case 'undefined':
        this.byte(Tag.Undefined);
        return;
      case 'object':
        if (v === null) {
          this.byte(Tag.Null);
          return;
        }
        if (Array.isArray(v)) {
          this.byte(Tag.Array);
          const n = v.length;
          this.varint(n);
          // Elements share one guess: the parent's child slot holds a holder whose elem is it.
          let holder = parent.child[slot];
          if (holder === undefined || holder.id !== -2) {
            holder = { id: -2, keys: [], base: -1, child: [undefined], elem: undefined };
            parent.child[slot] = holder;
          }
          const prev = place >= 0 ? this.lastArr[place] : undefined;
          for (let i = 0; i < n; i++) {
            const e: unknown = v[i];
            if (prev !== undefined && typeof e === 'string' && i < prev.length && prev[i] === e) this.byte(Tag.SameElem);
            else this.value(e, holder, 0, -1);
          }
          if (place >= 0) this.lastArr[place] = v;
          return;
        }
        if (Object.getPrototypeOf(v) === OBJECT_PROTO) {
          const o = v as Record<string, unknown>;
          const guess = parent.child[slot];
          const s = this.shapeOf(o, guess !== undefined && guess.id >= 0 ? guess : undefined);
          parent.child[slot] = s;
          this.byte(Tag.Object);
          this.varint(s.id);
          (s.fields ??= fieldsEncoderOf(s.keys, s.base))(this, o, s);
          return;
        }
        this.byte(Tag.Other);
        this.other.push(v);
        return;
      default:
        this.byte(Tag.Other);
        this.other.push(v);
    }
  }
}

/** Builds an object of one shape, reading its values in key order. */
type Builder = (d: RecordDecoder) => Record<string, unknown>;

export class RecordDecoder {
  private strings: string[] = [];
  private readonly builders: Builder[] = [];
  private code: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private nums: Float64Array = new Float64Array(0);
  private numPos = 0;
  private text: string[] = [];
  private textPos = 0;
  private other: unknown[] = [];
  private otherPos = 0;
  /** Numbering of places, and what was last sent at each (as the encoder keeps them). */
  private nextPlace = 1;
  private readonly lastStr: unknown[] = [];
  private readonly lastArr: unknown[][] = [];

  /** The records of one batch, in the order they were added. */
  decode(b: EncodedBatch): unknown[] {
    if (b.reset) this.strings = [];
    for (const s of b.strings) this.strings.push(s);
    for (const keys of b.shapes) {
      this.builders.push(builderOf(keys, this.nextPlace));
      this.nextPlace += keys.length;
    }
    this.code = b.code;
    this.pos = 0;
    this.nums = b.nums;
    this.numPos = 0;
    this.text = b.text;
    this.textPos = 0;
    this.other = b.other;
    this.otherPos = 0;
    const out: unknown[] = new Array(b.count);
    for (let i = 0; i < b.count; i++) out[i] = this.v(0);
    if (this.pos !== b.codeLen) throw new Error(`record codec: ${b.codeLen - this.pos} bytes left after ${b.count} records`);
    return out;
  }

  private varint(): number {
    let v = 0;
    let shift = 0;
    for (;;) {
      const c = this.code[this.pos++] as number;
      v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) return v;
      shift += 7;
    }
  }

  /** The next value, found at `place` (called by the shape builders, in key order). */
  v(place: number): unknown {
    return this.tagged(this.code[this.pos++] as number, place);
  }

  private tagged(t: number, place: number): unknown {
    switch (t) {
      case Tag.Null: return null;
      case Tag.Undefined: return undefined;
      case Tag.False: return false;
      case Tag.True: return true;
      case Tag.Number: return this.nums[this.numPos++];
      case Tag.Same: return this.lastStr[place];
      case Tag.Str: {
        const s = this.strings[this.varint()];
        if (place >= 0) this.lastStr[place] = s;
        return s;
      }
      case Tag.Text: {
        const s = this.text[this.textPos++];
        if (place >= 0) this.lastStr[place] = s;
        return s;
      }
      case Tag.Array: {
        const n = this.varint();
        const prev = place >= 0 ? this.lastArr[place] : undefined;
        const a: unknown[] = [];
        for (let i = 0; i < n; i++) {
          const e = this.code[this.pos++] as number;
          a.push(e === Tag.SameElem ? (prev as unknown[])[i] : this.tagged(e, -1));
        }
        if (place >= 0) this.lastArr[place] = a;
        return a;
      }
      case Tag.Object: return (this.builders[this.varint()] as Builder)(this);
      case Tag.Other: return this.other[this.otherPos++];
      default: throw new Error(`record codec: unknown tag ${String(t)} at byte ${this.pos - 1}`);
    }
  }
}

/**
 * One function per shape, building the object as a literal with its keys in order. Keys are
 * written as JSON string literals (valid JavaScript string literals); `__proto__` would set the
 * prototype in a literal, so such a shape is built key by key instead.
 */
function builderOf(keys: readonly string[], base: number): Builder {
  if (keys.includes('__proto__')) {
    return (d) => {
      const o: Record<string, unknown> = {};
      keys.forEach((k, i) => Object.defineProperty(o, k, { value: d.v(base + i), enumerable: true, writable: true, configurable: true }));
      return o;
    };
  }
  const body = `return {${keys.map((k, i) => `${JSON.stringify(k)}: d.v(${base + i})`).join(', ')}};`;
  return new Function('d', body) as Builder;
}

/** The buffers to transfer with a batch (none for an empty one: its arrays are shared). */
export function transferList(b: EncodedBatch): ArrayBuffer[] {
  return b.count === 0 && b.codeLen === 0 ? [] : [b.code.buffer as ArrayBuffer, b.nums.buffer as ArrayBuffer];
}
