// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * scale_tool: the measuring half of scripts/bench_scale.sh. Every
 * subcommand works on a kanary that `kanary load` pinned in --pin-dir and
 * runs inside the gateway's network namespace (nsenter --net=...), so that
 * interface indexes, the FIB and the endpoints' routes are the gateway's.
 * Results go to stdout as TSV rows "metric<TAB>value<TAB>unit<TAB>note";
 * progress and errors go to stderr.
 *
 *   scale_tool flows     conntrack at N connections: memory, fill time,
 *                        per-packet cost against a nearly empty map
 *   scale_tool pkt       per-packet cost of SYNs and established packets
 *                        under the config that is applied now
 *   scale_tool setweight how long `kanary set-weight` takes to reach the
 *                        data path (kn_cfg generation polled meanwhile)
 *   scale_tool time      wall time of a command, median of N
 *   scale_tool phases    where an apply's time goes (parse, merge,
 *                        validate, compile, map writes, save, re-read)
 *
 * Per-packet costs come from BPF_PROG_TEST_RUN's own clock (the kernel
 * times the program runs, not the system call). Established packets are
 * rewritten in place, so a repeated run would see the rewritten tuple;
 * "hot" runs therefore use probe connections inserted as 2-cycles (entry
 * A: t1 -> t2 and entry B: t2 -> t1), so that every run of the repeat loop
 * is an established-flow hit and an even repeat count gives back the
 * packet it started with. "Cold" runs use repeat=1, one packet per call,
 * a different flow each time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "apply.h"
#include "compile.h"
#include "config.h"
#include "kanary_abi.h"
#include "flows.h"
#include "pins.h"
#include "pkt.h"
#include "state.h"
#include "kanary.skel.h"
#include "floor.skel.h"

#define ETH_MAC_GW_EP "\x02\x00\x00\x00\x01\x01"
#define ETH_MAC_EP "\x02\x00\x00\x00\x01\x02"
#define ETH_MAC_GW_CL "\x02\x00\x00\x00\x00\x01"
#define ETH_MAC_CL "\x02\x00\x00\x00\x00\x02"

/* ------------------------------------------------------------------ */
/* Small things */

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "scale_tool: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "scale_tool: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void tsv(const char *metric, const char *unit, const char *note,
		const char *fmt, ...)
{
	char value[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	printf("%s\t%s\t%s\t%s\n", metric, value, unit, note ? note : "");
	fflush(stdout);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct summary {
	double median, mean, p99, min, max;
};

static struct summary summarize(const double *v, size_t n)
{
	struct summary s = { 0 };
	double *c;

	if (!n)
		return s;
	c = malloc(n * sizeof(*c));
	if (!c)
		die("out of memory");
	memcpy(c, v, n * sizeof(*c));
	qsort(c, n, sizeof(*c), cmp_double);
	for (size_t i = 0; i < n; i++)
		s.mean += c[i];
	s.mean /= n;
	s.median = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
	s.p99 = c[(size_t)((n - 1) * 0.99)];
	s.min = c[0];
	s.max = c[n - 1];
	free(c);
	return s;
}

static uint32_t addr_add(const char *base, uint32_t off)
{
	return htonl(ntohl(pkt_addr(base)) + off);
}

static const char *ntoa(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static int map_open(const char *pin_dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		die("cannot open %s: %s (is kanary loaded there?)", path,
		    strerror(errno));
	return fd;
}

/* What the kernel charges for a map: fdinfo's memlock (bpftool's
 * bytes_memlock). */
static unsigned long long map_memlock(int fd, unsigned long long *max_entries)
{
	char path[64], line[256];
	unsigned long long v, mem = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		die("cannot read %s", path);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "memlock: %llu", &v) == 1)
			mem = v;
		else if (max_entries &&
			 sscanf(line, "max_entries: %llu", &v) == 1)
			*max_entries = v;
	}
	fclose(f);
	return mem;
}

/* The XDP program kanary attached to ifname (its pinned link). */
static int xdp_prog_of(const char *pin_dir, const char *ifname)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	char path[512];
	int link, prog;

	snprintf(path, sizeof(path), "%s/link_xdp_%s", pin_dir, ifname);
	link = bpf_obj_get(path);
	if (link < 0)
		die("cannot open %s: %s (load in xdp or xdp-generic mode)",
		    path, strerror(errno));
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(link, &info, &len))
		die("cannot read link info: %s", strerror(errno));
	close(link);
	prog = bpf_prog_get_fd_by_id(info.prog_id);
	if (prog < 0)
		die("cannot open program %u: %s", info.prog_id,
		    strerror(errno));
	return prog;
}

/* ------------------------------------------------------------------ */
/* BPF_PROG_TEST_RUN */

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_ 3
#define XDP_REDIRECT_ 4

static int forwarded(int verdict)
{
	return verdict == XDP_TX_ || verdict == XDP_REDIRECT_;
}

/*
 * Run prog on the frame arriving on ifindex, repeat times in the kernel's
 * loop; returns the kernel's average ns per run. out (may be NULL) gets
 * the frame as the last run left it.
 */
static double run_xdp(int prog, int ifindex, const struct pkt_buf *in,
		      int repeat, int *verdict, struct pkt_buf *out)
{
	static struct pkt_buf scratch;
	struct xdp_md ctx = { .data_end = in->len, .ingress_ifindex = ifindex };
	struct pkt_buf *o = out ? out : &scratch;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data,
		    .data_size_in = in->len, .data_out = o->data,
		    .data_size_out = sizeof(o->data), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &opts))
		die("BPF_PROG_TEST_RUN: %s", strerror(errno));
	o->len = opts.data_size_out;
	*verdict = opts.retval;
	return opts.duration;
}

/*
 * Frames the XDP program passed because their full checksum reads as a
 * partial one (once in 65535, bpf/csum.h): right, and not a forwarded
 * packet's cost, so left out of the samples and counted.
 */
static long n_passed_as_partial;

static bool passed_as_partial(const struct pkt_buf *in, int verdict)
{
	if (verdict != XDP_PASS_ || !pkt_csum_looks_partial(in))
		return false;
	n_passed_as_partial++;
	return true;
}

static void build(struct pkt_buf *b, uint32_t saddr, uint32_t daddr,
		  uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq)
{
	char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];
	struct pkt_spec spec = { .saddr = ntoa(saddr, s),
				 .daddr = ntoa(daddr, d),
				 .sport = sport,
				 .dport = dport,
				 .flags = flags,
				 .seq = seq,
				 .ack = flags & 0x10 ? 1 : 0 };

	pkt_build(&spec, b);
}

/* ------------------------------------------------------------------ */
/* Connections in kn_flows */

static struct kanary_flow_key fkey(uint32_t saddr, uint32_t daddr,
				   uint16_t sport, uint16_t dport)
{
	struct kanary_flow_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = saddr;
	k.daddr = daddr;
	k.sport = htons(sport);
	k.dport = htons(dport);
	k.proto = IPPROTO_TCP;
	return k;
}

