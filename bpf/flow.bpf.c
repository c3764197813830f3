// SPDX-License-Identifier: BSD-3-Clause
/*
 * ndr-sensor eBPF feed (DESIGN §5): a TC classifier on the tap interface.
 *
 * Per packet: parse Ethernet / 802.1Q / 802.1ad / IPv4 / IPv6 (+ extension headers) / TCP / UDP,
 * update the flow's counters in an LRU hash keyed by the canonical 5-tuple, and forward to user
 * space (BPF ring buffer) only
 *   - TCP SYN / SYN-ACK packets (the flow table learns the initiator and JA4T reads the options),
 *   - the first payload packets of each direction (max_fwd_packets and max_fwd_bytes per
 *     direction), truncated to snap_len, unless user space marked the flow done,
 *   - IP fragments (user space reassembles them),
 *   - a flow-end hint when a flow sees RST or FIN in both directions.
 * With per-worker rings (n_rings > 0, loader --ring-out) a flow's packets go to the ring of the
 * worker that owns it (ndr_ring_of: the sensor's shard hash), so the sensor's main thread never
 * handles them; fragments (no ports to hash), UDP tunnels and hints stay on the shared ring.
 * Everything else is counted here only. The program never drops or changes a packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flow.h"

#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define ETH_P_8021Q_ 0x8100
#define ETH_P_8021AD_ 0x88A8
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TC_NEXT -1 /* TC_ACT_UNSPEC / TCX_NEXT: let the packet continue untouched */

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

/* Tunables, set by the loader before load (read-only to the program). */
const volatile __u32 snap_len = 1600;
const volatile __u32 max_fwd_packets = 8;
const volatile __u32 max_fwd_bytes = 16384;
const volatile __u32 forward_syn = 1;
/* Per-worker rings in use (0: every record on the shared ring `events`). */
const volatile __u32 n_rings = 0;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ndr_flow_key);
	__type(value, struct ndr_flow_val);
} flows SEC(".maps");

/* Flows user space is finished with: present = do not forward any more of its packets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ndr_flow_key);
	__type(value, __u8);
} done SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* A worker's ring; the loader makes each one (its size is set before load) and puts it in `rings`. */
struct ring_inner {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NDR_RINGS_MAX);
	__type(key, __u32);
	__array(values, struct ring_inner);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NDR_CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Initial value of a new flow (kept off the 512-byte stack). */
const struct ndr_flow_val zero_val = {};

static __always_inline void ctr_add(__u32 idx, __u64 v)
{
	__u64 *p = bpf_map_lookup_elem(&counters, &idx);
	if (p)
		*p += v;
}

struct parsed {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 tcp_flags;
	__u8 fragment;
	__u32 ip_len;
	__u32 payload_len;
};

/*
 * Headers are read with bpf_skb_load_bytes (works for non-linear skbs, no packet-pointer
 * bookkeeping). Returns 1 for a TCP/UDP packet with a tuple or a fragment, 0 for anything else.
 */
