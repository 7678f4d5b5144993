// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What every packet test shares: the program loaded with private maps in
 * a network namespace of the test's own, the lab's YAML applied through
 * the real compiler, and one frame at a time through BPF_PROG_TEST_RUN.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <criterion/criterion.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "harness.h"
#include "flows.h"
#include "set_weight.h"

struct kanary_bpf *skel;
struct kn_maps maps;
bool use_tc;

void sh(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

static const char *lab_dir(void)
{
	return pkt_lab_dir();
}

static void netns_up(void)
{
	cr_assert_eq(pkt_lab_netns(), 0, "lab netns: needs root");
}

void load(void)
{
	struct bpf_map *map;
	struct kanary_cfg cfg = { .hash_seed = 0x12345 };
	uint32_t zero = 0;

	skel = kanary_bpf__open();
	cr_assert_not_null(skel);
	/* Private maps: nothing of this test is pinned anywhere. */
	bpf_object__for_each_map(map, skel->obj)
		bpf_map__set_pin_path(map, NULL);
	cr_assert_eq(kanary_bpf__load(skel), 0, "BPF load/verify failed");
	maps.fd[KN_MAP_CFG] = bpf_map__fd(skel->maps.kn_cfg);
	maps.fd[KN_MAP_VIPS] = bpf_map__fd(skel->maps.kn_vips);
	maps.fd[KN_MAP_ROUTES] = bpf_map__fd(skel->maps.kn_routes);
	maps.fd[KN_MAP_POOLS] = bpf_map__fd(skel->maps.kn_pools);
	maps.fd[KN_MAP_ENDPOINTS] = bpf_map__fd(skel->maps.kn_endpoints);
	maps.fd[KN_MAP_FLOWS] = bpf_map__fd(skel->maps.kn_flows);
	maps.fd[KN_MAP_CONNS] = bpf_map__fd(skel->maps.kn_conns);
	maps.fd[KN_MAP_MARK_EPOCH] = bpf_map__fd(skel->maps.kn_mark_epoch);
	maps.fd[KN_MAP_STATS] = bpf_map__fd(skel->maps.kn_stats);
	maps.fd[KN_MAP_STAT_NAMES] = bpf_map__fd(skel->maps.kn_stat_names);
	maps.fd[KN_MAP_GLOBAL] = bpf_map__fd(skel->maps.kn_global);
	maps.fd[KN_MAP_SYNC] = bpf_map__fd(skel->maps.kn_sync);
	maps.fd[KN_MAP_L7] = bpf_map__fd(skel->maps.kn_l7);
	maps.fd[KN_MAP_RULE_STATS] = bpf_map__fd(skel->maps.kn_rule_stats);
	maps.fd[KN_MAP_RULE_NAMES] = bpf_map__fd(skel->maps.kn_rule_names);
	maps.fd[KN_MAP_SYNQ] = bpf_map__fd(skel->maps.kn_synq);
	maps.fd[KN_MAP_HEAD] = bpf_map__fd(skel->maps.kn_head);
	maps.fd[KN_MAP_HOLD] = bpf_map__fd(skel->maps.kn_hold);
	cr_assert_eq(pkt_fill_tx_ports(bpf_map__fd(skel->maps.kn_tx_ports)), 0);
	cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_CFG], &zero, &cfg, 0),
		     0);
}

/* The lab's base manifests, the endpoints and one VirtualService (or
 * none: NULL). */
void read_lab(struct kn_config *cfg, const char *vs_file)
{
	static const char *const base[] = { "gateway.yaml", "service.yaml",
					    "destinationrule.yaml",
					    "workloadentries.yaml" };
	struct kn_err err = { { 0 } };
	char path[512];

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", lab_dir(), base[i]);
		cr_assert_eq(kn_config_read_path(cfg, path, &err), 0, "%s",
			     err.msg);
	}
	if (!vs_file)
		return;
	snprintf(path, sizeof(path), "%s/%s", lab_dir(), vs_file);
	cr_assert_eq(kn_config_read_path(cfg, path, &err), 0, "%s", err.msg);
}