static struct kanary_flow fval(uint32_t saddr, uint32_t daddr, uint16_t sport,
			       uint16_t dport, int ifindex, const char *smac,
			       const char *dmac, int dir, uint32_t seq)
{
	struct kanary_flow v;

	memset(&v, 0, sizeof(v));
	v.saddr = saddr;
	v.daddr = daddr;
	v.sport = htons(sport);
	v.dport = htons(dport);
	v.stats = 0;
	v.ifindex = ifindex;
	memcpy(v.smac, smac, 6);
	memcpy(v.dmac, dmac, 6);
	v.dir = dir;
	v.syn_seq = seq;
	return v;
}

/*
 * Probe connection k as a 2-cycle: A maps the client's tuple t1 to t2, B
 * maps t2 back to t1. Both are ordinary established entries (egress
 * ifindex and MACs known), so the program takes its redirect path on
 * every run of a repeat loop.
 */
struct probe {
	uint32_t client, vip, snat, ep;
	uint16_t cport, vport, sport, eport;
};

static struct probe probe_of(int k, const char *vip, uint16_t vport)
{
	struct probe p = {
		.client = addr_add("198.18.127.0", 1 + k),
		.vip = pkt_addr(vip),
		.snat = pkt_addr("198.18.1.1"),
		.ep = addr_add("198.19.255.0", 1 + k),
		.cport = 40000,
		.vport = vport,
		.sport = 10000 + k,
		.eport = 8501,
	};

	return p;
}

static void probe_insert(int flows, const struct probe *p, int out_ifindex)
{
	struct kanary_flow_key a = fkey(p->client, p->vip, p->cport, p->vport);
	struct kanary_flow_key b = fkey(p->snat, p->ep, p->sport, p->eport);
	struct kanary_flow va = fval(p->snat, p->ep, p->sport, p->eport,
				     out_ifindex, ETH_MAC_GW_EP, ETH_MAC_EP,
				     KANARY_DIR_TO_ENDPOINT, 1);
	struct kanary_flow vb = fval(p->client, p->vip, p->cport, p->vport,
				     out_ifindex, ETH_MAC_GW_EP, ETH_MAC_EP,
				     KANARY_DIR_TO_CLIENT, 0);

	if (bpf_map_update_elem(flows, &a, &va, BPF_ANY) ||
	    bpf_map_update_elem(flows, &b, &vb, BPF_ANY))
		die("cannot insert a probe flow: %s", strerror(errno));
}

static int probe_present(int flows, const struct probe *p)
{
	struct kanary_flow_key a = fkey(p->client, p->vip, p->cport, p->vport);
	struct kanary_flow_key b = fkey(p->snat, p->ep, p->sport, p->eport);
	struct kanary_flow v;

	return !bpf_map_lookup_elem(flows, &a, &v) &&
	       !bpf_map_lookup_elem(flows, &b, &v);
}

static void probe_packet(const struct probe *p, struct pkt_buf *b)
{
	build(b, p->client, p->vip, p->cport, p->vport, 0x10, 1000);
}

/* Check once that the cycle works: t1 -> t2 forwarded, and back. */
static void probe_check(int prog, int ifindex, const struct probe *p)
{
	struct pkt_buf in, out;
	struct pkt_tuple t;
	int v;

	probe_packet(p, &in);
	run_xdp(prog, ifindex, &in, 1, &v, &out);
	if (!forwarded(v) || pkt_check(&out, &t) || t.daddr != p->ep ||
	    t.sport != p->sport)
		die("probe flow not forwarded as expected (verdict %d)", v);
	run_xdp(prog, ifindex, &in, 2, &v, &out);
	if (!forwarded(v) || pkt_check(&out, &t) || t.daddr != p->vip ||
	    t.sport != p->cport)
		die("probe 2-cycle does not come back (verdict %d)", v);
}

/* Samples of one measurement, pooled over rounds. */
struct samples {
	double *v;
	size_t n, cap;
};

static void push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			die("out of memory");
	}
	s->v[s->n++] = x;
}

static struct summary sum_of(const struct samples *s)
{
	return summarize(s->v, s->n);
}

/*
 * One kanary to measure: the pinned one (what `kanary load` made), or a
 * private copy of the same BPF object with maps of the same size, loaded
 * here and never pinned, which is the baseline measured in the same
 * rounds (interleaved, so that drift on a shared machine hits both).
 */
struct inst {
	struct kanary_bpf *skel; /* NULL: the pinned kanary */
	int prog, flows, conns;
	int lo, hi; /* VIP ports SYNs go to */
};

static void inst_pinned(struct inst *in, const char *pin_dir, const char *iface,
			int lo, int hi)
{
	memset(in, 0, sizeof(*in));
	in->prog = xdp_prog_of(pin_dir, iface);
	in->flows = map_open(pin_dir, "kn_flows");
	in->conns = map_open(pin_dir, "kn_conns");
	in->lo = lo;
	in->hi = hi;
}

/* The private copy, with the pinned one's hash seed and kn_flows size, and
 * the config in files (none: an empty config). */
static void inst_private(struct inst *in, const char *pin_dir, const char *vip,
			 int lo, int hi, int n_files, char **files)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct kanary_cfg cfg;
	struct bpf_map *map;
	struct kn_maps m;
	uint32_t zero = 0;
	int pinned_flows = map_open(pin_dir, "kn_flows");
	int pinned_cfg = map_open(pin_dir, "kn_cfg");

	memset(in, 0, sizeof(*in));
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(pinned_flows, &info, &len) ||
	    bpf_map_lookup_elem(pinned_cfg, &zero, &cfg))
		die("cannot read the pinned kn_flows/kn_cfg");
	close(pinned_flows);
	close(pinned_cfg);
	in->skel = kanary_bpf__open();
	if (!in->skel)
		die("cannot open the BPF object");
	/* Private maps: nothing of the baseline is pinned anywhere. */
	bpf_object__for_each_map(map, in->skel->obj)
		bpf_map__set_pin_path(map, NULL);
	if (bpf_map__set_max_entries(in->skel->maps.kn_flows,
				     info.max_entries) ||
	    kanary_bpf__load(in->skel))
		die("cannot load the baseline copy: %s", strerror(errno));
	/* As the loader fills it for the lab's links (xdp-generic: all). */
	if (pkt_fill_tx_ports(bpf_map__fd(in->skel->maps.kn_tx_ports)))
		die("cannot fill the baseline copy's kn_tx_ports");
	m.fd[KN_MAP_CFG] = bpf_map__fd(in->skel->maps.kn_cfg);
	m.fd[KN_MAP_VIPS] = bpf_map__fd(in->skel->maps.kn_vips);
	m.fd[KN_MAP_ROUTES] = bpf_map__fd(in->skel->maps.kn_routes);
	m.fd[KN_MAP_POOLS] = bpf_map__fd(in->skel->maps.kn_pools);
	m.fd[KN_MAP_ENDPOINTS] = bpf_map__fd(in->skel->maps.kn_endpoints);
	m.fd[KN_MAP_FLOWS] = bpf_map__fd(in->skel->maps.kn_flows);
	m.fd[KN_MAP_STATS] = bpf_map__fd(in->skel->maps.kn_stats);
	m.fd[KN_MAP_STAT_NAMES] = bpf_map__fd(in->skel->maps.kn_stat_names);
	m.fd[KN_MAP_GLOBAL] = bpf_map__fd(in->skel->maps.kn_global);
	m.fd[KN_MAP_SYNC] = bpf_map__fd(in->skel->maps.kn_sync);
	cfg.active_slot = 0;
	cfg.generation = 0;
	if (bpf_map_update_elem(m.fd[KN_MAP_CFG], &zero, &cfg, 0))
		die("cannot seed the baseline's kn_cfg");
	if (n_files) {
		struct kn_load_info li = { .n_vips = 1 };
		struct kn_config c = { 0 };
		struct kn_compiled cc;
		struct kn_err err;

		li.vips[0] = pkt_addr(vip);
		for (int i = 0; i < n_files; i++)
			if (kn_config_read_path(&c, files[i], &err))
				die("%s", err.msg);
		if (kn_config_validate(&c, &err) || kn_compile(&c, &cc, &err) ||
		    kn_apply_compiled(&m, &li, &cc, &err))
			die("baseline config: %s", err.msg);
		kn_compiled_free(&cc);
		kn_config_free(&c);
	}
	in->prog = bpf_program__fd(in->skel->progs.kanary_xdp);
	in->flows = m.fd[KN_MAP_FLOWS];
	in->conns = bpf_map__fd(in->skel->maps.kn_conns);
	in->lo = lo;
	in->hi = hi;
}