static __always_inline int parse(struct __sk_buff *skb, struct parsed *p)
{
	__u32 off = 14;
	__u16 eth_proto;

	if (bpf_skb_load_bytes(skb, 12, &eth_proto, 2) < 0)
		return 0;
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (eth_proto != bpf_htons(ETH_P_8021Q_) && eth_proto != bpf_htons(ETH_P_8021AD_))
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &eth_proto, 2) < 0)
			return 0;
		off += 4;
	}

	__u32 l4off;
	if (eth_proto == bpf_htons(ETH_P_IP_)) {
		struct iphdr iph;
		if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)) < 0)
			return 0;
		__u32 ihl = iph.ihl * 4;
		if (ihl < 20)
			return 0;
		p->family = 4;
		p->proto = iph.protocol;
		p->ip_len = bpf_ntohs(iph.tot_len);
		__builtin_memcpy(p->saddr, &iph.saddr, 4);
		__builtin_memcpy(p->daddr, &iph.daddr, 4);
		if (iph.frag_off & bpf_htons(0x3fff)) {
			p->fragment = 1;
			return 1;
		}
		if (p->ip_len < ihl)
			return 0;
		l4off = off + ihl;
		p->payload_len = p->ip_len - ihl; /* L4 length for now */
	} else if (eth_proto == bpf_htons(ETH_P_IPV6_)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return 0;
		p->family = 6;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
		__u32 plen = bpf_ntohs(ip6.payload_len);
		p->ip_len = 40 + plen;
		__u8 nh = ip6.nexthdr;
		l4off = off + 40;
		__u32 ext = 0;
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh == 44) { /* fragment header */
				p->fragment = 1;
				p->proto = nh;
				return 1;
			}
			if (nh != 0 && nh != 43 && nh != 60)
				break;
			__u8 eh[2];
			if (bpf_skb_load_bytes(skb, l4off, eh, 2) < 0)
				return 0;
			nh = eh[0];
			__u32 hl = ((__u32)eh[1] + 1) * 8;
			l4off += hl;
			ext += hl;
		}
		p->proto = nh;
		if (plen < ext)
			return 0;
		p->payload_len = plen - ext;
	} else {
		return 0;
	}

	if (p->proto == IPPROTO_TCP_) {
		struct tcphdr th;
		if (bpf_skb_load_bytes(skb, l4off, &th, sizeof(th)) < 0)
			return 0;
		__u32 doff = th.doff * 4;
		p->sport = bpf_ntohs(th.source);
		p->dport = bpf_ntohs(th.dest);
		p->tcp_flags = ((__u8 *)&th)[13];
		p->payload_len = p->payload_len > doff ? p->payload_len - doff : 0;
		return 1;
	}
	if (p->proto == IPPROTO_UDP_) {
		struct udphdr uh;
		if (bpf_skb_load_bytes(skb, l4off, &uh, sizeof(uh)) < 0)
			return 0;
		p->sport = bpf_ntohs(uh.source);
		p->dport = bpf_ntohs(uh.dest);
		p->payload_len = p->payload_len > 8 ? p->payload_len - 8 : 0;
		return 1;
	}
	return 0;
}

/* Canonical key; returns the packet's direction (0: a->b, 1: b->a). */
static __always_inline __u8 make_key(const struct parsed *p, struct ndr_flow_key *k)
{
	int cmp = 0;
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (cmp == 0) {
			if (p->saddr[i] < p->daddr[i])
				cmp = -1;
			else if (p->saddr[i] > p->daddr[i])
				cmp = 1;
		}
	}
	if (cmp == 0)
		cmp = p->sport < p->dport ? -1 : (p->sport > p->dport ? 1 : 0);
	k->proto = p->proto;
	k->family = p->family;
	if (cmp <= 0) {
		__builtin_memcpy(k->addr_a, p->saddr, 16);
		__builtin_memcpy(k->addr_b, p->daddr, 16);
		k->port_a = p->sport;
		k->port_b = p->dport;
		return 0;
	}
	__builtin_memcpy(k->addr_a, p->daddr, 16);
	__builtin_memcpy(k->addr_b, p->saddr, 16);
	k->port_a = p->dport;
	k->port_b = p->sport;
	return 1;
}

/* `ring`: the worker's ring, or NULL for the shared one. */
static __always_inline void forward(struct __sk_buff *skb, __u64 now, void *ring)
{
	/* Two calls, not one call on either map: each call site then holds one kind of map pointer. */
	struct ndr_rb_packet *rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
	if (!rec) {
		ctr_add(NDR_CTR_RB_FAIL, 1);
		return;
	}
	__u64 n = skb->len;
	__u64 snap = snap_len;
	if (n > snap)
		n = snap;
	if (n > NDR_SNAP_MAX)
		n = NDR_SNAP_MAX;
	if (n < 1) {
		bpf_ringbuf_discard(rec, 0);
		return;
	}
	if (bpf_skb_load_bytes(skb, 0, rec->data, n) < 0) {
		bpf_ringbuf_discard(rec, 0);
		return;
	}
	rec->type = NDR_RB_PACKET;
	rec->cap_len = n;
	rec->orig_len = skb->len;
	rec->ifindex = skb->ifindex;
	rec->ts_ns = now;
	bpf_ringbuf_submit(rec, 0);
	ctr_add(NDR_CTR_FWD_PACKETS, 1);
	ctr_add(NDR_CTR_FWD_BYTES, n);
}

