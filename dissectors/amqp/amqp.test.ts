import { describe, expect, it } from 'vitest';
import { fromHex, harness } from '../../test/helpers/dissect-harness.js';
import { fuzzDissector, loadConversation, outcome, runConversation, type Conversation } from '../../test/helpers/fuzz-dissector.js';
import { probeAmqp } from './framing.js';
import { amqpDissector } from './index.js';
import { defaultAmqpLimits, type AmqpRecord } from './records.js';

const fx = (name: string): Conversation => loadConversation(new URL(`./fixtures/${name}.hex`, import.meta.url));
const lim = (o: Partial<typeof defaultAmqpLimits>) => ({ ...defaultAmqpLimits, ...o });
const methods = (recs: readonly unknown[]): AmqpRecord[] => (recs as AmqpRecord[]).filter((r) => r.kind === 'amqp.method');
const ids = (h: { events: { id: string }[] }) => h.events.map((e) => e.id);

const VALID = ['amqp091-pika', 'amqp10-rhea', 'three-publishes'] as const;

describe('amqp probe', () => {
  it('recognises both protocol headers by content', () => {
    expect(probeAmqp(fromHex('414d515000000901'), 0)).toBe('yes');
    expect(probeAmqp(fromHex('414d515003010000'), 0)).toBe('yes');
    expect(probeAmqp(fromHex('414d515000010000'), 1)).toBe('yes');
    expect(probeAmqp(fromHex('414d51'), 0)).toBe('unsure');
  });
  it('says no to other content on 5672', () => {
    for (const s of ['GET / HTTP/1.1\r\n', '\x16\x03\x01\x00\xa5\x01', '\x10\x17\x00\x04MQTT\x04', 'AMQX\x00\x00\x09\x01']) {
      expect(probeAmqp(Buffer.from(s, 'latin1'), 0)).toBe('no');
    }
    expect(amqpDissector.probe.ports).toEqual([5672]);
  });
});

describe('amqp valid fixtures (rule 10.1)', () => {
  it('0-9-1 (pika against RabbitMQ): client properties, tune, vhost, declares, publishes with body sizes, heartbeats, close', () => {
    const h = runConversation(amqpDissector, fx('amqp091-pika'));
    expect(h.events).toEqual([]);
    expect(h.violations).toEqual([]);
    expect(h.confirmed).toBe(true);
    const m = methods(h.records);
    const start = m.find((r) => r.method === 'connection.start')!;
    expect(start.mechanisms).toEqual(expect.arrayContaining(['PLAIN', 'AMQPLAIN']));
    expect(start.product).toBe('RabbitMQ');
    expect(m.find((r) => r.method === 'connection.start-ok')).toMatchObject({ product: 'Pika Python Client Library', platform: expect.stringMatching(/^Python /), clientVersion: '1.2.0', mechanism: 'PLAIN' });
    expect(m.find((r) => r.method === 'connection.tune-ok')).toMatchObject({ heartbeatS: 2 });
    expect(m.find((r) => r.method === 'connection.open')).toMatchObject({ vhost: '/' });
    expect(m.find((r) => r.method === 'exchange.declare')).toMatchObject({ exchange: 'lab.events', exchangeType: 'topic' });
    const pubs = m.filter((r) => r.method === 'basic.publish');
    expect(pubs.map((p) => [p.routingKey, p.bodyBytes])).toEqual([['lab.sensor.0', 10], ['lab.sensor.1', 20], ['lab.sensor.2', 30]]);
    expect(m.filter((r) => r.method === 'basic.deliver').length).toBe(3);
    expect(outcome(h)).not.toContain('guest'); // the SASL PLAIN response is never read
    const s = amqpDissector.summarize(h.records as AmqpRecord[]);
    expect(s).toMatchObject({ version: '0-9-1', product: 'Pika Python Client Library', mechanism: 'PLAIN', vhost: '/', heartbeatS: 2, exchanges: ['lab.events'], queues: ['lab.queue'], publishCount: 3, publishBytes: 60, closeCode: 200, closeReason: 'Normal shutdown' });
    expect(s.routingKeys).toEqual(['lab.sensor.0', 'lab.sensor.1', 'lab.sensor.2']);
    expect(s.heartbeats).toBeGreaterThanOrEqual(4);
    expect(s.messages).toBeGreaterThan(40);
  });

  it('1.0 (rhea at both ends): SASL, open, attach addresses, transfers, empty frames, close', () => {
    const h = runConversation(amqpDissector, fx('amqp10-rhea'));
    expect(h.events).toEqual([]);
    expect(h.violations).toEqual([]);
    const m = methods(h.records);
    expect(m.find((r) => r.method === 'sasl-mechanisms')!.mechanisms).toEqual(expect.arrayContaining(['ANONYMOUS', 'PLAIN']));
    expect(m.find((r) => r.method === 'sasl-init')).toMatchObject({ mechanism: 'PLAIN', dir: 0 });
    expect(m.find((r) => r.method === 'sasl-outcome')).toMatchObject({ code: 0 });
    expect(m.find((r) => r.method === 'open' && r.dir === 0)).toMatchObject({ containerId: 'lab-client', vhost: 'broker.lab', heartbeatS: 2 });
    const attaches = m.filter((r) => r.method === 'attach' && r.dir === 0);
    expect(attaches.map((a) => [a.role, a.target ?? a.source])).toEqual(expect.arrayContaining([['sender', 'lab/queue'], ['receiver', 'lab/topic']]));
    expect(m.filter((r) => r.method === 'transfer' && r.dir === 0).length).toBe(3);
    const json = outcome(h);
    expect(json).not.toContain('labsecret'); // SASL PLAIN initial response never read
    expect(json).not.toContain(Buffer.from('labsecret').toString('hex'));
    const s = amqpDissector.summarize(h.records as AmqpRecord[]);
    expect(s).toMatchObject({ version: '1.0', mechanism: 'PLAIN', containerId: 'lab-client', vhost: 'broker.lab', heartbeatS: 2, publishCount: 3 });
    expect(s.addresses).toEqual(expect.arrayContaining(['lab/queue', 'lab/topic']));
    expect(s.publishBytes).toBeGreaterThan(0);
    expect(s.heartbeats).toBeGreaterThanOrEqual(2);
  });

  it('content headers are matched to their method per channel', () => {
    const h = runConversation(amqpDissector, fx('three-publishes'));
    expect(h.events).toEqual([]);
    expect(methods(h.records).filter((r) => r.method === 'basic.publish').map((r) => [r.channel, r.bodyBytes, r.status])).toEqual([[1, 10, 'complete'], [2, 20, 'complete'], [3, 30, 'complete']]);
  });
});

