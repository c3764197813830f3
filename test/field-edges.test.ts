// Tap realities, second set (lab/gen-field-edges.py): packets after a connection's record is out,
// overlapping fragments, the Kuznetsov pcap format, snoop files, L2TPv3 over IP and UDP, QUIC Initials inside
// VXLAN and GRE, STARTTLS and AUTH TLS picked up mid-capture, a capture starting inside a TLS
// record, a ClientHello over many records out of order, VLAN + MPLS + PPPoE, cooked v2 around
// VXLAN, an IPv6 jumbogram, switch tags on SPAN ports (Cisco MetaData, VN-Tag, E-Tag, 802.1ah),
// VXLAN-GPE (IP, and NSH around Ethernet), WCCP's GRE redirection. Where tshark decodes the case, each of its TCP/UDP conversations must
// be one flow of ours with the same endpoints, client, start, packets and bytes each way (and
// server name and JA3 where tshark has them); what tshark cannot say is held to the expectations
// below (the JA4 of a QUIC hello, computed by the generator from the hello's own lists).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayFiles, type ReplayResult } from '../src/runtime/replay.js';
import { flowToEcs } from '../src/output/ecs.js';
import { type Conv, ourConvs, tsharkConvLines, tsharkConvs } from './helpers/field-convs.js';

const root = join(new URL('.', import.meta.url).pathname, '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndr-field-edges-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GEN = join(root, 'lab/gen-field-edges.py');
const CASES = execFileSync('/usr/bin/python3', [GEN, '--list'], { encoding: 'utf8' }).trim().split('\n');
const file = (name: string) => join(tmp, `${name}.${name.startsWith('pcapng') ? 'pcapng' : name.startsWith('snoop') ? 'snoop' : 'pcap'}`);

/** What tshark cannot guess: an L2TPv3 session's cookie, sublayer and payload; a pseudowire's payload. */
const L2TPV3 = ['-d', 'l2tp.pw_type==0,eth'];
const TSHARK_ARGS: Record<string, string[]> = {
  'l2tpv3-ip': ['-o', 'l2tp.cookie_size:None', '-o', 'l2tp.l2_specific:None', ...L2TPV3],
  'l2tpv3-ip-cookie': ['-o', 'l2tp.cookie_size:4 Byte Cookie', '-o', 'l2tp.l2_specific:None', ...L2TPV3],
  'l2tpv3-udp': ['-o', 'l2tp.cookie_size:None', '-o', 'l2tp.l2_specific:Default L2-Specific', ...L2TPV3],
  'vlan-mpls-pppoe': ['-d', 'mpls.label==17,pwethcw'],
  'vxlan-8472': ['-d', 'udp.port==8472,vxlan'],
  'mpls-pw-nocw-00': ['-d', 'mpls.label==300,pwethnocw'],
  'mpls-pw-nocw-a2': ['-d', 'mpls.label==300,pwethnocw'],
};

/** The server name each case's ClientHello carries, where the capture holds the whole hello. */
const SNI: Record<string, string> = {
  'overlap4-same': 'overlap4', 'overlap4-conflict': 'overlap4x', 'overlap6-same': 'overlap6', 'overlap6-conflict': 'overlap6x',
  kuznetsov: 'kuznetsov', 'kuznetsov-be': 'kuznetsovbe', 'l2tpv3-ip': 'l2tpv3ip', 'l2tpv3-ip-cookie': 'l2tpv3cookie', 'l2tpv3-udp': 'l2tpv3udp',
  'quic-vxlan': 'quic-vxlan', 'quic-gre': 'quic-gre', 'quic-plain': 'quic-plain', 'quic-v2-geneve': 'quic-v2-geneve', 'smtp-starttls-mid': 'smtpmid', 'imap-starttls-mid': 'imapmid',
  'ftp-authtls-mid': 'ftpmid', 'smtp-after-starttls': 'smtpafter', 'hello-records-ooo': 'recordsooo', 'vlan-mpls-pppoe': 'vlanmplspppoe',
  'sll2-vxlan': 'sll2vxlan', 'jumbo-hbh': 'jumbo', 'cisco-metadata': 'ciscomd', vntag: 'vntag', etag: 'etag', pbb: 'pbb',
  'vxlan-gpe': 'vxlangpe', 'vxlan-gpe-v6': 'vxlangpe6', 'vxlan-gpe-nsh': 'vxlangpensh', wccp: 'wccp',
  'span-dup-all': 'spandup', 'vlan-asym': 'vlanasym', 'llc-snap': 'llcsnap', 'pcapng-blocks': 'ngblocks', 'vxlan-8472': 'vxlan8472', snoop: 'snoop', 'snoop-v6': 'snoop6', 'mpls-pw-nocw-00': 'pwnocw00', 'mpls-pw-nocw-a2': 'pwnocwa2', 'gre-udp': 'greudp', 'gre-udp-v6': 'greudp6', 'mpls-udp': 'mplsudp',
};

const lines = new Map<string, string[]>();
const runs = new Map<string, ReplayResult>();
let expectJson: Record<string, { ja4: string; sni: string }> = {};
beforeAll(async () => {
  execFileSync('/usr/bin/python3', [GEN, tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
  expectJson = JSON.parse(readFileSync(join(tmp, 'expect.json'), 'utf8')) as typeof expectJson;
  const queue = [...CASES];
  const lane = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) lines.set(name, await tsharkConvLines(file(name), TSHARK_ARGS[name]));
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, lane));
}, 120_000);

