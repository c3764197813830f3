// Kept apart from tls.ts so the CLI can show these defaults in its help without loading grpc-js.

/**
 * Resource limits of the EDR and SIEM servers (config keys of `edr serve` / `siem serve`, see
 * docs/OPERATIONS.md). Without them one client could hold thousands of idle streams or make the
 * server buffer several huge messages at once.
 */
export interface ServerLimits {
  /** Largest request message accepted (bytes); a bigger one fails with RESOURCE_EXHAUSTED. */
  maxMessageBytes: number;
  /** Concurrent streams per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
  /** A connection without any call for this long is closed (ms). */
  idleTimeoutMs: number;
  /** The server pings a connection after this much silence (ms) and drops it when no answer comes within keepaliveTimeoutMs. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** Memory the HTTP/2 session may buffer (MiB) before it refuses new streams. */
  maxSessionMemoryMiB: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxMessageBytes: 64 << 20,
  maxConcurrentStreams: 64,
  idleTimeoutMs: 300_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  maxSessionMemoryMiB: 256,
};