/* Validate, compile and swap cfg into the maps; returns apply's result. */
int apply_config(struct kn_config *cfg, struct kn_err *err)
{
	struct kn_load_info li = { .n_vips = 1 };
	struct kn_compiled c;
	int rc;

	li.vips[0] = pkt_addr(VIP);
	cr_assert_eq(kn_config_validate(cfg, err), 0, "%s", err->msg);
	cr_assert_eq(kn_compile(cfg, &c, err), 0, "%s", err->msg);
	rc = kn_apply_compiled(&maps, &li, &c, err);
	kn_compiled_free(&c);
	kn_config_free(cfg);
	return rc;
}

void apply_vs(const char *vs_file)
{
	struct kn_config cfg;
	struct kn_err err;

	read_lab(&cfg, vs_file);
	cr_assert_eq(apply_config(&cfg, &err), 0, "%s", err.msg);
}

/* The lab's base manifests and a VirtualService of the test's own. */
void apply_rules(const char *vs)
{
	struct kn_config cfg;
	struct kn_err err;

	read_lab(&cfg, NULL);
	cr_assert_eq(kn_config_read_buffer(&cfg, "rules.yaml", vs, strlen(vs),
					   &err),
		     0, "%s", err.msg);
	cr_assert_eq(apply_config(&cfg, &err), 0, "%s", err.msg);
}

/* The lab's 70/30 VirtualService with other weights. */
int apply_weights(char *w50, char *w101, const char *extra_yaml,
		  struct kn_err *err)
{
	char *pairs[] = { w50, w101 };
	struct kn_config cfg;

	read_lab(&cfg, "virtualservice-weight-70.yaml");
	if (extra_yaml)
		cr_assert_eq(kn_config_read_buffer(&cfg, "extra.yaml",
						   extra_yaml,
						   strlen(extra_yaml), err),
			     0, "%s", err->msg);
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 2, pairs, err), 0,
		     "%s", err->msg);
	return apply_config(&cfg, err);
}

void setup_xdp(void)
{
	use_tc = false;
	netns_up();
	load();
}

void setup_tc(void)
{
	use_tc = true;
	netns_up();
	load();
}

void teardown(void)
{
	kanary_bpf__destroy(skel);
}

/* Run the program on a frame arriving on interface ifname. */
int run_on(const char *ifname, struct pkt_buf *in, struct pkt_buf *out)
{
	int ifindex = if_nametoindex(ifname);
	struct xdp_md xctx = { .data_end = in->len,
			       .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->data,
		    .data_size_in = in->len, .data_out = out->data,
		    .data_size_out = sizeof(out->data), .repeat = 1);
	int fd;

	if (use_tc) {
		fd = bpf_program__fd(skel->progs.kanary_tc);
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	} else {
		fd = bpf_program__fd(skel->progs.kanary_xdp);
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	}
	cr_assert_eq(bpf_prog_test_run_opts(fd, &o), 0, "test run failed");
	out->len = o.data_size_out;
	return o.retval;
}

int run(struct pkt_buf *in, struct pkt_buf *out)
{
	return run_on("c0", in, out);
}

int redirected(void)
{
	return use_tc ? TC_ACT_REDIRECT_ : XDP_REDIRECT_;
}

int sent_back(void)
{
	return use_tc ? TC_ACT_REDIRECT_ : XDP_TX_;
}

int run_tc_on(const char *ifname, struct pkt_buf *in, struct pkt_buf *out)
{
	bool was = use_tc;
	int v;

	use_tc = true;
	v = run_on(ifname, in, out);
	use_tc = was;
	return v;
}

void decode(const struct pkt_buf *b, struct pkt_seg *s)
{
	cr_assert_eq(pkt_decode(b, s), 0, "bad frame, options or checksum");
}

int vip_syn(uint16_t sport, uint32_t isn, const uint8_t *opts, size_t optlen,
	    struct pkt_buf *out)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = isn,
			      .opts = opts,
			      .optlen = optlen,
			      .window = 64240 };
	struct pkt_buf in;

	pkt_build(&s, &in);
	return run(&in, out);
}

int passed(void)
{
	return use_tc ? TC_ACT_OK_ : XDP_PASS_;
}

int dropped(void)
{
	return use_tc ? TC_ACT_SHOT_ : XDP_DROP_;
}

/* The frame passes, byte for byte (in XDP: to tc, behind it). */
void expect_frame_untouched(struct pkt_buf *in, const char *what)
{
	struct pkt_buf out;

	cr_assert_eq(run(in, &out), passed(), "%s: not passed", what);
	cr_assert_eq(out.len, in->len);
	cr_assert_eq(memcmp(out.data, in->data, in->len), 0,
		     "%s: packet was modified", what);
}

