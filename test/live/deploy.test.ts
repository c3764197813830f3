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

  it('the Kubernetes DaemonSet: the loader alone is privileged, the sensor runs unprivileged on the shared socket', () => {
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
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext.seccompProfile.type).toBe('RuntimeDefault');
    const byName = new Map<string, any>(pod.containers.map((c: { name: string }) => [c.name, c]));
    expect([...byName.keys()].sort()).toEqual(['loader', 'sensor']);
    const loader = byName.get('loader');
    const sensor = byName.get('sensor');
    // Every container and init container: no privilege, no escalation, read-only root, ALL dropped.
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      const sc = c.securityContext;
      expect(sc.privileged ?? false, c.name).toBe(false);
      expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc.capabilities.drop, c.name).toEqual(['ALL']);
      expect(sc.seccompProfile?.type ?? pod.securityContext.seccompProfile.type, c.name).toBe('RuntimeDefault');
    }
    // The loader: exactly what bpf/loader.c needs (its header names them), started on the socket.
    const loaderNeeds = /needs (CAP_[A-Z_]+(?:, CAP_[A-Z_]+)* and CAP_[A-Z_]+)/.exec(readFileSync(join(deploy, '..', 'bpf', 'loader.c'), 'utf8'));
    const caps = (loaderNeeds?.[1] ?? '').split(/, | and /).map((c) => c.replace(/^CAP_/, '')).sort();
    expect(caps).toEqual(['BPF', 'NET_ADMIN', 'PERFMON']);
    expect([...loader.securityContext.capabilities.add].sort()).toEqual(caps);
    expect(loader.command).toEqual(['/usr/lib/ndr-sensor/ndr-loader']);
    const sockAt = loader.args.indexOf('--socket');
    const socket = loader.args[sockAt + 1] as string;
    // The sensor: a numbered non-root user, no capabilities, the same socket through an emptyDir.
    expect(sensor.securityContext.runAsNonRoot).toBe(true);
    expect(Number.isInteger(sensor.securityContext.runAsUser) && sensor.securityContext.runAsUser > 0).toBe(true);
    expect(sensor.securityContext.capabilities.add ?? []).toEqual([]);
    const feedMount = (c: any) => c.volumeMounts.find((m: { mountPath: string }) => socket.startsWith(`${m.mountPath}/`));
    expect(feedMount(loader)?.name).toBe(feedMount(sensor)?.name);
    expect(pod.volumes.find((v: { name: string }) => v.name === feedMount(sensor)?.name)?.emptyDir).toBeDefined();
    const volumes = new Set(pod.volumes.map((v: { name: string }) => v.name));
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) for (const m of c.volumeMounts) expect(volumes.has(m.name), `volume ${m.name}`).toBe(true);
    const cm = objs[1] as Record<string, any>;
    expect(pod.volumes.find((v: { name: string }) => v.name === 'config').configMap.name).toBe(cm.metadata.name);
    // The ConfigMap's sensor.yaml is a valid config reading the loader's socket (TLS files live in the pod).
    const cfg = validateConfig(parseAllDocuments(cm.data['sensor.yaml'])[0]?.toJS(), { checkFiles: false });
    expect(cfg.siem.enabled).toBe(true);
    expect(cfg.capture.loaderSocket).toBe(socket);
    expect(cfg.capture.source).toBe('ebpf');
    // Metrics: on the pod IP (downward API), never 0.0.0.0; scrape annotations name the port.
    expect(cfg.metrics.listen).not.toMatch(/^0\.0\.0\.0:/);
    const ml = sensor.args.indexOf('--metrics-listen');
    expect(sensor.args[ml + 1]).toBe('$(POD_IP):9108');
    expect(sensor.env.find((e: { name: string }) => e.name === 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');
    expect(sensor.ports[0].containerPort).toBe(9108);
    expect(ds.spec.template.metadata.annotations['prometheus.io/port']).toBe('9108');
    expect(ds.spec.template.metadata.annotations['prometheus.io/scrape']).toBe('true');
  });

  it('systemd-analyze security: sensor at most 2.0, loader at most 3.0', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-units-sec-'));
    try {
      const score = (name: string): number => {
        const text = readFileSync(join(deploy, 'systemd', name), 'utf8').replace('/usr/lib/ndr-sensor/ndr-loader', '/usr/bin/true').replace('/usr/bin/ndr-sensor ', '/usr/bin/true ');
        writeFileSync(join(dir, name), text);
        const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, name)], { encoding: 'utf8' });
        const m = /Overall exposure level for \S+: (\d+\.\d)/.exec(`${r.stdout}${r.stderr}`);
        expect(m, `${r.stdout}${r.stderr}`).not.toBeNull();
        return Number(m?.[1]);
      };
      const sensor = score('ndr-sensor.service');
      const loader = score('ndr-sensor-loader.service');
      expect(sensor).toBeLessThanOrEqual(2.0);
      expect(loader).toBeLessThanOrEqual(3.0);
      // The score can fail: the unit as it was before hardening scores far above the bound.
      writeFileSync(join(dir, 'loose.service'), '[Service]\nExecStart=/usr/bin/true\nUser=nobody\n');
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, 'loose.service')], { encoding: 'utf8' });
      expect(Number(/Overall exposure level for \S+: (\d+\.\d)/.exec(`${r.stdout}${r.stderr}`)?.[1])).toBeGreaterThan(3.0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the image runs as a numbered user', () => {
    const df = readFileSync(join(deploy, 'Dockerfile'), 'utf8');
    const users = [...df.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1] as string);
    expect(users.length).toBeGreaterThan(0);
    const last = users[users.length - 1] as string;
    expect(last).toMatch(/^[1-9]\d*(:\d+)?$/);
    // The last stage's user is the one the sensor container asks for.
    const ds = parseAllDocuments(readFileSync(join(deploy, 'kubernetes/daemonset.yaml'), 'utf8'))[2]?.toJS() as Record<string, any>;
    const sensor = ds.spec.template.spec.containers.find((c: { name: string }) => c.name === 'sensor');
    expect(Number(last.split(':')[0])).toBe(sensor.securityContext.runAsUser);
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