static void inst_close(struct inst *in)
{
	if (in->skel) {
		kanary_bpf__destroy(in->skel);
	} else {
		close(in->prog);
		close(in->flows);
		close(in->conns);
	}
}

/* Each probe once, repeat times in the kernel's loop: ns per packet. */
static void hot_run(const struct inst *x, int ifindex, const struct probe *pr,
		    int n, int repeat, struct samples *out)
{
	for (int k = 0; k < n; k++) {
		struct pkt_buf in;
		int v;

		probe_packet(&pr[k], &in);
		push(out, run_xdp(x->prog, ifindex, &in, repeat, &v, NULL));
		if (!forwarded(v))
			die("hot run: verdict %d", v);
	}
}

/* repeat=1 over the probes, round robin. */
static void warm_run(const struct inst *x, int ifindex, const struct probe *pr,
		     int n_probes, int runs, struct samples *out)
{
	for (int i = 0; i < runs; i++) {
		struct pkt_buf in;
		int v;

		probe_packet(&pr[i % n_probes], &in);
		push(out, run_xdp(x->prog, ifindex, &in, 1, &v, NULL));
		if (!forwarded(v))
			die("warm run: verdict %d", v);
	}
}

/* The j-th new client of a SYN test: 198.18.64.0/19, ports from 20000. */
static void syn_client(uint32_t j, uint32_t *addr, uint16_t *port)
{
	*addr = addr_add("198.18.64.0", j & 0x1fff);
	*port = 20000 + (j >> 13);
}

struct syn_counts {
	int n, fwd, pass, drop;
};

/*
 * n SYNs from new clients j0..j0+n-1 to the VIP on x's ports, one per
 * run; then (est) one ACK per connection made, in a shuffled order; then
 * both entries of each connection are deleted, so the map is as before.
 */
static void syn_run(const struct inst *x, int ifindex, const char *vip,
		    uint32_t j0, int n, struct samples *syn,
		    struct samples *est, struct syn_counts *cnt)
{
	uint16_t *ports = malloc(n * sizeof(*ports));
	int *order = malloc(n * sizeof(*order));
	int made = 0;

	if (!ports || !order)
		die("out of memory");
	for (int i = 0; i < n; i++) {
		struct pkt_buf in;
		uint32_t c;
		uint16_t cp;
		double ns;
		int v;

		syn_client(j0 + i, &c, &cp);
		ports[i] = x->lo + rnd() % (x->hi - x->lo + 1);
		build(&in, c, pkt_addr(vip), cp, ports[i], 0x02,
		      (uint32_t)rnd());
		ns = run_xdp(x->prog, ifindex, &in, 1, &v, NULL);
		if (passed_as_partial(&in, v))
			continue;
		push(syn, ns);
		cnt->n++;
		if (forwarded(v))
			cnt->fwd++, order[made++] = i;
		else if (v == XDP_PASS_)
			cnt->pass++;
		else
			cnt->drop++;
	}
	for (int i = made - 1; i > 0; i--) {
		int k = rnd() % (i + 1), t = order[i];

		order[i] = order[k];
		order[k] = t;
	}
	for (int i = 0; est && i < made; i++) {
		struct pkt_buf in;
		uint32_t c;
		uint16_t cp;
		double ns;
		int v;

		syn_client(j0 + order[i], &c, &cp);
		build(&in, c, pkt_addr(vip), cp, ports[order[i]], 0x10, 1);
		ns = run_xdp(x->prog, ifindex, &in, 1, &v, NULL);
		if (passed_as_partial(&in, v))
			continue;
		if (!forwarded(v))
			die("ACK on a new connection: verdict %d", v);
		push(est, ns);
	}
	/* Leave the map as it was. */
	for (int i = 0; i < n; i++) {
		struct kanary_flow_key k, rk;
		struct kanary_flow f;
		uint32_t c;
		uint16_t cp;

		syn_client(j0 + i, &c, &cp);
		k = fkey(c, pkt_addr(vip), cp, ports[i]);
		if (bpf_map_lookup_elem(x->flows, &k, &f))
			continue;
		memset(&rk, 0, sizeof(rk));
		rk.saddr = f.daddr;
		rk.daddr = f.saddr;
		rk.sport = f.dport;
		rk.dport = f.sport;
		rk.proto = IPPROTO_TCP;
		bpf_map_delete_elem(x->flows, &rk);
		bpf_map_delete_elem(x->flows, &k);
	}
	free(ports);
	free(order);
}

/* Entries in the map, with the batch API (one call per 64k entries). */
static long count_entries(int fd)
{
	const __u32 chunk = 65536;
	struct kanary_flow_key *keys = malloc(chunk * sizeof(*keys));
	struct kanary_flow *vals = malloc(chunk * sizeof(*vals));
	__u64 in_batch = 0, out_batch = 0;
	bool first = true;
	long n = 0;

	if (!keys || !vals)
		die("out of memory");
	for (;;) {
		__u32 count = chunk;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &in_batch,
					      &out_batch, keys, vals, &count,
					      NULL);

		n += count;
		if (rc && errno == ENOENT)
			break;
		if (rc)
			die("lookup_batch: %s", strerror(errno));
		in_batch = out_batch;
		first = false;
	}
	free(keys);
	free(vals);
	return n;
}

/* ------------------------------------------------------------------ */
/* flows: conntrack at N connections */

struct flows_opts {
	const char *pin_dir, *iface, *out_iface, *vip;
	int port, probes, hot_repeat, warm_runs, cold_runs, syn, rounds;
	long flows;
	int n_cfg;
	char *cfg[16];
};

