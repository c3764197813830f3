// The shipped demo scenario through the whole pipeline and the embedded EDR: exactly the five
// expected true positives (one per analytic), nothing on the benign look-alikes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFiles } from '../src/runtime/replay.js';

const dir = join(new URL('.', import.meta.url).pathname, '..', 'pcaps', 'demo');

interface Expected { analytic: string; host: string; process: string; destination: { ip: string; port: number; name: string | null } }

describe('demo scenario', () => {
  it('raises exactly the expected alerts, with attribution and evidence', async () => {
    const expected = JSON.parse(readFileSync(join(dir, 'expected-alerts.json'), 'utf8')) as Expected[];
    const cfg = (JSON.parse(readFileSync(join(dir, 'analytics-config.json'), 'utf8')) as { analytics: unknown }).analytics;
    const { flows, alerts } = await replayFiles([join(dir, 'demo.pcap')], { sysmon: [join(dir, 'sysmon.jsonl')], analyticsConfig: cfg });
    expect(flows.length).toBe(15);
    expect(flows.every((f) => f.attribution?.status === 'attributed')).toBe(true);
    const got = alerts.map((a) => ({ analytic: a.analytic, host: a.host?.name ?? null, process: a.process?.executable ?? null, destination: { ip: a.destination.ip, port: a.destination.port, name: a.destination.name } }));
    const want = expected.map((e) => ({ analytic: e.analytic, host: e.host, process: e.process, destination: e.destination }));
    const key = (x: { analytic: string }) => x.analytic;
    expect([...got].sort((a, b) => key(a).localeCompare(key(b)))).toEqual([...want].sort((a, b) => key(a).localeCompare(key(b))));
    expect(new Set(alerts.map((a) => a.analytic))).toEqual(new Set(['AN0002', 'AN0922', 'AN1389', 'AN1413', 'AN0759']));
    for (const a of alerts) {
      expect(a.evidence.length).toBeGreaterThan(1);
      expect(a.explanation.length).toBeGreaterThan(40);
      expect(a.communityId).toMatch(/^1:/);
    }
    // The benign look-alikes are attributed but raise nothing.
    const benign = ['chrome.exe', 'telemetry-agent.exe', 'ContosoUpdate.exe', 'backupd.exe'];
    for (const b of benign) {
      expect(flows.some((f) => f.attribution?.process?.name === b)).toBe(true);
      expect(alerts.some((a) => a.process?.name === b)).toBe(false);
    }
  });
});
