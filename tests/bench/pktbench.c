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
 * The L7 cases (delayed binding) run in a second copy of the same object,
 * with maps of its own and the lab's focused-routing config: one VIP:port
 * takes either the L4 or the L7 path, never both.
 * Runs as root, from the repository root. docs/bench-packet.md has the
 * method and the numbers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/ip.h>
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
#include "bench_katran.skel.h"
#include "bench_katran_hash.h"
#include "bench_parts.skel.h"
#include "bench_wrap.skel.h"
#include "compile.h"
#include "config.h"
#include "kanary.skel.h"
#include "flows.h"
#include "pins.h"
#include "pkt.h"
#include "floor.skel.h"

#define VIP "198.18.0.1"
#define CLIENT "198.18.0.2"
#define NON_VIP "198.18.0.9"
#define FRAME_LEN 64 /* BW_FRAME_LEN in bpf/bench_wrap.bpf.c */
#define EST_SPORT 40000

/* The L7 cases: the lab's focused routing sends `user-group: canary` to
 * resnet101 (EP3), the rest to resnet50. */
#define FOCUSED_VS "virtualservice-focused-routing.yaml"
#define WEIGHT_VS "virtualservice-weight-70.yaml"
#define EP3 "198.18.3.2"
#define L7_FRAME_MAX 512 /* BW_L7_FRAME_MAX in bpf/bench_wrap.bpf.c */
#define L7_SYN_FRAME_LEN 74 /* the SYN kanary sends the endpoint */
#define L7_EST_SPORT 40001
#define HTTP_PAYLOAD 64 /* bytes of data in the HTTP outcome cases */
#define L7_REPEAT_MAX 10000 /* kn_hold: 16384; SNAT ports of one endpoint */
#define CLIENT_ISN 1000000u
#define CLIENT_TS 777000u
#define EP_ISN 5000000u
#define EP_TS 990000u
/* The window of the gateway's SYN-ACK (KANARY_L7_WINDOW where the ABI
 * defines it, one MSS before). */
#ifdef KANARY_L7_WINDOW
#define L7_SYNACK_WINDOW KANARY_L7_WINDOW
#else
#define L7_SYNACK_WINDOW KANARY_L7_MSS
#endif

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

/* Must match struct bw_l7_frame in bpf/bench_wrap.bpf.c. */
struct bw_l7_frame {
	uint64_t data[L7_FRAME_MAX / 8];
	uint32_t len;
	uint32_t vary;
	uint32_t resize;
	uint32_t pad;
};

/* Linux's SYN options: MSS 1460, SACK_PERM, TS (CLIENT_TS, 0), NOP, WS 7
 * (as tests/bpf/test_l7.c). */
static const uint8_t syn_opts[20] = {
	2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x0b,
	0xdb, 0x28, 0,	  0,	0, 0, 1, 3,  3,	   7,
};

/*
 * The first segment: what curl 7.88 sends for
 *   curl -H 'user-group: canary' -H 'Content-Type: application/json' \
 *        --data-binary @image.json http://198.18.0.1/v1/models/...
 * with a body large enough for `Expect: 100-continue`, so that the head
 * is the whole segment. The header the rule asks for comes last.
 */
static const char l7_request[] =
	"POST /v1/models/image_classifier:predict HTTP/1.1\r\n"
	"Host: 198.18.0.1\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 119482\r\n"
	"Expect: 100-continue\r\n"
	"user-group: canary\r\n"
	"\r\n";

static struct bench_wrap_bpf *bw;
static struct floor_bpf *xp;
static int ncpu;
static bool verbose;

/*
 * The Katran model (bpf/bench_katran.bpf.c): its types, as there, and
 * its configuration here: one VIP (the lab's, TCP port 80, VIP number 0),
 * the lab's three endpoints as reals 1..3, the VIP's ring filled with
 * them in turn, one connection table (LRU hash, flags 0) per possible CPU.
 */
#define KB_RING_SIZE 65537
#define KB_MAX_VIPS 512
#define KB_CNT_LRU (KB_MAX_VIPS + 0)
#define KB_CNT_LRU_MISS (KB_MAX_VIPS + 1)
#define KB_CNT_FALLBACK_LRU (KB_MAX_VIPS + 3)
#define KB_N_REALS 3
#define KB_ENCAP_LEN 20 /* the outer IPv4 header */

struct kb_flow {
	uint32_t src[4], dst[4];
	uint16_t port[2]; /* network order, source first */
	uint8_t proto, pad[3];
};

struct kb_vip_key {
	uint32_t addr[4];
	uint16_t port;
	uint8_t proto, pad;
};

struct kb_vip_meta {
	uint32_t flags, vip_num;
};

struct kb_lru_val {
	uint32_t pos;
	uint64_t atime;
};

struct kb_real {
	uint32_t dst[4];
	uint8_t flags, pad[3];
};

struct kb_stat {
	uint64_t v1, v2;
};

/* The default router's MAC, as the model's control array holds it. */
static const uint8_t kb_router_mac[6] = { 2, 0, 0, 0, 0, 0xfe };

static struct bench_katran_bpf *kb;
static int kb_lru_fd[128]; /* per possible CPU */
static uint32_t kb_lru_size = 524288;
static struct kb_flow kb_keep; /* the established flow */
static uint32_t kb_est_real; /* its real's address */

/* bpf/bench_parts.bpf.c: one operation of kanary's SYN path each. */
static struct bench_parts_bpf *kp;

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
	/* Flows that outlive flows_clear(): the established connection; in
	 * the L7 copy also the L4 one's entries, copied there (see
	 * establish_l7). */
	struct kanary_flow_key keep[4];
	int n_keep;
	uint32_t canary_row; /* l7: kn_stats row of resnet101 */
	struct kanary_synq synq; /* l7: what the SYN left in kn_synq */
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
		/* An older object (--compare) may predate kn_conns and
		 * kn_mark_epoch. */
		if (!map && (i == KN_MAP_CONNS || i == KN_MAP_MARK_EPOCH)) {
			ki->maps.fd[i] = -1;
			continue;
		}
		if (!map)
			die("no map %s", kn_map_names[i]);
		ki->maps.fd[i] = bpf_map__fd(map);
	}
	/* An older object (--compare) may predate kn_tx_ports. */
	map = bpf_object__find_map_by_name(obj, "kn_tx_ports");
	if (map && pkt_fill_tx_ports(bpf_map__fd(map)))
		die("kn_tx_ports: %s", strerror(errno));
	ki->xdp_fd = bpf_program__fd(
		bpf_object__find_program_by_name(obj, "kanary_xdp"));
	ki->tc_fd = bpf_program__fd(
		bpf_object__find_program_by_name(obj, "kanary_tc"));
	if (ki->xdp_fd < 0 || ki->tc_fd < 0)
		die("no kanary_xdp/kanary_tc program");
	if (bpf_map_update_elem(ki->maps.fd[KN_MAP_CFG], &zero, &cfg, 0))
		die("kn_cfg: %s", strerror(errno));
}

/* The lab's base manifests, the endpoints and one VirtualService (the
 * 70/30 weights, or the focused routing for the L7 copy), validated,
 * compiled and applied as test_packet.c's read_lab() and apply_config()
 * do. */
static void apply_lab(const struct kinst *ki, const char *vs)
{
	const char *const files[] = { "gateway.yaml", "service.yaml",
				      "destinationrule.yaml",
				      "workloadentries.yaml", vs };
	struct kn_load_info li = { .n_vips = 1 };
	struct kn_config cfg;
	struct kn_compiled c;
	struct kn_err err = { { 0 } };
	char path[512];

	memset(&cfg, 0, sizeof(cfg));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", lab_dir(), files[i]);
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
	uint64_t row_conns[4];
	uint64_t requests, responses; /* kn_http */
};

static void snap_take(const struct kinst *ki, struct snap *s)
{
	uint64_t v[ncpu];
	struct kanary_subset_stats st[ncpu];
	struct kanary_http_stats h[ncpu];

	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < KANARY_G_MAX; i++) {
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_GLOBAL], &i, v)) {
			/* An older object (--compare) has fewer counters. */
			if (errno == ENOENT && ki->tag)
				break;
			die("kn_global: %s", strerror(errno));
		}
		for (int c = 0; c < ncpu; c++)
			s->g[i] += v[c];
	}
	/* The lab's config has two rows (resnet50, resnet101). */
	for (uint32_t r = 0; r < 4; r++) {
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_STATS], &r, st))
			die("kn_stats: %s", strerror(errno));
		for (int c = 0; c < ncpu; c++) {
			s->row_conns[r] += st[c].connections;
			s->conns += st[c].connections;
			s->to_ep += st[c].packets_to_endpoint;
			s->to_client += st[c].packets_to_client;
		}
		/* An older object may have no kn_http: zeros. */
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_HTTP], &r, h))
			continue;
		for (int c = 0; c < ncpu; c++) {
			s->requests += h[c].requests;
			s->responses += h[c].responses;
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

/* ---- kn_flows housekeeping for the new-flow cases ---- */

/* Delete every key (of ksz bytes) of a hash map except the n_keep in
 * keep; return how many went. */
static size_t keys_clear_sz(int fd, const void *keep, int n_keep, size_t ksz)
{
	size_t cap = 1 << 16, n = 0, j = 0;
	uint8_t *keys = malloc(cap * ksz), k[64], prev[64];
	bool first = true;
	uint32_t count;

	if (!keys || ksz > sizeof(k))
		die("out of memory");
	while (!bpf_map_get_next_key(fd, first ? NULL : prev, k)) {
		first = false;
		memcpy(prev, k, ksz);
		if (n == cap) {
			cap *= 2;
			keys = realloc(keys, cap * ksz);
			if (!keys)
				die("out of memory");
		}
		memcpy(keys + n++ * ksz, k, ksz);
	}
	for (size_t i = 0; i < n; i++) {
		bool kept = false;

		for (int m = 0; m < n_keep; m++)
			kept |= !memcmp(keys + i * ksz,
					(const uint8_t *)keep + m * ksz, ksz);
		if (!kept)
			memmove(keys + j++ * ksz, keys + i * ksz, ksz);
	}
	count = j;
	if (j && bpf_map_delete_batch(fd, keys, &count, NULL)) {
		for (size_t i = 0; i < j; i++)
			bpf_map_delete_elem(fd, keys + i * ksz);
	}
	free(keys);
	return j;
}

/* The same for a map keyed by a flow key (kn_flows, kn_synq, kn_head). */
static size_t keys_clear(int fd, const struct kanary_flow_key *keep, int n_keep)
{
	return keys_clear_sz(fd, keep, n_keep, sizeof(*keep));
}

/* Does a record hold a connection with an entry at one of keep? */
static bool record_kept(const struct kanary_conn *r,
			const struct kanary_flow_key *keep, int n_keep)
{
	for (int i = 0; i < n_keep; i++)
		for (int dir = 0; dir < 2; dir++) {
			const struct kanary_flow *o = &r->half[dir ^ 1];

			if (o->saddr == keep[i].daddr &&
			    o->daddr == keep[i].saddr &&
			    o->sport == keep[i].dport &&
			    o->dport == keep[i].sport)
				return true;
		}
	return false;
}

/*
 * Delete every flow except the established connection the est-* cases
 * use: each new-flow window starts from the same, nearly empty table.
 * Records (bpf/conn.h) are freed as the data path frees them, by their
 * claim, the generation kept.
 */
static void flows_clear(const struct kinst *ki)
{
	struct kanary_conn *recs;
	uint32_t n;

	keys_clear(ki->maps.fd[KN_MAP_FLOWS], ki->keep, ki->n_keep);
	if (ki->maps.fd[KN_MAP_CONNS] < 0)
		return;
	/* Any size: a --compare build's may differ. */
	recs = kn_conns_map_any(ki->maps.fd[KN_MAP_CONNS], &n);
	if (!recs)
		die("kn_conns: %s", strerror(errno));
	for (uint32_t s = 0; s < n; s++)
		if ((recs[s].claim & KANARY_CONN_LIVE) &&
		    !record_kept(&recs[s], ki->keep, ki->n_keep))
			recs[s].claim &=
				~(__u64)(KANARY_CONN_LIVE | KANARY_CONN_BUSY);
	kn_conns_unmap_any(recs, n);
	/* The marks of entries gone, as the agent's sweep takes them back
	 * (kn_conns_sweep_marks): a build without mark epochs keeps them. */
	if (ki->maps.fd[KN_MAP_MARK_EPOCH] >= 0) {
		struct kn_sweep sw;

		if (kn_conns_sweep_marks(&ki->maps, &sw))
			die("sweeping kn_conns' marks: %s", strerror(errno));
	}
}

/* The L7 copy's half-open and held connections: all of them go. */
static size_t synq_clear(const struct kinst *ki)
{
	return keys_clear(ki->maps.fd[KN_MAP_SYNQ], NULL, 0);
}

/* Held request heads (kn_head) are counted; their chunks go too. */
static size_t hold_clear(const struct kinst *ki)
{
	keys_clear_sz(ki->maps.fd[KN_MAP_HOLD], NULL, 0,
		      sizeof(struct kanary_hold_key));
	return keys_clear(ki->maps.fd[KN_MAP_HEAD], NULL, 0);
}

/* The wrapper's run counter on this CPU (vary() in bench_wrap.bpf.c). */
static uint64_t vary_counter(void)
{
	uint64_t v[ncpu];
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(bw->maps.bw_counter), &zero, v))
		die("bw_counter: %s", strerror(errno));
	return v[0]; /* pinned to CPU 0 */
}