static void floor_cost(int ifindex, int repeat, int runs)
{
	struct floor_bpf *skel = floor_bpf__open_and_load();
	double *d = malloc(runs * sizeof(*d)), hot;
	struct pkt_buf in;
	struct summary s;
	int prog, v;

	if (!skel || !d)
		die("cannot load the xdp_pass floor program");
	prog = bpf_program__fd(skel->progs.xdp_pass);
	build(&in, pkt_addr("198.18.0.2"), pkt_addr("198.18.0.1"), 40000, 80,
	      0x10, 1);
	hot = run_xdp(prog, ifindex, &in, repeat, &v, NULL);
	for (int i = 0; i < runs; i++)
		d[i] = run_xdp(prog, ifindex, &in, 1, &v, NULL);
	s = summarize(d, runs);
	tsv("flows.floor_repeat", "ns/pkt",
	    "bare XDP_PASS program, same repeat loop: the test-run floor",
	    "%.1f", hot);
	tsv("flows.floor_single", "ns/pkt",
	    "bare XDP_PASS program, repeat=1 (median): fixed cost inside every "
	    "repeat=1 figure",
	    "%.1f", s.median);
	free(d);
	floor_bpf__destroy(skel);
}

/* The i-th synthetic connection's client side. */
static void regular_client(long i, uint32_t *addr, uint16_t *port)
{
	*addr = addr_add("198.18.128.0", i & 0x7fff);
	*port = 1024 + (i >> 15);
}

/* A cold packet was not forwarded: say what the map holds for its flow. */
static void cold_failed(const struct inst *x, long f, uint32_t a, uint16_t p,
			const struct flows_opts *o, int v)
{
	struct kanary_flow_key k = fkey(a, pkt_addr(o->vip), p, o->port);
	struct kanary_flow fl;

	if (bpf_map_lookup_elem(x->flows, &k, &fl))
		die("cold run on flow %ld: verdict %d; its entry is gone "
		    "(evicted by the LRU?)",
		    f, v);
	die("cold run on flow %ld: verdict %d; entry: answered %u ejected %u "
	    "closed_ns %llu open_ns %llu fin %llu ifindex %u l7 %u",
	    f, v, fl.answered, fl.ejected, (unsigned long long)fl.closed_ns,
	    (unsigned long long)fl.open_ns, (unsigned long long)fl.fin,
	    fl.ifindex, fl.l7);
}

/* What one kanary measured over the rounds of one phase. */
struct meas {
	struct samples hot, warm, syn, cold;
	struct syn_counts cnt;
	struct summary h, w, s, c;
};

/*
 * rounds of: each probe in a repeat loop, repeat=1 probes, SYNs from new
 * clients, and (cold_of, only for x[1]) repeat=1 packets of random
 * connections among n_cold. The two kanaries take turns inside every
 * round, first one then the other, so that drift hits both alike.
 */
