// Credentials never leave the sensor. Real clients send secrets in every place a dissected
// protocol carries them, captured by tcpdump on loopback: HTTP (userinfo and query parameters of
// an absolute-form URL, Authorization Basic, Proxy-Authorization Bearer, Cookie, an API-key
// header, a bearer token as WebSocket subprotocol) to a node HTTP server, MQTT (user name and
// password in CONNECT) from mosquitto_pub to mosquitto, and the shipped AMQP 0-9-1 capture (SASL
// PLAIN guest/guest, RabbitMQ and pika). The real CLI replays them into JSON lines and, over gRPC,
// into the reference SIEM collector; no secret may appear in either.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './helpers/net.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'ndr-sensor.mjs');
const amqpCapture = join(root, 'pcaps', 'amqp', 'amqp091-plain.pcap');
const dir = mkdtempSync(join(tmpdir(), 'ndr-creds-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const S = {
  userinfoUser: 'alice-userinfo-4d1c',
  userinfoPass: 'UserinfoPass-7f3a',
  queryPass: 'QueryPass-19c2',
  queryKey: 'ApiKey-55d1',
  basic: 'BasicPass-8e21',
  bearer: 'ProxyBearer-6b0d',
  cookie: 'CookieSess-41aa',
  headerKey: 'HeaderKey-2c9e',
  wsToken: 'WsToken-77aa',
  mqttUser: 'mqtt-user-3f08',
  mqttPass: 'MqttPass-90be',
};
const basicHeader = Buffer.from(`alice:${S.basic}`).toString('base64');

const capture = join(dir, 'credentials.pcap');
let httpPort = 0;


function start(cmd: string, args: string[], ready: RegExp): Promise<ChildProcess> {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return new Promise((res, rej) => {
    let text = '';
    const on = (b: Buffer): void => { text += b.toString(); if (ready.test(text)) res(c); };
    c.stdout?.on('data', on);
    c.stderr?.on('data', on);
    c.on('exit', (code) => rej(new Error(`${cmd} exited ${code}: ${text}`)));
  });
}

function stop(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve();
  const done = new Promise<void>((res) => c.on('exit', () => res()));
  process.kill(c.pid, signal);
  return done;
}

function httpRequest(path: string, headers: Record<string, string>): Promise<void> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.2', port: httpPort, path, headers, agent: false }, (resp) => { resp.resume(); resp.on('end', () => res()); });
    req.on('error', rej);
    req.end();
  });
}

beforeAll(async () => {
  httpPort = await freePort('127.0.0.2');
  const mqttPort = await freePort();
  const dump = await start('tcpdump', ['-i', 'lo', '-w', capture, '-U', '-n', '--immediate-mode', '-s', '0', `tcp and (port ${httpPort} or port ${mqttPort})`], /listening on/);
  const server = createServer((req, resp) => { req.resume(); req.on('end', () => resp.end('ok\n')); });
  await new Promise<void>((res) => server.listen(httpPort, '127.0.0.2', res));
  // Absolute-form, as a client talking to a proxy sends it: userinfo and query in the request line.
  await httpRequest(`http://${S.userinfoUser}:${S.userinfoPass}@127.0.0.2:${httpPort}/login?user=bob&password=${S.queryPass}&api_key=${S.queryKey}&lang=en`, {
    Authorization: `Basic ${basicHeader}`,
    'Proxy-Authorization': `Bearer ${S.bearer}`,
    Cookie: `session=${S.cookie}`,
    'X-Api-Key': S.headerKey,
  });
  await httpRequest('/stream', { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': `base64url.bearer.authorization.k8s.io.${S.wsToken}` });
  await new Promise<void>((res) => server.close(() => res()));
  // "running" is logged once the listeners are bound ("Opening ... listen socket" comes before).
  const broker = await start('mosquitto', ['-p', String(mqttPort), '-v'], / version [0-9.]+ running/);
  const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-u', S.mqttUser, '-P', S.mqttPass, '-i', 'creds-test', '-t', 'lab/creds', '-m', 'hello', '-V', 'mqttv311'], { encoding: 'utf8', timeout: 10_000 });
  expect(pub.status, pub.stderr).toBe(0);
  await stop(broker);
  await new Promise((r) => setTimeout(r, 300));
  await stop(dump, 'SIGINT');
}, 30_000);

describe('credentials stay out of the output and the SIEM feed', () => {
  it('every credential-bearing field of HTTP, MQTT and AMQP', async () => {
    expect(existsSync(amqpCapture)).toBe(true);
    const captured = readFileSync(capture).toString('latin1');
    // The secrets did travel (so their absence below means something).
    for (const s of [S.userinfoPass, S.queryPass, S.queryKey, basicHeader, S.bearer, S.cookie, S.headerKey, S.wsToken, S.mqttUser, S.mqttPass]) expect(captured).toContain(s);
    expect(readFileSync(amqpCapture).toString('latin1')).toContain('\0guest\0guest');

    const siemPort = await freePort();
    const siemOut = join(dir, 'siem.jsonl');
    const siem = await start(process.execPath, [cli, 'siem', 'serve', '--out', siemOut, '--listen', `127.0.0.1:${siemPort}`], /listening on/);
    const out = join(dir, 'out.jsonl');
    const r = spawnSync(process.execPath, [cli, 'replay', '--workers', '1', '-q', '--no-summary', '-o', out, '--siem', `127.0.0.1:${siemPort}`, '--spool', join(dir, 'spool'), capture, amqpCapture], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    await stop(siem);
    const json = readFileSync(out, 'utf8');
    const fed = readFileSync(siemOut, 'utf8');
    const docs = json.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    // The flows are there, with what may be said about their credentials.
    const http = docs.filter((d) => d.network?.protocol === 'http');
    expect(http.map((d) => d.url?.original).sort()).toEqual([`http://127.0.0.2:${httpPort}/login?user=bob&password=REDACTED&api_key=REDACTED&lang=en`, '/stream'].sort());
    const mqtt = docs.find((d) => d.network?.protocol === 'mqtt');
    expect(mqtt?.ndr?.mqtt ?? mqtt?.ndr?.pubsub).toBeDefined();
    expect(json).toMatch(/"usernamePresent":true,"passwordPresent":true|"username_present":true/);
    const amqp = docs.find((d) => d.network?.protocol === 'amqp');
    expect(JSON.stringify(amqp)).toContain('"mechanism":"PLAIN"');
    // The SIEM received the same flows.
    expect(fed.split('\n').filter((l) => l.includes('"community_id"')).length).toBeGreaterThanOrEqual(docs.filter((d) => d.event?.type?.includes('connection')).length);
    for (const [where, text] of [['JSON lines', json], ['SIEM feed', fed]] as const) {
      for (const [name, secret] of Object.entries(S)) expect(text.includes(secret), `${name} in the ${where}`).toBe(false);
      expect(text.includes(basicHeader), `Basic credentials in the ${where}`).toBe(false);
      expect(/guest/i.test(text), `AMQP PLAIN credentials in the ${where}`).toBe(false);
    }
  }, 90_000);
});
