#!/usr/bin/python3
"""Tap realities, second set: what lab/gen-field.py leaves out, each case one small capture.

- packets after a connection's record is out: a SPAN duplicate of the final ACK, a late RST, a
  FIN retransmitted after the close, within and past the close delay, after a clean close and
  after a reset;
- overlapping IPv4/IPv6 fragments with other boundaries than the first copy (same bytes, and
  bytes that differ), beside a good datagram;
- the Kuznetsov (modified) pcap record header (magic a1b2cd34), snoop files (RFC 1761), L2TPv3 over IP (protocol 115)
  and over UDP 1701, a QUIC Initial inside VXLAN and GRE;
- STARTTLS and FTP AUTH TLS picked up mid-capture, a ClientHello over many TLS records and TCP
  segments delivered out of order, a capture starting inside a TLS record, VLAN + MPLS + PPPoE
  stacked, Linux cooked v2 around a VXLAN tunnel, an IPv6 jumbogram behind hop-by-hop options;
- what switches and redirectors add on a SPAN port: Cisco MetaData (SGT), VN-Tag, 802.1BR E-Tag,
  802.1ah provider backbone bridging, VXLAN-GPE (with NSH), WCCP's GRE redirection, VXLAN on
  Linux's port 8472 (flannel), MPLS Ethernet pseudowires without a control word, GRE-in-UDP and
  MPLS-in-UDP; every frame
  mirrored twice; each direction on its own VLAN; 802.3 frames with LLC/SNAP;
- a pcapng with the blocks Wireshark's tools write besides packets (names, a TLS key log, packet
  options, a custom block, interface statistics).

Packets are scapy's (independent of the sensor's decoder); file formats are written byte by
byte. test/field-edges.test.ts runs this into a temp dir and holds the sensor to tshark and to
the expectations this writes next to the captures (expect.json: the JA4 each QUIC case's
ClientHello must give, computed here from the hello's own lists).

usage: gen-field-edges.py OUTDIR [CASE...] | --list
"""
import hashlib
import importlib.util
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives import hmac

_spec = importlib.util.spec_from_file_location('gen_field', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'gen-field.py'))
gf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gf)

from scapy.layers.inet import IP, TCP, UDP, fragment  # noqa: E402
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, Jumbo, PadN  # noqa: E402
from scapy.layers.l2 import LLC, SNAP, Dot1Q, Ether, GRE  # noqa: E402
from scapy.layers.ppp import PPP, PPPoE  # noqa: E402
from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.packet import Raw  # noqa: E402

Conn, records, client_hello, server_hello, rnd, sni = gf.Conn, gf.records, gf.client_hello, gf.server_hello, gf.rnd, gf.sni
plain, frames, T0 = gf.plain, gf.frames, gf.T0
u16, vec8, vec16, ext = gf.u16, gf.vec8, gf.vec16, gf.ext

EXPECT = {}


# ---- timed captures: (seconds after T0, frame) pairs

