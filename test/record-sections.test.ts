// Each protocol's protobuf message and its ECS fields come from one field table (the section's
// proto.ecs): every field of the message is in the table, and on every flow of the golden
// captures the message carries the value the ECS document carries at the table's path.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { AnyRecordSection } from '../src/dissect/api.js';
import { messageType } from '../src/grpc/convert.js';
import { defaultSections, flowToEcs } from '../src/output/ecs.js';
import { flowToPb } from '../src/output/siem-records.js';
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
});
