// Adding a protocol is one folder plus one line in the list of dissectors: HELLO, a fixture
// protocol in test/fixtures/protocols/hello/, is registered beside dissectors/index.ts's list and
// its ECS fields, its typed protobuf message and its features come out of a real replay (no file
// outside that folder changes: scripts/lint-imports.mjs keeps the product from importing test/).
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { dissectorSpecs } from '../dissectors/index.js';
import { sectionsOf } from '../src/dissect/registry.js';
import { messageType, TYPE_URL_PREFIX } from '../src/grpc/convert.js';
import { flowToEcs } from '../src/output/ecs.js';
import { flowToPb } from '../src/output/siem-records.js';
import { replayFiles } from '../src/runtime/replay.js';
import { dialogue, dialoguePcap } from './helpers/dialogue.js';
import { helloSpec } from './fixtures/protocols/hello/index.js';
import { helloOf, helloSection } from './fixtures/protocols/hello/record.js';

const here = new URL('.', import.meta.url).pathname;
const fixture = join(here, 'fixtures', 'protocols', 'hello');
const withHello = [...dissectorSpecs, helloSpec]; // the one line a new protocol adds

async function replayHello(server: string) {
  const pcap = dialoguePcap(dialogue(40123, 7777, [[0, 'HELLO alice\r\n'], [1, `${server}\r\n`], [0, 'x'.repeat(40)]]));
  const { flows } = await replayFiles([pcap], { dissectors: withHello, withAnalytics: false });
  expect(flows).toHaveLength(1);
  return flows[0]!;
}

describe('an extra protocol from a fixture folder', () => {
  it('is dissected and its section, ECS fields, message and features come out', async () => {
    const rec = await replayHello('SECURE from now on');
    expect(rec.protocol).toBe('hello');
    expect(helloOf(rec)).toEqual({ clientName: 'alice', serverGreeting: 'SECURE from now on', lines: 2 });

    // Features: the generic classifier names the encrypting protocol it was told about.
    expect(rec.features.encryptedBy).toBe('hello');
    expect(rec.encrypted?.known).toBe('hello');

    // ECS: the section writes its own fields, in the registered order.
    const ecs = flowToEcs(rec, sectionsOf(withHello)) as { ndr: { hello?: unknown } };
    expect(ecs.ndr.hello).toEqual({ client_name: 'alice', server_greeting: 'SECURE from now on', lines: 2 });
    // Without the registration the section is not rendered (nothing guesses at it).
    expect((flowToEcs(rec) as { ndr: { hello?: unknown } }).ndr.hello).toBeUndefined();

    // Protobuf: its own message, packed as an Any named by the registration.
    const types = protobuf.loadSync(join(fixture, 'hello.proto'));
    const Hello = types.lookupType('ndr.test.v1.Hello');
    const pb = flowToPb(rec, { sections: sectionsOf(withHello), types: (name) => (name === helloSection.proto.type ? Hello : messageType(name)) });
    expect(pb.apps).toHaveLength(1);
    expect(pb.apps![0]!.type_url).toBe(`${TYPE_URL_PREFIX}ndr.test.v1.Hello`);
    expect(Hello.toObject(Hello.decode(pb.apps![0]!.value!))).toEqual({ clientName: 'alice', serverGreeting: 'SECURE from now on', lines: 2 });
  });

  it('reports only what the section says: a plain greeting is not encrypted', async () => {
    const rec = await replayHello('HI alice');
    expect(helloOf(rec)?.serverGreeting).toBe('HI alice');
    expect(rec.features.encryptedBy).toBeUndefined();
    expect(rec.encrypted).toBeNull();
  });

  it('is not dissected when not registered', async () => {
    const pcap = dialoguePcap(dialogue(40124, 7777, [[0, 'HELLO bob\r\n'], [1, 'HI\r\n']]));
    const { flows } = await replayFiles([pcap], { withAnalytics: false });
    expect(flows[0]!.protocol).toBeNull();
    expect(flows[0]!.apps).toEqual({});
  });

});
