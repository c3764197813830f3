// Checks a document against the ECS field definitions published in @elastic/ecs (its flat table:
// one entry per field with its type, whether it is an array, and the allowed values of the
// categorisation fields). Written for tests: it returns every problem as one readable line.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';

interface AllowedValue { name: string; expected_event_types?: string[] }
interface EcsField { type: string; normalize: string[]; allowed_values?: AllowedValue[] }

const require = createRequire(import.meta.url);
const ecs = require('@elastic/ecs') as { EcsFlat: Record<string, EcsField>; EcsVersion: string };

export const ecsVersion: string = ecs.EcsVersion;
export const ecsFlat: Readonly<Record<string, EcsField>> = ecs.EcsFlat;

/**
 * Fields this project writes beside ECS's own: the JA4 family next to ECS's ja3/ja3s, as
 * docs/ARCHITECTURE.md says. Everything else outside `ndr.*` must be an ECS field.
 */
export const ecsExtensions: ReadonlySet<string> = new Set(['tls.client.ja4', 'tls.server.ja4s']);

const containerTypes = new Set(['object', 'nested', 'flattened', 'geo_point']);
const stringTypes = new Set(['keyword', 'constant_keyword', 'wildcard', 'text', 'match_only_text']);
const integerTypes = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const numberTypes = new Set(['float', 'double', 'scaled_float', 'half_float']);
const isoDate = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const snake = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

function typeProblem(path: string, type: string, v: unknown): string | null {
  if (stringTypes.has(type)) return typeof v === 'string' ? null : `${path}: ${type} wants a string, got ${JSON.stringify(v)}`;
  if (integerTypes.has(type)) return Number.isInteger(v) ? null : `${path}: ${type} wants an integer, got ${JSON.stringify(v)}`;
  if (numberTypes.has(type)) return typeof v === 'number' && Number.isFinite(v) ? null : `${path}: ${type} wants a number, got ${JSON.stringify(v)}`;
  if (type === 'boolean') return typeof v === 'boolean' ? null : `${path}: boolean wanted, got ${JSON.stringify(v)}`;
  if (type === 'date') return typeof v === 'string' && isoDate.test(v) && !Number.isNaN(Date.parse(v)) ? null : `${path}: date wants an ISO 8601 string, got ${JSON.stringify(v)}`;
  if (type === 'ip') return typeof v === 'string' && isIP(v) !== 0 ? null : `${path}: ip wants an address, got ${JSON.stringify(v)}`;
  return null;
}

function checkValue(path: string, field: EcsField, v: unknown, out: string[]): void {
  const wantsArray = field.normalize.includes('array');
  if (Array.isArray(v) !== wantsArray && !containerTypes.has(field.type)) {
    out.push(`${path}: ECS says ${wantsArray ? 'an array' : 'a single value'}, got ${JSON.stringify(v)}`);
    return;
  }
  const values = Array.isArray(v) ? v : [v];
  for (const x of values) {
    const p = typeProblem(path, field.type, x);
    if (p !== null) out.push(p);
    if (field.allowed_values !== undefined && !field.allowed_values.some((a) => a.name === x)) out.push(`${path}: ${JSON.stringify(x)} is not an allowed value`);
  }
}

function walkNdr(path: string, v: unknown, out: string[]): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) { for (const x of v) walkNdr(path, x, out); return; }
  for (const [k, x] of Object.entries(v)) {
    if (!snake.test(k)) out.push(`${path}.${k}: ndr.* keys are snake_case`);
    walkNdr(`${path}.${k}`, x, out);
  }
}

function walk(prefix: string, o: Record<string, unknown>, out: string[]): void {
  for (const [k, v] of Object.entries(o)) {
    const path = prefix === '' ? k : `${prefix}.${k}`;
    if (path === 'ndr') { walkNdr(path, v, out); continue; }
    if (v === null || v === undefined) { out.push(`${path}: null values are left out`); continue; }
    const field = ecsFlat[path];
    if (field !== undefined && !containerTypes.has(field.type)) { checkValue(path, field, v, out); continue; }
    if (field === undefined && ecsExtensions.has(path)) { if (typeof v !== 'string') out.push(`${path}: a string`); continue; }
    if (field !== undefined && field.type === 'object' && field.normalize.includes('array')) {
      // an array of objects (dns.answers): each element holds the sub-fields
      if (!Array.isArray(v)) { out.push(`${path}: ECS says an array of objects`); continue; }
      for (const el of v) {
        if (el === null || typeof el !== 'object' || Array.isArray(el)) out.push(`${path}: elements are objects`);
        else walk(path, el as Record<string, unknown>, out);
      }
      continue;
    }
    if (typeof v === 'object' && !Array.isArray(v)) { walk(path, v as Record<string, unknown>, out); continue; }
    if (field === undefined) out.push(`${path}: not an ECS field`);
  }
}

/** Every way `doc` departs from ECS (empty when it conforms). */
export function ecsProblems(doc: Record<string, unknown>): string[] {
  const out: string[] = [];
  walk('', doc, out);
  const event = doc.event as Record<string, unknown> | undefined;
  if (typeof doc['@timestamp'] !== 'string') out.push('@timestamp: missing');
  if ((doc.ecs as { version?: unknown } | undefined)?.version !== ecsVersion) out.push(`ecs.version: ${ecsVersion} wanted`);
  if (typeof event?.id !== 'string' || event.id === '') out.push('event.id: missing');
  if (typeof event?.kind !== 'string') out.push('event.kind: missing');
  // Each event.type must be one the ECS categorisation expects for at least one of the categories.
  const cats = Array.isArray(event?.category) ? (event.category as string[]) : [];
  const types = Array.isArray(event?.type) ? (event.type as string[]) : [];
  const catDefs = ecsFlat['event.category']?.allowed_values ?? [];
  for (const t of types) {
    const ok = cats.some((c) => catDefs.find((d) => d.name === c)?.expected_event_types?.includes(t) === true);
    if (!ok) out.push(`event.type ${t}: not expected for categories ${cats.join(', ')}`);
  }
  return out;
}
