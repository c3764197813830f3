/** IPv4/IPv6 CIDR parsing and matching for the analytics' "internal networks" and allowlists. */

export interface Cidr {
  readonly text: string;
  contains(ip: string): boolean;
  /** IPv4 networks: the network and mask as signed 32-bit values (isExternal parses the address once for all of them). */
  readonly v4?: { readonly net: number; readonly mask: number };
}

/**
 * Dotted IPv4 → the address as a SIGNED 32-bit integer (`>>> 0` for the unsigned value), or null.
 * Signed so that the per-flow result stays a small integer, never a heap number.
 */
function v4(ip: string): number | null {
  // Hand-rolled: this runs for every flow (internal-network test), so no split/regex.
  let n = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octet > 255) return null;
      n = (n << 8) | octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3) return null;
    } else return null;
  }
  if (dots !== 3 || digits === 0 || octet > 255) return null;
  return (n << 8) | octet;
}

/** IPv6 text → 8 groups of 16 bits (accepts `::` and a trailing dotted IPv4). */
function v6(ip: string): number[] | null {
  let s = ip;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (!s.includes(':')) return null;
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const n = v4(last);
    if (n === null) return null;
    s = `${s.slice(0, lastColon + 1)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const a = parse(halves[0]!);
  const b = halves.length === 2 ? parse(halves[1]!) : [];
  if (!a || !b) return null;
  if (halves.length === 1) return a.length === 8 ? a : null;
  const fill = 8 - a.length - b.length;
  if (fill < 1) return null;
  return [...a, ...new Array<number>(fill).fill(0), ...b];
}

export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  const a4 = v4(addr);
  if (a4 !== null) {
    if (bits > 32) return null;
    const mask = bits === 0 ? 0 : 0xffffffff << (32 - bits); // signed, like v4()
    const net = a4 & mask;
    return {
      text,
      contains(ip) {
        const x = v4(ip.startsWith('::ffff:') ? ip.slice(7) : ip);
        return x !== null && (x & mask) === net;
      },
      v4: { net, mask },
    };
  }
  const a6 = v6(addr);
  if (a6 === null || bits > 128) return null;
  return {
    text,
    contains(ip) {
      const x = v6(ip);
      if (!x) return false;
      let left = bits;
      for (let g = 0; g < 8 && left > 0; g++) {
        const take = Math.min(16, left);
        const m = (0xffff << (16 - take)) & 0xffff;
        if ((x[g]! & m) !== (a6[g]! & m)) return false;
        left -= take;
      }
      return true;
    },
  };
}

/** True when `ip` is in none of the internal networks. */
export function isExternal(ip: string, internal: readonly Cidr[]): boolean {
  let x: number | null | undefined; // the IPv4 address, parsed at the first IPv4 network
  for (const c of internal) {
    const n = c.v4;
    if (n === undefined) { if (c.contains(ip)) return false; continue; }
    if (x === undefined) x = v4(ip.startsWith('::ffff:') ? ip.slice(7) : ip);
    if (x !== null && (x & n.mask) === n.net) return false;
  }
  return true;
}
