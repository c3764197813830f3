/**
 * The registry: validated dissector specs per transport, with their effective limits and a
 * port-hint order for probing (hinted dissectors first). Built once at startup.
 */
import type { AnyDissectorSpec, AnyRecordSection } from '../contract/api.js';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

/**
 * The record sections the specs register, each once, in registration order (the order their
 * fields appear in ECS). Two different sections under one key are a registration error.
 */
export function sectionsOf(specs: readonly AnyDissectorSpec[]): readonly AnyRecordSection[] {
  const byKey = new Map<string, AnyRecordSection>();
  for (const s of specs) {
    for (const sec of s.sections ?? []) {
      const had = byKey.get(sec.key);
      if (had !== undefined && had !== sec) throw new RegistryError(`record section '${sec.key}' registered twice (dissector ${s.name})`);
      byKey.set(sec.key, sec);
    }
  }
  return [...byKey.values()];
}

/**
 * The specs left once the named dissectors are turned off (as Suricata's per-protocol
 * `enabled: no`): their flows are still tracked, counted and classified by content, but not
 * dissected. An unknown name is an error, not a silent no-op.
 */
export function withoutDissectors(specs: readonly AnyDissectorSpec[], off: readonly string[]): readonly AnyDissectorSpec[] {
  if (off.length === 0) return specs;
  const known = [...new Set(specs.map((s) => s.name))];
  for (const n of off) if (!known.includes(n)) throw new RegistryError(`unknown dissector '${n}' (known: ${known.join(', ')})`);
  return specs.filter((s) => !off.includes(s.name));
}

/**
 * The probes one classification call runs, for one probe order, direction and first byte:
 * `call` lists the dissectors (indices) whose probe may claim a stream starting with that byte,
 * in probe order; `pass[k]` is the bitmask of the others that come before `call[k]` in the
 * order, `pass[call.length]` those after the last. The driver treats a passed-over probe as if
 * it had said 'no' at its place in the order, so the verdicts stay those of the whole list.
 */
export interface ProbePlan {
  readonly call: readonly number[];
  readonly pass: readonly number[];
}

/** Index of the plan for a stream whose first bytes are unknown (none yet): every probe is called. */
const NO_FIRST = 256;
/** Plans per order: (mid-stream ? 2 : 0) + direction, times the 257 first-byte cases. */
const PLANS = 4 * 257;

interface OrderEntry {
  readonly order: readonly number[];
  readonly plans: (ProbePlan | undefined)[];
}

export interface RegistryOptions {
  /**
   * Use the probes' lead bytes to skip probes that cannot match (default true). False calls every
   * probe in order, as the lead lists are checked against.
   */
  readonly leads?: boolean;
}

export class Registry {
  readonly tcp: AnyDissectorSpec[] = [];
  readonly udp: AnyDissectorSpec[] = [];
  private readonly lims = new Map<string, Record<string, number>>();
  /** Per transport (tcp, udp): by port, the bitmask of the dissectors whose probe hints that port (an index, not a Map: looked up twice a flow). */
  private readonly hints: [Int32Array, Int32Array] = [new Int32Array(65536), new Int32Array(65536)];
  /** Per transport: probe order and its plans by hint mask (few distinct masks, whatever the ephemeral ports). */
  private readonly orders: [Map<number, OrderEntry>, Map<number, OrderEntry>] = [new Map(), new Map()];
  /** Per transport: the hint mask and entry of the last lookup (a crowd of flows to one service repeats it). */
  private readonly lastMask: [number, number] = [-1, -1];
  private readonly lastEntry: [OrderEntry | null, OrderEntry | null] = [null, null];
  /** Per transport: bitmask of the dissectors whose probe may claim a stream, by direction * 257 + first byte. */
  private readonly leadMasks: [Int32Array, Int32Array] = [new Int32Array(2 * 257), new Int32Array(2 * 257)];
  /** Per transport: bitmask of the dissectors with a mid-stream probe (always called on a flow without its handshake). */
  private readonly midMasks: [number, number] = [0, 0];
  /** Per transport: bitmask of the dissectors whose minBytes exceeds n, by n (up to the largest minBytes). */
  private readonly shortMasks: [number[], number[]] = [[], []];

  constructor(specs: readonly AnyDissectorSpec[], overrides: Record<string, Record<string, number>> = {}, opts: RegistryOptions = {}) {
    const names = new Set<string>();
    for (const s of specs) {
      if (s.apiVersion !== 1) throw new RegistryError(`dissector ${s.name}: unsupported apiVersion ${String(s.apiVersion)}`);
      const key = `${s.transport}:${s.name}`;
      if (names.has(key)) throw new RegistryError(`dissector ${s.name}: registered twice for ${s.transport}`);
      names.add(key);
      const list = s.transport === 'tcp' ? this.tcp : this.udp;
      if (list.length >= 30) throw new RegistryError('too many dissectors for one transport (max 30)');
      list.push(s);
      const lim: Record<string, number> = { ...(s.defaultLimits as Record<string, number>) };
      for (const [k, v] of Object.entries(overrides[s.name] ?? {})) {
        if (!(k in lim)) throw new RegistryError(`dissectors.${s.name}.${k}: unknown limit (known: ${Object.keys(lim).join(', ')})`);
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RegistryError(`dissectors.${s.name}.${k}: expected a non-negative number`);
        lim[k] = v;
      }
      this.lims.set(s.name, lim);
      const t = s.transport === 'tcp' ? 0 : 1;
      const bit = 1 << (list.length - 1);
      this.addLeads(t, s, bit, opts.leads !== false);
      if (s.probe.midstream !== undefined) this.midMasks[t] |= bit;
      if (s.carrier === true) continue;
      const hints = this.hints[t];
      for (const port of s.probe.ports) {
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RegistryError(`dissector ${s.name}: port ${String(port)} is not a port`);
        hints[port] = (hints[port] as number) | bit;
      }
    }
    for (const t of [0, 1] as const) {
      const list = t === 0 ? this.tcp : this.udp;
      const most = list.reduce((m, s) => Math.max(m, s.probe.minBytes), 0);
      const short = this.shortMasks[t];
      for (let n = 0; n <= most; n++) {
        let mask = 0;
        list.forEach((s, i) => { if (s.probe.minBytes > n) mask |= 1 << i; });
        short.push(mask);
      }
    }
  }

