import { describe, expect, it } from 'vitest';
import { isExternal, parseCidr } from './net.js';

describe('CIDR matching across the whole IPv4 range', () => {
  it('matches addresses with the top bit set (held as signed 32-bit values)', () => {
    const top = parseCidr('224.0.0.0/3')!;
    expect(top.contains('255.255.255.255')).toBe(true);
    expect(top.contains('224.0.0.1')).toBe(true);
    expect(top.contains('223.255.255.255')).toBe(false);
    expect(parseCidr('0.0.0.0/0')!.contains('203.0.113.9')).toBe(true);
    expect(parseCidr('198.51.100.7/32')!.contains('198.51.100.7')).toBe(true);
    expect(parseCidr('198.51.100.7/32')!.contains('198.51.100.8')).toBe(false);
    expect(parseCidr('192.168.0.0/16')!.contains('::ffff:192.168.4.1')).toBe(true);
    expect(isExternal('172.31.255.1', [parseCidr('172.16.0.0/12')!])).toBe(false);
    expect(isExternal('172.32.0.1', [parseCidr('172.16.0.0/12')!])).toBe(true);
  });
  it('reads a trailing dotted IPv4 inside IPv6', () => {
    expect(parseCidr('::ffff:200.1.2.0/120')!.contains('::ffff:200.1.2.77')).toBe(true);
    expect(parseCidr('::ffff:200.1.2.0/120')!.contains('::ffff:200.1.3.77')).toBe(false);
  });
});