describe('amqp splits and prefixes (rule 10.2, 10.3)', () => {
  for (const name of VALID) {
    it(`${name}: every split point gives identical records and events`, () => {
      const conv = fx(name);
      const ref = outcome(runConversation(amqpDissector, conv));
      for (let i = 0; i < conv.length; i++) {
        for (let s = 1; s < conv[i]!.bytes.length; s++) {
          const got = outcome(runConversation(amqpDissector, conv, defaultAmqpLimits, [i, s]));
          if (got !== ref) expect({ i, s, got }).toEqual({ i, s, got: ref });
        }
      }
      const h = harness(amqpDissector);
      let ts = 1_700_000_000_000;
      for (const m of conv) { ts += 10; for (let k = 0; k < m.bytes.length; k++) h.feed(m.dir, m.bytes.subarray(k, k + 1), ts); }
      h.end();
      expect(outcome(h)).toBe(ref);
    });
    it(`${name}: every proper prefix asks for more, never an error`, () => {
      const conv = fx(name);
      for (let i = 0; i < conv.length; i++) {
        for (let l = 1; l < conv[i]!.bytes.length; l++) {
          const h = harness(amqpDissector);
          for (let j = 0; j < i; j++) h.feed(conv[j]!.dir, conv[j]!.bytes);
          const v = h.feed(conv[i]!.dir, conv[i]!.bytes.subarray(0, l));
          if (v !== 'more' || h.events.length > 0 || h.violations.length > 0) expect({ i, l, v, ev: h.events, vi: h.violations }).toEqual({ i, l, v: 'more', ev: [], vi: [] });
        }
      }
    });
  }
});

describe('amqp malformed fixtures raise their event (rule 10.4)', () => {
  const cases: [string, string][] = [
    ['bad-frame-end', 'amqp.bad_frame_end'],
    ['unsupported-version', 'amqp.unsupported_version'],
    ['bad-protocol-header', 'amqp.bad_protocol_header'],
    ['bad-frame-type', 'amqp.bad_frame_type'],
    ['heartbeat-channel', 'amqp.heartbeat_channel'],
    ['bad-field-table', 'amqp.bad_field_table'],
    ['amqp10-bad-frame-size', 'amqp.bad_frame_size'],
    ['amqp10-bad-doff', 'amqp.bad_frame_size'],
    ['amqp10-malformed', 'amqp.malformed_performative'],
    ['amqp10-tls', 'amqp.tls_upgrade'],
  ];
  for (const [name, id] of cases) {
    it(`${name} → ${id}`, () => {
      const h = runConversation(amqpDissector, fx(name));
      expect(ids(h)).toContain(id);
    });
  }
  it('bad frame-end is a violation and aborts', () => {
    const h = runConversation(amqpDissector, fx('bad-frame-end'));
    expect(h.violations).toEqual(['amqp.bad_frame_end']);
    expect(h.verdicts.at(-1)).toBe('abort');
  });
  it('an unknown version is an event on a header record, not a bad parse', () => {
    const h = runConversation(amqpDissector, fx('unsupported-version'));
    expect(h.records[0]).toMatchObject({ kind: 'amqp.header', headerVersion: '1.0.10', protocolId: 1, events: ['amqp.unsupported_version'] });
    expect(h.verdicts.at(-1)).toBe('done');
  });
  it('a bad field table spoils only the table: the mechanism after it still parses', () => {
    const h = runConversation(amqpDissector, fx('bad-field-table'));
    expect(methods(h.records).find((r) => r.method === 'connection.start-ok')).toMatchObject({ product: 'fixture-client', mechanism: 'PLAIN', events: ['amqp.bad_field_table'] });
  });
});

