/**
 * Cross-check of the decoder against tshark: for every packet of the shared captures (tunnels:
 * GRE, ERSPAN, VXLAN, Geneve; IPv6; BSD null; the PSRemoting datasets) and of pcaps/tunnels (IP-in-IP,
 * 6in4, GTP-U, Teredo), the innermost IP + TCP/UDP
 * tuple decode() reports must equal tshark's innermost one. tshark runs at test time.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openCaptureFile } from '../capture/pcap-file.js';
import { decode } from './decode.js';
import { FragmentTable } from './fragments.js';
import { DecodeStatus, PacketMeta, addrToString } from './packet-meta.js';
import { tsharkLines } from '../../test/helpers/tshark.js';

const shared = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
const ja4Dir = path.join(shared, 'conformance/ja4/pcaps');
const tunnelDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../pcaps/tunnels');
const files = [
  ...readdirSync(ja4Dir).map((f) => path.join(ja4Dir, f)),
  path.join(shared, 'datasets/otrf-covenant-psremoting/capture.cap'),
  path.join(shared, 'datasets/otrf-empire-psremoting/workstation5.cap'),
  path.join(shared, 'datasets/otrf-empire-psremoting/workstation6.cap'),
  // the project's own tunnel captures: IP-in-IP, 6in4, GTP-U, Teredo, and their broken twins
  ...readdirSync(tunnelDir).filter((f) => f.endsWith('.pcap')).map((f) => path.join(tunnelDir, f)),
];

/** Packets lab/gen-tunnels.ts breaks in each broken twin. */
const BROKEN_PACKETS: Record<string, number> = { 'gtpu-malformed.pcap': 3, 'teredo-malformed.pcap': 1 };

function tshark(file: string): Promise<string[]> {
  return tsharkLines(['-r', file, '-T', 'fields', '-E', 'occurrence=l', '-e', 'frame.protocols',
    '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport']);
}

/** tshark's innermost "src dst sport dport" for a TCP/UDP packet (not ICMP-quoted), else ''. */
function expected(line: string): string {
  const [protos = '', ips, ipd, i6s, i6d, ts, td, us, ud] = line.split('\t');
  const pl = protos.split(':');
  if (pl.includes('icmp') || pl.includes('icmpv6')) return '';
  const lastIp = Math.max(pl.lastIndexOf('ip'), pl.lastIndexOf('ipv6'));
  if (lastIp < 0) return '';
  const l4 = pl.lastIndexOf('tcp') > lastIp ? 'tcp' : pl.lastIndexOf('udp') > lastIp ? 'udp' : '';
  if (l4 === '') return '';
  const v6 = pl[lastIp] === 'ipv6';
  return `${v6 ? i6s : ips} ${v6 ? i6d : ipd} ${l4 === 'tcp' ? ts : us} ${l4 === 'tcp' ? td : ud}`;
}

describe('decode() innermost tuples equal tshark', () => {
  it.each(files.map((f) => [path.basename(f), f]))('%s', async (_name, file) => {
    const lines = await tshark(file);
    const meta = new PacketMeta();
    const frags = new FragmentTable();
    const got: string[] = [];
    const want: string[] = [];
    let i = 0;
    let tuples = 0;
    const broken = file.startsWith(tunnelDir) && path.basename(file).includes('-malformed');
    let rejected = 0;
    for await (const b of openCaptureFile(file).batches()) {
      for (let k = 0; k < b.n; k++, i++) {
        meta.tsMs = b.tsMs[k] as number;
        const st = decode(b.buf, b.off[k] as number, b.capLen[k] as number, b.linkType[k] as number, meta, frags);
        const exp = expected(lines[i] ?? '');
        let tuple = '';
        if (st === DecodeStatus.Ok) {
          const v = meta.ipVersion as 4 | 6;
          tuple = `${addrToString(v, meta.src0, meta.src1, meta.src2, meta.src3)} ${addrToString(v, meta.dst0, meta.dst1, meta.dst2, meta.dst3)} ${meta.sport} ${meta.dport}`;
        }
        // The broken twins' broken packets: tshark shows what it can of them, the decoder names the
        // fault and keeps no tuple; they are counted here, every other packet is compared.
        if (broken && st === DecodeStatus.Malformed) { rejected++; continue; }
        if (exp !== '') tuples++;
        // Keep only disagreements (with the frame number) so a failure shows what differs.
        if (tuple !== exp) {
          got.push(`#${i + 1} ${tuple} (status ${st} ${meta.event})`);
          want.push(`#${i + 1} ${exp}`);
        }
      }
    }
    expect(i).toBe(lines.length);
    expect(tuples).toBeGreaterThan(0);
    expect(rejected).toBe(broken ? BROKEN_PACKETS[path.basename(file)] : 0);
    expect(got).toEqual(want);
  });
});
