// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pktbench: ns per packet through kanary_xdp and kanary_tc, measured with
 * BPF_PROG_TEST_RUN and `repeat`, beside a floor program (MAC swap).
 *
 * Every run of the program under test must start from the original frame
 * (a rewriting program would otherwise meet its own output from the second
 * run on and take another branch), so each case runs behind a wrapper
 * (bpf/bench_wrap.bpf.c) that restores the frame and tail-calls the
 * program. The wrapper's own cost, wrapped(nop) - nop, is measured in
 * every round and subtracted:
 *
 *   ns(case) = wrapped(case) - (wrapped(nop) - nop)
 *
 * which is what a direct run of the program on a fresh frame would take,
 * the test-run loop's overhead included, as in the floor's figure. Rounds
 * alternate every measurement; the median over rounds is reported.
 *
 * Environment as in tests/bpf/test_packet.c: a network namespace of its
 * own with the lab's veths, addresses and permanent neighbours, private
 * (unpinned) maps, the lab's 70/30 config through the real compiler.
 * Runs as root, from the repository root. docs/bench-packet.md has the
 * method and the numbers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "bench_wrap.skel.h"
#include "compile.h"
#include "config.h"
#include "kanary.skel.h"
#include "pins.h"
#include "pkt.h"
#include "floor.skel.h"

#define VIP "198.18.0.1"
#define CLIENT "198.18.0.2"
#define NON_VIP "198.18.0.9"
#define FRAME_LEN 64 /* BW_FRAME_LEN in bpf/bench_wrap.bpf.c */
#define EST_SPORT 40000

#define XDP_PASS_ 2
#define XDP_TX_ 3
#define XDP_REDIRECT_ 4
#define TC_ACT_OK_ 0
#define TC_ACT_REDIRECT_ 7

#define MAX_ROUNDS 101
#define CPUTIME_MIN_REPEAT 1000000
#define SYN_RETRIES 5

/* Must match struct bw_frame in bpf/bench_wrap.bpf.c. */
struct bw_frame {
	uint64_t data[FRAME_LEN / 8];
	uint32_t vary;
	uint32_t pad;
};

static struct bench_wrap_bpf *bw;
static struct floor_bpf *xp;
static int ncpu;
static bool verbose;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "pktbench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static const char *lab_dir(void)
{
	return pkt_lab_dir();
}

/* ---- environment: as tests/bpf/test_packet.c ---- */

static void netns_up(void)
{
	if (pkt_lab_netns())
		die("cannot set up the lab's network namespace (needs root)");
}

/*
 * One loaded copy of kanary's object: the build's own (the skeleton), or
 * another build of bpf/kanary.bpf.c given with --compare, measured in the
 * same rounds (its maps are its own, configured the same way).
 */
struct kinst {
	const char *tag; /* NULL for the build's own */
	struct bpf_object *obj;
	struct kn_maps maps;
	int xdp_fd, tc_fd;
	struct kanary_flow_key keep[2]; /* the established connection */
};

static void kinst_load(struct kinst *ki, struct bpf_object *obj,
		       struct kanary_bpf *skel)
{
	struct kanary_cfg cfg = { .hash_seed = 0x12345 };
	struct bpf_map *map;
	uint32_t zero = 0;

	/* Private maps: nothing of the benchmark is pinned anywhere. */
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	if (skel ? kanary_bpf__load(skel) : bpf_object__load(obj))
		die("%s: BPF load/verify failed", ki->tag ? ki->tag : "kanary");
	ki->obj = obj;
	for (int i = 0; i < KN_MAP_COUNT; i++) {
		map = bpf_object__find_map_by_name(obj, kn_map_names[i]);
		if (!map)
			die("no map %s", kn_map_names[i]);
		ki->maps.fd[i] = bpf_map__fd(map);
	}
	ki->xdp_fd = bpf_program__fd(
		bpf_object__find_program_by_name(obj, "kanary_xdp"));
	ki->tc_fd = bpf_program__fd(
		bpf_object__find_program_by_name(obj, "kanary_tc"));
	if (ki->xdp_fd < 0 || ki->tc_fd < 0)
		die("no kanary_xdp/kanary_tc program");
	if (bpf_map_update_elem(ki->maps.fd[KN_MAP_CFG], &zero, &cfg, 0))
		die("kn_cfg: %s", strerror(errno));
}

/* The lab's base manifests, the endpoints and the 70/30 VirtualService,
 * validated, compiled and applied as test_packet.c's read_lab() and
 * apply_config() do. */
