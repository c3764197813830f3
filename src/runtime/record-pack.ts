/**
 * Flow records between a worker thread and the main thread, without re-sending what repeats.
 * Most of a TLS record's bytes are its client fingerprint strings (JA4_r, JA4_ro, the JA3 string,
 * the cipher list: ~1.7 KB) and its certificate descriptions, and both repeat on every flow of
 * the same client stack or server. A worker's packer sends each distinct group once, numbered,
 * and then only the number; the main thread's unpacker puts the values back. Records come out
 * equal to what the worker built (a test compares sharded and single-threaded runs field by field).
 *
 * The client-print group is keyed on (JA4_ro, JA3 string): JA4_ro holds the offered cipher list
 * in wire order without GREASE, which is exactly `supportedCiphers`, and JA4_r is a function of
 * JA4_ro; CertInfo objects are shared per certificate by src/fingerprint/chain.ts, so they are
 * keyed by identity. Both tables are bounded; when one fills, both sides start over.
 */
import type { CertInfo, FlowRecord } from '../flow/record.js';

/** Groups remembered per channel before both sides reset. */
const MAX_GROUPS = 4096;

interface PrintsDef {
  readonly id: number;
  readonly ja4_r: string | null;
  readonly ja4_ro: string | null;
  readonly ja3_full: string | null;
  readonly supportedCiphers: string[];
}

interface CertDef {
  readonly id: number;
  readonly info: CertInfo;
}

/** What crosses the thread boundary. */
export interface PackedRecords {
  /** The receiver forgets its tables before reading this batch. */
  readonly reset: boolean;
  readonly prints: PrintsDef[];
  readonly certs: CertDef[];
  readonly recs: FlowRecord[];
  /** Per record: its print group, or -1 (the record's own fields were kept). */
  readonly printRef: number[];
  /** Per record: its chain as certificate numbers, or null (the chain was kept). */
  readonly chainRef: (number[] | null)[];
}

export class RecordPacker {
  private readonly prints = new Map<string, Map<string, number>>();
  private readonly certs = new Map<CertInfo, number>();
  private nextId = 0;
  private groups = 0;
  private resetPending = false;

  /** Packs in place: the records are the worker's and are not used after sending. */
  pack(recs: FlowRecord[]): PackedRecords {
    const prints: PrintsDef[] = [];
    const certs: CertDef[] = [];
    const printRef: number[] = [];
    const chainRef: (number[] | null)[] = [];
    if (this.groups >= MAX_GROUPS) {
      this.prints.clear();
      this.certs.clear();
      this.groups = 0;
      this.resetPending = true;
    }
    for (const r of recs) {
      const t = r.tls;
      if (t === null) {
        printRef.push(-1);
        chainRef.push(null);
        continue;
      }
      printRef.push(this.printGroup(t, prints));
      if (t.chain.length === 0) chainRef.push(null);
      else {
        const refs: number[] = [];
        for (const c of t.chain) refs.push(this.certId(c, certs));
        chainRef.push(refs);
        t.chain = [];
      }
    }
    const reset = this.resetPending;
    this.resetPending = false;
    return { reset, prints, certs, recs, printRef, chainRef };
  }

  private printGroup(t: NonNullable<FlowRecord['tls']>, out: PrintsDef[]): number {
    if (t.ja4_ro === null && t.ja3_full === null) return -1;
    const ro = t.ja4_ro ?? '';
    const j3 = t.ja3_full ?? '';
    let inner = this.prints.get(ro);
    if (inner === undefined) {
      inner = new Map();
      this.prints.set(ro, inner);
    }
    let id = inner.get(j3);
    if (id === undefined) {
      id = this.nextId++;
      this.groups++;
      inner.set(j3, id);
      out.push({ id, ja4_r: t.ja4_r, ja4_ro: t.ja4_ro, ja3_full: t.ja3_full, supportedCiphers: t.supportedCiphers });
    }
    t.ja4_r = null;
    t.ja4_ro = null;
    t.ja3_full = null;
    t.supportedCiphers = [];
    return id;
  }

  private certId(c: CertInfo, out: CertDef[]): number {
    let id = this.certs.get(c);
    if (id === undefined) {
      id = this.nextId++;
      this.groups++;
      this.certs.set(c, id);
      out.push({ id, info: c });
    }
    return id;
  }
}

export class RecordUnpacker {
  private readonly prints = new Map<number, PrintsDef>();
  private readonly certs = new Map<number, CertInfo>();

  unpack(p: PackedRecords): FlowRecord[] {
    if (p.reset) {
      this.prints.clear();
      this.certs.clear();
    }
    for (const d of p.prints) this.prints.set(d.id, d);
    for (const d of p.certs) this.certs.set(d.id, d.info);
    for (let i = 0; i < p.recs.length; i++) {
      const t = (p.recs[i] as FlowRecord).tls;
      if (t === null) continue;
      const pr = p.printRef[i] as number;
      if (pr >= 0) {
        const g = this.prints.get(pr);
        if (g === undefined) throw new Error(`record unpacker: unknown print group ${pr}`);
        t.ja4_r = g.ja4_r;
        t.ja4_ro = g.ja4_ro;
        t.ja3_full = g.ja3_full;
        t.supportedCiphers = g.supportedCiphers.slice();
      }
      const cr = p.chainRef[i];
      if (cr !== null && cr !== undefined) {
        const chain: CertInfo[] = [];
        for (const id of cr) {
          const c = this.certs.get(id);
          if (c === undefined) throw new Error(`record unpacker: unknown certificate ${id}`);
          chain.push(c);
        }
        t.chain = chain;
      }
    }
    return p.recs;
  }
}
