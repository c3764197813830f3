import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BENCH_PORTS, generateHandshakeBench } from './gen-handshakes.js';

const run = promisify(execFile);

describe('gen-handshakes: the handshake-heavy benchmark capture (500-connection mode)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ndr-gen-hs-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('captures 500 real TLS 1.2/1.3 connections, mostly with 2–3 certificate chains, ~25 packets each', async () => {
    const file = path.join(dir, 'hs.pcap');
    const r = await generateHandshakeBench(file, { connections: 500 });
    expect(r.completed).toBe(500);
    expect(r.dropped).toBe(0);
    expect(r.tls13).toBeGreaterThan(150);
    expect(r.tls12).toBeGreaterThan(150);
    expect(r.tls12 + r.tls13).toBe(500);
    const twoOrThree = (r.chainLengths[2] ?? 0) + (r.chainLengths[3] ?? 0);
    expect(twoOrThree / 500).toBeGreaterThan(0.7);
    const perConn = r.packets / 500;
    expect(perConn).toBeGreaterThan(18);
    expect(perConn).toBeLessThan(35);
    const bytesPerPacket = (r.bytes - 24 - 16 * r.packets) / r.packets; // pcap file/record headers off
    expect(bytesPerPacket).toBeGreaterThan(300);
    expect(bytesPerPacket).toBeLessThan(500);

    // Independent check with tshark: every connection's ClientHello is there, and every TLS 1.2
    // connection shows its certificate chain in clear. The server ports are decoded as TLS: tshark
    // does not know 8443, and picks a client's random port instead when that one is registered
    // (34980 made a ClientHello "EtherCAT" once).
    const decodeAs = BENCH_PORTS.flatMap((port) => ['-d', `tcp.port==${port},tls`]);
    const { stdout } = await run('tshark', ['-r', file, ...decodeAs, '-Y', 'tls.handshake.type==1 || tls.handshake.type==11', '-T', 'fields', '-e', 'tls.handshake.type', '-e', 'tls.handshake.extensions_server_name'], { maxBuffer: 64 << 20 });
    const lines = stdout.split('\n').filter((l) => l.length > 0);
    const hellos = lines.filter((l) => l.split('\t')[0]!.split(',').includes('1'));
    const certs = lines.filter((l) => l.split('\t')[0]!.split(',').includes('11'));
    expect(hellos.length).toBe(500);
    expect(new Set(hellos.map((l) => l.split('\t')[1])).size).toBe(8);
    expect(certs.length).toBe(r.tls12);
  });
});
