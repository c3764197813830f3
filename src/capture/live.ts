/**
 * Choosing a live source: the eBPF feed (ebpf.ts) or libpcap (live-pcap.ts), which both read the
 * feed framing through FeedSource. Apart from both so that neither source module names the other.
 */
import type { CaptureSource } from './source.js';
import { EbpfSource, type EbpfOptions } from './ebpf.js';
import type { LivePcapOptions } from './live-pcap.js';

export interface LiveSourceOptions {
  iface: string;
  source: 'ebpf' | 'pcap' | 'auto';
  /** BPF filter for libpcap (the eBPF feed has its own selection). */
  filter?: string;
  bufferMiB?: number;
  ebpf?: Omit<EbpfOptions, 'iface'>;
  pcap?: Omit<LivePcapOptions, 'iface' | 'filter' | 'bufferMiB'>;
}

/**
 * Open a live source. With 'auto' the eBPF feed is tried first; when it cannot start, the reason
 * (one line) is returned in `fallbackReason` and libpcap is used. With 'ebpf' a failure throws.
 */
export async function openLiveSource(opts: LiveSourceOptions): Promise<{ source: CaptureSource; fallbackReason: string | null }> {
  const { LivePcapSource } = await import('./live-pcap.js');
  const pcapOpts: LivePcapOptions = { ...(opts.pcap ?? {}), iface: opts.iface, ...(opts.filter !== undefined ? { filter: opts.filter } : {}), ...(opts.bufferMiB !== undefined ? { bufferMiB: opts.bufferMiB } : {}) };
  if (opts.source === 'pcap') {
    const s = new LivePcapSource(pcapOpts);
    await s.start();
    return { source: s, fallbackReason: null };
  }
  const e = new EbpfSource({ ...(opts.ebpf ?? {}), iface: opts.iface, ...(opts.bufferMiB !== undefined ? { ringbufMiB: pow2(opts.bufferMiB) } : {}) });
  try {
    await e.start();
    return { source: e, fallbackReason: null };
  } catch (err) {
    if (opts.source === 'ebpf') throw err;
    const s = new LivePcapSource(pcapOpts);
    await s.start();
    return { source: s, fallbackReason: (err as Error).message };
  }
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
