/** SshDissector: the identification line of each side (RFC 4253 §4.2), then 'done'. */
import { Dir, type DissectorContext, type FlowDissector, type StreamView, type Verdict } from '../../src/contract/api.js';
import { latin1Bounded, startsWith } from '../../src/util/bytes.js';
import type { SshEventId } from './events.js';
import type { SshLimits, SshRecord } from './types.js';

const SSH_DASH = [0x53, 0x53, 0x48, 0x2d]; // 'SSH-'
const LF = 0x0a;

/** True when the (short) bytes are a prefix of 'SSH-'. */
function isDashPrefix(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== SSH_DASH[i]) return false;
  return true;
}

export class SshDissector implements FlowDissector {
  private readonly ctx: DissectorContext<SshRecord, SshEventId>;
  private readonly lim: SshLimits;
  private readonly got: [boolean, boolean] = [false, false];
  private readonly preLines: [number, number] = [0, 0];
  private confirmed = false;

  constructor(ctx: DissectorContext<SshRecord, SshEventId>, lim: SshLimits) {
    this.ctx = ctx;
    this.lim = lim;
  }

  feed(dir: Dir, view: StreamView): Verdict {
    const b = view.bytes;
    let pos = 0;
    let verdict: Verdict = 'more';
    while (!this.got[dir]) {
      const rest = b.subarray(pos);
      if (rest.length === 0) break;
      const isBanner = rest.length < 4 ? isDashPrefix(rest) : startsWith(rest, SSH_DASH);
      const lf = rest.indexOf(LF);
      const max = this.lim.maxBannerBytes;
      if (lf < 0 || lf >= max) {
        if (rest.length < max) {
          view.needAtLeast(rest.length + 1);
          break;
        }
        // No line end within the limit.
        this.ctx.event(isBanner ? 'ssh.limit.max_banner_bytes' : 'ssh.bad_banner', dir);
        if (isBanner) {
          this.banner(dir, rest.subarray(0, max), view.ts, 'truncated');
          pos += max;
          verdict = this.after(dir);
        } else {
          if (!this.confirmed) this.ctx.violation('ssh.bad_banner');
          verdict = 'abort';
        }
        break;
      }
      const lineEnd = lf > 0 && rest[lf - 1] === 0x0d ? lf - 1 : lf;
      if (!isBanner) {
        // RFC 4253 §4.2: the server MAY send other lines first; a client must not.
        if (dir === Dir.ToServer) {
          this.ctx.event('ssh.client_pre_banner_lines', dir);
          if (!this.confirmed) { this.ctx.violation('ssh.client_pre_banner_lines'); return 'abort'; }
        }
        if (++this.preLines[dir] > this.lim.maxPreBannerLinesCount) {
          this.ctx.event('ssh.limit.max_pre_banner_lines_count', dir);
          if (!this.confirmed) this.ctx.violation('ssh.limit.max_pre_banner_lines_count');
          verdict = 'abort';
          break;
        }
        pos += lf + 1;
        continue;
      }
      const ok = this.banner(dir, rest.subarray(0, lineEnd), view.ts, 'complete');
      pos += lf + 1;
      if (!ok) {
        verdict = 'abort';
        break;
      }
      // Everything after the identification line is the binary packet protocol (RFC 4253 §6).
      this.ctx.payloadStart(dir, view.streamOffset + pos);
      verdict = this.after(dir);
    }
    if (pos > 0) view.consume(pos);
    return verdict;
  }

  private after(dir: Dir): Verdict {
    this.got[dir] = true;
    return this.got[0] && this.got[1] ? 'done' : 'dir-done';
  }

  /** Emit one banner; false when it is not SSH-protoversion-softwareversion. */
  private banner(dir: Dir, line: Uint8Array, ts: number, status: 'complete' | 'truncated'): boolean {
    const text = latin1Bounded(line, this.lim.maxBannerBytes);
    const dash = text.indexOf('-', 4);
    const proto = dash > 4 ? text.slice(4, dash) : '';
    const rest = dash > 4 ? text.slice(dash + 1) : '';
    const sp = rest.indexOf(' ');
    const software = sp < 0 ? rest : rest.slice(0, sp);
    if (!/^[0-9]+\.[0-9]+$/.test(proto) || (software.length === 0 && status === 'complete')) {
      this.ctx.event('ssh.bad_banner', dir);
      if (!this.confirmed) this.ctx.violation('ssh.bad_banner');
      return false;
    }
    if (!this.confirmed) {
      this.confirmed = true;
      this.ctx.confirm();
    }
    this.ctx.emit({ kind: 'ssh.banner', ts, dir, banner: text, protoVersion: proto, software, comments: sp < 0 ? null : rest.slice(sp + 1), status });
    return true;
  }

  gap(dir: Dir, _lostBytes: number): Verdict {
    if (this.got[dir]) return 'more';
    this.ctx.event('ssh.gap', dir);
    return 'done';
  }

  end(_dir: Dir): void {
    // Banners are emitted when their line ends; nothing is held.
  }
}
