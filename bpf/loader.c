// SPDX-License-Identifier: BSD-3-Clause
/*
 * ndr-loader: loads flow.bpf.c (libbpf skeleton, CO-RE), attaches it to a tap interface and
 * relays its ring buffer to the (unprivileged) sensor. The only privileged process of the
 * sensor: needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON.
 *
 * Output (stdout, or the connected client of --socket): records, all little-endian,
 *   u32 len (bytes after this field), u8 type, u8[3] zero, payload (len - 4 bytes):
 *   1 PACKET   u64 ts_ns (epoch), u32 orig_len, u32 ifindex, frame bytes (cap_len = len - 20)
 *   2 FLOW_END u8 family, u8 proto, u8 reason, u8 first_dir, u8 syn_dir, u8[3] 0,
 *              u16 port_a, u16 port_b, u32 0, u8 addr_a[16], u8 addr_b[16],
 *              then 2 x { u64 packets, u64 bytes, u64 first_ns, u64 last_ns (epoch),
 *                         u32 payload_bytes, u32 fwd_packets, u32 fwd_bytes, u8 tcp_flags, u8[3] 0 }
 *              (direction 0 is a->b, 1 is b->a; a is the smaller (address, port))
 *   3 STATS    u32 count, u32 0, count x u64 (order: see STAT_NAMES in src/capture/ebpf.ts)
 *   4 READY    u32 ifindex, u32 attach mode (1 tcx, 2 tc clsact), iface name bytes
 * Input (stdin, or the client): 40-byte commands
 *   u8 cmd (1 = flow done, 2 = stats now), u8 family, u8 proto, u8 0, u16 sport, u16 dport
 *   (little-endian), u8 saddr[16], u8 daddr[16]  (any orientation; the loader canonicalizes)
 * With --ring-out PATH (once per flow worker of the sensor, PATH a FIFO the worker reads) the kernel
 * puts each flow's packets on the ring of the worker that owns it (ndr_ring_of in flow.h) and this
 * relays ring i to the i-th PATH, with the flow-end records of those flows; the main stream keeps
 * READY, STATS, fragments, UDP tunnels and their flow ends.
 * Failure: one line on stderr ("loader: ...") and a non-zero exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flow.h"
#include "flow.skel.h"

#define EXIT_USAGE 2
#define EXIT_NO_BTF 3
#define EXIT_NO_CAP 4
#define EXIT_ATTACH 5
#define EXIT_IFACE 6
#define EXIT_IO 7

#define REC_PACKET 1
#define REC_FLOW_END 2
#define REC_STATS 3
#define REC_READY 4

#define END_FIN 1
#define END_RST 2
#define END_IDLE 3

#define ATTACH_TCX_INGRESS 46 /* enum bpf_attach_type, kernel >= 6.6 */
#define ATTACH_TCX_EGRESS 47

#define OUT_CAP (1u << 20)
#define LINGER_CAP 65536
#define IDLE_BATCH 65536
#define N_STATS (NDR_CTR_MAX + 3)

static struct {
	const char *iface;
	const char *socket_path;
	const char *attach; /* auto | tcx | tc */
	bool egress;
	bool verbose;
	unsigned snap;
	unsigned max_pkts;
	unsigned max_bytes;
	unsigned max_flows;
	unsigned ringbuf_mib;
	unsigned idle_ms;
	unsigned linger_ms;
	unsigned stats_ms;
	unsigned n_rings;
	const char *ring_out[NDR_RINGS_MAX];
} opt = {
	.attach = "auto", .snap = 1600, .max_pkts = 8, .max_bytes = 16384, .max_flows = 262144,
	.ringbuf_mib = 16, .idle_ms = 60000, .linger_ms = 1000, .stats_ms = 1000,
};

