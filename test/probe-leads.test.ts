/**
 * The probes' lead bytes (ProbeSpec.leads) against the probes themselves, and classification with
 * the lead tables against classification calling every probe in order.
 *
 * 1. Soundness: for openings each dissector accepts (written here, and every payload of the
 *    project's captures), with the first byte set to each of the 256 values, cut short and
 *    mutated, a probe whose leads leave out the first byte must answer 'no' (not throw).
 * 2. Same answers: two drivers, one on a registry using the leads and one calling every probe,
 *    classify the same flows (ports hinted or not, with or without a handshake, the bytes cut into
 *    random segments, both directions, UDP datagram after datagram) and must agree after every
 *    call: the return, the dissector attached, the roles, the probes ruled out, the events.
 */
import { describe, expect, it } from 'vitest';
import type { AnyDissectorSpec, Dir } from '../src/contract/api.js';
import { dissectorSpecs } from '../dissectors/index.js';
import { Registry } from '../src/dissect/registry.js';
import { Driver, type DriverHost } from '../src/dissect/driver.js';
import { openCaptureFile } from '../src/capture/pcap-file.js';
import { decode } from '../src/decode/decode.js';
import { PacketMeta, DecodeStatus } from '../src/decode/packet-meta.js';
import { FragmentTable } from '../src/decode/fragments.js';
import { AppState, Flow } from '../src/flow/flow.js';
import { captures } from './helpers/golden.js';
import { prng as rng } from './helpers/fuzz-dissector.js';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const cat = (...parts: (number[] | string)[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? ascii(p) : p)));
const fill = (n: number, v = 0x41): number[] => new Array<number>(n).fill(v);

/** Openings the dissectors recognise (or may recognise with more bytes), per transport. */
const TCP_SEEDS: Uint8Array[] = [
  // TLS: ClientHello and ServerHello records, SSLv2 hello, CONNECT, SOCKS5, SOCKS4
  cat([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03], fill(60, 7)),
  cat([0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03], fill(60, 9)),
  cat([0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15], fill(30, 0)),
  cat([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15], fill(30, 0)),
  cat('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', [0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4]),
  cat([0x05, 0x01, 0x00, 0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 1, 187]),
  cat([0x04, 0x01, 0x01, 0xbb, 127, 0, 0, 1, 0x75, 0x00]),
  // MQTT CONNECT (3.1.1 and 3.1) and a WebSocket upgrade asking for mqtt
  cat([0x10, 0x10, 0x00, 0x04], 'MQTT', [0x04, 0x02, 0x00, 0x3c, 0x00, 0x04], 'abcd'),
  cat([0x10, 0x12, 0x00, 0x06], 'MQIsdp', [0x03, 0x02, 0x00, 0x3c, 0x00, 0x04], 'abcd'),
  cat('GET /mqtt HTTP/1.1\r\nHost: broker\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n'),
  cat('get /mqtt HTTP/1.1\r\nsec-websocket-protocol: MQTTv3.1\r\n\r\n'),
  // AMQP 0-9-1 and 1.0 protocol headers
  cat('AMQP', [0, 0, 9, 1]),
  cat('AMQP', [3, 1, 0, 0]),
  // HTTP requests and a response
  cat('GET /status HTTP/1.1\r\nHost: svc\r\n\r\n'),
  cat('POST /api HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}'),
  cat('HEAD / HTTP/1.0\r\n\r\n'),
  cat('OPTIONS * HTTP/1.1\r\n\r\n'),
  cat('DELETE /x HTTP/1.1\r\n\r\n'),
  cat('PUT /x HTTP/1.1\r\n\r\n'),
  cat('PATCH /x HTTP/1.1\r\n\r\n'),
  cat('HTTP/1.1 204 No Content\r\n\r\n'),
  // a request whose body names an XMPP stream (XMPP's probe looks past the first byte)
  cat('POST /http-bind HTTP/1.1\r\n\r\n<stream:stream to="example.com">'),
  // SSH banners
  cat('SSH-2.0-OpenSSH_9.6\r\n'),
  // DNS over TCP: a query (length first)
  cat([0x00, 0x1d, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 7], 'example', [3], 'com', [0, 0, 1, 0, 1]),
  cat([0x00, 0x2d, 0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0, 1, 0, 0, 0, 0, 7], 'example', [3], 'com', [0, 0, 1, 0, 1], fill(16, 0)),
  // the 220 family, greetings and first commands
  cat('220 mail.example.com ESMTP Postfix\r\n'),
  cat('220-mx LMTP ready\r\n'),
  cat('220 FTP server ready\r\n'),
  cat('220 ready\r\n'),
  cat('EHLO client.example\r\n'),
  cat('helo x\r\n'),
  cat('LHLO x\r\n'),
  cat('USER anonymous\r\n'),
  cat('AUTH TLS\r\n'),
  cat('feat\r\n'),
  cat('SYST\r\n'),
  cat('* OK IMAP4rev1 ready\r\n'),
  cat('* PREAUTH ready\r\n'),
  cat('* BYE busy\r\n'),
  cat('+OK POP3 ready\r\n'),
  cat('CAPA\r\n'),
  cat('stls\r\n'),
  cat('APOP user digest\r\n'),
  cat('200 news ready\r\n'),
  cat('201 news ready\r\n'),
  cat('CAPABILITIES\r\n'),
  cat('mode reader\r\n'),
  cat('"IMPLEMENTATION" "Dovecot"\r\n'),
  cat('"SIEVE" "fileinto"\r\n'),
  // XMPP stream headers, with a declaration and after whitespace
  cat("<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' version='1.0'>"),
  cat("\r\n  <stream:stream to='example.com'>"),
  // LDAP bind and StartTLS requests
  cat([0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]),
  cat([0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16], '1.3.6.1.4.1.1466.20037'),
  // PostgreSQL SSLRequest, startup, cancel
  cat([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]),
  cat([0, 0, 0, 0x29, 0, 3, 0, 0], 'user', [0], 'postgres', [0, 0], fill(16, 0x61)),
  cat([0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e], fill(8, 1)),
  // MySQL server greeting
  cat([0x4a, 0, 0, 0, 0x0a], '8.0.36', [0], fill(40, 0x21)),
  // RDP connection request (TPKT, X.224 CR)
  cat([0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 0x01, 0x00, 0x08, 0x00, 0x03, 0, 0, 0]),
];

