import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTlsCaptures, TLS_CASES, type TlsCaptureCase } from './gen-tls.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const committed = path.resolve(here, '../pcaps/tls');
const run = promisify(execFile);

interface HandshakeRow { types: string[]; sni: string; supportedVersion: string; version: string; srcPort: string; certLengths: string[] }

/** One tshark pass per capture: every frame carrying handshake messages. */
async function handshakeRows(file: string, p: 'tls' | 'dtls'): Promise<HandshakeRow[]> {
  const fields = ['frame.number', `${p}.handshake.type`, `${p}.handshake.extensions_server_name`, `${p}.handshake.extensions.supported_version`, `${p}.handshake.version`, p === 'dtls' ? 'udp.srcport' : 'tcp.srcport', `${p}.handshake.certificate_length`];
  const { stdout } = await run('tshark', ['-r', file, '-Y', `${p}.handshake`, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])]);
  return stdout.split('\n').filter((l) => l.length > 0).map((l) => {
    const [, types, sni, sv, v, port, certs] = l.split('|');
    return { types: (types ?? '').split(','), sni: sni ?? '', supportedVersion: sv ?? '', version: v ?? '', srcPort: port ?? '', certLengths: certs ? certs.split(',') : [] };
  });
}

/** What every capture of a case must show, checked with tshark (an independent dissector). */
function checkCapture(rows: HandshakeRow[], c: TlsCaptureCase): void {
  const hellos = rows.filter((r) => r.types.includes('1'));
  expect(hellos.length, `${c.name}: ClientHello`).toBeGreaterThan(0);
  expect(hellos[0]!.sni, `${c.name}: SNI`).toBe(c.sni ?? '');
  const sh = rows.filter((r) => r.types.includes('2'));
  expect(sh.length, `${c.name}: ServerHello`).toBe(1);
  const negotiated = sh[0]!.supportedVersion !== '' ? sh[0]!.supportedVersion : sh[0]!.version.split(',')[0];
  expect(negotiated, `${c.name}: version`).toBe(c.transport === 'udp' ? '0xfefd' : c.version === '1.3' ? '0x0304' : '0x0303');
  const serverPort = c.transport === 'udp' ? '4433' : '443';
  const chain = (server: boolean) => Math.max(0, ...rows.filter((r) => (r.srcPort === serverPort) === server).map((r) => r.certLengths.length));
  expect(chain(true), `${c.name}: server chain`).toBe(c.serverCerts);
  expect(chain(false), `${c.name}: client chain`).toBe(c.clientCerts);
}

async function tsharkText(file: string, fields: string[]): Promise<string> {
  const { stdout } = await run('tshark', ['-r', file, '-Y', 'tls.handshake.type==11', '-T', 'fields', ...fields.flatMap((f) => ['-e', f])]);
  return stdout;
}

describe('gen-tls: captures from real TLS stacks', () => {
  let out = '';
  let files: string[] = [];
  const rows = new Map<string, HandshakeRow[]>();
  beforeAll(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'ndr-gen-tls-test-'));
    files = await generateTlsCaptures(out);
    await Promise.all(TLS_CASES.map(async (c) => { rows.set(c.name, await handshakeRows(path.join(out, `${c.name}.pcap`), c.transport === 'udp' ? 'dtls' : 'tls')); }));
  });
  afterAll(() => { if (out) rmSync(out, { recursive: true, force: true }); });

  it('writes one small capture per case', () => {
    expect(files.map((f) => path.basename(f)).sort()).toEqual(TLS_CASES.map((c) => `${c.name}.pcap`).sort());
    for (const f of files) expect(statSync(f).size).toBeLessThan(64 * 1024);
  });

  for (const c of TLS_CASES) {
    it(`${c.name}: fresh capture has the expected handshake`, () => {
      checkCapture(rows.get(c.name)!, c);
    });
  }

  it('the expired leaf is dated January 2020 and the long chain has three intermediates', async () => {
    const exp = await tsharkText(path.join(out, 'tls12-curl-expired.pcap'), ['x509af.utcTime']);
    expect(exp).toContain('2020-01-01');
    const names = await tsharkText(path.join(out, 'tls12-python-long-chain.pcap'), ['x509sat.printableString', 'x509sat.uTF8String']);
    for (const n of ['intermediate 1', 'intermediate 2', 'intermediate 3', 'root CA']) expect(names).toContain(n);
  });
});

describe('pcaps/tls: the committed captures', () => {
  for (const c of TLS_CASES) {
    it(`${c.name}.pcap`, async () => { checkCapture(await handshakeRows(path.join(committed, `${c.name}.pcap`), c.transport === 'udp' ? 'dtls' : 'tls'), c); });
  }
});