/* The client vary() gives run c: 198.18.0.(2 + c % 128), port 1024 +
 * (c / 128) % 32768, to the VIP's port 80. */
static struct kanary_flow_key vary_key(uint64_t c)
{
	return (struct kanary_flow_key){
		.saddr = htonl(0xc6120002u + (uint32_t)(c & 127)),
		.daddr = pkt_addr(VIP),
		.sport = htons(1024 + (uint16_t)((c >> 7) & 0x7fff)),
		.dport = htons(80),
		.proto = IPPROTO_TCP,
	};
}

/*
 * The half-open connections of the next n runs of the vary wrapper, each
 * as the client's SYN left it in kn_synq (ki->synq: the same ISNs and
 * options for all, so that the one frame's seq and ack fit every one).
 */
static void synq_fill(const struct kinst *ki, uint32_t n)
{
	struct kanary_flow_key *keys = calloc(n, sizeof(*keys));
	struct kanary_synq *vals = calloc(n, sizeof(*vals));
	uint64_t c = vary_counter();
	int fd = ki->maps.fd[KN_MAP_SYNQ];
	uint32_t count = n;

	if (!keys || !vals)
		die("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = vary_key(c + i);
		vals[i] = ki->synq;
	}
	if (bpf_map_update_batch(fd, keys, vals, &count, NULL) || count != n) {
		for (uint32_t i = 0; i < n; i++)
			if (bpf_map_update_elem(fd, &keys[i], &vals[i], 0))
				die("kn_synq: %s", strerror(errno));
	}
	free(keys);
	free(vals);
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

/* wrap() behind bw_xdp_encap, which also sets the frame's start back
 * (XDP only): for a program that encapsulates. */
static int wrap_encap(const struct target *t, int prog_fd,
		      const struct pkt_buf *f, bool vary)
{
	if (t->tc)
		die("bw_xdp_encap is an XDP program");
	wrap(t, prog_fd, f, vary);
	return bpf_program__fd(bw->progs.bw_xdp_encap);
}

/* Put frame f (of any length up to L7_FRAME_MAX) behind the L7 wrapper;
 * resize: its length is set back every run (the program shrinks it). */
static int wrap_l7(const struct target *t, int prog_fd, const struct pkt_buf *f,
		   bool vary, bool resize)
{
	static struct bw_l7_frame fr;
	uint32_t zero = 0;
	int pa = bpf_map__fd(t->tc ? bw->maps.bw_tc_l7_progs :
				     bw->maps.bw_xdp_l7_progs);

	if (f->len < FRAME_LEN || f->len > L7_FRAME_MAX)
		die("frame of %zu bytes, the L7 wrapper takes %d..%d", f->len,
		    FRAME_LEN, L7_FRAME_MAX);
	memset(&fr, 0, sizeof(fr));
	memcpy(fr.data, f->data, f->len);
	fr.len = f->len;
	fr.vary = vary;
	fr.resize = resize;
	if (bpf_map_update_elem(bpf_map__fd(bw->maps.bw_l7_frame), &zero, &fr,
				0))
		die("bw_l7_frame: %s", strerror(errno));
	if (bpf_map_update_elem(pa, &zero, &prog_fd, 0))
		die("prog array: %s", strerror(errno));
	return bpf_program__fd(t->tc ? bw->progs.bw_tc_l7 :
				       bw->progs.bw_xdp_l7);
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

/* A frame of the L7 cases, as long as it is: TCP options (a multiple of
 * 4 bytes) and payload as given. */
static void frame_l7(struct pkt_buf *b, const char *saddr, const char *daddr,
		     uint16_t sport, uint16_t dport, uint8_t flags,
		     uint32_t seq, uint32_t ack, uint16_t window,
		     const uint8_t *opts, size_t optlen, const char *data)
{
	struct pkt_spec s = { .saddr = saddr,
			      .daddr = daddr,
			      .sport = sport,
			      .dport = dport,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .window = window,
			      .opts = opts,
			      .optlen = optlen,
			      .data = data,
			      .payload = data ? strlen(data) : 0 };

	pkt_build(&s, b);
	if (b->len < FRAME_LEN)
		die("L7 frame of %zu bytes", b->len);
}

/* A segment of the L4 connection with data: text, then 'x' up to
 * HTTP_PAYLOAD bytes, so that every HTTP case restores as many bytes. */
static void http_frame(struct pkt_buf *b, const char *saddr, const char *daddr,
		       uint16_t sport, uint16_t dport, const char *text)
{
	char data[HTTP_PAYLOAD + 1];

	memset(data, 'x', HTTP_PAYLOAD);
	data[HTTP_PAYLOAD] = 0;
	memcpy(data, text, strlen(text));
	frame_l7(b, saddr, daddr, sport, dport, 0x18, 1001, 5000, 0, NULL, 0,
		 data);
}

/*
 * Set req_ns in the L4 connection's to-client entry (ki->keep[1]): a
 * request waits (1: since long ago), or none (0). An object whose kanary_flow predates req_ns is left as
 * it is (its case then measures a status line that nothing waits for).
 */
static void set_waiting(const struct kinst *ki, uint64_t req_ns)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	struct kanary_conn *recs;
	uint32_t n = 0;
	struct kanary_flow f;

	/* In a record (bpf/conn.h): its to-client half, in place. */
	recs = ki->maps.fd[KN_MAP_CONNS] < 0 ?
		       NULL :
		       kn_conns_map_any(ki->maps.fd[KN_MAP_CONNS], &n);
	for (uint32_t s = 0; recs && s < n; s++)
		if ((recs[s].claim & KANARY_CONN_TO_CLIENT) &&
		    record_kept(&recs[s], ki->keep, ki->n_keep)) {
			recs[s].half[KANARY_DIR_TO_CLIENT].req_ns = req_ns;
			kn_conns_unmap_any(recs, n);
			return;
		}
	kn_conns_unmap_any(recs, n);
	if (bpf_obj_get_info_by_fd(ki->maps.fd[KN_MAP_FLOWS], &info, &len) ||
	    info.value_size != sizeof(f))
		return;
	if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_FLOWS], &ki->keep[1], &f))
		die("the connection's to-client entry is gone");
	f.req_ns = req_ns;
	if (bpf_map_update_elem(ki->maps.fd[KN_MAP_FLOWS], &ki->keep[1], &f,
				BPF_EXIST))
		die("kn_flows: %s", strerror(errno));
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
	/* HTTP outcomes (bpf/outcome.h) on the L4 connection: segments with
	 * HTTP_PAYLOAD bytes of data, behind the L7 wrapper (any length). */
	K_WRAP_NOP_HTTP,
	K_DATA_FWD, /* data toward the endpoint, not a request head */
	K_REQ_FWD, /* a request head */
	K_RESP_REV, /* a status line while no request waits (as a body) */
	K_CONT_REV, /* "HTTP/1.1 100 Continue" while a request waits */
	/* The L7 wrapper (any length) + trivial program, in each L7 mode. */
	K_WRAP_NOP_L7SYN, /* 74-byte SYN, new client every run */
	K_WRAP_NOP_L7FIRST, /* first segment, new client, length set back */
	K_WRAP_NOP_L7EST, /* 66-byte segment (NOP NOP TS) */
	K_L7_SYN,
	K_L7_FIRST,
	K_L7_EST_FWD,
	K_L7_EST_REV,
	/* The L4 connection in the L7 copy, with the l7-est cases' frame
	 * shape and wrapper: the same image with and without translation. */
	K_L4TS_FWD,
	K_L4TS_REV,
	/* The Katran model (bpf/bench_katran.bpf.c), XDP only, on the L4
	 * cases' frames, behind bw_xdp_encap (bw_xdp that also sets the
	 * frame's start back), with that wrapper's nop in both modes. */
	K_WRAP_NOP_ENCAP,
	K_WRAP_NOP_ENCAP_VARY,
	K_KB_NONVIP,
	K_KB_SYN,
	K_KB_EST,
	/* One operation of kanary's SYN path each (bpf/bench_parts.bpf.c),
	 * XDP only, behind bw_xdp: reported minus the floor. */
	K_P_LOOKUP_MISS,
	K_P_VIP,
	K_P_SYN_CSUM,
	K_P_SYN_CSUM_OPTS, /* the same on a SYN with options (L7 wrapper) */
	K_P_SYN_MARTIAN,
	K_P_CHOOSE,
	K_P_NEXT_HOP,
	K_P_KTIME_COARSE,
	K_P_KTIME,
	K_P_FIB,
	K_P_FLOW_INIT,
	K_P_INSERT,
	K_P_INSERT_NC,
	K_P_INSERT16,
	K_P_INSERT_HASH,
	K_P_INSERT_NP,
	K_P_PORT_CLAIM,
	K_P_LOOKUP_HIT,
	K_P_REDIRECT,
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
	[K_WRAP_NOP_HTTP] = "l7wrapper(http)+nop",
	[K_DATA_FWD] = "data-to-endpoint",
	[K_REQ_FWD] = "request-head",
	[K_RESP_REV] = "status-line-none-waits",
	[K_CONT_REV] = "status-line-100-waits",
	[K_WRAP_NOP_L7SYN] = "l7wrapper(syn)+nop",
	[K_WRAP_NOP_L7FIRST] = "l7wrapper(first)+nop",
	[K_WRAP_NOP_L7EST] = "l7wrapper(est)+nop",
	[K_L7_SYN] = "l7-syn",
	[K_L7_FIRST] = "l7-first-segment",
	[K_L7_EST_FWD] = "l7-est-to-endpoint",
	[K_L7_EST_REV] = "l7-est-to-client",
	[K_L4TS_FWD] = "est-to-endpoint (TS, L7 copy)",
	[K_L4TS_REV] = "est-to-client (TS, L7 copy)",
	[K_WRAP_NOP_ENCAP] = "wrapper(encap)+nop",
	[K_WRAP_NOP_ENCAP_VARY] = "wrapper(encap,vary)+nop",
	[K_KB_NONVIP] = "katran-non-vip",
	[K_KB_SYN] = "katran-syn-new-flow",
	[K_KB_EST] = "katran-est",
	[K_P_LOOKUP_MISS] = "part-lookup-miss",
	[K_P_VIP] = "part-vip-lookup",
	[K_P_SYN_CSUM] = "part-syn-tcp-csum",
	[K_P_SYN_CSUM_OPTS] = "part-syn-tcp-csum-options",
	[K_P_SYN_MARTIAN] = "part-syn-martian",
	[K_P_CHOOSE] = "part-choose",
	[K_P_NEXT_HOP] = "part-next-hop",
	[K_P_FLOW_INIT] = "part-flow-init",
	[K_P_KTIME] = "part-ktime",
	[K_P_KTIME_COARSE] = "part-ktime-coarse",
	[K_P_INSERT] = "part-insert",
	[K_P_INSERT_NC] = "part-insert-no-common-lru",
	[K_P_INSERT16] = "part-insert-16-byte-value",
	[K_P_INSERT_HASH] = "part-insert-hash",
	[K_P_INSERT_NP] = "part-insert-hash-no-prealloc",
	[K_P_PORT_CLAIM] = "part-port-table-claim",
	[K_P_LOOKUP_HIT] = "part-lookup-hit",
	[K_P_FIB] = "part-fib-lookup",
	[K_P_REDIRECT] = "part-redirect-prep",
};

/* What each part is, in the parts table; and how many times kanary's SYN
 * (the L4 path, XDP) does it: 0 for an alternative it does not take. */
static const struct {
	enum kase k;
	int per_syn;
	const char *what;
} parts[] = {
	{ K_P_LOOKUP_MISS, 0,
	  "conntrack lookup, a miss (kn_flows' shape; before the SYN was bound unlooked-up)" },
	{ K_P_VIP, 1, "VIP lookup (bind_vip: kn_cfg, kn_vips)" },
	{ K_P_SYN_MARTIAN, 1, "martian.h: source, IP and TCP checksums" },
	{ K_P_SYN_CSUM, 0, "  of which the TCP checksum (syn_csum_ok)" },
	{ K_P_SYN_CSUM_OPTS, 0, "  the same, SYN with 20 bytes of options" },
	{ K_P_CHOOSE, 1, "selection (bind_choose: hash, route, Maglev)" },
	{ K_P_NEXT_HOP, 1, "next hop (bind_next_hop: clock, kn_ep_hops)" },
	{ K_P_KTIME_COARSE, 0, "  of which the clock (coarse)" },
	{ K_P_KTIME, 0, "  bpf_ktime_get_ns instead (before b8938b1)" },
	{ K_P_FIB, 0, "  bpf_fib_lookup, once a second per endpoint" },
	{ K_P_FLOW_INIT, 1, "the two entries set up (bind_flow, scratch)" },
	{ K_P_INSERT, 2, "BPF_NOEXIST insert, new key (kn_flows' shape)" },
	{ K_P_INSERT_NC, 0, "  the same with BPF_F_NO_COMMON_LRU" },
	{ K_P_INSERT16, 0, "  the same with a 16-byte value" },
	{ K_P_INSERT_HASH, 0, "  the same in a plain hash (preallocated)" },
	{ K_P_INSERT_NP, 0, "  the same in a plain hash, BPF_F_NO_PREALLOC" },
	{ K_P_PORT_CLAIM, 0,
	  "  instead: a port table slot claimed (array, CAS)" },
	{ K_P_LOOKUP_HIT, 0, "conntrack lookup, a hit (before b8938b1)" },
	{ K_P_REDIRECT, 1, "redirect prep (xdp_prepare_send: devmap)" },
};

