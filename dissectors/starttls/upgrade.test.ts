// The upgrade in place, end to end through the engine: a clear dialogue, the server's yes, then
// the very TLS conversation a direct-TLS flow carries. The flow keeps its label, says it was
// upgraded, and its TLS fields, entropy and analytics inputs equal those of the direct twin.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../../src/runtime/replay.js';
import { fromHex } from '../../test/helpers/dissect-harness.js';
import { dialogue, dialoguePcap, type Turn } from '../../test/helpers/dialogue.js';
import { CASES, SMTP_TURNS } from './fixtures/dialogues.js';
import type { FlowRecord } from '../../src/flow/record.js';
import { tlsOf } from '../tls/record.js';

/** The flow's STARTTLS-family section (keyed by its protocol), with that protocol named. */
const sessionOf = (f: FlowRecord) => (f.protocol !== null && f.apps[f.protocol] !== undefined ? { protocol: f.protocol, ...(f.apps[f.protocol] as object) } : null);
import { ANALYTICS } from '../../src/analytics/engine.js';
import { IMG, makeContext, makeFlow } from '../../test/helpers/flows.js';

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
  const smtp = SMTP_TURNS;

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

describe('each protocol of the family', () => {
  for (const c of CASES) {
    it(`${c.name}: upgraded in place, whole and cut into 1-byte segments`, async () => {
      const direct = await one(443, TLS);
      for (const cut of [0, 1]) {
        const f = await one(c.port, [...c.turns, ...TLS], cut);
        expect(f.protocol).toBe(c.name);
        expect([f.upgraded, f.upgradeUnanswered]).toEqual(['tls', null]);
        expect(tlsOf(f)?.ja4).toBe(tlsOf(direct)?.ja4);
        expect(tlsView(f)).toBe(tlsView(direct));
        expect(sessionOf(f)).toMatchObject({ protocol: c.name, starttls: true, starttlsRequested: true, starttlsRefused: false, ...c.expect });
      }
    });
    it(`${c.name}: the switch asked for and not one TLS byte after: no TLS section, the upgrade unanswered`, async () => {
      for (const cut of [0, 1]) {
        const f = await one(c.port, c.turns, cut);
        expect(f.protocol).toBe(c.name);
        expect([f.upgraded, f.upgradeUnanswered]).toEqual([null, 'tls']);
        expect(tlsOf(f)).toBeNull();
        expect(f.encrypted?.known ?? null).toBeNull();
        expect(sessionOf(f)).toMatchObject({ protocol: c.name, starttls: false, starttlsRequested: true, starttlsRefused: false, ...c.expect });
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