const UDP_SEEDS: Uint8Array[] = [
  // QUIC v1 and v2 client Initials
  cat([0xc3, 0x00, 0x00, 0x00, 0x01, 0x08], fill(8, 0x11), [0x00, 0x00, 0x44, 0xe6], fill(40, 3)),
  cat([0xd3, 0x6b, 0x33, 0x43, 0xcf, 0x10], fill(16, 0x22), [0x00, 0x00, 0x44, 0xe6], fill(40, 3)),
  // DTLS 1.2 ClientHello
  cat([0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01, 0, 0, 0x34, 0, 0, 0, 0, 0, 0, 0, 0x34], fill(52, 5)),
  // STUN binding request (length 0) and one with an attribute
  cat([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42], fill(12, 0x33)),
  cat([0x01, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42], fill(12, 0x33), [0x00, 0x20, 0x00, 0x04, 1, 2, 3, 4]),
  // DNS query and response
  cat([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 7], 'example', [3], 'com', [0, 0, 1, 0, 1]),
  cat([0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0, 1, 0, 0, 0, 0, 7], 'example', [3], 'com', [0, 0, 1, 0, 1], [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]),
];

/** Every distinct opening (first 600 bytes, told apart by their first 24) of TCP and UDP payloads in the captures. */
async function capturedPayloads(): Promise<{ tcp: Uint8Array[]; udp: Uint8Array[] }> {
  const seen = new Set<string>();
  const tcp: Uint8Array[] = [];
  const udp: Uint8Array[] = [];
  for (const file of captures()) {
    const src = openCaptureFile(file);
    const meta = new PacketMeta();
    const frags = new FragmentTable();
    for await (const b of src.batches()) {
      for (let i = 0; i < b.n; i++) {
        if (decode(b.buf, b.off[i] as number, b.capLen[i] as number, b.linkType[i] as number, meta, frags) !== DecodeStatus.Ok) continue;
        if (meta.payloadLen <= 0 || (meta.proto !== 6 && meta.proto !== 17)) continue;
        const p = meta.data.slice(meta.payloadOff, meta.payloadOff + Math.min(meta.payloadLen, 600));
        const key = `${meta.proto}:${Buffer.from(p.subarray(0, 24)).toString('hex')}`;
        if (seen.has(key)) continue;
        seen.add(key);
        (meta.proto === 6 ? tcp : udp).push(p);
      }
    }
    await src.close();
  }
  return { tcp, udp };
}