def pcap_timed(items, linktype=1, magic=0xa1b2c3d4, big=False, kuznetsov=False):
    e = '>' if big else '<'
    out = struct.pack(e + 'IHHiIII', magic, 2, 4, 0, 0, 262144, linktype)
    for t, f in items:
        us = round((T0 + t) * 10**6)
        out += struct.pack(e + 'IIII', us // 10**6, us % 10**6, len(f), len(f))
        if kuznetsov:
            # ifindex, protocol (an Ethernet type), packet type (0 to us, 4 outgoing), pad
            out += struct.pack(e + 'iHBB', 2, 0x0800, 0, 0)
        out += f
    return out


def snoop_file(items, datalink=4):
    """RFC 1761 snoop: "snoop\\0\\0\\0", version 2, the data link; records of original, included and
    record lengths, cumulative drops, seconds, microseconds, then the data padded to 4 bytes."""
    out = b'snoop\x00\x00\x00' + struct.pack('>II', 2, datalink)
    for t, f in items:
        us = round((T0 + t) * 10**6)
        pad = -len(f) % 4
        out += struct.pack('>IIIIII', len(f), len(f), 24 + len(f) + pad, 0, us // 10**6, us % 10**6) + f + b'\x00' * pad
    return out


def stamped(pkts, fn=plain, t0=0.0, step=0.001):
    return [(t0 + i * step, fn(d, p)) for i, (d, p) in enumerate(pkts)]


def tls_pkts(name, **kw):
    return gf.tls_conn(sni(name), **kw)


# ---- packets after a connection's record is out

def late_packets(kind):
    """A TLS connection closed cleanly (or reset), then what a tap still sees of it."""
    c = Conn(cport=50321)
    c.handshake()
    c.send('c', records(22, client_hello(sni('late-' + kind))))
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(700)))
    c.seg('c', 'A')
    if kind == 'rst-again':
        c.seg('s', 'RA')
        body = stamped(c.pkts)
        t = body[-1][0]
        # the server's stack answers the client's data still in flight with more resets
        r = c.pkts[-1][1]
        later = [(t + 1.0, plain('s', r)), (t + 8.0, plain('s', r))]
        return body + later
    c.close()
    body = stamped(c.pkts)
    t = body[-1][0]
    fin_s = [p for d, p in c.pkts if d == 's' and p[TCP].flags.F][-1]
    last_ack = c.pkts[-1][1]
    rst = IP(src=gf.C4, dst=gf.S4, ttl=64) / TCP(sport=c.cport, dport=c.sport, flags='R', seq=c.seq['c'])
    if kind == 'dup-ack':
        # a SPAN port copying the same frame twice (both directions mirrored to one port)
        return body + [(t + 0.00002, plain('c', last_ack))]
    if kind == 'fin-retrans':
        # the final ACK was lost past the tap: the server sends its FIN again, the client ACKs again
        return body + [(t + 0.3, plain('s', fin_s)), (t + 0.3001, plain('c', last_ack)),
                       (t + 0.9, plain('s', fin_s)), (t + 0.9001, plain('c', last_ack))]
    if kind == 'rst-after':
        return body + [(t + 1.5, plain('c', rst))]
    if kind == 'past-delay':
        # past the close delay: the FIN again at 7 s (RTO backoff), a RST at 12 s
        return body + [(t + 7.0, plain('s', fin_s)), (t + 7.0001, plain('c', last_ack)), (t + 12.0, plain('c', rst))]
    raise ValueError(kind)


def late_high_ports():
    """Both ends on high ports (the server on 55000, the client on 50321): a late RST from the
    server past the close delay. Port order names the wrong client; the closed connection does not."""
    c = Conn(cport=50321, sport=55000)
    c.handshake()
    c.send('c', b'hello over a high port\n')
    c.send('s', b'hi\n')
    c.close()
    body = stamped(c.pkts)
    t = body[-1][0]
    rst = IP(src=gf.S4, dst=gf.C4, ttl=64) / TCP(sport=55000, dport=50321, flags='R', seq=c.seq['s'])
    return body + [(t + 8.0, plain('s', rst))]


# ---- overlapping fragments

