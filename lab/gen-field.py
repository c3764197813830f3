#!/usr/bin/python3
"""Tap realities: small captures of one TLS connection (and a DNS exchange) as a real tap or
capture tool would hand them over: inside VLAN, QinQ, MPLS, PPPoE, GRE, ERSPAN, VXLAN, Geneve,
GTP-U and IP-in-IP headers; fragmented; behind IPv6 extension headers; with cooked, raw, null
and loopback link types; in nanosecond, big-endian and multi-interface pcapng files; cut by a
snaplen; with FCS and padding; with a ClientHello spread over segments and records, rewritten
retransmissions, no handshake, and a HelloRetryRequest.

Packets are built with scapy (an implementation independent of the sensor's decoder) and the
files are written here byte by byte, so the file-format cases are exactly what they say.
test/field-tshark.test.ts runs this into a temp dir and holds the sensor's flows to tshark's
conversations on every file.

usage: gen-field.py OUTDIR [CASE...] | --list
"""
import gzip
import os
import random
import struct
import sys

from scapy.config import conf

conf.verb = 0
from scapy.layers.inet import IP, TCP, UDP, IPOption_NOP, IPOption_Router_Alert, fragment  # noqa: E402
from scapy.layers.dot11 import Dot11, Dot11FCS, Dot11QoS, RadioTap  # noqa: E402
from scapy.layers.l2 import LLC, SNAP  # noqa: E402
from scapy.layers.inet6 import (  # noqa: E402
    IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop, IPv6ExtHdrSegmentRouting,
    PadN, fragment6,
)
from scapy.layers.l2 import CookedLinux, Dot1AD, Dot1Q, Ether, GRE, Loopback  # noqa: E402
from scapy.layers.ppp import PPP, PPPoE  # noqa: E402
from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402
from scapy.contrib.geneve import GENEVE  # noqa: E402
from scapy.contrib.gtp import GTP_U_Header, GTPPDUSessionContainer  # noqa: E402
from scapy.layers.dns import DNS, DNSQR, DNSRR  # noqa: E402
from scapy.packet import Raw  # noqa: E402

RNG = random.Random(14)
T0 = 1796000000  # 2026-11-30, whole seconds; packets 1 ms apart

C4, S4 = '192.0.2.10', '198.51.100.20'
C6, S6 = '2001:db8:1::10', '2001:db8:2::20'
OUT4 = ('203.0.113.1', '203.0.113.2')
OUT6 = ('2001:db8:ff::1', '2001:db8:ff::2')
MAC_C, MAC_S = '02:00:00:00:00:01', '02:00:00:00:00:02'
HRR_RANDOM = bytes.fromhex('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c')


def rnd(n):
    return bytes(RNG.getrandbits(8) for _ in range(n))


def u16(n):
    return struct.pack('!H', n)


def vec8(b):
    return bytes([len(b)]) + b


def vec16(b):
    return u16(len(b)) + b


def ext(t, body):
    return u16(t) + vec16(body)


def client_hello(sni, groups=(0x001d, 0x0017), shares=((0x001d, 32),), cookie=None):
    """A TLS 1.3 ClientHello handshake message (type 1 + length + body)."""
    exts = [
        ext(0x0000, vec16(b'\x00' + vec16(sni.encode()))),
        ext(0x000a, vec16(b''.join(u16(g) for g in groups))),
        ext(0x000b, vec8(b'\x00')),
        ext(0x000d, vec16(b''.join(u16(a) for a in (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501)))),
        ext(0x0010, vec16(vec8(b'h2') + vec8(b'http/1.1'))),
        ext(0x002b, vec8(u16(0x0304) + u16(0x0303))),
        ext(0x0033, vec16(b''.join(u16(g) + vec16(rnd(n)) for g, n in shares))),
        ext(0x002d, vec8(b'\x01')),
    ]
    if cookie is not None:
        exts.append(ext(0x002c, vec16(cookie)))
    suites = b''.join(u16(c) for c in (0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030))
    body = u16(0x0303) + rnd(32) + vec8(rnd(32)) + vec16(suites) + vec8(b'\x00') + vec16(b''.join(exts))
    return b'\x01' + struct.pack('!I', len(body))[1:] + body


def server_hello(random32=None, group=0x001d, cookie=None):
    exts = [ext(0x002b, u16(0x0304))]
    if random32 == HRR_RANDOM:
        exts.append(ext(0x0033, u16(group)))
        if cookie is not None:
            exts.append(ext(0x002c, vec16(cookie)))
    else:
        exts.append(ext(0x0033, u16(group) + vec16(rnd(32))))
    body = u16(0x0303) + (random32 or rnd(32)) + vec8(rnd(32)) + u16(0x1301) + b'\x00' + vec16(b''.join(exts))
    return b'\x02' + struct.pack('!I', len(body))[1:] + body


def records(ctype, msg, max_frag=16384):
    """msg in TLS records of at most max_frag bytes each."""
    out = b''
    for i in range(0, len(msg), max_frag):
        part = msg[i:i + max_frag]
        out += bytes([ctype]) + u16(0x0301 if ctype == 22 and i == 0 else 0x0303) + vec16(part)
    return out