async function run(name: string): Promise<ReplayResult> {
  let r = runs.get(name);
  if (r === undefined) {
    r = await replayFiles([file(name)], { withAnalytics: false });
    runs.set(name, r);
  }
  return r;
}

const docs = (r: ReplayResult) => r.flows.map((f) => flowToEcs(f) as Record<string, unknown>);
const sorted = (m: Map<string, Conv>) => [...m.values()].sort((a, b) => a.key.localeCompare(b.key));
const packetsOf = (c: Conv) => Object.values(c.sent).reduce((n, s) => n + s[0], 0);
interface FlowDoc { source: { ip: string; port: number; packets?: number }; destination: { packets?: number }; event: { reason: string }; ndr: { flow: { midstream?: boolean; direction_from_syn: boolean } } }

describe('tap realities, second set', () => {
  it('generated every case', () => {
    expect(CASES.length).toBeGreaterThan(25);
    for (const name of CASES) expect(lines.get(name)?.length ?? 0, name).toBeGreaterThan(0);
  });

  const compared = CASES.filter((n) => !n.startsWith('late-') && n !== 'span-dup-all');
  it.each(compared)('%s: flows equal tshark\'s conversations', async (name) => {
    const want = tsharkConvs(lines.get(name) ?? []);
    const got = ourConvs(docs(await run(name)));
    expect(want.size).toBeGreaterThan(0);
    // tshark decodes TLS on ports it knows or after a STARTTLS it saw; its name and JA3, where it
    // has them, must be ours; the expected server name is checked for every case below.
    const mine = sorted(got).map((c) => {
      const t = want.get(c.key);
      return { ...c, sni: t?.sni ? c.sni : '', ja3: t?.ja3 ? c.ja3 : '' };
    });
    expect(mine).toEqual(sorted(want));
    const sni = SNI[name];
    if (sni !== undefined) expect([...got.values()].map((c) => c.sni)).toContain(`${sni}.field.example.test`);
  });

  it.each(['quic-vxlan', 'quic-gre', 'quic-plain', 'quic-v2-geneve'])('%s: the QUIC Initial gives the server name and the JA4 its hello makes', async (name) => {
    const d = docs(await run(name)).find((x) => (x.network as { protocol?: string }).protocol === 'quic') as { tls?: { client?: { server_name?: string; ja4?: string } }; ndr: { tunnel?: { type: string } } } | undefined;
    expect(d?.tls?.client?.server_name).toBe(expectJson[name]?.sni);
    expect(d?.tls?.client?.ja4).toBe(expectJson[name]?.ja4);
    expect(d?.ndr.tunnel?.type ?? '').toBe({ 'quic-vxlan': 'vxlan', 'quic-gre': 'gre', 'quic-v2-geneve': 'geneve' }[name] ?? '');
  });

  it.each(['l2tpv3-ip', 'l2tpv3-ip-cookie', 'l2tpv3-udp'])('%s: the inner flows carry the L2TPv3 session as their tunnel', async (name) => {
    for (const d of docs(await run(name)) as { ndr: { tunnel?: { type: string; id?: number } } }[]) {
      expect(d.ndr.tunnel?.type).toBe('l2tp');
      expect(d.ndr.tunnel?.id).toBe(name === 'l2tpv3-udp' ? 0x1234 : 0xabcd);
    }
  });

  it.each([['gre-udp', 'gre', 0], ['mpls-udp', 'mpls-udp', 4242]] as const)('%s: the inner flows name the tunnel over UDP', async (name, type, id) => {
    for (const d of docs(await run(name)) as { ndr: { tunnel?: { type: string; id?: number } } }[]) {
      expect(d.ndr.tunnel?.type).toBe(type);
      expect(d.ndr.tunnel?.id ?? 0).toBe(id);
    }
  });

  it('a capture starting at the encrypted Finished records (first byte 01 / 02): one tls flow, no hello read from them', async () => {
    const r = await run('mid-finished');
    const d = docs(r) as { network: { protocol?: string }; tls?: { client?: { server_name?: string; ja4?: string } }; ndr: { flow: { midstream?: boolean; events?: string[] } } }[];
    expect(d.length).toBe(1);
    expect(d[0]?.network.protocol).toBe('tls');
    expect(d[0]?.ndr.flow.midstream).toBe(true);
    expect(d[0]?.tls?.client?.ja4).toBeUndefined();
    expect([...r.stats.events.keys()].filter((k) => k.startsWith('tls.malformed'))).toEqual([]);
  });

  it('overlapping fragments: first-wins by default, an event each, the good datagram beside them whole', async () => {
    for (const name of ['overlap4-same', 'overlap4-conflict', 'overlap6-same', 'overlap6-conflict']) {
      const ev = (await run(name)).stats.events;
      expect([ev.get('decoder.frag.overlap'), ev.get('decoder.frag.overlap_conflict')], name).toEqual(name.endsWith('same') ? [2, undefined] : [2, 1]);
    }
    const good = docs(await run('overlap4-conflict')).map((d) => (d.tls as { client?: { server_name?: string } } | undefined)?.client?.server_name);
    expect(good.sort()).toEqual(['overlap4-good.field.example.test', 'overlap4x.field.example.test']);
  });

  it.each([['last', 'OVERLAP4X.FIELD.EXAMPLE.TEST'], ['drop', undefined]] as const)('overlapping fragments under the %s policy', async (policy, upper) => {
    for (const workers of [1, 2]) {
      const r = await replayFiles([file('overlap4-conflict')], { withAnalytics: false, workers, limits: { fragments: { overlap: policy } } });
      const names = docs(r).map((d) => (d.tls as { client?: { server_name?: string } } | undefined)?.client?.server_name ?? '');
      // 'last': the copy's bytes replace the first copy's where they overlap (it names another
      // server); 'drop': the datagram is lost, the other connection's is not
      expect(names.sort()).toEqual(upper === undefined ? ['', 'overlap4-good.field.example.test'] : [upper, 'overlap4-good.field.example.test'].sort());
      // counted where the fragments are reassembled: in the engine, or in a sharded run's main thread
      const ev = r.stats.events;
      expect([ev.get('decoder.frag.overlap'), ev.get('decoder.frag.overlap_conflict')], `${workers} workers`).toEqual(upper === undefined ? [2, undefined] : [2, 1]);
    }
  });

  it('replay --fragment-overlap chooses the policy from the command line; a value it does not know is named', () => {
    const cli = join(__dirname, '..', 'dist', 'ndr-sensor.mjs');
    const out = join(tmp, 'overlap-cli.jsonl');
    execFileSync(process.execPath, [cli, 'replay', file('overlap4-conflict'), '-o', out, '-q', '--no-analytics', '--fragment-overlap', 'last'], { encoding: 'utf8' });
    const flows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { network?: unknown; tls?: { client?: { server_name?: string } } }).filter((d) => d.network !== undefined);
    const names = flows.map((d) => d.tls?.client?.server_name ?? '');
    expect(names.sort()).toEqual(['OVERLAP4X.FIELD.EXAMPLE.TEST', 'overlap4-good.field.example.test']);
    let err = '';
    try {
      execFileSync(process.execPath, [cli, 'replay', file('overlap4-conflict'), '-o', out, '-q', '--fragment-overlap', 'newest'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      err = String((e as { stderr?: string }).stderr);
    }
    expect(err).toContain("--fragment-overlap: expected first, last or drop, got 'newest'");
  });

  // Packets after the record: a tomb stands in the connection's place for the close delay (5 s of
  // packet time) after a clean close, and after a reset or a close without its last ACK once that
  // record is out; what it absorbs is counted (latePackets), never a flow.
  it.each(['late-dup-ack', 'late-fin-retrans', 'late-rst-after', 'late-rst-again'])('%s: one flow with the right client, the late packets counted', async (name) => {
    const want = [...tsharkConvs(lines.get(name) ?? []).values()];
    const r = await run(name);
    const d = docs(r) as unknown as FlowDoc[];
    expect(want.length).toBe(1);
    expect(d.length).toBe(1);
    expect(`${d[0]?.source.ip}:${d[0]?.source.port}`).toBe('192.0.2.10:50321');
    expect(d[0]?.event.reason).toBe(name === 'late-rst-again' ? 'rst' : 'fin');
    const inRecord = (d[0]?.source.packets ?? 0) + (d[0]?.destination.packets ?? 0);
    expect(inRecord + r.stats.latePackets).toBe(packetsOf(want[0] as Conv));
    expect(r.stats.latePackets).toBe({ 'late-dup-ack': 1, 'late-fin-retrans': 4, 'late-rst-after': 1, 'late-rst-again': 1 }[name]);
  });

  it('every frame mirrored twice: one flow per conversation; the copies of the packets that ended a flow are late packets, with 1 and 2 workers', async () => {
    const want = tsharkConvs(lines.get('span-dup-all') ?? []);
    for (const workers of [1, 2]) {
      const r = await replayFiles([file('span-dup-all')], { withAnalytics: false, workers });
      const got = ourConvs(docs(r));
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      const ours = [...got.values()].reduce((n, c) => n + packetsOf(c), 0);
      // the copy of the last ACK (the connection's tomb) and of the DNS answer (the lookup was complete)
      expect(r.stats.latePackets).toBe(2);
      expect(ours + r.stats.latePackets).toBe([...want.values()].reduce((n, c) => n + packetsOf(c), 0));
      expect([...got.values()].map((c) => c.sni)).toContain('spandup.field.example.test');
    }
  });

  it.each(['late-past-delay', 'late-high-ports'])('%s: past the tomb a late packet is a flow of its own, marked mid-stream', async (name) => {
    const want = [...tsharkConvs(lines.get(name) ?? []).values()];
    const r = await run(name);
    const d = docs(r) as unknown as FlowDoc[];
    expect(d.length).toBe(2);
    const [conn, ghost] = d as [FlowDoc, FlowDoc];
    expect(`${conn.source.ip}:${conn.source.port}`).toBe('192.0.2.10:50321');
    expect(conn.ndr.flow.direction_from_syn).toBe(true);
    // no SYN, no payload: its client is the port guess (the lower port is the server's), which
    // names the wrong end when the server's port is the higher one; the record says so
    expect(ghost.ndr.flow.midstream).toBe(true);
    expect(ghost.ndr.flow.direction_from_syn).toBe(false);
    expect(ghost.source.port).toBe(name === 'late-high-ports' ? 55000 : 50321);
    const total = d.reduce((n, x) => n + (x.source.packets ?? 0) + (x.destination.packets ?? 0), 0);
    expect(total + r.stats.latePackets).toBe(packetsOf(want[0] as Conv));
  });
});