def overlap4(conflict):
    """A ClientHello datagram (1.5 KB) in 600-byte fragments, and a copy fragmented at 400 bytes
    (another path's MTU) whose first two pieces overlap the first copy's before it is whole. With
    `conflict` the copy's first piece names another server (same length): which name the record
    shows says which overlap policy ran. A second connection's fragmented hello (no overlap) is
    interleaved: it must come out whole whatever happens to the first."""
    name = sni('overlap4' + ('x' if conflict else ''))
    hello = records(22, client_hello(name, groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    good_hello = records(22, client_hello(sni('overlap4-good'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    a = gf.tls_conn(name, hello=hello, mss=9000)
    b = gf.tls_conn(sni('overlap4-good'), hello=good_hello, mss=9000, cport=50777)
    out = []
    for (da, pa), (db, pb) in zip(a.pkts, b.pkts):
        if len(pa) > 1400:
            first = gf.frag4_at(pa, [600, 1200])
            second = gf.frag4_at(pa, [400, 800, 1200])
            if conflict:
                second[0][Raw].load = second[0][Raw].load.replace(name.encode(), name.upper().encode())
            # the first copy's first and last pieces, the copy's 0-400 and 400-800 (each overlapping
            # what is held), the first copy's middle piece completes the datagram
            out += [(da, first[0]), (da, first[2]), (da, second[0]), (da, second[1]), (da, first[1])]
            out += [(db, f) for f in gf.frag4_at(pb, [800])][::-1]
        else:
            out += [(da, pa), (db, pb)]
    return frames(out, plain)


def overlap6(conflict):
    """The same over IPv6: 640-byte fragments, and a piece of 560-1120 sent between them (with
    `conflict`, a piece at 0-560 naming another server comes after the first)."""
    name = sni('overlap6' + ('x' if conflict else ''))
    hello = records(22, client_hello(name, groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    c = gf.tls_conn(name, v6=True, hello=hello, mss=9000)
    out = []
    for d, p in c.pkts:
        if len(p) > 1400:
            l4 = bytes(p[IPv6].payload)

            def piece(a, b, data=None):
                return IPv6(src=p[IPv6].src, dst=p[IPv6].dst, nh=44) / IPv6ExtHdrFragment(nh=6, offset=a // 8, m=int(b < len(l4)), id=0xfeed) / Raw(data if data is not None else l4[a:b])
            out += [(d, piece(0, 640))]
            if conflict:
                out += [(d, piece(0, 560, l4[:560].replace(name.encode(), name.upper().encode())))]
            out += [(d, piece(560, 1120)), (d, piece(640, 1280)), (d, piece(1280, len(l4)))]
        else:
            out.append((d, p))
    return frames(out, plain)


# ---- formats and tunnels

def l2tpv3_ip(cookie):
    def fn(d, p):
        """L2TPv3 over IP (RFC 3931 §4.1.1.2): session id, the cookie if any, then the Ethernet
        pseudowire (RFC 4719); no L2-specific sublayer (Linux `ip l2tp` defaults, cookie aside)."""
        o = gf.outer_ip(d)
        o.proto = 115
        return bytes(gf.eth(d, o / Raw(struct.pack('!I', 0x0000abcd) + cookie + bytes(gf.eth(d, p)))))
    return fn


def l2tpv3_udp(d, p, n=[0]):
    """L2TPv3 over UDP 1701 (RFC 3931 §4.1.2.1): T=0, version 3, reserved, session id; no cookie,
    the default L2-specific sublayer (S bit, sequence number) before the frame."""
    n[0] += 1
    hdr = struct.pack('!HHI', 0x0003, 0, 0x00001234) + struct.pack('!I', 0x40000000 | n[0])
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=1701, dport=1701) / Raw(hdr + bytes(gf.eth(d, p)))))


def kuznetsov():
    return pcap_timed(stamped(tls_pkts('kuznetsov').pkts + gf.dns_exchange()), magic=0xa1b2cd34, kuznetsov=True)


def kuznetsov_be():
    return pcap_timed(stamped(tls_pkts('kuznetsovbe').pkts), magic=0xa1b2cd34, big=True, kuznetsov=True)


# ---- QUIC Initial (RFC 9000 §17.2.2, RFC 9001 §5): sealed here with the version 1 initial keys

QUIC_V1_SALT = bytes.fromhex('38762cf7f55934b34d179ae6a4c80cadccbb7f0a')
QUIC_V2_SALT = bytes.fromhex('0dede3def700a6db819381be6e269dcbf9bd2ed9')  # RFC 9369 §3.3.1


def hkdf_extract(salt, ikm):
    h = hmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def expand_label(secret, label, length):
    full = b'tls13 ' + label
    info = struct.pack('!H', length) + bytes([len(full)]) + full + b'\x00'
    return HKDFExpand(hashes.SHA256(), length, info).derive(secret)


def quic_client_hello(name):
    """A TLS 1.3 ClientHello as QUIC clients send it: ALPN h3, transport parameters (0x39)."""
    tp = b''.join(bytes([t]) + vec8(v) for t, v in ((0x04, b'\x80\x10\x00\x00'), (0x08, b'\x40\x64'), (0x0f, b'\x01\x02\x03\x04')))
    exts = [
        ext(0x0000, vec16(b'\x00' + vec16(name.encode()))),
        ext(0x000a, vec16(u16(0x001d) + u16(0x0017))),
        ext(0x000d, vec16(b''.join(u16(a) for a in (0x0403, 0x0804, 0x0401)))),
        ext(0x0010, vec16(vec8(b'h3'))),
        ext(0x002b, vec8(u16(0x0304))),
        ext(0x0033, vec16(u16(0x001d) + vec16(rnd(32)))),
        ext(0x002d, vec8(b'\x01')),
        ext(0x0039, tp),
    ]
    suites = (0x1301, 0x1302, 0x1303)
    body = u16(0x0303) + rnd(32) + vec8(b'') + vec16(b''.join(u16(c) for c in suites)) + vec8(b'\x00') + vec16(b''.join(exts))
    hello = b'\x01' + struct.pack('!I', len(body))[1:] + body
    # JA4 (FoxIO's spec): q, version 13, d (an SNI), counts, ALPN first and last character; then
    # the sorted cipher list and the sorted extensions (SNI and ALPN left out) with the signature
    # algorithms, each hashed to 12 hex digits.
    types = [0x0000, 0x000a, 0x000d, 0x0010, 0x002b, 0x0033, 0x002d, 0x0039]
    a = 'q13d%02d%02d%s' % (len(suites), len(types), 'h3')
    b = hashlib.sha256(','.join('%04x' % c for c in sorted(suites)).encode()).hexdigest()[:12]
    rest = ','.join('%04x' % t for t in sorted(t for t in types if t not in (0x0000, 0x0010)))
    c = hashlib.sha256((rest + '_' + '0403,0804,0401').encode()).hexdigest()[:12]
    return hello, f'{a}_{b}_{c}'


def quic_initial(name, v2=False):
    """A client Initial of QUIC version 1, or version 2 (RFC 9369: its own salt, labels, version
    number and Initial type bits 01)."""
    hello, ja4 = quic_client_hello(name)
    dcid, scid, pn = rnd(8), rnd(8), 0
    secret = expand_label(hkdf_extract(QUIC_V2_SALT if v2 else QUIC_V1_SALT, dcid), b'client in', 32)
    pre = b'quicv2 ' if v2 else b'quic '
    key, iv, hp = expand_label(secret, pre + b'key', 16), expand_label(secret, pre + b'iv', 12), expand_label(secret, pre + b'hp', 16)
    frames_ = b'\x06\x00' + bytes([0x40 | (len(hello) >> 8), len(hello) & 0xff]) + hello
    pn_len = 2
    payload_len = 1200 - (7 + len(dcid) + len(scid) + 1 + 2 + pn_len) - 16
    frames_ += b'\x00' * (payload_len - len(frames_))  # PADDING frames to a 1200-byte datagram
    length = pn_len + len(frames_) + 16
    header = bytes([(0xd0 if v2 else 0xc0) | (pn_len - 1)]) + struct.pack('!I', 0x6b3343cf if v2 else 1) + vec8(dcid) + vec8(scid) + b'\x00' + bytes([0x40 | (length >> 8), length & 0xff]) + struct.pack('!H', pn)
    nonce = iv[:-4] + bytes(a ^ b for a, b in zip(iv[-4:], struct.pack('!I', pn)))
    sealed = AESGCM(key).encrypt(nonce, frames_, header)
    pn_off = len(header) - pn_len
    sample = sealed[4 - pn_len:4 - pn_len + 16]
    enc = Cipher(algorithms.AES(hp), modes.ECB()).encryptor()
    mask = enc.update(sample) + enc.finalize()
    h = bytearray(header)
    h[0] ^= mask[0] & 0x0f
    for i in range(pn_len):
        h[pn_off + i] ^= mask[1 + i]
    return bytes(h) + sealed, ja4


def quic_in(tunnel, name, v2=False):
    """A QUIC client's Initial datagram and a server datagram back, inside a tunnel."""
    init, ja4 = quic_initial(sni(name), v2)
    EXPECT[name] = {'ja4': ja4, 'sni': sni(name)}
    q = IP(src=gf.C4, dst=gf.S4, ttl=64, id=1) / UDP(sport=51000, dport=443) / Raw(init)
    # the server's answer as a 1-RTT (short header) packet: opaque without the handshake's keys
    r = IP(src=gf.S4, dst=gf.C4, ttl=64, id=2) / UDP(sport=443, dport=51000) / Raw(b'\x41' + rnd(8) + rnd(240))
    return pcap_timed(stamped([('c', q), ('s', r)], tunnel))


# ---- STARTTLS, AUTH TLS and TLS picked up mid-capture

def upgrade_dialogue(port, lines, name):
    """A clear-text dialogue that switches to TLS (SMTP STARTTLS, IMAP STARTTLS, FTP AUTH TLS),
    the tap starting `skip` packets in, after the handshake and the greeting."""
    c = Conn(sport=port, cport=50600 + port % 100)
    c.handshake()
    for d, data in lines:
        c.send(d, data)
    c.send('c', records(22, client_hello(sni(name))))
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(600)))
    c.seg('c', 'A')
    c.send('c', records(23, rnd(90)))
    c.close()
    return c


SMTP = [('s', b'220 mx.field.example.test ESMTP\r\n'), ('c', b'EHLO client.field.example.test\r\n'),
        ('s', b'250-mx.field.example.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n'),
        ('c', b'STARTTLS\r\n'), ('s', b'220 2.0.0 Ready to start TLS\r\n')]
IMAP = [('s', b'* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n'), ('c', b'a1 CAPABILITY\r\n'),
        ('s', b'* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na1 OK done\r\n'),
        ('c', b'a2 STARTTLS\r\n'), ('s', b'a2 OK Begin TLS negotiation now\r\n')]
FTP = [('s', b'220 FTP server ready\r\n'), ('c', b'AUTH TLS\r\n'), ('s', b'234 AUTH TLS successful\r\n')]


def upgrade_mid(port, lines, name, skip):
    c = upgrade_dialogue(port, lines, name)
    return frames(c.pkts[skip:], plain)


def mid_record():
    """The capture starts inside a TLS application-data record: the tap's first server packet is
    the middle of a 16 KB record, then more records each way and the close."""
    c = Conn(cport=50888)
    c.handshake()
    c.send('c', records(22, client_hello(sni('midrecord'))))
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(600)))
    c.seg('c', 'A')
    start = len(c.pkts)
    c.send('s', records(23, rnd(16000)) + records(23, rnd(3000)), 1400)
    c.send('c', records(23, rnd(200)))
    c.close()
    return frames(c.pkts[start + 3:], plain)


def mid_finished():
    """The capture starts at each side's encrypted Finished (a handshake record whose first
    ciphertext byte is 01 or 02, a hello's type), then application data and the close."""
    c = Conn(cport=50890)
    c.handshake()
    c.send('c', records(22, client_hello(sni('midfinished'))))
    c.send('s', records(22, server_hello()))
    start = len(c.pkts)
    fin = lambda first: b'\x16\x03\x03' + vec16(bytes([first]) + rnd(39))  # noqa: E731
    c.send('s', fin(2) + records(23, rnd(700)))
    c.send('c', fin(1) + records(23, rnd(200)))
    c.send('s', records(23, rnd(300)))
    c.close()
    return frames(c.pkts[start:], plain)


def hello_records_ooo():
    """A ClientHello over 120-byte TLS records carried in 90-byte segments, delivered in a
    shuffled order (with one segment duplicated)."""
    c = Conn(cport=50999)
    c.handshake()
    n = len(c.pkts)
    hello = records(22, client_hello(sni('recordsooo'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))), max_frag=120)
    c.send('c', hello, 90)
    segs = c.pkts[n:]
    order = list(range(len(segs)))
    gf.RNG.shuffle(order)
    c.pkts[n:] = [segs[i] for i in order] + [segs[order[0]]]
    c.send('s', records(22, server_hello()) + records(23, rnd(300)))
    c.seg('c', 'A')
    c.close()
    return frames(c.pkts, plain)