class Conn:
    """One TCP connection's IP packets (client and server sides), seq/ack kept right."""

    def __init__(self, v6=False, cport=50123, sport=443, csrc=None, sdst=None, seq_c=1000, seq_s=5000):
        self.v6 = v6
        self.c = csrc or (C6 if v6 else C4)
        self.s = sdst or (S6 if v6 else S4)
        self.cport, self.sport = cport, sport
        self.seq = {'c': seq_c, 's': seq_s}
        self.pkts = []  # (direction, IP packet)

    def ip(self, d):
        src, dst = (self.c, self.s) if d == 'c' else (self.s, self.c)
        return IPv6(src=src, dst=dst, hlim=64) if self.v6 else IP(src=src, dst=dst, ttl=64, id=RNG.randrange(65536), flags='DF')

    def seg(self, d, flags, data=b'', seq=None, advance=True, tfo=None):
        o = 's' if d == 'c' else 'c'
        sp, dp = (self.cport, self.sport) if d == 'c' else (self.sport, self.cport)
        s = (self.seq[d] if seq is None else seq) & 0xffffffff
        # Linux's options: MSS, SACK permitted, timestamps, window scale on a SYN; timestamps after
        ts = (12345 + len(self.pkts), 9876 if 'A' in flags else 0)
        opts = [('MSS', 1460), ('SAckOK', b''), ('Timestamp', ts), ('NOP', None), ('WScale', 7)] if 'S' in flags else [('NOP', None), ('NOP', None), ('Timestamp', ts)]
        if tfo is not None:
            opts = opts + [('TFO', tfo)]
        p = self.ip(d) / TCP(sport=sp, dport=dp, flags=flags, seq=s, ack=self.seq[o] & 0xffffffff if 'A' in flags else 0, window=64240, options=opts)
        if data:
            p = p / Raw(data)
        self.pkts.append((d, p))
        if advance and seq is None:
            self.seq[d] += len(data) + (1 if ('S' in flags or 'F' in flags) else 0)
        return p

    def handshake(self):
        self.seg('c', 'S')
        self.seg('s', 'SA')
        self.seg('c', 'A')

    def send(self, d, data, mss=1400):
        for i in range(0, len(data), mss):
            self.seg(d, 'PA', data[i:i + mss])

    def close(self):
        self.seg('c', 'FA')
        self.seg('s', 'FA')
        self.seg('c', 'A')


def tls_conn(sni, v6=False, hello=None, mss=1400, midstream=False, **kw):
    """A whole TLS 1.3 exchange: handshake, ClientHello, ServerHello + CCS + encrypted data, close."""
    c = Conn(v6=v6, **kw)
    if not midstream:
        c.handshake()
    c.send('c', hello if hello is not None else records(22, client_hello(sni)), mss)
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(900)), mss)
    c.seg('c', 'A')
    c.send('c', records(20, b'\x01') + records(23, rnd(80)), mss)
    c.send('s', records(23, rnd(300)), mss)
    c.close()
    return c


def dns_exchange(v6=False):
    c, s = (C6, S6) if v6 else (C4, S4)
    L3 = IPv6 if v6 else IP
    q = L3(src=c, dst=s) / UDP(sport=53001, dport=53) / DNS(id=7, rd=1, qd=DNSQR(qname='field.example.test'))
    r = L3(src=s, dst=c) / UDP(sport=53, dport=53001) / DNS(id=7, qr=1, rd=1, ra=1, qd=DNSQR(qname='field.example.test'),
                                                          an=DNSRR(rrname='field.example.test', rdata=S4))
    return [('c', q), ('s', r)]


# ---- link layers and encapsulations: each maps (direction, IP packet) to a frame (bytes)

def eth(d, payload, mac=(MAC_C, MAC_S)):
    a, b = mac if d == 'c' else mac[::-1]
    return Ether(src=a, dst=b) / payload


def outer_ip(d, v6=False):
    a, b = OUT6 if v6 else OUT4
    if d != 'c':
        a, b = b, a
    return IPv6(src=a, dst=b) if v6 else IP(src=a, dst=b)


def plain(d, p):
    return bytes(eth(d, p))


def vlan(d, p):
    return bytes(Ether(src=MAC_C, dst=MAC_S) / Dot1Q(vlan=100, prio=3) / p)


def qinq_88a8(d, p):
    return bytes(Ether(src=MAC_C, dst=MAC_S, type=0x88a8) / Dot1AD(vlan=200, type=0x8100) / Dot1Q(vlan=100) / p)


def qinq_9100(d, p):
    # Older QinQ switches tag with 0x9100; scapy has no layer name for it, so the tag is built by hand.
    inner = bytes(Dot1Q(vlan=100) / p)
    return bytes(Ether(src=MAC_C, dst=MAC_S, type=0x9100)) + u16(300) + u16(0x8100) + inner


def mpls3(d, p):
    return bytes(Ether(src=MAC_C, dst=MAC_S, type=0x8847) / MPLS(label=1001, s=0, ttl=64) / MPLS(label=2002, s=0, ttl=64)
                 / MPLS(label=3003, s=1, ttl=64) / p)


def pppoe(d, p):
    proto = 0x0057 if p.haslayer(IPv6) and not p.haslayer(IP) else 0x0021
    return bytes(Ether(src=MAC_C, dst=MAC_S) / PPPoE(code=0, sessionid=0x1234) / PPP(proto=proto) / p)


def gre_keyseq(d, p, seq=[0]):
    seq[0] += 1
    return bytes(eth(d, outer_ip(d) / GRE(key_present=1, seqnum_present=1, key=0x5a5a, sequence_number=seq[0], proto=0x0800) / p))


def erspan2(d, p, seq=[0]):
    seq[0] += 1
    hdr = struct.pack('!HHI', (1 << 12) | 10, (0 << 13) | 77, 3)  # ver 1, vlan 10; session 77; index 3
    return bytes(eth(d, outer_ip(d) / GRE(seqnum_present=1, sequence_number=seq[0], proto=0x88be) / Raw(hdr + bytes(eth(d, p)))))