static __always_inline void send_hint(const struct ndr_flow_key *k)
{
	struct ndr_rb_hint *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		ctr_add(NDR_CTR_HINT_FAIL, 1);
		return;
	}
	h->type = NDR_RB_FLOW_HINT;
	h->pad = 0;
	__builtin_memcpy(&h->key, k, sizeof(*k));
	bpf_ringbuf_submit(h, 0);
}

SEC("tc")
int ndr_tc(struct __sk_buff *skb)
{
	struct parsed p = {};
	struct ndr_flow_key key = {};
	__u64 now = bpf_ktime_get_ns();

	ctr_add(NDR_CTR_PACKETS, 1);
	ctr_add(NDR_CTR_BYTES, skb->len);

	if (!parse(skb, &p)) {
		ctr_add(NDR_CTR_NON_FLOW, 1);
		return TC_NEXT;
	}
	if (p.fragment) {
		ctr_add(NDR_CTR_FRAGMENTS, 1);
		forward(skb, now, NULL);
		return TC_NEXT;
	}

	__u8 dir = make_key(&p, &key);
	struct ndr_flow_val *v = bpf_map_lookup_elem(&flows, &key);
	if (!v) {
		long err = bpf_map_update_elem(&flows, &key, &zero_val, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU won the race */) {
			ctr_add(NDR_CTR_MAP_FAIL, 1);
			return TC_NEXT;
		}
		v = bpf_map_lookup_elem(&flows, &key);
		if (!v)
			return TC_NEXT;
		if (!err) {
			ctr_add(NDR_CTR_FLOWS_NEW, 1);
			v->first_dir = dir;
		}
	}

	struct ndr_dir_stats *d = &v->dir[dir & 1];
	__sync_fetch_and_add(&d->packets, 1);
	__sync_fetch_and_add(&d->bytes, p.ip_len);
	if (!d->first_ns)
		d->first_ns = now;
	d->last_ns = now;
	d->payload_bytes_lo += p.payload_len;

	int fwd = 0;
	if (p.proto == IPPROTO_TCP_) {
		__u8 f = p.tcp_flags;
		d->tcp_flags |= f;
		if ((f & TCPF_SYN) && !(f & TCPF_ACK) && !v->syn_dir)
			v->syn_dir = dir + 1;
		if (f & TCPF_RST)
			v->end_flags |= NDR_END_RST;
		if (f & TCPF_FIN)
			v->end_flags |= dir ? NDR_END_FIN_B : NDR_END_FIN_A;
		__u8 ef = v->end_flags;
		if (!v->hinted && ((ef & NDR_END_RST) || (ef & (NDR_END_FIN_A | NDR_END_FIN_B)) == (NDR_END_FIN_A | NDR_END_FIN_B))) {
			v->hinted = 1;
			send_hint(&key);
		}
		if ((f & TCPF_SYN) && forward_syn)
			fwd = 1;
	}

	if (!fwd && p.payload_len > 0 && d->fwd_packets < max_fwd_packets && d->fwd_bytes < max_fwd_bytes) {
		if (bpf_map_lookup_elem(&done, &key)) {
			ctr_add(NDR_CTR_DONE_SKIP, 1);
		} else {
			d->fwd_packets += 1;
			d->fwd_bytes += p.payload_len;
			fwd = 1;
		}
	}
	if (fwd) {
		void *ring = NULL;
		int r = ndr_ring_of(&key, n_rings);
		if (r >= 0) {
			__u32 idx = (__u32)r;
			ring = bpf_map_lookup_elem(&rings, &idx);
		}
		forward(skb, now, ring);
	}
	return TC_NEXT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
