/**
 * The AES channel's framing, shared by aes-server.ts and aes-client.ts: one record is a u32 BE
 * length of the rest, a 16-byte IV, then AES-256-CBC of a JSON object. No handshake and no magic,
 * which is the shape AN1389 looks for.
 */
import crypto from 'node:crypto';

export type Message = Record<string, unknown>;

const key = crypto.createHash('sha256').update('ndr-sensor lab pre-shared key').digest();

export function seal(obj: Message): Buffer {
  const iv = crypto.randomBytes(16);
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  const body = Buffer.concat([iv, c.update(JSON.stringify(obj)), c.final()]);
  const hdr = Buffer.alloc(4);
  hdr.writeUInt32BE(body.length);
  return Buffer.concat([hdr, body]);
}

/** A 'data' handler that reassembles records across chunks and hands each decrypted one on. */
export function opener(onRecord: (m: Message) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      const body = buf.subarray(4, 4 + len);
      buf = buf.subarray(4 + len);
      const d = crypto.createDecipheriv('aes-256-cbc', key, body.subarray(0, 16));
      onRecord(JSON.parse(Buffer.concat([d.update(body.subarray(16)), d.final()]).toString()) as Message);
    }
  };
}
