/**
 * Every client fingerprint of a ClientHello (JA4 and its _r/_o/_ro forms, JA3, the cipher list),
 * memoised on the hello's shape. A network has few distinct client stacks and each repeats its
 * hello field for field, so the hashes are computed once per shape rather than once per flow.
 *
 * The shape is what the fingerprints read, one 16-bit unit per value: transport, options,
 * legacy version, supported versions, ciphers, extensions, signature algorithms, groups, point
 * formats, and the first/last byte of the first ALPN name. GREASE values are dropped where every
 * fingerprint drops them (a browser picks fresh GREASE per connection) but kept in signature
 * algorithms, where `keepSigAlgGrease` can make them count. Stacks that shuffle their extension
 * order (Chrome) make a new shape per order; they cost one miss each, no more than before.
 * Shapes are found by a 32-bit hash and compared unit by unit, so a collision never mixes prints.
 */
import { isGrease } from '../../dissectors/tls/extensions.js';
import type { TlsClientHello, TlsServerHello } from '../../dissectors/tls/types.js';
import { hex4 } from '../util/bytes.js';
import { ja3, ja3s } from './ja3.js';
import { ja4All, type Ja4Options, type Ja4Transport } from './ja4.js';

export interface ClientPrints {
  readonly ja4: string;
  readonly ja4_r: string;
  readonly ja4_o: string;
  readonly ja4_ro: string;
  readonly ja3: string;
  readonly ja3_full: string;
  /** Cipher suites offered, GREASE removed, as 4-digit hex (shared: copy before changing). */
  readonly supportedCiphers: readonly string[];
}

/**
 * Cache of fingerprints by hello shape, per thread: a network has few client stacks, so most
 * hellos are answered from here. Cleared when it fills (distinct stacks are few).
 */
const MAX_SHAPES = 4096;
/** Different shapes kept under one hash value. */
const MAX_CHAIN = 4;
interface Shape<T> {
  readonly units: Uint16Array;
  readonly value: T;
  next: Shape<T> | null; // same hash, different shape
}
// The cache itself (see above), one map per direction.
const clientShapes = new Map<number, Shape<ClientPrints>>();
const serverShapes = new Map<number, Shape<string>>();
/** Allocation cache: the shape being built, one 16-bit unit per value (lists are bounded by the TLS limits); reset per call. */
let units = new Uint16Array(4096);
let n = 0;

/** Room for `more` units after the `n` already in `units`. */
function reserve(more: number): void {
  if (n + more <= units.length) return;
  let len = units.length * 2;
  while (len < n + more) len *= 2;
  const grown = new Uint16Array(len);
  grown.set(units);
  units = grown;
}

function put(v: number): void {
  reserve(1);
  units[n++] = v;
}

function putList(vals: readonly number[], dropGrease: boolean): void {
  reserve(vals.length + 1);
  // Locals in the loop: `units` and `n` are module variables, read and written through the
  // module's context on every access otherwise (these lists are most of a hello's shape).
  const u = units;
  const at = n;
  let k = at + 1;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] as number;
    if (dropGrease && isGrease(v)) continue;
    u[k++] = v;
  }
  u[at] = k - at - 1;
  n = k;
}

function clientShape(h: TlsClientHello, transport: Ja4Transport, opts: Ja4Options | undefined): void {
  n = 0;
  put(transport.charCodeAt(0));
  put((opts?.alpnRule === 'spec' ? 1 : 0) | (opts?.keepSigAlgGrease === true ? 2 : 0));
  put(h.legacyVersion);
  putList(h.supportedVersions, true);
  putList(h.cipherSuites, true);
  putList(h.extensions, true);
  putList(h.signatureAlgorithms, false);
  putList(h.supportedGroups, true);
  putList(h.ecPointFormats, false);
  const alpn = h.alpnRaw[0];
  if (alpn === undefined || alpn.length === 0) put(0xffff);
  else {
    put(alpn[0] as number);
    put(alpn[alpn.length - 1] as number);
    put(Math.min(alpn.length, 2));
  }
}

