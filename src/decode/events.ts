/**
 * decoder.* event catalogue (STYLE.md rule 5): every id decode() can put into PacketMeta.event,
 * with a one-line summary. Tests assert on these ids.
 */
export const DecoderEvent = {
  // link layer
  'decoder.link.unsupported': 'link type the decoder does not handle',
  'decoder.link.truncated': 'frame shorter than its link-layer header',
  'decoder.null.unknown_family': 'BSD null/loop header with an address family that is not IPv4/IPv6',
  'decoder.ethernet.truncated': 'Ethernet frame shorter than 14 bytes',
  'decoder.vlan.truncated': '802.1Q/QinQ tag cut short',
  'decoder.vlan.too_many_tags': 'more stacked VLAN tags than maxVlanTags',
  'decoder.mpls.truncated': 'MPLS label stack cut short',
  'decoder.mpls.too_many_labels': 'more MPLS labels than maxMplsLabels',
  'decoder.mpls.unknown_payload': 'payload after the MPLS bottom of stack is neither IPv4, IPv6 nor a PW control word',
  'decoder.pppoe.truncated': 'PPPoE session header or PPP protocol cut short',
  'decoder.ppp.truncated': 'PPP header cut short',
  'decoder.raw.unknown_version': 'raw IP link type with a first nibble that is not 4 or 6',
  'decoder.nflog.bad_header': 'NFLOG header with an unknown version or a TLV whose length runs past the frame',
  'decoder.radiotap.bad_header': 'radiotap or PPI header with an unknown version or a length past the frame',
  'decoder.ppi.unsupported': 'PPI header naming a link type other than 802.11 or Ethernet',
  'decoder.pktap.bad_header': 'PKTAP header whose length runs past the frame, or not followed by a packet',
  'decoder.erf.truncated': 'ERF record header or extension headers cut short',
  'decoder.wlan.truncated': '802.11 data frame shorter than its MAC header and LLC/SNAP header',

  // IPv4
  'decoder.ipv4.truncated': 'IPv4 header cut short by the capture',
  'decoder.ipv4.bad_version': 'IPv4 header whose version nibble is not 4',
  'decoder.ipv4.bad_header_len': 'IPv4 IHL below 5 words',
  'decoder.ipv4.bad_total_len': 'IPv4 total length smaller than the header',

  // IPv6
  'decoder.ipv6.truncated': 'IPv6 header or extension header cut short by the capture',
  'decoder.ipv6.bad_version': 'IPv6 header whose version nibble is not 6',
  'decoder.ipv6.too_many_ext_headers': 'more IPv6 extension headers than maxIpv6ExtHeaders',
  'decoder.ipv6.ext_header_overrun': 'IPv6 extension header runs past the payload length',
  'decoder.ah.truncated': 'IPsec AH header cut short',

  // fragments
  'decoder.frag.overlap': 'fragments of one datagram overlap with other extents and the same bytes (kept by the overlap policy; dropped under drop)',
  'decoder.frag.overlap_conflict': 'fragments of one datagram overlap with different bytes; the overlap policy (first or last) chose which',
  'decoder.frag.limit': 'fragment table limit hit (bytes, datagrams or fragments per datagram); datagram dropped',
  'decoder.frag.too_big': 'fragment would extend the datagram past 65535 bytes',
  'decoder.frag.bad_length': 'non-final fragment whose length is not a multiple of 8',
  'decoder.frag.too_deep': 'more nested reassemblies in one packet than the decoder supports',
  'decoder.frag.inconsistent': 'fragments of one datagram disagree on the datagram end',

  // L4
  'decoder.tcp.truncated': 'TCP header cut short by the capture',
  'decoder.tcp.bad_header_len': 'TCP data offset below 5 words or past the IP payload',
  'decoder.udp.truncated': 'UDP header cut short by the capture',
  'decoder.udp.bad_length': 'UDP length below 8 or past the IP payload',

  // tunnels
  'decoder.tunnel.too_deep': 'more nested tunnels than maxTunnelDepth',
  'decoder.gre.truncated': 'GRE header cut short',
  'decoder.gre.unsupported': 'GRE version or flags (source routing) the decoder does not handle',
  'decoder.gre.unknown_proto': 'GRE payload protocol the decoder does not handle',
  'decoder.erspan.truncated': 'ERSPAN header cut short',
  'decoder.erspan.bad_version': 'ERSPAN header version does not match the GRE protocol type',
  'decoder.vxlan.truncated': 'VXLAN header cut short',
  'decoder.vxlan.unknown_proto': 'VXLAN-GPE next protocol the decoder does not handle',
  'decoder.nsh.truncated': 'NSH header (RFC 8300) cut short or shorter than its base and service path headers',
  'decoder.nsh.unknown_payload': 'NSH next protocol the decoder does not handle',
  'decoder.geneve.truncated': 'Geneve header or options cut short',
  'decoder.geneve.unknown_proto': 'Geneve payload protocol the decoder does not handle',
  'decoder.gtpu.truncated': 'GTP-U header or extension headers cut short',
  'decoder.gtpu.bad_length': 'GTP-U length runs past the UDP datagram',
  'decoder.gtpu.bad_ext_header': 'GTP-U extension header of length 0 or past the G-PDU',
  'decoder.gtpu.too_many_ext_headers': 'more GTP-U extension headers than the decoder follows',
  'decoder.gtpu.not_ip': 'GTP-U G-PDU carrying a non-IP PDU (Ethernet or unstructured PDU session)',
  'decoder.l2tp.truncated': 'L2TP data message header cut short',
  'decoder.l2tp.unknown_payload': 'L2TPv3 data session whose payload is not an Ethernet frame after a cookie and sublayer of the usual lengths',
  'decoder.tzsp.truncated': 'TZSP header or tagged fields cut short (no end tag)',
  'decoder.tzsp.unsupported': 'TZSP carrying a link type other than Ethernet or 802.11',
  'decoder.teredo.truncated': 'Teredo indicators cut short or not followed by an IPv6 header',
} as const;

export type DecoderEventId = keyof typeof DecoderEvent;
