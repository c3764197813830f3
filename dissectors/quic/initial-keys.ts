/**
 * QUIC Initial packet protection (RFC 9001 §5.2, §5.4; RFC 9369 §3.3.1-3.3.2 for v2).
 *
 * Why node:crypto here: dissectors do no I/O, but AES-128-GCM, AES-128-ECB (header protection)
 * and HMAC-SHA256 (HKDF) are pure computation, and node:crypto is the only way to run them in
 * Node without a dependency. It is the one node: import allowed under dissectors/ (quic only).
 * Nothing here throws on the data path: an authentication failure returns null.
 */
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

export const QuicVersion = { V1: 0x00000001, V2: 0x6b3343cf } as const;
export type KnownQuicVersion = (typeof QuicVersion)[keyof typeof QuicVersion];

interface VersionParams {
  readonly salt: Uint8Array;
  readonly keyLabel: string;
  readonly ivLabel: string;
  readonly hpLabel: string;
}

function fromHexConst(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** RFC 9001 §5.2 initial_salt; RFC 9369 §3.3.1 salt and §3.3.2 labels. */
const PARAMS_V1: VersionParams = { salt: fromHexConst('38762cf7f55934b34d179ae6a4c80cadccbb7f0a'), keyLabel: 'quic key', ivLabel: 'quic iv', hpLabel: 'quic hp' };
const PARAMS_V2: VersionParams = { salt: fromHexConst('0dede3def700a6db819381be6e269dcbf9bd2ed9'), keyLabel: 'quicv2 key', ivLabel: 'quicv2 iv', hpLabel: 'quicv2 hp' };

export function isKnownVersion(v: number): v is KnownQuicVersion {
  return v === QuicVersion.V1 || v === QuicVersion.V2;
}

export interface PacketKeys {
  readonly key: Uint8Array; // AEAD key, 16 bytes
  readonly iv: Uint8Array; // 12 bytes
  readonly hp: Uint8Array; // header-protection key, 16 bytes
}

export interface InitialKeys {
  readonly version: KnownQuicVersion;
  readonly cid: Uint8Array; // the connection id the keys were derived from (owned copy)
  readonly client: PacketKeys;
  readonly server: PacketKeys;
}

function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(data).digest());
}

/** HKDF-Expand-Label of TLS 1.3 (RFC 8446 §7.1) with an empty context; length ≤ 32 (one HMAC block). */
export function hkdfExpandLabel(secret: Uint8Array, label: string, length: number): Uint8Array {
  const full = 'tls13 ' + label;
  const info = new Uint8Array(2 + 1 + full.length + 1 + 1);
  info[0] = (length >>> 8) & 0xff;
  info[1] = length & 0xff;
  info[2] = full.length;
  for (let i = 0; i < full.length; i++) info[3 + i] = full.charCodeAt(i);
  info[3 + full.length] = 0; // context length
  info[4 + full.length] = 1; // HKDF-Expand block counter T(1) (RFC 5869 §2.3)
  return hmac(secret, info).subarray(0, length);
}

function packetKeys(secret: Uint8Array, p: VersionParams): PacketKeys {
  return { key: hkdfExpandLabel(secret, p.keyLabel, 16), iv: hkdfExpandLabel(secret, p.ivLabel, 12), hp: hkdfExpandLabel(secret, p.hpLabel, 16) };
}

/** RFC 9001 §5.2: initial_secret = HKDF-Extract(salt, client's Destination Connection ID). */
export function deriveInitialKeys(version: KnownQuicVersion, dcid: Uint8Array): InitialKeys {
  const p = version === QuicVersion.V2 ? PARAMS_V2 : PARAMS_V1;
  const initialSecret = hmac(p.salt, dcid);
  const clientSecret = hkdfExpandLabel(initialSecret, 'client in', 32);
  const serverSecret = hkdfExpandLabel(initialSecret, 'server in', 32);
  const cid = new Uint8Array(dcid.length);
  cid.set(dcid);
  return { version, cid, client: packetKeys(clientSecret, p), server: packetKeys(serverSecret, p) };
}

/** RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample)[0..5]. `sample` must be 16 bytes. */
export function headerProtectionMask(hp: Uint8Array, sample: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-128-ecb', hp, null);
  c.setAutoPadding(false);
  return new Uint8Array(c.update(sample));
}

/** RFC 9001 §5.3: the AEAD nonce is the IV XORed with the left-padded packet number. */
function nonceFor(keys: PacketKeys, packetNumber: number): Uint8Array {
  const nonce = new Uint8Array(12);
  nonce.set(keys.iv);
  let pn = packetNumber;
  for (let i = 11; i >= 4 && pn > 0; i--) {
    nonce[i] = (nonce[i] as number) ^ (pn % 256);
    pn = Math.floor(pn / 256);
  }
  return nonce;
}

/**
 * RFC 9001 §5.3: AEAD_AES_128_GCM open. nonce = iv XOR left-padded packet number.
 * Returns the plaintext, or null when the tag does not verify.
 */
export function openPayload(keys: PacketKeys, packetNumber: number, aad: Uint8Array, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < 16) return null;
  const nonce = nonceFor(keys, packetNumber);
  try {
    const d = createDecipheriv('aes-128-gcm', keys.key, nonce);
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const a = d.update(sealed.subarray(0, sealed.length - 16));
    const b = d.final();
    if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  } catch {
    return null; // authentication failed: a named event for the caller, never a throw
  }
}
