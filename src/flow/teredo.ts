/**
 * Teredo's indicators on a flow (RFC 4380): the origin and authentication indicators the decoder
 * read from each packet's Teredo header, and what a Teredo address among the flow's endpoints
 * encodes. Only flows whose first packet came through Teredo carry them (Flow.tunnel).
 */
import { addrToString, TEREDO_PRESENT, type PacketMeta } from '../decode/packet-meta.js';
import type { Flow } from './flow.js';
import type { TeredoInfo } from './record.js';

/** Count this packet's indicators on the flow; the first of each kind is kept as it came. */
export function noteTeredo(f: Flow, m: PacketMeta): void {
  const t = f.tunnel;
  if (t === null || t.type !== 'teredo') return;
  const info = t.teredo ?? (t.teredo = { address: null, origin: null, auth: null });
  if (m.teredoOrigin !== 0) {
    if (info.origin === null) info.origin = { ip: addrToString(4, m.teredoOriginAddr, 0, 0, 0), port: m.teredoOrigin & 0xffff, packets: 0 };
    info.origin.packets++;
  }
  if (m.teredoAuth !== 0) {
    if (info.auth === null) {
      const a = m.teredoAuth & (TEREDO_PRESENT - 1);
      const nonce = (m.teredoNonceHi >>> 0).toString(16).padStart(8, '0') + (m.teredoNonceLo >>> 0).toString(16).padStart(8, '0');
      info.auth = { clientIdLength: a >>> 16, valueLength: (a >>> 8) & 0xff, nonce, confirmation: a & 0xff, packets: 0 };
    }
    info.auth.packets++;
  }
}

/** The Teredo prefix 2001:0000::/32 as the first address word. */
const TEREDO_PREFIX = 0x20010000;

/**
 * A Teredo address's fields (§4): server IPv4 in bits 32-63, flags in 64-79, then the client's
 * mapped port and IPv4 address, each bit inverted. The flow's client is tried first.
 */
export function teredoAddress(f: Flow): TeredoInfo['address'] {
  if (f.ipVersion !== 6) return null;
  const ends: [TeredoAddressEnd, number, number, number][] = [['client', f.a1, f.a2, f.a3], ['server', f.b1, f.b2, f.b3]];
  for (const [end, w1, w2, w3] of ends) {
    if ((end === 'client' ? f.a0 : f.b0) !== TEREDO_PREFIX) continue;
    return { end, server: addrToString(4, w1, 0, 0, 0), flags: w2 >>> 16, mappedIp: addrToString(4, ~w3 >>> 0, 0, 0, 0), mappedPort: ~w2 & 0xffff };
  }
  return null;
}

type TeredoAddressEnd = 'client' | 'server';