static bool is_http(enum kase k)
{
	return k >= K_DATA_FWD && k <= K_CONT_REV;
}

static bool is_l7(enum kase k)
{
	return k >= K_L7_SYN && k <= K_L4TS_REV;
}

/* A case of kanary itself (not the floor, not a wrapper's cost). */
static bool is_kanary(enum kase k)
{
	return k == K_NONVIP || k == K_NONVIP_DIRECT || k == K_SYN ||
	       k == K_EST_FWD || k == K_EST_REV || is_http(k) || is_l7(k);
}

static bool is_part(enum kase k)
{
	return k >= K_P_LOOKUP_MISS && k <= K_P_REDIRECT;
}

/* The parts that insert into a map (pktbench empties it around them). */
static bool is_insert(enum kase k)
{
	return k == K_P_INSERT || k == K_P_INSERT_NC || k == K_P_INSERT16 ||
	       k == K_P_INSERT_HASH || k == K_P_INSERT_NP;
}

/* The parts whose frame gets a new client every run (bw_xdp's vary):
 * the SYN's own keys, and its checksums as each SYN has them. */
static bool part_varies(enum kase k)
{
	return k == K_P_LOOKUP_MISS || k == K_P_SYN_CSUM ||
	       k == K_P_SYN_CSUM_OPTS || k == K_P_SYN_MARTIAN ||
	       k == K_P_CHOOSE || k == K_P_FLOW_INIT || k == K_P_INSERT ||
	       k == K_P_INSERT_NC || k == K_P_INSERT16 ||
	       k == K_P_INSERT_HASH || k == K_P_INSERT_NP ||
	       k == K_P_PORT_CLAIM;
}

/* The wrapper measurement whose cost is subtracted from case k, or
 * K_NOP when there is no wrapper (the direct cases). */
static enum kase wrapper_of(enum kase k)
{
	switch (k) {
	case K_NOP:
	case K_FLOOR_DIRECT:
	case K_NONVIP_DIRECT:
		return K_NOP;
	case K_SYN:
		return K_WRAP_NOP_VARY;
	case K_L7_SYN:
		return K_WRAP_NOP_L7SYN;
	case K_L7_FIRST:
		return K_WRAP_NOP_L7FIRST;
	case K_L7_EST_FWD:
	case K_L7_EST_REV:
	case K_L4TS_FWD:
	case K_L4TS_REV:
		return K_WRAP_NOP_L7EST;
	case K_DATA_FWD:
	case K_REQ_FWD:
	case K_RESP_REV:
	case K_CONT_REV:
		return K_WRAP_NOP_HTTP;
	case K_KB_NONVIP:
	case K_KB_EST:
		return K_WRAP_NOP_ENCAP;
	case K_KB_SYN:
		return K_WRAP_NOP_ENCAP_VARY;
	case K_P_SYN_CSUM_OPTS:
		return K_WRAP_NOP_L7SYN;
	default:
		return is_part(k) && part_varies(k) ? K_WRAP_NOP_VARY :
						      K_WRAP_NOP;
	}
}

/* One program under test (a hook of one kanary copy) and its floor. */
struct bench {
	bool tc;
	char name[64];
	const char *floor_name;
	struct kinst *ki;
	struct kinst *kl; /* the L7 copy (focused routing) */
	int kanary_fd, floor_fd, nop_fd;
	int l7_fd; /* the same hook of the L7 copy */
	struct target c0, ep; /* arriving from the client / the endpoint */
	struct target ep7; /* arriving from the L7 connection's endpoint */
	struct pkt_buf nonvip, syn, est_fwd, est_rev;
	struct pkt_buf l7syn, l7first, l7est_fwd, l7est_rev;
	/* the L4 connection's segments with NOP NOP TS (66 bytes), run in
	 * the L7 copy on its copied entries */
	struct pkt_buf l4ts_fwd, l4ts_rev;
	/* the L4 connection's segments with data (HTTP_PAYLOAD bytes) */
	struct pkt_buf data_fwd, req_fwd, resp_rev, cont_rev;
	uint32_t l4_ep, l4_snat;
	uint16_t l4_snat_port;
	int v_tx; /* l7_syn's SYN-ACK: XDP_TX, tc redirect to ingress */
	/* the L7 connection: its endpoint side, and its translation */
	uint32_t l7_snat;
	uint16_t l7_snat_port;
	uint32_t gw_isn, gw_ts;
	size_t l7_len;
	int v_redirect, v_pass, v_floor;
	double raw[K_COUNT][MAX_ROUNDS];
	double ns[K_COUNT][MAX_ROUNDS]; /* wrapper subtracted */
	uint32_t repeat[K_COUNT];
	/* syn-new-flow's clean windows: their SYNs, and how many of them
	 * found their records taken (conn_overflow): what the case's cost
	 * depends on most */
	uint64_t syn_runs, syn_overflow;
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

/* The Katran model and the parts run on XDP, in the build's own rounds. */
static bool measured(const struct bench *b, enum kase k)
{
	return k < K_WRAP_NOP_ENCAP || (!b->tc && !b->ki->tag);
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
			       t.sport >= KANARY_CONN_PORT_MIN &&
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
	uint8_t opts[12];
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
		/* The same segments with NOP NOP TS, for the L7 copy. */
		pkt_ts_opt(opts, CLIENT_TS + 10, EP_TS + 1);
		frame_l7(&b->l4ts_fwd, CLIENT, VIP, EST_SPORT, 80, 0x10, 1001,
			 5000, 0, opts, sizeof(opts), NULL);
		pkt_ts_opt(opts, EP_TS + 2, CLIENT_TS + 10);
		frame_l7(&b->l4ts_rev, ep, snat, 8501, fwd.sport, 0x10, 7001,
			 5000, 0, opts, sizeof(opts), NULL);
		http_frame(&b->data_fwd, CLIENT, VIP, EST_SPORT, 80,
			   "{\"instances\": [[0.1, 0.2, 0.3]]}");
		http_frame(&b->req_fwd, CLIENT, VIP, EST_SPORT, 80,
			   "GET /v1/models/resnet50 HTTP/1.1\r\nHost: a\r\n");
		http_frame(&b->resp_rev, ep, snat, 8501, fwd.sport,
			   "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n");
		http_frame(&b->cont_rev, ep, snat, 8501, fwd.sport,
			   "HTTP/1.1 100 Continue\r\n\r\n");
		b->l4_ep = fwd.daddr;
		b->l4_snat = fwd.saddr;
		b->l4_snat_port = fwd.sport;
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
	ki->n_keep = 2;

	check_cases(bx, fwd.daddr, fwd.saddr, fwd.sport);
	check_cases(bt, fwd.daddr, fwd.saddr, fwd.sport);
	flows_clear(ki);
}

static bool is_vary_client(uint32_t addr, uint16_t port)
{
	uint32_t a = ntohl(addr);

	return a >= 0xc6120002u && a <= 0xc6120002u + 127 && port >= 1024;
}

/* Both entries of the L7 connection are spliced and know their next hop. */
static bool l7_spliced(const struct kinst *kl)
{
	struct kanary_flow f;

	for (int i = 0; i < 2; i++)
		if (bpf_map_lookup_elem(kl->maps.fd[KN_MAP_FLOWS], &kl->keep[i],
					&f) ||
		    f.l7 != KANARY_L7_SPLICED || !f.ifindex)
			return false;
	return true;
}

/*
 * The L7 cases through the wrapper, as measured: the verdict and the
 * frame that comes out (see check_cases). Each case also runs once with
 * repeat = 2, whose output is the second run's: the wrapper must have
 * given it the whole frame back, length included.
 */
static void check_cases_l7(struct bench *b)
{
	const char ep3_mac[6] = { 2, 0, 0, 0, 3, 2 },
		   gw3_mac[6] = { 2, 0, 0, 0, 3, 1 };
	struct kinst *kl = b->kl;
	static struct pkt_buf out, out2;
	struct pkt_seg s, prev = { 0 };
	uint64_t nf;
	size_t n;
	int v, fd;

	/* SYN -> the gateway's SYN-ACK; four calls, five clients. */
	synq_clear(kl);
	fd = wrap_l7(&b->c0, b->l7_fd, &b->l7syn, true, false);
	for (int i = 0; i < 4; i++) {
		v = prog_run(fd, &b->c0, &b->l7syn, &out, i < 3 ? 1 : 2, NULL);
		expect(v == b->v_tx, b, "l7-syn", "verdict %d", v);
		expect(!pkt_decode(&out, &s), b, "l7-syn", "bad checksum");
		expect(s.t.saddr == pkt_addr(VIP) && s.t.sport == 80 &&
			       is_vary_client(s.t.daddr, s.t.dport) &&
			       s.t.flags == 0x12 && s.ack == CLIENT_ISN + 1 &&
			       s.window == L7_SYNACK_WINDOW && s.has_ts &&
			       s.tsecr == CLIENT_TS && out.len == b->l7syn.len,
		       b, "l7-syn", "not the gateway's SYN-ACK");
		expect(!memcmp(out.data, b->l7syn.data + 6, 6) &&
			       !memcmp(out.data + 6, b->l7syn.data, 6),
		       b, "l7-syn", "MACs not swapped");
		expect(!i || s.t.daddr != prev.t.daddr ||
			       s.t.dport != prev.t.dport,
		       b, "l7-syn", "two runs had the same client");
		prev = s;
	}
	n = synq_clear(kl);
	expect(n == 5, b, "l7-syn", "%zu kn_synq entries after 5 SYNs", n);

	/* First segment -> SYN to the canary endpoint; four calls, five
	 * runs, each with the half-open connection of its own client. */
	flows_clear(kl);
	hold_clear(kl);
	synq_fill(kl, 5);
	fd = wrap_l7(&b->c0, b->l7_fd, &b->l7first, true, true);
	for (int i = 0; i < 4; i++) {
		v = prog_run(fd, &b->c0, &b->l7first, &out, i < 3 ? 1 : 2,
			     NULL);
		expect(v == b->v_redirect, b, "l7-first-segment", "verdict %d",
		       v);
		expect(!pkt_decode(&out, &s), b, "l7-first-segment",
		       "bad checksum");
		expect(out.len == L7_SYN_FRAME_LEN && s.t.flags == 0x02 &&
			       s.t.daddr == pkt_addr(EP3) &&
			       s.t.dport == 8501 &&
			       ntohl(s.t.saddr) == ntohl(s.t.daddr) - 1 &&
			       s.t.sport >= KANARY_SNAT_PORT_MIN &&
			       s.t.sport <= KANARY_SNAT_PORT_MAX &&
			       s.seq == CLIENT_ISN && s.len == 0 && s.has_ts &&
			       s.tsval == CLIENT_TS + 5,
		       b, "l7-first-segment",
		       "not a SYN to the canary endpoint");
		expect(!memcmp(out.data, ep3_mac, 6) &&
			       !memcmp(out.data + 6, gw3_mac, 6),
		       b, "l7-first-segment", "MACs are not the FIB's");
		expect(!i || s.t.sport != prev.t.sport, b, "l7-first-segment",
		       "two runs made the same flow");
		prev = s;
	}
	n = hold_clear(kl);
	nf = synq_clear(kl);
	expect(n == 5 && nf == 0, b, "l7-first-segment",
	       "%zu held, %llu still half-open after 5 first segments", n,
	       (unsigned long long)nf);
	flows_clear(kl);

	/* Established, client -> endpoint: NAT, ack and TSecr into the
	 * endpoint's spaces. */
	fd = wrap_l7(&b->c0, b->l7_fd, &b->l7est_fwd, false, false);
	v = prog_run(fd, &b->c0, &b->l7est_fwd, &out, 1, NULL);
	expect(v == b->v_redirect, b, "l7-est-to-endpoint", "verdict %d", v);
	expect(!pkt_decode(&out, &s) && s.t.daddr == pkt_addr(EP3) &&
		       s.t.saddr == b->l7_snat &&
		       s.t.sport == b->l7_snat_port && s.t.dport == 8501 &&
		       s.t.flags == 0x10 &&
		       s.seq == CLIENT_ISN + 1 + b->l7_len &&
		       s.ack == EP_ISN + 1 && s.has_ts &&
		       s.tsval == CLIENT_TS + 10 && s.tsecr == EP_TS + 1 &&
		       s.window == 502 && out.len == b->l7est_fwd.len,
	       b, "l7-est-to-endpoint", "not NATed and translated");
	expect(!memcmp(out.data, ep3_mac, 6) &&
		       !memcmp(out.data + 6, gw3_mac, 6),
	       b, "l7-est-to-endpoint", "MACs are not the FIB's");
	v = prog_run(fd, &b->c0, &b->l7est_fwd, &out2, 2, NULL);
	expect(v == b->v_redirect && out2.len == out.len &&
		       !memcmp(out2.data, out.data, out.len),
	       b, "l7-est-to-endpoint", "a second run differs from the first");

	/* Established, endpoint -> client: NAT back, seq and TSval into the
	 * gateway's spaces. */
	fd = wrap_l7(&b->ep7, b->l7_fd, &b->l7est_rev, false, false);
	v = prog_run(fd, &b->ep7, &b->l7est_rev, &out, 1, NULL);
	expect(v == b->v_redirect, b, "l7-est-to-client", "verdict %d", v);
	expect(!pkt_decode(&out, &s) && s.t.saddr == pkt_addr(VIP) &&
		       s.t.daddr == pkt_addr(CLIENT) && s.t.sport == 80 &&
		       s.t.dport == L7_EST_SPORT && s.t.flags == 0x10 &&
		       s.seq == b->gw_isn + 1 &&
		       s.ack == CLIENT_ISN + 1 + b->l7_len && s.has_ts &&
		       s.tsval == b->gw_ts + 2 && s.tsecr == CLIENT_TS + 10 &&
		       s.window == 502 && out.len == b->l7est_rev.len,
	       b, "l7-est-to-client", "not NATed and translated back");
	expect(!memcmp(out.data, "\x02\x00\x00\x00\x00\x02", 6) &&
		       !memcmp(out.data + 6, "\x02\x00\x00\x00\x00\x01", 6),
	       b, "l7-est-to-client", "MACs are not the FIB's");
	v = prog_run(fd, &b->ep7, &b->l7est_rev, &out2, 2, NULL);
	expect(v == b->v_redirect && out2.len == out.len &&
		       !memcmp(out2.data, out.data, out.len),
	       b, "l7-est-to-client", "a second run differs from the first");
	expect(l7_spliced(kl), b, "l7-est", "the connection is not spliced");

	/* The L4 connection in the L7 copy: NAT only, options untouched. */
	fd = wrap_l7(&b->c0, b->l7_fd, &b->l4ts_fwd, false, false);
	v = prog_run(fd, &b->c0, &b->l4ts_fwd, &out, 2, NULL);
	expect(v == b->v_redirect, b, kase_name[K_L4TS_FWD], "verdict %d", v);
	expect(!pkt_decode(&out, &s) && s.t.daddr == b->l4_ep &&
		       s.t.saddr == b->l4_snat &&
		       s.t.sport == b->l4_snat_port && s.t.dport == 8501 &&
		       s.t.flags == 0x10 && s.seq == 1001 && s.ack == 5000 &&
		       !memcmp(out.data + 54, b->l4ts_fwd.data + 54, 12),
	       b, kase_name[K_L4TS_FWD], "not NATed to its endpoint");
	fd = wrap_l7(&b->ep, b->l7_fd, &b->l4ts_rev, false, false);
	v = prog_run(fd, &b->ep, &b->l4ts_rev, &out, 2, NULL);
	expect(v == b->v_redirect, b, kase_name[K_L4TS_REV], "verdict %d", v);
	expect(!pkt_decode(&out, &s) && s.t.saddr == pkt_addr(VIP) &&
		       s.t.daddr == pkt_addr(CLIENT) && s.t.sport == 80 &&
		       s.t.dport == EST_SPORT && s.t.flags == 0x10 &&
		       s.seq == 7001 && s.ack == 5000 &&
		       !memcmp(out.data + 54, b->l4ts_rev.data + 54, 12),
	       b, kase_name[K_L4TS_REV], "not translated back to the client");
}

/*
 * Drive the L7 connection the l7-est-* cases use into KANARY_L7_SPLICED,
 * in kl's maps, as tests/bpf/test_l7.c's splice() and
 * translated_both_ways() do: the client's SYN and first segment through
 * kanary_xdp, the endpoint's SYN-ACK through kanary_tc (the replay needs
 * room), the endpoint's ACK of the replayed segment. Keeps what the SYN
 * left in kn_synq as the template of the l7-first-segment case, fills the
 * L7 frames of both hooks' benches and checks every L7 case once.
 */
/*
 * The record of ki's kept L4 connection, copied into kl's kn_conns at the
 * same slot (both instances have one hash seed, so the slot is the one
 * kl's data path looks in). False when ki keeps it in kn_flows.
 */
static bool copy_record(const struct kinst *ki, const struct kinst *kl)
{
	struct kanary_conn *from, *to;
	uint32_t n = 0, n_to = 0;
	bool copied = false;

	if (ki->maps.fd[KN_MAP_CONNS] < 0 || kl->maps.fd[KN_MAP_CONNS] < 0)
		return false;
	from = kn_conns_map_any(ki->maps.fd[KN_MAP_CONNS], &n);
	to = kn_conns_map_any(kl->maps.fd[KN_MAP_CONNS], &n_to);
	if (!from || !to || n != n_to)
		die("kn_conns: %s",
		    from && to ? "not one size" : strerror(errno));
	for (uint32_t s = 0; s < n && !copied; s++)
		if ((from[s].claim & KANARY_CONN_LIVE) &&
		    record_kept(&from[s], ki->keep, ki->n_keep)) {
			/* kl's lookups find a second record only through a
			 * count in the first: the one connection is in its
			 * first (the table was empty), and counts nothing. */
			if (from[s].claim & KANARY_CONN_SECOND)
				die("the kept connection is in its second record");
			to[s] = from[s];
			to[s].claim &= ~KANARY_CONN_ALT_MASK;
			copied = true;
		}
	kn_conns_unmap_any(from, n);
	kn_conns_unmap_any(to, n_to);
	return copied;
}

static void establish_l7(struct kinst *kl, const struct kinst *ki,
			 struct bench *bx, struct bench *bt)
{
	/* The endpoint's SYN-ACK, Linux's: MSS, SACK_PERM, TS, NOP, WS 7. */
	uint8_t ep_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				0, 0, 0,    0,	  0, 0, 1, 3,  3, 7 };
	struct target c0 = { .tc = false, .ifindex = if_nametoindex("c0") };
	struct target e3 = { .tc = false, .ifindex = if_nametoindex("e3") };
	struct target e3tc = { .tc = true, .ifindex = e3.ifindex };
	struct kanary_flow_key ck = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(L7_EST_SPORT),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	char snat[INET_ADDRSTRLEN];
	size_t len = strlen(l7_request);
	uint8_t opts[12];
	struct pkt_buf in, out;
	struct pkt_seg s;
	uint32_t gw_isn, gw_ts, v32;
	uint16_t snat_port;
	int v;