/* A kn_global counter, summed over the CPUs. */
__u64 global_counter(__u32 which)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 per_cpu[ncpu], sum = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_GLOBAL], &which,
					 per_cpu),
		     0);
	for (int c = 0; c < ncpu; c++)
		sum += per_cpu[c];
	return sum;
}

/* Conntrack entries: kn_flows', and the live ones of kn_conns' records. */
int flow_count(void)
{
	struct kanary_flow_key k, next, *prev = NULL;
	long in_records = kn_conns_entries(maps.fd[KN_MAP_CONNS]);
	int n = 0;

	cr_assert_geq(in_records, 0, "kn_conns: %s", strerror(errno));
	while (!bpf_map_get_next_key(maps.fd[KN_MAP_FLOWS], prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n + in_records;
}

/* Records' live entries (two per whole connection). */
int record_count(void)
{
	long n = kn_conns_entries(maps.fd[KN_MAP_CONNS]);

	cr_assert_geq(n, 0);
	return n;
}

/*
 * The live record entry at k, in kn_conns mapped (recs), or NULL: the
 * entry whose other half leaves by k reversed, as the data path finds
 * it (bpf/conn.h), by a walk of every record instead of by hash.
 */
static struct kanary_flow *record_at(struct kanary_conn *recs,
				     const struct kanary_flow_key *k)
{
	for (uint32_t s = 0; s < KANARY_CONN_SLOTS; s++) {
		struct kanary_conn *r = &recs[s];

		for (int dir = 0; dir < 2; dir++) {
			const struct kanary_flow *o = &r->half[dir ^ 1];

			if ((r->claim & (1ULL << dir)) &&
			    o->saddr == k->daddr && o->daddr == k->saddr &&
			    o->sport == k->dport && o->dport == k->sport)
				return &r->half[dir];
		}
	}
	return NULL;
}

static struct kanary_conn *records(void)
{
	struct kanary_conn *recs = kn_conns_map(maps.fd[KN_MAP_CONNS]);

	cr_assert_not_null(recs, "kn_conns: %s", strerror(errno));
	return recs;
}

/*
 * Every pool of the active slot left without endpoints, as compile makes
 * them once health checking has ejected all of a subset's endpoints.
 */
void empty_pools(void)
{
	static struct kanary_pool pool; /* 16 KiB: not on the stack */
	struct kanary_pool_key k, next, *prev = NULL;
	struct kanary_cfg cfg;
	uint32_t zero = 0;
	int n = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_CFG], &zero, &cfg), 0);
	while (!bpf_map_get_next_key(maps.fd[KN_MAP_POOLS], prev, &next)) {
		k = next;
		prev = &k;
		if (k.slot != cfg.active_slot)
			continue;
		cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_POOLS], &k,
						 &pool),
			     0);
		pool.n_endpoints = 0;
		cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_POOLS], &k,
						 &pool, BPF_EXIST),
			     0);
		n++;
	}
	cr_assert_gt(n, 0, "no pool in the active slot");
}

/* The entry at k marked ejected, as kn_flows_mark_ejected does. */
void set_ejected(const struct kanary_flow_key *k)
{
	struct kanary_conn *recs = records();
	struct kanary_flow *r = record_at(recs, k), v;

	if (r) {
		r->ejected = 1;
		kn_conns_unmap(recs);
		return;
	}
	kn_conns_unmap(recs);
	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_FLOWS], k, &v), 0);
	v.ejected = 1;
	cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS], k, &v,
					 BPF_EXIST),
		     0);
}

/* Write v over the entry at k, in a record or in kn_flows (it must
 * exist). */
void flow_put(const struct kanary_flow_key *k, const struct kanary_flow *v)
{
	struct kanary_conn *recs = records();
	struct kanary_flow *r = record_at(recs, k);

	if (r)
		*r = *v;
	kn_conns_unmap(recs);
	if (!r)
		cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS], k, v,
						 BPF_EXIST),
			     0, "no flow entry");
}

/* A client segment of c: CLIENT:cport -> VIP:80. */
int l4_client_seg(const struct l4_conn *c, uint8_t flags, uint32_t seq,
		  uint32_t ack, size_t payload)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = c->cport,
			      .dport = 80,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .payload = payload };
	struct pkt_buf in, out;

	pkt_build(&s, &in);
	return run(&in, &out);
}