static volatile sig_atomic_t stopping;
static struct flow_bpf *skel;
/* An output stream: the main one (stdout or the socket's client) or a worker's FIFO. */
struct chan {
	int fd; /* -1: no consumer (socket mode, nobody connected) */
	size_t len;
	uint8_t *buf;
};
static uint8_t main_buf[OUT_CAP];
static struct chan out = { -1, 0, main_buf };
static struct chan rings_out[NDR_RINGS_MAX];
static int in_fd = -1;
static int64_t mono_to_real; /* ns to add to CLOCK_MONOTONIC for epoch */
static uint64_t flows_ended, done_cmds, records_unsent;

struct linger_ent {
	struct ndr_flow_key key;
	uint64_t due_ms;
};
static struct linger_ent linger_q[LINGER_CAP];
static unsigned linger_head, linger_len;

static void fail(int code, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n] = '\n';
	/* One write, so the reader gets the reason line whole. */
	dprintf(STDERR_FILENO, "loader: %.*s", n + 1, line);
	exit(code);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void update_clock_offset(void)
{
	struct timespec r, m;
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	mono_to_real = ((int64_t)r.tv_sec - m.tv_sec) * 1000000000LL + ((int64_t)r.tv_nsec - m.tv_nsec);
}

static void drop_client(void)
{
	if (opt.socket_path && out.fd >= 0) {
		close(out.fd);
		out.fd = -1;
		in_fd = -1;
		out.len = 0;
		return;
	}
	/* Pipe mode: the sensor is gone. */
	stopping = 1;
}

static void flush_chan(struct chan *c)
{
	size_t done = 0;
	while (c->fd >= 0 && done < c->len) {
		ssize_t n = write(c->fd, c->buf + done, c->len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (c == &out)
				drop_client();
			else
				stopping = 1; /* a worker's FIFO closed: the sensor is gone */
			break;
		}
		done += (size_t)n;
	}
	c->len = 0;
}

static void flush_out(void)
{
	flush_chan(&out);
	for (unsigned i = 0; i < opt.n_rings; i++)
		flush_chan(&rings_out[i]);
}

/* The stream a flow's packets and flow-end record go to. */
static struct chan *chan_of(const struct ndr_flow_key *k)
{
	int r = ndr_ring_of(k, opt.n_rings);
	return r < 0 ? &out : &rings_out[r];
}

static uint8_t *rec_begin(struct chan *c, uint8_t type, uint32_t payload)
{
	uint32_t total = 8 + payload;
	if (c->fd < 0) {
		records_unsent++;
		return NULL;
	}
	if (c->len + total > OUT_CAP)
		flush_chan(c);
	if (c->fd < 0 || total > OUT_CAP)
		return NULL;
	uint8_t *p = c->buf + c->len;
	uint32_t len = 4 + payload;
	memcpy(p, &len, 4);
	p[4] = type;
	p[5] = p[6] = p[7] = 0;
	c->len += total;
	return p + 8;
}

static void emit_ready(int ifindex, int mode)
{
	size_t nl = strlen(opt.iface);
	uint8_t *p = rec_begin(&out, REC_READY, 8 + (uint32_t)nl);
	if (!p)
		return;
	uint32_t a = (uint32_t)ifindex, b = (uint32_t)mode;
	memcpy(p, &a, 4);
	memcpy(p + 4, &b, 4);
	memcpy(p + 8, opt.iface, nl);
	flush_out();
}

static uint64_t sum_counter(uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0 || ncpu > 4096)
		return 0;
	uint64_t vals[4096];
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters), &idx, vals))
		return 0;
	uint64_t s = 0;
	for (int i = 0; i < ncpu; i++)
		s += vals[i];
	return s;
}

static void emit_stats(void)
{
	uint8_t *p = rec_begin(&out, REC_STATS, 8 + 8 * N_STATS);
	if (!p)
		return;
	uint32_t cnt = N_STATS, z = 0;
	memcpy(p, &cnt, 4);
	memcpy(p + 4, &z, 4);
	uint64_t v[N_STATS];
	for (uint32_t i = 0; i < NDR_CTR_MAX; i++)
		v[i] = sum_counter(i);
	v[NDR_CTR_MAX] = flows_ended;
	v[NDR_CTR_MAX + 1] = done_cmds;
	v[NDR_CTR_MAX + 2] = records_unsent;
	memcpy(p + 8, v, sizeof(v));
}

