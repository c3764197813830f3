import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultConfig, loadConfig, parseHostPort, reloadConfig, validateConfig } from './config.js';

const sample = fileURLToPath(new URL('../../deploy/sensor.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ndr-cfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function problems(doc: unknown, opts: { checkFiles?: boolean } = {}): string[] {
  try {
    validateConfig(doc, { baseDir: dir, ...opts });
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
}

describe('sensor config', () => {
  it('loads the commented sample in deploy/', () => {
    const c = loadConfig(sample, { checkFiles: false });
    expect(c.capture.interfaces).toEqual(['eth1']);
    expect(c.capture.source).toBe('auto');
    expect(c.edr.tls?.cert).toBe('/etc/ndr-sensor/tls/sensor.pem');
    expect(c.fingerprints.ja4Plus).toBe(false);
    expect(c.analytics.approvedPubSubApps).toEqual(['mosquitto_pub', 'telegraf']);
    expect(c.metrics.listen).toBe('127.0.0.1:9108');
  });

  it('has defaults for everything, ja4Plus off', () => {
    const d = defaultConfig();
    expect(validateConfig({})).toEqual(d);
    expect(d.fingerprints.ja4Plus).toBe(false);
    expect(d.capture.forwardPacketsPerDir).toBe(8);
    expect(d.capture.forwardBytesPerDir).toBe(16384);
  });

  it('names the key and the problem', () => {
    expect(problems({ edr: { endpoint: 'x' } })).toEqual(['config: edr.endpoint: expected host:port, got "x"']);
    expect(problems({ capture: { source: 'netmap' } })).toEqual(['config: capture.source: expected ebpf | pcap | auto, got "netmap"']);
    expect(problems({ limits: { maxFlows: 10 } })).toEqual(['config: limits.maxFlows: expected an integer in 1024..67108864, got 10']);
    expect(problems({ limits: { fragmentOverlap: 'middle' } })).toEqual(['config: limits.fragmentOverlap: expected first | last | drop, got "middle"']);
    expect(validateConfig({ limits: { fragmentOverlap: 'last' } }).limits.fragmentOverlap).toBe('last');
    expect(defaultConfig().limits.fragmentOverlap).toBe('first');
    expect(problems({ fingerprints: { ja4Plus: 'yes' } })).toEqual(['config: fingerprints.ja4Plus: expected true or false, got "yes"']);
    expect(problems({ dissectors: { disabled: 'mqtt' } })).toEqual(['config: dissectors.disabled: expected a list of non-empty strings, got "mqtt"']);
    expect(problems({ dissectors: { disabled: ['mqtt', 'amqp'] } })).toEqual([]);
    expect(problems({ analytics: { thresholds: { beaconScore: 3 } } })).toEqual(['config: analytics.thresholds.beaconScore: expected 0..1']);
    // The fleet store: one redis:// URL or a list of cluster seeds; [] keeps LMDB.
    expect(problems({ baselines: { store: 'redis://10.0.0.5:6379' } })).toEqual([]);
    expect(problems({ baselines: { store: ['10.0.0.5:7000', 'redis://10.0.0.6:7000'] } })).toEqual([]);
    expect(problems({ baselines: { store: [] } })).toEqual([]);
    expect(problems({ baselines: { store: 'lmdb:/var/x' } })).toEqual(['config: baselines.store: expected redis://host:port or a list of cluster seeds host:port, got "lmdb:/var/x"']);
  });

  it('rejects unknown keys at every level and reports all problems at once', () => {
    const p = problems({ bogus: 1, capture: { iface: 'eth0' }, edr: { tls: { ca: 'a', cert: 'b', key: 'c', pin: 'x' } }, analytics: { nope: [] } });
    expect(p).toEqual(expect.arrayContaining([
      'config: bogus: unknown key',
      'config: capture.iface: unknown key',
      'config: edr.tls.pin: unknown key',
      'config: analytics.nope: unknown key',
    ]));
    expect(p.length).toBe(4);
  });

  it('rejects inherited property names as keys at every level', () => {
    const names = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__proto__', '__defineGetter__'];
    for (const n of names) {
      // JSON.parse makes __proto__ an own key, as the YAML parser does.
      expect(problems(JSON.parse(`{"${n}": 1}`))).toEqual([`config: ${n}: unknown key`]);
      expect(problems(JSON.parse(`{"sensor": {"${n}": 1}}`))).toEqual([`config: sensor.${n}: unknown key`]);
      expect(problems(JSON.parse(`{"edr": {"tls": {"ca": "a", "cert": "b", "key": "c", "${n}": 1}}}`), { checkFiles: false })).toEqual([`config: edr.tls.${n}: unknown key`]);
      expect(problems(JSON.parse(`{"analytics": {"${n}": []}}`))).toEqual([`config: analytics.${n}: unknown key`]);
    }
    // A document whose prototype carries a schema key does not set it.
    const inherited = Object.create({ sensor: { workers: 7 } }) as Record<string, unknown>;
    expect(validateConfig(inherited).sensor.workers).toBe(1);
    const viaYaml = join(dir, 'proto.yaml');
    writeFileSync(viaYaml, '__proto__:\n  sensor:\n    workers: 9\ntoString: x\n');
    expect(() => loadConfig(viaYaml)).toThrow(/config: __proto__: unknown key\nconfig: toString: unknown key/);
  });

  it('checks mTLS files of enabled endpoints, resolving relative paths', () => {
    writeFileSync(join(dir, 'ca.pem'), 'x');
    const p = problems({ siem: { enabled: true, tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } } });
    expect(p).toEqual([`config: siem.tls.cert: file not found: ${join(dir, 'c.pem')}`, `config: siem.tls.key: file not found: ${join(dir, 'k.pem')}`]);
    expect(problems({ siem: { enabled: false, tls: { ca: 'ca.pem', cert: 'c.pem', key: 'k.pem' } } })).toEqual([]);
    expect(problems({ edr: { tls: { ca: 'ca.pem' } } })).toEqual([
      'config: edr.tls.cert: required (mTLS needs ca, cert and key)',
      'config: edr.tls.key: required (mTLS needs ca, cert and key)',
    ]);
  });

  it('parses host:port forms', () => {
    expect(parseHostPort('edr.local:50051')).toEqual({ host: 'edr.local', port: 50051 });
    expect(parseHostPort('[fd00::1]:443')).toEqual({ host: 'fd00::1', port: 443 });
    expect(parseHostPort('host:0')).toBeNull();
    expect(parseHostPort('host:70000')).toBeNull();
    expect(parseHostPort('fd00::1:443')).toBeNull();
  });

  it('reports unreadable files and bad YAML in one line', () => {
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/^config: cannot read .*missing\.yaml: ENOENT$/);
    writeFileSync(join(dir, 'bad.yaml'), 'capture: [unclosed\n');
    expect(() => loadConfig(join(dir, 'bad.yaml'))).toThrow(/^config: .*bad\.yaml: not valid YAML/);
    writeFileSync(join(dir, 'dup.yaml'), 'capture: {}\ncapture: {}\n');
    expect(() => loadConfig(join(dir, 'dup.yaml'))).toThrow(/not valid YAML/);
  });

  it('SIGHUP reload applies allowlists and reports other changes', () => {
    const f = join(dir, 'reload.yaml');
    writeFileSync(f, 'capture: { interfaces: [eth1] }\nanalytics: { allowDestinations: [a.example] }\n');
    const running = loadConfig(f);
    writeFileSync(f, 'capture: { interfaces: [eth2] }\nanalytics: { allowDestinations: [a.example, b.example], approvedPubSubApps: [x] }\n');
    const r = reloadConfig(f, running);
    expect(r.applied.sort()).toEqual(['analytics.allowDestinations', 'analytics.approvedPubSubApps']);
    expect(r.needsRestart).toEqual(['capture.interfaces']);
    expect(r.config.analytics.allowDestinations).toEqual(['a.example', 'b.example']);
    expect(r.config.capture.interfaces).toEqual(['eth1']);
    expect(running.analytics.allowDestinations).toEqual(['a.example']); // not mutated
    writeFileSync(f, 'capture: { interfaces: 3 }\n');
    expect(() => reloadConfig(f, running)).toThrow(ConfigError);
  });
});

describe('output detail', () => {
  it('is lean by default, full when asked, and refuses anything else by name', () => {
    expect(validateConfig({}).output.detail).toBe('lean');
    expect(validateConfig({ output: { detail: 'full' } }).output.detail).toBe('full');
    expect(() => validateConfig({ output: { detail: 'verbose' } })).toThrow(/output\.detail/);
    expect(validateConfig({ state: { describedCertificates: 5 } }).state.describedCertificates).toBe(5);
    expect(() => validateConfig({ state: { describedCertificates: 0 } })).toThrow(/describedCertificates/);
  });
});