	/*
	 * 0. The L4 connection's two entries, copied from ki: the L7 copy
	 * then runs the L4 established path too, in the same JIT image as
	 * its L7 one. First, so that the L7 connection's SNAT port cannot
	 * take theirs. (Established packets read no config.)
	 */
	for (int i = 0; i < 2; i++)
		kl->keep[2 + i] = ki->keep[i];
	kl->n_keep = 4;
	for (int i = 0; i < 2 && !copy_record(ki, kl); i++) {
		struct kanary_flow f;

		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_FLOWS], &ki->keep[i],
					&f) ||
		    f.l7 != KANARY_L7_OFF || !f.ifindex ||
		    bpf_map_update_elem(kl->maps.fd[KN_MAP_FLOWS], &ki->keep[i],
					&f, BPF_NOEXIST))
			die("L7 copy: cannot copy the L4 connection");
	}

	/* 1. SYN -> the gateway's SYN-ACK, and a kn_synq entry. */
	frame_l7(&in, CLIENT, VIP, L7_EST_SPORT, 80, 0x02, CLIENT_ISN, 0, 64240,
		 syn_opts, sizeof(syn_opts), NULL);
	v = prog_run(kl->xdp_fd, &c0, &in, &out, 1, NULL);
	if (v != XDP_TX_ || pkt_decode(&out, &s) || s.t.flags != 0x12 ||
	    !s.has_ts)
		die("L7 connection: SYN verdict %d", v);
	gw_isn = s.seq;
	gw_ts = s.tsval;
	if (bpf_map_lookup_elem(kl->maps.fd[KN_MAP_SYNQ], &ck, &kl->synq) ||
	    kl->synq.gw_isn != gw_isn || kl->synq.client_isn != CLIENT_ISN)
		die("L7 connection: no kn_synq entry after the SYN");

	/* 2. The first segment -> SYN to the canary endpoint. */
	pkt_ts_opt(opts, CLIENT_TS + 5, gw_ts);
	frame_l7(&in, CLIENT, VIP, L7_EST_SPORT, 80, 0x18, CLIENT_ISN + 1,
		 gw_isn + 1, 502, opts, sizeof(opts), l7_request);
	v = prog_run(kl->xdp_fd, &c0, &in, &out, 1, NULL);
	if (v != XDP_REDIRECT_ || pkt_decode(&out, &s) || s.t.flags != 0x02 ||
	    s.t.daddr != pkt_addr(EP3))
		die("L7 connection: first segment verdict %d", v);
	kl->keep[0] = ck;
	kl->keep[1] = (struct kanary_flow_key){ .saddr = s.t.daddr,
						.daddr = s.t.saddr,
						.sport = htons(8501),
						.dport = htons(s.t.sport),
						.proto = IPPROTO_TCP };
	snat_port = s.t.sport;
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	{
		struct kanary_flow f;

		if (bpf_map_lookup_elem(kl->maps.fd[KN_MAP_FLOWS], &ck, &f) ||
		    f.stats >= 4)
			die("L7 connection: no flow after the first segment");
		kl->canary_row = f.stats;
	}

	/* 3. The endpoint's SYN-ACK (tc) -> the held segment, replayed. */
	v32 = htonl(EP_TS);
	memcpy(ep_opts + 8, &v32, 4);
	v32 = htonl(CLIENT_TS + 5);
	memcpy(ep_opts + 12, &v32, 4);
	frame_l7(&in, EP3, snat, 8501, snat_port, 0x12, EP_ISN, CLIENT_ISN + 1,
		 65160, ep_opts, sizeof(ep_opts), NULL);
	v = prog_run(kl->tc_fd, &e3tc, &in, &out, 1, NULL);
	if (v != TC_ACT_REDIRECT_ || pkt_decode(&out, &s) ||
	    s.t.flags != 0x18 || s.len != len || s.seq != CLIENT_ISN + 1 ||
	    s.ack != EP_ISN + 1 ||
	    memcmp(out.data + out.len - len, l7_request, len))
		die("L7 connection: endpoint SYN-ACK verdict %d", v);

	/* 4. The endpoint acks the replayed segment: spliced. */
	pkt_ts_opt(opts, EP_TS + 1, CLIENT_TS + 5);
	frame_l7(&in, EP3, snat, 8501, snat_port, 0x10, EP_ISN + 1,
		 CLIENT_ISN + 1 + len, 502, opts, sizeof(opts), NULL);
	v = prog_run(kl->xdp_fd, &e3, &in, &out, 1, NULL);
	if (v != XDP_REDIRECT_ || pkt_decode(&out, &s) ||
	    s.t.daddr != pkt_addr(CLIENT) || s.seq != gw_isn + 1 ||
	    s.tsval != gw_ts + 1 || !l7_spliced(kl))
		die("L7 connection: endpoint ACK verdict %d, not spliced", v);
	if (hold_clear(kl) || synq_clear(kl))
		die("L7 connection: kn_hold or kn_synq not empty once spliced");

	for (int i = 0; i < 2; i++) {
		struct bench *b = i ? bt : bx;

		b->ep7 = (struct target){ .tc = b->tc, .ifindex = e3.ifindex };
		b->l7_snat = pkt_addr(snat);
		b->l7_snat_port = snat_port;
		b->gw_isn = gw_isn;
		b->gw_ts = gw_ts;
		b->l7_len = len;
		/* Its source is replaced every run (bench_wrap.bpf.c). */
		frame_l7(&b->l7syn, CLIENT, VIP, 1024, 80, 0x02, CLIENT_ISN, 0,
			 64240, syn_opts, sizeof(syn_opts), NULL);
		/* Likewise: each run is the first segment of its own
		 * half-open connection (synq_fill). */
		pkt_ts_opt(opts, CLIENT_TS + 5, gw_ts);
		frame_l7(&b->l7first, CLIENT, VIP, 1024, 80, 0x18,
			 CLIENT_ISN + 1, gw_isn + 1, 502, opts, sizeof(opts),
			 l7_request);
		/* Pure ACKs with NOP NOP TS, both ways. */
		pkt_ts_opt(opts, CLIENT_TS + 10, gw_ts + 1);
		frame_l7(&b->l7est_fwd, CLIENT, VIP, L7_EST_SPORT, 80, 0x10,
			 CLIENT_ISN + 1 + len, gw_isn + 1, 502, opts,
			 sizeof(opts), NULL);
		pkt_ts_opt(opts, EP_TS + 2, CLIENT_TS + 10);
		frame_l7(&b->l7est_rev, EP3, snat, 8501, snat_port, 0x10,
			 EP_ISN + 1, CLIENT_ISN + 1 + len, 502, opts,
			 sizeof(opts), NULL);
	}

	check_cases_l7(bx);
	check_cases_l7(bt);
}

