import { describe, expect, it } from 'vitest';
import { an1413 } from './an1413.js';
import { IMG, T0, makeContext, makeFlow } from '../../test/helpers/flows.js';

const archive = (path: string, dtMs: number, guid: string | null = null) => ({ path, ts: T0 - dtMs, processEntityId: guid, image: IMG.sevenZip, kind: 'file_create' as const });

describe('AN1413 TLS after staging', () => {
  it('fires when a non-browser process uploads over TLS to a new destination after an archive was written', () => {
    const f = makeFlow({
      image: IMG.rclone, imageNetworkHistory: false, sni: 'files.transfer-drop.example', server: { ip: '198.51.100.99', port: 443 },
      bytes: [2_500_000, 40_000], fileEvents: [archive('C:\\Users\\carol\\AppData\\Local\\Temp\\q3.7z', 120_000)],
    });
    const a = an1413(f, makeContext());
    expect(a).toHaveLength(1);
    expect(a[0]!.severity).toBe('critical');
    expect(a[0]!.baselineSource).toBe('edr');
    expect(a[0]!.evidence.map((e) => e.signal)).toEqual(['staging_event', 'destination_unfamiliar_for_host', 'tls', 'non_browser_process', 'upload_heavy']);
    expect(String(a[0]!.evidence[0]!.value)).toContain('q3.7z');
    expect(a[0]!.destination.name).toBe('files.transfer-drop.example');
  });
  it('an archiver run counts as staging; a staging event older than the window does not', () => {
    const run = { path: IMG.sevenZip, ts: T0 - 60_000, processEntityId: null, image: IMG.sevenZip, kind: 'archiver_run' as const };
    expect(an1413(makeFlow({ image: IMG.powershell, hostDestinationSeen: false, fileEvents: [run] }), makeContext())).toHaveLength(1);
    expect(an1413(makeFlow({ image: IMG.powershell, hostDestinationSeen: false, fileEvents: [archive('C:\\t\\a.zip', 31 * 60_000)] }), makeContext())).toEqual([]);
    expect(an1413(makeFlow({ image: IMG.powershell, hostDestinationSeen: false, fileEvents: [{ ...archive('C:\\t\\a.docx', 1000) }] }), makeContext())).toEqual([]);
  });
  it('a backup tool uploading after compressing to its usual destination does not fire (EDR history, then sensor baseline)', () => {
    const spec = { image: IMG.backup, sni: 'vault.backup-svc.example', bytes: [5_000_000, 20_000] as [number, number], fileEvents: [archive('D:\\staging\\nightly.zip', 300_000)] };
    expect(an1413(makeFlow({ ...spec, imageNetworkHistory: true }), makeContext())).toEqual([]);
    expect(an1413(makeFlow({ ...spec, hostDestinationSeen: true, imageNetworkHistory: null }), makeContext())).toEqual([]);
    const learn = [makeFlow({ ...spec, fileEvents: [], startTs: T0 - 7_200_000 })];
    expect(an1413(makeFlow({ ...spec, imageNetworkHistory: false }), makeContext({ learn }))).toEqual([]);
  });
  it('a scripting host with fleet network history but no destination history still fires, marked baselineSource none', () => {
    const f = makeFlow({ image: IMG.powershell, imageNetworkHistory: true, sni: 'files.transfer-drop.example', fileEvents: [archive('C:\\t\\q3.7z', 60_000)] });
    const a = an1413(f, makeContext());
    expect(a).toHaveLength(1);
    expect(a[0]!.baselineSource).toBe('none');
    expect(a[0]!.evidence.map((e) => e.signal)).toContain('destination_familiarity_unknown');
    expect(a[0]!.severity).toBe('medium');
  });
  it('an update agent with TLS to a new destination but no staging does not fire', () => {
    expect(an1413(makeFlow({ image: IMG.updater, sni: 'dl.new-cdn.example', hostDestinationSeen: false }), makeContext())).toEqual([]);
  });
  it('a browser after staging does not fire', () => {
    expect(an1413(makeFlow({ image: IMG.chrome, hostDestinationSeen: false, fileEvents: [archive('C:\\t\\a.zip', 1000)] }), makeContext())).toEqual([]);
  });
  it('same-process staging is named in the evidence', () => {
    const f = makeFlow({ image: IMG.powershell, hostDestinationSeen: false, bytes: [100, 100] });
    f.attribution!.fileEvents = [archive('C:\\t\\out.zip', 10_000, f.attribution!.process!.entityId)];
    const a = an1413(f, makeContext());
    expect(a[0]!.evidence.map((e) => e.signal)).toContain('staged_by_same_process');
    expect(a[0]!.severity).toBe('critical');
  });
});
