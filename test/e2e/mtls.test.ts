import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Enricher } from '../../src/enrich/edr-client.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { startEdrServer } from '../../src/enrich/edr-server.js';
import type { EdrServerHandle } from '../../src/enrich/edr-server.js';
import { startSiemServer } from '../../src/grpc/siem-server.js';
import { InsecureEndpointError } from '../../src/grpc/tls.js';
import { SiemClient } from '../../src/output/siem-client.js';
import { flowFor } from './flow-fixture.js';
import { datasets } from './helpers.js';

let dir = '';
const f = (n: string) => join(dir, n);
function ossl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}
function makeCa(name: string): void {
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`);
}

let srv: EdrServerHandle;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ndr-mtls-'));
  makeCa('ca');
  makeCa('rogue');
  for (const [name, ca] of [
    ['server', 'ca'],
    ['client', 'ca'],
    ['intruder', 'rogue'],
  ] as const) {
    ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`);
    execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${f('ext.cnf')}`]);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f('ext.cnf'));
  }
  srv = await startEdrServer({
    sysmon: [join(datasets, 'otrf-covenant-psremoting', 'host-events.json')],
    listen: '127.0.0.1:0',
    tls: { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') },
    log: () => undefined,
  });
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

function one(en: Enricher, flow: FlowRecord): Promise<FlowRecord> {
  return new Promise((r) => en.submit(flow, r));
}

describe('mTLS', () => {
  test('a client with a certificate from the CA is attributed over mTLS', async () => {
    const en = new Enricher({ endpoint: `localhost:${srv.port}`, tls: { ca: f('ca.pem'), cert: f('client.pem'), key: f('client.key') }, log: () => undefined });
    const out = await one(en, flowFor(1, 1596729382448, '172.18.39.5', 57967, '172.18.39.6', 5985));
    await en.close();
    expect(out.attribution?.process?.name).toBe('GruntHTTP.exe');
  });

  test('a wrong client certificate gives one clear log line, and flows go on (edr_down)', async () => {
    const logs: string[] = [];
    const en = new Enricher({
      endpoint: `localhost:${srv.port}`,
      tls: { ca: f('ca.pem'), cert: f('intruder.pem'), key: f('intruder.key') },
      maxWaitMs: 1500,
      backoffMs: 10,
      log: (l) => logs.push(l),
    });
    const outs = [];
    for (let i = 0; i < 5; i++) {
      outs.push(await one(en, flowFor(i, 1596729382448, '172.18.39.5', 57967 + i, '172.18.39.6', 5985)));
      await new Promise((r) => setTimeout(r, 100));
    }
    await en.close();
    for (const o of outs) expect(o.attribution?.status).toBe('unattributed');
    expect(outs.some((o) => o.attribution?.reason === 'edr_down')).toBe(true);
    // One clear line naming the TLS failure (plus the breaker's one line), not a retry loop.
    const tlsLines = logs.filter((l) => l.startsWith('edr: TLS with'));
    expect(tlsLines.length).toBe(1);
    expect(tlsLines[0]).toMatch(/certificate|alert|unknown ca/i);
    expect(logs.length).toBeLessThanOrEqual(2);
  });

  test('a server certificate the client does not trust is named in one log line', async () => {
    const logs: string[] = [];
    const en = new Enricher({ endpoint: `localhost:${srv.port}`, tls: { ca: f('rogue.pem'), cert: f('client.pem'), key: f('client.key') }, maxWaitMs: 1000, log: (l) => logs.push(l) });
    for (let i = 0; i < 3; i++) {
      const o = await one(en, flowFor(i, 1596729382448, '172.18.39.5', 57967, '172.18.39.6', 5985));
      expect(o.attribution?.status).toBe('unattributed');
      await new Promise((r) => setTimeout(r, 100));
    }
    await en.close();
    const tlsLines = logs.filter((l) => l.startsWith('edr: TLS with'));
    expect(tlsLines.length).toBe(1);
    expect(tlsLines[0]).toMatch(/certificate/i);
  });

  test('plaintext to a non-loopback endpoint is refused unless allowed', async () => {
    expect(() => new Enricher({ endpoint: '192.0.2.10:50051', log: () => undefined })).toThrow(InsecureEndpointError);
    expect(() => new SiemClient({ endpoint: '192.0.2.10:50052', sensorId: 'x', spoolDir: join(dir, 'sp'), log: () => undefined })).toThrow(InsecureEndpointError);
    const en = new Enricher({ endpoint: '192.0.2.10:50051', allowPlaintextRemote: true, log: () => undefined });
    await en.close();
    await expect(startSiemServer({ out: join(dir, 'o'), listen: '0.0.0.0:0', log: () => undefined })).rejects.toThrow(InsecureEndpointError);
  });
});
