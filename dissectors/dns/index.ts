/**
 * DNS dissectors: `dns` (UDP, one message per datagram) and `dns-tcp` (2-byte length prefix),
 * sharing one parser. summarize → DnsInfo (queries, answers, rcode).
 */
import { defineDissector, Dir, type NameAnswers, type ProbeResult } from '../../src/contract/api.js';
import { dnsSection, type DnsInfo } from './record.js';
import { dnsEvents, type DnsEventId } from './events.js';
import { probeDnsMessage } from './parse.js';
import { DnsDissector } from './state.js';
import { defaultDnsLimits, type DnsLimits, type DnsRecord } from './types.js';

/** Bounds on the per-flow summary (the records themselves are bounded by DnsLimits). */
export const DNS_SUMMARY_MAX_QUERIES_COUNT = 32;
export const DNS_SUMMARY_MAX_ANSWERS_COUNT = 64;

export function probeDnsUdp(bytes: Uint8Array, dir: Dir): ProbeResult {
  return probeDnsMessage(bytes, 0, dir === Dir.ToServer, true);
}

export function probeDnsTcp(bytes: Uint8Array, dir: Dir): ProbeResult {
  if (bytes.length < 2) return 'unsure';
  const len = ((bytes[0] as number) << 8) | (bytes[1] as number);
  if (len < 17) return 'no'; // header + 1-byte root name + type + class
  return probeDnsMessage(bytes, 2, dir === Dir.ToServer, false);
}

/**
 * Fold messages: question names (deduplicated, case-insensitive, in order), answers of responses
 * (deduplicated: the name case-insensitive, type and data exactly), and the rcode: the first
 * non-zero rcode of any response, else 0 when a response was seen, else null.
 */
export function summarizeDns(records: readonly DnsRecord[]): DnsInfo {
  // The summary takes the records' own strings and answer objects (records are never changed
  // after they are emitted), and looks for duplicates in its capped lists rather than building
  // keys: a lookup's flow has one question and a few answers, often the same string objects.
  const queries: string[] = [];
  const answers: DnsInfo['answers'] = [];
  let rcode: number | null = null;
  for (const r of records) {
    if (queries.length < DNS_SUMMARY_MAX_QUERIES_COUNT) {
      for (const q of r.questions) {
        if (queries.length < DNS_SUMMARY_MAX_QUERIES_COUNT && !hasName(queries, q.name)) queries.push(q.name);
      }
    }
    if (!r.qr) continue;
    if (rcode === null || (rcode === 0 && r.rcode !== 0)) rcode = r.rcode;
    if (answers.length >= DNS_SUMMARY_MAX_ANSWERS_COUNT) continue;
    for (const a of r.answers) {
      if (answers.length < DNS_SUMMARY_MAX_ANSWERS_COUNT && !hasAnswer(answers, a)) answers.push(a);
    }
  }
  return { queries, answers, rcode };
}

/** Names compare as DNS does: ASCII case does not matter (RFC 4343). */
function sameName(a: string, b: string): boolean {
  return a === b || (a.length === b.length && a.toLowerCase() === b.toLowerCase());
}

function hasName(list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i++) if (sameName(list[i] as string, name)) return true;
  return false;
}

function hasAnswer(list: DnsInfo['answers'], a: DnsInfo['answers'][number]): boolean {
  for (let i = 0; i < list.length; i++) {
    const b = list[i] as DnsInfo['answers'][number];
    if (b === a || (b.type === a.type && b.data === a.data && sameName(b.name, a.name))) return true;
  }
  return false;
}

/** A response's answers, for the engine's names cache (queries carry none). */
function namesOf(r: DnsRecord): NameAnswers | null {
  if (!r.qr) return null;
  const qs = r.questions;
  return { queries: qs.length === 1 ? [(qs[0] as DnsRecord['questions'][number]).name] : qs.map((q) => q.name), answers: r.answers, rcode: r.rcode };
}

export const dnsSpec = defineDissector<DnsLimits, DnsRecord, DnsEventId, DnsInfo>({
  name: 'dns',
  apiVersion: 1,
  transport: 'udp',
  probe: { ports: [53, 5353, 5355], prefixes: [], minBytes: 12, maxBytes: 65535, probe: probeDnsUdp, leads: [null, null] }, // an ID first
  defaultLimits: defaultDnsLimits,
  events: dnsEvents,
  create: (ctx, limits) => new DnsDissector(ctx, limits, false),
  summarize: summarizeDns,
  names: namesOf,
  sections: [dnsSection],
  toRecord(d, out) {
    out.set(dnsSection, d);
    out.protocol('dns');
  },
});

export const dnsTcpSpec = defineDissector<DnsLimits, DnsRecord, DnsEventId, DnsInfo>({
  name: 'dns-tcp',
  apiVersion: 1,
  transport: 'tcp',
  probe: { ports: [53], prefixes: [], minBytes: 2, maxBytes: 512, probe: probeDnsTcp, leads: [null, null] }, // a length first
  defaultLimits: defaultDnsLimits,
  events: dnsEvents,
  create: (ctx, limits) => new DnsDissector(ctx, limits, true),
  summarize: summarizeDns,
  names: namesOf,
  sections: [dnsSection],
  toRecord(d, out) {
    out.set(dnsSection, d);
    out.protocol('dns');
  },
});

export type { DnsLimits, DnsRecord } from './types.js';