static void put_dir(uint8_t *p, const struct ndr_dir_stats *d)
{
	uint64_t first = d->first_ns ? d->first_ns + mono_to_real : 0;
	uint64_t last = d->last_ns ? d->last_ns + mono_to_real : 0;
	memcpy(p, &d->packets, 8);
	memcpy(p + 8, &d->bytes, 8);
	memcpy(p + 16, &first, 8);
	memcpy(p + 24, &last, 8);
	memcpy(p + 32, &d->payload_bytes_lo, 4);
	memcpy(p + 36, &d->fwd_packets, 4);
	memcpy(p + 40, &d->fwd_bytes, 4);
	p[44] = d->tcp_flags;
	p[45] = p[46] = p[47] = 0;
}

#define FLOW_END_LEN (48 + 2 * 48)

/* Emit the flow's final counters and forget it (flows map and done map). */
static void end_flow(const struct ndr_flow_key *k, uint8_t reason)
{
	struct ndr_flow_val v;
	int fd = bpf_map__fd(skel->maps.flows);
	if (bpf_map_lookup_elem(fd, k, &v))
		return; /* already gone (evicted or ended) */
	bpf_map_delete_elem(fd, k);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.done), k);
	flows_ended++;
	uint8_t *p = rec_begin(chan_of(k), REC_FLOW_END, FLOW_END_LEN);
	if (!p)
		return;
	memset(p, 0, 48);
	p[0] = k->family;
	p[1] = k->proto;
	p[2] = reason;
	p[3] = v.first_dir;
	p[4] = v.syn_dir;
	memcpy(p + 8, &k->port_a, 2);
	memcpy(p + 10, &k->port_b, 2);
	memcpy(p + 16, k->addr_a, 16);
	memcpy(p + 32, k->addr_b, 16);
	put_dir(p + 48, &v.dir[0]);
	put_dir(p + 96, &v.dir[1]);
}

static void linger_push(const struct ndr_flow_key *k)
{
	if (linger_len == LINGER_CAP) {
		/* Queue full: end the oldest now rather than lose it. */
		struct linger_ent *e = &linger_q[linger_head];
		end_flow(&e->key, END_FIN);
		linger_head = (linger_head + 1) % LINGER_CAP;
		linger_len--;
	}
	struct linger_ent *e = &linger_q[(linger_head + linger_len) % LINGER_CAP];
	e->key = *k;
	e->due_ms = now_ms() + opt.linger_ms;
	linger_len++;
}

static void linger_run(bool all)
{
	uint64_t now = now_ms();
	while (linger_len) {
		struct linger_ent *e = &linger_q[linger_head];
		if (!all && e->due_ms > now)
			break;
		struct ndr_flow_val v;
		uint8_t reason = END_FIN;
		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows), &e->key, &v) && (v.end_flags & NDR_END_RST))
			reason = END_RST;
		end_flow(&e->key, reason);
		linger_head = (linger_head + 1) % LINGER_CAP;
		linger_len--;
	}
}

static struct ndr_flow_key idle_keys[IDLE_BATCH];

static void idle_scan(void)
{
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	uint64_t now_ns = (uint64_t)m.tv_sec * 1000000000ULL + m.tv_nsec;
	uint64_t limit = (uint64_t)opt.idle_ms * 1000000ULL;
	int fd = bpf_map__fd(skel->maps.flows);
	struct ndr_flow_key cur, next;
	struct ndr_flow_val v;
	unsigned n = 0;
	void *prev = NULL;
	while (n < IDLE_BATCH && bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (!bpf_map_lookup_elem(fd, &next, &v)) {
			uint64_t last = v.dir[0].last_ns > v.dir[1].last_ns ? v.dir[0].last_ns : v.dir[1].last_ns;
			if (last && now_ns > last && now_ns - last >= limit)
				idle_keys[n++] = next;
		}
		cur = next;
		prev = &cur;
	}
	for (unsigned i = 0; i < n; i++)
		end_flow(&idle_keys[i], END_IDLE);
}