describe('amqp limits (rule 10.5)', () => {
  it('maxTableDepthCount (0-9-1 field tables)', () => {
    const h = runConversation(amqpDissector, fx('deep-table'));
    expect(ids(h)).toEqual(['amqp.limit.max_table_depth_count']);
    expect(methods(h.records).find((r) => r.method === 'connection.start-ok')).toMatchObject({ product: 'fixture-client', mechanism: 'PLAIN' });
  });
  it('maxTableEntriesCount (0-9-1 field tables)', () => {
    const h = runConversation(amqpDissector, fx('many-entries'));
    expect(ids(h)).toEqual(['amqp.limit.max_table_entries_count']);
    expect(methods(h.records).find((r) => r.method === 'connection.start-ok')!.mechanism).toBe('PLAIN');
  });
  it('maxTableDepthCount and maxTableEntriesCount (1.0 encodings, before rhea sees them)', () => {
    expect(ids(runConversation(amqpDissector, fx('amqp10-deep')))).toEqual(['amqp.limit.max_table_depth_count']);
    const t0 = performance.now();
    const h = runConversation(amqpDissector, fx('amqp10-huge-count'));
    expect(ids(h)).toEqual(['amqp.limit.max_table_entries_count']);
    expect(performance.now() - t0).toBeLessThan(500);
  });
  it('maxFrameBytes: oversize frame skipped by counter, record truncated with the true size', () => {
    const conv = fx('amqp091-pika');
    const h = runConversation(amqpDissector, conv, lim({ maxFrameBytes: 256 }));
    const start = methods(h.records).find((r) => r.method === 'connection.start')!;
    const size = parseInt(Buffer.from(conv[1]!.bytes.subarray(3, 7)).toString('hex'), 16);
    expect(start).toMatchObject({ status: 'truncated', frameBytes: size + 8, events: ['amqp.limit.max_frame_bytes'] });
    expect(ids(h).every((e) => e === 'amqp.limit.max_frame_bytes')).toBe(true);
    expect(methods(h.records).filter((r) => r.method === 'basic.publish').length).toBe(3); // framing kept
  });
  it('maxFrameBytes on 1.0 frames', () => {
    const h = runConversation(amqpDissector, fx('amqp10-rhea'), lim({ maxFrameBytes: 64 }));
    const t = methods(h.records).filter((r) => r.status === 'truncated');
    expect(t.length).toBeGreaterThan(0);
    for (const r of t) expect(r.frameBytes).toBeGreaterThan(64);
    expect(ids(h).every((e) => e === 'amqp.limit.max_frame_bytes')).toBe(true);
  });
  it('maxPendingCount: the oldest publish waiting for its header is flushed', () => {
    const h = runConversation(amqpDissector, fx('three-publishes'), lim({ maxPendingCount: 2 }));
    expect(ids(h)).toEqual(['amqp.limit.max_pending_count']);
    expect(methods(h.records).find((r) => r.method === 'basic.publish' && r.channel === 1)).toMatchObject({ status: 'incomplete', bodyBytes: null });
  });
  it('maxStringBytes and maxFramesCount', () => {
    const h = runConversation(amqpDissector, fx('three-publishes'), lim({ maxStringBytes: 4 }));
    expect(methods(h.records).find((r) => r.method === 'connection.start-ok')!.product).toBe('fixt');
    const f = runConversation(amqpDissector, fx('amqp091-pika'), lim({ maxFramesCount: 3 }));
    expect(ids(f)).toEqual(['amqp.limit.max_frames_count']);
    expect(f.verdicts).toContain('done');
  });
});

describe('amqp fuzz (seeded)', () => {
  it('20,000 mutated conversations: no throw, no hang, split = unsplit', () => {
    const seeds = [...VALID, 'deep-table', 'amqp10-deep', 'amqp10-huge-count', 'many-entries'].map(fx);
    const r = fuzzDissector(amqpDissector, seeds, 20_000, 0xa3c9, { limits: lim({ maxFrameBytes: 1024, maxPendingCount: 4 }) });
    expect(r.throws).toEqual([]);
    expect(r.slow).toEqual([]);
    expect(r.splitMismatches).toEqual([]);
    expect(r.records).toBeGreaterThan(20_000);
    expect(r.heapGrowthBytes).toBeLessThan(256 * 1024 * 1024);
  });
});
