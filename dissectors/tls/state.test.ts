import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, harness, type Harness } from '../../test/helpers/dissect-harness.js';
import { concat, clientHelloRecord, extAlpn, extKeyShare, extSni, extU16List, handshake, records, serverHelloBody, sslv2Hello } from './fixtures/builder.js';
import { probeTls, summarizeTls, tlsDissector } from './index.js';
import type { TlsClientHelloRecord, TlsRecord, TlsServerHelloRecord } from './types.js';
import { defaultTlsLimits } from './types.js';

const fx = (name: string) => fromHex(readFileSync(new URL(`./fixtures/${name}.hex`, import.meta.url), 'utf8'));
const x509fx = (name: string) => fromHex(readFileSync(new URL(`../x509/fixtures/${name}.der.hex`, import.meta.url), 'utf8'));
const FIXTURES = ['tls12-chain', 'tls13', 'tls13-hrr', 'tls12-self'] as const;

function run(client: Uint8Array, server: Uint8Array, limits: object = defaultTlsLimits): Harness {
  const h = harness(tlsDissector, limits);
  h.feed(0, client, 1);
  h.feed(1, server, 2);
  h.end();
  return h;
}

function snapshot(h: Harness): string {
  return JSON.stringify({ records: h.records, events: h.events, violations: h.violations, certs: h.certs.map((c) => [c.dir, c.index, c.der.length]), ps: h.payloadStarts }, (_k, v) => (v instanceof Uint8Array ? Array.from(v) : v));
}

const hellos = (h: Harness) => h.records.filter((r): r is TlsClientHelloRecord => r.kind === 'tls.client_hello');
const serverHellos = (h: Harness) => h.records.filter((r): r is TlsServerHelloRecord => r.kind === 'tls.server_hello');

