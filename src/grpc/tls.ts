/**
 * Transport security for the EDR and SIEM channels: mTLS with CA/cert/key, plaintext only to
 * loopback unless explicitly allowed.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';

/** PEM file paths or contents. */
export interface TlsFiles {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * Name the peer's certificate must carry when it differs from the endpoint's host (e.g. the
   * endpoint is an IP address or a load balancer name). '' or absent: the endpoint's host.
   */
  serverName?: string;
}

/**
 * Channel options that make grpc-js check the server certificate against `serverName` (and send
 * it as SNI and :authority) instead of the endpoint's host.
 */
export function tlsChannelOptions(tls: TlsFiles | null): grpc.ChannelOptions {
  if (!tls?.serverName) return {};
  return { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName };
}

function pem(v: string | Buffer): Buffer {
  if (Buffer.isBuffer(v)) return v;
  return v.includes('-----BEGIN') ? Buffer.from(v) : readFileSync(v);
}

/** Host part of "host:port", "[v6]:port", "dns:///host:port", "unix:/path". */
export function endpointHost(endpoint: string): string {
  let e = endpoint.replace(/^dns:\/\/\/?/, '').replace(/^ipv4:|^ipv6:/, '');
  if (e.startsWith('unix:')) return 'unix';
  if (e.startsWith('[')) return e.slice(1, e.indexOf(']'));
  const colon = e.lastIndexOf(':');
  if (colon !== -1 && e.indexOf(':') === colon) e = e.slice(0, colon);
  return e;
}

export function isLoopbackEndpoint(endpoint: string): boolean {
  const h = endpointHost(endpoint).toLowerCase();
  return h === 'unix' || h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export class InsecureEndpointError extends Error {
  override readonly name = 'InsecureEndpointError';
}

export function clientCredentials(
  endpoint: string,
  tls: TlsFiles | null,
  allowPlaintextRemote: boolean,
  what: string,
): grpc.ChannelCredentials {
  if (tls) return grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert));
  if (!isLoopbackEndpoint(endpoint) && !allowPlaintextRemote) {
    throw new InsecureEndpointError(
      `${what}: refusing plaintext gRPC to non-loopback ${endpoint}; configure mTLS (ca/cert/key) or allow plaintext explicitly`,
    );
  }
  return grpc.credentials.createInsecure();
}

export function serverCredentials(listen: string, tls: TlsFiles | null, allowPlaintextRemote: boolean, what: string): grpc.ServerCredentials {
  if (tls) return grpc.ServerCredentials.createSsl(pem(tls.ca), [{ private_key: pem(tls.key), cert_chain: pem(tls.cert) }], true);
  if (!isLoopbackEndpoint(listen) && !allowPlaintextRemote) {
    throw new InsecureEndpointError(`${what}: refusing to listen in plaintext on non-loopback ${listen}; configure mTLS or allow plaintext explicitly`);
  }
  return grpc.ServerCredentials.createInsecure();
}

/** True when a gRPC error looks like a TLS/certificate failure (worth one clear log line, not retries). */
export function isTlsFailure(details: string): boolean {
  return /certificate|ssl|tls|handshake|self[- ]signed|unable to verify|wrong version number|alert/i.test(details);
}

export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './limits.js';

/** grpc-js server options for the limits (defaults filled in). */
export function serverOptions(limits: Partial<ServerLimits> = {}): grpc.ServerOptions {
  const l = { ...DEFAULT_SERVER_LIMITS, ...limits };
  return {
    'grpc.max_receive_message_length': l.maxMessageBytes,
    'grpc.max_concurrent_streams': l.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': l.idleTimeoutMs,
    'grpc.keepalive_time_ms': l.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': l.keepaliveTimeoutMs,
    'grpc-node.max_session_memory': l.maxSessionMemoryMiB,
  };
}

/** Binds a server and resolves with the bound port. */
export function bindServer(server: grpc.Server, listen: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(listen, creds, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** Lets calls in progress finish, forcing the server down after `graceMs`. */
export function shutdownServer(server: grpc.Server, graceMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => server.forceShutdown(), graceMs);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * grpc-js reports a failed TLS handshake only as "Failed to connect". When a TLS channel fails,
 * this makes one plain TLS connection with the same CA/cert/key and returns the real reason
 * (e.g. "unable to verify the first certificate", "tlsv13 alert unknown ca"), or null when the
 * handshake works (the peer is simply down or refusing).
 */
export async function diagnoseTls(endpoint: string, tls: TlsFiles, timeoutMs = 2000): Promise<string | null> {
  const { connect } = await import('node:tls');
  const host = endpointHost(endpoint);
  const port = Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = connect({ host, port, ca: pem(tls.ca), cert: pem(tls.cert), key: pem(tls.key), ALPNProtocols: ['h2'], servername: tls.serverName || (/^[\d.:]+$/.test(host) ? '' : host) });
    // TLS 1.3 servers reject a client certificate after the handshake: wait briefly for their alert.
    let secured = false;
    sock.on('secureConnect', () => {
      secured = true;
      setTimeout(() => done(null), 300);
    });
    sock.on('close', () => {
      if (secured) done('the server closed the connection right after the TLS handshake: it rejected our client certificate (not issued by a CA it trusts?)');
    });
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' && !e.message.includes('alert') ? null : e.message));
    sock.on('data', () => undefined);
    const timer = setTimeout(() => done(null), timeoutMs);
  });
}
