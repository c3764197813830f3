/**
 * What DNS puts on the flow record: the `dns` section (UDP and TCP alike), its ECS fields (dns.*)
 * and its protobuf message (dns.proto).
 */
import { appOf, defineSection, type AppSections, type EcsRuns, type EcsWriter } from '../../src/contract/api.js';
import { asciiBytes, jsonString } from '../../src/util/json-text.js';

export interface DnsInfo {
  queries: string[];
  answers: { name: string; type: number; data: string; ttl: number }[];
  rcode: number | null;
}

/** Answers kept per flow in ECS and in the message alike. */
const MAX_ANSWERS = 32;

// ECS keeps dns.response_code and dns.answers.type as the registry's names (NOERROR, AAAA); a code
// without a name is written as its number in text, as Wireshark and Zeek do.
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE', 'DSOTYPENI'];
const RRTYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 13: 'HINFO', 15: 'MX', 16: 'TXT', 17: 'RP', 18: 'AFSDB', 24: 'SIG', 25: 'KEY',
  28: 'AAAA', 29: 'LOC', 33: 'SRV', 35: 'NAPTR', 36: 'KX', 37: 'CERT', 39: 'DNAME', 41: 'OPT', 42: 'APL', 43: 'DS', 44: 'SSHFP',
  45: 'IPSECKEY', 46: 'RRSIG', 47: 'NSEC', 48: 'DNSKEY', 49: 'DHCID', 50: 'NSEC3', 51: 'NSEC3PARAM', 52: 'TLSA', 53: 'SMIMEA',
  55: 'HIP', 59: 'CDS', 60: 'CDNSKEY', 61: 'OPENPGPKEY', 62: 'CSYNC', 63: 'ZONEMD', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF',
  108: 'EUI48', 109: 'EUI64', 249: 'TKEY', 250: 'TSIG', 251: 'IXFR', 252: 'AXFR', 255: 'ANY', 256: 'URI', 257: 'CAA',
};
export const rcodeName = (c: number): string => RCODES[c] ?? String(c);
export const rrTypeName = (t: number): string => RRTYPES[t] ?? `TYPE${t}`;

/**
 * dns.answers as the JSON text JSON.stringify gives for the list of {name, type, data, ttl}
 * objects, built from the strings themselves: in a flood of lookups every flow has an answer, and
 * an object per answer plus the generic list path (a stringify and a terminal-escape scan of the
 * whole list) were a large part of the output's cost per flow.
 */
function answersJson(as: DnsInfo['answers']): string {
  const n = Math.min(as.length, MAX_ANSWERS);
  let t = '[';
  for (let i = 0; i < n; i++) {
    const a = as[i] as DnsInfo['answers'][0];
    // The type names are ASCII letters and digits: nothing to escape. A TTL is a 32-bit count;
    // the non-finite case keeps JSON.stringify's null all the same.
    t += `${i > 0 ? ',' : ''}{"name":${jsonString(a.name)},"type":"${rrTypeName(a.type)}","data":${jsonString(a.data)},"ttl":${Number.isFinite(a.ttl) ? String(a.ttl) : 'null'}}`;
  }
  return `${t}]`;
}

/**
 * dns.* written field by field rather than built as an object tree and walked: in a flood of
 * lookups every flow is a DNS flow, and those throw-away objects were garbage for every line.
 */
function writeDns(d: DnsInfo, w: EcsWriter): void {
  const q = d.queries[0];
  // a question and its response code, as every answered lookup has: byte runs
  if (w.runs !== undefined && q !== undefined && d.rcode !== null) {
    writeDnsRuns(d, q, d.rcode, w.runs);
    return;
  }
  w.open('dns');
  if (q !== undefined) {
    w.open('question');
    w.str('name', q);
    w.close();
  }
  if (d.rcode !== null) w.str('response_code', rcodeName(d.rcode));
  const as = d.answers;
  if (as.length > 0) {
    w.json('answers', answersJson(as));
    let ips: string[] | null = null;
    for (const a of as) if (a.type === 1 || a.type === 28) (ips ??= []).push(a.data);
    w.strs('resolved_ip', ips);
  }
  w.close();
}

