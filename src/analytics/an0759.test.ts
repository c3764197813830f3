import { describe, expect, it } from 'vitest';
import { an0759 } from './an0759.js';
import { IMG, T0, makeContext, makeFlow } from '../../test/helpers/flows.js';

const lib = (name: string, dt = 3000) => ({ path: `C:\\Windows\\System32\\${name}`, ts: T0 - dt, signed: true });

describe('AN0759 network-silent process opens TLS', () => {
  it('fires critical for a process with no EDR network history, upload-heavy, self-signed, TLS libs loaded just before', () => {
    const f = makeFlow({
      image: IMG.notepad, imageNetworkHistory: false, sni: null, bytes: [1_000_000, 76_000], chainAnomalies: ['self_signed', 'unknown_root'],
      imageLoads: [lib('schannel.dll'), lib('ncryptsslp.dll'), lib('winhttp.dll'), lib('ws2_32.dll')],
    });
    const a = an0759(f, makeContext());
    expect(a).toHaveLength(1);
    expect(a[0]!.severity).toBe('critical');
    expect(a[0]!.baselineSource).toBe('edr');
    const ev = Object.fromEntries(a[0]!.evidence.map((e) => [e.signal, e.value]));
    expect(ev['client_sends_more']).toBe('1000000 out / 76000 in');
    expect(ev['nonstandard_chain']).toBe('self_signed,unknown_root');
    expect(ev['tls_library_loaded']).toBe('schannel.dll,ncryptsslp.dll');
    expect(ev['tls_no_sni']).toBe(true);
  });
  it('medium with only the missing history; library loads outside the window do not count', () => {
    const a = an0759(makeFlow({ image: IMG.notepad, imageNetworkHistory: false, imageLoads: [lib('schannel.dll', 3_600_000)] }), makeContext());
    expect(a[0]!.severity).toBe('medium');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(['no_network_history', 'outbound_tls']);
  });
  it('an update agent with TLS to a new destination does not fire (it has network history)', () => {
    expect(an0759(makeFlow({ image: IMG.updater, sni: 'dl.new-cdn.example', imageNetworkHistory: true, hostDestinationSeen: false }), makeContext())).toEqual([]);
  });
  it('unknown history, browsers and non-TLS flows do not fire', () => {
    expect(an0759(makeFlow({ image: IMG.notepad, imageNetworkHistory: null }), makeContext())).toEqual([]);
    expect(an0759(makeFlow({ image: IMG.chrome, imageNetworkHistory: false }), makeContext())).toEqual([]);
    expect(an0759(makeFlow({ image: IMG.notepad, imageNetworkHistory: false, tls: null }), makeContext())).toEqual([]);
  });
  it('warm sensor baseline overrides the EDR: a fleet-known network image does not fire, a new one does', () => {
    const learn = [makeFlow({ image: IMG.notepad, startTs: T0 - 7_200_000, host: 'WS09.corp.example' })];
    const ctx = makeContext({ learn });
    expect(an0759(makeFlow({ image: IMG.notepad, imageNetworkHistory: false }), ctx)).toEqual([]);
    const a = an0759(makeFlow({ image: 'C:\\Windows\\System32\\calc.exe', imageNetworkHistory: true, imageLoads: [lib('winhttp.dll')] }), ctx);
    expect(a[0]!.baselineSource).toBe('sensor');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(['no_network_history', 'outbound_tls', 'http_library_loaded', 'library_new_for_image']);
  });
});
