import { describe, expect, it } from 'vitest';
import { an1389 } from './an1389.js';
import { IMG, T0, makeContext, makeFlow } from '../../test/helpers/flows.js';

const custom = {
  tls: null, protocol: null, server: { ip: '203.0.113.66', port: 9001 },
  encrypted: { suspicious: true, known: null, evidence: [{ signal: 'entropy', value: 7.96, weight: 0.6 }] },
};

describe('AN1389 non-TLS encrypted channel', () => {
  it('fires for PowerShell sending random bytes to a destination new for the host (EDR history), with evidence', () => {
    const f = makeFlow({ ...custom, image: IMG.powershell, hostDestinationSeen: false, imageLoads: [{ path: 'C:\\Windows\\System32\\bcrypt.dll', ts: T0 - 5000, signed: true }] });
    const a = an1389(f, makeContext());
    expect(a).toHaveLength(1);
    expect(a[0]!.baselineSource).toBe('edr');
    expect(a[0]!.severity).toBe('critical');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(expect.arrayContaining(['non_tls_high_entropy', 'no_known_protocol', 'channel.entropy', 'destination_unfamiliar_for_host', 'suspicious_process', 'crypto_libraries_without_tls_stack']));
  });
  it('a destination the host already uses (warm sensor baseline) does not fire', () => {
    const learn = [makeFlow({ ...custom, startTs: T0 - 7_200_000, image: IMG.powershell })];
    expect(an1389(makeFlow({ ...custom, image: IMG.powershell }), makeContext({ learn }))).toEqual([]);
    // a different destination still fires, from the sensor baseline
    const a = an1389(makeFlow({ ...custom, server: { ip: '203.0.113.67', port: 9001 }, image: IMG.powershell }), makeContext({ learn }));
    expect(a[0]!.baselineSource).toBe('sensor');
  });
  it('TLS, known protocols, browsers and internal destinations do not fire', () => {
    expect(an1389(makeFlow({ image: IMG.powershell, encrypted: { suspicious: false, known: 'tls' } }), makeContext())).toEqual([]);
    expect(an1389(makeFlow({ ...custom, encrypted: { suspicious: false, known: 'wireguard' }, image: IMG.powershell }), makeContext())).toEqual([]);
    expect(an1389(makeFlow({ ...custom, image: IMG.chrome }), makeContext())).toEqual([]);
    expect(an1389(makeFlow({ ...custom, server: { ip: '192.168.1.10', port: 9001 }, image: IMG.powershell }), makeContext())).toEqual([]);
  });
  it('with no knowledge at all it still fires, marked baselineSource none, at medium', () => {
    const f = makeFlow({ ...custom, image: IMG.updater, imageNetworkHistory: null });
    const a = an1389(f, makeContext());
    expect(a[0]!.baselineSource).toBe('none');
    expect(a[0]!.severity).toBe('medium');
    expect(a[0]!.evidence.map((e) => e.signal)).toContain('non_browser_process');
  });
});