def erspan3(d, p, seq=[0]):
    seq[0] += 1
    # ver 2, vlan 10, session 77; timestamp; sgt 0, P 0, FT 0 (Ethernet), hw id 1, D 0, gra 1, O 0
    hdr = struct.pack('!HHIHH', (2 << 12) | 10, 77, 123456, 0, (1 << 4) | (1 << 1))
    return bytes(eth(d, outer_ip(d) / GRE(seqnum_present=1, sequence_number=seq[0], proto=0x22eb) / Raw(hdr + bytes(eth(d, p)))))


def vxlan(d, p):
    return bytes(eth(d, outer_ip(d) / UDP(sport=49152 + (d == 's'), dport=4789) / VXLAN(vni=4242, flags=0x08) / eth(d, p)))


def geneve(d, p):
    opt = struct.pack('!HBB', 0x0102, 0x80, 1) + b'\x00\x00\x00\x2a'  # class, type, length 1 word, data
    g = GENEVE(vni=777, proto=0x6558, optionlen=2) / Raw(opt + bytes(eth(d, p)))
    return bytes(eth(d, outer_ip(d) / UDP(sport=50000, dport=6081) / g))


def gtpu(d, p):
    g = GTP_U_Header(teid=0xa1b2c3, gtp_type=255, E=1, next_ex=0x85) / GTPPDUSessionContainer(type=1 if d == 'c' else 0, QFI=9, NextExtHdr=0) / p
    return bytes(eth(d, outer_ip(d) / UDP(sport=2152, dport=2152) / g))


def ipip(d, p):
    return bytes(eth(d, outer_ip(d) / p))


def six_in_four(d, p):
    return bytes(eth(d, outer_ip(d) / p))


def four_in_six(d, p):
    return bytes(eth(d, outer_ip(d, v6=True) / p))


