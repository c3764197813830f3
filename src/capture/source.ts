/** Capture sources hand the pipeline batches of packets, never one callback per packet (DESIGN §2.1). */

/** Link types (LINKTYPE_* numbers from the pcap spec). */
export const LinkType = {
  Null: 0, // BSD loopback: 4-byte host-order address family
  Ethernet: 1,
  Raw: 101, // raw IPv4/IPv6
  Loop: 108, // OpenBSD loopback: 4-byte network-order address family
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  LinuxSll2: 276,
} as const;

/**
 * One batch. Arrays are reused by the source for the next batch: consume a batch fully before
 * asking for the next one. Packet i's bytes are buf[off[i] .. off[i] + capLen[i]).
 */
export interface PacketBatch {
  n: number;
  buf: Uint8Array;
  off: Uint32Array;
  capLen: Uint32Array;
  origLen: Uint32Array;
  tsMs: Float64Array; // epoch milliseconds with sub-ms fraction
  linkType: Uint16Array;
}

/** Counters every source reports (metrics and the replay summary). */
export interface SourceStats {
  packets: number;
  bytes: number;
  /** Packets the kernel dropped (live sources), 0 for files. */
  kernelDrops: number;
  /** Set when a file ended in the middle of a record. */
  truncated: boolean;
  /** Warnings worth a line on stderr (bad block skipped, …). */
  warnings: string[];
}

export interface CaptureSource {
  readonly name: string;
  batches(): AsyncIterable<PacketBatch>;
  stats(): SourceStats;
  close(): Promise<void>;
}

/** A file that is not a capture, or a capture the reader cannot continue. One line, no stack. */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
}

export function newBatch(capacity: number): PacketBatch {
  return {
    n: 0,
    buf: new Uint8Array(0),
    off: new Uint32Array(capacity),
    capLen: new Uint32Array(capacity),
    origLen: new Uint32Array(capacity),
    tsMs: new Float64Array(capacity),
    linkType: new Uint16Array(capacity),
  };
}
