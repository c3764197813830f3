"""WebRTC lab peer (lab/gen-webrtc.ts): the STUN and RTP halves of a WebRTC media flow, sent from
the UDP port the DTLS handshake (openssl s_client / s_server) uses, so all three share one 5-tuple
as in a browser call (RFC 7983).

  stun-server IP PORT                  answer Binding requests until a STUN "bye" indication
  stun-client LIP LPORT SIP SPORT N    N ICE connectivity checks (Binding requests with USERNAME,
                                       PRIORITY, ICE-CONTROLLING, USE-CANDIDATE on the last,
                                       MESSAGE-INTEGRITY, FINGERPRINT), then the bye indication
  media LIP LPORT RIP RPORT SSRC N     N RTP packets (Opus, PT 111, 20 ms apart; payload random as
                                       SRTP's would be) and an RTCP sender report every 10
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time
import zlib

COOKIE = 0x2112A442
PASSWORD = b"labicepassword0123456789"  # the ICE password both sides agreed on (lab value)
SOFTWARE = b"ndr-lab webrtc peer"


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def message(mtype, tid, attrs, integrity=True):
    body = b"".join(attrs)
    if integrity:
        # RFC 8489 §14.5: HMAC-SHA1 over the message up to the attribute, length counting it
        hdr = struct.pack("!HHI", mtype, len(body) + 24, COOKIE) + tid
        body += attr(0x0008, hmac.new(PASSWORD, hdr + body, hashlib.sha1).digest())
    # RFC 8489 §14.7: CRC-32 of the message up to the attribute, XOR 0x5354554e
    hdr = struct.pack("!HHI", mtype, len(body) + 8, COOKIE) + tid
    crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
    body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", mtype, len(body), COOKIE) + tid + body


def xor_address(ip, port):
    a = struct.unpack("!I", socket.inet_aton(ip))[0] ^ COOKIE
    return struct.pack("!BBHI", 0, 1, port ^ (COOKIE >> 16), a)


def stun_server(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        mtype, _, cookie = struct.unpack("!HHI", data[:8])
        tid = data[8:20]
        if cookie != COOKIE:
            continue
        if mtype == 0x0011:  # Binding indication: the lab's "bye"
            break
        if mtype == 0x0001:
            s.sendto(message(0x0101, tid, [attr(0x0020, xor_address(*peer)), attr(0x8022, SOFTWARE)]), peer)
    s.close()


def stun_client(lip, lport, sip, sport, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((lip, lport))
    s.settimeout(2)
    for i in range(n):
        tid = os.urandom(12)
        attrs = [attr(0x0006, b"srvU:cliU"), attr(0x0024, struct.pack("!I", 1853824767)),
                 attr(0x802A, os.urandom(8)), attr(0x8022, SOFTWARE)]
        if i == n - 1:
            attrs.append(attr(0x0025, b""))
        s.sendto(message(0x0001, tid, attrs), (sip, sport))
        s.recvfrom(2048)
        time.sleep(0.05)
    s.sendto(message(0x0011, os.urandom(12), [], integrity=False), (sip, sport))
    s.close()


def media(lip, lport, rip, rport, ssrc, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((lip, lport))
    seq = int.from_bytes(os.urandom(2), "big")
    ts = int.from_bytes(os.urandom(4), "big")
    for i in range(n):
        s.sendto(struct.pack("!BBHII", 0x80, 111 | (0x80 if i == 0 else 0), seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + os.urandom(60 + i % 40) + os.urandom(10), (rip, rport))
        seq += 1
        ts += 960
        if i % 10 == 9:
            # RTCP sender report (PT 200), then the SRTCP index and auth tag lengths of random bytes
            s.sendto(struct.pack("!BBHI", 0x80, 200, 6, ssrc) + os.urandom(20) + os.urandom(14), (rip, rport))
        time.sleep(0.02)
    s.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    a = sys.argv[2:]
    if mode == "stun-server":
        stun_server(a[0], int(a[1]))
    elif mode == "stun-client":
        stun_client(a[0], int(a[1]), a[2], int(a[3]), int(a[4]))
    elif mode == "media":
        media(a[0], int(a[1]), a[2], int(a[3]), int(a[4]), int(a[5]))
    else:
        sys.exit("unknown mode " + mode)
