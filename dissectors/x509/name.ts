/**
 * Name → RFC 4514 string (RDNs in reverse order, '+' inside multi-valued RDNs), the CN, and the
 * ordered attribute-type OIDs (hex content octets, for JA4X). Bounded by maxNameBytes.
 */
import { hex, latin1Bounded, utf8Bounded } from '../../src/util/bytes.js';
import { type Der, oidToString, Tag } from './der.js';

const SHORT: { readonly [oid: string]: string } = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

export interface NameOut {
  text: string;
  cn: string | null;
  oids: string[];
  truncated: boolean;
  /** The Name's full DER (owned copy is not needed: compared inside the parse call). */
  raw: Uint8Array;
}

/** Decode a directory string value to text; null when it is not a string type. */
function valueText(tag: number, v: Uint8Array, max: number): string | null {
  switch (tag) {
    case Tag.Utf8String:
      return utf8Bounded(v, max * 4);
    case Tag.PrintableString:
    case Tag.Ia5String:
    case Tag.NumericString:
    case Tag.VisibleString:
    case Tag.TeletexString:
      return latin1Bounded(v, max);
    case Tag.BmpString: {
      let s = '';
      for (let i = 0; i + 1 < v.length && s.length < max; i += 2) s += String.fromCharCode(((v[i] as number) << 8) | (v[i + 1] as number));
      return s;
    }
    case Tag.UniversalString: {
      let s = '';
      for (let i = 0; i + 3 < v.length && s.length < max; i += 4) {
        const cp = (((v[i] as number) << 24) | ((v[i + 1] as number) << 16) | ((v[i + 2] as number) << 8) | (v[i + 3] as number)) >>> 0;
        s += cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
      }
      return s;
    }
    default:
      return null;
  }
}

/** RFC 4514 §2.4 escaping. */
function escapeValue(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    const c = s[i] as string;
    if (c === ',' || c === '+' || c === '"' || c === '\\' || c === '<' || c === '>' || c === ';' || (i === 0 && (c === '#' || c === ' ')) || (i === s.length - 1 && c === ' ')) out += '\\' + c;
    else if (ch === 0) out += '\\00';
    else out += c;
  }
  return out;
}

/** Parse a Name at the cursor (SEQUENCE OF RelativeDistinguishedName, RFC 5280 §4.1.2.4). */
export function parseName(d: Der, maxNameBytes: number, out: NameOut): void {
  out.text = '';
  out.cn = null;
  out.oids = [];
  out.truncated = false;
  const start = d.c.pos;
  const seq = d.enter(Tag.Sequence);
  if (seq < 0) return;
  const rdns: string[] = [];
  while (d.remaining > 0 && d.err === null) {
    const set = d.enter(Tag.Set);
    if (set < 0) break;
    let rdn = '';
    while (d.remaining > 0 && d.err === null) {
      const atv = d.enter(Tag.Sequence);
      if (atv < 0) break;
      const oidBytes = d.prim(Tag.Oid);
      const vt = d.any();
      const v = d.last;
      d.leave(atv);
      if (d.err !== null) break;
      out.oids.push(hex(oidBytes));
      const dotted = oidToString(oidBytes);
      if (dotted === null) {
        d.fail('x509.bad_oid');
        break;
      }
      const text = valueText(vt, v, maxNameBytes);
      const type = SHORT[dotted] ?? dotted;
      if (dotted === '2.5.4.3' && out.cn === null && text !== null) out.cn = text;
      if (rdn.length > 0) rdn += '+';
      // values of unknown or non-string type: '#' + hex of the whole BER encoding (RFC 4514 §2.4)
      rdn += type + '=' + (text !== null ? escapeValue(text) : '#' + encodeTlvHex(vt, v));
    }
    d.leave(set);
    rdns.push(rdn);
  }
  d.leave(seq);
  let s = '';
  for (let i = rdns.length - 1; i >= 0; i--) {
    if (s.length > 0) s += ',';
    s += rdns[i] as string;
  }
  if (s.length > maxNameBytes) {
    s = s.substring(0, maxNameBytes);
    out.truncated = true;
  }
  out.text = s;
  out.raw = d.buf.subarray(start, d.c.pos);
}

function encodeTlvHex(tag: number, v: Uint8Array): string {
  const n = v.length;
  let h = hex(Uint8Array.of(tag));
  if (n < 0x80) h += hex(Uint8Array.of(n));
  else if (n < 0x100) h += '81' + hex(Uint8Array.of(n));
  else h += '82' + hex(Uint8Array.of(n >>> 8, n & 0xff));
  return h + hex(v);
}
