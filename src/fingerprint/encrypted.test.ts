import { createCipheriv, randomBytes } from 'node:crypto';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { emptyDir, type FlowRecord } from '../flow/record.js';
import { putSection } from '../flow/finalize.js';
import { tlsSection, type TlsInfo } from '../../dissectors/tls/record.js';
import { mqttSection, type MqttInfo } from '../../dissectors/mqtt/record.js';
import { httpSection, type HttpInfo } from '../../dissectors/http/record.js';
import { classifyEncrypted, lengthPrefixedFrames, SUSPICIOUS_MIN_SCORE } from './encrypted.js';
import { entropyOf } from '../flow/entropy.js';

/** The record's own fields, and protocol sections by name (put as finalize would). */
type FlowInit = Partial<FlowRecord> & { tls?: TlsInfo | null; mqtt?: MqttInfo; http?: HttpInfo };

function flow(init: FlowInit = {}): FlowRecord {
  const { tls: t, mqtt: m, http: h, ...p } = init;
  const rec: FlowRecord = {
    kind: 'flow', id: 1, communityId: '1:x', transport: 'tcp', ipVersion: 4,
    client: { ip: '10.0.0.1', port: 50000 }, server: { ip: '203.0.113.5', port: 7443 }, vlan: 0, tunnelDepth: 0,
    startTs: 0, endTs: 1000, endReason: 'fin', dirs: [emptyDir(), emptyDir()], byteRatio: null, directionFromSyn: true,
    protocol: null, events: [], limits: [], apps: {}, features: {},
    dnsName: null, entropy: [null, null], smallRecords: [{ ts: [], sizes: [] }, { ts: [], sizes: [] }], pubsub: null,
    encrypted: null, beacon: null, ja4t: null, ja4ts: null, attribution: null, ...p,
  };
  if (t) putSection(rec, tlsSection, t);
  if (m) putSection(rec, mqttSection, m);
  if (h) putSection(rec, httpSection, h);
  return rec;
}

/** A flow whose two directions carried exactly these bytes (entropy computed as the sensor would). */
function withPayload(c: Uint8Array, s: Uint8Array | null, p: FlowInit = {}): [FlowRecord, [Uint8Array, Uint8Array | null]] {
  return [flow({ entropy: [entropyOf(c.subarray(0, 4096)), s ? entropyOf(s.subarray(0, 4096)) : null], ...p }), [c.subarray(0, 512), s ? s.subarray(0, 512) : null]];
}

/** AN1389 shape: u32 length + IV + AES-256-CBC ciphertext records. */
function aesRecords(count: number, plain: number): Uint8Array {
  const key = randomBytes(32);
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const iv = randomBytes(16);
    const c = createCipheriv('aes-256-cbc', key, iv);
    const body = Buffer.concat([iv, c.update(Buffer.from(`{"id":${i},"out":"${'A'.repeat(plain)}"}`)), c.final()]);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32BE(body.length);
    parts.push(hdr, body);
  }
  return Buffer.concat(parts);
}

const hexb = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ''), 'hex'));

