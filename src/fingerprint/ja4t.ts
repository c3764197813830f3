/**
 * JA4T / JA4TS TCP fingerprints (FoxIO License 1.1 — only when JA4+ is switched on).
 * W_O_M_S: SYN (or SYN-ACK) window as sent; option kinds in wire order joined by '-' (NOP = 1 and
 * every End-of-List byte = 0 included); MSS value; window-scale shift. Reference (Rust) form:
 * an empty option list prints empty, a missing MSS/scale prints 0 (SPEC-NOTES.md §5).
 */
import { Cursor } from '../util/cursor.js';
import type { SynOptions } from '../flow/flow.js';
import type { FlowRecord } from '../flow/record.js';
import { tlsOf } from '../../dissectors/tls/record.js';

export interface TcpSynInfo {
  window: number;
  optionKinds: number[];
  mss: number;
  windowScale: number;
}

/** Walk TCP options (RFC 9293 §3.2). Malformed lengths stop the walk, keeping kinds seen so far. */
export function parseTcpOptions(options: Uint8Array, window: number): TcpSynInfo {
  const out: TcpSynInfo = { window, optionKinds: [], mss: 0, windowScale: 0 };
  const c = new Cursor(options);
  while (c.remaining > 0) {
    const kind = c.u8();
    out.optionKinds.push(kind);
    if (kind === 0 || kind === 1) continue;
    const len = c.u8();
    if (c.err || len < 2 || len - 2 > c.remaining) break;
    if (kind === 2 && len === 4) out.mss = c.u16();
    else if (kind === 3 && len === 3) out.windowScale = c.u8();
    else c.skip(len - 2);
  }
  return out;
}

export function ja4tFromInfo(i: TcpSynInfo): string {
  return i.window + '_' + i.optionKinds.join('-') + '_' + i.mss + '_' + i.windowScale;
}

/** JA4T from a SYN (SYN set, ACK clear; ECE/CWR allowed). */
export function ja4t(window: number, options: Uint8Array): string {
  return ja4tFromInfo(parseTcpOptions(options, window));
}

/**
 * JA4TS from a SYN-ACK; optional retransmission delays (seconds, between successive SYN-ACKs)
 * and whether a RST ended the attempt form the trailing field as the Wireshark plugin does.
 */
export function ja4ts(window: number, options: Uint8Array, retransDelaysS?: readonly number[], rst?: boolean): string {
  let s = ja4tFromInfo(parseTcpOptions(options, window));
  if ((retransDelaysS !== undefined && retransDelaysS.length > 0) || rst === true) {
    s += '_' + (retransDelaysS ?? []).join('-');
    if (rst === true) s += '-R';
  }
  return s;
}

/**
 * JA4T / JA4TS on the record of a TLS-over-TCP flow (JA4+ keeps them to the flows it prints: the
 * client and server hellos go with the SYN and SYN-ACK).
 */
export function tcpPrints(rec: FlowRecord, so: SynOptions | null): void {
  if (so === null || rec.transport !== 'tcp' || tlsOf(rec) === null) return;
  if (so.opts !== null) rec.ja4t = ja4t(so.win, so.opts);
  if (so.ackOpts !== null) rec.ja4ts = ja4ts(so.ackWin, so.ackOpts);
}