def vlan_mpls_pppoe(d, p):
    """A carrier stack: VLAN, two MPLS labels, then an Ethernet pseudowire carrying PPPoE."""
    inner = Ether(src=gf.MAC_C, dst=gf.MAC_S) / PPPoE(code=0, sessionid=0x2222) / PPP(proto=0x0021) / p
    return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S) / Dot1Q(vlan=300, type=0x8847) / MPLS(label=16, s=0) / MPLS(label=17, s=1) / Raw(b'\x00\x00\x00\x00' + bytes(inner)))


def sll2_vxlan(d, p):
    """Linux cooked v2 (tcpdump -i any) of a VXLAN underlay."""
    inner = gf.outer_ip(d) / UDP(sport=49152, dport=4789) / VXLAN(vni=99, flags=0x08) / gf.eth(d, p)
    return struct.pack('!HHIHBB', 0x0800, 0, 5, 1, 0 if d == 's' else 4, 6) + b'\x02\x00\x00\x00\x00\x01\x00\x00' + bytes(inner)


def jumbo_hbh():
    """An IPv6 jumbogram (RFC 2675: payload length 0, the jumbo option in hop-by-hop) carrying the
    server's 70 KB flight in one packet (a GRO host capture), then the rest of the connection."""
    c = Conn(v6=True)
    c.handshake()
    c.send('c', records(22, client_hello(sni('jumbo'))))
    body = records(22, server_hello()) + records(20, b'\x01') + b''.join(records(23, rnd(16000)) for _ in range(4)) + records(23, rnd(6000))
    big = IPv6(src=gf.S6, dst=gf.C6, plen=0, nh=0) / IPv6ExtHdrHopByHop(nh=6, options=[Jumbo(jumboplen=8 + 32 + len(body))]) / TCP(sport=443, dport=c.cport, flags='PA', seq=c.seq['s'], ack=c.seq['c'], options=[('NOP', None), ('NOP', None), ('Timestamp', (1, 1))]) / Raw(body)
    raw = bytearray(bytes(big))
    raw[4:6] = b'\x00\x00'
    c.seq['s'] += len(body)
    c.pkts.append(('s', None))
    c.seg('c', 'A')
    c.close()
    out = []
    for d, p in c.pkts:
        out.append(bytes(Ether(src=gf.MAC_S, dst=gf.MAC_C, type=0x86dd)) + bytes(raw) if p is None else plain(d, p))
    return out