describe('tls dissector: 1. valid input', () => {
  it('TLS 1.2 with a chain: hellos, certificates handed off, payload start, session', () => {
    const c = fx('tls12-chain.client');
    const s = fx('tls12-chain.server');
    const h = run(c, s);
    expect(h.confirmed).toBe(true);
    expect(h.violations).toEqual([]);
    expect(h.events).toEqual([]);
    const [ch] = hellos(h);
    expect(ch?.hello.sni).toBe('example.test');
    expect(ch?.hello.alpn).toEqual(['h2', 'http/1.1']);
    expect(ch?.hello.legacyVersion).toBe(0x0303);
    expect(ch?.recordVersion).toBe(0x0301);
    const [sh] = serverHellos(h);
    expect(sh?.hello.cipherSuite).toBe(0xc030);
    expect(sh?.hello.alpn).toBe('h2');
    expect(sh?.hello.selectedVersion).toBeNull();
    expect(h.certs.map((x) => [x.dir, x.index])).toEqual([[1, 0], [1, 1]]);
    expect(Array.from(h.certs[0]!.der)).toEqual(Array.from(x509fx('leaf')));
    expect(Array.from(h.certs[1]!.der)).toEqual(Array.from(x509fx('int')));
    // payload starts right after each side's encrypted Finished
    expect(h.payloadStarts[0]).toBeGreaterThan(0);
    expect(h.payloadStarts[0]).toBeLessThan(c.length);
    expect(h.payloadStarts[1]).toBeLessThanOrEqual(s.length);
    const sum = summarizeTls(h.records as TlsRecord[]);
    expect(sum.version).toBe(0x0303);
    expect(sum.established).toBe(true);
    expect(sum.resumed).toBe(false);
    expect(sum.serverCertCount).toBe(2);
    expect(sum.appRecordSizes[0].length).toBeGreaterThan(0);
  });

  it('TLS 1.3: server encrypted after ServerHello, no certificates visible', () => {
    const h = run(fx('tls13.client'), fx('tls13.server'));
    expect(h.events).toEqual([]);
    const [sh] = serverHellos(h);
    expect(sh?.hello.selectedVersion).toBe(0x0304);
    expect(sh?.hello.extensions).toEqual([0x002b, 0x0033]);
    expect(h.certs).toEqual([]);
    const sum = summarizeTls(h.records as TlsRecord[]);
    expect(sum.version).toBe(0x0304);
    expect(sum.established).toBe(true);
    expect(h.payloadStarts[1]).not.toBeNull();
  });

  it('TLS 1.3 HelloRetryRequest: both ClientHellos and both ServerHellos are captured', () => {
    const h = run(fx('tls13-hrr.client'), fx('tls13-hrr.server'));
    expect(hellos(h).map((r) => r.index)).toEqual([0, 1]);
    expect(serverHellos(h).map((r) => r.hello.helloRetryRequest)).toEqual([true, false]);
    expect(h.events.map((e) => e.id)).toEqual(['tls.second_client_hello', 'tls.hello_retry_request']);
    // the second hello carries the X25519 share the HRR asked for
    expect(hellos(h)[1]?.hello.keyShareGroups).toEqual([0x001d]);
    expect(hellos(h)[0]?.hello.keyShareGroups).toEqual([0x0017]);
    const sum = summarizeTls(h.records as TlsRecord[]);
    expect(sum.version).toBe(0x0304);
    expect(sum.resumed).toBe(false);
  });

  it("the same HRR flow fed server-first still captures the second ClientHello", () => {
    const h = harness(tlsDissector);
    const c = fx('tls13-hrr.client');
    const s = fx('tls13-hrr.server');
    h.feed(0, c.subarray(0, 300), 1);
    h.feed(1, s, 2);
    h.feed(0, c.subarray(300), 3);
    h.end();
    expect(hellos(h).length).toBe(2);
  });

  it("returns 'done' once both directions are past the handshake and maxAppRecordsCount is reached", () => {
    const h = run(fx('tls13.client'), fx('tls13.server'), { ...defaultTlsLimits, maxAppRecordsCount: 0 });
    expect(h.verdicts).toContain('done');
    expect(h.records.filter((r) => r.kind === 'tls.session').length).toBe(1);
  });

  it("'dir-done' for a direction that has its application records while the other continues", () => {
    const h = harness(tlsDissector, { ...defaultTlsLimits, maxAppRecordsCount: 4 });
    expect(h.feed(0, fx('tls13.client'), 1)).toBe('more'); // the client sent fewer than 4 encrypted records
    expect(h.feed(1, fx('tls13.server'), 2)).toBe('dir-done');
    h.end();
    const sess = h.records.find((r) => r.kind === 'tls.session') as unknown as { appRecordSizes: number[][] };
    expect(sess.appRecordSizes[0]!.length).toBeLessThan(4);
    expect(sess.appRecordSizes[1]!.length).toBe(4);
  });

  it('probe: handshake records, SSLv2 hellos, and non-TLS bytes', () => {
    expect(probeTls(fx('tls12-chain.client').subarray(0, 16), 0)).toBe('yes');
    expect(probeTls(fx('tls12-chain.server').subarray(0, 16), 1)).toBe('yes');
    expect(probeTls(Uint8Array.of(0x16, 0x03), 0)).toBe('unsure');
    expect(probeTls(new TextEncoder().encode('GET / HTTP/1.1\r\n'), 0)).toBe('no');
    expect(probeTls(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0x10, 0x0b, 0, 0, 0), 0)).toBe('no'); // Certificate first
    expect(probeTls(sslv2Hello([0x00002f, 0x010080]).subarray(0, 8), 0)).toBe('yes');
  });
});