/* ---- the Katran model (bpf/bench_katran.bpf.c) ---- */

static int kb_fd(void)
{
	return bpf_program__fd(kb->progs.katran_model);
}

/* Real i (1..KB_N_REALS): the lab's endpoint 198.18.<i>.2. */
static uint32_t kb_real_addr(uint32_t i)
{
	return htonl(0xc6120002u + (i << 8));
}

/* The ring's real for a flow (the ring holds reals 1..3 in turn). */
static uint32_t kb_ring_real(uint32_t saddr, uint16_t sport, uint16_t dport)
{
	uint32_t ports = htons(sport) | (uint32_t)htons(dport) << 16;
	uint32_t h = kb_hash_2words(saddr, ports, KB_MAX_VIPS * KB_RING_SIZE);

	return kb_real_addr(1 + h % KB_RING_SIZE % KB_N_REALS);
}

/* Load the model and configure it (see the types above). */
static void katran_load(void)
{
	struct kb_vip_key vk = { .port = htons(80), .proto = IPPROTO_TCP };
	struct kb_vip_meta vm = { .flags = 0, .vip_num = 0 };
	uint8_t ctl[8] = { 0 };
	uint32_t *keys, *vals, n = KB_RING_SIZE, zero = 0;

	kb = bench_katran_bpf__open_and_load();
	if (!kb)
		die("bench_katran BPF load/verify failed");
	vk.addr[0] = pkt_addr(VIP);
	if (bpf_map_update_elem(bpf_map__fd(kb->maps.kb_vips), &vk, &vm, 0))
		die("kb_vips: %s", strerror(errno));
	for (uint32_t i = 1; i <= KB_N_REALS; i++) {
		struct kb_real r = { .dst = { kb_real_addr(i) } };

		if (bpf_map_update_elem(bpf_map__fd(kb->maps.kb_reals), &i, &r,
					0))
			die("kb_reals: %s", strerror(errno));
	}
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals)
		die("out of memory");
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = i; /* VIP number 0's ring */
		vals[i] = 1 + i % KB_N_REALS;
	}
	if (bpf_map_update_batch(bpf_map__fd(kb->maps.kb_rings), keys, vals, &n,
				 NULL) ||
	    n != KB_RING_SIZE)
		die("kb_rings: %s", strerror(errno));
	free(keys);
	free(vals);
	memcpy(ctl, kb_router_mac, 6);
	if (bpf_map_update_elem(bpf_map__fd(kb->maps.kb_ctl), &zero, ctl, 0))
		die("kb_ctl: %s", strerror(errno));
	/* One connection table per CPU, as Katran makes them (flags 0). */
	if (ncpu > (int)(sizeof(kb_lru_fd) / sizeof(kb_lru_fd[0])))
		die("%d CPUs: the model has tables for 128", ncpu);
	for (int c = 0; c < ncpu; c++) {
		uint32_t key = c;

		kb_lru_fd[c] = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "kb_lru",
					      sizeof(struct kb_flow),
					      sizeof(struct kb_lru_val),
					      kb_lru_size, NULL);
		if (kb_lru_fd[c] < 0 ||
		    bpf_map_update_elem(bpf_map__fd(kb->maps.kb_lru_cpus), &key,
					&kb_lru_fd[c], 0))
			die("kb_lru for CPU %d: %s", c, strerror(errno));
	}
}

/* Forget every flow of the connection tables but the established one;
 * return how many went. */
static size_t kb_lru_clear(void)
{
	size_t n = 0;

	for (int c = 0; c < ncpu; c++)
		n += keys_clear_sz(kb_lru_fd[c], &kb_keep, 1, sizeof(kb_keep));
	return n;
}

/* The model's counters that tell its branches apart, summed over CPUs. */
struct kb_snap {
	struct kb_stat lru, miss, fallback, vip;
};

static void kb_snap_take(struct kb_snap *s)
{
	const uint32_t rows[4] = { KB_CNT_LRU, KB_CNT_LRU_MISS,
				   KB_CNT_FALLBACK_LRU, 0 };
	struct kb_stat *to[4] = { &s->lru, &s->miss, &s->fallback, &s->vip };
	struct kb_stat v[ncpu];

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 4; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(kb->maps.kb_stats),
					&rows[i], v))
			die("kb_stats: %s", strerror(errno));
		for (int c = 0; c < ncpu; c++) {
			to[i]->v1 += v[c].v1;
			to[i]->v2 += v[c].v2;
		}
	}
}

/*
 * Check a frame the model sent (in: the frame it was given): 20 bytes
 * longer, the router's MAC as destination and the old destination as
 * source, an outer IPv4 header (IPIP, TTL 64, the inner TOS, a valid
 * checksum, 172.16.x.y from the client as source, the ring's real as
 * destination) and the inner packet intact (t: its tuple). NULL, or what
 * is wrong.
 */
static const char *kb_check_frame(const struct pkt_buf *in,
				  const struct pkt_buf *out,
				  struct pkt_tuple *t)
{
	const uint8_t *o = out->data;
	struct pkt_buf inner;
	struct iphdr ip, iip;
	uint32_t sum = 0, src;
	uint16_t w[10];

	if (out->len != FRAME_LEN + KB_ENCAP_LEN)
		return "not 20 bytes longer";
	if (memcmp(o, kb_router_mac, 6) || memcmp(o + 6, in->data, 6) ||
	    o[12] != 0x08 || o[13] != 0)
		return "outer Ethernet header";
	memcpy(w, o + 14, sizeof(w));
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	if (sum != 0xffff)
		return "outer IP checksum";
	memcpy(&ip, o + 14, sizeof(ip));
	memcpy(&iip, o + 14 + KB_ENCAP_LEN, sizeof(iip));
	if (ip.version != 4 || ip.ihl != 5 || ip.protocol != IPPROTO_IPIP ||
	    ip.ttl != 64 || ip.frag_off || ip.tos != iip.tos ||
	    ntohs(ip.tot_len) != ntohs(iip.tot_len) + KB_ENCAP_LEN)
		return "outer IP header";
	memcpy(inner.data, o, 14);
	memcpy(inner.data + 14, o + 14 + KB_ENCAP_LEN, FRAME_LEN - 14);
	inner.len = FRAME_LEN;
	if (pkt_check(&inner, t))
		return "inner packet";
	src = ((uint32_t)t->sport << 16) ^ t->saddr;
	if (ip.saddr != ((src & htonl(0xffff)) | htonl(0xac100000)))
		return "outer source address";
	if (ip.daddr != kb_ring_real(t->saddr, t->sport, t->dport))
		return "outer destination: not the ring's real";
	return NULL;
}

/*
 * The established flow of the katran-est case: the client's SYN on the
 * est-* cases' tuple through the model (CPU 0's table), then the check
 * of every case of the model, as check_cases does for kanary's.
 */
static void katran_establish(struct bench *b)
{
	static struct pkt_buf in, out, out2;
	struct pkt_tuple t, prev = { 0 };
	struct kb_lru_val lv;
	const char *err;
	uint32_t daddr;
	size_t n;
	int v, fd;

	frame(&in, CLIENT, VIP, EST_SPORT, 80, 0x02, 1000);
	v = prog_run(kb_fd(), &b->c0, &in, &out, 1, NULL);
	if (v != XDP_TX_ || (err = kb_check_frame(&in, &out, &t)))
		die("Katran model: SYN verdict %d", v);
	kb_keep = (struct kb_flow){ .src = { pkt_addr(CLIENT) },
				    .dst = { pkt_addr(VIP) },
				    .port = { htons(EST_SPORT), htons(80) },
				    .proto = IPPROTO_TCP };
	if (bpf_map_lookup_elem(kb_lru_fd[0], &kb_keep, &lv) || !lv.pos ||
	    lv.pos > KB_N_REALS)
		die("Katran model: the SYN left no flow in CPU 0's table");
	kb_est_real = kb_real_addr(lv.pos);

	fd = wrap_encap(&b->c0, kb_fd(), &b->nonvip, false);
	v = prog_run(fd, &b->c0, &b->nonvip, &out, 2, NULL);
	expect(v == XDP_PASS_ && out.len == FRAME_LEN &&
		       !memcmp(out.data, b->nonvip.data, FRAME_LEN),
	       b, kase_name[K_KB_NONVIP], "verdict %d, or the frame changed",
	       v);

	/* Four calls, five runs (the last call's second run is checked:
	 * the wrapper set the frame's start back). */
	kb_lru_clear();
	fd = wrap_encap(&b->c0, kb_fd(), &b->syn, true);
	for (int i = 0; i < 4; i++) {
		v = prog_run(fd, &b->c0, &b->syn, &out, i < 3 ? 1 : 2, NULL);
		expect(v == XDP_TX_, b, kase_name[K_KB_SYN], "verdict %d", v);
		err = kb_check_frame(&b->syn, &out, &t);
		expect(!err, b, kase_name[K_KB_SYN], "%s", err);
		expect(is_vary_client(t.saddr, t.sport) &&
			       t.daddr == pkt_addr(VIP) && t.dport == 80 &&
			       t.flags == 0x02,
		       b, kase_name[K_KB_SYN], "not the wrapper's SYN inside");
		expect(!i || t.saddr != prev.saddr || t.sport != prev.sport, b,
		       kase_name[K_KB_SYN], "two runs had the same client");
		prev = t;
	}
	n = kb_lru_clear();
	expect(n == 5, b, kase_name[K_KB_SYN], "%zu flows after 5 SYNs", n);

	fd = wrap_encap(&b->c0, kb_fd(), &b->est_fwd, false);
	v = prog_run(fd, &b->c0, &b->est_fwd, &out, 1, NULL);
	expect(v == XDP_TX_, b, kase_name[K_KB_EST], "verdict %d", v);
	err = kb_check_frame(&b->est_fwd, &out, &t);
	expect(!err, b, kase_name[K_KB_EST], "%s", err);
	expect(t.saddr == pkt_addr(CLIENT) && t.sport == EST_SPORT &&
		       t.flags == 0x10 &&
		       !memcmp(out.data + 14 + KB_ENCAP_LEN,
			       b->est_fwd.data + 14, FRAME_LEN - 14),
	       b, kase_name[K_KB_EST], "the inner packet changed");
	memcpy(&daddr, out.data + 14 + 16, 4);
	expect(daddr == kb_est_real, b, kase_name[K_KB_EST],
	       "not sent to the flow's real");
	v = prog_run(fd, &b->c0, &b->est_fwd, &out2, 2, NULL);
	expect(v == XDP_TX_ && out2.len == out.len &&
		       !memcmp(out2.data, out.data, out.len),
	       b, kase_name[K_KB_EST], "a second run differs from the first");
}

/* ---- the parts of kanary's SYN path (bpf/bench_parts.bpf.c) ---- */

static struct kanary_flow_key kp_keep; /* in kp_flows, for the hit */

static int part_fd(enum kase k)
{
	switch (k) {
	case K_P_LOOKUP_MISS:
		return bpf_program__fd(kp->progs.part_lookup_miss);
	case K_P_VIP:
		return bpf_program__fd(kp->progs.part_vip);
	case K_P_SYN_CSUM:
	case K_P_SYN_CSUM_OPTS:
		return bpf_program__fd(kp->progs.part_syn_csum);
	case K_P_SYN_MARTIAN:
		return bpf_program__fd(kp->progs.part_syn_martian);
	case K_P_CHOOSE:
		return bpf_program__fd(kp->progs.part_choose);
	case K_P_NEXT_HOP:
		return bpf_program__fd(kp->progs.part_next_hop);
	case K_P_FLOW_INIT:
		return bpf_program__fd(kp->progs.part_flow_init);
	case K_P_KTIME:
		return bpf_program__fd(kp->progs.part_ktime);
	case K_P_KTIME_COARSE:
		return bpf_program__fd(kp->progs.part_ktime_coarse);
	case K_P_INSERT:
		return bpf_program__fd(kp->progs.part_insert);
	case K_P_INSERT_NC:
		return bpf_program__fd(kp->progs.part_insert_nc);
	case K_P_INSERT16:
		return bpf_program__fd(kp->progs.part_insert16);
	case K_P_INSERT_HASH:
		return bpf_program__fd(kp->progs.part_insert_hash);
	case K_P_INSERT_NP:
		return bpf_program__fd(kp->progs.part_insert_np);
	case K_P_PORT_CLAIM:
		return bpf_program__fd(kp->progs.part_port_claim);
	case K_P_LOOKUP_HIT:
		return bpf_program__fd(kp->progs.part_lookup_hit);
	case K_P_FIB:
		return bpf_program__fd(kp->progs.part_fib);
	case K_P_REDIRECT:
		return bpf_program__fd(kp->progs.part_redirect);
	default:
		abort();
	}
}

