/** SSH banner records and limits. */
import type { DissectorRecord } from '../../src/contract/api.js';

export interface SshLimits {
  /** Longest identification line, CR LF included (RFC 4253 §4.2 says 255). */
  readonly maxBannerBytes: number;
  /** Lines a server may send before its identification that we skip. */
  readonly maxPreBannerLinesCount: number;
}

export const defaultSshLimits: SshLimits = { maxBannerBytes: 255, maxPreBannerLinesCount: 16 };

export interface SshBannerRecord extends DissectorRecord {
  readonly kind: 'ssh.banner';
  /** The whole identification line without CR LF, e.g. 'SSH-2.0-OpenSSH_9.2p1 Debian-2'. */
  readonly banner: string;
  readonly protoVersion: string; // '2.0' | '1.99' | '1.5'
  readonly software: string; // softwareversion (before any SP comments)
  readonly comments: string | null;
  readonly status: 'complete' | 'truncated';
}

export type SshRecord = SshBannerRecord;

export interface SshSummary {
  clientBanner: string | null;
  serverBanner: string | null;
}