static void canonical_key(const uint8_t *cmd, struct ndr_flow_key *k)
{
	uint16_t sport, dport;
	const uint8_t *sa = cmd + 8, *da = cmd + 24;
	memcpy(&sport, cmd + 4, 2);
	memcpy(&dport, cmd + 6, 2);
	memset(k, 0, sizeof(*k));
	k->family = cmd[1];
	k->proto = cmd[2];
	int c = memcmp(sa, da, 16);
	if (c == 0)
		c = sport < dport ? -1 : (sport > dport ? 1 : 0);
	if (c <= 0) {
		memcpy(k->addr_a, sa, 16);
		memcpy(k->addr_b, da, 16);
		k->port_a = sport;
		k->port_b = dport;
	} else {
		memcpy(k->addr_a, da, 16);
		memcpy(k->addr_b, sa, 16);
		k->port_a = dport;
		k->port_b = sport;
	}
}

static uint8_t in_buf[40 * 256];
static size_t in_len;

static void read_commands(void)
{
	ssize_t n = read(in_fd, in_buf + in_len, sizeof(in_buf) - in_len);
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		drop_client(); /* EOF: the sensor went away */
		return;
	}
	in_len += (size_t)n;
	size_t off = 0;
	uint8_t one = 1;
	for (; off + 40 <= in_len; off += 40) {
		const uint8_t *c = in_buf + off;
		if (c[0] == 1) {
			struct ndr_flow_key k;
			canonical_key(c, &k);
			bpf_map_update_elem(bpf_map__fd(skel->maps.done), &k, &one, BPF_ANY);
			done_cmds++;
		} else if (c[0] == 2) {
			emit_stats();
		}
	}
	memmove(in_buf, in_buf + off, in_len - off);
	in_len -= off;
	flush_out();
}

