/**
 * The STARTTLS family: protocols that begin in clear and may switch to TLS on the same flow.
 * Each is its own dissector (its own label, ports and probe); all share the summary, the upgrade
 * record (the driver then hands the flow to TLS at the next byte, keeping the label) and the
 * event names. Registered in dissectors/index.ts.
 */
import { defineDissector, leadBytes, type DissectorContext, type FlowDissector, type ProbeSpec } from '../../src/contract/api.js';
import { summarizeSession } from './common.js';
import { sessionSection } from './record.js';
import { ftp, imap, lmtp, nntp, pop3, sieve, smtp } from './dialects.js';
import { sessionEvents } from './events.js';
import { LdapDissector, probeLdap } from './ldap.js';
import { MysqlDissector, probeMysql } from './mysql.js';
import { PostgresDissector, probePostgres } from './postgres.js';
import { RdpDissector, probeRdp } from './rdp.js';
import { TextDissector, probe220, probeGreeting, type TextDialect } from './text.js';
import { defaultSessionLimits, type SessionLimits, type SessionRecord, type SessionSummary } from './types.js';
import { XmppDissector, probeXmpp } from './xmpp.js';

type Create = (ctx: DissectorContext<SessionRecord, string>, lim: SessionLimits) => FlowDissector;

function spec(name: string, probe: Omit<ProbeSpec, 'prefixes'> & { prefixes?: ProbeSpec['prefixes'] }, create: Create) {
  const section = sessionSection(name);
  return defineDissector<SessionLimits, SessionRecord, string, SessionSummary>({
    name,
    apiVersion: 1,
    transport: 'tcp',
    probe: { prefixes: [], ...probe },
    defaultLimits: defaultSessionLimits,
    events: sessionEvents(name),
    create,
    summarize: summarizeSession,
    sections: [section],
    toRecord: (s, out) => out.set(section, s),
  });
}

const text = (d: TextDialect): Create => (ctx, lim) => new TextDissector(d, ctx, lim);
const LINE = { minBytes: 1, maxBytes: 512 } as const;

/** A `220` greeting's probe and its leads: the greeting's '2' from the server, a command's first letter from the client. */
function greets220(want: 'SMTP' | 'LMTP' | 'FTP', clientVerbs: readonly string[]) {
  return { ...LINE, probe: probe220(want, clientVerbs), leads: [leadBytes(clientVerbs, true), leadBytes(['220'])] as const };
}

/** A greeting's probe and its leads: the first byte of a greeting or of a client command, in either case. */
function greets(prefixes: readonly string[], clientVerbs: readonly string[]) {
  return { ...LINE, probe: probeGreeting(prefixes, clientVerbs), leads: [leadBytes(clientVerbs, true), leadBytes(prefixes, true)] as const };
}

export const smtpSpec = spec('smtp', { ports: [25, 587, 2525], ...greets220('SMTP', ['EHLO ', 'HELO ']) }, text(smtp));
export const lmtpSpec = spec('lmtp', { ports: [24], ...greets220('LMTP', ['LHLO ']) }, text(lmtp));
export const ftpSpec = spec('ftp', { ports: [21], ...greets220('FTP', ['USER ', 'AUTH TLS', 'AUTH SSL', 'FEAT', 'SYST']) }, text(ftp));
export const imapSpec = spec('imap', { ports: [143], ...greets(['* OK', '* PREAUTH', '* BYE'], []) }, text(imap));
export const pop3Spec = spec('pop3', { ports: [110], ...greets(['+OK'], ['CAPA', 'STLS', 'APOP ']) }, text(pop3));
export const nntpSpec = spec('nntp', { ports: [119, 433], ...greets(['200 ', '201 '], ['CAPABILITIES', 'MODE READER']) }, text(nntp));
export const sieveSpec = spec('sieve', {
  ports: [4190],
  ...greets(['"IMPLEMENTATION"', '"SASL"', '"SIEVE"', '"STARTTLS"', '"VERSION"', '"NOTIFY"', '"LANGUAGE"', '"OWNER"', '"MAXREDIRECTS"'], []),
}, text(sieve));
// XMPP's stream header may follow other bytes (whitespace, an XML declaration, a proxy's line):
// any first byte from the client.
export const xmppSpec = spec('xmpp', { ports: [5222, 5269], minBytes: 1, maxBytes: 512, probe: probeXmpp, leads: [null, []] }, (ctx, lim) => new XmppDissector(ctx, lim));
export const ldapSpec = spec('ldap', { ports: [389], minBytes: 1, maxBytes: 16, probe: probeLdap, leads: [[0x30], []] }, (ctx, lim) => new LdapDissector(ctx, lim)); // a BER SEQUENCE
export const postgresSpec = spec('postgres', { ports: [5432], minBytes: 1, maxBytes: 8, probe: probePostgres, leads: [[0], []] }, (ctx, lim) => new PostgresDissector(ctx, lim)); // a length under 2^24
// the server's greeting opens with its length's low byte: any
export const mysqlSpec = spec('mysql', { ports: [3306], minBytes: 1, maxBytes: 70, probe: probeMysql, leads: [[], null] }, (ctx, lim) => new MysqlDissector(ctx, lim));
export const rdpSpec = spec('rdp', { ports: [3389], minBytes: 1, maxBytes: 6, probe: probeRdp, leads: [[3], []] }, (ctx, lim) => new RdpDissector(ctx, lim)); // TPKT version 3

/** Every dissector of the family, in probe order after port hints. */
export const starttlsSpecs = [smtpSpec, lmtpSpec, ftpSpec, imapSpec, pop3Spec, nntpSpec, sieveSpec, xmppSpec, ldapSpec, postgresSpec, mysqlSpec, rdpSpec] as const;
export const starttlsNames: readonly string[] = starttlsSpecs.map((s) => s.name);

export { summarizeSession } from './common.js';
export { defaultSessionLimits } from './types.js';
export type { SessionLimits, SessionRecord, SessionSummary } from './types.js';
