/**
 * A CommonJS package loaded on first use instead of at start. The sensor's start-up is spent
 * mostly in loading packages, and several are needed only when their protocol or feature shows
 * up (the MQTT and AMQP 1.0 codecs, the YAML parser); a replay without them should not pay for
 * them. The load is synchronous so packet-path callers stay synchronous; it happens once.
 */
import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

export function lazyRequire<T>(id: string): () => T {
  let mod: T | undefined;
  return () => (mod ??= requireHere(id) as T);
}
