/**
 * Real pub/sub captures from real software in network namespaces (lab/netns.ts):
 *  - mosquitto + mosquitto_pub/mosquitto_sub: MQTT 3.1, 3.1.1 and 5 on 1883, TLS on 8883, plus MQTT
 *    over WebSocket (mosquitto's websockets listeners: a small raw WebSocket client, peers/mqtt-ws-client.ts,
 *    on 8080; Debian's python3-paho-mqtt, peers/mqtt-ws-paho.py, on 9001, with its mid-stream twin);
 *  - rabbitmq-server + a python3-pika client: AMQP 0-9-1 on 5672 and TLS on 5671;
 *  - rhea at both ends: AMQP 1.0 with SASL ANONYMOUS, idle-time-out empty frames.
 * Keep-alives are short (MQTT 5 s for mosquitto_sub, its minimum, 2 s for the WebSocket client;
 * AMQP heartbeat / idle-time-out 2 s) so every capture holds several PINGREQ/PINGRESP or heartbeats.
 * Needs root and the Debian packages mosquitto, mosquitto-clients, rabbitmq-server, python3-pika, python3-paho-mqtt,
 * openssl, tcpdump.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLab, type Lab } from './netns.js';
import { peerProgram } from './peer-programs.js';
import { cutMidstream } from './midstream.js';

/**
 * Payload packets dropped from the start of the paho WebSocket session for its mid-stream twin:
 * the upgrade request and response, CONNECT and CONNACK, so the twin starts inside the
 * WebSocket-framed MQTT session.
 */
export const MQTT_WS_MID_SKIP = 4;

export interface PubsubCaptures {
  /** pcap paths written, by protocol. */
  mqtt: string[];
  amqp: string[];
  /** What could not be generated, and why. */
  notes: string[];
}

export interface PubsubOptions {
  /** Which groups to generate (default all). */
  only?: readonly ('mqtt' | 'mqtt-tls' | 'mqtt-ws' | 'mqtt-ws-paho' | 'amqp091' | 'amqp091-tls' | 'amqp10')[];
  /** Idle time with the short keep-alive, to collect several pings/heartbeats (default 6.5 s). */
  idleMs?: number;
  /** Idle time of the MQTT subscribers (keep-alive 5 s, the mosquitto_sub minimum; default 11 s). */
  mqttIdleMs?: number;
}

function makeCerts(dir: string, serverIp: string): { ca: string; cert: string; key: string } {
  const ca = path.join(dir, 'ca.pem');
  const caKey = path.join(dir, 'ca.key');
  const key = path.join(dir, 'server.key');
  const csr = path.join(dir, 'server.csr');
  const cert = path.join(dir, 'server.pem');
  const ext = path.join(dir, 'san.ext');
  const o = { stdio: 'ignore' as const };
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=ndr-sensor lab CA'], o);
  execFileSync('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=broker.lab'], o);
  writeFileSync(ext, `subjectAltName=DNS:broker.lab,IP:${serverIp}\n`);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], o);
  for (const f of [ca, key, cert]) chmodSync(f, 0o644);
  return { ca, cert, key };
}

async function waitPort(lab: Lab, host: string, port: number, ms: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    try {
      lab.exec(lab.client, 'bash', ['-c', `exec 3<>/dev/tcp/${host}/${port}`], { timeoutMs: 2000 });
      return true;
    } catch { await sleep(250); }
  }
  return false;
}

function run(lab: Lab, cmd: string, args: string[], timeoutMs = 30_000, env?: NodeJS.ProcessEnv): void {
  lab.exec(lab.client, cmd, args, { timeoutMs, ...(env ? { env } : {}) });
}

/** Wait for a started child to exit (bounded). */
function exited(child: import('node:child_process').ChildProcess, ms: number): Promise<void> {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) { res(); return; }
    const t = setTimeout(res, ms);
    child.once('exit', () => { clearTimeout(t); res(); });
  });
}