def cisco_md(d, p):
    """Cisco MetaData (TrustSec SPAN, ethertype 8909): version, length, the SGT option, the tag, then the ethertype."""
    return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S, type=0x8909)) + bytes([1, 1]) + u16(0x0001) + u16(17) + u16(0x0800 if IP in p else 0x86dd) + bytes(p)


def vntag(d, p):
    """Cisco VN-Tag (ethertype 8926, Nexus fabric extenders): direction, pointer, vifs, then the ethertype."""
    return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S, type=0x8926)) + struct.pack('!I', (1 << 31) | (0x12 << 16) | 0x34) + u16(0x8100) + u16(50) + u16(0x0800 if IP in p else 0x86dd) + bytes(p)


def etag(d, p):
    """IEEE 802.1BR E-Tag (ethertype 893f, port extenders): 6 bytes of tag, then the ethertype."""
    return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S, type=0x893f)) + struct.pack('!HHH', 0x2000, 0x0123, 0) + u16(0x0800 if IP in p else 0x86dd) + bytes(p)


def pbb(d, p):
    """Provider backbone bridging (802.1ah): B-tag, I-tag (I-SID), the customer's addresses and frame."""
    return bytes(Ether(src='02:00:00:00:0b:01', dst='02:00:00:00:0b:02', type=0x88a8)) + u16(7) + u16(0x88e7) + struct.pack('!I', 0x00012345) + bytes(gf.eth(d, p))


