import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EdrStore, normalizeIp } from './edr-store.js';
import { MAX_EVENT_CHARS, SysmonParser, parseSysmonText, parseSysmonTime, processGuidStartMs } from './sysmon.js';

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

  test('a JSON array, pretty or on one line, read element by element however it is cut', () => {
    const objs = [flat, winlogRaw, ecs, ecsNet].map((t) => JSON.parse(t) as unknown);
    // Braces, brackets, quotes and backslashes inside strings must not move the element bounds.
    const tricky = { ...(JSON.parse(flat) as Record<string, unknown>), Image: 'C:\\x\\{[odd]} "q" \\\\', SourcePort: '51130' };
    const texts = [JSON.stringify([...objs, tricky]), JSON.stringify([...objs, tricky], null, 2), '\ufeff  ' + JSON.stringify([...objs, tricky], null, '\t')];
    for (const text of texts) {
      for (const size of [text.length, 4096, 7, 1]) {
        const events: number[] = [];
        const images: (string | null)[] = [];
        const p = new SysmonParser('a.json', (e) => { events.push(e.eid); images.push(e.image); });
        for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
        p.end();
        expect(p.stats.malformed).toBe(0);
        expect(events).toEqual([3, 1, 7, 3, 3]);
        expect(images[4]).toBe('C:\\x\\{[odd]} "q" \\\\');
        expect(p.stats.lines).toBe(5);
      }
    }
  });

  test('bad array elements are counted with their line and skipped; memory stays bounded', () => {
    const big = 'x'.repeat(MAX_EVENT_CHARS + 10);
    const text = `[\n${flat},\n{"broken": tru},\n42,\n{"SourceName":"Microsoft-Windows-Sysmon","pad":"${big}"},\n${flat.replace('51129', '51131')}\n]`;
    const p = new SysmonParser('b.json', () => undefined);
    for (let i = 0; i < text.length; i += 65536) p.push(text.slice(i, i + 65536));
    p.end();
    expect(p.stats.events).toBe(2);
    expect(p.stats.malformed).toBe(2);
    expect(p.warnings.map((w) => [w.line, w.reason.split(':')[0]])).toEqual([[3, 'invalid JSON'], [5, `array element longer than ${MAX_EVENT_CHARS} chars`]]);
    const cut = new SysmonParser('c.json', () => undefined);
    cut.push(`[${flat}, {"SourceName": "Micro`);
    cut.end();
    expect([cut.stats.events, cut.stats.malformed]).toEqual([1, 1]);
    expect(cut.warnings[0]?.reason).toBe('JSON array element not closed before end of input');
  });

  test('the store loads a file in chunks: characters cut at a chunk boundary stay whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ndr-sysmon-chunks-'));
    try {
      // Pad lines (each shorter than an event may be) so that the 'ü' of a user name is cut by
      // the 4 MiB read boundary.
      const line = (i: number, user: string): string => JSON.stringify({ ...(JSON.parse(flat) as Record<string, unknown>), SourcePort: String(1000 + i), User: user, ProcessGuid: `{aaaaaaaa-5686-64dc-1000-00000000000${i}}` });
      const first = line(0, 'EX\\bob');
      const last = line(1, 'EX\\Jürgen€😀');
      const before = Buffer.byteLength(first) + 1 + Buffer.byteLength(last.slice(0, last.indexOf('ü')));
      let room = (4 << 20) - 1 - before;
      const pads: string[] = [];
      for (let i = 0; i < 5; i++) {
        const k = i < 4 ? Math.floor(room / (5 - i)) - 12 : room - 12;
        pads.push(JSON.stringify({ note: 'p'.repeat(k) }));
        room -= k + 12;
      }
      const text = `${first}\n${pads.join('\n')}\n${last}\n`;
      expect(Buffer.from(text).subarray((4 << 20) - 1, (4 << 20) + 1).toString()).toBe('ü');
      const file = join(dir, 's.jsonl');
      writeFileSync(file, text);
      const store = new EdrStore();
      const st = store.loadFile(file);
      expect([st.events, st.malformed, st.notSysmon]).toEqual([2, 0, 5]);
      const r = store.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 1001, serverIp: '198.51.100.7', serverPort: 8443, startTs: Date.UTC(2023, 7, 16, 4, 54, 31, 215) });
      expect(r.process?.user).toBe('EX\\Jürgen€😀');
      // The same as a JSON array.
      const arr = join(dir, 's.json');
      writeFileSync(arr, `[${first},${pads.join(',')},${last}]`);
      const store2 = new EdrStore();
      const st2 = store2.loadFile(arr);
      expect([st2.events, st2.malformed, st2.notSysmon]).toEqual([2, 0, 5]);
      expect(store2.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: 1001, serverIp: '198.51.100.7', serverPort: 8443, startTs: Date.UTC(2023, 7, 16, 4, 54, 31, 215) }).process?.user).toBe('EX\\Jürgen€😀');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the store keeps to its limits, oldest first', () => {
    const store = new EdrStore({ maxConnections: 100, maxProcesses: 50, maxConnectionsPerTuple: 3, maxImageTimes: 8 });
    const base = JSON.parse(flat) as Record<string, unknown>;
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(JSON.stringify({ ...base, SourcePort: String(20000 + i), ProcessGuid: `{aaaaaaaa-5686-64dc-1000-${String(i).padStart(12, '0')}}` }));
    for (let i = 0; i < 10; i++) lines.push(JSON.stringify({ ...base, SourcePort: '30000' }));
    store.loadText(lines.join('\n'));
    const st = store.stats();
    expect(st.connections).toBeLessThanOrEqual(100);
    expect(st.processes).toBeLessThanOrEqual(50);
    expect(st.evicted).toBeGreaterThan(200);
    const q = (port: number) => store.join({ transport: 'tcp', clientIp: '10.0.0.5', clientPort: port, serverIp: '198.51.100.7', serverPort: 8443, startTs: Date.UTC(2023, 7, 16, 4, 54, 31, 215) });
    expect(q(20000).match).toBe('none'); // evicted
    expect(q(20299).match).toBe('exact_tuple'); // recent
    expect(q(30000).match).toBe('exact_tuple');
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
