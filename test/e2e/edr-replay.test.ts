import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { Enricher, createEmbeddedEdr } from '../../src/enrich/edr-client.js';
import { startEdrServer } from '../../src/enrich/edr-server.js';
import type { EdrServerHandle } from '../../src/enrich/edr-server.js';
import { replayFiles } from '../../src/runtime/replay.js';
import { datasets, synTuples } from './helpers.js';

const servers: EdrServerHandle[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

const SETS = [
  { dir: 'otrf-covenant-psremoting', caps: ['capture.cap'], image: 'GruntHTTP.exe' },
  { dir: 'otrf-empire-psremoting', caps: ['workstation5.cap'], image: 'powershell.exe' },
];

for (const set of SETS) {
  test(`replay of ${set.dir} with the EDR over gRPC attributes the SYN flows`, async () => {
    const events = join(datasets, set.dir, 'host-events.json');
    const srv = await startEdrServer({ sysmon: [events], listen: '127.0.0.1:0', log: () => undefined });
    servers.push(srv);
    const caps = set.caps.map((c) => join(datasets, set.dir, c));
    const remote = await replayFiles(caps, { enrich: new Enricher({ endpoint: srv.address, log: () => undefined }), withAnalytics: false });
    const local = await replayFiles(caps, { enrich: new Enricher({ embedded: createEmbeddedEdr([events]), log: () => undefined }), withAnalytics: false });
    const syns = new Set((await Promise.all(caps.map(synTuples))).flat().map((t) => `${t[1]}|${t[2]}|${t[3]}|${t[4]}`));
    const synFlows = remote.flows.filter((f) => syns.has(`${f.client.ip}|${f.client.port}|${f.server.ip}|${f.server.port}`));
    const withProc = synFlows.filter((f) => f.attribution?.process);
    const all = remote.flows.filter((f) => f.attribution?.status === 'attributed');
    console.log(`${set.dir}: replay ${remote.flows.length} flows, ${synFlows.length} SYN flows, ${withProc.length} SYN flows with a process, ${all.length} flows attributed in total`);
    for (const f of remote.flows) console.log(`  ${f.transport} ${f.client.ip}:${f.client.port} -> ${f.server.ip}:${f.server.port} syn=${f.directionFromSyn} ${f.attribution?.status}/${f.attribution?.reason ?? f.attribution?.match} ${f.attribution?.host?.name ?? ""} ${f.attribution?.process?.name ?? ""}`);
    expect(remote.flows.every((f) => f.attribution !== null)).toBe(true);
    expect(synFlows.length).toBeGreaterThanOrEqual(4);
    expect(withProc.length).toBe(synFlows.length);
    expect(withProc.filter((f) => f.attribution!.process!.name === set.image).length).toBeGreaterThanOrEqual(3);
    // Embedded and gRPC paths agree flow by flow.
    const key = (fs: typeof remote.flows) => fs.map((f) => `${f.communityId} ${f.attribution?.status} ${f.attribution?.process?.entityId ?? ''}`).sort();
    expect(key(local.flows)).toEqual(key(remote.flows));
  });
}