def vxlan_gpe(d, p):
    """VXLAN-GPE (UDP 4790): flags with P set, next protocol IPv4 (1) or IPv6 (2): no inner Ethernet."""
    hdr = bytes([0x0c, 0, 0, 1 if IP in p else 2]) + struct.pack('!I', 4242 << 8)
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=50000, dport=4790) / Raw(hdr + bytes(p))))


def vxlan_gpe_nsh(d, p):
    """VXLAN-GPE carrying NSH (next protocol 4; RFC 8300: MD type 2, no context headers, 2 words),
    which carries Ethernet (next protocol 3)."""
    hdr = bytes([0x0c, 0, 0, 4]) + struct.pack('!I', 4242 << 8)
    nsh = bytes([0x0f, 0xc2, 0x02, 0x03]) + struct.pack('!I', (77 << 8) | 255)
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=50000, dport=4790) / Raw(hdr + nsh + bytes(gf.eth(d, p)))))


def wccp(d, p):
    """WCCPv2 GRE redirection (GRE protocol 883e): a 4-byte redirect header, then the IPv4 packet."""
    o = gf.outer_ip(d)
    o.proto = 47
    return bytes(gf.eth(d, o / Raw(u16(0) + u16(0x883e) + struct.pack('!I', 0x00050000) + bytes(p))))


def span_dup_all():
    """A SPAN session mirroring both the ingress and the egress port: every frame twice, 10 µs apart."""
    out = []
    for t, f in stamped(tls_pkts('spandup').pkts + gf.dns_exchange()):
        out += [(t, f), (t + 0.00001, f)]
    return out


def vlan_asym(d, p):
    """Router on a stick: the client's frames tagged VLAN 100, the server's VLAN 200."""
    return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S) / Dot1Q(vlan=100 if d == 'c' else 200) / p)


def llc_snap(d, p):
    """IEEE 802.3 with a length instead of an ethertype, then LLC/SNAP naming IP (RFC 1042)."""
    body = bytes(LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(OUI=0, code=0x0800 if IP in p else 0x86dd) / p)
    f = bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S, type=len(body))) + body
    return f + b'\x00' * max(0, 60 - len(f))


def pcapng_blocks():
    """A pcapng as Wireshark and its tools leave it: a name resolution block before the interface,
    a decryption secrets block (a TLS key log), packets with options (flags, a hash, a comment),
    a custom block, interface statistics at the end."""
    def block(t, body):
        body += b'\x00' * (-len(body) % 4)
        return struct.pack('<II', t, len(body) + 12) + body + struct.pack('<I', len(body) + 12)

    def opt(code, val):
        return struct.pack('<HH', code, len(val)) + val + b'\x00' * (-len(val) % 4)
    out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1) + opt(3, b'field') + opt(0, b''))
    nrb = struct.pack('<HH', 1, 4 + 16) + bytes([198, 51, 100, 20]) + b'srv.example.tes\x00' + struct.pack('<HH', 0, 0)
    out += block(4, nrb)
    out += block(1, struct.pack('<HHI', 1, 0, 262144) + opt(2, b'eth0') + opt(9, bytes([6])) + opt(0, b''))
    keylog = b'CLIENT_RANDOM ' + b'00' * 32 + b' ' + b'11' * 48 + b'\n'
    out += block(0x0A, struct.pack('<II', 0x544c534b, len(keylog)) + keylog)
    for i, (t, f) in enumerate(stamped(tls_pkts('ngblocks').pkts + gf.dns_exchange())):
        us = round((T0 + t) * 10**6)
        opts = opt(2, struct.pack('<I', 1 if i % 2 == 0 else 2)) + opt(3, b'\x02' + hashlib.md5(f).digest()[:4]) + opt(1, b'frame %d' % i) + opt(0, b'')
        out += block(6, struct.pack('<IIIII', 0, us >> 32, us & 0xffffffff, len(f), len(f)) + f + b'\x00' * (-len(f) % 4) + opts)
        if i == 3:
            out += block(0x00000BAD, struct.pack('<I', 32473) + b'a vendor block')
    out += block(5, struct.pack('<III', 0, 0, 0) + opt(4, struct.pack('<Q', 13)) + opt(0, b''))
    return out


