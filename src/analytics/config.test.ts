import { describe, expect, it } from 'vitest';
import { DEFAULT_ANALYTICS_CONFIG, resolveConfig, validateAnalyticsConfig } from './config.js';
import { isExternal, parseCidr } from './net.js';

describe('analytics config', () => {
  it('defaults validate and resolve', () => {
    const { config, errors } = validateAnalyticsConfig(undefined);
    expect(errors).toEqual([]);
    expect(config).toEqual(DEFAULT_ANALYTICS_CONFIG);
    const r = resolveConfig(config);
    expect(r.sets.browsers.has('chrome.exe')).toBe(true);
    expect(isExternal('203.0.113.5', r.internal)).toBe(true);
    expect(isExternal('10.1.2.3', r.internal)).toBe(false);
    expect(isExternal('fd00:1::2', r.internal)).toBe(false);
    expect(isExternal('2001:db8::1', r.internal)).toBe(true);
  });
  it('merges overrides and reports every bad value, keeping defaults for them', () => {
    const { config, errors } = validateAnalyticsConfig({
      approvedPubSubApps: ['telemetry-agent.exe'], internalNetworks: ['10.0.0.0/8', 'nope'], pubsubPorts: [70_000],
      dedupWindowMs: -1, thresholds: { beaconScore: 1.5, rareJa4Hosts: 3, bogus: 1 }, extra: true,
    });
    expect(config.approvedPubSubApps).toEqual(['telemetry-agent.exe']);
    expect(config.thresholds.rareJa4Hosts).toBe(3);
    expect(config.thresholds.beaconScore).toBe(0.7);
    expect(config.internalNetworks).toEqual(DEFAULT_ANALYTICS_CONFIG.internalNetworks);
    expect(errors).toHaveLength(6);
    expect(errors.join('\n')).toMatch(/extra: unknown key/);
    expect(errors.join('\n')).toMatch(/not a CIDR: nope/);
  });
  it('CIDRs: v4, v6, v4-mapped', () => {
    expect(parseCidr('172.16.0.0/12')!.contains('172.31.255.1')).toBe(true);
    expect(parseCidr('172.16.0.0/12')!.contains('172.32.0.1')).toBe(false);
    expect(parseCidr('10.0.0.0/8')!.contains('::ffff:10.9.9.9')).toBe(true);
    expect(parseCidr('fe80::/10')!.contains('fe80::1%eth0')).toBe(true);
    expect(parseCidr('2001:db8::/32')!.contains('2001:db8:ffff::1')).toBe(true);
    expect(parseCidr('::ffff:0:0/96')!.contains('::ffff:1.2.3.4')).toBe(true);
    expect(parseCidr('1.2.3.4')).toBeNull();
    expect(parseCidr('300.0.0.0/8')).toBeNull();
  });
});
