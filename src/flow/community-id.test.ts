// Vectors from the Community ID spec's baseline tables (corelight/community-id-spec, baseline/README.md),
// transcribed by hand from EDR-ANALYTICS.md §4.
import { describe, expect, it } from 'vitest';
import { addrWords, communityId } from './community-id.js';

const cid = (proto: number, s: string, sp: number, d: string, dp: number, seed = 0) =>
  communityId(s.includes(':') ? 6 : 4, proto, addrWords(s), sp, addrWords(d), dp, seed);

describe('community id v1', () => {
  it('TCP 1.2.3.4:1122 -> 5.6.7.8:3344, both orders', () => {
    expect(cid(6, '1.2.3.4', 1122, '5.6.7.8', 3344)).toBe('1:wCb3OG7yAFWelaUydu0D+125CLM=');
    expect(cid(6, '5.6.7.8', 3344, '1.2.3.4', 1122)).toBe('1:wCb3OG7yAFWelaUydu0D+125CLM=');
  });
  it('UDP same tuple', () => {
    expect(cid(17, '1.2.3.4', 1122, '5.6.7.8', 3344)).toBe('1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=');
  });
  it('TCP with seed 1', () => {
    expect(cid(6, '1.2.3.4', 1122, '5.6.7.8', 3344, 1)).toBe('1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=');
  });
  it('pcap baseline TCP 128.232.110.120:34855 -> 66.35.250.204:80', () => {
    expect(cid(6, '128.232.110.120', 34855, '66.35.250.204', 80)).toBe('1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
    expect(cid(6, '66.35.250.204', 80, '128.232.110.120', 34855)).toBe('1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  });
  it('SCTP and port-less RSVP vectors', () => {
    expect(cid(132, '1.2.3.4', 1122, '5.6.7.8', 3344)).toBe('1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=');
    expect(cid(46, '1.2.3.4', 0, '5.6.7.8', 0)).toBe('1:ikv3kmf89luf73WPz1jOs49S768=');
  });
  it('ICMP echo type 8 maps to ports 8/0', () => {
    expect(cid(1, '1.2.3.4', 8, '5.6.7.8', 0)).toBe('1:crodRHL2FEsHjbv3UkRrfbs4bZ0=');
  });
  it('IPv6 order is stable both ways', () => {
    const a = cid(6, 'fe80::1', 1000, 'fe80::2', 2000);
    expect(a).toBe(cid(6, 'fe80::2', 2000, 'fe80::1', 1000));
    expect(a).toMatch(/^1:[A-Za-z0-9+/]{27}=$/);
  });
});
