/** The line-based dialects: verbs, the upgrade command and its accepting reply, bodies and blocks. */
import { containsCI, mechanismName, startsCI } from './common.js';
import type { TextDialect } from './text.js';

const set = (s: string): ReadonlySet<string> => new Set(s.split(' '));
const none: ReadonlyMap<string, number> = new Map();
const never = (): boolean => false;

/** The line with any reply code (`250-`, `250 `) stripped, starts with `word`. */
function afterCode(word: string) {
  return (b: Uint8Array, from: number, to: number): boolean => {
    let i = from;
    if (to - from > 4 && (b[from] as number) >= 0x30 && (b[from] as number) <= 0x39) i = from + 4;
    while (i < to && b[i] === 0x20) i++;
    return startsCI(b, i, word) && (i + word.length >= to || !/[A-Z0-9]/i.test(String.fromCharCode(b[i + word.length] as number)));
  };
}

function sasl(verb: string) {
  return (v: string, args: string[]): string | null => (v === verb && args[0] !== undefined ? mechanismName(args[0].replace(/^"|"$/g, '')) : null);
}

const SMTP_VERBS = set('EHLO HELO LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY EXPN HELP STARTTLS AUTH ETRN');

/** SMTP (RFC 5321, STARTTLS RFC 3207: `220` accepts). */
export const smtp: TextDialect = {
  name: 'smtp', style: 'code', verbs: SMTP_VERBS,
  isStart: (v) => v === 'STARTTLS', acceptCodes: [220],
  offers: afterCode('STARTTLS'),
  bodies: new Map([['DATA', 354]]),
  mechanism: sasl('AUTH'),
  blockAfter: never,
};

/** LMTP (RFC 2033): SMTP's dialogue with LHLO and one reply per recipient after the body. */
export const lmtp: TextDialect = { ...smtp, name: 'lmtp' };

/** FTP (RFC 959; AUTH TLS, RFC 4217 §4: `234` accepts, `334` for the older AUTH SSL). */
export const ftp: TextDialect = {
  name: 'ftp', style: 'code',
  verbs: set('USER PASS ACCT CWD CDUP QUIT PORT PASV EPRT EPSV TYPE MODE STRU RETR STOR APPE LIST NLST SYST STAT HELP NOOP FEAT OPTS AUTH PBSZ PROT CCC SIZE MDTM MLSD MLST PWD MKD RMD DELE RNFR RNTO REST ABOR SITE CLNT'),
  isStart: (v, a) => v === 'AUTH' && (a === 'TLS' || a === 'SSL' || a === 'TLS-C' || a === 'TLS-P'),
  acceptCodes: [234, 334],
  offers: (b, from, to) => containsCI(b, from, to, 'AUTH TLS') || containsCI(b, from, to, 'AUTH SSL'),
  bodies: none,
  mechanism: (v) => (v === 'USER' ? 'LOGIN' : null),
  blockAfter: never,
};

/** NNTP (RFC 3977; STARTTLS RFC 4642: `382` accepts). Multi-line replies end with a dot line. */
const NNTP_BLOCK = new Set([100, 101, 215, 220, 221, 222, 224, 225, 230, 231]);
export const nntp: TextDialect = {
  name: 'nntp', style: 'code',
  verbs: set('CAPABILITIES MODE STARTTLS AUTHINFO GROUP LISTGROUP ARTICLE HEAD BODY STAT NEXT LAST LIST NEWGROUPS NEWNEWS POST IHAVE DATE HELP QUIT OVER XOVER HDR XHDR'),
  isStart: (v) => v === 'STARTTLS', acceptCodes: [382],
  offers: afterCode('STARTTLS'),
  bodies: new Map([['POST', 340], ['IHAVE', 335]]),
  mechanism: (v, a) => (v !== 'AUTHINFO' ? null : a[0] === 'USER' ? 'LOGIN' : a[0] === 'SASL' && a[1] !== undefined ? mechanismName(a[1]) : null),
  blockAfter: (code, verb) => NNTP_BLOCK.has(code) || (code === 211 && verb === 'LISTGROUP'),
};

/** POP3 (RFC 1939; STLS RFC 2595 §4: `+OK` accepts). */
const POP_BLOCK_ALWAYS = new Set(['CAPA', 'RETR', 'TOP']);
const POP_BLOCK_BARE = new Set(['LIST', 'UIDL', 'AUTH']); // without an argument: a listing
export const pop3: TextDialect = {
  name: 'pop3', style: 'pop',
  verbs: set('USER PASS APOP STAT LIST RETR DELE NOOP RSET QUIT TOP UIDL CAPA STLS AUTH'),
  isStart: (v) => v === 'STLS', acceptCodes: [],
  offers: afterCode('STLS'),
  bodies: none,
  mechanism: (v, a) => (v === 'USER' ? 'LOGIN' : v === 'APOP' ? 'APOP' : sasl('AUTH')(v, a)),
  blockAfter: (code, verb, args) => code === 1 && verb !== null && (POP_BLOCK_ALWAYS.has(verb) || (POP_BLOCK_BARE.has(verb) && args === 0)),
};

/** IMAP (RFC 9051; STARTTLS §6.2.1: the tagged `OK` accepts). */
export const imap: TextDialect = {
  name: 'imap', style: 'imap',
  verbs: set('CAPABILITY NOOP LOGOUT STARTTLS AUTHENTICATE LOGIN ENABLE SELECT EXAMINE CREATE DELETE RENAME SUBSCRIBE UNSUBSCRIBE LIST LSUB NAMESPACE STATUS APPEND IDLE CLOSE UNSELECT EXPUNGE SEARCH FETCH STORE COPY MOVE UID ID'),
  isStart: (v) => v === 'STARTTLS', acceptCodes: [],
  offers: (b, from, to) => (startsCI(b, from, '* CAPABILITY') || startsCI(b, from, '* OK [CAPABILITY')) && containsCI(b, from, to, ' STARTTLS'),
  bodies: none,
  mechanism: (v, a) => (v === 'LOGIN' ? 'LOGIN' : sasl('AUTHENTICATE')(v, a)),
  blockAfter: never,
};

/** ManageSieve (RFC 5804; STARTTLS §2.2: `OK` accepts). */
export const sieve: TextDialect = {
  name: 'sieve', style: 'sieve',
  verbs: set('AUTHENTICATE STARTTLS LOGOUT CAPABILITY HAVESPACE PUTSCRIPT LISTSCRIPTS SETACTIVE GETSCRIPT DELETESCRIPT RENAMESCRIPT CHECKSCRIPT NOOP UNAUTHENTICATE'),
  isStart: (v) => v === 'STARTTLS', acceptCodes: [],
  offers: (b, from) => startsCI(b, from, '"STARTTLS"'),
  bodies: none,
  mechanism: sasl('AUTHENTICATE'),
  blockAfter: never,
};
