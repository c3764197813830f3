/**
 * WebRTC lab capture (pcaps/webrtc/): one UDP 5-tuple carrying what a browser call does (RFC 7983),
 * from real software in network namespaces (lab/netns.ts):
 *   1. ICE connectivity checks: Binding requests and success responses (lab/peers/webrtc-peer.py:
 *      USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT),
 *   2. a DTLS 1.2 handshake on the same ports (openssl s_client -bind to the client's port,
 *      openssl s_server with a certificate made at generation time),
 *   3. Opus RTP and RTCP sender reports both ways (random payloads, as SRTP's ciphertext),
 *   4. one more connectivity check (ICE consent freshness, RFC 7675).
 *   webrtc-call.pcap       the call
 *   webrtc-malformed.pcap  the call with a STUN request whose length overruns its datagram, one
 *                          whose attribute overruns its message, and an RTP packet cut by the snap length
 * Needs root, tcpdump, python3 and openssl.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab } from './netns.js';
import { peerProgram } from './peer-programs.js';

export const WEBRTC_CAPTURES = ['webrtc-call.pcap', 'webrtc-malformed.pcap'] as const;
export type WebrtcCapture = (typeof WEBRTC_CAPTURES)[number];
export const WEBRTC_PORTS = { client: 50000, server: 5000 } as const;
/** ICE checks before the handshake, RTP packets each way, and the certificate's name. */
export const CHECKS = 3;
export const RTP_EACH_WAY = 30;
export const CERT_CN = 'webrtc.lab.test';

function waitLine(child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`gen-webrtc: no "${text}" within ${timeoutMs} ms`)), timeoutMs);
    const on = (c: Buffer): void => { if (c.toString().includes(text)) { clearTimeout(t); resolve(); } };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

function waitExit(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.kill('SIGTERM'); resolve(); }, timeoutMs);
    child.on('exit', () => { clearTimeout(t); resolve(); });
  });
}

export async function generateWebrtcCaptures(outDir: string): Promise<{ files: Record<WebrtcCapture, string>; clientIp: string; serverIp: string }> {
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'ndr-gen-webrtc-'));
  const files = Object.fromEntries(WEBRTC_CAPTURES.map((f) => [f, join(outDir, f)])) as Record<WebrtcCapture, string>;
  const peer = peerProgram('webrtc-peer.py', work);
  const cert = join(work, 'cert.pem');
  const key = join(work, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${CERT_CN}`, '-days', '30', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const lab = await createLab('rtc');
  const [c, s] = [lab.clientIp, lab.serverIp];
  const [cp, sp] = [String(WEBRTC_PORTS.client), String(WEBRTC_PORTS.server)];
  const checks = async (n: number): Promise<void> => {
    const srv = lab.start(lab.server, 'python3', [peer, 'stun-server', s, sp]);
    await waitLine(srv, 'ready');
    lab.exec(lab.client, 'python3', [peer, 'stun-client', c, cp, s, sp, String(n)], { timeoutMs: 15_000 });
    await waitExit(srv);
  };
  try {
    const stop = await lab.capture(files['webrtc-call.pcap'], `udp port ${sp}`);
    await checks(CHECKS);
    const dtlsServer = lab.start(lab.server, 'openssl', ['s_server', '-dtls1_2', '-accept', `${s}:${sp}`, '-naccept', '1', '-cert', cert, '-key', key]);
    await waitLine(dtlsServer, 'ACCEPT');
    lab.exec(lab.client, 'openssl', ['s_client', '-dtls1_2', '-bind', `${c}:${cp}`, '-connect', `${s}:${sp}`], { input: 'hello over dtls\n', timeoutMs: 15_000 });
    await waitExit(dtlsServer, 5_000);
    const down = lab.start(lab.server, 'python3', [peer, 'media', s, sp, c, cp, '3131', String(RTP_EACH_WAY)]);
    lab.exec(lab.client, 'python3', [peer, 'media', c, cp, s, sp, '2929', String(RTP_EACH_WAY)], { timeoutMs: 15_000 });
    await waitExit(down);
    await checks(1);
    await stop();
  } finally {
    await lab.close();
  }
  try {
    writeFileSync(files['webrtc-malformed.pcap'], breakCall(readFileSync(files['webrtc-call.pcap'])));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { files, clientIp: c, serverIp: s };
}

/**
 * The call with three datagrams broken (classic little-endian pcap, Ethernet, IPv4 without
 * options): the second client STUN request claims 4 more bytes than it has, the third's first
 * attribute claims more than the message holds, and the fifth RTP packet is cut to 8 bytes of
 * payload by the snap length (orig_len keeps its size).
 */
export function breakCall(pcap: Buffer): Buffer {
  const out = Buffer.from(pcap);
  let stun = 0;
  let rtp = 0;
  for (let off = 24; off + 16 <= out.length;) {
    const incl = out.readUInt32LE(off + 8);
    const p = off + 16 + 14 + 20 + 8; // UDP payload
    const sport = out.readUInt16BE(off + 16 + 14 + 20);
    const next = off + 16 + incl;
    if (p + 20 <= next && sport === WEBRTC_PORTS.client && out[p] === 0 && out[p + 1] === 1) {
      stun++;
      if (stun === 2) out.writeUInt16BE(out.readUInt16BE(p + 2) + 4, p + 2);
      if (stun === 3) out.writeUInt16BE(0x0400, p + 20 + 2);
    }
    if (p + 12 <= next && out[p] === 0x80 && (out[p + 1]! & 0x7f) === 111 && ++rtp === 5) {
      const cut = p + 8 - (off + 16);
      const rest = Buffer.concat([out.subarray(0, off + 8), Buffer.from([cut, 0, 0, 0]), out.subarray(off + 12, off + 16 + cut), out.subarray(next)]);
      return breakRest(rest, off + 16 + cut, stun);
    }
    off = next;
  }
  return out;
}

/** breakCall's walk resumed after the cut packet (only STUN requests are left to break). */
function breakRest(out: Buffer, from: number, seen: number): Buffer {
  let stun = seen;
  for (let off = from; off + 16 <= out.length;) {
    const incl = out.readUInt32LE(off + 8);
    const p = off + 16 + 14 + 20 + 8;
    const next = off + 16 + incl;
    if (p + 20 <= next && out.readUInt16BE(off + 16 + 14 + 20) === WEBRTC_PORTS.client && out[p] === 0 && out[p + 1] === 1) {
      stun++;
      if (stun === 2) out.writeUInt16BE(out.readUInt16BE(p + 2) + 4, p + 2);
      if (stun === 3) out.writeUInt16BE(0x0400, p + 20 + 2);
    }
    off = next;
  }
  return out;
}
