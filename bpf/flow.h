/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared between flow.bpf.c (kernel) and loader.c (user space). Plain fixed-width types only,
 * so the file compiles against both vmlinux.h and <linux/types.h>.
 */
#ifndef NDR_FLOW_H
#define NDR_FLOW_H

/* Largest snap length the ring-buffer record can hold (the reserve is fixed size). */
#define NDR_SNAP_MAX 2048
/* Largest ring buffer the loader accepts (MiB): the ring is locked kernel memory, and its size in
 * bytes must fit the map's 32-bit max_entries. src/config/config.ts bounds capture.bufferMiB the same. */
#define NDR_RINGBUF_MAX_MIB 1024

/* Most per-worker ring buffers (loader --ring-out): one per flow worker of the sensor. */
#define NDR_RINGS_MAX 16

/* Ring-buffer record types (first u32 of every record). */
#define NDR_RB_PACKET 1
#define NDR_RB_FLOW_HINT 2 /* a flow saw RST or FIN in both directions: user space ends it */

/* Counter slots in the per-CPU counters array. */
#define NDR_CTR_PACKETS 0    /* every packet the program saw */
#define NDR_CTR_BYTES 1      /* their wire length */
#define NDR_CTR_FWD_PACKETS 2
#define NDR_CTR_FWD_BYTES 3  /* captured bytes forwarded */
#define NDR_CTR_RB_FAIL 4    /* ring buffer full: a packet that should have gone up did not */
#define NDR_CTR_MAP_FAIL 5   /* flow insert failed (map full / memory) */
#define NDR_CTR_FLOWS_NEW 6
#define NDR_CTR_HINT_FAIL 7  /* flow-end hint lost (flow ends later by idle scan) */
#define NDR_CTR_NON_FLOW 8   /* not IP, or IP but not TCP/UDP: counted only */
#define NDR_CTR_FRAGMENTS 9  /* IP fragments: forwarded whole for user-space reassembly */
#define NDR_CTR_DONE_SKIP 10 /* payload packets not forwarded because user space marked the flow done */
#define NDR_CTR_MAX 11

/*
 * Canonical flow key: the endpoint with the smaller (address, port) is "a". Addresses are
 * network byte order (IPv4 in the first 4 bytes, the rest zero); ports host byte order.
 */
struct ndr_flow_key {
	__u8 addr_a[16];
	__u8 addr_b[16];
	__u16 port_a;
	__u16 port_b;
	__u8 proto;
	__u8 family; /* 4 or 6 */
	__u8 pad[2];
};

/* Per direction: index 0 = a->b, index 1 = b->a. */
struct ndr_dir_stats {
	__u64 packets;
	__u64 bytes;      /* IP length */
	__u64 first_ns;   /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 last_ns;
	__u32 fwd_packets; /* payload packets forwarded */
	__u32 fwd_bytes;   /* payload bytes forwarded */
	__u32 payload_bytes_lo; /* total L4 payload bytes (low 32 bits kept; wide enough per record) */
	__u8 tcp_flags;   /* OR of every TCP flag byte seen */
	__u8 pad[3];
};

#define NDR_END_FIN_A 1
#define NDR_END_FIN_B 2
#define NDR_END_RST 4

struct ndr_flow_val {
	struct ndr_dir_stats dir[2];
	__u8 first_dir;  /* direction of the first packet seen (0 a->b, 1 b->a) */
	__u8 syn_dir;    /* direction of the first SYN without ACK + 1, 0 = none */
	__u8 end_flags;  /* NDR_END_* */
	__u8 hinted;     /* flow-end hint already sent */
	__u8 pad[4];
};

/* Ring-buffer packet record: header + NDR_SNAP_MAX bytes (only cap_len are meaningful). */
struct ndr_rb_packet {
	__u32 type;
	__u32 cap_len;
	__u32 orig_len;
	__u32 ifindex;
	__u64 ts_ns; /* CLOCK_MONOTONIC */
	__u8 data[NDR_SNAP_MAX];
};

struct ndr_rb_hint {
	__u32 type;
	__u32 pad;
	struct ndr_flow_key key;
};

/*
 * The worker that owns a flow: the same function as shardHash in src/runtime/shard-hash.ts, so the
 * kernel (per-worker rings), the loader (flow-end records) and a sensor thread dispatching by hand
 * all pick the same worker, and both directions of a flow pick the same one. Addresses are taken
 * as four big-endian 32-bit words (IPv4: one word, three zero), as the decoder holds them.
 */
static inline __attribute__((always_inline)) __u32 ndr_mix(__u32 h, __u32 v)
{
	h = (h ^ v) * 0x5bd1e995u;
	return h ^ (h >> 15);
}

static inline __attribute__((always_inline)) __u32 ndr_be32(const __u8 *a)
{
	return ((__u32)a[0] << 24) | ((__u32)a[1] << 16) | ((__u32)a[2] << 8) | (__u32)a[3];
}

static inline __attribute__((always_inline)) __u32 ndr_addr_fold(const __u8 *a)
{
	return ndr_be32(a) ^ ndr_be32(a + 4) ^ ndr_be32(a + 8) ^ ndr_be32(a + 12);
}

static inline __attribute__((always_inline)) __u32 ndr_shard_hash(const struct ndr_flow_key *k)
{
	__u32 a = ndr_addr_fold(k->addr_a);
	__u32 b = ndr_addr_fold(k->addr_b);
	__u32 pa = k->port_a, pb = k->port_b;
	int lo = a < b || (a == b && pa <= pb);
	__u32 h = k->proto;
	h = ndr_mix(h, lo ? a : b);
	h = ndr_mix(h, lo ? b : a);
	h = ndr_mix(h, lo ? (pa << 16) | pb : (pb << 16) | pa);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/*
 * UDP tunnels the sensor peels (VXLAN, Geneve, GTP-U, Teredo): the two directions of an inner flow
 * may ride outer tuples that hash apart, so these stay on the shared ring, where the sensor's main
 * thread decodes them to the inner tuple and dispatches them as it does every packet of a file.
 */
static inline __attribute__((always_inline)) int ndr_udp_tunnel_port(__u16 p)
{
	return p == 4789 || p == 6081 || p == 2152 || p == 3544;
}

/* Ring of a flow with n per-worker rings: its worker's, or -1 for the shared ring. */
static inline __attribute__((always_inline)) int ndr_ring_of(const struct ndr_flow_key *k, __u32 n)
{
	if (n == 0)
		return -1;
	if (k->proto == 17 && (ndr_udp_tunnel_port(k->port_a) || ndr_udp_tunnel_port(k->port_b)))
		return -1;
	return (int)(ndr_shard_hash(k) % n);
}

#endif