static void apply_lab_70_30(const struct kinst *ki)
{
	static const char *const files[] = { "gateway.yaml", "service.yaml",
					     "destinationrule.yaml", NULL,
					     "virtualservice-weight-70.yaml" };
	struct kn_load_info li = { .n_vips = 1 };
	struct kn_config cfg;
	struct kn_compiled c;
	struct kn_err err = { { 0 } };
	char path[512];

	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i])
			snprintf(path, sizeof(path), "%s/%s", lab_dir(),
				 files[i]);
		else
			snprintf(path, sizeof(path),
				 "tests/lab/endpoints.yaml");
		if (kn_config_read_path(&cfg, path, &err))
			die("%s", err.msg);
	}
	li.vips[0] = pkt_addr(VIP);
	if (kn_config_validate(&cfg, &err) || kn_compile(&cfg, &c, &err))
		die("%s", err.msg);
	if (kn_apply_compiled(&ki->maps, &li, &c, &err))
		die("apply: %s", err.msg);
	kn_compiled_free(&c);
	kn_config_free(&cfg);
}

/* ---- counters of the data path, summed over CPUs ---- */

struct snap {
	uint64_t g[KANARY_G_MAX];
	uint64_t conns, to_ep, to_client;
};

static void snap_take(const struct kinst *ki, struct snap *s)
{
	uint64_t v[ncpu];
	struct kanary_subset_stats st[ncpu];

	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < KANARY_G_MAX; i++) {
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_GLOBAL], &i, v))
			die("kn_global: %s", strerror(errno));
		for (int c = 0; c < ncpu; c++)
			s->g[i] += v[c];
	}
	/* The lab's config has two rows (resnet50, resnet101). */
	for (uint32_t r = 0; r < 4; r++) {
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_STATS], &r, st))
			die("kn_stats: %s", strerror(errno));
		for (int c = 0; c < ncpu; c++) {
			s->conns += st[c].connections;
			s->to_ep += st[c].packets_to_endpoint;
			s->to_client += st[c].packets_to_client;
		}
	}
}

/* kernel.bpf_stats_enabled: when on, the kernel times every program run
 * itself (two clock reads per run), which swamps what is measured here. */
static bool bpf_stats_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r");
	int v = 0;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v != 0;
}

/* ---- kn_flows housekeeping for the new-flow case ---- */

/* Delete every flow except the established connection the est-* cases
 * use: each new-flow window starts from the same, nearly empty table. */
static void flows_clear(const struct kinst *ki)
{
	int fd = ki->maps.fd[KN_MAP_FLOWS];
	size_t cap = 1 << 16, n = 0, j = 0;
	struct kanary_flow_key *keys = malloc(cap * sizeof(*keys)), k, prev;
	bool first = true;
	uint32_t count;

	if (!keys)
		die("out of memory");
	while (!bpf_map_get_next_key(fd, first ? NULL : &prev, &k)) {
		first = false;
		prev = k;
		if (n == cap) {
			cap *= 2;
			keys = realloc(keys, cap * sizeof(*keys));
			if (!keys)
				die("out of memory");
		}
		keys[n++] = k;
	}
	for (size_t i = 0; i < n; i++) {
		if (memcmp(&keys[i], &ki->keep[0], sizeof(k)) &&
		    memcmp(&keys[i], &ki->keep[1], sizeof(k)))
			keys[j++] = keys[i];
	}
	count = j;
	if (j && bpf_map_delete_batch(fd, keys, &count, NULL)) {
		for (size_t i = 0; i < j; i++)
			bpf_map_delete_elem(fd, &keys[i]);
	}
	free(keys);
}

/* ---- running programs ---- */

struct target {
	bool tc;
	int ifindex; /* where the frame arrives */
};

static int prog_run(int fd, const struct target *t, const struct pkt_buf *in,
		    struct pkt_buf *out, uint32_t repeat, double *ns)
{
	struct xdp_md xctx = { .data_end = in->len,
			       .ingress_ifindex = t->ifindex };
	struct __sk_buff sctx = { .ifindex = t->ifindex };
	static struct pkt_buf scratch;
	struct timespec a, b;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data,
		    .data_size_in = in->len, .repeat = repeat);

	if (!out)
		out = &scratch;
	o.data_out = out->data;
	o.data_size_out = sizeof(out->data);
	if (t->tc) {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	} else {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	/*
	 * The kernel's `duration` is the loop's time per run in whole ns.
	 * With many runs, the thread's CPU time around the call gives a
	 * fraction of a ns more; it also counts the call's setup (up to
	 * ~0.5 ms for XDP, which swaps the XDP dispatcher), negligible only
	 * when spread over 1M runs or more. Neither counts time preempted.
	 */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	if (bpf_prog_test_run_opts(fd, &o))
		die("test run: %s", strerror(errno));
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	out->len = o.data_size_out;
	if (ns && repeat >= CPUTIME_MIN_REPEAT)
		*ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) /
		      repeat;
	else if (ns)
		*ns = o.duration;
	return o.retval;
}