describe('tls dissector: 2. every split point gives identical records and events', () => {
  for (const name of FIXTURES) {
    it(name, () => {
      const c = fx(`${name}.client`);
      const s = fx(`${name}.server`);
      const want = snapshot(run(c, s));
      for (let i = 1; i < c.length; i++) {
        const h = harness(tlsDissector);
        h.feed(0, c.subarray(0, i), 1);
        h.feed(0, c.subarray(i), 1);
        h.feed(1, s, 2);
        h.end();
        expect(snapshot(h), `client split at ${i}`).toBe(want);
      }
      for (let i = 1; i < s.length; i++) {
        const h = harness(tlsDissector);
        h.feed(0, c, 1);
        h.feed(1, s.subarray(0, i), 2);
        h.feed(1, s.subarray(i), 2);
        h.end();
        expect(snapshot(h), `server split at ${i}`).toBe(want);
      }
    });
  }

  it('byte-by-byte feeding of both directions', () => {
    const c = fx('tls12-chain.client');
    const s = fx('tls12-chain.server');
    const want = snapshot(run(c, s));
    const h = harness(tlsDissector);
    for (let i = 0; i < c.length; i++) h.feed(0, c.subarray(i, i + 1), 1);
    for (let i = 0; i < s.length; i++) h.feed(1, s.subarray(i, i + 1), 2);
    h.end();
    expect(snapshot(h)).toBe(want);
  });

  it('a ClientHello split across three TCP segments (every pair of cut points)', () => {
    const c = fx('tls12-chain.client');
    const chLen = 5 + ((c[3]! << 8) | c[4]!);
    const ch = c.subarray(0, chLen);
    const want = JSON.stringify(hellos(run(ch, new Uint8Array(0))).map((r) => r.hello));
    for (let i = 1; i < chLen - 1; i += 7) {
      for (let j = i + 1; j < chLen; j += 5) {
        const h = harness(tlsDissector);
        h.feed(0, ch.subarray(0, i));
        h.feed(0, ch.subarray(i, j));
        h.feed(0, ch.subarray(j));
        expect(JSON.stringify(hellos(h).map((r) => r.hello)), `${i}/${j}`).toBe(want);
      }
    }
  });

  it('a ClientHello split across several TLS records (handshake reassembly)', () => {
    const c = fx('tls12-chain.client');
    const chLen = 5 + ((c[3]! << 8) | c[4]!);
    const msg = c.subarray(5, chLen);
    const want = JSON.stringify(hellos(run(c.subarray(0, chLen), new Uint8Array(0))).map((r) => r.hello));
    for (const frag of [1, 3, 4, 50, 100]) {
      const h = run(records(22, msg, frag), new Uint8Array(0));
      expect(h.events).toEqual([]);
      expect(JSON.stringify(hellos(h).map((r) => r.hello)), `fragment ${frag}`).toBe(want);
    }
  });

  it('a post-quantum (X25519MLKEM768) ClientHello > 1500 bytes in 1448-byte segments', () => {
    const rec = clientHelloRecord({
      ciphers: [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
      extensions: [extSni('pq.example'), extAlpn(['h2', 'http/1.1']), { type: 0x0015, data: new Uint8Array(120) }, extU16List(0x0a, [0x11ec, 0x001d]), extU16List(0x2b, [0x0304], 1), extU16List(0x0d, [0x0403, 0x0804]), extKeyShare([{ group: 0x11ec, bytes: 1216 }, { group: 0x001d, bytes: 32 }])],
    });
    expect(rec.length).toBeGreaterThan(1500);
    const h = harness(tlsDissector);
    for (let o = 0; o < rec.length; o += 1448) h.feed(0, rec.subarray(o, o + 1448));
    const [ch] = hellos(h);
    expect(ch?.hello.keyShareGroups).toEqual([0x11ec, 0x001d]);
    expect(ch?.hello.keyShareBytes).toBe(1248);
    expect(ch?.hello.sni).toBe('pq.example');
  });
});

describe('tls dissector: 3. every proper prefix gives need-more, never an error', () => {
  for (const name of FIXTURES) {
    it(name, () => {
      const c = fx(`${name}.client`);
      const chLen = 5 + ((c[3]! << 8) | c[4]!);
      for (let i = 1; i < c.length; i++) {
        const h = harness(tlsDissector);
        const v = h.feed(0, c.subarray(0, i));
        expect(v, `prefix ${i}`).toBe('more');
        expect(h.events.filter((e) => e.id !== 'tls.second_client_hello'), `prefix ${i}`).toEqual([]);
        expect(h.violations, `prefix ${i}`).toEqual([]);
        if (i < chLen) expect(hellos(h).length, `prefix ${i}`).toBe(0);
        else expect(hellos(h).length, `prefix ${i}`).toBeGreaterThan(0);
      }
      const s = fx(`${name}.server`);
      const h0 = harness(tlsDissector);
      h0.feed(0, c);
      for (let i = 1; i < s.length; i += 3) {
        const h = harness(tlsDissector);
        h.feed(0, c);
        expect(h.feed(1, s.subarray(0, i))).toBe('more');
        expect(h.events.filter((e) => e.dir === 1 && e.id !== 'tls.hello_retry_request')).toEqual([]);
      }
    });
  }
});

describe('tls dissector: 4. malformed input raises its specific event', () => {
  const good = () => Uint8Array.from(fx('tls12-chain.client'));
  const chRecordLen = (b: Uint8Array) => 5 + ((b[3]! << 8) | b[4]!);

  it('bad record content type before confirmation is a violation', () => {
    const b = good();
    b[0] = 0x19;
    const h = run(b, new Uint8Array(0));
    expect(h.violations).toEqual(['tls.bad_record_type']);
    expect(h.verdicts).toContain('abort');
  });

  it('bad record version after confirmation is an event', () => {
    const c = good();
    const s = Uint8Array.from(fx('tls12-chain.server'));
    s[1] = 0x07;
    const h = run(c, s);
    expect(h.events).toContainEqual({ id: 'tls.bad_record_version', dir: 1 });
  });

  it('record length over maxRecordBytes', () => {
    const b = good();
    b[3] = 0x50; // 0x50xx bytes > 16384 + 2048
    expect(run(b, new Uint8Array(0)).violations).toEqual(['tls.record_too_long']);
  });

  it('ClientHello with an odd cipher-suite length', () => {
    const body = [0x03, 0x03, ...new Array(32).fill(0), 0, 0x00, 0x03, 0x13, 0x01, 0x13, 1, 0];
    const rec = records(22, handshake(1, Uint8Array.from(body)));
    expect(run(rec, new Uint8Array(0)).violations).toEqual(['tls.malformed_client_hello']);
  });

  it('ClientHello whose extensions length disagrees with the body', () => {
    const b = good();
    const len = chRecordLen(b);
    // shorten the record and handshake lengths by one byte: extensions block overruns
    const cut = concat([b.subarray(0, len - 1)]);
    cut[4] = (cut[4]! - 1) & 0xff;
    if (cut[4] === 0xff) cut[3] = cut[3]! - 1;
    cut[8] = (cut[8]! - 1) & 0xff;
    if (cut[8] === 0xff) cut[7] = cut[7]! - 1;
    expect(run(cut, new Uint8Array(0)).violations).toEqual(['tls.malformed_client_hello']);
  });

  it('a bad extension body is an event on a still-valid ClientHello', () => {
    const bad = { type: 0x0010, data: Uint8Array.of(0x00, 0x09, 0x02, 0x68, 0x32) }; // ALPN list length lies
    const h = run(clientHelloRecord({ ciphers: [0x1301], extensions: [extSni('a.example'), bad] }), new Uint8Array(0));
    expect(h.events).toEqual([{ id: 'tls.malformed_extension', dir: 0 }]);
    expect(hellos(h)[0]?.hello.extensions).toEqual([0x0000, 0x0010]);
  });

  it('duplicate extension', () => {
    const h = run(clientHelloRecord({ ciphers: [0x1301], extensions: [extSni('a.example'), extSni('b.example')] }), new Uint8Array(0));
    expect(h.events).toEqual([{ id: 'tls.duplicate_extension', dir: 0 }]);
    expect(hellos(h)[0]?.hello.sni).toBe('a.example');
  });

  it('ServerHello sent by the client is unexpected', () => {
    const ch = clientHelloRecord({ ciphers: [0x1301], extensions: [] });
    const sh = records(22, handshake(2, serverHelloBody(0x1301, [])));
    const h = run(concat([ch, sh]), new Uint8Array(0));
    expect(h.events).toEqual([{ id: 'tls.unexpected_message', dir: 0 }]);
  });

  it('ServerHello with a truncated body', () => {
    const ch = clientHelloRecord({ ciphers: [0x1301], extensions: [] });
    const h = run(ch, records(22, handshake(2, serverHelloBody(0x1301, []).subarray(0, 30))));
    expect(h.events).toEqual([{ id: 'tls.malformed_server_hello', dir: 1 }]);
  });

  it('alert that is not two bytes, CCS that is not 0x01, empty handshake record', () => {
    const ch = clientHelloRecord({ ciphers: [0x1301], extensions: [] });
    const h = run(concat([ch, records(21, Uint8Array.of(2)), records(20, Uint8Array.of(7)), Uint8Array.of(22, 3, 3, 0, 0)]), new Uint8Array(0));
    expect(h.events.map((e) => e.id)).toEqual(['tls.malformed_alert', 'tls.malformed_ccs', 'tls.empty_record']);
  });

  it('fatal alert in clear', () => {
    const ch = clientHelloRecord({ ciphers: [0x1301], extensions: [] });
    const h = run(ch, records(21, Uint8Array.of(2, 40), 16384, 0x0303));
    expect(h.events).toEqual([{ id: 'tls.alert_fatal', dir: 1 }]);
    expect(h.records.find((r) => r.kind === 'tls.alert')).toMatchObject({ level: 2, description: 40 });
  });

  it('Certificate message with inconsistent list lengths', () => {
    const c = fx('tls12-chain.client');
    const s = Uint8Array.from(fx('tls12-chain.server'));
    // OpenSSL sends the Certificate message in the record after the ServerHello: corrupt its list length
    const shRec = 5 + ((s[3]! << 8) | s[4]!);
    const certAt = shRec + 5;
    expect(s[certAt]).toBe(11);
    s[certAt + 4] = s[certAt + 4]! ^ 0x01;
    const h = run(c, s);
    expect(h.events).toContainEqual({ id: 'tls.malformed_certificate', dir: 1 });
    expect(h.certs).toEqual([]);
  });

  it('malformed SSLv2 hello', () => {
    const b = Uint8Array.from(sslv2Hello([0x00002f]));
    b[6] = 0x05; // cipher_spec_length not a multiple of 3
    expect(run(b, new Uint8Array(0)).violations).toEqual(['tls.malformed_sslv2']);
  });

  it('a gap in the handshake aborts with tls.gap', () => {
    const h = harness(tlsDissector);
    const c = fx('tls12-chain.client');
    h.feed(0, c.subarray(0, 50));
    expect(h.dissector.gap(0, 10)).toBe('abort');
    expect(h.events).toEqual([{ id: 'tls.gap', dir: 0 }]);
  });

  it('a gap after the handshake ends that direction without an event; the other goes on', () => {
    const h = harness(tlsDissector);
    h.feed(0, fx('tls12-chain.client'), 1);
    h.feed(1, fx('tls12-chain.server'), 2);
    h.feed(1, records(23, new Uint8Array(100), 16384, 0x0303), 3);
    expect(h.dissector.gap(1, 37)).toBe('dir-done');
    h.feed(0, records(23, new Uint8Array(20), 16384, 0x0303), 6);
    h.end();
    expect(h.violations).toEqual([]);
    expect(h.events).toEqual([]);
    const sess = h.records.find((r) => r.kind === 'tls.session');
    expect(sess).toMatchObject({ pastHandshake: [true, true], appRecordSizes: [[44, 25], [105]] });
  });

  it('SSLv2-compatible ClientHello is parsed', () => {
    const h = run(sslv2Hello([0x00002f, 0x000035, 0x010080], 0x0301), new Uint8Array(0));
    expect(h.events).toEqual([{ id: 'tls.sslv2_client_hello', dir: 0 }]);
    expect(hellos(h)[0]?.hello.form).toBe('sslv2');
    expect(hellos(h)[0]?.hello.cipherSuites).toEqual([0x002f, 0x0035]);
  });
});

describe('tls dissector: 5. limits raise their event and keep the true length', () => {
  it('maxCertsCount', () => {
    const h = run(fx('tls12-chain.client'), fx('tls12-chain.server'), { ...defaultTlsLimits, maxCertsCount: 1 });
    expect(h.events).toContainEqual({ id: 'tls.limit.certs', dir: 1 });
    expect(h.certs.length).toBe(1);
    expect(h.records.find((r) => r.kind === 'tls.certificate')).toMatchObject({ count: 2, handedOff: 1 });
  });

  it('maxHandshakeBytes: an oversize message is skipped by counter, later messages still parse', () => {
    const h = run(fx('tls12-chain.client'), fx('tls12-chain.server'), { ...defaultTlsLimits, maxHandshakeBytes: 1024 });
    expect(h.events).toContainEqual({ id: 'tls.limit.handshake', dir: 1 });
    expect(h.certs).toEqual([]);
    const sess = h.records.find((r) => r.kind === 'tls.session');
    expect(sess).toMatchObject({ messages: [[1, 16], [2, 12, 14, 4]] });
  });

  it('maxRecordBytes', () => {
    const h = run(fx('tls12-chain.client'), new Uint8Array(0), { ...defaultTlsLimits, maxRecordBytes: 100 });
    expect(h.violations).toEqual(['tls.record_too_long']);
  });

  it('maxExtensionsCount, maxListCount, maxAlpnCount, maxNameBytes', () => {
    const longName = 'x'.repeat(40) + '.example';
    const rec = clientHelloRecord({
      ciphers: [1, 2, 3, 4, 5, 6],
      extensions: [extSni(longName), extAlpn(['a', 'b', 'c']), extU16List(0x0d, [0x0403, 0x0503, 0x0603]), extU16List(0x0a, [0x1d]), extU16List(0x2b, [0x0304], 1)],
    });
    const h = run(rec, new Uint8Array(0), { ...defaultTlsLimits, maxExtensionsCount: 4, maxListCount: 2, maxAlpnCount: 2, maxNameBytes: 10 });
    expect(h.events.map((e) => e.id).sort()).toEqual(['tls.limit.alpn', 'tls.limit.extensions', 'tls.limit.list', 'tls.limit.name']);
    const hello = hellos(h)[0]!.hello;
    expect(hello.cipherSuites).toEqual([1, 2]);
    expect(hello.extensions.length).toBe(4);
    expect(hello.sni).toBe('xxxxxxxxxx');
    expect(hello.alpn).toEqual(['a', 'b']);
    expect(hello.signatureAlgorithms).toEqual([0x0403, 0x0503]);
    expect(hello.bodyBytes).toBe(rec.length - 9);
  });

  it('maxHandshakeMessagesCount', () => {
    const h = run(fx('tls12-chain.client'), fx('tls12-chain.server'), { ...defaultTlsLimits, maxHandshakeMessagesCount: 2 });
    expect(h.events).toContainEqual({ id: 'tls.limit.handshake_messages', dir: 1 });
    expect(h.certs.length).toBe(2); // SH, Certificate are the first two
  });
});
