/**
 * What the STARTTLS family puts on the flow record: one section per protocol, keyed by its name
 * (`smtp`, `imap`, `rdp`, …), all of the shared SessionSummary shape, written to ECS as
 * ndr.<protocol> and sent as the Session message (starttls.proto).
 */
import { defineSection, type RecordSection } from '../../src/contract/api.js';
import type { SessionSummary } from './types.js';

export function sessionSection(name: string): RecordSection<SessionSummary> {
  return defineSection<SessionSummary>({
    key: name,
    ecs(s, { ndr }) {
      ndr[name] = {
        banner: s.banner, commands: s.commands, command_count: s.commandCount, auth_mechanisms: s.authMechanisms,
        starttls: s.starttls, starttls_offered: s.starttlsOffered, starttls_requested: s.starttlsRequested, starttls_refused: s.starttlsRefused,
        ...s.details,
      };
    },
    proto: {
      type: 'ndr.v1.Session',
      ecs: {
        protocol: 'network.protocol',
        banner: 'ndr.{key}.banner',
        commands: 'ndr.{key}.commands',
        commandCount: 'ndr.{key}.command_count',
        authMechanisms: 'ndr.{key}.auth_mechanisms',
        starttls: 'ndr.{key}.starttls',
        starttlsOffered: 'ndr.{key}.starttls_offered',
        starttlsRequested: 'ndr.{key}.starttls_requested',
        starttlsRefused: 'ndr.{key}.starttls_refused',
        'details.*': 'ndr.{key}.*',
      },
      toProto: (s) => ({
        protocol: name,
        banner: s.banner ?? '',
        commands: s.commands,
        commandCount: s.commandCount,
        authMechanisms: s.authMechanisms,
        starttls: s.starttls,
        starttlsOffered: s.starttlsOffered,
        starttlsRequested: s.starttlsRequested,
        starttlsRefused: s.starttlsRefused,
        details: Object.fromEntries(Object.entries(s.details).map(([k, v]) => [k, String(v)])),
      }),
    },
  });
}
