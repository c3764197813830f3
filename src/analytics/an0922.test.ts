import { describe, expect, it } from 'vitest';
import { an0922 } from './an0922.js';
import { IMG, T0, makeContext, makeFlow } from '../../test/helpers/flows.js';

describe('AN0922 unusual process to an external destination', () => {
  it('fires for rundll32 with amplifiers: uncommon port, no SNI, self-signed chain → critical', () => {
    const f = makeFlow({ image: IMG.rundll32, server: { ip: '192.0.2.80', port: 4444 }, sni: null, chainAnomalies: ['self_signed'] });
    const a = an0922(f, makeContext());
    expect(a).toHaveLength(1);
    expect(a[0]!.severity).toBe('critical');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(['unusual_process', 'external_destination', 'uncommon_port', 'tls_no_sni', 'nonstandard_chain']);
    expect(a[0]!.baselineSource).toBe('none');
  });
  it('medium with no amplifier', () => {
    const a = an0922(makeFlow({ image: IMG.rundll32, sni: 'cdn.contoso.example' }), makeContext());
    expect(a[0]!.severity).toBe('medium');
  });
  it('an unsigned image in a user-writable path counts as unusual; signed there does not', () => {
    expect(an0922(makeFlow({ image: IMG.unsigned, signed: false }), makeContext())).toHaveLength(1);
    expect(an0922(makeFlow({ image: IMG.unsigned, signed: true }), makeContext())).toEqual([]);
  });
  it('uses the warm sensor baseline for a rare JA4 and a fleet-first destination', () => {
    const learn = Array.from({ length: 5 }, (_, i) => makeFlow({ startTs: T0 - 7_200_000 + i, host: `WS0${i}.corp.example`, image: IMG.chrome }));
    const ctx = makeContext({ learn });
    const f = makeFlow({ image: 'C:\\Windows\\System32\\mshta.exe', sni: 'x7f3k9q2zpm4v8w1.example', ja4: 't12d0909h1_aaaaaaaaaaaa_bbbbbbbbbbbb' });
    const a = an0922(f, ctx);
    expect(a[0]!.baselineSource).toBe('sensor');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(expect.arrayContaining(['rare_ja4', 'destination_first_seen_fleet', 'high_entropy_name']));
    // the common JA4 the fleet's browsers use is not rare, and www.example.com is not new
    const b = an0922(makeFlow({ image: 'C:\\Windows\\System32\\mshta.exe' }), ctx);
    expect(b[0]!.evidence.map((e) => e.signal)).not.toContain('rare_ja4');
    expect(b[0]!.evidence.map((e) => e.signal)).not.toContain('destination_first_seen_fleet');
  });
  it('a browser to the same destination does not fire; nor does an ordinary agent', () => {
    const dst = { server: { ip: '192.0.2.80', port: 4444 }, sni: null };
    expect(an0922(makeFlow({ ...dst, image: IMG.chrome }), makeContext())).toEqual([]);
    expect(an0922(makeFlow({ ...dst, image: IMG.updater }), makeContext())).toEqual([]);
  });
  it('internal destinations and allowlisted destinations do not fire', () => {
    expect(an0922(makeFlow({ image: IMG.rundll32, server: { ip: '10.0.0.9', port: 445 } }), makeContext())).toEqual([]);
    expect(an0922(makeFlow({ image: IMG.rundll32, server: { ip: '192.0.2.80', port: 443 } }), makeContext({ config: { allowDestinations: ['192.0.2.0/24'] } }))).toEqual([]);
  });
  it('high-entropy HTTP paths amplify', () => {
    const a = an0922(makeFlow({ image: IMG.rundll32, tls: null, server: { ip: '192.0.2.81', port: 80 }, httpPathEntropy: 5.1 }), makeContext());
    expect(a[0]!.evidence.map((e) => e.signal)).toContain('high_entropy_http_path');
  });
});
