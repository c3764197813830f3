/**
 * Records, limits and the per-flow summary shared by the protocols that speak in clear and may
 * switch to TLS in place (STARTTLS and its kin, RDP's X.224 negotiation). One family folder:
 * they share the summary, the upgrade record, the line reader and the event names, and a
 * dissector may import only its own folder.
 */
import type { DissectorRecord } from '../../src/contract/api.js';

export interface SessionLimits {
  /** Longest text line (command, reply line, XML tag), CR LF included. */
  readonly maxLineBytes: number;
  /** Client commands (or requests) read before dissection stops: the upgrade comes early. */
  readonly maxCommandsCount: number;
  /** Commands sent and not yet answered that are remembered. */
  readonly maxPendingCount: number;
  /** Largest binary message (LDAP, PostgreSQL, MySQL, TPKT) parsed; larger ones are skipped. */
  readonly maxMessageBytes: number;
  /** Longest text kept on the record (banner, detail values). */
  readonly maxTextBytes: number;
}

export const defaultSessionLimits: SessionLimits = {
  maxLineBytes: 8192,
  maxCommandsCount: 128,
  maxPendingCount: 64,
  maxMessageBytes: 65536,
  maxTextBytes: 256,
};

export type SessionWhat = 'greeting' | 'command' | 'auth' | 'offered' | 'starttls' | 'detail' | 'upgrade';

/**
 * One fact of the clear-text dialogue. Never a credential: commands are named by verb only (from
 * a list of known verbs), authentication by mechanism only.
 */
export interface SessionRecord extends DissectorRecord {
  readonly kind: string; // `${protocol}.${what}`
  readonly what: SessionWhat;
  /** greeting: the banner; command: the verb; auth: the mechanism; detail: the value. */
  readonly text: string | null;
  /** detail: its name. */
  readonly key: string | null;
  /** starttls: the server's answer (null when none came). */
  readonly accepted: boolean | null;
  /** upgrade: the dissector that takes over ('tls'). */
  readonly upgrade?: string;
}

export interface SessionSummary {
  /** Server greeting or version string. */
  banner: string | null;
  /** Distinct known verbs the client sent, in first-use order (bounded). */
  commands: string[];
  commandCount: number;
  /** The server offered the upgrade (capability, feature, flag). */
  starttlsOffered: boolean;
  starttlsRequested: boolean;
  /** The flow switched to TLS in place. */
  starttls: boolean;
  starttlsRefused: boolean;
  authMechanisms: string[];
  /** Protocol-specific facts (RDP's negotiated protocol, PostgreSQL's database, XMPP's domain). */
  details: Record<string, string | number | boolean>;
}