async function genMqtt(lab: Lab, work: string, out: string, certs: { ca: string; cert: string; key: string }, res: PubsubCaptures, idleMs: number, mqttIdleMs: number, groups: Set<string>): Promise<void> {
  const conf = path.join(work, 'mosquitto.conf');
  writeFileSync(conf, [
    'per_listener_settings false', 'allow_anonymous true', 'persistence false', 'log_dest none',
    'listener 1883 0.0.0.0',
    'listener 8883 0.0.0.0', `cafile ${certs.ca}`, `certfile ${certs.cert}`, `keyfile ${certs.key}`,
    'listener 8080 0.0.0.0', 'protocol websockets',
    'listener 9001 0.0.0.0', 'protocol websockets', '',
  ].join('\n'));
  const broker = lab.start(lab.server, 'mosquitto', ['-c', conf]);
  if (!(await waitPort(lab, lab.serverIp, 1883, 5000))) {
    res.notes.push('mosquitto did not start');
    broker.kill('SIGTERM');
    return;
  }
  const ip = lab.serverIp;
  const plainOrTls = async (name: string, port: number, tls: boolean): Promise<void> => {
    const file = path.join(out, `${name}.pcap`);
    const stop = await lab.capture(file, `tcp port ${port}`);
    const tlsArgs = tls ? ['--cafile', certs.ca] : [];
    for (const [v, tag] of [['mqttv31', '31'], ['mqttv311', '311'], ['5', '5']] as const) {
      if (tls && v === 'mqttv31') continue;
      // A subscriber with a 5 s keep-alive (mosquitto_sub's minimum) stays idle long enough for
      // two PINGREQ/PINGRESP pairs (3.1 only briefly, to keep generation short).
      const sub = lab.start(lab.client, 'mosquitto_sub', ['-h', ip, '-p', String(port), ...tlsArgs, '-V', v, '-k', '5', '-i', `lab-sub-${tag}`, '-q', '1', '-t', `lab/v${tag}/#`, '-C', '4']);
      await sleep(400);
      for (const q of ['0', '1', '2']) {
        run(lab, 'mosquitto_pub', ['-h', ip, '-p', String(port), ...tlsArgs, '-V', v, '-k', '5', '-i', `lab-pub-${tag}-q${q}`, '-u', 'labuser', '-P', 'labsecret',
          '--will-topic', 'lab/will', '--will-payload', 'gone', '-q', q, '-t', `lab/v${tag}/q${q}`, '-m', `hello qos ${q} from ${tag}`]);
      }
      await sleep(v === 'mqttv31' ? 1000 : mqttIdleMs);
      run(lab, 'mosquitto_pub', ['-h', ip, '-p', String(port), ...tlsArgs, '-V', v, '-i', `lab-pub-${tag}-end`, '-r', '-q', '1', '-t', `lab/v${tag}/end`, '-m', 'end']);
      await exited(sub, 3000);
      if (tls) break; // one TLS version is enough to show the record shapes
    }
    await stop();
    res.mqtt.push(file);
  };
  if (groups.has('mqtt')) await plainOrTls('mqtt-plain', 1883, false);
  if (groups.has('mqtt-tls')) await plainOrTls('mqtt-tls', 8883, true);
  if (groups.has('mqtt-ws')) {
    const file = path.join(out, 'mqtt-ws.pcap');
    const stop = await lab.capture(file, 'tcp port 8080');
    const script = peerProgram('mqtt-ws-client.ts', work);
    lab.exec(lab.client, process.execPath, [script, ip, '8080', String(idleMs)], { timeoutMs: idleMs + 15_000 });
    await stop();
    res.mqtt.push(file);
  }
  if (groups.has('mqtt-ws-paho')) {
    // A real MQTT client over WebSocket (paho), long enough to be cut mid-session: the twin
    // without its upgrade and first packets is written beside it (lab/midstream.ts).
    const file = path.join(out, 'mqtt-ws-paho.pcap');
    const stop = await lab.capture(file, 'tcp port 9001');
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    try {
      lab.exec(lab.client, python, [peerProgram('mqtt-ws-paho.py', work), ip, '9001', '6'], { timeoutMs: 30_000 });
    } catch (e) {
      res.notes.push(`paho websocket client failed: ${String((e as { stderr?: Buffer }).stderr ?? e).slice(-300)}`);
    }
    await stop();
    res.mqtt.push(file);
    const mid = path.join(out, 'mqtt-ws-mid.pcap');
    writeFileSync(mid, cutMidstream(readFileSync(file), { skipPayloadPackets: MQTT_WS_MID_SKIP }));
    res.mqtt.push(mid);
  }
  broker.kill('SIGTERM');
  await exited(broker, 3000);
}