  private addLeads(t: 0 | 1, s: AnyDissectorSpec, bit: number, use: boolean): void {
    const masks = this.leadMasks[t];
    const leads = s.probe.leads;
    for (let dir = 0; dir < 2; dir++) {
      const list = use && leads !== undefined ? leads[dir] : null;
      if (list === null || list === undefined) {
        for (let b = 0; b <= NO_FIRST; b++) masks[dir * 257 + b] = (masks[dir * 257 + b] as number) | bit;
        continue;
      }
      for (const b of list) {
        if (!Number.isInteger(b) || b < 0 || b > 255) throw new RegistryError(`dissector ${s.name}: lead byte ${String(b)} is not a byte`);
        masks[dir * 257 + b] = (masks[dir * 257 + b] as number) | bit;
      }
      masks[dir * 257 + NO_FIRST] = (masks[dir * 257 + NO_FIRST] as number) | bit;
    }
  }

  limits(name: string): Record<string, number> {
    return this.lims.get(name) ?? {};
  }

  /**
   * Probe order for a flow: dissectors hinting either port first, then the rest, generic carriers
   * last. Cached per set of hinting dissectors, so a new ephemeral port costs two lookups.
   */
  order(transport: 'tcp' | 'udp', portA: number, portB: number): readonly number[] {
    return this.entry(transport === 'tcp' ? 0 : 1, portA, portB).order;
  }

  /**
   * The probes to run on a stream (TCP) or datagram (UDP) of direction `dir` whose first byte is
   * `first` (-1: none yet), in the flow's probe order. `mid`: the flow was picked up without its
   * handshake, so the dissectors with a mid-stream probe are called whatever the first byte.
   * Made once per order, direction and byte: a flow costs the lookups, not a walk of the list.
   */
  plan(transport: 'tcp' | 'udp', portA: number, portB: number, dir: number, first: number, mid: boolean): ProbePlan {
    const t = transport === 'tcp' ? 0 : 1;
    const e = this.entry(t, portA, portB);
    const b = first < 0 ? NO_FIRST : first;
    const at = ((mid ? 2 : 0) + dir) * 257 + b;
    return e.plans[at] ?? (e.plans[at] = this.makePlan(t, e.order, dir * 257 + b, mid));
  }

  /** Bitmask of the dissectors of `transport` whose probe is not called on fewer than minBytes: those over `n`. */
  shortOf(transport: 'tcp' | 'udp', n: number): number {
    const short = this.shortMasks[transport === 'tcp' ? 0 : 1];
    return n < short.length ? (short[n] as number) : 0;
  }

  private makePlan(t: 0 | 1, order: readonly number[], lead: number, mid: boolean): ProbePlan {
    const want = (this.leadMasks[t][lead] as number) | (mid ? this.midMasks[t] : 0);
    const call: number[] = [];
    const pass: number[] = [];
    let skipped = 0;
    for (const i of order) {
      if ((want & (1 << i)) === 0) { skipped |= 1 << i; continue; }
      call.push(i);
      pass.push(skipped);
      skipped = 0;
    }
    pass.push(skipped);
    return { call, pass };
  }

  private entry(t: 0 | 1, portA: number, portB: number): OrderEntry {
    const hints = this.hints[t];
    const mask = (hints[portA] ?? 0) | (hints[portB] ?? 0);
    if (mask === this.lastMask[t]) return this.lastEntry[t] as OrderEntry;
    const cache = this.orders[t];
    let e = cache.get(mask);
    if (e === undefined) e = this.newEntry(t, mask);
    this.lastMask[t] = mask;
    this.lastEntry[t] = e;
    return e;
  }

  private newEntry(t: 0 | 1, mask: number): OrderEntry {
    const cache = this.orders[t];
    const list = t === 0 ? this.tcp : this.udp;
    const hinted: number[] = [];
    const rest: number[] = [];
    const generic: number[] = [];
    list.forEach((s, i) => {
      if (s.carrier === true) generic.push(i);
      else if ((mask & (1 << i)) !== 0) hinted.push(i);
      else rest.push(i);
    });
    const e: OrderEntry = { order: [...hinted, ...rest, ...generic], plans: new Array<ProbePlan | undefined>(PLANS) };
    cache.set(mask, e);
    return e;
  }

  get all(): AnyDissectorSpec[] {
    return [...this.tcp, ...this.udp];
  }
}
