/**
 * A tiny authoritative DNS server over UDP and TCP (server namespace). argv: IPv4 address to
 * listen on and answer with, IPv6 address to answer AAAA with. Knows the names in DNS_NAMES: an A
 * and AAAA, a CNAME with its target's A, an NXDOMAIN, and a name whose 40 A records are only
 * answered over TCP (over UDP the answer is empty with TC set, so the client retries over TCP).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DNS_NAMES } from './misc-names.js';

const ip4 = process.argv[2] ?? '';
const ip6 = process.argv[3] ?? '';
const enc = (name: string): Buffer => Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
const u16 = (v: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; };
const rr = (nameBytes: Buffer, type: number, ttl: number, rdata: Buffer): Buffer => Buffer.concat([nameBytes, u16(type), u16(1), u32(ttl), u16(rdata.length), rdata]);
const a4 = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number));

function a6(ip: string): Buffer {
  const [h = '', t = ''] = ip.split('::');
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const words = [...hs, ...Array<string>(8 - hs.length - ts.length).fill('0'), ...ts];
  return Buffer.concat(words.map((w) => u16(parseInt(w, 16))));
}

function answer(q: Buffer, tcp: boolean): Buffer {
  const id = q.readUInt16BE(0);
  let p = 12;
  const labels: string[] = [];
  while (q[p] !== 0) { const n = q[p] ?? 0; labels.push(q.subarray(p + 1, p + 1 + n).toString()); p += n + 1; }
  const qname = labels.join('.').toLowerCase();
  const qtype = q.readUInt16BE(p + 1);
  const question = q.subarray(12, p + 5);
  const ptr = Buffer.from([0xc0, 12]);
  let rcode = 0;
  let tc = 0;
  const ans: Buffer[] = [];
  if (qname === DNS_NAMES.a && qtype === 1) ans.push(rr(ptr, 1, 300, a4(ip4)));
  else if (qname === DNS_NAMES.a && qtype === 28) ans.push(rr(ptr, 28, 300, a6(ip6)));
  else if (qname === DNS_NAMES.cname) {
    const target = enc(DNS_NAMES.cnameTarget);
    ans.push(rr(ptr, 5, 600, target));
    const targetAt = 12 + question.length + 12;
    if (qtype === 1) ans.push(rr(Buffer.from([0xc0, targetAt]), 1, 60, a4(ip4)));
  } else if (qname === DNS_NAMES.tcp && qtype === 1) {
    if (!tcp) tc = 1;
    else for (let i = 1; i <= 40; i++) ans.push(rr(ptr, 1, 120, a4('10.99.' + (i >> 8) + '.' + (i & 255))));
  } else if (qname === DNS_NAMES.nx) rcode = 3;
  const flags = 0x8000 | 0x0400 | (tc << 9) | (q.readUInt16BE(2) & 0x0100) | 0x0080 | rcode;
  return Buffer.concat([u16(id), u16(flags), u16(1), u16(ans.length), u16(0), u16(0), question, ...ans]);
}

const udp = dgram.createSocket('udp4');
udp.on('message', (m, r) => { try { udp.send(answer(m, false), r.port, r.address); } catch { /* a malformed query gets no answer */ } });
const tcpServer = net.createServer((s) => {
  let buf = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
      buf = buf.subarray(2 + m.length);
      const a = answer(m, true);
      s.write(Buffer.concat([u16(a.length), a]));
    }
  });
  s.on('error', () => {});
});
udp.bind(53, ip4, () => tcpServer.listen(53, ip4, () => console.log('ready')));
