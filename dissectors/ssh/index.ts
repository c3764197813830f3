/** SSH dissector: identification banners only (RFC 4253 §4.2), so SSH is recognised as known encryption. */
import { defineDissector, type Dir, type ProbeResult } from '../../src/contract/api.js';
import { sshEvents, type SshEventId } from './events.js';
import { SshDissector } from './state.js';
import { sshSection } from './record.js';
import { defaultSshLimits, type SshLimits, type SshRecord, type SshSummary } from './types.js';

const PREFIX = [0x53, 0x53, 0x48, 0x2d] as const; // 'SSH-'

export function probeSsh(bytes: Uint8Array, _dir: Dir): ProbeResult {
  const n = bytes.length < 4 ? bytes.length : 4;
  for (let i = 0; i < n; i++) if (bytes[i] !== PREFIX[i]) return 'no';
  return n === 4 ? 'yes' : 'unsure';
}

export function summarizeSsh(records: readonly SshRecord[]): SshSummary {
  let clientBanner: string | null = null;
  let serverBanner: string | null = null;
  for (const r of records) {
    if (r.dir === 0 && clientBanner === null) clientBanner = r.banner;
    if (r.dir === 1 && serverBanner === null) serverBanner = r.banner;
  }
  return { clientBanner, serverBanner };
}

export const sshSpec = defineDissector<SshLimits, SshRecord, SshEventId, SshSummary>({
  name: 'ssh',
  apiVersion: 1,
  transport: 'tcp',
  probe: { ports: [22, 2222], prefixes: [PREFIX], minBytes: 4, maxBytes: 8, probe: probeSsh, leads: [[PREFIX[0]], [PREFIX[0]]] },
  defaultLimits: defaultSshLimits,
  events: sshEvents,
  create: (ctx, limits) => new SshDissector(ctx, limits),
  summarize: summarizeSsh,
  sections: [sshSection],
  toRecord: (s, out) => out.set(sshSection, { clientBanner: s.clientBanner, serverBanner: s.serverBanner }),
});

export type { SshLimits, SshRecord, SshSummary } from './types.js';
