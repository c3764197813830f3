/**
 * QUIC Initial packet sealing (RFC 9001 §5.3), the inverse of the dissector's openPayload: the
 * QUIC tests build protected Initial packets with it. It lives here because the sensor only ever
 * opens packets; the nonce is the IV XOR the packet number left-padded to 12 bytes.
 */
import { createCipheriv } from 'node:crypto';
import type { PacketKeys } from '../../dissectors/quic/initial-keys.js';

export function sealPayload(keys: PacketKeys, packetNumber: number, aad: Uint8Array, plain: Uint8Array): Uint8Array {
  const nonce = Uint8Array.from(keys.iv);
  let pn = packetNumber;
  for (let i = 11; i >= 4 && pn > 0; i--) {
    nonce[i] = (nonce[i] as number) ^ (pn % 256);
    pn = Math.floor(pn / 256);
  }
  const c = createCipheriv('aes-128-gcm', keys.key, nonce);
  c.setAAD(aad);
  const body = c.update(plain);
  const tail = c.final();
  const out = new Uint8Array(body.length + tail.length + 16);
  out.set(body);
  out.set(tail, body.length);
  out.set(c.getAuthTag(), body.length + tail.length);
  return out;
}
