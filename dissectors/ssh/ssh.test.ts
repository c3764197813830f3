import { describe, expect, it } from 'vitest';
import { harness, splits } from '../../test/helpers/dissect-harness.js';
import { Dir } from '../../src/contract/api.js';
import { probeSsh, sshSpec, summarizeSsh } from './index.js';
import type { SshRecord } from './types.js';

const enc = (s: string) => new TextEncoder().encode(s);
// Server banner, then the start of its binary packet (KEXINIT) in the same segment.
const SERVER = new Uint8Array([...enc('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'), 0, 0, 4, 0x5c, 0x06, 0x14]);
const CLIENT = enc('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n');

function run(server: Uint8Array[], client: Uint8Array[], limits: object = sshSpec.defaultLimits) {
  const h = harness(sshSpec, limits, { srcPort: 40000, dstPort: 22, transport: 'tcp', startTs: 0 });
  for (const s of server) h.feed(Dir.ToClient, s, 5);
  for (const c of client) h.feed(Dir.ToServer, c, 6);
  return h;
}

describe('ssh dissector', () => {
  it('1. both banners give records, dir-done then done, and the summary', () => {
    const h = run([SERVER], [CLIENT]);
    expect(h.confirmed).toBe(true);
    expect(h.verdicts).toEqual(['dir-done', 'done']);
    const recs = h.records as SshRecord[];
    expect(recs[0]).toMatchObject({ kind: 'ssh.banner', dir: 1, protoVersion: '2.0', software: 'OpenSSH_9.2p1', comments: 'Debian-2+deb12u3', status: 'complete' });
    expect(summarizeSsh(recs)).toEqual({ clientBanner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3', serverBanner: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3' });
    expect(h.pending(Dir.ToClient)).toBe(6); // binary packets are left alone
    expect(h.payloadStarts).toEqual([CLIENT.length, SERVER.length - 6]);
  });

  it('2. every split point gives identical records and events', () => {
    const ref = run([SERVER], [CLIENT]);
    for (const [a, b] of splits(SERVER)) {
      const h = run([a, b], [CLIENT]);
      expect(JSON.stringify(h.records)).toBe(JSON.stringify(ref.records));
      expect(h.events).toEqual(ref.events);
    }
    const pre = enc('Welcome\r\nnotice: be nice\r\nSSH-1.99-Cisco-1.25\r\n');
    const ref2 = run([pre], []);
    expect(ref2.records.length).toBe(1);
    for (const [a, b] of splits(pre)) expect(JSON.stringify(run([a, b], []).records)).toBe(JSON.stringify(ref2.records));
  });

  it('3. every proper prefix gives need-more, never an error', () => {
    for (let i = 1; i < CLIENT.length; i++) {
      const h = run([], [CLIENT.subarray(0, i)]);
      expect(h.records).toEqual([]);
      expect(h.events).toEqual([]);
      expect(h.verdicts.every((v) => v === 'more')).toBe(true);
    }
  });

  it('4. malformed banners raise their events', () => {
    const bad = run([], [enc('SSH-x.y-foo\r\n')]);
    expect(bad.events.map((e) => e.id)).toEqual(['ssh.bad_banner']);
    expect(bad.violations).toEqual(['ssh.bad_banner']);
    const noSoftware = run([enc('SSH-2.0-\r\n')], []);
    expect(noSoftware.events.map((e) => e.id)).toEqual(['ssh.bad_banner']);
    const clientPre = run([], [enc('hello\r\nSSH-2.0-x\r\n')]);
    expect(clientPre.events.map((e) => e.id)).toEqual(['ssh.client_pre_banner_lines']);
    expect(clientPre.verdicts.at(-1)).toBe('abort');
  });

  it('5. limits raise their events and keep what fits', () => {
    const long = enc('SSH-2.0-' + 'A'.repeat(400) + '\r\n');
    const h = run([long], []);
    expect(h.events.map((e) => e.id)).toEqual(['ssh.limit.max_banner_bytes']);
    const r = h.records[0] as SshRecord;
    expect(r.status).toBe('truncated');
    expect(r.banner.length).toBe(255);
    const lines = enc(Array.from({ length: 5 }, (_, i) => `line ${i}\r\n`).join('') + 'SSH-2.0-x\r\n');
    const h2 = run([lines], [], { ...sshSpec.defaultLimits, maxPreBannerLinesCount: 3 });
    expect(h2.events.map((e) => e.id)).toEqual(['ssh.limit.max_pre_banner_lines_count']);
    expect(h2.records).toEqual([]);
  });

  it('probe', () => {
    expect(probeSsh(enc('SSH-2.0'), Dir.ToClient)).toBe('yes');
    expect(probeSsh(enc('SS'), Dir.ToServer)).toBe('unsure');
    expect(probeSsh(enc('GET '), Dir.ToServer)).toBe('no');
  });
});
