// The upgrade in place, end to end through the engine: a clear dialogue, the server's yes, then
// the very TLS conversation a direct-TLS flow carries. The flow keeps its label, says it was
// upgraded, and its TLS fields, entropy and analytics inputs equal those of the direct twin.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../../src/runtime/replay.js';
import { fromHex } from '../../lab/dissect-harness.js';
import { dialogue, dialoguePcap, type Turn } from '../../test/helpers/dialogue.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { tlsOf } from '../tls/record.js';

/** The flow's STARTTLS-family section (keyed by its protocol), with that protocol named. */
const sessionOf = (f: FlowRecord) => (f.protocol !== null && f.apps[f.protocol] !== undefined ? { protocol: f.protocol, ...(f.apps[f.protocol] as object) } : null);
import { ANALYTICS } from '../../src/analytics/engine.js';
import { IMG, makeContext, makeFlow } from '../../lab/flows.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const cat = (...parts: (Uint8Array | string)[]) => Uint8Array.from(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))));
const fx = (name: string) => fromHex(readFileSync(new URL(`../tls/fixtures/${name}.hex`, import.meta.url), 'utf8'));
const ch = fx('tls12-chain.client');
const sh = fx('tls12-chain.server');
const TLS: Turn[] = [[0, ch.subarray(0, 227)], [1, sh], [0, ch.subarray(227)]];

async function one(port: number, turns: Turn[], cut = 0): Promise<FlowRecord> {
  const { flows } = await replayFiles([dialoguePcap(dialogue(40000 + port % 1000, port, turns, cut))], { withAnalytics: false });
  expect(flows).toHaveLength(1);
  return flows[0] as FlowRecord;
}

// Small-record cadence follows the segments themselves, so it is left out of the comparison.
const tlsView = (f: FlowRecord) => JSON.stringify({ tls: tlsOf(f), entropy: f.entropy, encrypted: f.encrypted });

describe('STARTTLS upgrade in place', () => {
  const smtp: Turn[] = [
    [1, '220 mail.lab.test ESMTP Postfix\r\n'],
    [0, 'EHLO client.lab.test\r\n'],
    [1, '250-mail.lab.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n'],
    [0, 'STARTTLS\r\n'],
    [1, '220 2.0.0 Ready to start TLS\r\n'],
  ];

  it('SMTP: the label stays, TLS is fingerprinted exactly as on the direct twin', async () => {
    const direct = await one(443, TLS);
    const f = await one(25, [...smtp, ...TLS]);
    expect(direct.protocol).toBe('tls');
    expect(f.protocol).toBe('smtp');
    expect(f.upgraded).toBe('tls');
    expect(tlsOf(f)?.ja4).toBe(tlsOf(direct)?.ja4);
    expect(tlsOf(f)?.ja4).toMatch(/^t12d/);
    expect(tlsOf(f)?.chain.length).toBe(2);
    expect(sessionOf(f)).toMatchObject({ protocol: 'smtp', banner: 'mail.lab.test ESMTP Postfix', starttls: true, starttlsOffered: true, starttlsRequested: true, starttlsRefused: false, commands: ['EHLO', 'STARTTLS'] });
    // The entropy sample and app-record sizes start after the handshake on both.
    expect(f.entropy[0]?.sample).toBe(direct.entropy[0]?.sample);
    expect(tlsOf(f)?.appRecordSizes).toEqual(tlsOf(direct)?.appRecordSizes);
    expect(f.encrypted?.known).toBe('tls');
  });

  it('gives the same record however the segments are cut', async () => {
    const whole = await one(25, [...smtp, ...TLS]);
    for (const cut of [1, 3, 7, 64]) {
      const f = await one(25, [...smtp, ...TLS], cut);
      expect(tlsView(f)).toBe(tlsView(whole));
      expect(sessionOf(f)).toEqual(sessionOf(whole));
    }
  });

  it('a refused STARTTLS keeps the clear dialogue, and no credential reaches the record', async () => {
    const f = await one(25, [
      ...smtp.slice(0, 4),
      [1, '454 4.7.0 TLS not available\r\n'],
      [0, 'AUTH PLAIN AGFsaWNlAHMzY3IzdA==\r\n'],
      [1, '235 2.7.0 Authentication successful\r\n'],
      [0, 'MAIL FROM:<alice@lab.test>\r\n'],
      [1, '250 OK\r\n'],
      [0, 'QUIT\r\n'],
      [1, '221 Bye\r\n'],
    ]);
    expect(f.protocol).toBe('smtp');
    expect(f.upgraded ?? null).toBeNull();
    expect(tlsOf(f)).toBeNull();
    expect(sessionOf(f)).toMatchObject({ starttls: false, starttlsRequested: true, starttlsRefused: true, authMechanisms: ['PLAIN'], commands: ['EHLO', 'STARTTLS', 'AUTH', 'MAIL', 'QUIT'] });
    expect(f.events).toContain('smtp.starttls_refused');
    expect(JSON.stringify(f)).not.toContain('AGFsaWNl');
    expect(JSON.stringify(f)).not.toContain('alice');
  });
});