/* The frame of a part: the established segment for the lookup that
 * hits, the L7 cases' SYN (Linux's options) for the checksum with
 * options, the SYN for every other. */
static const struct pkt_buf *part_frame(const struct bench *b, enum kase k)
{
	return k == K_P_LOOKUP_HIT    ? &b->est_fwd :
	       k == K_P_SYN_CSUM_OPTS ? &b->l7syn :
					&b->syn;
}

/* A part's program behind its wrapper, as measured: bw_xdp (with a new
 * client every run where part_varies), or the L7 one for a longer frame. */
static int part_wrap(const struct bench *b, enum kase k)
{
	if (k == K_P_SYN_CSUM_OPTS)
		return wrap_l7(&b->c0, part_fd(k), part_frame(b, k), true,
			       false);
	return wrap(&b->c0, part_fd(k), part_frame(b, k), part_varies(k));
}

/* Empty the map a part inserts into (kp_flows keeps kp_keep); return how
 * many entries went. */
static size_t part_clear(enum kase k)
{
	if (k == K_P_INSERT)
		return keys_clear(bpf_map__fd(kp->maps.kp_flows), &kp_keep, 1);
	if (k == K_P_INSERT_NC)
		return keys_clear(bpf_map__fd(kp->maps.kp_flows_nc), NULL, 0);
	if (k == K_P_INSERT16)
		return keys_clear(bpf_map__fd(kp->maps.kp_flows16), NULL, 0);
	if (k == K_P_INSERT_HASH)
		return keys_clear(bpf_map__fd(kp->maps.kp_flows_hash), NULL, 0);
	if (k == K_P_INSERT_NP)
		return keys_clear(bpf_map__fd(kp->maps.kp_flows_np), NULL, 0);
	return 0;
}

static uint64_t part_fails(void)
{
	uint64_t v[ncpu], n = 0;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(kp->maps.kp_fail), &zero, v))
		die("kp_fail: %s", strerror(errno));
	for (int c = 0; c < ncpu; c++)
		n += v[c];
	return n;
}

/*
 * Load the parts on ki's maps (every kn_* map of the object is ki's,
 * reused, none pinned), kp_flows* sized as ki's kn_flows, for the lab's
 * first endpoint (198.18.1.2) as ki's config has it and the VIP's route;
 * kp_flows holds the established tuple, for the hit.
 */
static void parts_load(const struct kinst *ki)
{
	struct bpf_map *flows =
		bpf_object__find_map_by_name(ki->obj, "kn_flows");
	struct kanary_vip_key vk = { .addr = pkt_addr(VIP),
				     .port = htons(80),
				     .proto = IPPROTO_TCP };
	struct kanary_endpoint ep = { 0 };
	struct kanary_flow f = { 0 };
	struct kanary_cfg cfg;
	struct kanary_vip vip;
	struct bpf_map *map;
	uint32_t zero = 0, idx = 0;

	kp = bench_parts_bpf__open();
	if (!kp || !flows)
		die("open bench_parts object");
	bpf_object__for_each_map(map, kp->obj) {
		const char *name = bpf_map__name(map);
		struct bpf_map *theirs;

		bpf_map__set_pin_path(map, NULL);
		if (strncmp(name, "kn_", 3))
			continue;
		theirs = bpf_object__find_map_by_name(ki->obj, name);
		if (!theirs || bpf_map__reuse_fd(map, bpf_map__fd(theirs)))
			die("bench_parts: %s: not kanary's", name);
	}
	if (bpf_map__set_max_entries(kp->maps.kp_flows,
				     bpf_map__max_entries(flows)) ||
	    bpf_map__set_max_entries(kp->maps.kp_flows_nc,
				     bpf_map__max_entries(flows)) ||
	    bpf_map__set_max_entries(kp->maps.kp_flows16,
				     bpf_map__max_entries(flows)) ||
	    bpf_map__set_max_entries(kp->maps.kp_flows_hash,
				     bpf_map__max_entries(flows)) ||
	    bpf_map__set_max_entries(kp->maps.kp_flows_np,
				     bpf_map__max_entries(flows)))
		die("kp_flows: %s", strerror(errno));
	if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_CFG], &zero, &cfg))
		die("kn_cfg: %s", strerror(errno));
	vk.slot = cfg.active_slot;
	if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_VIPS], &vk, &vip))
		die("kn_vips: no VIP %s:80", VIP);
	for (uint32_t i = 0; i < KANARY_MAX_ENDPOINTS; i++) {
		idx = cfg.active_slot * KANARY_MAX_ENDPOINTS + i;
		if (bpf_map_lookup_elem(ki->maps.fd[KN_MAP_ENDPOINTS], &idx,
					&ep))
			die("kn_endpoints: %s", strerror(errno));
		if (ep.addr == pkt_addr("198.18.1.2"))
			break;
	}
	if (ep.addr != pkt_addr("198.18.1.2"))
		die("kn_endpoints: no endpoint 198.18.1.2");
	kp->rodata->kp_ep_idx = idx;
	kp->rodata->kp_ep = ep.addr;
	kp->rodata->kp_ep_port = ep.port;
	kp->rodata->kp_snat = ep.snat_addr;
	kp->rodata->kp_tx_ifindex = if_nametoindex("e1");
	kp->rodata->kp_route = vip.route;
	if (bench_parts_bpf__load(kp))
		die("bench_parts BPF load/verify failed");
	kp_keep = (struct kanary_flow_key){ .saddr = pkt_addr(CLIENT),
					    .daddr = pkt_addr(VIP),
					    .sport = htons(EST_SPORT),
					    .dport = htons(80),
					    .proto = IPPROTO_TCP };
	if (bpf_map_update_elem(bpf_map__fd(kp->maps.kp_flows), &kp_keep, &f,
				BPF_NOEXIST))
		die("kp_flows: %s", strerror(errno));
}

/* Each part once through its wrapper, as measured (twice: repeat 2):
 * XDP_TX, MACs swapped, nothing counted in kp_fail. */
static void check_parts(struct bench *b)
{
	static struct pkt_buf out;

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		enum kase k = parts[i].k;
		const struct pkt_buf *f = part_frame(b, k);
		uint64_t fails = part_fails();
		int v, fd = part_wrap(b, k);
		size_t n;

		part_clear(k);
		v = prog_run(fd, &b->c0, f, &out, 2, NULL);
		expect(v == XDP_TX_ && part_fails() == fails, b, kase_name[k],
		       "verdict %d, %llu failed", v,
		       (unsigned long long)(part_fails() - fails));
		expect(!memcmp(out.data, f->data + 6, 6) &&
			       !memcmp(out.data + 6, f->data, 6),
		       b, kase_name[k], "MACs not swapped");
		n = part_clear(k);
		expect(n == (is_insert(k) ? 2 : 0), b, kase_name[k],
		       "%zu entries after two runs", n);
	}
}

/*
 * One measurement: ns/packet as measured (wrapper included), or -1 when
 * a SYN of the window found no free SNAT port (measured again).
 */
static double measure(struct bench *b, enum kase k, uint32_t repeat)
{
	const struct target *t = &b->c0;
	const struct pkt_buf *f = &b->nonvip;
	struct kinst *ki = is_l7(k) ? b->kl : b->ki;
	struct kb_snap kb0, kb1;
	struct snap s0, s1;
	size_t held = 0, open = 0;
	uint64_t fails = 0;
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
	case K_WRAP_NOP_HTTP:
		f = &b->req_fwd;
		fd = wrap_l7(t, b->nop_fd, f, false, false);
		break;
	case K_DATA_FWD:
	case K_REQ_FWD:
		f = k == K_DATA_FWD ? &b->data_fwd : &b->req_fwd;
		fd = wrap_l7(t, b->kanary_fd, f, false, false);
		break;
	case K_RESP_REV:
	case K_CONT_REV:
		t = &b->ep;
		f = k == K_RESP_REV ? &b->resp_rev : &b->cont_rev;
		fd = wrap_l7(t, b->kanary_fd, f, false, false);
		set_waiting(ki, k == K_CONT_REV);
		break;
	case K_WRAP_NOP_L7SYN:
		f = &b->l7syn;
		fd = wrap_l7(t, b->nop_fd, f, true, false);
		break;
	case K_WRAP_NOP_L7FIRST:
		f = &b->l7first;
		fd = wrap_l7(t, b->nop_fd, f, true, true);
		break;
	case K_WRAP_NOP_L7EST:
		f = &b->l7est_fwd;
		fd = wrap_l7(t, b->nop_fd, f, false, false);
		break;
	case K_L7_SYN:
		/* Every run a new client: every SYN makes its kn_synq entry. */
		f = &b->l7syn;
		fd = wrap_l7(t, b->l7_fd, f, true, false);
		synq_clear(ki);
		break;
	case K_L7_FIRST:
		/* Every run the first segment of a half-open connection of
		 * its own, which the run binds (and deletes). */
		f = &b->l7first;
		fd = wrap_l7(t, b->l7_fd, f, true, true);
		flows_clear(ki);
		hold_clear(ki);
		synq_clear(ki);
		synq_fill(ki, repeat);
		break;
	case K_L7_EST_FWD:
		f = &b->l7est_fwd;
		fd = wrap_l7(t, b->l7_fd, f, false, false);
		break;
	case K_L7_EST_REV:
		t = &b->ep7;
		f = &b->l7est_rev;
		fd = wrap_l7(t, b->l7_fd, f, false, false);
		break;
	case K_L4TS_FWD:
		f = &b->l4ts_fwd;
		fd = wrap_l7(t, b->l7_fd, f, false, false);
		break;
	case K_L4TS_REV:
		t = &b->ep;
		f = &b->l4ts_rev;
		fd = wrap_l7(t, b->l7_fd, f, false, false);
		break;
	case K_WRAP_NOP_ENCAP:
		fd = wrap_encap(t, b->nop_fd, f, false);
		break;
	case K_WRAP_NOP_ENCAP_VARY:
		f = &b->syn;
		fd = wrap_encap(t, b->nop_fd, f, true);
		break;
	case K_KB_NONVIP:
		fd = wrap_encap(t, kb_fd(), f, false);
		break;
	case K_KB_SYN:
		/* Every run a new client: every SYN inserts its flow. */
		f = &b->syn;
		fd = wrap_encap(t, kb_fd(), f, true);
		kb_lru_clear();
		break;
	case K_KB_EST:
		f = &b->est_fwd;
		fd = wrap_encap(t, kb_fd(), f, false);
		break;
	default:
		if (!is_part(k))
			abort();
		f = part_frame(b, k);
		fd = part_wrap(b, k);
		part_clear(k);
		break;
	}

	if (k >= K_WRAP_NOP_ENCAP) {
		kb_snap_take(&kb0);
		fails = part_fails();
	}
	snap_take(ki, &s0);
	prog_run(fd, t, f, NULL, repeat, &ns);
	if (k >= K_WRAP_NOP_ENCAP)
		kb_snap_take(&kb1);
	snap_take(ki, &s1);

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
		b->syn_runs += repeat;
		b->syn_overflow += D(g[KANARY_G_CONN_OVERFLOW]);
		break;
	case K_EST_FWD:
	case K_L7_EST_FWD:
	case K_L4TS_FWD:
	case K_DATA_FWD:
	case K_REQ_FWD:
		expect(D(to_ep) == repeat && D(to_client) == 0, b, kase_name[k],
		       "%llu forwarded in %u runs",
		       (unsigned long long)D(to_ep), repeat);
		break;
	case K_EST_REV:
	case K_L7_EST_REV:
	case K_L4TS_REV:
	case K_RESP_REV:
	case K_CONT_REV:
		expect(D(to_client) == repeat && D(to_ep) == 0, b, kase_name[k],
		       "%llu forwarded in %u runs",
		       (unsigned long long)D(to_client), repeat);
		break;
	case K_L7_SYN:
		open = synq_clear(ki);
		expect(D(g[KANARY_G_L7_SYN]) == repeat && open == repeat, b,
		       kase_name[k], "%llu SYN-ACKs, %zu half-open in %u runs",
		       (unsigned long long)D(g[KANARY_G_L7_SYN]), open, repeat);
		break;
	case K_L7_FIRST:
		held = hold_clear(ki);
		open = synq_clear(ki);
		flows_clear(ki);
		expect(D(g[KANARY_G_NEW_FLOW]) +
					       D(g[KANARY_G_SNAT_EXHAUSTED]) ==
				       repeat &&
			       D(conns) == D(g[KANARY_G_NEW_FLOW]) &&
			       D(row_conns[ki->canary_row]) == D(conns) &&
			       D(to_ep) == D(conns) && held == repeat &&
			       open == D(g[KANARY_G_SNAT_EXHAUSTED]) &&
			       D(g[KANARY_G_L7_HEAD_ACKED]) == 0,
		       b, kase_name[k],
		       "%llu bound (%llu to the canary), %zu held, %zu "
		       "half-open left in %u runs",
		       (unsigned long long)D(g[KANARY_G_NEW_FLOW]),
		       (unsigned long long)D(row_conns[ki->canary_row]), held,
		       open, repeat);
		if (D(g[KANARY_G_SNAT_EXHAUSTED]))
			return -1;
		break;
	case K_KB_NONVIP:
		expect(kb1.lru.v1 == kb0.lru.v1 && kb1.vip.v1 == kb0.vip.v1, b,
		       kase_name[k], "%llu VIP packets counted in %u runs",
		       (unsigned long long)(kb1.lru.v1 - kb0.lru.v1), repeat);
		break;
	case K_KB_SYN:
		held = kb_lru_clear();
		expect(kb1.lru.v1 - kb0.lru.v1 == repeat &&
			       kb1.lru.v2 - kb0.lru.v2 == repeat &&
			       kb1.miss.v1 - kb0.miss.v1 == repeat &&
			       kb1.vip.v1 - kb0.vip.v1 == repeat &&
			       kb1.fallback.v1 == kb0.fallback.v1 &&
			       held == repeat,
		       b, kase_name[k],
		       "%llu SYN misses, %llu ring picks, %zu flows in the "
		       "table in %u runs",
		       (unsigned long long)(kb1.miss.v1 - kb0.miss.v1),
		       (unsigned long long)(kb1.lru.v2 - kb0.lru.v2), held,
		       repeat);
		break;
	case K_KB_EST:
		expect(kb1.lru.v1 - kb0.lru.v1 == repeat &&
			       kb1.lru.v2 == kb0.lru.v2 &&
			       kb1.miss.v1 == kb0.miss.v1 &&
			       kb1.miss.v2 == kb0.miss.v2 &&
			       kb1.vip.v1 - kb0.vip.v1 == repeat,
		       b, kase_name[k], "%llu table misses in %u runs",
		       (unsigned long long)(kb1.lru.v2 - kb0.lru.v2), repeat);
		break;
	default:
		if (!is_part(k))
			break;
		held = part_clear(k);
		expect(part_fails() == fails, b, kase_name[k],
		       "%llu of %u runs failed",
		       (unsigned long long)(part_fails() - fails), repeat);
		if (is_insert(k))
			expect(held == repeat, b, kase_name[k],
			       "%zu entries after %u inserts", held, repeat);
		break;
	}
	/* The build's own counts one request per request head, nothing
	 * else (no response: none of these finds a request waiting that it
	 * ends; the 100 Continue leaves it waiting). */
	if (is_http(k) && !ki->tag)
		expect(D(requests) == (k == K_REQ_FWD ? repeat : 0) &&
			       D(responses) == 0,
		       b, kase_name[k],
		       "%llu requests, %llu responses in %u runs",
		       (unsigned long long)D(requests),
		       (unsigned long long)D(responses), repeat);
	if (is_kanary(k))
		expect(D(g[KANARY_G_FIB_PASS]) == 0 &&
			       D(g[KANARY_G_PASS_NOT_TCP]) == 0 &&
			       (k == K_SYN || k == K_L7_FIRST ||
				D(g[KANARY_G_NEW_FLOW]) == 0),
		       b, kase_name[k], "unexpected counters");
	if (is_l7(k)) {
		/* None of the L7 path's other exits, nor a plain pass. */
		for (int i = KANARY_G_PASS_NO_FLOW; i < KANARY_G_MAX; i++)
			expect(i == KANARY_G_NEW_FLOW ||
				       i == KANARY_G_SNAT_EXHAUSTED ||
				       i == KANARY_G_L7_SYN || D(g[i]) == 0,
			       b, kase_name[k], "kn_global[%d] went up by %llu",
			       i, (unsigned long long)D(g[i]));
		if (k != K_L7_FIRST)
			expect(D(g[KANARY_G_NEW_FLOW]) == 0 &&
				       D(g[KANARY_G_SNAT_EXHAUSTED]) == 0 &&
				       (k == K_L7_SYN ||
					D(g[KANARY_G_L7_SYN]) == 0),
			       b, kase_name[k], "unexpected counters");
		if (k == K_L7_EST_FWD || k == K_L7_EST_REV || k == K_L4TS_FWD ||
		    k == K_L4TS_REV)
			expect(l7_spliced(ki), b, kase_name[k],
			       "the connection left KANARY_L7_SPLICED");
	}
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

