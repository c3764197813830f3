/**
 * Runs the real demo generation (network namespaces, Node TLS, mosquitto; needs root, ~30 s) into a
 * temp dir and checks the capture against the scenario, and that the committed pcaps/demo files
 * match what the generator makes (the Sysmon log and expectations byte for byte; the capture's
 * connection table: addresses, ports, start times).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_T0, HOSTS, SCENARIO, generateDemo } from './gen-demo.js';
import { scanPcap } from './pcap-rewrite.js';

const out = mkdtempSync(join(tmpdir(), 'ndr-demo-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const committed = new URL('../pcaps/demo/', import.meta.url);

function connections(pcap: Buffer): string[] {
  return scanPcap(pcap)
    .filter((p) => p.ipv4 && p.proto === 6 && (p.tcpFlags & 0x12) === 0x02)
    .map((p) => `${p.tsUs}|${p.src}:${p.sport}>${p.dst}:${p.dport}`);
}

describe('generateDemo', () => {
  it('captures real traffic re-addressed and re-timed into the scenario', async () => {
    const r = await generateDemo(out);
    expect(r.flows).toBe(SCENARIO.length);
    const fresh = readFileSync(join(out, 'demo.pcap'));
    const want = SCENARIO.map((f) => `${(DEMO_T0 + f.atMs) * 1000}|${HOSTS[f.host].ip}:${f.clientPort}>${f.server.ip}:${f.server.port}`).sort();
    expect(connections(fresh).sort()).toEqual(want);
    // every packet belongs to a scenario connection, both directions present
    const pk = scanPcap(fresh);
    const servers = new Set(SCENARIO.map((f) => `${f.server.ip}:${f.server.port}`));
    for (const p of pk) expect(servers.has(`${p.dst}:${p.dport}`) || servers.has(`${p.src}:${p.sport}`)).toBe(true);
    expect(pk.filter((p) => p.src === '198.51.100.99' && p.payloadLength > 0).length).toBeGreaterThan(3);
    // time order
    for (let i = 1; i < pk.length; i++) expect(pk[i]!.tsUs).toBeGreaterThanOrEqual(pk[i - 1]!.tsUs);
    // the committed files match the generator
    for (const f of ['sysmon.jsonl', 'expected-alerts.json', 'analytics-config.json', 'README.md']) {
      expect(readFileSync(join(out, f), 'utf8'), f).toBe(readFileSync(new URL(f, committed), 'utf8'));
    }
    expect(connections(readFileSync(new URL('demo.pcap', committed))).sort()).toEqual(want);
  });
});
