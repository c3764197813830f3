/**
 * The "read floor": walk every record of a capture through the same reader the pipeline uses,
 * with no decoding. The benchmark compares pipeline throughput against it.
 */
import { openCaptureFile } from './pcap-file.js';
import type { CaptureFileOptions } from './pcap-file.js';

export interface WalkResult {
  packets: number;
  /** Captured bytes of all packets. */
  bytes: number;
  seconds: number;
}

export async function walkFile(path: string, opts: CaptureFileOptions = {}): Promise<WalkResult> {
  const t0 = process.hrtime.bigint();
  const src = openCaptureFile(path, opts);
  let packets = 0;
  let bytes = 0;
  try {
    for await (const batch of src.batches()) {
      const cap = batch.capLen;
      const n = batch.n;
      packets += n;
      for (let i = 0; i < n; i++) bytes += cap[i] as number;
    }
  } finally {
    await src.close();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { packets, bytes, seconds };
}
