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

export const dnsSection = defineSection<DnsInfo>({
  key: 'dns',
  ecs(d, { doc }) {
    doc.dns = {
      question: { name: d.queries[0] ?? null },
      response_code: d.rcode,
      answers: d.answers.slice(0, 32).map((a) => ({ name: a.name, type: a.type, data: a.data, ttl: a.ttl })),
      resolved_ip: d.answers.filter((a) => a.type === 1 || a.type === 28).map((a) => a.data),
    };
  },
  proto: {
    type: 'ndr.v1.Dns',
    toProto(d) {
      const out: Record<string, unknown> = {
        queries: d.queries,
        answers: d.answers.map((a) => ({ name: a.name, type: a.type, data: a.data, ttl: a.ttl })),
      };
      if (d.rcode !== null) out.rcode = d.rcode;
      return out;
    },
  },
});

export function dnsOf(rec: { readonly apps: AppSections }): DnsInfo | null {
  return appOf(rec, dnsSection);
}
