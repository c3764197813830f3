/** Event catalogs of the STARTTLS family (STYLE.md rule 5): the same names under each protocol. */
import type { EventCatalog } from '../../src/contract/api.js';

const SUFFIXES = {
  bad_line: { severity: 'anomaly', summary: 'a line that is not a command or reply of the protocol' },
  bad_message: { severity: 'anomaly', summary: 'a binary message whose lengths or tags do not add up' },
  gap: { severity: 'info', summary: 'bytes lost in the clear-text dialogue: dissection stopped' },
  starttls_refused: { severity: 'info', summary: 'the server refused the upgrade to TLS: the dialogue stays in clear' },
  data_after_starttls: { severity: 'anomaly', summary: 'the client sent more before the server answered its upgrade request' },
  'limit.max_line_bytes': { severity: 'limit', summary: 'a line longer than maxLineBytes: dissection stopped' },
  'limit.max_commands_count': { severity: 'limit', summary: 'more commands than maxCommandsCount: dissection stopped' },
  'limit.max_pending_count': { severity: 'limit', summary: 'more unanswered commands than maxPendingCount (the oldest forgotten)' },
  'limit.max_message_bytes': { severity: 'limit', summary: 'a binary message larger than maxMessageBytes (skipped unparsed)' },
} as const satisfies EventCatalog<string>;

export type SessionEventSuffix = keyof typeof SUFFIXES;
export type SessionEventId = string;

/** The catalog for one protocol: `${name}.${suffix}` for every suffix. */
export function sessionEvents(name: string): EventCatalog<SessionEventId> {
  const out: Record<string, { severity: 'info' | 'anomaly' | 'limit'; summary: string }> = {};
  for (const [k, v] of Object.entries(SUFFIXES)) out[`${name}.${k}`] = v;
  return out;
}
