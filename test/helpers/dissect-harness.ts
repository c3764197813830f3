/**
 * A minimal driver for dissector unit tests: feeds byte chunks through one FlowDissector with the
 * same consume/needAtLeast semantics as the engine's driver, and collects records and events.
 * Used for the five standard tests of STYLE.md rule 10 (valid, every split, prefixes, malformed, limits).
 */
import type { AnyDissectorSpec, Dir, DissectorRecord, FlowDissector, FlowInfo, StreamView, Verdict } from '../../src/contract/api.js';

export interface Harness {
  records: DissectorRecord[];
  events: { id: string; dir: Dir }[];
  violations: string[];
  confirmed: boolean;
  certs: { dir: Dir; index: number; der: Uint8Array }[];
  payloadStarts: [number | null, number | null];
  verdicts: Verdict[];
  /** The number of records emitted at each DissectorContext.complete() call. */
  completes: number[];
  /** Feed one chunk in direction dir (TCP: appended to that direction's stream; UDP: one datagram). */
  feed(dir: Dir, chunk: Uint8Array, ts?: number): Verdict;
  end(): void;
  /** Bytes buffered but not consumed, per direction. */
  pending(dir: Dir): number;
  readonly dissector: FlowDissector;
}

export function harness(spec: AnyDissectorSpec, limits: object = spec.defaultLimits, info: Omit<FlowInfo, 'midstream'> & { midstream?: boolean } = { srcPort: 50000, dstPort: 443, transport: spec.transport, startTs: 0 }): Harness {
  const flow: FlowInfo = { midstream: false, ...info };
  // Each direction's unconsumed bytes are store[dir][start, end). Appends go into spare capacity and
  // a full store is replaced by one twice the size, so a long stream fed in small pieces costs
  // linear copying, not a fresh join per piece (the fuzz harness feeds up to 64 bytes at a time).
  // Bytes already handed to the dissector are never overwritten: a store is only ever appended to,
  // then dropped.
  const store: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];
  const start: [number, number] = [0, 0];
  const end: [number, number] = [0, 0];
  const offs: [number, number] = [0, 0];
  const need: [number, number] = [0, 0];
  const done: [boolean, boolean] = [false, false];
  let allDone = false;
  let now = 0;
  const h: Harness = {
    records: [], events: [], violations: [], confirmed: false, certs: [], payloadStarts: [null, null], verdicts: [], completes: [],
    feed(dir, chunk, ts = now) {
      now = ts;
      if (allDone || done[dir]) return 'done';
      if (spec.transport === 'udp') {
        const view = makeView(chunk, offs[dir], false, ts, () => {}, () => {});
        offs[dir] += chunk.length;
        return apply(dir, dissector.feed(dir, view));
      }
      append(dir, chunk);
      let verdict: Verdict = 'more';
      for (let guard = 0; guard < 1_000_000; guard++) {
        const avail = end[dir] - start[dir];
        if (avail === 0 || avail < need[dir]) break;
        let consumed = 0;
        let wanted = 0;
        const view = makeView(store[dir].subarray(start[dir], end[dir]), offs[dir], false, ts, (n) => { consumed += n; }, (n) => { wanted = n; });
        verdict = apply(dir, dissector.feed(dir, view));
        if (consumed > 0) {
          start[dir] += Math.min(consumed, avail);
          offs[dir] += consumed;
        }
        need[dir] = wanted;
        if (verdict !== 'more' || (consumed === 0)) break;
      }
      return verdict;
    },
    end() {
      dissector.end(0);
      dissector.end(1);
    },
    pending(dir) { return end[dir] - start[dir]; },
    get dissector() { return dissector; },
  };
  function append(dir: Dir, chunk: Uint8Array): void {
    const live = end[dir] - start[dir];
    if (end[dir] + chunk.length > store[dir].length) {
      const next = new Uint8Array(Math.max(256, 2 * (live + chunk.length)));
      next.set(store[dir].subarray(start[dir], end[dir]));
      store[dir] = next;
      start[dir] = 0;
      end[dir] = live;
    }
    store[dir].set(chunk, end[dir]);
    end[dir] += chunk.length;
  }
  function apply(dir: Dir, v: Verdict): Verdict {
    h.verdicts.push(v);
    if (v === 'dir-done') done[dir] = true;
    if (v === 'done' || v === 'abort') allDone = true;
    return v;
  }
  const dissector: FlowDissector = spec.create({
    flow,
    now: () => now,
    emit: (r: DissectorRecord) => { h.records.push(r); },
    event: (id: string, dir: Dir) => { h.events.push({ id, dir }); },
    confirm: () => { h.confirmed = true; },
    violation: (id: string) => { h.violations.push(id); },
    handoff: (_k: 'x509', dir: Dir, index: number, der: Uint8Array) => { h.certs.push({ dir, index, der: Uint8Array.from(der) }); },
    payloadStart: (dir: Dir, off: number) => { if (h.payloadStarts[dir] === null) h.payloadStarts[dir] = off; },
    complete: () => { h.completes.push(h.records.length); },
  }, limits);
  return h;
}

function makeView(bytes: Uint8Array, streamOffset: number, eof: boolean, ts: number, consume: (n: number) => void, needAtLeast: (n: number) => void): StreamView {
  return { bytes, streamOffset, eof, ts, consume, needAtLeast };
}

/** Every split point: feed `data` in two pieces at each offset; returns one harness per split. */
export function* splits(data: Uint8Array): Generator<[Uint8Array, Uint8Array]> {
  for (let i = 1; i < data.length; i++) yield [data.subarray(0, i), data.subarray(i)];
}

export function fromHex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}