#define FINAL_RUNS 20001

/*
 * A final response ends the request it answers: run in a window of
 * repeated runs, only its first run would find one waiting. So it is
 * measured one run at a time, each after setting req_ns, against the
 * 100 Continue (same length, read and parsed, counted as nothing) run
 * the same way, alternately: the medians of FINAL_RUNS single runs (the
 * kernel's duration, timer included) and of their paired difference.
 */
static void measure_final(struct bench *b, double *resp, double *cont,
			  double *diff)
{
	static double d1[FINAL_RUNS], d2[FINAL_RUNS], dd[FINAL_RUNS];
	struct snap s0, s1;
	int fd;

	snap_take(b->ki, &s0);
	for (int i = 0; i < FINAL_RUNS; i++) {
		set_waiting(b->ki, 1);
		fd = wrap_l7(&b->ep, b->kanary_fd, &b->resp_rev, false, false);
		prog_run(fd, &b->ep, &b->resp_rev, NULL, 1, &d1[i]);
		set_waiting(b->ki, 1);
		fd = wrap_l7(&b->ep, b->kanary_fd, &b->cont_rev, false, false);
		prog_run(fd, &b->ep, &b->cont_rev, NULL, 1, &d2[i]);
		dd[i] = d1[i] - d2[i];
	}
	snap_take(b->ki, &s1);
	if (!b->ki->tag)
		expect(s1.responses - s0.responses == FINAL_RUNS, b,
		       "final response", "%llu counted in %d runs",
		       (unsigned long long)(s1.responses - s0.responses),
		       FINAL_RUNS);
	/* Sorted in place: median() takes at most MAX_ROUNDS values. */
	qsort(d1, FINAL_RUNS, sizeof(*d1), cmp_double);
	qsort(d2, FINAL_RUNS, sizeof(*d2), cmp_double);
	qsort(dd, FINAL_RUNS, sizeof(*dd), cmp_double);
	*resp = d1[FINAL_RUNS / 2];
	*cont = d2[FINAL_RUNS / 2];
	*diff = dd[FINAL_RUNS / 2];
}

static void bench_init(struct bench *b, bool tc, struct kinst *ki,
		       struct kinst *kl)
{
	memset(b, 0, sizeof(*b));
	b->tc = tc;
	b->ki = ki;
	b->kl = kl;
	snprintf(b->name, sizeof(b->name), "%s%s%s",
		 tc ? "kanary_tc" : "kanary_xdp", ki->tag ? "@" : "",
		 ki->tag ? ki->tag : "");
	if (tc) {
		b->floor_name = "tc_floor";
		b->kanary_fd = ki->tc_fd;
		b->l7_fd = kl->tc_fd;
		b->v_tx = TC_ACT_REDIRECT_;
		b->floor_fd = bpf_program__fd(xp->progs.tc_floor);
		b->nop_fd = bpf_program__fd(bw->progs.bw_tc_nop);
		b->v_redirect = TC_ACT_REDIRECT_;
		b->v_pass = TC_ACT_OK_;
		b->v_floor = TC_ACT_OK_;
	} else {
		b->floor_name = "xdp_floor";
		b->kanary_fd = ki->xdp_fd;
		b->l7_fd = kl->xdp_fd;
		b->v_tx = XDP_TX_;
		b->floor_fd = bpf_program__fd(xp->progs.xdp_floor);
		b->nop_fd = bpf_program__fd(bw->progs.bw_xdp_nop);
		b->v_redirect = XDP_REDIRECT_;
		b->v_pass = XDP_PASS_;
		b->v_floor = XDP_TX_;
	}
}

#define KB_PROG "katran_model"
#define PART_PROG "kanary_syn_part"

/* A part's own cost: its program minus the floor, the median over rounds
 * of the per-round difference. */
static double part_ns(const struct bench *b, enum kase k, int rounds)
{
	double d[MAX_ROUNDS];

	for (int r = 0; r < rounds; r++)
		d[r] = b->ns[k][r] - b->ns[K_FLOOR][r];
	return median(d, rounds);
}

/* kanary_xdp against the Katran model, case by case: the median over
 * rounds of the per-round ratio, and each in floors. */
static void katran_report(const struct bench *b, int rounds)
{
	static const enum kase pair[][2] = {
		{ K_SYN, K_KB_SYN },
		{ K_EST_FWD, K_KB_EST },
		{ K_NONVIP, K_KB_NONVIP },
	};
	double floor_ns = median(b->ns[K_FLOOR], rounds);

	printf("%s against the Katran model (%s: bpf/bench_katran.bpf.c), "
	       "same rounds, frames, wrapper and floor; median over rounds "
	       "of the per-round ratio:\n",
	       b->name, KB_PROG);
	for (size_t i = 0; i < sizeof(pair) / sizeof(pair[0]); i++) {
		enum kase a = pair[i][0], m = pair[i][1];
		double q[MAX_ROUNDS], na = median(b->ns[a], rounds),
				      nm = median(b->ns[m], rounds);

		for (int r = 0; r < rounds; r++)
			q[r] = b->ns[a][r] / b->ns[m][r];
		printf("  %s / %s: %.2fx (%.1f ns = %.1f floors; %.1f ns = "
		       "%.1f floors)\n",
		       kase_name[a], kase_name[m], median(q, rounds), na,
		       na / floor_ns, nm, nm / floor_ns);
	}
}

/*
 * What each part of kanary's SYN path costs alone, and how far the parts
 * the SYN takes (times as often as it takes them) go toward the whole:
 * per round, the sum and the rest, then their medians.
 */