/** Inputs made from one opening: every first byte, every cut, and random changes near the start. */
function variants(seed: Uint8Array, r: () => number, mutations: number): Uint8Array[] {
  const out: Uint8Array[] = [seed];
  for (let v = 0; v < 256; v++) {
    const c = seed.slice();
    c[0] = v;
    out.push(c);
  }
  for (let n = 1; n < Math.min(seed.length, 40); n++) out.push(seed.slice(0, n));
  for (let m = 0; m < mutations; m++) {
    const c = seed.slice(0, 1 + Math.floor(r() * seed.length));
    const changes = 1 + Math.floor(r() * 3);
    for (let k = 0; k < changes; k++) c[Math.floor(r() * Math.min(c.length, 24))] = Math.floor(r() * 256);
    out.push(c);
  }
  return out;
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function answer(spec: AnyDissectorSpec, b: Uint8Array, dir: Dir): string {
  try {
    return spec.probe.probe(b, dir);
  } catch (e) {
    return `throws ${String(e)}`;
  }
}

const payloads = await capturedPayloads();

describe('probe leads', () => {
  it('finds openings in the captures to check the leads on', () => {
    // the captures hold TLS, HTTP, MQTT, AMQP, DNS, QUIC, STARTTLS dialogues: many distinct openings
    expect(payloads.tcp.length).toBeGreaterThan(100);
    expect(payloads.udp.length).toBeGreaterThan(20);
  });

  it('every probe answers no on a first byte its leads leave out (seeds, captures, every first byte, cuts, mutations, random)', () => {
    const r = rng(0x1ead);
    let checked = 0;
    const claimed = new Map<string, number>();
    for (const transport of ['tcp', 'udp'] as const) {
      const specs = dissectorSpecs.filter((s) => s.transport === transport);
      const seeds = [...(transport === 'tcp' ? TCP_SEEDS : UDP_SEEDS), ...(transport === 'tcp' ? payloads.tcp : payloads.udp)];
      const inputs: Uint8Array[] = [];
      for (const s of seeds) inputs.push(...variants(s, r, 40));
      for (let k = 0; k < 3000; k++) inputs.push(randomBytes(r, 1 + Math.floor(r() * 600)));
      for (const spec of specs) {
        const leads = spec.probe.leads;
        expect(leads, `${spec.name} declares its leads`).toBeDefined();
        for (const dir of [0, 1] as Dir[]) {
          const list = leads?.[dir] ?? null;
          const allowed = new Set(list ?? []);
          for (const b of inputs) {
            if (b.length < spec.probe.minBytes) continue;
            const a = answer(spec, b, dir);
            if (a !== 'no') claimed.set(`${spec.name}/${dir}`, (claimed.get(`${spec.name}/${dir}`) ?? 0) + 1);
            if (list === null || allowed.has(b[0] as number)) continue;
            checked++;
            if (a !== 'no') expect.fail(`${spec.name} dir ${dir}: '${a}' on first byte ${b[0]} outside its leads: ${Buffer.from(b.subarray(0, 48)).toString('hex')}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(1_000_000);
    // The inputs reach each probe's accepting side in every direction whose leads are not empty,
    // so the check above is not passing on inputs every probe turns down anyway.
    for (const spec of dissectorSpecs) {
      for (const dir of [0, 1] as Dir[]) {
        const list = spec.probe.leads?.[dir];
        if (list !== undefined && list !== null && list.length === 0) continue;
        expect(claimed.get(`${spec.name}/${dir}`) ?? 0, `${spec.name} dir ${dir} answered other than no somewhere`).toBeGreaterThan(0);
      }
    }
  });

  it('a direction with no leads is one whose probe never claims a stream', () => {
    for (const spec of dissectorSpecs) {
      for (const dir of [0, 1] as Dir[]) {
        if (spec.probe.leads?.[dir]?.length !== 0) continue;
        for (const s of [...TCP_SEEDS, ...UDP_SEEDS]) if (s.length >= spec.probe.minBytes) expect(answer(spec, s, dir), `${spec.name} dir ${dir}`).toBe('no');
      }
    }
  });
});

// ---- the driver: the lead tables against the whole probe list ------------------------------

interface Outcome {
  ret: boolean;
  app: number;
  spec: string | null;
  protocol: string | null;
  aPort: number;
  probeNo: number;
  events: string[];
  faults: number;
}

class Side {
  readonly host: DriverHost;
  readonly driver: Driver;
  readonly hostEvents: string[] = [];
  constructor(reg: Registry) {
    const events = this.hostEvents;
    // The engine's side of the driver: classification only reaches dissectorEvent (a fault).
    this.host = {
      now: 0,
      handoffCert: () => undefined,
      payloadStart: () => undefined,
      finish: () => undefined,
      finishDir: () => undefined,
      dissectorEvent: (id) => { events.push(id); },
      recordTap: () => undefined,
      exchangesDone: () => undefined,
    };
    this.driver = new Driver(reg, this.host);
  }
}

function newFlow(proto: number, aPort: number, bPort: number, syn: boolean): Flow {
  const f = new Flow();
  f.proto = proto;
  f.aPort = aPort;
  f.bPort = bPort;
  f.a0 = 0x0a000001;
  f.b0 = 0x0a000002;
  f.directionFromSyn = syn;
  return f;
}

function outcome(s: Side, f: Flow, ret: boolean): Outcome {
  return { ret, app: f.app, spec: f.spec?.name ?? null, protocol: f.protocol, aPort: f.aPort, probeNo: f.probeNo, events: [...(f.events ?? []), ...s.hostEvents], faults: s.driver.faults };
}

/** Random cut points of a stream: growing prefixes, as segments arrive. */
function cuts(r: () => number, n: number): number[] {
  const out: number[] = [];
  let at = 0;
  while (at < n) {
    at = Math.min(n, at + 1 + Math.floor(r() * (r() < 0.5 ? 4 : 200)));
    out.push(at);
  }
  return out;
}

const TCP_PORTS = [40000, 80, 443, 8080, 1883, 5672, 22, 53, 25, 21, 143, 110, 119, 4190, 5222, 389, 5432, 3306, 3389, 24, 9001];
const UDP_PORTS = [40000, 443, 53, 3478, 5353, 4433, 19302];

describe('classification with lead tables', () => {
  const fast = new Registry(dissectorSpecs);
  const full = new Registry(dissectorSpecs, {}, { leads: false });

  it('calls only the probes a first byte allows, and passes over the others in order', () => {
    const plan = fast.plan('tcp', 40000, 8080, 0, 0x47, false); // 'G' to an HTTP port
    const names = plan.call.map((i) => fast.tcp[i]?.name);
    expect(names).toEqual(['mqtt', 'dns-tcp', 'xmpp', 'http']);
    // every dissector of the order is called or passed over exactly once, in the order
    const order = fast.order('tcp', 40000, 8080);
    const seen: number[] = [];
    plan.call.forEach((i, k) => {
      for (const j of order) if (((plan.pass[k] as number) & (1 << j)) !== 0) seen.push(j);
      seen.push(i);
    });
    for (const j of order) if (((plan.pass[plan.call.length] as number) & (1 << j)) !== 0) seen.push(j);
    expect(seen).toEqual(order);
    // the whole-list registry calls every probe
    expect(full.plan('tcp', 40000, 8080, 0, 0x47, false).call).toEqual(order);
    // without a handshake, probes that resync are called whatever the first byte
    const mid = fast.plan('tcp', 40000, 8080, 0, 0x47, true).call.map((i) => fast.tcp[i]?.name);
    expect(mid).toEqual(expect.arrayContaining(['tls', 'amqp', 'mqtt', 'http']));
    // one plan object per order, direction and byte
    expect(fast.plan('tcp', 40001, 8080, 0, 0x47, false)).toBe(plan);
  });

  it('rejects a lead that is not a byte', () => {
    const [tls] = dissectorSpecs;
    const bad = { ...tls, name: 'bad', probe: { ...tls!.probe, leads: [[256], []] as const } } as AnyDissectorSpec;
    expect(() => new Registry([bad])).toThrow(/lead byte 256 is not a byte/);
  });

  it('gives the same answers as calling every probe: TCP, segment by segment, both directions', () => {
    const r = rng(0x7c9);
    const streams = [...TCP_SEEDS, ...payloads.tcp];
    let calls = 0;
    let attached = 0;
    for (let n = 0; n < 6000; n++) {
      const pick = (): Uint8Array => {
        const base = streams[Math.floor(r() * streams.length)] as Uint8Array;
        const v = r();
        if (v < 0.5) return base;
        const c = base.slice();
        if (v < 0.75) c[0] = Math.floor(r() * 256);
        else c[Math.floor(r() * Math.min(c.length, 16))] = Math.floor(r() * 256);
        return c;
      };
      const client = pick();
      const server = r() < 0.5 ? pick() : new Uint8Array(0);
      const aPort = r() < 0.8 ? 40000 + Math.floor(r() * 20000) : (TCP_PORTS[Math.floor(r() * TCP_PORTS.length)] as number);
      const bPort = TCP_PORTS[Math.floor(r() * TCP_PORTS.length)] as number;
      const syn = r() < 0.7;
      const a = new Side(fast);
      const b = new Side(full);
      const fa = newFlow(6, aPort, bPort, syn);
      const fb = newFlow(6, aPort, bPort, syn);
      const cc = cuts(r, client.length);
      const sc = cuts(r, server.length);
      let ci = 0;
      let si = 0;
      const serverFirst = r() < 0.3;
      const label = (): string => `flow ${n}: ${aPort}->${bPort} syn=${syn} client ${Buffer.from(client.subarray(0, 32)).toString('hex')} server ${Buffer.from(server.subarray(0, 32)).toString('hex')}`;
      while ((ci < cc.length || si < sc.length) && fa.app === AppState.Unclassified) {
        const toServer = si >= sc.length || (ci < cc.length && !(serverFirst && si === 0) && r() < 0.6);
        const dir: Dir = toServer ? 0 : 1;
        // the client's side object may have changed places (a mid-stream pick-up swaps roles)
        const mine = toServer ? client.subarray(0, cc[ci++] as number) : server.subarray(0, sc[si++] as number);
        const other = toServer ? server.subarray(0, si > 0 ? (sc[si - 1] as number) : 0) : client.subarray(0, ci > 0 ? (cc[ci - 1] as number) : 0);
        const ra = a.driver.classify(fa, dir, mine, false, other);
        const rb = b.driver.classify(fb, dir, mine, false, other);
        calls++;
        expect(outcome(a, fa, ra), label()).toEqual(outcome(b, fb, rb));
      }
      if (fa.app === AppState.Unclassified) {
        const ra = a.driver.classify(fa, 0, client, true, server);
        const rb = b.driver.classify(fb, 0, client, true, server);
        expect(outcome(a, fa, ra), `${label()} (final)`).toEqual(outcome(b, fb, rb));
      }
      if (fa.spec !== null) attached++;
    }
    expect(calls).toBeGreaterThan(10_000);
    // many flows got a dissector, so the agreement covers 'yes' answers, not only 'no'
    expect(attached).toBeGreaterThan(500);
  });

  it('gives the same answers as calling every probe: UDP, datagram by datagram', () => {
    const r = rng(0x0d9);
    const grams = [...UDP_SEEDS, ...payloads.udp];
    let attached = 0;
    for (let n = 0; n < 4000; n++) {
      const aPort = 40000 + Math.floor(r() * 20000);
      const bPort = UDP_PORTS[Math.floor(r() * UDP_PORTS.length)] as number;
      const a = new Side(fast);
      const b = new Side(full);
      const fa = newFlow(17, aPort, bPort, false);
      const fb = newFlow(17, aPort, bPort, false);
      for (let k = 0; k < 8 && fa.app === AppState.Unclassified; k++) {
        let d = grams[Math.floor(r() * grams.length)] as Uint8Array;
        if (r() < 0.4) { d = d.slice(); d[0] = Math.floor(r() * 256); }
        const dir: Dir = r() < 0.6 ? 0 : 1;
        fa.side(dir).probeBytes += d.length;
        fb.side(dir).probeBytes += d.length;
        const ra = a.driver.classify(fa, dir, d);
        const rb = b.driver.classify(fb, dir, d);
        expect(outcome(a, fa, ra), `flow ${n} datagram ${k}: ${Buffer.from(d.subarray(0, 32)).toString('hex')}`).toEqual(outcome(b, fb, rb));
      }
      if (fa.spec !== null) attached++;
    }
    expect(attached).toBeGreaterThan(500);
  });
});
