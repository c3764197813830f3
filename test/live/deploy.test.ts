/**
 * deploy/: systemd units verified by systemd-analyze, the Kubernetes manifests parsed and checked,
 * the sample sensor.yaml and the ConfigMap's sensor.yaml loaded through the config validator.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig, validateConfig } from '../../src/config/config.js';

const deploy = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** Copy the units with the not-yet-installed binaries replaced by /usr/bin/true, then verify. */
function verifyUnits(edit: (name: string, text: string) => string = (_n, t) => t): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ndr-units-'));
  try {
    const names = ['ndr-sensor-loader.service', 'ndr-sensor.service'];
    for (const n of names) {
      const text = readFileSync(join(deploy, 'systemd', n), 'utf8')
        .replace('/usr/lib/ndr-sensor/ndr-loader', '/usr/bin/true')
        .replace('/usr/bin/ndr-sensor ', '/usr/bin/true ');
      writeFileSync(join(dir, n), edit(n, text));
    }
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', '--generators=no', ...names.map((n) => join(dir, n))], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deploy/', () => {
  it('systemd units pass systemd-analyze verify', () => {
    expect(execFileSync('systemd-analyze', ['--version']).toString()).toMatch(/^systemd \d+/);
    expect(verifyUnits()).toEqual({ status: 0, out: '' });
    // The check can fail: a misspelt key is reported.
    const bad = verifyUnits((n, t) => (n === 'ndr-sensor.service' ? t.replace('NoNewPrivileges=yes', 'NoNewPrivilege=yes') : t));
    expect(bad.out).toMatch(/Unknown key 'NoNewPrivilege'/);
  });

  it('the loader unit alone is privileged, the sensor unit has no capabilities and reads the socket', () => {
    const loader = readFileSync(join(deploy, 'systemd/ndr-sensor-loader.service'), 'utf8');
    const sensor = readFileSync(join(deploy, 'systemd/ndr-sensor.service'), 'utf8');
    expect(loader).toMatch(/^AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_PERFMON$/m);
    expect(loader).toMatch(/^CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_PERFMON$/m);
    expect(loader).toMatch(/--socket \/run\/ndr-sensor\/feed\.sock/);
    expect(sensor).toMatch(/^CapabilityBoundingSet=$/m);
    expect(sensor).not.toMatch(/^User=root/m);
    expect(sensor).toMatch(/^User=ndr-sensor$/m);
    expect(sensor).toMatch(/^Requires=ndr-sensor-loader\.service$/m);
  });

  it('the Kubernetes DaemonSet has what a sensor pod needs', () => {
    const docs = parseAllDocuments(readFileSync(join(deploy, 'kubernetes/daemonset.yaml'), 'utf8'));
    for (const d of docs) expect(d.errors).toEqual([]);
    const objs = docs.map((d) => d.toJS() as Record<string, any>);
    expect(objs.map((o) => o.kind)).toEqual(['Namespace', 'ConfigMap', 'DaemonSet']);
    for (const o of objs) {
      expect(typeof o.apiVersion).toBe('string');
      expect(typeof o.metadata?.name).toBe('string');
    }
    const ds = objs[2] as Record<string, any>;
    expect(ds.apiVersion).toBe('apps/v1');
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
    const pod = ds.spec.template.spec;
    expect(pod.hostNetwork).toBe(true);
    const c = pod.containers[0];
    expect(typeof c.image).toBe('string');
    expect(c.securityContext.capabilities.add).toEqual(expect.arrayContaining(['BPF', 'NET_ADMIN', 'PERFMON']));
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(c.securityContext.privileged).toBe(false);
    const volumes = new Set(pod.volumes.map((v: { name: string }) => v.name));
    for (const m of c.volumeMounts) expect(volumes.has(m.name), `volume ${m.name}`).toBe(true);
    const cm = objs[1] as Record<string, any>;
    expect(pod.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(cm.metadata.name);
    // The ConfigMap's sensor.yaml is a valid config (TLS files live in the pod, not checked here).
    const cfg = validateConfig(parseAllDocuments(cm.data['sensor.yaml'])[0]?.toJS(), { checkFiles: false });
    expect(cfg.siem.enabled).toBe(true);
    expect(cfg.metrics.listen).toBe('0.0.0.0:9108');
    expect(c.ports[0].containerPort).toBe(9108);
  });

  it('the Dockerfile builds the loader and ships it where the sensor looks', () => {
    const df = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^RUN make -C bpf$/m);
    expect(df).toMatch(/bpf\/build\/ndr-loader \/usr\/lib\/ndr-sensor\/ndr-loader/);
    expect(df.match(/^FROM /gm)?.length).toBe(2);
  });

  it('the sample sensor.yaml loads through loadConfig', () => {
    const c = loadConfig(join(deploy, 'sensor.yaml'), { checkFiles: false });
    expect(c.capture.source).toBe('auto');
    // Every key of the sample carries a comment.
    const lines = readFileSync(join(deploy, 'sensor.yaml'), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (!/^\s*[A-Za-z]+:/.test(l)) return;
      const commented = l.includes(' # ') || /^\s*#/.test(lines[i - 1] ?? '') || /:\s*$/.test(l);
      expect(commented, `line ${i + 1}: ${l}`).toBe(true);
    });
  });
});
