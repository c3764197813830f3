/** DNS records and limits. */
import type { DissectorRecord } from '../../src/contract/api.js';
import type { DnsEventId } from './events.js';

export interface DnsLimits {
  /** Compression pointers followed within one name (loop / depth guard). */
  readonly maxPointerCount: number;
  readonly maxQuestionsCount: number;
  /** Answer-section RRs kept per message (authority/additional are not read). */
  readonly maxAnswersCount: number;
  /** Messages dissected per flow; then 'done'. */
  readonly maxMessagesCount: number;
  /** DNS-over-TCP: largest message buffered; bigger ones are skipped by counter. */
  readonly maxMessageBytes: number;
  /** Cap on rendered TXT / hex RDATA. */
  readonly maxStringBytes: number;
}

export const defaultDnsLimits: DnsLimits = {
  maxPointerCount: 16,
  maxQuestionsCount: 8,
  maxAnswersCount: 64,
  maxMessagesCount: 256,
  maxMessageBytes: 65535,
  maxStringBytes: 256,
};

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface DnsAnswer {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  /** A/AAAA: address text; CNAME/NS/PTR: the name; MX: 'pref name'; TXT: strings; else hex. */
  readonly data: string;
}

export interface DnsMessageRecord extends DissectorRecord {
  readonly kind: 'dns.message';
  readonly id: number;
  readonly qr: boolean; // true = response
  readonly opcode: number;
  readonly rcode: number;
  readonly tc: boolean;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsAnswer[];
  /** Wire size of the message. */
  readonly bytes: number;
  readonly status: 'complete' | 'truncated';
  readonly events: readonly DnsEventId[];
}

export type DnsRecord = DnsMessageRecord;
