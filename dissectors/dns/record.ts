/**
 * What DNS puts on the flow record: the `dns` section (UDP and TCP alike), its ECS fields (dns.*)
 * and its protobuf message (dns.proto).
 */
import { appOf, defineSection, type AppSections } from '../../src/dissect/api.js';

export interface DnsInfo {
  queries: string[];
  answers: { name: string; type: number; data: string; ttl: number }[];
  rcode: number | null;
}

/** Answers kept per flow in ECS and in the message alike. */
const MAX_ANSWERS = 32;

export const dnsSection = defineSection<DnsInfo>({
  key: 'dns',
  ecs(d, { doc }) {
    doc.dns = {
      question: { name: d.queries[0] ?? null },
      response_code: d.rcode,
      answers: d.answers.slice(0, MAX_ANSWERS).map((a) => ({ name: a.name, type: a.type, data: a.data, ttl: a.ttl })),
      resolved_ip: d.answers.filter((a) => a.type === 1 || a.type === 28).map((a) => a.data),
    };
  },
  proto: {
    type: 'ndr.v1.Dns',
    ecs: { question: 'dns.question.name', answers: 'dns.answers', rcode: 'dns.response_code' },
    toProto(d) {
      const out: Record<string, unknown> = {
        question: d.queries[0] ?? '',
        answers: d.answers.slice(0, MAX_ANSWERS).map((a) => ({ name: a.name, type: a.type, data: a.data, ttl: a.ttl })),
      };
      if (d.rcode !== null) out.rcode = d.rcode;
      return out;
    },
  },
});

export function dnsOf(rec: { readonly apps: AppSections }): DnsInfo | null {
  return appOf(rec, dnsSection);
}
