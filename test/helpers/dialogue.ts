/**
 * Scripted TCP dialogues for engine-level tests: messages in the order they cross the wire, each
 * in its own segment (or cut into pieces), with the handshake and FINs around them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { F, writePcap, type Seg } from './packets.js';

export type Turn = readonly [0 | 1, Uint8Array | string];

export function dialogue(sport: number, dport: number, turns: readonly Turn[], cut = 0, t0 = 1_700_000_000_000): Seg[] {
  const c = '10.9.0.1';
  const s = '10.9.0.2';
  const segs: Seg[] = [];
  let cseq = 1000;
  let sseq = 5000;
  let t = t0;
  segs.push({ src: c, dst: s, sport, dport, flags: F.SYN, seq: cseq - 1, ts: t++ });
  segs.push({ src: s, dst: c, sport: dport, dport: sport, flags: F.SYN | F.ACK, seq: sseq - 1, ack: cseq, ts: t++ });
  segs.push({ src: c, dst: s, sport, dport, flags: F.ACK, seq: cseq, ack: sseq, ts: t++ });
  for (const [dir, p] of turns) {
    const bytes = typeof p === 'string' ? new TextEncoder().encode(p) : p;
    const size = cut > 0 ? cut : Math.max(1, bytes.length);
    for (let o = 0; o < bytes.length; o += size) {
      const piece = bytes.subarray(o, Math.min(bytes.length, o + size));
      if (dir === 0) {
        segs.push({ src: c, dst: s, sport, dport, flags: F.ACK | F.PSH, seq: cseq, ack: sseq, payload: piece, ts: t++ });
        cseq += piece.length;
      } else {
        segs.push({ src: s, dst: c, sport: dport, dport: sport, flags: F.ACK | F.PSH, seq: sseq, ack: cseq, payload: piece, ts: t++ });
        sseq += piece.length;
      }
    }
  }
  segs.push({ src: c, dst: s, sport, dport, flags: F.FIN | F.ACK, seq: cseq, ack: sseq, ts: t++ });
  segs.push({ src: s, dst: c, sport: dport, dport: sport, flags: F.FIN | F.ACK, seq: sseq, ack: cseq + 1, ts: t++ });
  return segs;
}

let dir: string | null = null;
let n = 0;
/** Write segments to a fresh pcap file and return its path. */
export function dialoguePcap(segs: Seg[]): string {
  dir ??= mkdtempSync(join(tmpdir(), 'ndr-dialogue-'));
  const p = join(dir, `d${n++}.pcap`);
  writePcap(p, segs);
  return p;
}
