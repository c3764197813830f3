import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EdrStore, normalizeIp } from './edr-store.js';
import { parseSysmonText, parseSysmonTime, processGuidStartMs } from './sysmon.js';

const GUID = '{aaaaaaaa-5686-64dc-1000-000000000400}';

const flat = JSON.stringify({
  SourceName: 'Microsoft-Windows-Sysmon',
  EventID: 3,
  Hostname: 'WS01.example.local',
  UtcTime: '2023-08-16 04:54:31.215',
  ProcessGuid: GUID,
  ProcessId: '4242',
  Image: 'C:\\Users\\bob\\payload.exe',
  Protocol: 'tcp',
  Initiated: 'true',
  SourceIp: '10.0.0.5',
  SourcePort: '51129',
  DestinationIp: '198.51.100.7',
  DestinationPort: '8443',
});

const winlogRaw = JSON.stringify({
  '@timestamp': '2023-08-16T04:54:40.000Z',
  winlog: {
    channel: 'Microsoft-Windows-Sysmon/Operational',
    provider_name: 'Microsoft-Windows-Sysmon',
    event_id: 1,
    computer_name: 'WS01.example.local',
    event_data: {
      UtcTime: '2023-08-16 04:54:30.100',
      ProcessGuid: GUID,
      ProcessId: '4242',
      Image: 'C:\\Users\\bob\\payload.exe',
      CommandLine: 'payload.exe -c2',
      User: 'EX\\bob',
      ParentProcessGuid: '{aaaaaaaa-0001-64dc-1000-000000000400}',
      ParentImage: 'C:\\Windows\\explorer.exe',
      ParentCommandLine: 'explorer.exe',
    },
  },
});

const ecs = JSON.stringify({
  '@timestamp': '2023-08-16T04:54:30.900Z',
  event: { code: '7', provider: 'Microsoft-Windows-Sysmon', module: 'sysmon' },
  host: { name: 'WS01.example.local' },
  winlog: { provider_name: 'Microsoft-Windows-Sysmon', event_id: 7, computer_name: 'WS01.example.local' },
  process: { entity_id: GUID, pid: 4242, executable: 'C:\\Users\\bob\\payload.exe' },
  file: { path: 'C:\\Windows\\System32\\winhttp.dll', code_signature: { signed: true, subject_name: 'Microsoft Windows', status: 'Valid' } },
});

const ecsNet = JSON.stringify({
  '@timestamp': '2023-08-16T05:00:00.000Z',
  winlog: { provider_name: 'Microsoft-Windows-Sysmon', event_id: 3, computer_name: 'WS01.example.local' },
  process: { entity_id: GUID, pid: 4242, executable: 'C:\\Users\\bob\\payload.exe' },
  network: { transport: 'tcp', direction: 'egress' },
  source: { ip: '10.0.0.5', port: 51200 },
  destination: { ip: '198.51.100.7', port: 8443 },
  user: { domain: 'EX', name: 'bob' },
});

const xml = `<Events>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"/><EventID>11</EventID>
<TimeCreated SystemTime="2023-08-16T04:54:35.000000Z"/><Computer>WS01.example.local</Computer></System>
<EventData><Data Name="RuleName">-</Data><Data Name="UtcTime">2023-08-16 04:54:35.000</Data><Data Name="ProcessGuid">${GUID}</Data>
<Data Name="ProcessId">4242</Data><Data Name="Image">C:\\Users\\bob\\payload.exe</Data><Data Name="TargetFilename">C:\\Users\\bob\\AppData\\Local\\Temp\\loot &amp; more.zip</Data></EventData></Event>
</Events>`;

