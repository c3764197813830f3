// Turning dissectors off by name (--no-dissector, config dissectors.disabled): the flows stay,
// with the same counters, but nothing is dissected; an unknown name is a named error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { RegistryError } from '../src/dissect/registry.js';
import { runLive } from '../src/cli/run.js';
import { ConfigError } from '../src/config/config.js';
import type { FlowRecord } from '../src/flow/record.js';
import { tlsOf } from '../dissectors/tls/record.js';
import { mqttOf } from '../dissectors/mqtt/record.js';

const pcap = (p: string): string => fileURLToPath(new URL(`../pcaps/${p}`, import.meta.url));
const tls = pcap('tls/tls12-curl-expired.pcap');
const mqtt = pcap('mqtt/mqtt-plain.pcap');

const counters = (fs: FlowRecord[]): string[] => fs.map((f) => `${f.client.port}>${f.server.port} ${f.dirs[0].packets}/${f.dirs[1].packets} ${f.dirs[0].bytes}/${f.dirs[1].bytes}`);

describe('dissectors turned off by name', () => {
  it('keeps every flow and its counters but dissects nothing of the protocol', async () => {
    const on = await replayFiles([tls], { withAnalytics: false });
    const off = await replayFiles([tls], { withAnalytics: false, disabledDissectors: ['tls'] });
    expect(on.flows.some((f) => tlsOf(f) !== null && f.protocol === 'tls')).toBe(true);
    expect(off.flows.length).toBe(on.flows.length);
    expect(counters(off.flows)).toEqual(counters(on.flows));
    for (const f of off.flows) {
      expect(tlsOf(f)).toBeNull();
      expect(f.protocol).not.toBe('tls');
    }
  });

  it('turns off only the named one, in workers too', async () => {
    const on = await replayFiles([mqtt, tls], { withAnalytics: false });
    expect(on.flows.some((f) => mqttOf(f) !== null)).toBe(true);
    for (const workers of [1, 2]) {
      const off = await replayFiles([mqtt, tls], { withAnalytics: false, workers, disabledDissectors: ['mqtt'] });
      expect(counters(off.flows)).toEqual(counters(on.flows));
      expect(off.flows.some((f) => tlsOf(f) !== null)).toBe(true); // TLS still dissected
      for (const f of off.flows) expect(mqttOf(f)).toBeNull();
    }
  });

  it('rejects an unknown name, listing the known ones', async () => {
    const r = replayFiles([tls], { withAnalytics: false, disabledDissectors: ['tsl'] });
    await expect(r).rejects.toBeInstanceOf(RegistryError);
    await expect(r).rejects.toThrow(/unknown dissector 'tsl' \(known: tls, mqtt, amqp, .*dns\)/);
  });

  it('stops the live sensor at start on an unknown name in the config, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-diss-'));
    try {
      const cfg = join(dir, 'sensor.yaml');
      writeFileSync(cfg, 'capture:\n  interfaces: [lo]\ndissectors:\n  disabled: [tls, tsl]\n');
      const r = runLive({ configPath: cfg, log: () => {} });
      await expect(r).rejects.toBeInstanceOf(ConfigError);
      await expect(r).rejects.toThrow(/^config: dissectors\.disabled: unknown dissector 'tsl' \(known: tls, /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