def vxlan_8472(d, p):
    """VXLAN on the Linux kernel's own port 8472 (flannel's Kubernetes overlay)."""
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=40123 + (d == 's'), dport=8472) / VXLAN(vni=1, flags=0x08) / gf.eth(d, p)))


def mpls_pw_nocw(mac):
    def fn(d, p):
        """An Ethernet pseudowire without the control word: the frame right after the bottom label
        (its first byte a MAC address's: 0x00.. looks like a control word's nibble, 0xa2.. like none)."""
        inner = Ether(src=mac, dst=mac[:-1] + '9', type=0x0800 if IP in p else 0x86dd) / p
        return bytes(Ether(src=gf.MAC_C, dst=gf.MAC_S, type=0x8847) / MPLS(label=100, s=0) / MPLS(label=300, s=1) / Raw(bytes(inner)))
    return fn


def gre_udp(d, p):
    """GRE-in-UDP (RFC 8086, UDP 4754): a GRE header naming IPv4 or IPv6 after the UDP header."""
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=51515, dport=4754) / GRE(proto=0x0800 if IP in p else 0x86dd) / p))


def mpls_udp(d, p):
    """MPLS-in-UDP (RFC 7510, UDP 6635): one label, then the IP packet."""
    return bytes(gf.eth(d, gf.outer_ip(d) / UDP(sport=51616, dport=6635) / MPLS(label=4242, s=1, ttl=64) / p))


def with_gaps(fs, step=0.001):
    return [(i * step, f) for i, f in enumerate(fs)]