/* Put frame f behind the wrapper (vary: a new client every run) and prog
 * in its tail-call slot; return the wrapper's fd. */
static int wrap(const struct target *t, int prog_fd, const struct pkt_buf *f,
		bool vary)
{
	struct bw_frame fr = { .vary = vary };
	uint32_t zero = 0;
	int pa = bpf_map__fd(t->tc ? bw->maps.bw_tc_progs :
				     bw->maps.bw_xdp_progs);

	if (f->len != FRAME_LEN)
		die("frame of %zu bytes, the wrapper restores %d", f->len,
		    FRAME_LEN);
	memcpy(fr.data, f->data, FRAME_LEN);
	if (bpf_map_update_elem(bpf_map__fd(bw->maps.bw_frame), &zero, &fr, 0))
		die("bw_frame: %s", strerror(errno));
	if (bpf_map_update_elem(pa, &zero, &prog_fd, 0))
		die("prog array: %s", strerror(errno));
	return bpf_program__fd(t->tc ? bw->progs.bw_tc : bw->progs.bw_xdp);
}

/* A 64-byte frame: the segment, padded to the Ethernet minimum. */
static void frame(struct pkt_buf *b, const char *saddr, const char *daddr,
		  uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq)
{
	struct pkt_spec s = { .saddr = saddr,
			      .daddr = daddr,
			      .sport = sport,
			      .dport = dport,
			      .flags = flags,
			      .seq = seq,
			      .ack = flags & 0x10 ? 5000 : 0 };

	pkt_build(&s, b);
	b->len = FRAME_LEN; /* pkt_build zeroed the padding */
}

/* ---- the cases ---- */

enum kase {
	K_NOP, /* trivial program, direct: the loop's own cost */
	K_WRAP_NOP, /* wrapper + trivial program */
	K_WRAP_NOP_VARY, /* wrapper in new-flow mode + trivial program */
	K_FLOOR, /* wrapped, like every case below but the direct ones */
	K_FLOOR_DIRECT,
	K_NONVIP,
	K_NONVIP_DIRECT,
	K_SYN,
	K_EST_FWD,
	K_EST_REV,
	K_COUNT,
};

static const char *const kase_name[K_COUNT] = {
	[K_NOP] = "nop (direct)",
	[K_WRAP_NOP] = "wrapper+nop",
	[K_WRAP_NOP_VARY] = "wrapper(vary)+nop",
	[K_FLOOR] = "floor",
	[K_FLOOR_DIRECT] = "floor (direct)",
	[K_NONVIP] = "non-vip",
	[K_NONVIP_DIRECT] = "non-vip (direct)",
	[K_SYN] = "syn-new-flow",
	[K_EST_FWD] = "est-to-endpoint",
	[K_EST_REV] = "est-to-client",
};

/* One program under test (a hook of one kanary copy) and its floor. */
struct bench {
	bool tc;
	char name[64];
	const char *floor_name;
	struct kinst *ki;
	int kanary_fd, floor_fd, nop_fd;
	struct target c0, ep; /* arriving from the client / the endpoint */
	struct pkt_buf nonvip, syn, est_fwd, est_rev;
	int v_redirect, v_pass, v_floor;
	double raw[K_COUNT][MAX_ROUNDS];
	double ns[K_COUNT][MAX_ROUNDS]; /* wrapper subtracted */
	uint32_t repeat[K_COUNT];
};

