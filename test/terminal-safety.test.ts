// What reaches a terminal. A real TLS client (node) sends a crafted server_name (screen clear,
// cursor home, colours, a fake "ALL CLEAR", bidi overrides and isolates, a zero-width space, a C1
// control) to a real TLS server on loopback while tcpdump captures it; a Sysmon log attributes the
// connection to a process on a host and user whose names carry an OSC title sequence, a BEL and a
// right-to-left override. The real CLI replays it: the summary's "e.g." line and the demo listing
// are checked byte for byte, the ECS output flags the SNI and keeps the raw value JSON-escaped.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderDemo } from '../src/cli/commands.js';
import { replayFiles } from '../src/runtime/replay.js';
import { isValidHostName } from '../src/util/hostname.js';
import { termSafe } from '../src/util/terminal.js';
import { tlsOf } from '../dissectors/tls/record.js';
import { freePort } from './helpers/net.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'ndr-sensor.mjs');
const dir = mkdtempSync(join(tmpdir(), 'ndr-term-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CRAFTED_SNI = '\x1b[2J\x1b[H\x1b[32mALL CLEAR\x1b[0m\u202egpj.exe\u2066\u200bx\u0085';
const HOST = 'WS\x1b]0;owned\x07-01';
const USER = 'CORP\\\u202eadmin';
const IMAGE = 'C:\\Tools\\agent.exe';
// Node sends the name as UTF-8; the dissector keeps the server_name bytes one character per byte
// (Latin-1), so U+202E arrives as 'â', C1 0x80, '®'. On a terminal every control character must
// be a visible escape, while the printable Latin-1 letters stay as they are.
const SNI_ON_WIRE = Buffer.from(CRAFTED_SNI, 'utf8').toString('latin1');
const SNI_SHOWN = '\\x1b[2J\\x1b[H\\x1b[32mALL CLEAR\\x1b[0m\u00e2\\x80\u00aegpj.exe\u00e2\\x81\u00a6\u00e2\\x80\\x8bx\u00c2\\x85';
const HOST_SHOWN = 'WS\\x1b]0;owned\\x07-01';
const USER_SHOWN = 'CORP\\\\u{202e}admin';

const capture = join(dir, 'crafted-sni.pcap');
const sysmon = join(dir, 'sysmon.jsonl');
const analytics = join(dir, 'analytics.json');
let clientPort = 0;
let serverPort = 0;


function sysmonTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=server.test'], { stdio: 'ignore' });
  serverPort = await freePort('127.0.0.2');
  clientPort = await freePort('127.0.0.1');
  const dump = spawn('tcpdump', ['-i', 'lo', '-w', capture, '-U', '-n', '--immediate-mode', '-s', '0', `tcp and host 127.0.0.2 and port ${serverPort}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((res, rej) => {
    let err = '';
    dump.stderr.on('data', (b: Buffer) => { err += b.toString(); if (err.includes('listening on')) res(); });
    dump.on('exit', (c) => rej(new Error(`tcpdump exited ${c}: ${err}`)));
  });
  const server = createServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (s) => s.on('data', () => s.end('pong')));
  await new Promise<void>((res) => server.listen(serverPort, '127.0.0.2', res));
  const t0 = Date.now();
  await new Promise<void>((res, rej) => {
    // The TCP socket first, so the client's port is the one the Sysmon event names.
    const tcp = netConnect({ host: '127.0.0.2', port: serverPort, localAddress: '127.0.0.1', localPort: clientPort });
    const c = connect({ socket: tcp, servername: CRAFTED_SNI, rejectUnauthorized: false }, () => c.write('ping'));
    c.on('data', () => c.end());
    c.on('close', () => res());
    c.on('error', rej);
  });
  await new Promise<void>((res) => server.close(() => res()));
  await new Promise((r) => setTimeout(r, 300));
  const exited = new Promise((r) => dump.on('exit', r));
  dump.kill('SIGINT');
  await exited;
  const guid = '{5c7e1a2b-0f3c-6571-0300-000000000a00}';
  const base = { SourceName: 'Microsoft-Windows-Sysmon', Hostname: HOST, ProcessGuid: guid, ProcessId: 4242, Image: IMAGE, User: USER };
  writeFileSync(sysmon, [
    { ...base, EventID: 1, UtcTime: sysmonTime(t0 - 60_000), CommandLine: `${IMAGE} --sync`, ParentImage: 'C:\\Windows\\explorer.exe' },
    { ...base, EventID: 3, UtcTime: sysmonTime(t0), Protocol: 'tcp', Initiated: 'true', SourceIp: '127.0.0.1', SourcePort: clientPort, DestinationIp: '127.0.0.2', DestinationPort: serverPort },
  ].map((e) => JSON.stringify(e)).join('\n') + '\n');
  // Loopback stands in for the inside (the client) and the outside (the server).
  writeFileSync(analytics, JSON.stringify({ analytics: { internalNetworks: ['127.0.0.1/32'] } }));
}, 30_000);

describe('terminal safety', () => {
  it('escapes control, C1, bidi and invisible formatting characters, nothing else', () => {
    expect(termSafe('plain ascii, ünïcödé, 日本語, C:\\path')).toBe('plain ascii, ünïcödé, 日本語, C:\\path');
    expect(termSafe('\x1b[2J\x9b31m\x9d0;t\x07\x00\x7f\t\r\n')).toBe('\\x1b[2J\\x9b31m\\x9d0;t\\x07\\x00\\x7f\\x09\\x0d\\x0a');
    expect(termSafe('a\u202eb\u202ac\u2066d\u2067e\u2068f\u2069g\u200eh\u200fi\u061cj')).toBe('a\\u{202e}b\\u{202a}c\\u{2066}d\\u{2067}e\\u{2068}f\\u{2069}g\\u{200e}h\\u{200f}i\\u{61c}j');
    expect(termSafe('x\u200by\u200dz\u2060w\ufeffv\u00adu\u2028t\u2029s\u{e0041}r\u3164q\ud800p')).toBe('x\\u{200b}y\\u{200d}z\\u{2060}w\\u{feff}v\\xadu\\u{2028}t\\u{2029}s\\u{e0041}r\\u{3164}q\\u{d800}p');
  });

  it('tells host names from crafted server names', () => {
    for (const ok of ['example.com', 'a.b-c.example', 'xn--bcher-kva.example', '_dmarc.example.org', 'localhost', 'x'.repeat(63) + '.test']) expect(isValidHostName(ok)).toBe(true);
    for (const bad of ['', 'a..b', 'example.com.', '-a.example', 'a-.example', 'x'.repeat(64) + '.test', 'bücher.example', 'a b.example', 'a\x1bb.example', SNI_ON_WIRE, `${'a.'.repeat(127)}ab`]) expect(isValidHostName(bad)).toBe(false);
  });

  it('the crafted SNI through replay: escaped summary, flagged ECS', () => {
    const out = join(dir, 'out.jsonl');
    const r = spawnSync(process.execPath, [cli, 'replay', '--sysmon', sysmon, '--analytics-config', analytics, '--workers', '1', '-q', '-o', out, capture], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const docs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const flow = docs.find((d) => d.tls?.client?.server_name !== undefined);
    expect(flow?.tls.client.server_name).toBe(SNI_ON_WIRE);
    expect(flow?.ndr.tls.sni_invalid).toBe(true);
    // JSON escapes C0 controls by itself; the sink also escapes DEL, C1 and bidi/invisible characters.
    expect(readFileSync(out, 'utf8')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]/);
    expect(readFileSync(out, 'utf8')).toContain('"user":{"name":"CORP\\\\\\u202eadmin"}');
    const alert = docs.find((d) => d.event?.kind === 'alert');
    expect(alert?.rule?.id ?? alert?.ndr?.analytic).toBeDefined();
    // The summary on stderr: no control byte anywhere, and the example line exactly as expected.
    expect(r.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]/);
    const eg = r.stderr.split('\n').filter((l) => l.startsWith('      e.g. '));
    expect(eg).toEqual([
      `      e.g. agent.exe (PID 4242) on ${HOST_SHOWN} as ${USER_SHOWN} has no history of network connections but opened TLS to ${SNI_SHOWN} 127.0.0.2:${serverPort} — check how the process was started and what it loaded.`,
    ]);
  });

  it('the crafted SNI in the demo listing', async () => {
    const cfg = JSON.parse(readFileSync(analytics, 'utf8')) as { analytics: unknown };
    const r = await replayFiles([capture], { sysmon: [sysmon], analyticsConfig: cfg.analytics });
    const text = renderDemo('demo', r.flows, r.alerts, 'out.jsonl');
    expect(text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b]/);
    const ja4 = (r.flows[0] ? tlsOf(r.flows[0]) : null)?.ja4 ?? '';
    expect(ja4).toMatch(/^t1[23]d/);
    const lines = text.split('\n');
    expect(lines[3]).toBe(`  127.0.0.1:${clientPort} -> 127.0.0.2:${serverPort}  tls ${SNI_SHOWN} (invalid SNI) ${ja4}  ${HOST_SHOWN}/agent.exe`);
    expect(lines.slice(5, 8)).toEqual([
      'alerts (1):',
      '  [AN0759] MEDIUM Network-silent process opens outbound TLS',
      `      ${HOST_SHOWN} ${IMAGE} -> ${SNI_SHOWN}:${serverPort}`,
    ]);
  });
});
