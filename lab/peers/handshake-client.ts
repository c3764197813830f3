/**
 * Handshake-bench TLS client (client namespace). argv: JSON HandshakeClientOptions. Runs `count`
 * connections, `concurrency` at a time; SNI, version, ALPN, exchange count and sizes come from a
 * seeded PRNG (mulberry32) so two runs make the same choices. Prints one HandshakeClientResult line.
 */
import tls from 'node:tls';

export interface HandshakeClientOptions {
  host: string;
  ports: readonly number[];
  /** Server identities: SNI and the length of the chain that name gets. */
  names: readonly { name: string; chain: number }[];
  count: number;
  concurrency: number;
  seed: number;
}

export interface HandshakeClientResult {
  ok: number;
  v13: number;
  v12: number;
  failed: number;
  aborted: number;
  /** Completed handshakes per chain length (index = certificates, 4 = four or more). */
  chains: number[];
}

const o = JSON.parse(process.argv[2] ?? '{}') as HandshakeClientOptions;
let seed = o.seed >>> 0;
const rnd = (): number => { seed = (seed + 0x6d2b79f5) >>> 0; let t = seed; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
let started = 0, done = 0;
const r: HandshakeClientResult = { ok: 0, v13: 0, v12: 0, failed: 0, aborted: 0, chains: [0, 0, 0, 0, 0] };

function one(): void {
  if (started >= o.count) return;
  const i = started++;
  const id = o.names[Math.floor(rnd() * o.names.length)] as { name: string; chain: number };
  const port = o.ports[i % o.ports.length] as number;
  const max = rnd() < 0.55 ? 'TLSv1.3' : 'TLSv1.2';
  const rounds = 2 + Math.floor(rnd() * 3); // 2..4 request/response exchanges
  const sizes: number[] = [];
  for (let k = 0; k < rounds; k++) sizes.push(400 + Math.floor(rnd() * 1800));
  const reqPad = 200 + Math.floor(rnd() * 700);
  const alpn = rnd() < 0.7 ? { ALPNProtocols: ['h2', 'http/1.1'] } : {};
  const s = tls.connect({ host: o.host, port, servername: id.name, minVersion: 'TLSv1.2', maxVersion: max, rejectUnauthorized: false, ...alpn });
  let left = rounds;
  let secured = false;
  let errored = false;
  const ask = (): void => { left--; s.write(left + ' ' + String(sizes[left]) + ' ' + 'x'.repeat(reqPad) + '\n'); };
  s.setNoDelay(true);
  s.on('secureConnect', () => {
    secured = true;
    r.ok++;
    if (s.getProtocol() === 'TLSv1.3') r.v13++; else r.v12++;
    r.chains[Math.min(id.chain, 4)]!++;
    ask();
  });
  s.on('data', () => { if (left > 0) ask(); });
  s.on('end', () => s.end());
  s.on('error', () => { errored = true; r.failed++; });
  // Closed before the handshake without an error (seen once under load): counted, not hidden.
  s.on('close', () => { if (!secured && !errored) r.aborted++; done++; if (done === o.count) finish(); else one(); });
}

function finish(): void { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); }
for (let k = 0; k < Math.min(o.concurrency, o.count); k++) one();