// ---- every protocol of the family: its own clear dialogue, then the same TLS -------------------

const OID = Buffer.from('1.3.6.1.4.1.1466.20037').toString('hex');
const mysqlGreeting = (() => {
  const body = cat(hex('0a'), '8.0.36\0', hex('0b000000'), 'abcdefgh', hex('00'), hex('ffff ff 0200 ffdf 15 00000000000000000000'), 'ijklmnopqrstu', 'caching_sha2_password\0');
  return cat(Uint8Array.of(body.length, 0, 0, 0), body);
})();
const mysqlSsl = cat(hex('20000001'), hex('0aae8f0100000001ff'), new Uint8Array(23).fill(0));

export const CASES: { name: string; port: number; turns: Turn[]; refused?: Turn[]; expect: Record<string, unknown> }[] = [
  {
    name: 'lmtp', port: 24,
    turns: [[1, '220 lmtp.lab.test Dovecot ready.\r\n'], [0, 'LHLO client.lab.test\r\n'], [1, '250-lmtp.lab.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n'], [0, 'STARTTLS\r\n'], [1, '220 2.0.0 Begin TLS.\r\n']],
    refused: [[1, '220 lmtp.lab.test Dovecot ready.\r\n'], [0, 'LHLO client.lab.test\r\n'], [1, '250 lmtp.lab.test\r\n'], [0, 'STARTTLS\r\n'], [1, '502 5.5.1 Unknown command\r\n'], [0, 'QUIT\r\n'], [1, '221 Bye\r\n']],
    expect: { banner: 'lmtp.lab.test Dovecot ready.', starttlsOffered: true, commands: ['LHLO', 'STARTTLS'] },
  },
  {
    name: 'imap', port: 143,
    turns: [[1, '* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.\r\n'], [0, 'a001 CAPABILITY\r\n'], [1, '* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na001 OK done\r\n'], [0, 'a002 STARTTLS\r\n'], [1, 'a002 OK Begin TLS negotiation now.\r\n']],
    refused: [[1, '* OK IMAP ready.\r\n'], [0, 'a1 STARTTLS\r\n'], [1, 'a1 BAD not now\r\n'], [0, 'a2 LOGIN {5}\r\n'], [1, '+ go\r\n'], [0, 'alice {6}\r\n'], [1, '+ go\r\n'], [0, 's3cr3t\r\n'], [1, 'a2 OK welcome\r\n']],
    expect: { banner: 'OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] Dovecot ready.', starttlsOffered: true, commands: ['CAPABILITY', 'STARTTLS'] },
  },
  {
    name: 'pop3', port: 110,
    turns: [[1, '+OK POP3 ready\r\n'], [0, 'CAPA\r\n'], [1, '+OK\r\nUSER\r\nSTLS\r\n.\r\n'], [0, 'STLS\r\n'], [1, '+OK Begin TLS negotiation\r\n']],
    refused: [[1, '+OK POP3 ready\r\n'], [0, 'STLS\r\n'], [1, '-ERR not available\r\n'], [0, 'USER alice\r\n'], [1, '+OK\r\n'], [0, 'PASS s3cr3t\r\n'], [1, '+OK\r\n'], [0, 'QUIT\r\n'], [1, '+OK bye\r\n']],
    expect: { banner: 'POP3 ready', starttlsOffered: true, commands: ['CAPA', 'STLS'] },
  },
  {
    name: 'ftp', port: 21,
    turns: [[1, '220 (vsFTPd 3.0.3)\r\n'], [0, 'FEAT\r\n'], [1, '211-Features:\r\n AUTH TLS\r\n PBSZ\r\n211 End\r\n'], [0, 'AUTH TLS\r\n'], [1, '234 Proceed with negotiation.\r\n']],
    refused: [[1, '220 (vsFTPd 3.0.3)\r\n'], [0, 'AUTH TLS\r\n'], [1, '530 Please login with USER and PASS.\r\n'], [0, 'USER alice\r\n'], [1, '331 Please specify the password.\r\n'], [0, 'PASS s3cr3t\r\n'], [1, '230 Login successful.\r\n']],
    expect: { banner: '(vsFTPd 3.0.3)', starttlsOffered: true, commands: ['FEAT', 'AUTH'] },
  },
  {
    name: 'nntp', port: 119,
    turns: [[1, '200 news.lab.test InterNetNews NNRP server INN 2.7 ready (posting ok)\r\n'], [0, 'CAPABILITIES\r\n'], [1, '101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n'], [0, 'STARTTLS\r\n'], [1, '382 Continue with TLS negotiation\r\n']],
    refused: [[1, '200 news.lab.test ready\r\n'], [0, 'STARTTLS\r\n'], [1, '580 Can not initiate TLS negotiation\r\n'], [0, 'AUTHINFO USER alice\r\n'], [1, '381 more\r\n'], [0, 'AUTHINFO PASS s3cr3t\r\n'], [1, '281 ok\r\n'], [0, 'QUIT\r\n'], [1, '205 bye\r\n']],
    expect: { banner: 'news.lab.test InterNetNews NNRP server INN 2.7 ready (posting ok)', starttlsOffered: true, commands: ['CAPABILITIES', 'STARTTLS'] },
  },
  {
    name: 'sieve', port: 4190,
    turns: [[1, '"IMPLEMENTATION" "Dovecot Pigeonhole"\r\n"SIEVE" "fileinto"\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\nOK "ready"\r\n'], [0, 'STARTTLS\r\n'], [1, 'OK "Begin TLS negotiation now."\r\n']],
    refused: [[1, '"IMPLEMENTATION" "Dovecot Pigeonhole"\r\nOK "ready"\r\n'], [0, 'STARTTLS\r\n'], [1, 'NO "no TLS here"\r\n'], [0, 'AUTHENTICATE "PLAIN" "AGFsaWNlAHMzY3IzdA=="\r\n'], [1, 'OK\r\n']],
    expect: { banner: 'Dovecot Pigeonhole', starttlsOffered: true, commands: ['STARTTLS'] },
  },
  {
    name: 'xmpp', port: 5222,
    turns: [
      [0, "<?xml version='1.0'?><stream:stream to='lab.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"],
      [1, "<?xml version='1.0'?><stream:stream from='lab.test' id='x1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>"],
      [0, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
      [1, "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
    ],
    refused: [
      [0, "<stream:stream to='lab.test' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"],
      [1, "<stream:stream from='lab.test' id='x2' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"],
      [0, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
      [1, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"],
    ],
    expect: { starttlsOffered: true, commands: ['STREAM', 'STARTTLS'], details: { to: 'lab.test' } },
  },
  {
    name: 'ldap', port: 389,
    turns: [[0, hex(`301d020101 7718 8016 ${OID}`)], [1, hex('300c020101 7807 0a0100 0400 0400')]],
    refused: [[0, hex(`301d020101 7718 8016 ${OID}`)], [1, hex('300c020101 7807 0a0134 0400 0400')], [0, cat(hex('3018020102 6013 020103 0404 636e3d61 8008'), 's3cr3t!!')], [1, hex('300c020102 6107 0a0100 0400 0400')]],
    expect: { commands: ['EXTENDED'] },
  },
  {
    name: 'postgres', port: 5432,
    turns: [[0, hex('0000000804d2162f')], [1, 'S']],
    refused: [[0, hex('0000000804d2162f')], [1, 'N'], [0, cat(hex('00000025 00030000'), 'user\0alice\0database\0lab\0\0')], [1, cat(hex('52 0000000c 00000005'), 'salt')], [0, cat(hex('70 00000028'), 'md5', '0123456789abcdef0123456789abcdef\0')]],
    expect: { commands: ['SSL_REQUEST'] },
  },
  {
    name: 'mysql', port: 3306,
    turns: [[1, mysqlGreeting], [0, mysqlSsl]],
    expect: { banner: '8.0.36', starttlsOffered: true, commands: ['SSL_REQUEST'] },
  },
  {
    name: 'rdp', port: 3389,
    turns: [[0, cat(hex('0300002b 26e00000000000'), 'Cookie: mstshash=alice\r\n', hex('0100080003000000'))], [1, hex('03000013 0ed000001234 00 0200080001000000')]],
    refused: [[0, cat(hex('0300002b 26e00000000000'), 'Cookie: mstshash=alice\r\n', hex('0100080003000000'))], [1, hex('03000013 0ed000001234 00 0300080002000000')]],
    expect: { commands: ['CONNECTION_REQUEST'], details: { cookie: 'alice', requested_protocols: 'ssl|hybrid', selected_protocol: 'ssl' } },
  },
];

describe('each protocol of the family', () => {
  for (const c of CASES) {
    it(`${c.name}: upgraded in place, whole and cut into 1-byte segments`, async () => {
      const direct = await one(443, TLS);
      for (const cut of [0, 1]) {
        const f = await one(c.port, [...c.turns, ...TLS], cut);
        expect(f.protocol).toBe(c.name);
        expect(f.upgraded).toBe('tls');
        expect(tlsOf(f)?.ja4).toBe(tlsOf(direct)?.ja4);
        expect(tlsView(f)).toBe(tlsView(direct));
        expect(sessionOf(f)).toMatchObject({ protocol: c.name, starttls: true, starttlsRequested: true, starttlsRefused: false, ...c.expect });
      }
    });
    if (c.refused !== undefined) {
      const refused = c.refused;
      it(`${c.name}: refused, the dialogue goes on in clear and keeps no credential`, async () => {
        const f = await one(c.port, refused);
        expect(f.protocol).toBe(c.name);
        expect(f.upgraded ?? null).toBeNull();
        expect(tlsOf(f)).toBeNull();
        expect(sessionOf(f)).toMatchObject({ starttls: false, starttlsRequested: true, starttlsRefused: true });
        const out = JSON.stringify(f);
        for (const secret of ['s3cr3t', 'AGFsaWNl', '0123456789abcdef']) expect(out).not.toContain(secret);
      });
    }
  }
});

// ---- analytics: a STARTTLS flow raises what its direct-TLS twin raises ------------------------

/** The same process, host and staging history on both flows, and an outside destination. */
function attributed(f: FlowRecord): FlowRecord {
  const staged = { path: 'C:\\Users\\carol\\AppData\\Local\\Temp\\q3.7z', ts: f.startTs - 120_000, processEntityId: null, image: IMG.sevenZip, kind: 'file_create' as const };
  const who = makeFlow({ image: IMG.rclone, imageNetworkHistory: false, startTs: f.startTs, fileEvents: [staged] });
  return { ...f, server: { ...f.server, ip: '198.51.100.99' }, attribution: who.attribution };
}

function alerts(f: FlowRecord): string[] {
  const ctx = makeContext();
  const out: string[] = [];
  for (const [id, run] of ANALYTICS) for (const a of run(f, ctx)) out.push(`${id} ${a.severity} ${a.evidence.map((e) => e.signal).join(',')}`);
  return out;
}

describe('analytics on upgraded flows', () => {
  it('every protocol of the family raises exactly the alerts of its direct-TLS twin', async () => {
    const direct = alerts(attributed(await one(443, TLS)));
    expect(direct.some((a) => a.startsWith('AN1413 '))).toBe(true);
    const smtp: Turn[] = [[1, '220 mail.lab.test ESMTP\r\n'], [0, 'EHLO c\r\n'], [1, '250 STARTTLS\r\n'], [0, 'STARTTLS\r\n'], [1, '220 go\r\n']];
    for (const c of [{ name: 'smtp', port: 25, turns: smtp }, ...CASES]) {
      const f = await one(c.port, [...c.turns, ...TLS]);
      expect(f.protocol).toBe(c.name);
      expect(alerts(attributed(f))).toEqual(direct);
    }
  });
});
