/**
 * Bounds of the per-key structures after the flow table (issue 25), and how each reports itself.
 * Every one of them inserts and evicts in O(1) amortised (a Map in insertion order, or a
 * placement-stamp LRU), holds at most its bound, and counts what it evicted; the counts reach the
 * metrics as ndr_state_evictions_total{structure} and the sizes as ndr_state_entries{structure}.
 * sensor.yaml sets the bounds in its `state` section (src/config/config.ts validates them).
 */

export interface StateLimits {
  /** (host, destination, port) pairs the beacon tracker keeps (least recently placed go first). */
  beaconPairs: number;
  /** Connection starts kept per beacon pair (the oldest go first). */
  beaconConnectionsPerPair: number;
  /** Facts kept in memory by the baseline store (first-seen times, counts); the oldest go first. */
  baselineKeys: number;
  /** (client, answer address) → name entries of the DNS names cache. */
  dnsNames: number;
  /** Alert keys held for deduplication. */
  alertDedupKeys: number;
  /** Attributions cached by the EDR client. */
  edrCacheEntries: number;
  /** Certificates kept by the certificate cache (each parsed once). */
  certificates: number;
  /**
   * Certificates and JA4 fingerprints (one set, the name kept for existing configs) each output
   * stream remembers having described today (lean output): one past
   * the bound is described again when it comes back, never lost.
   */
  describedCertificates: number;
}

export const DEFAULT_STATE_LIMITS: StateLimits = {
  beaconPairs: 100_000,
  beaconConnectionsPerPair: 1_024,
  baselineKeys: 1_000_000,
  dnsNames: 100_000,
  alertDedupKeys: 100_000,
  edrCacheEntries: 100_000,
  certificates: 10_000,
  describedCertificates: 100_000,
};

/** One structure's size, bound and evictions so far. */
export interface StateReport {
  structure: string;
  size: number;
  capacity: number;
  evictions: number;
}
