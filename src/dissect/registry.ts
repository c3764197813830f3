/**
 * The registry: validated dissector specs per transport, with their effective limits and a
 * port-hint order for probing (hinted dissectors first). Built once at startup.
 */
import type { AnyDissectorSpec } from './api.js';

/**
 * Generic carriers probed last whatever the ports: other protocols open with an HTTP request
 * (MQTT over WebSocket, TLS behind CONNECT), and their own probes are the more specific ones.
 */
const GENERIC = new Set(['http']);

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

export class Registry {
  readonly tcp: AnyDissectorSpec[] = [];
  readonly udp: AnyDissectorSpec[] = [];
  private readonly lims = new Map<string, Record<string, number>>();
  private readonly portOrder = new Map<number, number[]>();

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
    }
  }

  limits(name: string): Record<string, number> {
    return this.lims.get(name) ?? {};
  }

  /** Probe order for a flow: dissectors hinting either port first, then the rest. Cached per port pair. */
  order(transport: 'tcp' | 'udp', portA: number, portB: number): readonly number[] {
    const t = transport === 'tcp' ? 0 : 1;
    const lo = Math.min(portA, portB);
    const hi = Math.max(portA, portB);
    const key = t * 4294967296 + lo * 65536 + hi;
    const hit = this.portOrder.get(key);
    if (hit !== undefined) return hit;
    const list = t === 0 ? this.tcp : this.udp;
    const hinted: number[] = [];
    const rest: number[] = [];
    const generic: number[] = [];
    list.forEach((s, i) => {
      if (GENERIC.has(s.name)) generic.push(i);
      else if (s.probe.ports.includes(portA) || s.probe.ports.includes(portB)) hinted.push(i);
      else rest.push(i);
    });
    const order = [...hinted, ...rest, ...generic];
    if (this.portOrder.size < 100_000) this.portOrder.set(key, order);
    return order;
  }

  get all(): AnyDissectorSpec[] {
    return [...this.tcp, ...this.udp];
  }
}
