/**
 * A short run of the load comparison (bench/live-load.ts): both sources see every TLS ClientHello
 * while iperf3 loads the link; the eBPF feed forwards a small fraction of what its program saw.
 * The bench runs the full version (1,000 handshakes) and prints the figures.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatLoadFigures, runLoadComparison } from '../../bench/live-load.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));

describe('capture under load', () => {
  it('eBPF and libpcap both keep up with handshakes under iperf3 load', async () => {
    if (!existsSync(`${repo}bpf/build/ndr-loader`)) execFileSync('make', ['-C', `${repo}bpf`], { stdio: 'pipe' });
    const figs = await runLoadComparison({ seconds: 2, handshakes: 60, concurrency: 6 });
    console.log(formatLoadFigures(figs));
    const [e, p] = figs;
    expect(e?.source).toBe('ebpf');
    expect(p?.source).toBe('pcap');
    for (const f of figs) {
      expect(f.handshakesDone).toBe(60);
      expect(f.iperfGbps).toBeGreaterThan(0);
      expect(f.userPackets).toBeLessThanOrEqual(f.kernelPackets);
      if (f.kernelDrops === 0) expect(f.clientHellosSeen).toBe(60);
    }
    const eb = e as NonNullable<typeof e>;
    expect(eb.kernelDrops).toBe(0);
    expect(eb.clientHellosSeen).toBe(60);
    expect(eb.userPackets).toBe(eb.kernelForwarded); // nothing lost between the ring and user space
    expect(eb.kernelPackets).toBeGreaterThan(eb.userPackets * 10); // the bulk is only counted in the kernel
    expect(eb.cpuMs.bpfProgram).toBeGreaterThan(0);
  });
});