/** 32-bit hash of the shape being built (murmur-style mixing per unit). */
function shapeHash(): number {
  let h = n;
  for (let i = 0; i < n; i++) {
    h = Math.imul(h ^ (units[i] as number), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h | 0;
}

function sameShape(u: Uint16Array): boolean {
  if (u.length !== n) return false;
  for (let i = 0; i < n; i++) if (u[i] !== units[i]) return false;
  return true;
}

/** The value memoised for the shape in `units`, or computed by `make` and remembered. */
function memo<T>(table: Map<number, Shape<T>>, make: () => T): T {
  const key = shapeHash();
  const head = table.get(key) ?? null;
  let depth = 0;
  for (let e = head; e !== null; e = e.next, depth++) if (sameShape(e.units)) return e.value;
  const value = make();
  if (depth >= MAX_CHAIN) return value; // crafted collisions: compute, never grow the chain
  if (table.size >= MAX_SHAPES) table.clear();
  table.set(key, { units: units.slice(0, n), value, next: table.get(key) ?? null });
  return value;
}

function compute(h: TlsClientHello, transport: Ja4Transport, opts: Ja4Options | undefined): ClientPrints {
  const all = ja4All(h, transport, opts);
  const j3 = ja3(h);
  const supportedCiphers: string[] = [];
  for (const c of h.cipherSuites) if (!isGrease(c)) supportedCiphers.push(hex4(c));
  return { ja4: all.ja4, ja4_r: all.ja4_r, ja4_o: all.ja4_o, ja4_ro: all.ja4_ro, ja3: j3.ja3, ja3_full: j3.ja3_full, supportedCiphers };
}

/**
 * The prints of hellos whose lists are the parser's shared arrays (dissectors/tls/shared.ts, frozen:
 * a stack's lists repeat byte for byte), found by the identity of those arrays and the few scalars
 * of the shape, before any shape is built. Keyed by the cipher list; a few entries per list.
 */
// The other lists of the shape are kept, not the hello itself.
interface ById extends Pick<TlsClientHello, 'extensions' | 'signatureAlgorithms' | 'supportedVersions' | 'supportedGroups' | 'ecPointFormats'> {
  readonly key: number;
  readonly prints: ClientPrints;
}
const byIdentity = new WeakMap<readonly number[], ById[]>();
const BY_ID_PER_LIST = 8;

/** The shape's scalars beside the lists: transport, options, legacy version, the first ALPN name's ends. */
function scalarKey(h: TlsClientHello, transport: Ja4Transport, opts: Ja4Options | undefined): number {
  const alpn = h.alpnRaw[0];
  const a = alpn === undefined || alpn.length === 0 ? 0x3ffff : ((alpn[0] as number) << 10) | ((alpn[alpn.length - 1] as number) << 2) | Math.min(alpn.length, 2);
  const o = (opts?.alpnRule === 'spec' ? 1 : 0) | (opts?.keepSigAlgGrease === true ? 2 : 0);
  return ((transport.charCodeAt(0) * 4 + o) * 0x10000 + h.legacyVersion) * 0x40000 + a;
}

function sameLists(a: ById, b: TlsClientHello): boolean {
  return a.extensions === b.extensions && a.signatureAlgorithms === b.signatureAlgorithms && a.supportedVersions === b.supportedVersions
    && a.supportedGroups === b.supportedGroups && a.ecPointFormats === b.ecPointFormats;
}

export function clientPrints(h: TlsClientHello, transport: Ja4Transport, opts?: Ja4Options): ClientPrints {
  const shared = Object.isFrozen(h.cipherSuites) && h.cipherSuites.length > 0;
  let key = 0;
  if (shared) {
    key = scalarKey(h, transport, opts);
    const known = byIdentity.get(h.cipherSuites);
    if (known !== undefined) for (const e of known) if (e.key === key && sameLists(e, h)) return e.prints;
  }
  clientShape(h, transport, opts);
  const prints = memo(clientShapes, () => compute(h, transport, opts));
  if (shared) {
    let list = byIdentity.get(h.cipherSuites);
    if (list === undefined) byIdentity.set(h.cipherSuites, (list = []));
    if (list.length >= BY_ID_PER_LIST) list.shift();
    list.push({ key, extensions: h.extensions, signatureAlgorithms: h.signatureAlgorithms, supportedVersions: h.supportedVersions, supportedGroups: h.supportedGroups, ecPointFormats: h.ecPointFormats, prints });
  }
  return prints;
}

/** JA3S, memoised on (legacy version, cipher, extensions). */
export function serverJa3s(h: TlsServerHello): string {
  n = 0;
  put(h.legacyVersion);
  put(h.cipherSuite);
  putList(h.extensions, true);
  return memo(serverShapes, () => ja3s(h));
}
