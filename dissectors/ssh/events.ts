/** ssh.* event catalog (STYLE.md rule 5). */
import type { EventCatalog } from '../../src/contract/api.js';

export const sshEvents = {
  'ssh.bad_banner': { severity: 'anomaly', summary: 'identification line is not SSH-protoversion-softwareversion (RFC 4253 §4.2)' },
  'ssh.client_pre_banner_lines': { severity: 'anomaly', summary: 'client sent lines before its identification (only servers may, RFC 4253 §4.2)' },
  'ssh.gap': { severity: 'info', summary: 'bytes lost before the banner: dissection stopped' },
  'ssh.limit.max_banner_bytes': { severity: 'limit', summary: 'identification line longer than maxBannerBytes (RFC 4253 §4.2: 255)' },
  'ssh.limit.max_pre_banner_lines_count': { severity: 'limit', summary: 'more lines before the identification than maxPreBannerLinesCount' },
} as const satisfies EventCatalog<string>;

export type SshEventId = keyof typeof sshEvents;