describe('classifyEncrypted', () => {
  it('AN1389: length-prefixed AES records with no handshake → suspicious, with evidence', () => {
    const c = aesRecords(6, 200);
    const [f, fb] = withPayload(c, aesRecords(6, 600));
    expect(f.entropy[0]?.score).toBeGreaterThanOrEqual(SUSPICIOUS_MIN_SCORE);
    const r = classifyEncrypted(f, fb);
    expect(r?.suspicious).toBe(true);
    expect(r?.known).toBeNull();
    const sig = r?.evidence.map((e) => e.signal);
    expect(sig).toEqual(expect.arrayContaining(['client_entropy', 'server_entropy', 'no_known_protocol', 'client_length_prefixed', 'client_first_bytes']));
    expect(lengthPrefixedFrames(c.subarray(0, 512))?.width).toBe(4);
  });

  it('TLS application data is never flagged, even picked up mid-stream', () => {
    // a dissector saw TLS
    const [f1, fb1] = withPayload(randomBytes(2048), randomBytes(2048), { protocol: 'tls' });
    expect(classifyEncrypted(f1, fb1)).toMatchObject({ known: 'tls', suspicious: false });
    // no dissector (mid-stream): records 17 03 03 len … found by the record-chain scan
    const rec = (n: number) => Buffer.concat([Buffer.from([0x17, 3, 3, n >> 8, n & 255]), randomBytes(n)]);
    const stream = Buffer.concat([randomBytes(37), rec(300), rec(120), rec(900)]); // starts inside a record
    const [f2, fb2] = withPayload(stream, null, { directionFromSyn: false, server: { ip: 'x', port: 443 } });
    expect(f2.entropy[0]?.score).toBeGreaterThan(0.97);
    const r = classifyEncrypted(f2, fb2);
    expect(r?.known).toBe('tls');
    expect(r?.suspicious).toBe(false);
    expect(String(r?.evidence[0]?.value)).toContain('record chain at offset 37');
    // ClientHello at offset 0
    expect(classifyEncrypted(flow(), [hexb('16030100c4010000c00303'), null])?.known).toBe('tls');
  });

  it('recognises SSH, RDP, OpenVPN (TCP) by content', () => {
    expect(classifyEncrypted(flow(), [Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'), null])?.known).toBe('ssh');
    expect(classifyEncrypted(flow({ protocol: 'ssh' }), [null, null])?.known).toBe('ssh');
    // TPKT len 0x13 + X.224 CR (LI 0x0e, code 0xe0) + RDP negotiation request
    expect(classifyEncrypted(flow(), [hexb('03000013 0ee0 0000 0000 00 01000800 03000000'), null])?.known).toBe('rdp');
    // OpenVPN TCP: len 0x2a, opcode 7 << 3 = 0x38, session id…; server answers opcode 8 << 3 = 0x40
    const ovpnC = Buffer.concat([hexb('002a38'), randomBytes(42 - 1)]);
    const ovpnS = Buffer.concat([hexb('003640'), randomBytes(53)]);
    expect(classifyEncrypted(flow(), [ovpnC, ovpnS])?.known).toBe('openvpn');
    expect(classifyEncrypted(flow(), [Buffer.concat([hexb('002a50'), randomBytes(41)]), null])?.evidence[0]?.value).toContain('V3');
    // server opcode wrong → not OpenVPN
    expect(classifyEncrypted(flow(), [ovpnC, Buffer.concat([hexb('003611'), randomBytes(53)])])).toBeNull();
  });

  it('recognises UDP protocols: WireGuard, QUIC, DTLS, IKE, ESP in NAT-T', () => {
    const udp = (p: FlowInit = {}) => flow({ transport: 'udp', ...p });
    expect(classifyEncrypted(udp(), [Buffer.concat([hexb('01000000'), randomBytes(144)]), null])?.evidence[0]?.value).toBe('wireguard: handshake initiation (148 B)');
    expect(classifyEncrypted(udp(), [null, Buffer.concat([hexb('02000000'), randomBytes(88)])])?.known).toBe('wireguard');
    expect(classifyEncrypted(udp(), [Buffer.concat([hexb('04000000'), randomBytes(60)]), null])?.known).toBe('wireguard');
    expect(classifyEncrypted(udp(), [Buffer.concat([hexb('01000000'), randomBytes(100)]), null])).toBeNull(); // wrong size
    expect(classifyEncrypted(udp(), [Buffer.concat([hexb('c30000000108'), randomBytes(1194)]), null])?.known).toBe('quic');
    expect(classifyEncrypted(udp(), [Buffer.concat([hexb('16fefd0000000000000000000c'), randomBytes(12)]), null])?.known).toBe('dtls');
    const ike = Buffer.concat([randomBytes(8), Buffer.alloc(8), hexb('21202208 00000000 0000002c'), randomBytes(16)]);
    expect(classifyEncrypted(udp({ server: { ip: 'x', port: 500 } }), [ike, null])?.known).toBe('ike');
    expect(classifyEncrypted(udp({ server: { ip: 'x', port: 4500 } }), [Buffer.concat([Buffer.alloc(4), ike]), null])?.known).toBe('ike');
    expect(classifyEncrypted(udp({ server: { ip: 'x', port: 4500 } }), [Buffer.concat([hexb('c0ffee01 00000001'), randomBytes(80)]), null])?.known).toBe('esp');
    expect(classifyEncrypted(udp({ server: { ip: 'x', port: 4500 } }), [hexb('ff'), null])?.known).toBe('esp');
  });

  it('compressed, not encrypted: magic numbers explain high entropy', () => {
    const text = Buffer.from(Array.from({ length: 400 }, (_, i) => `line ${i} value=${(i * 7919) % 10007}`).join('\n'));
    const gz = gzipSync(text);
    const [f, fb] = withPayload(gz, Buffer.from('ok\n'));
    expect(classifyEncrypted(f, fb)).toMatchObject({ known: null, suspicious: false, compressed: 'gzip' });
    expect(classifyEncrypted(flow(), [deflateSync(text), null])?.compressed).toBe('zlib');
    expect(classifyEncrypted(flow(), [hexb('504b0304140000000800'), null])?.compressed).toBe('zip');
    expect(classifyEncrypted(flow(), [hexb('28b52ffd0458'), null])?.compressed).toBe('zstd');
    expect(classifyEncrypted(flow(), [hexb('377abcaf271c0004'), null])?.compressed).toBe('7z');
    expect(classifyEncrypted(flow(), [hexb('fd377a585a000004'), null])?.compressed).toBe('xz');
    expect(classifyEncrypted(flow(), [Buffer.from('BZh91AY&SY'), null])?.compressed).toBe('bzip2');
  });

  it('not suspicious: low entropy, short samples, or a clear protocol a dissector recognised', () => {
    const text = Buffer.from('hello there, this is a plain text protocol line\n'.repeat(40));
    const [f1, fb1] = withPayload(text, text);
    expect(classifyEncrypted(f1, fb1)).toBeNull();
    const [f2, fb2] = withPayload(randomBytes(200), randomBytes(100)); // < 256 bytes each
    expect(classifyEncrypted(f2, fb2)).toBeNull();
    const [f3, fb3] = withPayload(randomBytes(2048), null, { protocol: 'mqtt' });
    expect(classifyEncrypted(f3, fb3)).toBeNull();
    const b64 = Buffer.from(randomBytes(3000).toString('base64'));
    const [f4, fb4] = withPayload(b64, null);
    expect(classifyEncrypted(f4, fb4)).toBeNull();
  });

  it('mid-stream on a TLS port inside one big record: known tls, not suspicious', () => {
    const [f, fb] = withPayload(randomBytes(4096), randomBytes(4096), { directionFromSyn: false, server: { ip: 'x', port: 443 } });
    expect(classifyEncrypted(f, fb)).toMatchObject({ known: 'tls', suspicious: false });
  });

  it('random bytes on a flow picked up mid-stream are still flagged, with a negative midstream weight', () => {
    const [f, fb] = withPayload(randomBytes(1024), null, { directionFromSyn: false });
    const r = classifyEncrypted(f, fb);
    expect(r?.suspicious).toBe(true);
    expect(r?.evidence.at(-1)).toEqual({ signal: 'midstream', value: true, weight: -0.3 });
  });
});