static void expect(bool ok, const struct bench *b, const char *what,
		   const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	fprintf(stderr, "pktbench: %s %s: wrong branch: ", b->name, what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint32_t ep_index(uint32_t addr)
{
	return (ntohl(addr) >> 8) & 0xff; /* 198.18.<i>.2 -> i */
}

/*
 * Run each case once (repeat = 1) through the wrapper, as it will be
 * measured, and check the verdict and the frame that comes out: a
 * benchmark of the wrong branch is worthless.
 */
static void check_cases(struct bench *b, uint32_t ep_addr, uint32_t snat_addr,
			uint16_t snat_port)
{
	struct pkt_buf out;
	struct pkt_tuple t = { 0 };
	char ep_mac[6] = { 2, 0, 0, 0, 0, 2 }, gw_mac[6] = { 2, 0, 0, 0, 0, 1 };
	int v, fd;

	ep_mac[4] = gw_mac[4] = ep_index(ep_addr);

	fd = wrap(&b->c0, b->nop_fd, &b->nonvip, false);
	v = prog_run(fd, &b->c0, &b->nonvip, &out, 1, NULL);
	expect(v == b->v_pass, b, "wrapper+nop", "verdict %d", v);

	fd = wrap(&b->c0, b->floor_fd, &b->nonvip, false);
	v = prog_run(fd, &b->c0, &b->nonvip, &out, 1, NULL);
	expect(v == b->v_floor, b, "floor", "verdict %d", v);
	expect(!memcmp(out.data, b->nonvip.data + 6, 6) &&
		       !memcmp(out.data + 6, b->nonvip.data, 6),
	       b, "floor", "MACs not swapped");

	fd = wrap(&b->c0, b->kanary_fd, &b->nonvip, false);
	v = prog_run(fd, &b->c0, &b->nonvip, &out, 1, NULL);
	expect(v == b->v_pass, b, "non-vip", "verdict %d", v);
	expect(out.len == FRAME_LEN &&
		       !memcmp(out.data, b->nonvip.data, FRAME_LEN),
	       b, "non-vip", "packet was modified");

	/* Three runs: each must be a new flow of its own. */
	fd = wrap(&b->c0, b->kanary_fd, &b->syn, true);
	for (int i = 0; i < 3; i++) {
		struct pkt_tuple prev = t;

		v = prog_run(fd, &b->c0, &b->syn, &out, 1, NULL);
		expect(v == b->v_redirect, b, "syn", "verdict %d", v);
		expect(!pkt_check(&out, &t), b, "syn", "bad checksum");
		expect(ep_index(t.daddr) >= 1 && ep_index(t.daddr) <= 3 &&
			       t.dport == 8501 && t.flags == 0x02 &&
			       ntohl(t.saddr) == ntohl(t.daddr) - 1 &&
			       t.sport >= KANARY_SNAT_PORT_MIN &&
			       t.sport <= KANARY_SNAT_PORT_MAX,
		       b, "syn", "not NATed to an endpoint");
		expect(!i || t.daddr != prev.daddr || t.sport != prev.sport, b,
		       "syn", "two runs made the same flow");
	}

	fd = wrap(&b->c0, b->kanary_fd, &b->est_fwd, false);
	v = prog_run(fd, &b->c0, &b->est_fwd, &out, 1, NULL);
	expect(v == b->v_redirect, b, "est-to-endpoint", "verdict %d", v);
	expect(!pkt_check(&out, &t) && t.daddr == ep_addr &&
		       t.saddr == snat_addr && t.sport == snat_port &&
		       t.dport == 8501 && t.flags == 0x10,
	       b, "est-to-endpoint", "not NATed to its endpoint");
	expect(!memcmp(out.data, ep_mac, 6) && !memcmp(out.data + 6, gw_mac, 6),
	       b, "est-to-endpoint", "MACs are not the FIB's");

	fd = wrap(&b->ep, b->kanary_fd, &b->est_rev, false);
	v = prog_run(fd, &b->ep, &b->est_rev, &out, 1, NULL);
	expect(v == b->v_redirect, b, "est-to-client", "verdict %d", v);
	expect(!pkt_check(&out, &t) && t.saddr == pkt_addr(VIP) &&
		       t.daddr == pkt_addr(CLIENT) && t.sport == 80 &&
		       t.dport == EST_SPORT && t.flags == 0x10,
	       b, "est-to-client", "not translated back to the client");
	expect(!memcmp(out.data, "\x02\x00\x00\x00\x00\x02", 6) &&
		       !memcmp(out.data + 6, "\x02\x00\x00\x00\x00\x01", 6),
	       b, "est-to-client", "MACs are not the FIB's");
}

/*
 * Open the established connection the est-* cases use, in ki's maps: a
 * SYN from the client through kanary_xdp, then the endpoint's SYN-ACK,
 * which teaches the reply entry its next hop. Fills the frames of both
 * hooks' benches and checks every case once.
 */
static void establish(struct kinst *ki, struct bench *bx, struct bench *bt)
{
	struct target c0 = { .tc = false, .ifindex = if_nametoindex("c0") };
	struct target et = { .tc = false };
	struct pkt_buf in, out;
	struct pkt_tuple fwd, back;
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	int v;

	frame(&in, CLIENT, VIP, EST_SPORT, 80, 0x02, 1000);
	v = prog_run(ki->xdp_fd, &c0, &in, &out, 1, NULL);
	if (v != XDP_REDIRECT_ || pkt_check(&out, &fwd))
		die("establishing: SYN verdict %d", v);
	inet_ntop(AF_INET, &fwd.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &fwd.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", ep_index(fwd.daddr));
	et.ifindex = if_nametoindex(ifname);

	frame(&in, ep, snat, 8501, fwd.sport, 0x12, 7000);
	v = prog_run(ki->xdp_fd, &et, &in, &out, 1, NULL);
	if (v != XDP_REDIRECT_ || pkt_check(&out, &back) ||
	    back.daddr != pkt_addr(CLIENT))
		die("establishing: SYN-ACK verdict %d", v);

	for (int i = 0; i < 2; i++) {
		struct bench *b = i ? bt : bx;

		b->c0 = (struct target){ .tc = b->tc, .ifindex = c0.ifindex };
		b->ep = (struct target){ .tc = b->tc, .ifindex = et.ifindex };
		frame(&b->nonvip, CLIENT, NON_VIP, 40100, 80, 0x10, 3000);
		/* Its source is replaced every run (bench_wrap.bpf.c). */
		frame(&b->syn, CLIENT, VIP, 1024, 80, 0x02, 1000);
		frame(&b->est_fwd, CLIENT, VIP, EST_SPORT, 80, 0x10, 1001);
		frame(&b->est_rev, ep, snat, 8501, fwd.sport, 0x10, 7001);
	}

	/* The two entries of this connection survive flows_clear(). */
	ki->keep[0] = (struct kanary_flow_key){ .saddr = pkt_addr(CLIENT),
						.daddr = pkt_addr(VIP),
						.sport = htons(EST_SPORT),
						.dport = htons(80),
						.proto = IPPROTO_TCP };
	ki->keep[1] = (struct kanary_flow_key){ .saddr = fwd.daddr,
						.daddr = fwd.saddr,
						.sport = htons(8501),
						.dport = htons(fwd.sport),
						.proto = IPPROTO_TCP };

	check_cases(bx, fwd.daddr, fwd.saddr, fwd.sport);
	check_cases(bt, fwd.daddr, fwd.saddr, fwd.sport);
	flows_clear(ki);
}

/*
 * One measurement: ns/packet as measured (wrapper included), or -1 when
 * a SYN of the window found no free SNAT port (measured again).
 */
static double measure(struct bench *b, enum kase k, uint32_t repeat)
{
	const struct target *t = &b->c0;
	const struct pkt_buf *f = &b->nonvip;
	struct snap s0, s1;
	double ns;
	int fd;

	switch (k) {
	case K_NOP:
		fd = b->nop_fd;
		break;
	case K_WRAP_NOP:
		fd = wrap(t, b->nop_fd, f, false);
		break;
	case K_WRAP_NOP_VARY:
		f = &b->syn;
		fd = wrap(t, b->nop_fd, f, true);
		break;
	case K_FLOOR:
		fd = wrap(t, b->floor_fd, f, false);
		break;
	case K_FLOOR_DIRECT:
		fd = b->floor_fd;
		break;
	case K_NONVIP:
		fd = wrap(t, b->kanary_fd, f, false);
		break;
	case K_NONVIP_DIRECT:
		fd = b->kanary_fd;
		break;
	case K_SYN:
		f = &b->syn;
		fd = wrap(t, b->kanary_fd, f, true);
		flows_clear(b->ki);
		break;
	case K_EST_FWD:
		f = &b->est_fwd;
		fd = wrap(t, b->kanary_fd, f, false);
		break;
	case K_EST_REV:
		t = &b->ep;
		f = &b->est_rev;
		fd = wrap(t, b->kanary_fd, f, false);
		break;
	default:
		abort();
	}

	snap_take(b->ki, &s0);
	prog_run(fd, t, f, NULL, repeat, &ns);
	snap_take(b->ki, &s1);

	/* Every run took the branch it is meant to: the counters say so. */
#define D(field) (s1.field - s0.field)
	switch (k) {
	case K_NONVIP:
	case K_NONVIP_DIRECT:
		expect(D(g[KANARY_G_PASS_NO_FLOW]) == repeat, b, kase_name[k],
		       "%llu of %u runs passed as no-flow",
		       (unsigned long long)D(g[KANARY_G_PASS_NO_FLOW]), repeat);
		break;
	case K_SYN:
		flows_clear(b->ki);
		expect(D(g[KANARY_G_NEW_FLOW]) +
					       D(g[KANARY_G_SNAT_EXHAUSTED]) ==
				       repeat &&
			       D(conns) == D(g[KANARY_G_NEW_FLOW]) &&
			       D(to_ep) == D(conns),
		       b, kase_name[k], "%llu new flows in %u runs",
		       (unsigned long long)D(g[KANARY_G_NEW_FLOW]), repeat);
		/* A SYN of this window found no free SNAT port (see
		 * docs/bench-packet.md): not a clean window. */
		if (D(g[KANARY_G_SNAT_EXHAUSTED]))
			return -1;
		break;
	case K_EST_FWD:
		expect(D(to_ep) == repeat, b, kase_name[k],
		       "%llu forwarded in %u runs",
		       (unsigned long long)D(to_ep), repeat);
		break;
	case K_EST_REV:
		expect(D(to_client) == repeat, b, kase_name[k],
		       "%llu forwarded in %u runs",
		       (unsigned long long)D(to_client), repeat);
		break;
	default:
		break;
	}
	if (k >= K_NONVIP)
		expect(D(g[KANARY_G_FIB_PASS]) == 0 &&
			       D(g[KANARY_G_PASS_NOT_TCP]) == 0 &&
			       (k == K_SYN || D(g[KANARY_G_NEW_FLOW]) == 0),
		       b, kase_name[k], "unexpected counters");
#undef D
	return ns;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void bench_init(struct bench *b, bool tc, struct kinst *ki)
{
	memset(b, 0, sizeof(*b));
	b->tc = tc;
	b->ki = ki;
	snprintf(b->name, sizeof(b->name), "%s%s%s",
		 tc ? "kanary_tc" : "kanary_xdp", ki->tag ? "@" : "",
		 ki->tag ? ki->tag : "");
	if (tc) {
		b->floor_name = "tc_floor";
		b->kanary_fd = ki->tc_fd;
		b->floor_fd = bpf_program__fd(xp->progs.tc_floor);
		b->nop_fd = bpf_program__fd(bw->progs.bw_tc_nop);
		b->v_redirect = TC_ACT_REDIRECT_;
		b->v_pass = TC_ACT_OK_;
		b->v_floor = TC_ACT_OK_;
	} else {
		b->floor_name = "xdp_floor";
		b->kanary_fd = ki->xdp_fd;
		b->floor_fd = bpf_program__fd(xp->progs.xdp_floor);
		b->nop_fd = bpf_program__fd(bw->progs.bw_xdp_nop);
		b->v_redirect = XDP_REDIRECT_;
		b->v_pass = XDP_PASS_;
		b->v_floor = XDP_TX_;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pktbench [--quick] [--rounds N] [--repeat N] "
		"[--syn-repeat N] [--tsv FILE]\n"
		"                [--compare OBJ [--tag NAME]] [--verbose]\n"
		"  ns/packet of kanary_xdp and kanary_tc through "
		"BPF_PROG_TEST_RUN, beside a MAC-swap floor,\n"
		"  on CPU 0. Defaults: 7 rounds, repeat 2000000 (new-flow case "
		"20000); --quick: 3 rounds,\n"
		"  200000 (new-flow case 5000). --compare: also measure "
		"another build of kanary.bpf.o\n"
		"  in the same rounds and report the difference. Run as root "
		"from the repository root\n"
		"  (lab files in $KANARY_LAB_DIR or ../shared/lab).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "syn-repeat", required_argument, NULL, 's' },
		{ "tsv", required_argument, NULL, 't' },
		{ "compare", required_argument, NULL, 'c' },
		{ "tag", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const enum kase shown[] = { K_FLOOR, K_NONVIP, K_SYN, K_EST_FWD,
					   K_EST_REV };
	static struct kinst inst[2];
	static struct bench benches[4];
	int rounds = 7, c, n_inst = 1, n_bench;
	uint32_t repeat = 2000000, syn_repeat = 20000;
	bool quick = false, set_rounds = false, set_rep = false,
	     set_syn = false;
	const char *tsv = NULL, *compare = NULL, *tag = "cmp";
	int stats_waits = 0, stats_discarded = 0, syn_redone = 0;
	struct timespec t0, t1;
	struct kanary_bpf *skel;
	cpu_set_t cpus;
	FILE *tf = NULL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quick = true;
			break;
		case 'r':
			rounds = atoi(optarg), set_rounds = true;
			break;
		case 'n':
			repeat = strtoul(optarg, NULL, 0), set_rep = true;
			break;
		case 's':
			syn_repeat = strtoul(optarg, NULL, 0), set_syn = true;
			break;
		case 't':
			tsv = optarg;
			break;
		case 'c':
			compare = optarg;
			break;
		case 'g':
			tag = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (quick) {
		if (!set_rounds)
			rounds = 3;
		if (!set_rep)
			repeat = 200000;
		if (!set_syn)
			syn_repeat = 5000;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1 || syn_repeat < 1 ||
	    syn_repeat > 30000) {
		fprintf(stderr,
			"pktbench: rounds 1..%d, repeat >= 1, syn-repeat "
			"1..30000 (22768 SNAT ports per endpoint)\n",
			MAX_ROUNDS);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* One CPU for stability: test runs execute on the calling CPU. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity(CPU 0): %s", strerror(errno));

	netns_up();
	libbpf_set_print(NULL);
	ncpu = libbpf_num_possible_cpus();

	skel = kanary_bpf__open();
	if (!skel)
		die("open kanary object");
	kinst_load(&inst[0], skel->obj, skel);
	if (compare) {
		struct bpf_object *obj = bpf_object__open_file(compare, NULL);

		if (!obj)
			die("%s: %s", compare, strerror(errno));
		inst[1].tag = tag;
		kinst_load(&inst[1], obj, NULL);
		n_inst = 2;
	}
	bw = bench_wrap_bpf__open_and_load();
	if (!bw)
		die("bench_wrap BPF load/verify failed");
	xp = floor_bpf__open_and_load();
	if (!xp)
		die("floor BPF load/verify failed");

	/* benches: xdp, tc of the build's own, then of --compare's. */
	n_bench = 2 * n_inst;
	for (int i = 0; i < n_inst; i++) {
		apply_lab_70_30(&inst[i]);
		bench_init(&benches[2 * i], false, &inst[i]);
		bench_init(&benches[2 * i + 1], true, &inst[i]);
		establish(&inst[i], &benches[2 * i], &benches[2 * i + 1]);
	}
	for (int p = 0; p < n_bench; p++)
		for (int k = 0; k < K_COUNT; k++)
			benches[p].repeat[k] = k == K_SYN ? syn_repeat : repeat;

	printf("pktbench: pinned to CPU 0; %d rounds; repeat %u (new-flow "
	       "case %u, kn_flows cleared around each window); median per "
	       "case\n",
	       rounds, repeat, syn_repeat);
	fflush(stdout);

	/* Rounds: every measurement of every bench, in turn. A round run
	 * while kernel.bpf_stats_enabled was on is run again. */
	for (int r = 0; r < rounds; r++) {
		if (bpf_stats_on()) {
			if (++stats_waits > 600)
				die("kernel.bpf_stats_enabled stayed 1 for "
				    "10 minutes: the kernel's own timing of "
				    "every run would swamp the measurement");
			if (stats_waits == 1)
				fprintf(stderr,
					"pktbench: kernel.bpf_stats_enabled "
					"is 1 (someone is timing BPF "
					"programs): waiting\n");
			sleep(1);
			r--;
			continue;
		}
		/* Hook by hook, so that a --compare pair runs side by side. */
		for (int q = 0; q < n_bench; q++) {
			struct bench *b =
				&benches[(q % n_inst) * 2 + q / n_inst];

			for (int k = 0; k < K_COUNT; k++) {
				double ns;
				int tries = 0;

				while ((ns = measure(b, k, b->repeat[k])) < 0) {
					syn_redone++;
					if (++tries == SYN_RETRIES)
						die("%s %s: SNAT ports exhausted "
						    "in %d windows in a row: "
						    "lower --syn-repeat",
						    b->name, kase_name[k],
						    SYN_RETRIES);
				}
				b->raw[k][r] = ns;
				if (verbose)
					fprintf(stderr,
						"round %d %-16s %-18s %8.2f\n",
						r, b->name, kase_name[k], ns);
			}
			/* Subtract this round's wrapper cost. */
			for (int k = 0; k < K_COUNT; k++) {
				double w = 0;

				if (k == K_SYN)
					w = b->raw[K_WRAP_NOP_VARY][r] -
					    b->raw[K_NOP][r];
				else if (k != K_NOP && k != K_FLOOR_DIRECT &&
					 k != K_NONVIP_DIRECT)
					w = b->raw[K_WRAP_NOP][r] -
					    b->raw[K_NOP][r];
				b->ns[k][r] = b->raw[k][r] - w;
			}
		}
		if (bpf_stats_on()) {
			/* Switched on during the round: run it again. */
			if (++stats_discarded > 3 * rounds)
				die("kernel.bpf_stats_enabled keeps being "
				    "switched on");
			r--;
		}
	}

	/* Results. */
	if (tsv) {
		tf = fopen(tsv, "w");
		if (!tf)
			die("%s: %s", tsv, strerror(errno));
		fprintf(tf, "program\tcase\tns\tratio\trounds\trepeat\n");
	}
	printf("\n| program | case | ns/packet (median) | ratio to floor | "
	       "rounds | repeat |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
	for (int p = 0; p < n_bench; p++) {
		struct bench *b = &benches[p];
		double floor_ns = median(b->ns[K_FLOOR], rounds);

		for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
			enum kase k = shown[i];
			const char *prog = k == K_FLOOR ? b->floor_name :
							  b->name;
			double ns = median(b->ns[k], rounds);

			if (k == K_FLOOR && b->ki->tag)
				continue; /* the same floor, measured again */
			printf("| %s | %s | %.1f | %.2f | %d | %u |\n", prog,
			       kase_name[k], ns, ns / floor_ns, rounds,
			       b->repeat[k]);
			if (tf)
				fprintf(tf, "%s\t%s\t%.2f\t%.3f\t%d\t%u\n",
					prog, kase_name[k], ns, ns / floor_ns,
					rounds, b->repeat[k]);
		}
	}
	if (tf && fclose(tf))
		die("%s: %s", tsv, strerror(errno));

	printf("\nWrapper cost subtracted (median over rounds of wrapped(nop) "
	       "- nop: restore of the %d-byte frame + tail call):\n",
	       FRAME_LEN);
	for (int p = 0; p < n_bench; p++) {
		struct bench *b = &benches[p];
		double w[MAX_ROUNDS], wv[MAX_ROUNDS];

		if (b->ki->tag)
			continue;
		for (int r = 0; r < rounds; r++) {
			w[r] = b->raw[K_WRAP_NOP][r] - b->raw[K_NOP][r];
			wv[r] = b->raw[K_WRAP_NOP_VARY][r] - b->raw[K_NOP][r];
		}
		printf("  %-10s %.1f ns; with a new client per run (new-flow "
		       "case) %.1f ns; nop alone %.1f ns\n",
		       b->name, median(w, rounds), median(wv, rounds),
		       median(b->raw[K_NOP], rounds));
	}
	printf("Check of the subtraction where no restore is needed (direct "
	       "run vs wrapped - wrapper):\n");
	for (int p = 0; p < n_bench; p++) {
		struct bench *b = &benches[p];

		if (b->ki->tag)
			continue;
		printf("  %-10s floor %.1f vs %.1f ns, non-vip %.1f vs %.1f "
		       "ns\n",
		       b->name, median(b->ns[K_FLOOR_DIRECT], rounds),
		       median(b->ns[K_FLOOR], rounds),
		       median(b->ns[K_NONVIP_DIRECT], rounds),
		       median(b->ns[K_NONVIP], rounds));
	}
	if (n_inst == 2) {
		printf("Compare: %s minus the build's own, median over rounds "
		       "of the paired difference:\n",
		       tag);
		for (int h = 0; h < 2; h++) {
			struct bench *a = &benches[h], *b = &benches[2 + h];

			printf("  %-10s", a->name);
			for (size_t i = 1; i < sizeof(shown) / sizeof(shown[0]);
			     i++) {
				enum kase k = shown[i];
				double d[MAX_ROUNDS];

				for (int r = 0; r < rounds; r++)
					d[r] = b->ns[k][r] - a->ns[k][r];
				printf(" %s %+.1f ns (%+.0f%%)%s", kase_name[k],
				       median(d, rounds),
				       100 * median(d, rounds) /
					       median(a->ns[k], rounds),
				       i + 1 < sizeof(shown) / sizeof(shown[0]) ?
					       "," :
					       "\n");
			}
		}
	}
	if (syn_redone)
		printf("New-flow windows measured again after a SYN found no "
		       "free SNAT port: %d (see docs/bench-packet.md).\n",
		       syn_redone);
	if (stats_waits || stats_discarded)
		printf("kernel.bpf_stats_enabled was on: waited %d s, ran %d "
		       "rounds again.\n",
		       stats_waits, stats_discarded);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("Verdicts and output frames checked once per case; counters "
	       "checked after every measurement. Total %.1f s.\n",
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

	bench_wrap_bpf__destroy(bw);
	floor_bpf__destroy(xp);
	if (compare)
		bpf_object__close(inst[1].obj);
	kanary_bpf__destroy(skel);
	return 0;
}
