/**
 * The lab's dev entry point (`bin/ndr-lab`, `npm run gen -- <name>`): the generators that make the
 * project's captures from real software in network namespaces. It is a bundle of its own so that
 * the CLI the appliance runs carries no generator, no child-program source and no namespace code.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from '../src/cli/commands.js';
import { runCli } from '../src/cli/dispatch.js';
import { defaultBenchShape, generateBenchCapture } from './gen-bench.js';
import { generateDemo } from './gen-demo.js';
import { FLOOD_SHAPES, generateFlood, type FloodShape } from './gen-floods.js';
import { generateHandshakeBench } from './gen-handshakes.js';
import { generateMiscCaptures } from './gen-misc.js';
import { generateStarttlsCaptures } from './gen-starttls.js';
import { generatePubsubCaptures } from './gen-pubsub.js';
import { generateTlsCaptures } from './gen-tls.js';
import { generateTunnelCaptures } from './gen-tunnels.js';

export const labCommands: Command[] = [
  {
    name: 'gen tls',
    usage: '[--out DIR]',
    summary: 'generate the TLS captures (Node, openssl, curl, python3; chains, client certs, self-signed, expired) in namespaces (root)',
    options: { out: { type: 'string', short: 'o', default: 'pcaps/tls', help: 'output folder' } },
    async run(v) { mkdirSync(v.out as string, { recursive: true }); await generateTlsCaptures(v.out as string); process.stderr.write(`gen tls: wrote ${String(v.out)}\n`); return 0; },
  },
  {
    name: 'gen pubsub',
    usage: '[--out DIR]',
    summary: 'generate the MQTT (mosquitto, 3.1.1/5, 1883/8883/WebSocket) and AMQP (RabbitMQ 0-9-1 on 5672/5671, rhea 1.0) captures in namespaces (root)',
    options: { out: { type: 'string', short: 'o', default: 'pcaps', help: 'parent folder (mqtt/ and amqp/ are written inside)' } },
    async run(v) {
      const tmp = mkdtempSync(join(tmpdir(), 'ndr-gen-pubsub-'));
      await generatePubsubCaptures(tmp);
      for (const f of readdirSync(tmp).filter((x) => x.endsWith('.pcap'))) {
        const dest = join(v.out as string, f.startsWith('mqtt') ? 'mqtt' : 'amqp');
        mkdirSync(dest, { recursive: true });
        try { renameSync(join(tmp, f), join(dest, f)); } catch { copyFileSync(join(tmp, f), join(dest, f)); }
        process.stderr.write(`gen pubsub: ${join(dest, f)}\n`);
      }
      rmSync(tmp, { recursive: true, force: true });
      return 0;
    },
  },
  {
    name: 'gen demo',
    usage: '[--out DIR]',
    summary: 'generate the demo scenario (capture + Sysmon log of five Windows-named hosts) from real TLS/MQTT traffic in namespaces (root)',
    options: { out: { type: 'string', short: 'o', default: 'pcaps/demo', help: 'output folder' } },
    async run(v) { mkdirSync(v.out as string, { recursive: true }); const r = await generateDemo(v.out as string); process.stderr.write(`gen demo: ${JSON.stringify(r)}\n`); return 0; },
  },
  {
    name: 'gen misc',
    usage: '[--out DIR]',
    summary: 'generate the AES-stream, SSH, HTTP, DNS and gzip-upload captures in namespaces (root)',
    options: { out: { type: 'string', short: 'o', default: 'pcaps/misc', help: 'output folder' } },
    async run(v) { mkdirSync(v.out as string, { recursive: true }); await generateMiscCaptures(v.out as string); process.stderr.write(`gen misc: wrote ${String(v.out)}\n`); return 0; },
  },
  {
    name: 'gen tunnels',
    usage: '[--out DIR]',
    summary: 'generate the IP-in-IP, 6in4, GTP-U and Teredo wraps of a real curl/Node HTTP exchange in namespaces (root)',
    options: { out: { type: 'string', short: 'o', default: 'pcaps/tunnels', help: 'output folder' } },
    async run(v) { const r = await generateTunnelCaptures(v.out as string); for (const f of Object.values(r.files)) process.stderr.write(`gen tunnels: ${f}\n`); return 0; },
  },
  {
    name: 'gen starttls',
    usage: '[--out DIR] [--rdp DIR]',
    summary: 'generate the STARTTLS captures (openssl s_client -starttls, curl, psql; accepted, refused, malformed, cut short) and the RDP ones in namespaces (root)',
    options: {
      out: { type: 'string', short: 'o', default: 'pcaps/starttls', help: 'output folder' },
      rdp: { type: 'string', default: 'pcaps/rdp', help: 'output folder of the RDP captures' },
    },
    async run(v) {
      const files = await generateStarttlsCaptures(v.out as string, v.rdp as string);
      for (const f of files) process.stderr.write(`gen starttls: ${f.file}\n`);
      return 0;
    },
  },
  {
    name: 'gen handshakes',
    usage: '[--out FILE] [--connections N]',
    summary: 'generate the handshake-heavy benchmark capture (40,000 TLS connections with 1-3 certificate chains) (root)',
    options: {
      out: { type: 'string', short: 'o', default: 'pcaps/bench/handshakes.pcap', help: 'capture file to write' },
      connections: { type: 'string', default: '40000', help: 'TLS connections' },
    },
    async run(v) {
      mkdirSync(dirname(v.out as string), { recursive: true });
      const r = await generateHandshakeBench(v.out as string, { connections: Number(v.connections) });
      process.stderr.write(`gen handshakes: ${String(v.out)}: ${JSON.stringify(r)}\n`);
      return 0;
    },
  },
  {
    name: 'gen floods',
    usage: '[--out DIR] [--shape NAME]... [--scale X]',
    summary: `write the synthetic flood and scan captures (${FLOOD_SHAPES.join(', ')}) for the bench; no root needed`,
    options: {
      out: { type: 'string', short: 'o', default: join(tmpdir(), 'ndr-floods'), help: 'directory to write SHAPE.pcap into (a temporary or cache directory: never commit them)' },
      shape: { type: 'string', multiple: true, help: `only these shapes (${FLOOD_SHAPES.join(', ')}). Repeatable` },
      scale: { type: 'string', default: '1', help: 'fraction of the full size, in (0, 1]' },
    },
    async run(v) {
      const out = v.out as string;
      mkdirSync(out, { recursive: true });
      const shapes = (v.shape as string[] | undefined) ?? [...FLOOD_SHAPES];
      for (const s of shapes) if (!(FLOOD_SHAPES as readonly string[]).includes(s)) throw new Error(`gen floods: unknown shape '${s}' (${FLOOD_SHAPES.join(', ')})`);
      for (const s of shapes) {
        const file = join(out, `${s}.pcap`);
        const r = generateFlood(s as FloodShape, file, { scale: Number(v.scale) });
        process.stderr.write(`gen floods: ${file}: ${r.packets} packets, ${r.flows} flows (${r.emptyFlows} without payload), ${(r.bytes / 1e6).toFixed(1)} MB\n`);
      }
      return 0;
    },
  },
  {
    name: 'gen bench',
    usage: '[--out FILE]',
    summary: 'generate the mixed benchmark capture from real TLS/MQTT traffic in network namespaces (root)',
    options: {
      out: { type: 'string', short: 'o', default: 'pcaps/bench/bench.pcap', help: 'capture file to write' },
      short: { type: 'string', default: String(defaultBenchShape.shortConnections), help: 'short TLS connections' },
      bulk: { type: 'string', default: String(defaultBenchShape.bulkConnections), help: 'bulk TLS connections' },
      'bulk-mib': { type: 'string', default: String(defaultBenchShape.bulkBytesPerConnection / 1048576), help: 'MiB per bulk connection' },
      mqtt: { type: 'string', default: String(defaultBenchShape.mqttMessages), help: 'MQTT messages (needs mosquitto)' },
    },
    async run(v) {
      const out = v.out as string;
      mkdirSync(dirname(out), { recursive: true });
      const r = await generateBenchCapture(out, {
        ...defaultBenchShape,
        shortConnections: Number(v.short),
        bulkConnections: Number(v.bulk),
        bulkBytesPerConnection: Number(v['bulk-mib']) * 1048576,
        mqttMessages: Number(v.mqtt),
      }, (s) => process.stderr.write(`gen bench: ${s}\n`));
      process.stderr.write(`gen bench: ${out}: ${r.packets} packets, ${(r.bytes / 1e6).toFixed(1)} MB in ${r.seconds.toFixed(1)} s\n`);
      return 0;
    },
  },
];

const isEntry = process.argv[1] !== undefined && /ndr-lab(\.mjs)?$|lab[\\/]cli\.(ts|js)$/.test(process.argv[1]);
if (isEntry) {
  runCli('ndr-lab', labCommands, process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => { process.stderr.write(`ndr-lab: ${(e as Error).message}\n`); process.exitCode = 1; },
  );
}
