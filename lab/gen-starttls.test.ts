/**
 * The STARTTLS and RDP captures: the committed ones (pcaps/starttls/, pcaps/rdp/) replayed and
 * cross-checked with tshark, which decodes the same dialogues and TLS handshakes on its own; and a
 * fresh generation of a few of them in network namespaces (root, as CI is) from the same real
 * clients and servers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';
import { flowToEcs } from '../src/output/ecs.js';
import { generateStarttlsCaptures, LAB_PASSWORD } from './gen-starttls.js';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const dirs = [join(repo, 'pcaps', 'starttls'), join(repo, 'pcaps', 'rdp')];
const files = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.pcap')).map((f) => join(d, f)));

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Every field below, one row per packet, from one tshark run over the capture. */
const FIELDS = [
  'tls.handshake.type', 'tls.handshake.ja3', 'tls.handshake.extensions_server_name', 'smtp.req.command', 'imap.request.command', 'pop.request.command',
  'ftp.request.command', 'pgsql.type', 'ldap.requestName', 'mysql.version', 'mysql.caps.sl', 'xmpp.proceed', 'rdp.negReq.requestedProtocols', 'rdp.negFailure.failureCode',
] as const;
type Field = (typeof FIELDS)[number];

function tshark(file: string): Record<Field, string>[] {
  const args = ['-r', file, '-d', 'tcp.port==3389,tpkt', '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=;', ...FIELDS.flatMap((f) => ['-e', f])];
  return execFileSync('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter((l) => l.length > 0)
    .map((l) => Object.fromEntries(l.split('|').map((v, i) => [FIELDS[i], v])) as Record<Field, string>);
}

/** The values of `field` over the capture, in packet order (several in one packet split out). */
const values = (rows: Record<Field, string>[], field: Field): string[] => rows.flatMap((r) => (r[field] ? r[field].split(';') : []));

async function docOf(file: string): Promise<Doc> {
  const { flows } = await replayFiles([file], { withAnalytics: false });
  expect(flows).toHaveLength(1);
  return flowToEcs(flows[0]!) as Doc;
}

/** Client commands tshark names, as our verbs, for the protocols it decodes. */
const TSHARK_COMMANDS: Record<string, [Field, (v: string) => string]> = {
  smtp: ['smtp.req.command', (v) => v],
  imap: ['imap.request.command', (v) => v.toUpperCase()],
  pop3: ['pop.request.command', (v) => v.toUpperCase()],
  ftp: ['ftp.request.command', (v) => v.toUpperCase()],
  postgres: ['pgsql.type', (v) => ({ 'SSL request': 'SSL_REQUEST', 'Startup message': 'STARTUP', 'Simple query': 'QUERY', Termination: 'TERMINATE' } as Record<string, string>)[v] ?? ''],
};

describe('STARTTLS captures, cross-checked with tshark', () => {
  it('has every protocol with its accepted, refused, malformed and cut-short cases', () => {
    const names = files.map((f) => basename(f));
    for (const p of ['smtp', 'lmtp', 'imap', 'pop3', 'ftp', 'nntp', 'sieve', 'xmpp', 'ldap', 'mysql', 'rdp', 'postgres']) {
      for (const kind of ['-starttls-', '-refuse-', '-cut-short']) expect(names.some((n) => n.startsWith(`${p}${kind}`)), `${p}${kind}`).toBe(true);
      if (p !== 'postgres') expect(names.some((n) => n.startsWith(`${p}-malformed-`)), `${p}-malformed`).toBe(true);
    }
  });

  for (const file of files) {
    const name = basename(file, '.pcap');
    const proto = name.split('-')[0] as string;
    const kind = name.includes('-starttls-') ? 'accept' : name.includes('-refuse-') ? 'refuse' : name.includes('-malformed-') ? 'malformed' : 'cut';
    it(name, async () => {
      const d = await docOf(file);
      // tshark reads the accepted and refused captures (malformed and cut ones are the golden files' job).
      const rows = kind === 'accept' || kind === 'refuse' ? tshark(file) : [];
      const s = d.ndr[proto] as Doc;
      expect(d.network.protocol).toBe(proto);
      expect(s).toBeDefined();
      // The lab password travels in clear in the refused captures; no record may carry it.
      expect(JSON.stringify(d)).not.toContain(LAB_PASSWORD);
      expect(JSON.stringify(d)).not.toContain(Buffer.from(`\0labuser\0${LAB_PASSWORD}`).toString('base64').slice(0, 16));
      if (kind === 'accept') {
        expect(d.ndr.flow.upgraded).toBe('tls');
        expect(s.starttls).toBe(true);
        expect(d.tls.client.ja4).toMatch(/^t1[23][di]/);
        // tshark follows the upgrade itself (except for RDP): the same first ClientHello.
        const hello = rows.find((r) => r['tls.handshake.type'].split(';').includes('1'));
        if (proto !== 'rdp') {
          expect(hello).toBeDefined();
          expect(d.tls.client.ja3).toBe(hello!['tls.handshake.ja3'].split(';')[0]);
          expect(d.tls.client.server_name ?? '').toBe(hello!['tls.handshake.extensions_server_name'].split(';')[0] ?? '');
        }
      } else {
        // MySQL's client starts TLS without an answer: cut before its ClientHello, the flow asked
        // for TLS and none came (no TLS section, the session's starttls false).
        const mysqlCut = proto === 'mysql' && kind === 'cut';
        expect(d.ndr.flow.upgraded ?? null).toBeNull();
        expect(d.ndr.flow.upgrade_unanswered ?? null).toBe(mysqlCut ? 'tls' : null);
        if (mysqlCut) expect([s.starttls, s.starttls_requested]).toEqual([false, true]);
        expect(d.tls).toBeUndefined();
      }
      if (kind === 'refuse' && proto !== 'mysql') {
        expect(s.starttls_refused).toBe(true);
        expect(d.ndr.flow.events).toContain(`${proto}.starttls_refused`);
      }
      if (kind === 'cut') expect(s.starttls_requested).toBe(true);
      if (kind === 'malformed') expect((d.ndr.flow.events as string[]).some((e) => e.startsWith(`${proto}.`))).toBe(true);
      const cmd = TSHARK_COMMANDS[proto];
      if (cmd !== undefined && rows.length > 0) {
        const theirs = [...new Set(values(rows, cmd[0]).map(cmd[1]).filter((v) => v !== ''))];
        // tshark 4.0 shows SMTP verbs by their first four letters.
        const ours = (s.commands as string[]).map((c) => (proto === 'smtp' ? c.slice(0, 4) : c));
        expect(ours).toEqual(theirs);
      }
      if (proto === 'ldap' && rows.length > 0) expect(values(rows, 'ldap.requestName')[0]).toBe('1.3.6.1.4.1.1466.20037');
      if (proto === 'mysql' && rows.length > 0) {
        const greet = rows.find((r) => r['mysql.version'] !== '');
        const ssl = greet?.['mysql.caps.sl'];
        expect(s.banner).toBe(greet?.['mysql.version']);
        expect(s.starttls_offered).toBe(ssl === '1' || ssl === 'True');
      }
      if (proto === 'xmpp' && kind === 'accept') expect(values(rows, 'xmpp.proceed')).toHaveLength(1);
      if (proto === 'rdp' && rows.length > 0) {
        expect(Number(values(rows, 'rdp.negReq.requestedProtocols')[0])).toBe(3);
        expect(s.requested_protocols).toBe('ssl|hybrid');
        if (kind === 'refuse') expect(Number(s.failure_code)).toBe(Number(values(rows, 'rdp.negFailure.failureCode')[0]));
      }
    });
  }
});

describe('STARTTLS captures, generated afresh in network namespaces', () => {
  const out = mkdtempSync(join(tmpdir(), 'ndr-starttls-gen-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  it('openssl, psql and the RDP client upgrade in place as in the committed captures', async () => {
    const made = await generateStarttlsCaptures(out, out, { protos: ['smtp', 'ldap', 'xmpp', 'rdp'], modes: ['accept'], postgres: true });
    const accepted = made.filter((c) => c.kind === 'accept');
    expect(accepted.map((c) => basename(c.file)).sort()).toEqual([
      'ldap-starttls-openssl.pcap', 'postgres-starttls-openssl.pcap', 'postgres-starttls-psql.pcap', 'rdp-starttls-node.pcap', 'smtp-starttls-openssl.pcap', 'xmpp-starttls-openssl.pcap',
    ]);
    for (const c of made) {
      const d = await docOf(c.file);
      expect(d.network.protocol).toBe(c.proto);
      if (c.kind !== 'accept') continue;
      expect(d.ndr.flow.upgraded).toBe('tls');
      const committed = await docOf(join(repo, 'pcaps', c.proto === 'rdp' ? 'rdp' : 'starttls', basename(c.file)));
      // Same clients, same server settings: the same fingerprints as the committed captures.
      expect(d.tls.client.ja4).toBe(committed.tls.client.ja4);
      expect(d.tls.client.ja3).toBe(committed.tls.client.ja3);
    }
  }, 120_000);
});
