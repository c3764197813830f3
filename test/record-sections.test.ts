// Each protocol's protobuf message and its ECS fields come from one field table (the section's
// proto.ecs): every field of the message is in the table, and on every flow of the golden
// captures the message carries the value the ECS document carries at the table's path. The core
// of ndr.v1.FlowRecord (flowCoreFields) and ndr.v1.Alert (alertCoreFields) are held to their own
// tables the same way.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { AnyRecordSection } from '../src/contract/api.js';
import { messageType } from '../src/grpc/convert.js';
import { alertToEcs, defaultSections, flowToEcs } from '../src/output/ecs.js';
import { ndr } from '../src/gen/ndr.js';
import { alertCoreFields, alertToPb, flowCoreFields, flowToPb } from '../src/output/siem-records.js';
import { replayFiles } from '../src/runtime/replay.js';

const root = join(new URL('.', import.meta.url).pathname, '..');

/** Every .proto of the protocol folders, loaded by reflection (the generated code has no fields list). */
function protocolTypes(): protobuf.Root {
  const r = new protobuf.Root();
  const dir = join(root, 'dissectors');
  for (const d of readdirSync(dir)) {
    if (!statSync(join(dir, d)).isDirectory()) continue;
    for (const f of readdirSync(join(dir, d))) if (f.endsWith('.proto')) r.loadSync(join(dir, d, f), { keepCase: false });
  }
  return r;
}

/** The table's view of a message: scalar and repeated fields by path, sub-messages opened, maps as 'name.*'. */
function fieldPaths(t: protobuf.Type, prefix = ''): string[] {
  const out: string[] = [];
  for (const f of t.fieldsArray) {
    f.resolve();
    const path = prefix + f.name;
    if (f.map) out.push(`${path}.*`);
    else if (!f.repeated && f.resolvedType instanceof protobuf.Type) out.push(...fieldPaths(f.resolvedType, `${path}.`));
    else out.push(path);
  }
  return out;
}

function at(o: unknown, path: string): unknown {
  let v: unknown = o;
  for (const p of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

/** proto3 leaves defaults out of the wire and ECS prunes nulls and empties: both mean "absent". */
function absent(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
}

function* captures(dir: string): Generator<string> {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) { if (e !== 'bench') yield* captures(p); }
    else if (e.endsWith('.pcap') && existsSync(p.replace(/\.pcap$/, '.expected.jsonl'))) yield p;
  }
}

