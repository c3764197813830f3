/**
 * Every client fingerprint of a ClientHello (JA4 and its _r/_o/_ro forms, JA3, the cipher list),
 * memoised on the hello's shape. A network has few distinct client stacks and each repeats its
 * hello field for field, so the hashes are computed once per shape rather than once per flow.
 *
 * The shape is what the fingerprints read, one UTF-16 unit per 16-bit value: transport, options,
 * legacy version, supported versions, ciphers, extensions, signature algorithms, groups, point
 * formats, and the first/last byte of the first ALPN name. GREASE values are dropped where every
 * fingerprint drops them (a browser picks fresh GREASE per connection) but kept in signature
 * algorithms, where `keepSigAlgGrease` can make them count. Stacks that shuffle their extension
 * order (Chrome) make a new shape per order; they cost one miss each, no more than before.
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

/** Shapes kept per thread; the table is cleared when it fills (distinct stacks are few). */
const MAX_SHAPES = 4096;
const clientShapes = new Map<string, ClientPrints>();
const serverShapes = new Map<string, string>();
/** The shape being built: one 16-bit unit per value (lists are bounded by the TLS limits). */
let units = new Uint16Array(4096);
let n = 0;

function put(v: number): void {
  if (n === units.length) {
    const grown = new Uint16Array(units.length * 2);
    grown.set(units);
    units = grown;
  }
  units[n++] = v;
}

function putList(vals: readonly number[], dropGrease: boolean): void {
  const at = n;
  put(0);
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] as number;
    if (dropGrease && isGrease(v)) continue;
    put(v);
  }
  units[at] = n - at - 1;
}

function shapeKey(h: TlsClientHello, transport: Ja4Transport, opts: Ja4Options | undefined): string {
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
  return unitsString();
}

/** The units as a string; applied in slices when long, to stay well under argument limits. */
function unitsString(): string {
  let key = '';
  for (let i = 0; i < n; i += 4096) key += String.fromCharCode.apply(null, units.subarray(i, Math.min(n, i + 4096)) as unknown as number[]);
  return key;
}

function compute(h: TlsClientHello, transport: Ja4Transport, opts: Ja4Options | undefined): ClientPrints {
  const all = ja4All(h, transport, opts);
  const j3 = ja3(h);
  const supportedCiphers: string[] = [];
  for (const c of h.cipherSuites) if (!isGrease(c)) supportedCiphers.push(hex4(c));
  return { ja4: all.ja4, ja4_r: all.ja4_r, ja4_o: all.ja4_o, ja4_ro: all.ja4_ro, ja3: j3.ja3, ja3_full: j3.ja3_full, supportedCiphers };
}

export function clientPrints(h: TlsClientHello, transport: Ja4Transport, opts?: Ja4Options): ClientPrints {
  const key = shapeKey(h, transport, opts);
  let p = clientShapes.get(key);
  if (p === undefined) {
    p = compute(h, transport, opts);
    if (clientShapes.size >= MAX_SHAPES) clientShapes.clear();
    clientShapes.set(key, p);
  }
  return p;
}

/** JA3S, memoised on (legacy version, cipher, extensions). */
export function serverJa3s(h: TlsServerHello): string {
  n = 0;
  put(h.legacyVersion);
  put(h.cipherSuite);
  putList(h.extensions, true);
  const key = unitsString();
  let p = serverShapes.get(key);
  if (p === undefined) {
    p = ja3s(h);
    if (serverShapes.size >= MAX_SHAPES) serverShapes.clear();
    serverShapes.set(key, p);
  }
  return p;
}
