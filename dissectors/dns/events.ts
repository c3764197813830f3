/** dns.* event catalog (STYLE.md rule 5). */
import type { EventCatalog } from '../../src/contract/api.js';

export const dnsEvents = {
  'dns.truncated_message': { severity: 'anomaly', summary: 'message shorter than its header counts say (RFC 1035 §4.1)' },
  'dns.bad_name': { severity: 'anomaly', summary: 'domain name runs past the message or exceeds 255 octets (RFC 1035 §2.3.4)' },
  'dns.bad_label_type': { severity: 'anomaly', summary: 'label type 0x40/0x80 (extended labels, RFC 6891 §5) or reserved' },
  'dns.bad_pointer': { severity: 'anomaly', summary: 'compression pointer does not point backwards (RFC 1035 §4.1.4)' },
  'dns.bad_rdata': { severity: 'anomaly', summary: 'RDATA length does not fit its type (A needs 4, AAAA 16)' },
  'dns.zero_length': { severity: 'anomaly', summary: 'DNS-over-TCP length prefix of 0 (RFC 1035 §4.2.2)' },
  'dns.gap': { severity: 'info', summary: 'bytes lost in a TCP DNS stream: dissection stopped' },
  'dns.limit.max_pointer_count': { severity: 'limit', summary: 'more compression pointers in one name than maxPointerCount' },
  'dns.limit.max_questions_count': { severity: 'limit', summary: 'more questions than maxQuestionsCount' },
  'dns.limit.max_answers_count': { severity: 'limit', summary: 'more answers than maxAnswersCount' },
  'dns.limit.max_messages_count': { severity: 'limit', summary: 'more messages on one flow than maxMessagesCount' },
  'dns.limit.max_message_bytes': { severity: 'limit', summary: 'TCP DNS message larger than maxMessageBytes (skipped)' },
  'dns.limit.max_string_bytes': { severity: 'limit', summary: 'TXT / unknown RDATA rendering cut at maxStringBytes' },
} as const satisfies EventCatalog<string>;

export type DnsEventId = keyof typeof dnsEvents;