static void parts_report(const struct bench *b, int rounds)
{
	double sum[MAX_ROUNDS] = { 0 }, rest[MAX_ROUNDS];
	double floor_ns = median(b->ns[K_FLOOR], rounds);

	printf("\nWhat each part of %s's SYN path costs (bpf/bench_parts.bpf.c: "
	       "each operation alone in a program of its own, on the same "
	       "frames behind the same wrapper; its program minus the floor "
	       "(%.1f ns), median over rounds of the per-round difference):\n"
	       "\n",
	       b->name, floor_ns);
	printf("| part | ns | per SYN | ns per SYN | repeat |\n");
	printf("| --- | ---: | ---: | ---: | ---: |\n");
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		enum kase k = parts[i].k;
		double ns = part_ns(b, k, rounds);

		for (int r = 0; r < rounds; r++)
			sum[r] += parts[i].per_syn *
				  (b->ns[k][r] - b->ns[K_FLOOR][r]);
		if (parts[i].per_syn)
			printf("| %s | %.1f | %d | %.1f | %u |\n",
			       parts[i].what, ns, parts[i].per_syn,
			       ns * parts[i].per_syn, b->repeat[k]);
		else
			printf("| %s | %.1f | - | - | %u |\n", parts[i].what,
			       ns, b->repeat[k]);
	}
	for (int r = 0; r < rounds; r++)
		rest[r] = b->ns[K_SYN][r] - sum[r];
	printf("| the parts above, as often as the SYN takes them | | | "
	       "%.1f | |\n",
	       median(sum, rounds));
	printf("| the whole SYN (%s syn-new-flow) | | | %.1f | %u |\n", b->name,
	       median(b->ns[K_SYN], rounds), b->repeat[K_SYN]);
	printf("| the rest: parse and flag checks, RST bookkeeping, counters, "
	       "rewrite, and what the parts cost more or less in place | | | "
	       "%.1f | |\n\n",
	       median(rest, rounds));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pktbench [--quick] [--rounds N] [--repeat N] "
		"[--syn-repeat N] [--l7-repeat N]\n"
		"                [--katran-lru N] [--tsv FILE] "
		"[--compare OBJ [--tag NAME]] [--verbose]\n"
		"  ns/packet of kanary_xdp and kanary_tc through "
		"BPF_PROG_TEST_RUN, beside a MAC-swap floor,\n"
		"  on CPU 0, and of a model of Katran's XDP balancer and of "
		"each operation of\n"
		"  kanary's SYN path alone (XDP). Defaults: 7 rounds, repeat "
		"2000000 (new-flow,\n"
		"  l7-syn and insert cases 20000, l7-first-segment 5000); "
		"--quick: 3 rounds, 200000\n"
		"  (5000, 2000). --katran-lru: entries of the model's "
		"connection table per CPU\n"
		"  (default 524288, kn_flows' size). --compare: also measure "
		"another build of\n"
		"  kanary.bpf.o in the same rounds and report the difference. "
		"Run as root from the\n"
		"  repository root (lab files in $KANARY_LAB_DIR or "
		"examples/lab).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "syn-repeat", required_argument, NULL, 's' },
		{ "l7-repeat", required_argument, NULL, 'l' },
		{ "katran-lru", required_argument, NULL, 'k' },
		{ "tsv", required_argument, NULL, 't' },
		{ "compare", required_argument, NULL, 'c' },
		{ "tag", required_argument, NULL, 'g' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const enum kase shown[] = {
		K_FLOOR,    K_NONVIP,	  K_SYN,	K_EST_FWD,  K_EST_REV,
		K_DATA_FWD, K_REQ_FWD,	  K_RESP_REV,	K_CONT_REV, K_L7_SYN,
		K_L7_FIRST, K_L7_EST_FWD, K_L7_EST_REV,
	};
	static const enum kase kb_shown[] = { K_KB_NONVIP, K_KB_SYN, K_KB_EST };
	/* own L4, own L7, --compare's L4, --compare's L7 */
	static struct kinst inst[4];
	static struct bench benches[4];
	int rounds = 7, c, n_inst = 1, n_bench;
	uint32_t repeat = 2000000, syn_repeat = 20000, l7_repeat = 5000;
	bool quick = false, set_rounds = false, set_rep = false,
	     set_syn = false, set_l7 = false;
	const char *tsv = NULL, *compare = NULL, *tag = "cmp";
	int stats_waits = 0, stats_discarded = 0, syn_redone = 0;
	struct timespec t0, t1;
	struct kanary_bpf *skel, *skel7;
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
		case 'l':
			l7_repeat = strtoul(optarg, NULL, 0), set_l7 = true;
			break;
		case 'k':
			kb_lru_size = strtoul(optarg, NULL, 0);
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
		if (!set_l7)
			l7_repeat = 2000;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || repeat < 1 || syn_repeat < 1 ||
	    syn_repeat > 30000 || l7_repeat < 1 || l7_repeat > L7_REPEAT_MAX) {
		fprintf(stderr,
			"pktbench: rounds 1..%d, repeat >= 1, syn-repeat "
			"1..30000 (22768 SNAT ports per endpoint), l7-repeat "
			"1..%d (kn_hold holds %d; one endpoint's SNAT ports)\n",
			MAX_ROUNDS, L7_REPEAT_MAX, KANARY_HOLD_DEFAULT);
		return 2;
	}
	if (kb_lru_size < 2 * syn_repeat || kb_lru_size > (1u << 24)) {
		fprintf(stderr,
			"pktbench: katran-lru 2 x syn-repeat..%u (a window "
			"of new flows must fit)\n",
			1u << 24);
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

	/* Two copies of each build: the L4 cases' (70/30 weights) and the
	 * L7 cases' (focused routing), each with maps of its own. */
	skel = kanary_bpf__open();
	skel7 = kanary_bpf__open();
	if (!skel || !skel7)
		die("open kanary object");
	/*
	 * As the loader builds it for NICs (frames from a wire): no check
	 * for checksums left to offload. A veth's check would also see the
	 * wrapper's run-by-run variations of one frame, a few of which look
	 * like such a checksum.
	 */
	skel->rodata->kn_xdp_partial_csums = false;
	skel7->rodata->kn_xdp_partial_csums = false;
	kinst_load(&inst[0], skel->obj, skel);
	kinst_load(&inst[1], skel7->obj, skel7);
	if (compare) {
		for (int i = 2; i < 4; i++) {
			struct bpf_object *obj =
				bpf_object__open_file(compare, NULL);

			if (!obj)
				die("%s: %s", compare, strerror(errno));
			inst[i].tag = tag;
			kinst_load(&inst[i], obj, NULL);
		}
		n_inst = 2;
	}
	bw = bench_wrap_bpf__open_and_load();
	if (!bw)
		die("bench_wrap BPF load/verify failed");
	xp = floor_bpf__open_and_load();
	if (!xp)
		die("floor BPF load/verify failed");
	katran_load();

	/* benches: xdp, tc of the build's own, then of --compare's. n_inst
	 * counts builds; each has its L4 and its L7 copy. */
	n_bench = 2 * n_inst;
	for (int i = 0; i < n_inst; i++) {
		struct kinst *ki = &inst[2 * i], *kl = &inst[2 * i + 1];

		apply_lab(ki, WEIGHT_VS);
		apply_lab(kl, FOCUSED_VS);
		bench_init(&benches[2 * i], false, ki, kl);
		bench_init(&benches[2 * i + 1], true, ki, kl);
		establish(ki, &benches[2 * i], &benches[2 * i + 1]);
		establish_l7(kl, ki, &benches[2 * i], &benches[2 * i + 1]);
	}
	/* The Katran model and the parts beside the build's own XDP (the
	 * parts on its L4 copy's maps, configured). */
	katran_establish(&benches[0]);
	parts_load(&inst[0]);
	check_parts(&benches[0]);
	for (int p = 0; p < n_bench; p++)
		for (int k = 0; k < K_COUNT; k++)
			benches[p].repeat[k] =
				k == K_SYN || k == K_L7_SYN || k == K_KB_SYN ||
						is_insert(k) ||
						k == K_P_PORT_CLAIM ?
					syn_repeat :
				k == K_L7_FIRST ? l7_repeat :
						  repeat;

	printf("pktbench: pinned to CPU 0; %d rounds; repeat %u (new-flow, "
	       "l7-syn and insert cases %u, l7-first-segment %u, kn_flows, "
	       "kn_synq, kn_hold and the Katran model's table cleared around "
	       "each window); median per case\n",
	       rounds, repeat, syn_repeat, l7_repeat);
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

				if (!measured(b, k))
					continue;
				while ((ns = measure(b, k, b->repeat[k])) < 0) {
					syn_redone++;
					if (++tries == SYN_RETRIES)
						die("%s %s: SNAT ports exhausted "
						    "in %d windows in a row: "
						    "lower --%s-repeat",
						    b->name, kase_name[k],
						    SYN_RETRIES,
						    k == K_SYN ? "syn" : "l7");
				}
				b->raw[k][r] = ns;
				if (verbose)
					fprintf(stderr,
						"round %d %-16s %-18s %8.2f\n",
						r, b->name, kase_name[k], ns);
			}
			/* Subtract this round's wrapper cost. */
			for (int k = 0; k < K_COUNT; k++) {
				enum kase wk = wrapper_of(k);
				double w = 0;

				if (wk != K_NOP)
					w = b->raw[wk][r] - b->raw[K_NOP][r];
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
		/* The Katran model, against the same XDP floor. */
		for (size_t i = 0; i < sizeof(kb_shown) / sizeof(kb_shown[0]);
		     i++) {
			enum kase k = kb_shown[i];
			double ns = median(b->ns[k], rounds);

			if (!measured(b, k))
				break;
			printf("| %s | %s | %.1f | %.2f | %d | %u |\n", KB_PROG,
			       kase_name[k], ns, ns / floor_ns, rounds,
			       b->repeat[k]);
			if (tf)
				fprintf(tf, "%s\t%s\t%.2f\t%.3f\t%d\t%u\n",
					KB_PROG, kase_name[k], ns,
					ns / floor_ns, rounds, b->repeat[k]);
		}
	}
	/* The parts (minus the floor) in the TSV too, after the table's. */
	if (tf) {
		const struct bench *b = &benches[0];

		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			enum kase k = parts[i].k;
			double ns = part_ns(b, k, rounds),
			       floor_ns = median(b->ns[K_FLOOR], rounds);

			fprintf(tf, "%s\t%s\t%.2f\t%.3f\t%d\t%u\n", PART_PROG,
				kase_name[k], ns, ns / floor_ns, rounds,
				b->repeat[k]);
		}
	}
	if (tf && fclose(tf))
		die("%s: %s", tsv, strerror(errno));

	printf("\nWrapper cost subtracted (median over rounds of wrapped(nop) "
	       "- nop: restore of the %d-byte frame + tail call):\n",
	       FRAME_LEN);
	for (int p = 0; p < n_bench; p++) {
		struct bench *b = &benches[p];
		double w[MAX_ROUNDS], wv[MAX_ROUNDS], ws[MAX_ROUNDS],
			wf[MAX_ROUNDS], we[MAX_ROUNDS];

		if (b->ki->tag)
			continue;
		for (int r = 0; r < rounds; r++) {
			double nop = b->raw[K_NOP][r];

			w[r] = b->raw[K_WRAP_NOP][r] - nop;
			wv[r] = b->raw[K_WRAP_NOP_VARY][r] - nop;
			ws[r] = b->raw[K_WRAP_NOP_L7SYN][r] - nop;
			wf[r] = b->raw[K_WRAP_NOP_L7FIRST][r] - nop;
			we[r] = b->raw[K_WRAP_NOP_L7EST][r] - nop;
		}
		printf("  %-10s %.1f ns; with a new client per run (new-flow "
		       "case) %.1f ns; nop alone %.1f ns\n",
		       b->name, median(w, rounds), median(wv, rounds),
		       median(b->raw[K_NOP], rounds));
		printf("  %-10s L7 wrapper: l7-syn (%zu bytes, new client) "
		       "%.1f ns; l7-first-segment (%zu bytes, new client, "
		       "length set back) %.1f ns; l7-est (%zu bytes) %.1f ns\n",
		       "", b->l7syn.len, median(ws, rounds), b->l7first.len,
		       median(wf, rounds), b->l7est_fwd.len,
		       median(we, rounds));
		if (!measured(b, K_WRAP_NOP_ENCAP))
			continue;
		for (int r = 0; r < rounds; r++) {
			double nop = b->raw[K_NOP][r];

			w[r] = b->raw[K_WRAP_NOP_ENCAP][r] - nop;
			wv[r] = b->raw[K_WRAP_NOP_ENCAP_VARY][r] - nop;
		}
		printf("  %-10s Katran model's wrapper (bw_xdp_encap: the "
		       "frame's start set back too) %.1f ns; with a new client "
		       "per run %.1f ns\n",
		       "", median(w, rounds), median(wv, rounds));
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
	printf("L7 vs L4 established in one image (the L7 copy; both 66-byte "
	       "segments with NOP NOP TS, same wrapper), median of the paired "
	       "difference:\n");
	for (int p = 0; p < n_bench; p++) {
		struct bench *b = &benches[p];
		double df[MAX_ROUNDS], dr[MAX_ROUNDS];

		if (b->ki->tag)
			continue;
		for (int r = 0; r < rounds; r++) {
			df[r] = b->ns[K_L7_EST_FWD][r] - b->ns[K_L4TS_FWD][r];
			dr[r] = b->ns[K_L7_EST_REV][r] - b->ns[K_L4TS_REV][r];
		}
		printf("  %-10s to-endpoint %.1f vs %.1f ns (%+.1f), to-client "
		       "%.1f vs %.1f ns (%+.1f)\n",
		       b->name, median(b->ns[K_L7_EST_FWD], rounds),
		       median(b->ns[K_L4TS_FWD], rounds), median(df, rounds),
		       median(b->ns[K_L7_EST_REV], rounds),
		       median(b->ns[K_L4TS_REV], rounds), median(dr, rounds));
	}
	if (n_inst == 2) {
		printf("Compare: %s minus the build's own, median over rounds "
		       "of the paired difference:\n",
		       tag);
		for (int h = 0; h < 2; h++) {
			struct bench *a = &benches[h], *b = &benches[2 + h];
			size_t n_shown = sizeof(shown) / sizeof(shown[0]);

			printf("  %-10s", a->name);
			for (size_t i = 1; i < n_shown; i++) {
				enum kase k = shown[i];
				double d[MAX_ROUNDS];

				for (int r = 0; r < rounds; r++)
					d[r] = b->ns[k][r] - a->ns[k][r];
				/* the L7 cases on a line of their own */
				if (k == K_L7_SYN)
					printf("\n  %-10s", "");
				printf(" %s %+.1f ns (%+.0f%%)%s", kase_name[k],
				       median(d, rounds),
				       100 * median(d, rounds) /
					       median(a->ns[k], rounds),
				       i + 1 < n_shown ?
					       (shown[i + 1] == K_L7_SYN ?
							"" :
							",") :
					       "\n");
			}
		}
	}
	printf("syn-new-flow's SYNs that found their records taken and went "
	       "to kn_flows (conn_overflow), all windows:");
	for (int h = 0; h < 2 * n_inst; h++)
		printf(" %s %.1f %%%s", benches[h].name,
		       benches[h].syn_runs ? 100.0 * benches[h].syn_overflow /
						     benches[h].syn_runs :
					     0.0,
		       h + 1 < 2 * n_inst ? "," : "\n");
	katran_report(&benches[0], rounds);
	parts_report(&benches[0], rounds);
	printf("A final response (200) vs a 100 Continue, both while a "
	       "request waits, %d single runs each, alternating (medians; "
	       "kernel duration of one run, timer included; no wrapper "
	       "subtracted):\n",
	       FINAL_RUNS);
	for (int h = 0; h < 2; h++) {
		for (int i = 0; i < n_inst; i++) {
			struct bench *b = &benches[2 * i + h];
			double r, c, d;

			measure_final(b, &r, &c, &d);
			printf("  %-16s 200 %.1f ns, 100 %.1f ns, paired "
			       "difference %+.1f ns\n",
			       b->name, r, c, d);
		}
	}
	if (syn_redone)
		printf("New-flow or l7-first-segment windows measured again "
		       "after a connection found no free SNAT port: %d (see "
		       "docs/bench-packet.md).\n",
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
	bench_katran_bpf__destroy(kb);
	for (int c = 0; c < ncpu; c++)
		close(kb_lru_fd[c]);
	bench_parts_bpf__destroy(kp);
	if (compare) {
		bpf_object__close(inst[2].obj);
		bpf_object__close(inst[3].obj);
	}
	kanary_bpf__destroy(skel7);
	kanary_bpf__destroy(skel);
	return 0;
}