describe('record sections: one field table for ECS and protobuf', () => {
  const types = protocolTypes();

  it('every section names a message whose every field is in its table, and nothing else is', () => {
    for (const sec of defaultSections) {
      const t = types.lookupType(sec.proto.type);
      expect(Object.keys(sec.proto.ecs).sort(), `${sec.key} (${sec.proto.type})`).toEqual(fieldPaths(t).sort());
      expect(() => messageType(sec.proto.type)).not.toThrow();
    }
  });

  it('on every golden capture the message carries what the ECS document carries', async () => {
    const seen = new Map<string, number>();
    const mismatches: string[] = [];
    for (const cap of captures(join(root, 'pcaps'))) {
      const { flows } = await replayFiles([cap], { withAnalytics: false });
      for (const f of flows) {
        const ecs = flowToEcs(f);
        const pb = flowToPb(f);
        const present: AnyRecordSection[] = defaultSections.filter((s) => f.apps[s.key] !== undefined);
        expect(pb.apps).toHaveLength(present.length);
        present.forEach((sec, i) => {
          seen.set(sec.proto.type, (seen.get(sec.proto.type) ?? 0) + 1);
          const t = messageType(sec.proto.type);
          const msg = t.toObject(t.decode(pb.apps![i]!.value!), { defaults: false, longs: Number, arrays: true });
          for (const [field, ecsPathRaw] of Object.entries(sec.proto.ecs)) {
            const ecsPath = ecsPathRaw.replaceAll('{key}', sec.key);
            const where = `${cap.slice(root.length)} flow ${f.id} ${sec.key}.${field}`;
            if (field.endsWith('.*')) {
              const m = (at(msg, field.slice(0, -2)) ?? {}) as Record<string, unknown>;
              for (const [k, v] of Object.entries(m)) if (String(at(ecs, ecsPath.replace('*', k))) !== v) mismatches.push(`${where}[${k}]`);
              continue;
            }
            const a = at(msg, field);
            const b = at(ecs, ecsPath);
            if (absent(a) && absent(b)) continue;
            if (JSON.stringify(a) !== JSON.stringify(b) && !(a === 0 && b === undefined) && !(a === false && b === undefined)) mismatches.push(`${where}: ${JSON.stringify(a)} vs ${ecsPath}=${JSON.stringify(b)}`);
          }
        });
      }
    }
    expect(mismatches).toEqual([]);
    // The captures exercise the table of every protocol they carry.
    for (const type of ['ndr.v1.Tls', 'ndr.v1.Mqtt', 'ndr.v1.Amqp', 'ndr.v1.Http', 'ndr.v1.Dns', 'ndr.v1.Ssh', 'ndr.v1.Session']) expect(seen.get(type) ?? 0, type).toBeGreaterThan(0);
  });

  it('the core FlowRecord fields: each is in the core table, and on the golden captures (and the demo with its EDR and analytics) carries what the ECS document carries', async () => {
    const core = new protobuf.Root();
    core.resolvePath = (_origin, target) => join(root, 'proto', target);
    core.loadSync('ndr/v1/flow.proto', { keepCase: false });
    const t = core.lookupType('ndr.v1.FlowRecord');
    expect(Object.keys(flowCoreFields).sort()).toEqual(fieldPaths(t).filter((p) => !p.startsWith('apps')).sort());

    const runs: { name: string; flows: Awaited<ReturnType<typeof replayFiles>>['flows'] }[] = [];
    for (const cap of captures(join(root, 'pcaps'))) runs.push({ name: cap.slice(root.length), flows: (await replayFiles([cap], { withAnalytics: false })).flows });
    const demo = join(root, 'pcaps', 'demo');
    const analyticsConfig = (JSON.parse(readFileSync(join(demo, 'analytics-config.json'), 'utf8')) as { analytics: unknown }).analytics;
    runs.push({ name: 'demo with its EDR and analytics', flows: (await replayFiles([join(demo, 'demo.pcap')], { sysmon: [join(demo, 'sysmon.jsonl')], analyticsConfig })).flows });
    const carried = new Map<string, number>();
    const mismatches: string[] = [];
    for (const { name, flows } of runs) {
      for (const f of flows) {
        const ecs = flowToEcs(f);
        const msg = t.toObject(t.decode(ndr.v1.FlowRecord.encode(flowToPb(f)).finish()), { defaults: false, longs: Number, enums: String, arrays: false });
        for (const [path, def] of Object.entries(flowCoreFields)) {
          if ('notInEcs' in def) continue;
          const raw = at(msg, path);
          const a = raw === undefined ? undefined : def.toEcs ? def.toEcs(raw) : raw;
          const b = at(ecs, def.ecs);
          if (!absent(a)) carried.set(path, (carried.get(path) ?? 0) + 1);
          // proto3 cannot tell zero from unset: a zero beside an absent ECS field agrees.
          const none = (v: unknown): boolean => absent(v) || v === 0 || v === false;
          if (none(a) && none(b)) continue;
          if (JSON.stringify(a) !== JSON.stringify(b)) mismatches.push(`${name} flow ${f.id} ${path}: ${JSON.stringify(a)} vs ${def.ecs}=${JSON.stringify(b)}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    // The runs exercise the fields that matter most, attribution included.
    for (const path of ['id', 'client.ip', 'startTsMs', 'toServer.bytes', 'toClient.tcpFlags', 'entropyToServer.bits', 'attribution.status', 'attribution.process.executable', 'attribution.host.name', 'attribution.match', 'attribution.imageLoads', 'attribution.fileEvents', 'beacon.score', 'events']) {
      expect(carried.get(path) ?? 0, path).toBeGreaterThan(0);
    }
  });

  it('the Alert fields: each is in the alert table, and on the demo\'s alerts carries what the ECS document carries', async () => {
    const core = new protobuf.Root();
    core.resolvePath = (_origin, target) => join(root, 'proto', target);
    core.loadSync('ndr/v1/alert.proto', { keepCase: false });
    const t = core.lookupType('ndr.v1.Alert');
    expect(Object.keys(alertCoreFields).sort()).toEqual(fieldPaths(t).sort());

    const demo = join(root, 'pcaps', 'demo');
    const analyticsConfig = (JSON.parse(readFileSync(join(demo, 'analytics-config.json'), 'utf8')) as { analytics: unknown }).analytics;
    const { alerts } = await replayFiles([join(demo, 'demo.pcap')], { sysmon: [join(demo, 'sysmon.jsonl')], analyticsConfig });
    expect(alerts.length).toBeGreaterThan(0);
    const none = (v: unknown): boolean => absent(v) || v === 0 || v === false;
    const mismatches: string[] = [];
    const carried = new Set<string>();
    for (const a of alerts) {
      const ecs = alertToEcs(a);
      const msg = t.toObject(t.decode(ndr.v1.Alert.encode(alertToPb(a)).finish()), { defaults: false, longs: Number, enums: String, arrays: false });
      for (const [path, def] of Object.entries(alertCoreFields)) {
        if ('notInEcs' in def) continue;
        const raw = at(msg, path);
        const x = raw === undefined ? undefined : def.toEcs ? def.toEcs(raw) : raw;
        const e = at(ecs, def.ecs);
        const y = def.ecsSide ? def.ecsSide(e) : e;
        if (!none(x)) carried.add(path);
        if (none(x) && none(y)) continue;
        if (JSON.stringify(x) !== JSON.stringify(y)) mismatches.push(`${a.analytic} ${path}: ${JSON.stringify(x)} vs ${def.ecs}=${JSON.stringify(y)}`);
      }
    }
    expect(mismatches).toEqual([]);
    for (const path of ['analytic', 'severity', 'evidence', 'source.ip', 'destination.port', 'process.executable', 'host.name', 'tsMs', 'mitreTechniques']) expect(carried.has(path), path).toBe(true);
  });
});
