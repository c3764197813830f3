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

export class Registry {
  readonly tcp: AnyDissectorSpec[] = [];
  readonly udp: AnyDissectorSpec[] = [];
  private readonly lims = new Map<string, Record<string, number>>();
  /** Per transport (tcp, udp): port → bitmask of the dissectors whose probe hints that port. */
  private readonly hints: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
  /** Per transport: probe order by hint mask (few distinct masks, whatever the ephemeral ports). */
  private readonly orders: [Map<number, readonly number[]>, Map<number, readonly number[]>] = [new Map(), new Map()];

  constructor(specs: readonly AnyDissectorSpec[], overrides: Record<string, Record<string, number>> = {}) {
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
      if (s.carrier === true) continue;
      const hints = this.hints[s.transport === 'tcp' ? 0 : 1];
      const bit = 1 << (list.length - 1);
      for (const port of s.probe.ports) hints.set(port, (hints.get(port) ?? 0) | bit);
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
    const t = transport === 'tcp' ? 0 : 1;
    const hints = this.hints[t];
    const mask = (hints.get(portA) ?? 0) | (hints.get(portB) ?? 0);
    const cache = this.orders[t];
    const hit = cache.get(mask);
    if (hit !== undefined) return hit;
    const list = t === 0 ? this.tcp : this.udp;
    const hinted: number[] = [];
    const rest: number[] = [];
    const generic: number[] = [];
    list.forEach((s, i) => {
      if (s.carrier === true) generic.push(i);
      else if ((mask & (1 << i)) !== 0) hinted.push(i);
      else rest.push(i);
    });
    const order = [...hinted, ...rest, ...generic];
    cache.set(mask, order);
    return order;
  }

  get all(): AnyDissectorSpec[] {
    return [...this.tcp, ...this.udp];
  }
}
