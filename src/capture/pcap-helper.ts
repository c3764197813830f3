/**
 * The libpcap capture helper process (see live-pcap.ts for why the session lives in a process of
 * its own). Run as `node dist/pcap-helper.mjs`; options arrive in NDR_PCAP_OPTS, the `pcap`
 * package's path in NDR_PCAP_MODULE (resolved by the sensor, which knows where its packages are).
 *
 * Writes the eBPF loader's record framing to stdout: READY (u32 link type, u32 3, interface name),
 * PACKET (u64 ns timestamp, u32 original length, u32 0, the bytes), STATS (u32 3, u32 0, then
 * received, dropped, interface-dropped as u64). Reads 40-byte commands on stdin: cmd 2 = send stats
 * now. SIGTERM, SIGINT or stdin EOF = final stats and exit.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Pcap from 'pcap';
import { LinkType } from './source.js';

/** What the sensor passes in NDR_PCAP_OPTS. */
export interface PcapHelperOptions {
  iface: string;
  filter: string;
  bufferBytes: number;
  snap: number;
  promisc: boolean;
  timeoutMs: number;
  statsMs: number;
}

const LINK_TYPES: Record<string, number> = {
  LINKTYPE_ETHERNET: LinkType.Ethernet,
  LINKTYPE_NULL: LinkType.Null,
  LINKTYPE_RAW: LinkType.Raw,
  LINKTYPE_LINUX_SLL: LinkType.LinuxSll,
};

const o = JSON.parse(process.env['NDR_PCAP_OPTS'] ?? '{}') as PcapHelperOptions;
const pcap = createRequire(import.meta.url)(process.env['NDR_PCAP_MODULE'] ?? 'pcap') as typeof Pcap;
// libpcap's warnings (an interface without an address, say) are not errors of the capture.
(pcap as { warningHandler: (text: string) => void }).warningHandler = () => {};

// This file is a program, not a library module: its module state (the session, the output
// buffer, the unread command bytes) is the helper process's own and nobody imports it.
let s: Pcap.PcapSession;
try {
  s = pcap.createSession(o.iface, { filter: o.filter, buffer_size: o.bufferBytes, snap_length: o.snap, promiscuous: o.promisc, buffer_timeout: o.timeoutMs });
} catch (e) {
  process.stderr.write(`pcap: cannot capture on ${o.iface}: ${String((e as Error | undefined)?.message ?? e).split('\n')[0]}\n`);
  process.exit(5);
}

// Records are gathered in one buffer and written once per turn of the event loop: a write per
// packet would cost a system call each.
let out = Buffer.allocUnsafe(1 << 20);
let len = 0;
let scheduled = false;

function flush(): void {
  scheduled = false;
  let off = 0;
  while (off < len) {
    try {
      off += writeSync(1, out, off, len - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      process.exit(0); // the sensor closed the pipe: nobody to capture for
    }
  }
  len = 0;
}

function room(n: number): void {
  if (len + n > out.length) {
    flush();
    if (n > out.length) out = Buffer.allocUnsafe(n * 2);
  }
  if (!scheduled) { scheduled = true; setImmediate(flush); }
}

function header(type: number, payload: number): void {
  out.writeUInt32LE(4 + payload, len);
  out[len + 4] = type; out[len + 5] = 0; out[len + 6] = 0; out[len + 7] = 0;
  len += 8;
}

function stats(): void {
  let st: Pcap.CaptureStats = { ps_recv: 0, ps_drop: 0, ps_ifdrop: 0 };
  try { st = s.stats(); } catch { /* a closing handle: report zeros rather than die */ }
  room(40); header(3, 32);
  out.writeUInt32LE(3, len); out.writeUInt32LE(0, len + 4);
  out.writeBigUInt64LE(BigInt(st.ps_recv >>> 0), len + 8);
  out.writeBigUInt64LE(BigInt(st.ps_drop >>> 0), len + 16);
  out.writeBigUInt64LE(BigInt(st.ps_ifdrop >>> 0), len + 24);
  len += 32;
}

const name = Buffer.from(o.iface);
room(16 + name.length); header(4, 8 + name.length);
out.writeUInt32LE(LINK_TYPES[s.link_type] ?? 1, len); out.writeUInt32LE(3, len + 4); name.copy(out, len + 8);
len += 8 + name.length;
flush();

s.on('packet', (p: Pcap.PacketWithHeader) => {
  const h = p.header;
  const sec = h.readUInt32LE(0), usec = h.readUInt32LE(4), cap = h.readUInt32LE(8), orig = h.readUInt32LE(12);
  room(24 + cap); header(1, 16 + cap);
  out.writeBigUInt64LE(BigInt(sec) * 1000000000n + BigInt(usec) * 1000n, len);
  out.writeUInt32LE(orig, len + 8); out.writeUInt32LE(0, len + 12);
  p.buf.copy(out, len + 16, 0, cap);
  len += 16 + cap;
});
setInterval(stats, o.statsMs);

let pending = Buffer.alloc(0);
process.stdin.on('data', (d: Buffer) => {
  pending = Buffer.concat([pending, d]);
  while (pending.length >= 40) {
    if (pending[0] === 2) { stats(); flush(); }
    pending = pending.subarray(40);
  }
});
function bye(): void { stats(); flush(); process.exit(0); }
process.stdin.on('end', bye);
process.on('SIGTERM', bye);
process.on('SIGINT', bye);