def v6_ext(d, p):
    """Hop-by-hop, destination options, segment routing (type 4) and destination options again."""
    l4 = p[IPv6].payload
    q = (IPv6(src=p[IPv6].src, dst=p[IPv6].dst) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\x00' * 4)])
         / IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\x00' * 4)])
         / IPv6ExtHdrSegmentRouting(addresses=[p[IPv6].dst], segleft=0)
         / IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\x00' * 4)]) / l4)
    return bytes(eth(d, q))


def sll(d, p):
    proto = 0x86dd if p.haslayer(IPv6) and not p.haslayer(IP) else 0x0800
    return bytes(CookedLinux(pkttype=0 if d == 's' else 4, lladdrtype=1, lladdrlen=6, src=b'\x02\x00\x00\x00\x00\x01\x00\x00', proto=proto) / p)


def sll2(d, p):
    proto = 0x86dd if p.haslayer(IPv6) and not p.haslayer(IP) else 0x0800
    # protocol, reserved, ifindex, hatype, pkttype, addr len, addr (8)
    return struct.pack('!HHIHBB', proto, 0, 3, 1, 0 if d == 's' else 4, 6) + b'\x02\x00\x00\x00\x00\x01\x00\x00' + bytes(p)


def raw(d, p):
    return bytes(p)


def null_le(d, p):
    fam = 30 if p.haslayer(IPv6) and not p.haslayer(IP) else 2
    return struct.pack('<I', fam) + bytes(p)


def null_be(d, p):
    fam = 30 if p.haslayer(IPv6) and not p.haslayer(IP) else 2
    return struct.pack('>I', fam) + bytes(p)


def fcs(d, p):
    import zlib
    f = bytes(eth(d, p))
    if len(f) < 60:
        f += b'\x00' * (60 - len(f))
    return f + struct.pack('<I', zlib.crc32(f) & 0xffffffff)


def padded(d, p):
    f = bytes(eth(d, p))
    # switches pad short frames to 60 bytes; some pad with junk rather than zeros
    return f + b'\xaa' * max(0, 60 - len(f)) if len(f) < 60 else f


# ---- file writers

def pcap(frames, linktype, snaplen=65535, ns=False, big=False, cut=None):
    e = '>' if big else '<'
    out = struct.pack(e + 'IHHiIII', 0xa1b23c4d if ns else 0xa1b2c3d4, 2, 4, 0, 0, snaplen, linktype)
    for i, f in enumerate(frames):
        ts = T0 * 10**9 + i * 1_000_123
        sub = ts % 10**9 if ns else (ts % 10**9) // 1000
        cap = f[:cut] if cut is not None else f
        out += struct.pack(e + 'IIII', ts // 10**9, sub, len(cap), len(f)) + cap
    return out


def pcapng_multi(parts):
    """One section, one interface per (linktype, tsresol byte, frames) part, packets interleaved."""
    def block(t, body):
        body += b'\x00' * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack('<II', t, n) + body + struct.pack('<I', n)

    def opt(code, val):
        return struct.pack('<HH', code, len(val)) + val + b'\x00' * (-len(val) % 4)

    out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    for lt, res, _ in parts:
        opts = opt(2, b'if%d' % lt) + (opt(9, bytes([res])) if res is not None else b'') + opt(0, b'')
        out += block(1, struct.pack('<HHI', lt, 0, 65535) + opts)
    i = 0
    queue = [list(f) for _, _, f in parts]
    while any(queue):
        for ifc, q in enumerate(queue):
            if not q:
                continue
            f = q.pop(0)
            res = parts[ifc][1]
            units = 10**6 if res is None else (2 ** (res & 0x7f) if res & 0x80 else 10 ** res)
            ts = (T0 * 10**9 + i * 1_000_123) * units // 10**9
            out += block(6, struct.pack('<IIIII', ifc, ts >> 32, ts & 0xffffffff, len(f), len(f)) + f)
            i += 1
    return out


def frames(pkts, fn):
    return [fn(d, p) for d, p in pkts]


def sni(name):
    return f'{name}.field.example.test'


def both(name, fn, v6=False):
    """The TLS connection and the DNS exchange through one encapsulation."""
    return frames(tls_conn(sni(name), v6=v6).pkts + dns_exchange(v6), fn)


def frag4_hello():
    """ClientHello (2 KB: post-quantum sized key share) in IPv4 fragments sent last-first."""
    hello = records(22, client_hello(sni('frag4'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    c = tls_conn(sni('frag4'), hello=hello, mss=9000)
    out = []
    for d, p in c.pkts:
        if len(p) > 1400:
            fr = fragment(p, fragsize=600)
            out += [(d, f) for f in reversed(fr)]
        else:
            out.append((d, p))
    return frames(out, plain)


def frag6_hello():
    hello = records(22, client_hello(sni('frag6'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    c = tls_conn(sni('frag6'), v6=True, hello=hello, mss=9000)
    out = []
    for d, p in c.pkts:
        if len(p) > 1400:
            q = IPv6(src=p[IPv6].src, dst=p[IPv6].dst) / IPv6ExtHdrFragment(id=0xbeef) / p[IPv6].payload
            fr = fragment6(q, 640)
            out += [(d, fr[1]), (d, fr[0])] + [(d, f) for f in fr[2:]]
        else:
            out.append((d, p))
    return frames(out, plain)


def hello_many_segments():
    hello = records(22, client_hello(sni('segments'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    return frames(tls_conn(sni('segments'), hello=hello, mss=97).pkts, plain)


def hello_many_records():
    """ClientHello split over TLS records of 150 bytes, those records over 200-byte segments."""
    hello = records(22, client_hello(sni('records')), max_frag=150)
    return frames(tls_conn(sni('records'), hello=hello, mss=200).pkts, plain)


def retrans_overlap():
    """The ClientHello's segments retransmitted with different bytes, and overlapping."""
    c = Conn()
    c.handshake()
    hello = records(22, client_hello(sni('retrans')))
    base = c.seq['c']
    first, second = hello[:100], hello[100:]
    c.seg('c', 'PA', first)
    # a retransmission of the first segment with other bytes (first copy wins in most stacks)
    c.seg('c', 'PA', b'\x17\x03\x03' + rnd(97), seq=base)
    # an overlapping segment: 50 old bytes (different) and the next 60
    c.seg('c', 'PA', rnd(50) + second[:60], seq=base + 50)
    c.seq['c'] = base + 160
    c.send('c', second[60:])
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(400)))
    c.seg('c', 'A')
    c.close()
    return frames(c.pkts, plain)


def midstream():
    """A tap started after the handshake: no SYN, the ClientHello first, client on a high port."""
    return frames(tls_conn(sni('midstream'), midstream=True).pkts, plain)


def hrr():
    """TLS 1.3 HelloRetryRequest: ClientHello (x25519 only share), HRR asking for P-256, second ClientHello."""
    c = Conn()
    c.handshake()
    cookie = rnd(40)
    c.send('c', records(22, client_hello(sni('hrr'), groups=(0x001d, 0x0017))))
    c.send('s', records(22, server_hello(random32=HRR_RANDOM, group=0x0017, cookie=cookie)) + records(20, b'\x01'))
    c.send('c', records(20, b'\x01') + records(22, client_hello(sni('hrr'), groups=(0x001d, 0x0017), shares=((0x0017, 65),), cookie=cookie)))
    c.send('s', records(22, server_hello(group=0x0017)) + records(23, rnd(700)))
    c.seg('c', 'A')
    c.send('c', records(23, rnd(60)))
    c.close()
    return frames(c.pkts, plain)


def snaplen_pkts():
    return frames(tls_conn(sni('snaplen')).pkts + dns_exchange(), plain)


def v6_pkts(fn):
    return frames(tls_conn(sni(fn.__name__ + '6'), v6=True).pkts + dns_exchange(True), fn)


def asym(keep):
    """An asymmetric tap: only one direction of the connection (and of the DNS exchange) is seen."""
    pk = tls_conn(sni('asym' + keep)).pkts + dns_exchange()
    return frames([(d, p) for d, p in pk if d == keep], plain)


def tfo():
    """TCP Fast Open: the ClientHello rides in the SYN (with the server's cookie)."""
    c = Conn()
    hello = records(22, client_hello(sni('tfo')))
    c.seg('c', 'S', hello, tfo=b'\x11\x22\x33\x44\x55\x66\x77\x88')
    c.seg('s', 'SA')
    c.seg('c', 'A')
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(500)))
    c.seg('c', 'A')
    c.close()
    return frames(c.pkts, plain)


def ooo_segments():
    """The ClientHello's four segments arrive last-first (a multipath tap, a reordering switch)."""
    c = Conn()
    c.handshake()
    hello = records(22, client_hello(sni('ooo'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    n = len(c.pkts)
    c.send('c', hello, 400)
    c.pkts[n:] = c.pkts[n:][::-1]
    c.send('s', records(22, server_hello()) + records(23, rnd(300)))
    c.seg('c', 'A')
    c.close()
    return frames(c.pkts, plain)


def outer_frag(fn):
    """Tunnel packets over 1500 bytes, their outer IPv4 fragmented (the encapsulator's MTU)."""
    hello = records(22, client_hello(sni('outerfrag'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    c = tls_conn(sni('outerfrag'), hello=hello, mss=1448)
    out = []
    for d, p in c.pkts + dns_exchange():
        f = Ether(fn(d, p))
        o = f[IP]
        if len(o) > 1500:
            out += [bytes(Ether(src=f.src, dst=f.dst) / x) for x in fragment(o, fragsize=1480)]
        else:
            out.append(bytes(f))
    return out


def vxlan_vlan(d, p):
    return bytes(eth(d, outer_ip(d) / UDP(sport=49152, dport=4789) / VXLAN(vni=4243, flags=0x08) / Ether(src=MAC_C, dst=MAC_S) / Dot1Q(vlan=42) / p))


def mpls_pw(d, p):
    """MPLS (transport + PW label) carrying an Ethernet pseudowire with the RFC 4385 control word."""
    return bytes(Ether(src=MAC_C, dst=MAC_S, type=0x8847) / MPLS(label=100, s=0) / MPLS(label=200, s=1) / Raw(b'\x00\x00\x00\x00' + bytes(eth(d, p))))


def gtpu_seq(d, p, n=[0]):
    n[0] += 1
    return bytes(eth(d, outer_ip(d) / UDP(sport=2152, dport=2152) / GTP_U_Header(teid=0x1234, gtp_type=255, S=1, seq=n[0]) / p))


def gre_csum(d, p):
    return bytes(eth(d, outer_ip(d) / GRE(chksum_present=1, proto=0x0800) / p))


def pptp(d, p, n=[0]):
    """PPTP's enhanced GRE (version 1): call id, sequence number, then PPP with address/control."""
    n[0] += 1
    body = bytes(PPP(proto=0x0021) / p)
    gre = struct.pack('!HHHHI', 0x3001, 0x880b, len(body) + 2, 0x4000 + (d == 's'), n[0])
    o = outer_ip(d)
    o.proto = 47
    return bytes(eth(d, o / Raw(gre + b'\xff\x03' + body)))


def erspan1(d, p):
    return bytes(eth(d, outer_ip(d) / GRE(proto=0x88be) / eth(d, p)))


def ipv4_options(d, p):
    """IPv4 with options (router alert, a timestamp option): a 32-byte header."""
    if IP in p:
        p = p.copy()
        p[IP].options = [IPOption_Router_Alert(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP(), IPOption_NOP()]
        del p[IP].ihl
        del p[IP].len
        del p[IP].chksum
    return bytes(eth(d, p))


def ppp9(d, p):
    """LINKTYPE_PPP with HDLC-like framing (ff 03) on the client's packets, bare on the server's."""
    proto = 0x0057 if IPv6 in p and IP not in p else 0x0021
    return (b'\xff\x03' if d == 'c' else b'') + u16(proto) + bytes(p)


def chdlc(d, p):
    """Cisco HDLC (LINKTYPE_C_HDLC): address 0x0f, control 0, an Ethernet type."""
    return b'\x0f\x00' + u16(0x86dd if IPv6 in p and IP not in p else 0x0800) + bytes(p)


def nflog(d, p):
    """Linux NFLOG (tcpdump -i nflog:5): family, version, resource id, then TLVs in host order."""
    fam = 10 if IPv6 in p and IP not in p else 2
    raw_ip = bytes(p)
    hdr = struct.pack('<HH', 8, 1) + struct.pack('!HBB', 0x0800 if fam == 2 else 0x86dd, 3, 0)  # NFULA_PACKET_HDR
    prefix = b'field\x00'
    tlv_prefix = struct.pack('<HH', 4 + len(prefix), 10) + prefix + b'\x00' * (-len(prefix) % 4)  # NFULA_PREFIX
    payload = struct.pack('<HH', 4 + len(raw_ip), 9) + raw_ip + b'\x00' * (-len(raw_ip) % 4)  # NFULA_PAYLOAD
    return struct.pack('!BBH', fam, 0, 5) + hdr + tlv_prefix + payload


def dot11(d, p, fcs_=False):
    """An 802.11 QoS data frame (to the AP from the client, from the AP to it), LLC/SNAP, no crypto."""
    bssid = '02:00:00:00:00:aa'
    if d == 'c':
        h = dict(FCfield='to-DS', addr1=bssid, addr2=MAC_C, addr3=MAC_S)
    else:
        h = dict(FCfield='from-DS', addr1=MAC_C, addr2=bssid, addr3=MAC_S)
    L = Dot11FCS if fcs_ else Dot11
    return L(type=2, subtype=8, **h) / Dot11QoS(TID=5) / LLC(dsap=0xaa, ssap=0xaa, ctrl=3) / SNAP(OUI=0, code=0x86dd if IPv6 in p and IP not in p else 0x0800) / p


def wifi105(d, p):
    return bytes(dot11(d, p))


def radiotap(d, p):
    # the FCS flag set: every frame ends with the 802.11 FCS
    return bytes(RadioTap(present='Flags+Rate+Channel+dBm_AntSignal', Flags='FCS', Rate=2, ChannelFrequency=2437, ChannelFlags=0xa0, dBm_AntSignal=-40) / dot11(d, p, True))


def ppi(d, p):
    """PPI (LINKTYPE_PPI): version 0, flags 0, header length, the link type of what follows (105)."""
    field_ = struct.pack('<HH', 2, 20) + b'\x00' * 20  # an 802.11 common field, contents zero
    return struct.pack('<BBHI', 0, 0, 8 + len(field_), 105) + field_ + bytes(dot11(d, p))


def l2tp(d, p, n=[0]):
    """L2TPv2 data messages on UDP 1701 (LAC to LNS): the client's with a length field, the
    server's with sequence numbers and a 2-byte offset pad; then PPP with address/control."""
    n[0] += 1
    ppp = b'\xff\x03' + u16(0x0057 if IPv6 in p and IP not in p else 0x0021) + bytes(p)
    if d == 'c':
        hdr = struct.pack('!HHHH', 0x4002, 8 + len(ppp), 7, 9)
    else:
        hdr = struct.pack('!HHHHHH', 0x0a02, 7, 9, n[0], n[0], 2) + b'\x00\x00'
    return bytes(eth(d, outer_ip(d) / UDP(sport=1701, dport=1701) / Raw(hdr + ppp)))


def tzsp(d, p):
    """A remote sniffer's TZSP stream (UDP 37008): version 1, received, Ethernet; a signal tag, padding, end."""
    hdr = struct.pack('!BBH', 1, 0, 1) + b'\x0a\x01\xd8' + b'\x00' + b'\x01'
    return bytes(eth(d, outer_ip(d) / UDP(sport=40000, dport=37008) / Raw(hdr + bytes(eth(d, p)))))


def tzsp_wifi(d, p):
    hdr = struct.pack('!BBH', 1, 0, 18) + b'\x01'
    return bytes(eth(d, outer_ip(d) / UDP(sport=40000, dport=37008) / Raw(hdr + bytes(dot11(d, p)))))


def seq_wrap():
    """Sequence numbers wrap inside the ClientHello (client ISN just under 2^32)."""
    hello = records(22, client_hello(sni('wrap'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    return frames(tls_conn(sni('wrap'), hello=hello, mss=500, seq_c=0xfffffe00, seq_s=0xffffffff).pkts, plain)


def syn_reorder():
    """Two tap ports (one per direction) merged: the SYN-ACK is stamped before the SYN, the
    ClientHello before the handshake's last ACK."""
    pk = tls_conn(sni('reorder')).pkts
    pk[0], pk[1] = pk[1], pk[0]
    pk[2], pk[3] = pk[3], pk[2]
    return frames(pk, plain)


def proxied(port, opening):
    """TLS through a proxy: the client's opening exchange (HTTP CONNECT, SOCKS5) on the proxy's
    port, then the ClientHello on the same connection."""
    c = Conn(sport=port)
    c.handshake()
    for d, data in opening:
        c.send(d, data)
        c.seg('s' if d == 'c' else 'c', 'A')
    c.send('c', records(22, client_hello(sni('proxy%d' % port))))
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(600)))
    c.seg('c', 'A')
    c.send('c', records(23, rnd(100)))
    c.close()
    return frames(c.pkts, plain)


def http_connect(port):
    host = sni('proxy%d' % port)
    return proxied(port, [('c', f'CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nUser-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n'.encode()),
                          ('s', b'HTTP/1.1 200 Connection established\r\n\r\n')])


def socks5(port=1080):
    host = sni('proxy%d' % port).encode()
    return proxied(port, [('c', b'\x05\x01\x00'), ('s', b'\x05\x00'),
                          ('c', b'\x05\x01\x00\x03' + bytes([len(host)]) + host + u16(443)),
                          ('s', b'\x05\x00\x00\x01' + bytes([198, 51, 100, 20]) + u16(443))])


def frag4_at(p, cuts):
    """An IPv4 packet fragmented at the given payload offsets (multiples of 8)."""
    raw_l4 = bytes(p[IP].payload)
    edges = [0] + list(cuts) + [len(raw_l4)]
    out = []
    for a, b in zip(edges, edges[1:]):
        f = IP(src=p[IP].src, dst=p[IP].dst, id=p[IP].id, ttl=p[IP].ttl, proto=p[IP].proto, frag=a // 8,
               flags='MF' if b < len(raw_l4) else 0) / Raw(raw_l4[a:b])
        out.append(f)
    return out


def frag4_tiny():
    """The first fragment carries only 8 bytes of the TCP header (RFC 1858's tiny fragment); the
    rest of the header and the ClientHello follow in a second one, sent first."""
    c = tls_conn(sni('tiny'), mss=9000)
    out = []
    for d, p in c.pkts:
        if Raw in p and p[Raw].load[:1] == b'\x16' and d == 'c':
            first, rest = frag4_at(p, [8])
            out += [(d, rest), (d, first)]
        else:
            out.append((d, p))
    return frames(out, plain)


def frag6_hbh():
    """IPv6 hop-by-hop options before the fragment header (the unfragmentable part), fragments reversed."""
    hello = records(22, client_hello(sni('frag6hbh'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    c = tls_conn(sni('frag6hbh'), v6=True, hello=hello, mss=9000)
    out = []
    for d, p in c.pkts:
        if len(p) > 1400:
            q = (IPv6(src=p[IPv6].src, dst=p[IPv6].dst) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\x00' * 4)])
                 / IPv6ExtHdrFragment(id=0xcafe) / p[IPv6].payload)
            out += [(d, f) for f in reversed(fragment6(q, 700))]
        else:
            out.append((d, p))
    return frames(out, plain)


def midstream_cut_hello():
    """The tap starts inside a two-segment ClientHello: its first segment and the handshake are gone."""
    hello = records(22, client_hello(sni('cuthello'), groups=(0x11ec, 0x001d), shares=((0x11ec, 1216), (0x001d, 32))))
    pk = tls_conn(sni('cuthello'), hello=hello).pkts
    return frames(pk[4:], plain)


def pktap_of(inner, dlt):
    def fn(d, p):
        """macOS PKTAP (tcpdump -k): a 108-byte header in host order naming the interface, process and link type."""
        hdr = struct.pack('<III', 108, 1, dlt) + b'en0'.ljust(24, b'\x00') + struct.pack('<IIIIi', 0, 2, 0, 0, 4242) + b'curl'.ljust(17, b'\x00')
        hdr = hdr.ljust(108, b'\x00')
        return hdr + inner(d, p)
    return fn


def erf(d, p, n=[0]):
    """Endace ERF records (DAG capture cards): type ETH (2) from the client, the server's with an
    extension header (type bit 7) before the 2-byte pad and the frame."""
    n[0] += 1
    f = bytes(eth(d, p))
    ext = b'' if d == 'c' else b'\x03' + b'\x00' * 7
    rtype = 2 if d == 'c' else 0x82
    rlen = 16 + len(ext) + 2 + len(f)
    # the record's time, as the pcap writer below stamps frame n (libpcap's DAG reader copies it)
    ns = (n[0] - 1) * 1_000_123
    stamp = ((T0 + ns // 10**9) << 32) + ((ns % 10**9) << 32) // 10**9
    return struct.pack('<Q', stamp) + struct.pack('!BBHHH', rtype, 0x04, rlen, 0, len(f) + 4) + ext + b'\x00\x00' + f


def tso():
    """Captured on the hosts with segmentation offload: the server's 40 KB response in one 40 KB
    'packet' (GRO/TSO), the client's ClientHello and data in 1448-byte segments."""
    c = Conn()
    c.handshake()
    c.send('c', records(22, client_hello(sni('tso'))))
    c.send('s', records(22, server_hello()) + records(20, b'\x01') + records(23, rnd(16000)) + records(23, rnd(16000)) + records(23, rnd(8000)), 60000)
    c.seg('c', 'A')
    c.close()
    return frames(c.pkts, plain)


def unsorted_parts():
    """Two interfaces written one after the other (mergecap -a): the second interface's
    connection and lookups, 26 s long, are stamped up to 2 minutes before the first's last packet."""
    a = tls_conn(sni('unsorted-a')).pkts
    b = tls_conn(sni('unsorted-b'), cport=50555).pkts + dns_exchange()
    return a, b


def pcapng_unsorted():
    a, b = unsorted_parts()
    fa, fb = frames(a, plain), frames(b, plain)
    # interface 0: a from 100 s, 2 s a packet; interface 1: b from 0 s, 2 s a packet
    def block(t, body):
        body += b'\x00' * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack('<II', t, n) + body + struct.pack('<I', n)
    out = block(0x0A0D0D0A, struct.pack('<IHHq', 0x1A2B3C4D, 1, 0, -1))
    out += block(1, struct.pack('<HHI', 1, 0, 65535)) + block(1, struct.pack('<HHI', 1, 0, 65535))
    for ifc, fs, t0 in ((0, fa, 100), (1, fb, 0)):
        for i, f in enumerate(fs):
            ts = (T0 + t0 + 2 * i) * 10**6
            out += block(6, struct.pack('<IIIII', ifc, ts >> 32, ts & 0xffffffff, len(f), len(f)) + f)
    return out


CASES = {
    'eth-plain': lambda: pcap(both('plain', plain), 1),
    'vlan': lambda: pcap(both('vlan', vlan), 1),
    'qinq-88a8': lambda: pcap(both('qinq', qinq_88a8), 1),
    'qinq-9100': lambda: pcap(both('qinq9100', qinq_9100), 1),
    'mpls3': lambda: pcap(both('mpls', mpls3), 1),
    'pppoe': lambda: pcap(both('pppoe', pppoe), 1),
    'pppoe-v6': lambda: pcap(v6_pkts(pppoe), 1),
    'gre-keyseq': lambda: pcap(both('gre', gre_keyseq), 1),
    'erspan2': lambda: pcap(both('erspan2', erspan2), 1),
    'erspan3': lambda: pcap(both('erspan3', erspan3), 1),
    'vxlan': lambda: pcap(both('vxlan', vxlan), 1),
    'geneve': lambda: pcap(both('geneve', geneve), 1),
    'gtpu': lambda: pcap(both('gtpu', gtpu), 1),
    'ipip': lambda: pcap(both('ipip', ipip), 1),
    '6in4': lambda: pcap(both('sixinfour', six_in_four, v6=True), 1),
    '4in6': lambda: pcap(both('fourinsix', four_in_six), 1),
    'frag4': lambda: pcap(frag4_hello(), 1),
    'frag6': lambda: pcap(frag6_hello(), 1),
    'v6-ext': lambda: pcap(frames(tls_conn(sni('v6ext'), v6=True).pkts + dns_exchange(True), v6_ext), 1),
    'sll': lambda: pcap(both('sll', sll), 113),
    'sll-v6': lambda: pcap(v6_pkts(sll), 113),
    'sll2': lambda: pcap(both('sll2', sll2), 276),
    'raw101': lambda: pcap(both('raw', raw), 101),
    'raw101-v6': lambda: pcap(v6_pkts(raw), 101),
    'raw228': lambda: pcap(both('raw4', raw), 228),
    'raw229': lambda: pcap(frames(tls_conn(sni('raw6'), v6=True).pkts + dns_exchange(True), raw), 229),
    'null-le': lambda: pcap(both('nullle', null_le), 0),
    'null-be': lambda: pcap(both('nullbe', null_be), 0, big=True),
    'null-le-v6': lambda: pcap(v6_pkts(null_le), 0),
    'loop108': lambda: pcap(both('loop', null_be), 108),
    'pcapng-multi': lambda: pcapng_multi([
        (1, 9, both('ngeth', plain)),  # nanoseconds
        (113, 3, frames(tls_conn(sni('ngsll'), cport=50777).pkts, sll)),  # milliseconds
        (101, 0x94, frames(tls_conn(sni('ngraw'), cport=50999).pkts, raw)),  # 2^-20 s
    ]),
    'pcap-ns': lambda: pcap(both('ns', plain), 1, ns=True),
    'pcap-be': lambda: pcap(both('bigendian', plain), 1, big=True),
    'pcap-be-ns': lambda: pcap(both('bigns', plain), 1, ns=True, big=True),
    'snaplen96': lambda: pcap(snaplen_pkts(), 1, snaplen=96, cut=96),
    'snaplen300': lambda: pcap(frames(tls_conn(sni('snap300')).pkts + dns_exchange(), plain), 1, snaplen=300, cut=300),
    'fcs': lambda: pcap(both('fcs', fcs), 1),
    'padding': lambda: pcap(both('padding', padded), 1),
    'hello-segments': lambda: pcap(hello_many_segments(), 1),
    'hello-records': lambda: pcap(hello_many_records(), 1),
    'retrans-overlap': lambda: pcap(retrans_overlap(), 1),
    'midstream': lambda: pcap(midstream(), 1),
    'hrr': lambda: pcap(hrr(), 1),
    'snaplen68': lambda: pcap(frames(tls_conn(sni('snap68')).pkts + dns_exchange(), plain), 1, snaplen=68, cut=68),
    'snaplen68-v6': lambda: pcap(frames(tls_conn(sni('snap68v6'), v6=True).pkts + dns_exchange(True), plain), 1, snaplen=68, cut=68),
    'asym-client': lambda: pcap(asym('c'), 1),
    'asym-server': lambda: pcap(asym('s'), 1),
    'tfo': lambda: pcap(tfo(), 1),
    'ooo-segments': lambda: pcap(ooo_segments(), 1),
    'vxlan-outer-frag': lambda: pcap(outer_frag(vxlan), 1),
    'gre-outer-frag': lambda: pcap(outer_frag(gre_keyseq), 1),
    'vxlan-vlan': lambda: pcap(both('vxlanvlan', vxlan_vlan), 1),
    'mpls-pw': lambda: pcap(both('mplspw', mpls_pw), 1),
    'gtpu-seq': lambda: pcap(both('gtpuseq', gtpu_seq), 1),
    'gre-csum': lambda: pcap(both('grecsum', gre_csum), 1),
    'pptp': lambda: pcap(both('pptp', pptp), 1),
    'erspan1': lambda: pcap(both('erspan1', erspan1), 1),
    'ipv4-options': lambda: pcap(both('ipopts', ipv4_options), 1),
    'ppp9': lambda: pcap(both('ppp', ppp9), 9),
    'ppp9-v6': lambda: pcap(v6_pkts(ppp9), 9),
    'chdlc104': lambda: pcap(both('chdlc', chdlc), 104),
    'nflog239': lambda: pcap(both('nflog', nflog), 239),
    'nflog239-v6': lambda: pcap(v6_pkts(nflog), 239),
    'wifi105': lambda: pcap(both('wifi', wifi105), 105),
    'radiotap127': lambda: pcap(both('radiotap', radiotap), 127),
    'radiotap127-v6': lambda: pcap(v6_pkts(radiotap), 127),
    'ppi192': lambda: pcap(both('ppi', ppi), 192),
    # public captures often come compressed; tshark reads them as they are
    'gzip-pcap': lambda: gzip.compress(pcap(both('gzip', plain), 1), mtime=0),
    'gzip-pcapng': lambda: gzip.compress(pcapng_multi([(1, 9, both('gzipng', plain))]), mtime=0),
    # a capture still being written, or a download cut short
    'gzip-cut': lambda: gzip.compress(pcap(both('gzipcut', plain), 1), mtime=0)[:-700],
    'frag4-tiny': lambda: pcap(frag4_tiny(), 1),
    'frag6-hbh': lambda: pcap(frag6_hbh(), 1),
    'midstream-cut-hello': lambda: pcap(midstream_cut_hello(), 1),
    'pktap258': lambda: pcap(both('pktap', pktap_of(plain, 1)), 258),
    'pktap258-lo0': lambda: pcap(both('pktaplo', pktap_of(null_le, 0)), 258),
    'erf197': lambda: pcap(both('erf', erf), 197),
    'tso': lambda: pcap(tso(), 1, snaplen=262144),
    'pcapng-unsorted': pcapng_unsorted,
    'connect3128': lambda: pcap(http_connect(3128), 1),
    'connect8080': lambda: pcap(http_connect(8080), 1),
    'socks5': lambda: pcap(socks5(), 1),
    'l2tp': lambda: pcap(both('l2tp', l2tp), 1),
    'l2tp-v6': lambda: pcap(v6_pkts(l2tp), 1),
    'tzsp': lambda: pcap(both('tzsp', tzsp), 1),
    'tzsp-wifi': lambda: pcap(both('tzspwifi', tzsp_wifi), 1),
    'seq-wrap': lambda: pcap(seq_wrap(), 1),
    'syn-reorder': lambda: pcap(syn_reorder(), 1),
}


def write_cases(cases, ext_of):
    """The command line both field generators share: OUTDIR [CASE...] writes each named case (all
    by default) seeded by its name; --list prints the names. Returns OUTDIR (None for --list)."""
    if sys.argv[1] == '--list':
        print('\n'.join(cases))
        return None
    out = sys.argv[1]
    names = sys.argv[2:] or list(cases)
    os.makedirs(out, exist_ok=True)
    for name in names:
        RNG.seed(name)
        data = cases[name]()
        with open(os.path.join(out, name + ext_of(name)), 'wb') as f:
            f.write(data)
    return out


def main():
    write_cases(CASES, lambda name: ('.pcapng' if 'pcapng' in name else '.pcap') + ('.gz' if name.startswith('gzip') else ''))


if __name__ == '__main__':
    main()