int l4_endpoint_seg(const struct l4_conn *c, uint8_t flags, uint32_t seq,
		    uint32_t ack, size_t payload, struct pkt_tuple *t)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, out;
	int verdict;

	inet_ntop(AF_INET, &c->t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &c->t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u",
		 (ntohl(c->t.daddr) >> 8) & 0xff);
	struct pkt_spec s = { .saddr = ep,
			      .daddr = snat,
			      .sport = c->t.dport,
			      .dport = c->t.sport,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .payload = payload };
	pkt_build(&s, &in);
	verdict = run_on(ifname, &in, &out);
	if (t && verdict == redirected())
		cr_assert_eq(pkt_check(&out, t), 0);
	return verdict;
}

uint32_t client_hash(uint16_t cport)
{
	struct kanary_flow_key k = { .saddr = pkt_addr(CLIENT),
				     .daddr = pkt_addr(VIP),
				     .sport = htons(cport),
				     .dport = htons(80),
				     .proto = IPPROTO_TCP };
	struct kanary_cfg cfg;
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_CFG], &zero, &cfg), 0);
	return flow_hash(&k, cfg.hash_seed);
}

uint32_t client_slot(uint16_t cport)
{
	return conn_first_slot(client_hash(cport));
}

uint32_t client_alt_slot(uint16_t cport)
{
	return conn_alt_slot(client_hash(cport), 1);
}

void hold_record(uint32_t s)
{
	struct kanary_conn *recs = records(), *r = &recs[s];

	memset(r, 0, sizeof(*r));
	r->seen_ns = mono_ns() + 3600ULL * 1000000000ULL;
	r->claim = KANARY_CONN_LIVE;
	kn_conns_unmap(recs);
}

uint32_t client_third_slot(uint16_t cport)
{
	return conn_alt_slot(client_hash(cport), 2);
}

void hold_other_records(uint16_t cport)
{
	hold_record(client_alt_slot(cport));
	hold_record(client_third_slot(cport));
}

void hold_records(uint16_t cport)
{
	hold_record(client_slot(cport));
	hold_other_records(cport);
}

/* Whether a record holds an entry at k. */
bool record_has(const struct kanary_flow_key *k)
{
	struct kanary_conn *recs = records();
	bool has = record_at(recs, k);

	kn_conns_unmap(recs);
	return has;
}

bool flow_has(const struct kanary_flow_key *k)
{
	struct kanary_flow v;

	return record_has(k) ||
	       !bpf_map_lookup_elem(maps.fd[KN_MAP_FLOWS], k, &v);
}

/* The entry at k, in a record or in kn_flows, which must exist. */
struct kanary_flow flow_at(const struct kanary_flow_key *k)
{
	struct kanary_conn *recs = records();
	struct kanary_flow *r = record_at(recs, k), v;

	if (r) {
		v = *r;
		kn_conns_unmap(recs);
		return v;
	}
	kn_conns_unmap(recs);
	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_FLOWS], k, &v), 0,
		     "no flow entry");
	return v;
}

/* kn_http's row, summed over the CPUs. */
void http_stats(uint32_t row, struct kanary_http_stats *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kanary_http_stats v[ncpu];

	memset(sum, 0, sizeof(*sum));
	cr_assert_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.kn_http), &row,
					 v),
		     0);
	for (int c = 0; c < ncpu; c++) {
		sum->requests += v[c].requests;
		sum->responses += v[c].responses;
		sum->duration_sum_us += v[c].duration_sum_us;
		for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
			sum->duration[b] += v[c].duration[b];
	}
}

/* kn_codes' count of (row, code), summed over the CPUs; 0 if absent. */
uint64_t code_count(uint32_t row, uint32_t code)
{
	struct kanary_code_key k = { .stats = row, .code = code };
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu], sum = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.kn_codes), &k, v))
		return 0;
	for (int c = 0; c < ncpu; c++)
		sum += v[c];
	return sum;
}

/* kn_cfg's reclaim_ns: how long a closed connection keeps its SNAT port. */
void set_reclaim_ns(__u64 ns)
{
	struct kanary_cfg cfg;
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_CFG], &zero, &cfg), 0);
	cfg.reclaim_ns = ns;
	cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_CFG], &zero, &cfg, 0),
		     0);
}

/* CLOCK_MONOTONIC in ns: the clock of the data path's stamps. */
__u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
