import { describe, expect, it } from 'vitest';
import { Registry, RegistryError } from './registry.js';
import { dissectorSpecs } from '../../dissectors/index.js';

/** The order spelled out from its definition: hinting dissectors, the rest, generic carriers. */
function expected(reg: Registry, transport: 'tcp' | 'udp', a: number, b: number): string[] {
  const list = transport === 'tcp' ? reg.tcp : reg.udp;
  const generic = list.filter((s) => s.name === 'http');
  const others = list.filter((s) => s.name !== 'http');
  const hinted = others.filter((s) => s.probe.ports.includes(a) || s.probe.ports.includes(b));
  const rest = others.filter((s) => !hinted.includes(s));
  return [...hinted, ...rest, ...generic].map((s) => s.name);
}

describe('registry probe order', () => {
  const reg = new Registry(dissectorSpecs);
  const names = (t: 'tcp' | 'udp', a: number, b: number) => reg.order(t, a, b).map((i) => (t === 'tcp' ? reg.tcp : reg.udp)[i]?.name);

  it('puts the dissector hinting a port first and HTTP last', () => {
    expect(names('tcp', 51000, 1883)[0]).toBe('mqtt');
    expect(names('tcp', 5672, 40000)[0]).toBe('amqp');
    expect(names('tcp', 40000, 443)[0]).toBe('tls');
    expect(names('tcp', 40000, 41000).at(-1)).toBe('http');
    expect(names('udp', 53, 40000)[0]).toBe('dns');
  });

  it('matches the definition for every port pair tried, ephemeral or hinted, either order', () => {
    const ports = [0, 22, 53, 80, 443, 853, 1883, 5671, 5672, 8080, 8883, 40000, 51234, 65535];
    for (const t of ['tcp', 'udp'] as const) {
      for (const a of ports) {
        for (const b of ports) {
          expect(names(t, a, b)).toEqual(expected(reg, t, a, b));
        }
      }
    }
  });

  it('returns one cached order for all ephemeral pairs with the same hints', () => {
    expect(reg.order('tcp', 40001, 443)).toBe(reg.order('tcp', 443, 59999));
    expect(reg.order('tcp', 40001, 40002)).toBe(reg.order('tcp', 60000, 61000));
    expect(reg.order('tcp', 40001, 443)).not.toBe(reg.order('tcp', 40001, 1883));
  });
});

describe('registry hints', () => {
  it('rejects a hint that is not a port', () => {
    const [tls] = dissectorSpecs;
    for (const port of [65536, -1, 1.5]) {
      const bad = { ...tls!, name: 'bad', probe: { ...tls!.probe, ports: [port] } };
      expect(() => new Registry([bad])).toThrow(RegistryError);
    }
  });

  it('gives each transport its own hints and the same entry for repeated lookups', () => {
    const reg = new Registry(dissectorSpecs);
    // 443 hints TLS on TCP and QUIC on UDP; a lookup of the other transport in between changes nothing
    expect(reg.tcp[reg.order('tcp', 443, 50000)[0] as number]?.name).toBe('tls');
    expect(reg.udp[reg.order('udp', 443, 50000)[0] as number]?.name).toBe('quic');
    expect(reg.tcp[reg.order('tcp', 50001, 443)[0] as number]?.name).toBe('tls');
    expect(reg.order('tcp', 443, 50000)).toBe(reg.order('tcp', 50002, 443));
  });
});