describe('Sysmon parsing', () => {
  test('accepts the flat, Winlogbeat raw, Winlogbeat ECS and XML shapes', () => {
    const { events, stats } = parseSysmonText([flat, winlogRaw, ecs, ecsNet, xml].join('\n'));
    expect(stats.malformed).toBe(0);
    expect(events.map((e) => e.eid)).toEqual([3, 1, 7, 3, 11]);
    const [net, proc, load, net2, file] = events;
    expect(net).toMatchObject({ host: 'WS01.example.local', protocol: 'tcp', initiated: true, srcPort: 51129, dstIp: '198.51.100.7', pid: 4242 });
    expect(net!.ts).toBe(Date.UTC(2023, 7, 16, 4, 54, 31, 215));
    expect(proc).toMatchObject({ commandLine: 'payload.exe -c2', parentImage: 'C:\\Windows\\explorer.exe', user: 'EX\\bob' });
    expect(load).toMatchObject({ imageLoaded: 'C:\\Windows\\System32\\winhttp.dll', signed: true, signatureStatus: 'Valid' });
    expect(net2).toMatchObject({ initiated: true, srcPort: 51200, user: 'EX\\bob' });
    expect(file).toMatchObject({ eid: 11, targetFilename: 'C:\\Users\\bob\\AppData\\Local\\Temp\\loot & more.zip' });
  });

  test('malformed lines are counted with their line numbers and skipped', () => {
    const text = [flat, '{"SourceName":"Microsoft-Windows-Sysmon","EventID":3', 'garbage', '', JSON.stringify({ SourceName: 'Microsoft-Windows-Sysmon', EventID: 3, Hostname: 'h', UtcTime: 'yesterday' }), flat, JSON.stringify({ SourceName: 'Security', EventID: 4624 })].join('\n');
    const { events, stats, warnings } = parseSysmonText(text, 'x.json');
    expect(events.length).toBe(2);
    expect(stats.malformed).toBe(3);
    expect(stats.notSysmon).toBe(1);
    expect(warnings.map((w) => w.line)).toEqual([2, 3, 5]);
    expect(warnings[0]!.reason).toContain('invalid JSON');
    expect(warnings[2]!.reason).toContain('UtcTime');
  });

  test('time and ProcessGuid helpers', () => {
    expect(parseSysmonTime('2023-08-16 04:54:31.2')).toBe(Date.UTC(2023, 7, 16, 4, 54, 31, 200));
    expect(parseSysmonTime('2023-08-16T06:54:31+02:00')).toBe(Date.UTC(2023, 7, 16, 4, 54, 31));
    expect(Number.isNaN(parseSysmonTime('nope'))).toBe(true);
    expect(processGuidStartMs(GUID)).toBe(1692161670_000);
    expect(processGuidStartMs('{zz}')).toBeNull();
    expect(normalizeIp('fe80:0:0:0:3816:b2ee:1b9b:324b')).toBe('fe80::3816:b2ee:1b9b:324b');
    expect(normalizeIp('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeIp('0:0:0:0:0:0:0:1')).toBe('::1');
  });
});

describe('EdrStore join', () => {
  test('exact tuple, then a learnt clock offset; process from EID 1; loads, staging, network history', () => {
    const s = new EdrStore();
    s.loadText([winlogRaw, ecs, flat, ecsNet, xml].join('\n'));
    const t3 = Date.UTC(2023, 7, 16, 4, 54, 31, 215);
    // Flow seen 0.4 s after the EID 3: exact.
    const a = s.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 51129, serverIp: '198.51.100.7', serverPort: 8443, startTs: t3 + 400 });
    expect(a.match).toBe('exact_tuple');
    expect(a.process).toMatchObject({ executable: 'C:\\Users\\bob\\payload.exe', name: 'payload.exe', commandLine: 'payload.exe -c2', parentExecutable: 'C:\\Windows\\explorer.exe', pid: 4242 });
    expect(a.imageLoads.map((l) => l.path)).toEqual(['C:\\Windows\\System32\\winhttp.dll']);
    expect(a.fileEvents.map((f) => f.kind)).toEqual(['file_create']);
    expect(a.imageNetworkHistory).toBe(false);
    expect(a.host?.ips).toEqual(['10.0.0.5']);
    // Either order of the tuple finds it.
    expect(s.join({ transport: 'tcp', clientIp: '198.51.100.7', clientPort: 8443, serverIp: '10.0.0.5', serverPort: 51129, startTs: t3 }).match).toBe('exact_tuple');
    // The second connection is in the log 5 min later; as a flow 3 days later only the offset path matches.
    const t3b = Date.UTC(2023, 7, 16, 5, 0, 0);
    const s2 = new EdrStore();
    s2.loadText([winlogRaw, flat, ecsNet].join('\n'));
    const lag = 3 * 86_400_000;
    const first = s2.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 51129, serverIp: '198.51.100.7', serverPort: 8443, startTs: t3 + lag });
    expect(first.match).toBe('tuple_time_offset'); // widened window, offset unknown
    expect(first.clockOffsetMs).toBe(lag);
    const second = s2.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 51200, serverIp: '198.51.100.7', serverPort: 8443, startTs: t3b + lag + 300 });
    expect(second.match).toBe('tuple_time_offset');
    expect(second.imageNetworkHistory).toBe(true);
    // Far from the learnt offset: no match.
    expect(s2.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 51200, serverIp: '198.51.100.7', serverPort: 8443, startTs: t3b + 60_000 }).match).toBe('none');
    // Wrong protocol: no match, but the host is known by its IP.
    const none = s2.join({ transport: 'udp', clientIp: '10.0.0.5', clientPort: 51129, serverIp: '198.51.100.7', serverPort: 8443, startTs: t3 });
    expect(none.match).toBe('none');
    expect(none.host?.name).toBe('WS01.example.local');
  });

  test('follows a growing file (tail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-tail-'));
    try {
      const f = join(dir, 'sysmon.json');
      writeFileSync(f, winlogRaw + '\n');
      const s = new EdrStore();
      s.follow(f, 20);
      expect(s.stats().events).toBe(1);
      appendFileSync(f, flat + '\n' + ecsNet.slice(0, 40)); // second line still being written
      const until = Date.now() + 3000;
      while (s.stats().events < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(s.stats().events).toBe(2);
      appendFileSync(f, ecsNet.slice(40) + '\nnot json\n');
      while (s.stats().events < 3 && Date.now() < until + 3000) await new Promise((r) => setTimeout(r, 20));
      expect(s.stats().events).toBe(3);
      expect(s.parseStats.malformed).toBe(1);
      expect(s.warnings[0]!.line).toBe(4);
      s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