static void measure(struct inst *x, struct meas *m, const struct flows_opts *o,
		    int ifindex, const struct probe *pr, long n_cold)
{
	int n_syn = o->syn / o->rounds, n_warm = o->warm_runs / o->rounds;
	int n_c = o->cold_runs / o->rounds;
	struct samples none = { 0 };

	for (int r = 0; r < o->rounds; r++) {
		for (int t = 0; t < 2; t++) {
			int i = (r + t) % 2;

			hot_run(&x[i], ifindex, pr, o->probes, o->hot_repeat,
				&m[i].hot);
			warm_run(&x[i], ifindex, pr, o->probes, n_warm,
				 &m[i].warm);
			syn_run(&x[i], ifindex, o->vip, r * n_syn, n_syn,
				&m[i].syn, &none, &m[i].cnt);
			for (int c = 0; i == 1 && c < n_c && n_cold; c++) {
				long f = rnd() % n_cold;
				struct pkt_buf in;
				uint32_t a;
				uint16_t p;
				int v;

				regular_client(f, &a, &p);
				double ns;

				build(&in, a, pkt_addr(o->vip), p, o->port,
				      0x10, 1000);
				ns = run_xdp(x[i].prog, ifindex, &in, 1, &v,
					     NULL);
				if (passed_as_partial(&in, v))
					continue;
				if (!forwarded(v))
					cold_failed(&x[i], f, a, p, o, v);
				push(&m[i].cold, ns);
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		m[i].h = sum_of(&m[i].hot);
		m[i].w = sum_of(&m[i].warm);
		m[i].s = sum_of(&m[i].syn);
		m[i].c = sum_of(&m[i].cold);
	}
	free(none.v);
}

/* A ratio full/empty, corrected by the A/A control: a/b measured with
 * both maps nearly empty (the two program instances' own difference). */
static void ratio_row(const char *metric, double full, double empty,
		      double aa_full, double aa_empty, const char *what)
{
	char note[512];
	double raw = full / empty, aa = aa_full / aa_empty;

	snprintf(note, sizeof(note),
		 "%s: full / empty = %.2f, divided by the A/A control "
		 "(both maps nearly empty, before the fill) = %.2f",
		 what, raw, aa);
	tsv(metric, "x", note, "%.2f", raw / aa);
}

static int cmd_flows(const struct flows_opts *o)
{
	int ifindex = if_nametoindex(o->iface);
	int out_ifindex = if_nametoindex(o->out_iface);
	unsigned long long max_entries = 0, mem, total_mem = 0;
	long regular = o->flows - o->probes, n_entries = 2 * regular;
	struct meas aa[2] = { 0 }, m[2] = { 0 };
	struct inst x[2]; /* 0: nearly empty (private), 1: full (pinned) */
	struct kanary_flow_key *keys;
	struct kanary_flow *vals;
	struct probe pr[64];
	char note[512];
	double fill_s, count_ms;
	uint64_t t0;
	long present;

	if (!ifindex || !out_ifindex)
		die("no interface %s or %s here", o->iface, o->out_iface);
	if (o->probes < 1 || o->probes > 64 || regular < 1)
		die("bad --probes/--flows");
	inst_pinned(&x[1], o->pin_dir, o->iface, o->port, o->port);
	mem = map_memlock(x[1].flows, &max_entries);
	for (int i = 0; i < KN_MAP_COUNT; i++) {
		int fd = map_open(o->pin_dir, kn_map_names[i]);

		total_mem += map_memlock(fd, NULL);
		close(fd);
	}
	if ((unsigned long long)2 * o->flows > max_entries)
		die("kn_flows holds %llu entries, %ld connections need %ld",
		    max_entries, o->flows, 2 * o->flows);
	if (count_entries(x[1].flows))
		say("warning: kn_flows is not empty before the test");
	inst_private(&x[0], o->pin_dir, o->vip, o->port, o->port, o->n_cfg,
		     (char **)o->cfg);

	/* The probe connections, in both. */
	for (int k = 0; k < o->probes; k++) {
		pr[k] = probe_of(k, o->vip, o->port);
		probe_insert(x[0].flows, &pr[k], out_ifindex);
		probe_insert(x[1].flows, &pr[k], out_ifindex);
	}
	probe_check(x[0].prog, ifindex, &pr[0]);
	probe_check(x[1].prog, ifindex, &pr[0]);

	floor_cost(ifindex, o->hot_repeat, o->warm_runs);
	say("A/A control: both maps nearly empty, %d rounds", o->rounds);
	measure(x, aa, o, ifindex, pr, 0);

	/* Fill the pinned one: regular connections, both entries each, as
	 * kanary makes them (client -> VIP becomes snat -> endpoint, and
	 * back). */
	keys = malloc(n_entries * sizeof(*keys));
	vals = malloc(n_entries * sizeof(*vals));
	if (!keys || !vals)
		die("out of memory for %ld entries", n_entries);
	for (long i = 0; i < regular; i++) {
		uint32_t client, ep = addr_add("198.19.0.0", 1 + i / 22768);
		uint32_t snat = pkt_addr("198.18.1.1"), vip = pkt_addr(o->vip);
		uint16_t cport, sport = 10000 + i % 22768;

		regular_client(i, &client, &cport);
		keys[2 * i] = fkey(client, vip, cport, o->port);
		vals[2 * i] = fval(snat, ep, sport, 8501, out_ifindex,
				   ETH_MAC_GW_EP, ETH_MAC_EP,
				   KANARY_DIR_TO_ENDPOINT, (uint32_t)i);
		keys[2 * i + 1] = fkey(ep, snat, 8501, sport);
		vals[2 * i + 1] = fval(vip, client, o->port, cport, ifindex,
				       ETH_MAC_GW_CL, ETH_MAC_CL,
				       KANARY_DIR_TO_CLIENT, 0);
	}
	say("filling kn_flows with %ld connections (%ld entries)", o->flows,
	    2 * o->flows);
	t0 = now_ns();
	for (long done = 0; done < n_entries;) {
		__u32 count = n_entries - done > 65536 ? 65536 :
							 n_entries - done;

		if (bpf_map_update_batch(x[1].flows, keys + done, vals + done,
					 &count, NULL))
			die("update_batch after %ld entries: %s", done,
			    strerror(errno));
		done += count;
	}
	fill_s = (now_ns() - t0) / 1e9;
	/* Written behind the data path's back: its claims must look in
	 * kn_flows (KANARY_CONN_KN_FLOWS), as after an upgrade. */
	if (kn_conns_mark_kn_flows(x[1].conns))
		die("cannot mark kn_conns: %s", strerror(errno));
	free(keys);
	free(vals);
	t0 = now_ns();
	present = count_entries(x[1].flows);
	count_ms = (now_ns() - t0) / 1e6;
	for (int k = 0; k < o->probes; k++)
		if (!probe_present(x[1].flows, &pr[k]))
			die("probe connection %d was evicted by the fill", k);

	say("measuring: nearly empty and full, %d rounds", o->rounds);
	measure(x, m, o, ifindex, pr, regular);
	tsv("flows.passed_as_partial", "packets",
	    "SYNs and ACKs whose full checksum reads as a partial one, "
	    "passed to tc as bpf/csum.h says (once in 65535): not in the "
	    "samples",
	    "%ld", n_passed_as_partial);

	tsv("flows.connections", "connections",
	    "synthetic established connections, 2 kn_flows entries each", "%ld",
	    o->flows);
	snprintf(note, sizeof(note),
		 "counted with BPF_MAP_LOOKUP_BATCH after the fill; kn_flows "
		 "max_entries %llu",
		 max_entries);
	tsv("flows.entries", "entries", note, "%ld", present);
	tsv("flows.count_batch_time", "ms",
	    "counting those entries with BPF_MAP_LOOKUP_BATCH, 64k per call "
	    "(compare flows.status_time)",
	    "%.1f", count_ms);
	snprintf(note, sizeof(note),
		 "fdinfo memlock (= bpftool bytes_memlock); preallocated at "
		 "load, %.0f bytes per entry slot",
		 (double)mem / max_entries);
	tsv("flows.map_memory", "MiB", note, "%.1f", mem / 1048576.0);
	tsv("flows.all_maps_memory", "MiB",
	    "memlock of every kanary map together (config maps included)",
	    "%.1f", total_mem / 1048576.0);
	snprintf(note, sizeof(note),
		 "BPF_MAP_UPDATE_BATCH from userspace, 64k entries per call; "
		 "%.2f M entries/s",
		 n_entries / fill_s / 1e6);
	tsv("flows.fill_time", "s", note, "%.2f", fill_s);

	snprintf(note, sizeof(note),
		 "repeat loop of %d on each of %d probe connections (2-cycles) "
		 "in a map holding only them; mean of %zu loops (%.1f..%.1f)",
		 o->hot_repeat, o->probes, m[0].hot.n, m[0].h.min, m[0].h.max);
	tsv("flows.est_hot_empty", "ns/pkt", note, "%.1f", m[0].h.mean);
	snprintf(note, sizeof(note),
		 "the same probe packets among %ld entries; mean of %zu loops "
		 "(%.1f..%.1f)",
		 present, m[1].hot.n, m[1].h.min, m[1].h.max);
	tsv("flows.est_hot_full", "ns/pkt", note, "%.1f", m[1].h.mean);
	ratio_row("flows.est_hot_ratio", m[1].h.mean, m[0].h.mean, aa[1].h.mean,
		  aa[0].h.mean, "hot repeat loop, means");

	snprintf(
		note, sizeof(note),
		"repeat=1, the probe packets round robin, empty map; median of "
		"%zu (mean %.1f)",
		m[0].warm.n, m[0].w.mean);
	tsv("flows.est_single_empty", "ns/pkt", note, "%.1f", m[0].w.median);
	snprintf(note, sizeof(note),
		 "repeat=1, the same probes in the full map; median of %zu "
		 "(mean %.1f)",
		 m[1].warm.n, m[1].w.mean);
	tsv("flows.est_single_full", "ns/pkt", note, "%.1f", m[1].w.median);
	ratio_row("flows.est_single_ratio", m[1].w.median, m[0].w.median,
		  aa[1].w.median, aa[0].w.median, "repeat=1 probes, medians");

	snprintf(note, sizeof(note),
		 "repeat=1, a random one of the %ld connections each run "
		 "(cache-cold entry); median of %zu (mean %.1f, p99 %.1f)",
		 regular, m[1].cold.n, m[1].c.mean, m[1].c.p99);
	tsv("flows.est_cold_full", "ns/pkt", note, "%.1f", m[1].c.median);
	ratio_row("flows.est_cold_ratio", m[1].c.median, m[0].w.median,
		  aa[1].w.median, aa[0].w.median,
		  "random flow in the full map vs repeat=1 probe in the empty "
		  "map, medians");

	snprintf(note, sizeof(note),
		 "repeat=1, a new client each, empty map; median of %d (mean "
		 "%.1f); %d forwarded",
		 m[0].cnt.n, m[0].s.mean, m[0].cnt.fwd);
	tsv("flows.syn_empty", "ns/pkt", note, "%.1f", m[0].s.median);
	snprintf(note, sizeof(note),
		 "the same into the full map (LRU inserts); median of %d (mean "
		 "%.1f); %d forwarded",
		 m[1].cnt.n, m[1].s.mean, m[1].cnt.fwd);
	tsv("flows.syn_full", "ns/pkt", note, "%.1f", m[1].s.median);
	ratio_row("flows.syn_ratio", m[1].s.median, m[0].s.median,
		  aa[1].s.median, aa[0].s.median, "SYN, medians");
	for (int i = 0; i < 2; i++)
		if (m[i].cnt.fwd != m[i].cnt.n || aa[i].cnt.fwd != aa[i].cnt.n)
			say("warning: not every SYN was forwarded");
	inst_close(&x[0]);
	inst_close(&x[1]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* pkt: SYN and established under the applied config */

struct pkt_opts {
	const char *pin_dir, *iface, *vip, *prefix, *base_prefix, *ratio_prefix;
	int lo, hi, base_lo, base_hi, syn, rounds;
	int n_cfg;
	char *cfg[16];
};

static int cmd_pkt(const struct pkt_opts *o)
{
	int ifindex = if_nametoindex(o->iface), n = o->n_cfg ? 2 : 1;
	struct samples syn[2] = { 0 }, est[2] = { 0 };
	struct syn_counts cnt[2] = { 0 };
	struct summary s[2], e[2];
	struct inst x[2]; /* 0: the pinned kanary, 1: the baseline */
	char metric[160], note[512];

	if (!ifindex)
		die("no interface %s here", o->iface);
	inst_pinned(&x[0], o->pin_dir, o->iface, o->lo, o->hi);
	if (o->n_cfg)
		inst_private(&x[1], o->pin_dir, o->vip, o->base_lo, o->base_hi,
			     o->n_cfg, (char **)o->cfg);
	for (int r = 0; r < o->rounds; r++) {
		for (int t = 0; t < n; t++) {
			int i = (r + t) % n, m = o->syn / o->rounds;

			syn_run(&x[i], ifindex, o->vip, r * m, m, &syn[i],
				&est[i], &cnt[i]);
		}
	}
	for (int i = 0; i < n; i++) {
		const char *p = i ? o->base_prefix : o->prefix;

		s[i] = sum_of(&syn[i]);
		e[i] = sum_of(&est[i]);
		snprintf(metric, sizeof(metric), "%s.syn", p);
		snprintf(
			note, sizeof(note),
			"repeat=1, a new client each, VIP ports %d-%d at random; "
			"median of %d (mean %.1f, p99 %.1f); %d forwarded, %d "
			"passed, %d dropped",
			x[i].lo, x[i].hi, cnt[i].n, s[i].mean, s[i].p99,
			cnt[i].fwd, cnt[i].pass, cnt[i].drop);
		tsv(metric, "ns/pkt", note, "%.1f", s[i].median);
		snprintf(metric, sizeof(metric), "%s.est", p);
		snprintf(note, sizeof(note),
			 "repeat=1, one ACK on each of those connections, "
			 "shuffled; median of %zu (mean %.1f, p99 %.1f)",
			 est[i].n, e[i].mean, e[i].p99);
		tsv(metric, "ns/pkt", note, "%.1f", e[i].median);
		if (cnt[i].fwd != cnt[i].n)
			say("warning: %d of %d SYNs not forwarded",
			    cnt[i].n - cnt[i].fwd, cnt[i].n);
	}
	if (n == 2) {
		snprintf(metric, sizeof(metric), "%s.syn_ratio",
			 o->ratio_prefix ? o->ratio_prefix : o->prefix);
		snprintf(note, sizeof(note),
			 "%s.syn / %s.syn (medians, measured in %d interleaved "
			 "rounds)",
			 o->prefix, o->base_prefix, o->rounds);
		tsv(metric, "x", note, "%.2f", s[0].median / s[1].median);
		snprintf(metric, sizeof(metric), "%s.est_ratio",
			 o->ratio_prefix ? o->ratio_prefix : o->prefix);
		snprintf(note, sizeof(note), "%s.est / %s.est (medians)",
			 o->prefix, o->base_prefix);
		tsv(metric, "x", note, "%.2f", e[0].median / e[1].median);
	}
	for (int i = 0; i < n; i++)
		inst_close(&x[i]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* setweight: command wall time and when the data path sees the flip */

static int route_weight0(int cfg_fd, int vips_fd, int routes_fd, uint32_t vip,
			 int port, uint32_t *gen, uint32_t *w0, uint32_t *total)
{
	struct kanary_cfg cfg;
	struct kanary_vip_key vk;
	struct kanary_vip v;
	struct kanary_route r;
	uint32_t zero = 0, key;

	if (bpf_map_lookup_elem(cfg_fd, &zero, &cfg))
		return -1;
	*gen = cfg.generation;
	memset(&vk, 0, sizeof(vk));
	vk.slot = cfg.active_slot;
	vk.addr = vip;
	vk.port = htons(port);
	vk.proto = IPPROTO_TCP;
	if (bpf_map_lookup_elem(vips_fd, &vk, &v))
		return -1;
	key = cfg.active_slot * KANARY_MAX_ROUTES + v.route;
	if (bpf_map_lookup_elem(routes_fd, &key, &r) || !r.n_dests)
		return -1;
	*w0 = r.dests[0].cum_weight;
	*total = r.total_weight;
	return 0;
}

static int cmd_setweight(const char *pin_dir, const char *kanary,
			 const char *vs, const char *subsets, int reps,
			 const char *vip, int port, const char *prefix,
			 int poll_us)
{
	int cfg_fd = map_open(pin_dir, "kn_cfg");
	int vips_fd = map_open(pin_dir, "kn_vips");
	int routes_fd = map_open(pin_dir, "kn_routes");
	double *wall = calloc(reps, sizeof(double));
	double *flip = calloc(reps, sizeof(double));
	double *after = calloc(reps, sizeof(double));
	char a[128], b[128], pa[160], pb[160], metric[128], note[512];
	const char *comma = strchr(subsets, ',');
	struct timespec pause = { 0, poll_us * 1000L };
	struct summary sw, sf, sa;
	int seen = 0, weights[2][2] = { { 60, 40 }, { 70, 30 } };

	if (!comma || !wall || !flip || !after)
		die("--subsets A,B");
	snprintf(a, sizeof(a), "%.*s", (int)(comma - subsets), subsets);
	snprintf(b, sizeof(b), "%s", comma + 1);
	prctl(PR_SET_TIMERSLACK, 1UL);
	for (int i = 0; i < reps; i++) {
		const int *w = weights[i % 2];
		uint32_t g0, g, w0, total;
		uint64_t t0, t_flip = 0, t_exit = 0;
		int status;
		pid_t pid;

		if (route_weight0(cfg_fd, vips_fd, routes_fd, pkt_addr(vip),
				  port, &g0, &w0, &total))
			die("no route on %s:%d", vip, port);
		snprintf(pa, sizeof(pa), "%s=%d", a, w[0]);
		snprintf(pb, sizeof(pb), "%s=%d", b, w[1]);
		t0 = now_ns();
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			execl(kanary, kanary, "--pin-dir", pin_dir,
			      "set-weight", vs, pa, pb, (char *)NULL);
			_exit(127);
		}
		/* Poll what a packet reads: kn_cfg, then the route. */
		for (;;) {
			pid_t done = waitpid(pid, &status, WNOHANG);
			uint64_t t = now_ns();

			if (!t_flip &&
			    !route_weight0(cfg_fd, vips_fd, routes_fd,
					   pkt_addr(vip), port, &g, &w0,
					   &total) &&
			    g != g0 && w0 == (uint32_t)w[0] &&
			    total == (uint32_t)(w[0] + w[1]))
				t_flip = t;
			if (done == pid) {
				t_exit = now_ns();
				break;
			}
			nanosleep(&pause, NULL);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			die("%s set-weight %s %s %s failed", kanary, vs, pa,
			    pb);
		if (!t_flip &&
		    !route_weight0(cfg_fd, vips_fd, routes_fd, pkt_addr(vip),
				   port, &g, &w0, &total) &&
		    g != g0 && w0 == (uint32_t)w[0])
			t_flip = t_exit; /* flipped in the last poll gap */
		seen += t_flip != 0;
		wall[i] = (t_exit - t0) / 1e6;
		flip[i] = t_flip ? (t_flip - t0) / 1e6 : wall[i];
		after[i] = t_flip ? (t_exit - t_flip) / 1e6 : 0;
	}
	sw = summarize(wall, reps);
	sf = summarize(flip, reps);
	sa = summarize(after, reps);
	snprintf(metric, sizeof(metric), "%s.wall", prefix);
	snprintf(note, sizeof(note),
		 "kanary set-weight %s %s=N %s=M, fork to exit, median of %d "
		 "(min %.1f, max %.1f)",
		 vs, a, b, reps, sw.min, sw.max);
	tsv(metric, "ms", note, "%.1f", sw.median);
	snprintf(metric, sizeof(metric), "%s.to_datapath", prefix);
	snprintf(
		note, sizeof(note),
		"fork until a poller saw the new generation and the new "
		"cum_weight in the active slot's route (%d of %d seen), median "
		"(min %.1f, max %.1f)",
		seen, reps, sf.min, sf.max);
	tsv(metric, "ms", note, "%.1f", sf.median);
	snprintf(metric, sizeof(metric), "%s.after_flip", prefix);
	tsv(metric, "ms",
	    "from the flip to the command's exit (saving the config), median",
	    "%.1f", sa.median);
	free(wall);
	free(flip);
	free(after);
	return 0;
}

/* ------------------------------------------------------------------ */
/* time: a command's wall time */

static int cmd_time(int reps, char **argv)
{
	double *ms = calloc(reps, sizeof(double));
	struct summary s;

	if (!ms)
		die("out of memory");
	for (int i = 0; i < reps; i++) {
		uint64_t t0 = now_ns();
		int status;
		pid_t pid = fork();

		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (!pid) {
			int null = open("/dev/null", O_WRONLY);

			dup2(null, 1);
			execvp(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			die("%s did not exit", argv[0]);
		if (WEXITSTATUS(status)) {
			say("%s exited with %d", argv[0], WEXITSTATUS(status));
			exit(WEXITSTATUS(status));
		}
		ms[i] = (now_ns() - t0) / 1e6;
	}
	s = summarize(ms, reps);
	printf("%.1f %.1f %.1f\n", s.median, s.min, s.max);
	free(ms);
	return 0;
}

/* ------------------------------------------------------------------ */
/* phases: where an apply's time goes */

static double ms_since(uint64_t t0)
{
	return (now_ns() - t0) / 1e6;
}

static int cmd_phases(const char *pin_dir, const char *prefix, int n_files,
		      char **files)
{
	struct kn_config upd = { 0 }, cfg = { 0 }, back = { 0 };
	struct kn_compiled c;
	struct kn_err err;
	char metric[128], note[256], tmp[] = "/tmp/kanary-scale-phases.XXXXXX";
	int n_svc = 0, n_dests = 0, n_dr = 0, n_res;
	double t_read, t_merge, t_val, t_comp, t_maps = -1, t_write, t_reread;
	double t_df = 0;
	uint64_t t0;
	FILE *f;
	int fd;

	t0 = now_ns();
	for (int i = 0; i < n_files; i++)
		if (kn_config_read_path(&upd, files[i], &err))
			die("%s", err.msg);
	t_read = ms_since(t0);
	n_res = upd.n_res;

	t0 = now_ns();
	kn_config_merge(&cfg, &upd); /* as the first apply: into nothing */
	t_merge = ms_since(t0);

	t0 = now_ns();
	if (kn_config_validate(&cfg, &err))
		die("%s", err.msg);
	t_val = ms_since(t0);

	t0 = now_ns();
	if (kn_compile(&cfg, &c, &err))
		die("%s", err.msg);
	t_comp = ms_since(t0);

	if (pin_dir) {
		struct kn_load_info li;
		struct kn_maps m;

		if (kn_state_read_load(pin_dir, &li) ||
		    kn_maps_open(pin_dir, &m))
			die("not loaded at %s", pin_dir);
		t0 = now_ns();
		if (kn_apply_compiled(&m, &li, &c, &err))
			die("%s", err.msg);
		t_maps = ms_since(t0);
		kn_maps_close(&m);
	}

	fd = mkstemp(tmp);
	if (fd < 0 || !(f = fdopen(fd, "w")))
		die("cannot create %s", tmp);
	t0 = now_ns();
	if (kn_config_write(&cfg, f))
		die("cannot write the config");
	fclose(f);
	t_write = ms_since(t0);
	t0 = now_ns();
	if (kn_config_read_path(&back, tmp, &err))
		die("%s", err.msg);
	t_reread = ms_since(t0);
	unlink(tmp);

	/* The lookup every subset reference pays for. */
	for (int i = 0; i < cfg.n_res; i++) {
		const struct kn_resource *r = &cfg.res[i];

		if (r->kind == KN_DESTINATIONRULE)
			n_dr++;
		if (r->kind == KN_VIRTUALSERVICE && r->vs.n_http)
			for (int d = 0; d < r->vs.http[0].n_route; d++)
				n_dests += r->vs.http[0].route[d].subset !=
					   NULL;
		if (r->kind != KN_SERVICE)
			continue;
		n_svc++;
		t0 = now_ns();
		if (!kn_config_destrule_for(&cfg, r))
			die("Service %s has no DestinationRule", r->name);
		t_df += ms_since(t0);
	}

#define PH(name, val, what)                                              \
	do {                                                             \
		snprintf(metric, sizeof(metric), "%s.%s", prefix, name); \
		tsv(metric, "ms", what, "%.1f", val);                    \
	} while (0)
	snprintf(note, sizeof(note),
		 "kn_config_read_path on the %d input files: %d resources",
		 n_files, n_res);
	PH("parse", t_read, note);
	PH("merge", t_merge,
	   "kn_config_merge into an empty config (first apply)");
	PH("validate", t_val, "kn_config_validate");
	snprintf(note, sizeof(note),
		 "kn_compile: %d routes, %d pools, %d endpoints", c.n_routes,
		 c.n_pools, c.n_eps);
	PH("compile", t_comp, note);
	if (t_maps >= 0)
		PH("maps", t_maps,
		   "kn_apply_compiled: route lookups, map writes, flip");
	PH("save", t_write, "kn_config_write of the accepted config");
	PH("reread", t_reread,
	   "kn_config_read_path of the saved config (what set-weight, stats "
	   "and status parse first)");
	snprintf(note, sizeof(note),
		 "kn_config_destrule_for, average of %d calls; validate and "
		 "compile make %d (1 per DestinationRule + 2 per subset "
		 "destination)",
		 n_svc, n_dr + 2 * n_dests);
	snprintf(metric, sizeof(metric), "%s.destrule_for", prefix);
	tsv(metric, "us/call", note, "%.1f", n_svc ? t_df * 1000 / n_svc : 0);
#undef PH
	kn_compiled_free(&c);
	kn_config_free(&cfg);
	kn_config_free(&back);
	return 0;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fputs("usage:\n"
	      "  scale_tool flows --pin-dir P --iface IF --out-iface IF "
	      "--vip A [--port N]\n"
	      "                   --flows N [--probes K] [--hot-repeat R] "
	      "[--warm N] [--cold N] [--syn N]\n"
	      "                   [--rounds N] [--config FILE ...]\n"
	      "  scale_tool pkt --pin-dir P --iface IF --vip A --ports LO-HI "
	      "--syn N --prefix NAME\n"
	      "                   [--rounds N] [--config FILE ... "
	      "--base-ports LO-HI --base-prefix NAME\n"
	      "                   [--ratio-prefix NAME]]\n"
	      "  scale_tool setweight --pin-dir P --kanary PATH --vs NAME "
	      "--subsets A,B --vip A --port N\n"
	      "                   --reps N --prefix NAME [--poll-us N]\n"
	      "  scale_tool time --reps N -- COMMAND...\n"
	      "  scale_tool phases [--pin-dir P] --prefix NAME FILE...\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'P' },
		{ "iface", required_argument, NULL, 'i' },
		{ "out-iface", required_argument, NULL, 'o' },
		{ "vip", required_argument, NULL, 'v' },
		{ "port", required_argument, NULL, 'p' },
		{ "ports", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "probes", required_argument, NULL, 'k' },
		{ "hot-repeat", required_argument, NULL, 'R' },
		{ "warm", required_argument, NULL, 'w' },
		{ "cold", required_argument, NULL, 'c' },
		{ "syn", required_argument, NULL, 's' },
		{ "kanary", required_argument, NULL, 'K' },
		{ "vs", required_argument, NULL, 'V' },
		{ "subsets", required_argument, NULL, 'S' },
		{ "reps", required_argument, NULL, 'n' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "poll-us", required_argument, NULL, 'u' },
		{ "rounds", required_argument, NULL, 'N' },
		{ "config", required_argument, NULL, 'C' },
		{ "base-ports", required_argument, NULL, 'B' },
		{ "base-prefix", required_argument, NULL, 'X' },
		{ "ratio-prefix", required_argument, NULL, 'Y' },
		{ 0 },
	};
	struct flows_opts fo = { .out_iface = "e1",
				 .port = 80,
				 .probes = 8,
				 .hot_repeat = 200000,
				 .warm_runs = 20000,
				 .cold_runs = 100000,
				 .syn = 10000,
				 .rounds = 5 };
	struct pkt_opts po = { .base_prefix = "baseline", .base_hi = -1 };
	const char *cmd, *kanary = NULL, *vs = NULL, *subsets = NULL;
	const char *prefix = "x";
	int c, lo = 0, hi = -1, reps = 1, poll_us = 100;

	if (argc < 2)
		usage();
	cmd = argv[1];
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			fo.pin_dir = optarg;
			break;
		case 'i':
			fo.iface = optarg;
			break;
		case 'o':
			fo.out_iface = optarg;
			break;
		case 'v':
			fo.vip = optarg;
			break;
		case 'p':
			fo.port = atoi(optarg);
			break;
		case 'r':
			if (sscanf(optarg, "%d-%d", &lo, &hi) != 2 || lo > hi ||
			    lo < 1 || hi > 65535)
				usage();
			break;
		case 'f':
			fo.flows = atol(optarg);
			break;
		case 'k':
			fo.probes = atoi(optarg);
			break;
		case 'R':
			fo.hot_repeat = atoi(optarg);
			break;
		case 'w':
			fo.warm_runs = atoi(optarg);
			break;
		case 'c':
			fo.cold_runs = atoi(optarg);
			break;
		case 's':
			fo.syn = atoi(optarg);
			break;
		case 'K':
			kanary = optarg;
			break;
		case 'V':
			vs = optarg;
			break;
		case 'S':
			subsets = optarg;
			break;
		case 'n':
			reps = atoi(optarg);
			break;
		case 'x':
			prefix = optarg;
			break;
		case 'u':
			poll_us = atoi(optarg);
			break;
		case 'N':
			fo.rounds = atoi(optarg);
			break;
		case 'C':
			if (fo.n_cfg == 16)
				usage();
			fo.cfg[fo.n_cfg++] = optarg;
			break;
		case 'B':
			if (sscanf(optarg, "%d-%d", &po.base_lo, &po.base_hi) !=
				    2 ||
			    po.base_lo > po.base_hi || po.base_lo < 1 ||
			    po.base_hi > 65535)
				usage();
			break;
		case 'X':
			po.base_prefix = optarg;
			break;
		case 'Y':
			po.ratio_prefix = optarg;
			break;
		default:
			usage();
		}
	}
	if (reps < 1 || fo.rounds < 1)
		usage();
	if (!strcmp(cmd, "flows")) {
		if (!fo.pin_dir || !fo.iface || !fo.vip || fo.flows < 2 ||
		    fo.hot_repeat < 2 || fo.hot_repeat % 2 ||
		    fo.warm_runs < 1 || fo.cold_runs < fo.rounds ||
		    fo.syn < fo.rounds || fo.warm_runs < fo.rounds)
			usage();
		return cmd_flows(&fo);
	}
	if (!strcmp(cmd, "pkt")) {
		po.pin_dir = fo.pin_dir;
		po.iface = fo.iface;
		po.vip = fo.vip;
		po.prefix = prefix;
		po.lo = lo;
		po.hi = hi;
		po.syn = fo.syn;
		po.rounds = fo.rounds;
		po.n_cfg = fo.n_cfg;
		memcpy(po.cfg, fo.cfg, sizeof(po.cfg));
		if (!po.pin_dir || !po.iface || !po.vip || hi < 0 ||
		    po.syn < po.rounds || (po.n_cfg && po.base_hi < 0))
			usage();
		return cmd_pkt(&po);
	}
	if (!strcmp(cmd, "setweight")) {
		if (!fo.pin_dir || !kanary || !vs || !subsets || !fo.vip)
			usage();
		return cmd_setweight(fo.pin_dir, kanary, vs, subsets, reps,
				     fo.vip, fo.port, prefix, poll_us);
	}
	if (!strcmp(cmd, "time")) {
		if (optind >= argc)
			usage();
		return cmd_time(reps, argv + optind);
	}
	if (!strcmp(cmd, "phases")) {
		if (optind >= argc)
			usage();
		return cmd_phases(fo.pin_dir, prefix, argc - optind,
				  argv + optind);
	}
	usage();
	return 2;
}