async function genAmqp091(lab: Lab, work: string, out: string, certs: { ca: string; cert: string; key: string }, res: PubsubCaptures, idleMs: number, groups: Set<string>): Promise<void> {
  const home = path.join(work, 'rabbit');
  mkdirSync(home, { recursive: true });
  const cfg = path.join(home, 'rabbitmq.conf');
  writeFileSync(cfg, [
    'listeners.tcp.default = 5672', 'listeners.ssl.default = 5671', 'loopback_users = none',
    `ssl_options.cacertfile = ${certs.ca}`, `ssl_options.certfile = ${certs.cert}`, `ssl_options.keyfile = ${certs.key}`,
    'ssl_options.verify = verify_none', 'ssl_options.fail_if_no_peer_cert = false', 'heartbeat = 2',
    'management.tcp.port = 0', '',
  ].join('\n'));
  writeFileSync(path.join(home, 'enabled_plugins'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env, HOME: home, RABBITMQ_NODENAME: `labrabbit${process.pid}@localhost`, RABBITMQ_MNESIA_BASE: path.join(home, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(home, 'log'), RABBITMQ_CONFIG_FILE: cfg, RABBITMQ_ENABLED_PLUGINS_FILE: path.join(home, 'enabled_plugins'),
    RABBITMQ_PID_FILE: path.join(home, 'rabbit.pid'), RABBITMQ_LOGS: '-', ERL_EPMD_ADDRESS: '127.0.0.1', ERL_CRASH_DUMP: path.join(home, 'erl_crash.dump'),
  };
  // Run the real server script directly as root: /usr/sbin/rabbitmq-server would `su rabbitmq`,
  // which resets HOME and cannot write our temporary directories.
  const bin = existsSync('/usr/lib/rabbitmq/bin/rabbitmq-server') ? '/usr/lib/rabbitmq/bin/rabbitmq-server' : 'rabbitmq-server';
  const broker = lab.start(lab.server, bin, [], { env, cwd: home });
  let log = '';
  broker.stdout?.on('data', (d: Buffer) => { if (log.length < 65536) log += d.toString(); });
  broker.stderr?.on('data', (d: Buffer) => { if (log.length < 65536) log += d.toString(); });
  if (!(await waitPort(lab, lab.serverIp, 5672, 45_000))) {
    res.notes.push(`rabbitmq-server did not open 5672: ${log.slice(-400)}`);
    return;
  }
  const ip = lab.serverIp;
  const py = peerProgram('amqp091-client.py', work);
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const one = async (name: string, port: number, tls: boolean): Promise<void> => {
    if (tls && !(await waitPort(lab, ip, 5671, 10_000))) { res.notes.push('rabbitmq did not open 5671 (TLS)'); return; }
    // RabbitMQ opens its listeners before it has finished booting: a connection in that window is
    // refused. Wait (uncaptured) until a short client run succeeds, up to 40 s.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        lab.exec(lab.client, python, [py, ip, String(port), tls ? certs.ca : '', '0'], { timeoutMs: 20_000 });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    const file = path.join(out, `${name}.pcap`);
    const stop = await lab.capture(file, `tcp port ${port}`);
    try {
      lab.exec(lab.client, python, [py, ip, String(port), tls ? certs.ca : '', String(idleMs / 1000)], { timeoutMs: idleMs + 30_000 });
    } catch (e) {
      res.notes.push(`pika client on ${port} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).slice(-300)}`);
    }
    await stop();
    res.amqp.push(file);
  };
  if (groups.has('amqp091')) await one('amqp091-plain', 5672, false);
  if (groups.has('amqp091-tls')) await one('amqp091-tls', 5671, true);
  broker.kill('SIGTERM');
  await exited(broker, 5000);
}

async function genAmqp10(lab: Lab, work: string, out: string, res: PubsubCaptures, idleMs: number): Promise<void> {
  const srv = peerProgram('amqp10-server.ts', work);
  const cli = peerProgram('amqp10-client.ts', work);
  const server = lab.start(lab.server, process.execPath, [srv]);
  if (!(await waitPort(lab, lab.serverIp, 5672, 5000))) { res.notes.push('rhea server did not listen'); return; }
  const file = path.join(out, 'amqp10.pcap');
  const stop = await lab.capture(file, 'tcp port 5672');
  try {
    lab.exec(lab.client, process.execPath, [cli, lab.serverIp, String(idleMs)], { timeoutMs: idleMs + 15_000 });
  } catch (e) {
    res.notes.push(`rhea client failed: ${String((e as { stderr?: Buffer }).stderr ?? e).slice(-300)}`);
  }
  await stop();
  res.amqp.push(file);
  server.kill('SIGTERM');
}

/** Generate the pub/sub captures into outDir (created). Returns the files written. */
export async function generatePubsubCaptures(outDir: string, opts: PubsubOptions = {}): Promise<PubsubCaptures> {
  const groups = new Set<string>(opts.only ?? ['mqtt', 'mqtt-tls', 'mqtt-ws', 'mqtt-ws-paho', 'amqp091', 'amqp091-tls', 'amqp10']);
  const idleMs = opts.idleMs ?? 6500;
  mkdirSync(outDir, { recursive: true });
  const res: PubsubCaptures = { mqtt: [], amqp: [], notes: [] };
  const work = mkdtempSync(path.join(tmpdir(), 'ndr-pubsub-'));
  chmodSync(work, 0o755);
  const lab = await createLab('ps');
  try {
    const certs = makeCerts(work, lab.serverIp);
    if (groups.has('mqtt') || groups.has('mqtt-tls') || groups.has('mqtt-ws') || groups.has('mqtt-ws-paho')) await genMqtt(lab, work, outDir, certs, res, idleMs, opts.mqttIdleMs ?? 11_000, groups);
    if (groups.has('amqp10')) await genAmqp10(lab, work, outDir, res, idleMs);
    if (groups.has('amqp091') || groups.has('amqp091-tls')) await genAmqp091(lab, work, outDir, certs, res, idleMs, groups);
  } finally {
    await lab.close();
    rmSync(work, { recursive: true, force: true });
  }
  for (const f of [...res.mqtt, ...res.amqp]) if (!existsSync(f)) res.notes.push(`missing ${f}`);
  return res;
}

/** One TCP connection's payload, per direction (index 0 = the side that sent the SYN / first packet). */
export interface TcpStream {
  index: number;
  clientPort: number;
  serverPort: number;
  /** Payload segments in capture order, with their packet time (epoch ms). */
  chunks: { dir: 0 | 1; ts: number; bytes: Uint8Array }[];
}

/**
 * TCP payloads of a capture via tshark (test/lab use only: the sensor has its own reader).
 * Retransmitted segments are dropped by tshark's analysis flags.
 */
export function extractTcpStreams(pcap: string): TcpStream[] {
  const out = execFileSync('tshark', ['-r', pcap, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=|',
    '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'frame.time_epoch', '-e', 'tcp.payload',
    '-e', 'tcp.analysis.retransmission', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack'], { maxBuffer: 256 * 1024 * 1024 }).toString();
  const streams = new Map<number, TcpStream>();
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [s, sp, dp, t, payload, retrans, syn, ack] = line.split('|');
    const idx = Number(s);
    let st = streams.get(idx);
    if (st === undefined) {
      // The first packet's sender is the client, unless it is a SYN-ACK.
      const fromServer = syn === '1' && ack === '1';
      st = { index: idx, clientPort: Number(fromServer ? dp : sp), serverPort: Number(fromServer ? sp : dp), chunks: [] };
      streams.set(idx, st);
    }
    if (!payload || retrans) continue;
    const hexs = payload.replace(/:/g, '');
    st.chunks.push({ dir: Number(sp) === st.clientPort ? 0 : 1, ts: Math.round(Number(t) * 1000), bytes: Uint8Array.from(Buffer.from(hexs, 'hex')) });
  }
  return [...streams.values()];
}