// writeDns's text as runs of constant bytes between the values: the keys, punctuation, response
// code names and type names of a lookup are the same in every line of a flood of them.
const RUN_QUESTION = asciiBytes('"dns":{"question":{"name":');
const RUN_ANSWERS = asciiBytes(',"answers":[{"name":');
const RUN_NEXT_ANSWER = asciiBytes('},{"name":');
const RUN_TTL = asciiBytes(',"ttl":');
const RUN_NULL = asciiBytes('null');
const RUN_RESOLVED = asciiBytes('}],"resolved_ip":[');
const RUN_COMMA = asciiBytes(',');
const RUN_END_LIST = asciiBytes(']}');
const RUN_END_ANSWERS = asciiBytes('}]}');
const RUN_END = asciiBytes('}');
/** `},"response_code":"NOERROR"` by code, made when first needed. */
const runRcodes: Uint8Array[] = [];
/** `,"type":"A","data":` by type, made when first needed. */
const runTypes: Uint8Array[] = [];

function writeDnsRuns(d: DnsInfo, q: string, rcode: number, r: EcsRuns): void {
  r.field(RUN_QUESTION);
  r.vstr(q);
  r.lit(runRcodes[rcode] ?? (runRcodes[rcode] = asciiBytes(`},"response_code":${jsonString(rcodeName(rcode))}`)));
  const as = d.answers;
  if (as.length === 0) {
    r.lit(RUN_END);
    return;
  }
  const n = Math.min(as.length, MAX_ANSWERS);
  let ips = false;
  for (let i = 0; i < n; i++) {
    const a = as[i] as DnsInfo['answers'][0];
    r.lit(i === 0 ? RUN_ANSWERS : RUN_NEXT_ANSWER);
    r.vstr(a.name);
    const t = a.type;
    r.lit(runTypes[t] ?? (runTypes[t] = asciiBytes(`,"type":${jsonString(rrTypeName(t))},"data":`)));
    r.vstr(a.data);
    r.lit(RUN_TTL);
    // a TTL is a 32-bit count; the non-finite case keeps JSON.stringify's null all the same
    if (Number.isFinite(a.ttl)) r.vnum(a.ttl);
    else r.lit(RUN_NULL);
    if (t === 1 || t === 28) ips = true;
  }
  // resolved_ip names the addresses of every answer, past the listed ones too
  for (let i = n; i < as.length && !ips; i++) if ((as[i] as DnsInfo['answers'][0]).type === 1 || (as[i] as DnsInfo['answers'][0]).type === 28) ips = true;
  if (!ips) {
    r.lit(RUN_END_ANSWERS);
    return;
  }
  r.lit(RUN_RESOLVED);
  let first = true;
  for (let i = 0; i < as.length; i++) {
    const a = as[i] as DnsInfo['answers'][0];
    if (a.type !== 1 && a.type !== 28) continue;
    if (!first) r.lit(RUN_COMMA);
    first = false;
    r.vstr(a.data);
  }
  r.lit(RUN_END_LIST);
}

export const dnsSection = defineSection<DnsInfo>({
  key: 'dns',
  write: { doc: writeDns },
  proto: {
    type: 'ndr.v1.Dns',
    ecs: { question: 'dns.question.name', answers: 'dns.answers', responseCode: 'dns.response_code' },
    toProto(d) {
      const out: Record<string, unknown> = {
        question: d.queries[0] ?? '',
        answers: d.answers.slice(0, MAX_ANSWERS).map((a) => ({ name: a.name, type: rrTypeName(a.type), data: a.data, ttl: a.ttl })),
      };
      if (d.rcode !== null) out.responseCode = rcodeName(d.rcode);
      return out;
    },
  },
  features: () => ({ nameLookup: true }),
});

export function dnsOf(rec: { readonly apps: AppSections }): DnsInfo | null {
  return appOf(rec, dnsSection);
}