CASES = {
    'late-dup-ack': lambda: pcap_timed(late_packets('dup-ack')),
    'late-fin-retrans': lambda: pcap_timed(late_packets('fin-retrans')),
    'late-rst-after': lambda: pcap_timed(late_packets('rst-after')),
    'late-past-delay': lambda: pcap_timed(late_packets('past-delay')),
    'late-rst-again': lambda: pcap_timed(late_packets('rst-again')),
    'late-high-ports': lambda: pcap_timed(late_high_ports()),
    'overlap4-same': lambda: pcap_timed(with_gaps(overlap4(False))),
    'overlap4-conflict': lambda: pcap_timed(with_gaps(overlap4(True))),
    'overlap6-same': lambda: pcap_timed(with_gaps(overlap6(False))),
    'overlap6-conflict': lambda: pcap_timed(with_gaps(overlap6(True))),
    'kuznetsov': kuznetsov,
    'kuznetsov-be': kuznetsov_be,
    'l2tpv3-ip': lambda: pcap_timed(stamped(tls_pkts('l2tpv3ip').pkts + gf.dns_exchange(), l2tpv3_ip(b''))),
    'l2tpv3-ip-cookie': lambda: pcap_timed(stamped(tls_pkts('l2tpv3cookie').pkts + gf.dns_exchange(), l2tpv3_ip(b'\xc0\xff\xee\x01'))),
    'l2tpv3-udp': lambda: pcap_timed(stamped(tls_pkts('l2tpv3udp').pkts + gf.dns_exchange(), l2tpv3_udp)),
    'quic-vxlan': lambda: quic_in(gf.vxlan, 'quic-vxlan'),
    'quic-gre': lambda: quic_in(gf.gre_keyseq, 'quic-gre'),
    'quic-plain': lambda: quic_in(plain, 'quic-plain'),
    'quic-v2-geneve': lambda: quic_in(gf.geneve, 'quic-v2-geneve', v2=True),
    'smtp-starttls-mid': lambda: pcap_timed(with_gaps(upgrade_mid(25, SMTP, 'smtpmid', 5))),
    'imap-starttls-mid': lambda: pcap_timed(with_gaps(upgrade_mid(143, IMAP, 'imapmid', 5))),
    'ftp-authtls-mid': lambda: pcap_timed(with_gaps(upgrade_mid(21, FTP, 'ftpmid', 4))),
    'smtp-after-starttls': lambda: pcap_timed(with_gaps(upgrade_mid(587, SMTP, 'smtpafter', 3 + len(SMTP)))),
    'mid-record': lambda: pcap_timed(with_gaps(mid_record())),
    'mid-finished': lambda: pcap_timed(with_gaps(mid_finished())),
    'hello-records-ooo': lambda: pcap_timed(with_gaps(hello_records_ooo())),
    'vlan-mpls-pppoe': lambda: pcap_timed(stamped(tls_pkts('vlanmplspppoe').pkts + gf.dns_exchange(), vlan_mpls_pppoe)),
    'sll2-vxlan': lambda: pcap_timed(stamped(tls_pkts('sll2vxlan').pkts + gf.dns_exchange(), sll2_vxlan), linktype=276),
    'jumbo-hbh': lambda: pcap_timed(with_gaps(jumbo_hbh())),
    'cisco-metadata': lambda: pcap_timed(stamped(tls_pkts('ciscomd').pkts + gf.dns_exchange(), cisco_md)),
    'vntag': lambda: pcap_timed(stamped(tls_pkts('vntag').pkts + gf.dns_exchange(), vntag)),
    'etag': lambda: pcap_timed(stamped(tls_pkts('etag').pkts + gf.dns_exchange(), etag)),
    'pbb': lambda: pcap_timed(stamped(tls_pkts('pbb').pkts + gf.dns_exchange(), pbb)),
    'vxlan-gpe': lambda: pcap_timed(stamped(tls_pkts('vxlangpe').pkts + gf.dns_exchange(), vxlan_gpe)),
    'vxlan-gpe-v6': lambda: pcap_timed(stamped(tls_pkts('vxlangpe6', v6=True).pkts + gf.dns_exchange(True), vxlan_gpe)),
    'vxlan-gpe-nsh': lambda: pcap_timed(stamped(tls_pkts('vxlangpensh').pkts + gf.dns_exchange(), vxlan_gpe_nsh)),
    'wccp': lambda: pcap_timed(stamped(tls_pkts('wccp').pkts + gf.dns_exchange(), wccp)),
    'span-dup-all': lambda: pcap_timed(span_dup_all()),
    'vlan-asym': lambda: pcap_timed(stamped(tls_pkts('vlanasym').pkts + gf.dns_exchange(), vlan_asym)),
    'llc-snap': lambda: pcap_timed(stamped(tls_pkts('llcsnap').pkts + gf.dns_exchange(), llc_snap)),
    'pcapng-blocks': pcapng_blocks,
    'vxlan-8472': lambda: pcap_timed(stamped(tls_pkts('vxlan8472').pkts + gf.dns_exchange(), vxlan_8472)),
    'mpls-pw-nocw-00': lambda: pcap_timed(stamped(tls_pkts('pwnocw00').pkts + gf.dns_exchange(), mpls_pw_nocw('00:1b:21:00:00:01'))),
    'mpls-pw-nocw-a2': lambda: pcap_timed(stamped(tls_pkts('pwnocwa2').pkts + gf.dns_exchange(), mpls_pw_nocw('a2:1b:21:00:00:01'))),
    'gre-udp': lambda: pcap_timed(stamped(tls_pkts('greudp').pkts + gf.dns_exchange(), gre_udp)),
    'gre-udp-v6': lambda: pcap_timed(stamped(tls_pkts('greudp6', v6=True).pkts + gf.dns_exchange(True), gre_udp)),
    'mpls-udp': lambda: pcap_timed(stamped(tls_pkts('mplsudp').pkts + gf.dns_exchange(), mpls_udp)),
    'snoop': lambda: snoop_file(stamped(tls_pkts('snoop').pkts + gf.dns_exchange())),
    'snoop-v6': lambda: snoop_file(stamped(tls_pkts('snoop6', v6=True).pkts + gf.dns_exchange(True))),
}


def main():
    out = gf.write_cases(CASES, lambda name: '.pcapng' if name.startswith('pcapng') else '.snoop' if name.startswith('snoop') else '.pcap')
    if out is None:
        return
    with open(os.path.join(out, 'expect.json'), 'w') as f:
        json.dump(EXPECT, f, indent=1, sort_keys=True)


if __name__ == '__main__':
    main()