/* ctx: the stream this ring's packets go to. */
static int on_ring(void *ctx, void *data, size_t size)
{
	if (size < 8)
		return 0;
	uint32_t type;
	memcpy(&type, data, 4);
	if (type == NDR_RB_PACKET && size >= sizeof(struct ndr_rb_packet)) {
		const struct ndr_rb_packet *r = data;
		uint32_t cap = r->cap_len > NDR_SNAP_MAX ? NDR_SNAP_MAX : r->cap_len;
		uint8_t *p = rec_begin(ctx, REC_PACKET, 16 + cap);
		if (!p)
			return 0;
		uint64_t ts = r->ts_ns + mono_to_real;
		memcpy(p, &ts, 8);
		memcpy(p + 8, &r->orig_len, 4);
		memcpy(p + 12, &r->ifindex, 4);
		memcpy(p + 16, r->data, cap);
	} else if (type == NDR_RB_FLOW_HINT && size >= sizeof(struct ndr_rb_hint)) {
		const struct ndr_rb_hint *h = data;
		linger_push(&h->key);
	}
	return 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (!opt.verbose && level != LIBBPF_WARN)
		return 0;
	if (!opt.verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(void)
{
	fputs("usage: ndr-loader --iface IFACE [--egress] [--socket PATH] [--attach auto|tcx|tc]\n"
	      "       [--snap N] [--max-pkts N] [--max-bytes N] [--max-flows N] [--ringbuf-mib N]\n"
	      "       [--idle-ms N] [--linger-ms N] [--stats-ms N] [--ring-out FIFO]... [--verbose]\n", stderr);
	exit(EXIT_USAGE);
}

static unsigned num_arg(const char *name, const char *v, unsigned lo, unsigned hi)
{
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	if (!*v || *end || x < lo || x > hi)
		fail(EXIT_USAGE, "--%s: expected an integer in [%u, %u], got \"%s\"", name, lo, hi, v);
	return (unsigned)x;
}

static int listen_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(opt.socket_path) >= sizeof(sa.sun_path))
		fail(EXIT_USAGE, "--socket: path too long");
	strcpy(sa.sun_path, opt.socket_path);
	unlink(opt.socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		fail(EXIT_IO, "cannot listen on %s: %s", opt.socket_path, strerror(errno));
	chmod(opt.socket_path, 0660);
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "iface", required_argument, 0, 'i' }, { "egress", no_argument, 0, 'e' },
		{ "socket", required_argument, 0, 'S' }, { "attach", required_argument, 0, 'a' },
		{ "snap", required_argument, 0, 's' }, { "max-pkts", required_argument, 0, 'p' },
		{ "max-bytes", required_argument, 0, 'b' }, { "max-flows", required_argument, 0, 'f' },
		{ "ringbuf-mib", required_argument, 0, 'r' }, { "idle-ms", required_argument, 0, 'I' },
		{ "linger-ms", required_argument, 0, 'L' }, { "stats-ms", required_argument, 0, 'T' },
		{ "ring-out", required_argument, 0, 'R' }, { "verbose", no_argument, 0, 'v' }, { 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': opt.iface = optarg; break;
		case 'e': opt.egress = true; break;
		case 'S': opt.socket_path = optarg; break;
		case 'a': opt.attach = optarg; break;
		case 's': opt.snap = num_arg("snap", optarg, 64, NDR_SNAP_MAX); break;
		case 'p': opt.max_pkts = num_arg("max-pkts", optarg, 0, 1000000); break;
		case 'b': opt.max_bytes = num_arg("max-bytes", optarg, 0, 1u << 30); break;
		case 'f': opt.max_flows = num_arg("max-flows", optarg, 1024, 1u << 26); break;
		case 'r': opt.ringbuf_mib = num_arg("ringbuf-mib", optarg, 1, NDR_RINGBUF_MAX_MIB); break;
		case 'I': opt.idle_ms = num_arg("idle-ms", optarg, 100, 86400000); break;
		case 'L': opt.linger_ms = num_arg("linger-ms", optarg, 0, 600000); break;
		case 'T': opt.stats_ms = num_arg("stats-ms", optarg, 100, 3600000); break;
		case 'R':
			if (opt.n_rings == NDR_RINGS_MAX)
				fail(EXIT_USAGE, "--ring-out: at most %d", NDR_RINGS_MAX);
			opt.ring_out[opt.n_rings++] = optarg;
			break;
		case 'v': opt.verbose = true; break;
		default: usage();
		}
	}
	if (!opt.iface)
		usage();
	if ((opt.ringbuf_mib & (opt.ringbuf_mib - 1)) != 0)
		fail(EXIT_USAGE, "--ringbuf-mib: must be a power of two, got %u", opt.ringbuf_mib);
	if (strcmp(opt.attach, "auto") && strcmp(opt.attach, "tcx") && strcmp(opt.attach, "tc"))
		fail(EXIT_USAGE, "--attach: expected auto, tcx or tc, got \"%s\"", opt.attach);

	if (opt.n_rings && opt.socket_path)
		fail(EXIT_USAGE, "--ring-out: not with --socket (the sensor's workers read FIFOs it made for this loader)");

	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		fail(EXIT_NO_BTF, "kernel has no BTF (/sys/kernel/btf/vmlinux missing): the eBPF feed needs CONFIG_DEBUG_INFO_BTF=y");
	int ifindex = (int)if_nametoindex(opt.iface);
	if (!ifindex)
		fail(EXIT_IFACE, "no such interface: %s", opt.iface);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	libbpf_set_print(libbpf_log);

	/* Opened first: each open waits for its worker to have the FIFO open for reading. */
	for (unsigned i = 0; i < opt.n_rings; i++) {
		int fd = open(opt.ring_out[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fail(EXIT_IO, "cannot open --ring-out %s: %s", opt.ring_out[i], strerror(errno));
		rings_out[i].fd = fd;
		rings_out[i].buf = malloc(OUT_CAP);
		if (!rings_out[i].buf)
			fail(EXIT_IO, "out of memory");
	}

	skel = flow_bpf__open();
	if (!skel)
		fail(EXIT_NO_BTF, "cannot open the BPF object: %s", strerror(errno));
	skel->rodata->snap_len = opt.snap;
	skel->rodata->max_fwd_packets = opt.max_pkts;
	skel->rodata->max_fwd_bytes = opt.max_bytes;
	skel->rodata->n_rings = opt.n_rings;
	bpf_map__set_max_entries(skel->maps.flows, opt.max_flows);
	/* In 64 bits: in 32, 4096 MiB wrapped to 0. The bound above keeps it within the map's u32. */
	uint64_t ring_bytes = (uint64_t)opt.ringbuf_mib << 20;
	if (ring_bytes > UINT32_MAX)
		fail(EXIT_USAGE, "--ringbuf-mib: %u MiB does not fit a ring buffer map", opt.ringbuf_mib);
	bpf_map__set_max_entries(skel->maps.events, (__u32)ring_bytes);
	/*
	 * Each worker's ring is as large as the shared one (--ringbuf-mib is per ring). They are made
	 * before load so that the first serves as the outer map's template (libbpf 1.1 cannot resize
	 * the template it would make from the BTF definition) and none is missing once attached.
	 */
	int ring_fds[NDR_RINGS_MAX];
	for (unsigned i = 0; i < opt.n_rings; i++) {
		ring_fds[i] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NULL, 0, 0, (__u32)ring_bytes, NULL);
		if (ring_fds[i] < 0)
			fail(errno == EPERM ? EXIT_NO_CAP : EXIT_ATTACH, "cannot make worker ring %u: %s", i, strerror(errno));
	}
	if (opt.n_rings && bpf_map__set_inner_map_fd(skel->maps.rings, ring_fds[0]))
		fail(EXIT_ATTACH, "cannot set the worker rings' template: %s", strerror(errno));
	int err = flow_bpf__load(skel);
	if (err) {
		if (err == -EPERM)
			fail(EXIT_NO_CAP, "no capability to load eBPF (need CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON, or root): %s", strerror(-err));
		fail(EXIT_ATTACH, "loading the eBPF program failed: %s (%s; run with --verbose for the verifier log)", strerror(-err),
		     err == -EACCES ? "rejected by the verifier" : "kernel refused the object");
	}
	int prog_fd = bpf_program__fd(skel->progs.ndr_tc);
	/* Installed before attaching: no packet of a worker's flow goes to the shared ring for want of its ring. */
	for (unsigned i = 0; i < opt.n_rings; i++)
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.rings), &i, &ring_fds[i], BPF_ANY))
			fail(EXIT_ATTACH, "cannot install worker ring %u: %s", i, strerror(errno));

	/* Attach: tcx links (kernel >= 6.6) go away with this process; tc clsact is the fallback. */
	int mode = 0, links[2] = { -1, -1 };
	bool hook_created = false;
	struct bpf_tc_hook hook;
	memset(&hook, 0, sizeof(hook));
	hook.sz = sizeof(hook);
	hook.ifindex = ifindex;
	int npoints = opt.egress ? 2 : 1;
	if (strcmp(opt.attach, "tc") != 0) {
		int e = 0;
		for (int i = 0; i < npoints; i++) {
			links[i] = bpf_link_create(prog_fd, ifindex, i ? ATTACH_TCX_EGRESS : ATTACH_TCX_INGRESS, NULL);
			if (links[i] < 0) {
				e = links[i];
				break;
			}
		}
		if (e == 0)
			mode = 1;
		else {
			for (int i = 0; i < 2; i++)
				if (links[i] >= 0)
					close(links[i]);
			if (!strcmp(opt.attach, "tcx"))
				fail(e == -EPERM ? EXIT_NO_CAP : EXIT_ATTACH, "attaching tcx to %s failed: %s", opt.iface, strerror(-e));
		}
	}
	if (!mode) {
		hook.attach_point = opt.egress ? (BPF_TC_INGRESS | BPF_TC_EGRESS) : BPF_TC_INGRESS;
		int e = bpf_tc_hook_create(&hook);
		if (e && e != -EEXIST)
			fail(e == -EPERM ? EXIT_NO_CAP : EXIT_ATTACH, "creating the clsact qdisc on %s failed: %s", opt.iface, strerror(-e));
		hook_created = e == 0;
		for (int i = 0; i < npoints; i++) {
			hook.attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS;
			LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog_fd, .handle = 0x4e44, .priority = 1, .flags = BPF_TC_F_REPLACE);
			e = bpf_tc_attach(&hook, &o);
			if (e)
				fail(e == -EPERM ? EXIT_NO_CAP : EXIT_ATTACH, "tc attach on %s failed: %s", opt.iface, strerror(-e));
		}
		mode = 2;
	}

	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_ring, &out, NULL);
	if (!rb)
		fail(EXIT_ATTACH, "cannot open the ring buffer: %s", strerror(errno));
	for (unsigned i = 0; i < opt.n_rings; i++)
		if (ring_buffer__add(rb, ring_fds[i], on_ring, &rings_out[i]))
			fail(EXIT_ATTACH, "cannot open worker ring %u: %s", i, strerror(errno));

	int listen_fd = -1;
	if (opt.socket_path) {
		listen_fd = listen_socket();
	} else {
		out.fd = STDOUT_FILENO;
		in_fd = STDIN_FILENO;
	}
	update_clock_offset();
	if (out.fd >= 0)
		emit_ready(ifindex, mode);

	uint64_t next_stats = now_ms() + opt.stats_ms;
	/* The idle scan walks the whole flow map: a quarter of the idle timeout, within [50 ms, 10 s]. */
	uint64_t scan_every = opt.idle_ms / 4;
	if (scan_every < 50)
		scan_every = 50;
	if (scan_every > 10000)
		scan_every = 10000;
	uint64_t next_scan = now_ms() + scan_every;
	while (!stopping) {
		struct pollfd pf[3];
		int n = 0;
		pf[n].fd = ring_buffer__epoll_fd(rb);
		pf[n++].events = POLLIN;
		int in_i = -1, l_i = -1;
		if (in_fd >= 0) {
			in_i = n;
			pf[n].fd = in_fd;
			pf[n++].events = POLLIN;
		}
		if (listen_fd >= 0 && out.fd < 0) {
			l_i = n;
			pf[n].fd = listen_fd;
			pf[n++].events = POLLIN;
		}
		int r = poll(pf, (nfds_t)n, 50);
		if (r < 0 && errno != EINTR)
			fail(EXIT_IO, "poll: %s", strerror(errno));
		ring_buffer__consume(rb);
		if (in_i >= 0 && r > 0 && (pf[in_i].revents & (POLLIN | POLLHUP | POLLERR)))
			read_commands();
		if (l_i >= 0 && r > 0 && (pf[l_i].revents & POLLIN)) {
			int cfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd >= 0) {
				out.fd = in_fd = cfd;
				emit_ready(ifindex, mode);
			}
		}
		uint64_t now = now_ms();
		linger_run(false);
		if (now >= next_scan) {
			idle_scan();
			next_scan = now + scan_every;
		}
		if (now >= next_stats) {
			update_clock_offset();
			emit_stats();
			next_stats = now + opt.stats_ms;
		}
		flush_out();
	}

	/* Orderly stop: deliver what is queued, then detach. */
	ring_buffer__consume(rb);
	linger_run(true);
	emit_stats();
	flush_out();
	ring_buffer__free(rb);
	if (mode == 1) {
		for (int i = 0; i < 2; i++)
			if (links[i] >= 0)
				close(links[i]);
	} else if (mode == 2) {
		for (int i = 0; i < npoints; i++) {
			hook.attach_point = i ? BPF_TC_EGRESS : BPF_TC_INGRESS;
			LIBBPF_OPTS(bpf_tc_opts, o, .handle = 0x4e44, .priority = 1);
			bpf_tc_detach(&hook, &o);
		}
		if (hook_created) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
	}
	if (opt.socket_path)
		unlink(opt.socket_path);
	flow_bpf__destroy(skel);
	return 0;
}
