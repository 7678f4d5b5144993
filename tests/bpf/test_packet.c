// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The data path on crafted packets through BPF_PROG_TEST_RUN, for the XDP
 * and the tc program alike. Each test runs in a network namespace of its
 * own (criterion forks per test, and the test unshares), with veth
 * interfaces carrying the lab's gateway addresses and permanent
 * neighbours, so that the kernel's FIB answers the program as on a real
 * gateway. The config is the lab's YAML, through the real compiler.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "flows.h"
#include "harness.h"
#include "set_weight.h"

/* Send a segment from the client to the VIP; return what left. */
static struct pkt_tuple client_segment_seq(uint16_t sport, uint8_t flags,
					   uint32_t seq, int *verdict)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = flags,
			      .seq = seq };
	struct pkt_buf in, out;
	struct pkt_tuple t;

	pkt_build(&s, &in);
	*verdict = run(&in, &out);
	cr_assert_eq(pkt_check(&out, &t), 0, "bad checksum after rewrite");
	return t;
}

static struct pkt_tuple client_segment(uint16_t sport, uint8_t flags,
				       int *verdict)
{
	return client_segment_seq(sport, flags, 1000, verdict);
}

static bool is_addr(uint32_t a, const char *dotted)
{
	return a == pkt_addr(dotted);
}

static void syn_goes_to_stable_subset(void)
{
	int verdict;
	struct pkt_tuple t;

	apply_vs("virtualservice-weight-100.yaml");
	t = client_segment(40000, 0x02, &verdict);
	cr_assert_eq(verdict, redirected(), "verdict %d", verdict);
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2),
		  "100/0 must pick resnet50");
	cr_assert_eq(t.dport, 8501);
	/* SNAT: the gateway's own address on the endpoint's link. */
	cr_assert_eq(ntohl(t.saddr), ntohl(t.daddr) - 1);
	/* A record's port (1024 and up) or a kn_flows draw's. */
	cr_assert(t.sport >= KANARY_CONN_PORT_MIN &&
		  t.sport <= KANARY_SNAT_PORT_MAX);
	cr_assert_eq(t.flags, 0x02);
}

static void reply_is_translated_back(void)
{
	struct pkt_buf in, out;
	struct pkt_tuple fwd, back;
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	fwd = client_segment(40001, 0x02, &verdict);
	inet_ntop(AF_INET, &fwd.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &fwd.saddr, snat, sizeof(snat));
	struct pkt_spec s = { .saddr = ep,
			      .daddr = snat,
			      .sport = 8501,
			      .dport = fwd.sport,
			      .flags = 0x12,
			      .payload = 100 };

	/* The reply arrives on the endpoint's link (e1, e2 or e3). */
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(fwd.daddr) >> 8) & 0xff);
	pkt_build(&s, &in);
	cr_assert_eq(run_on(ifname, &in, &out), redirected());
	cr_assert_eq(pkt_check(&out, &back), 0);
	cr_assert(is_addr(back.saddr, VIP));
	cr_assert(is_addr(back.daddr, CLIENT));
	cr_assert_eq(back.sport, 80);
	cr_assert_eq(back.dport, 40001);
	/* The MACs come from the FIB: toward the client's neighbour. */
	cr_assert_eq(memcmp(out.data, "\x02\x00\x00\x00\x00\x02", 6), 0);
	cr_assert_eq(memcmp(out.data + 6, "\x02\x00\x00\x00\x00\x01", 6), 0);
}

static void established_flow_keeps_endpoint(void)
{
	struct pkt_tuple first, again, fresh;
	struct kn_err err;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	first = client_segment(40002, 0x02, &verdict);
	/* Weights flip to 0/100 (the lab's files do not have it: craft). */
	cr_assert_eq(apply_weights("resnet50=0", "resnet101=100", NULL, &err),
		     0, "%s", err.msg);
	again = client_segment(40002, 0x10, &verdict);
	cr_assert_eq(verdict, redirected());
	cr_assert_eq(again.daddr, first.daddr, "flow moved endpoint");
	cr_assert_eq(again.sport, first.sport, "flow changed SNAT port");
	fresh = client_segment(40003, 0x02, &verdict);
	cr_assert(is_addr(fresh.daddr, EP3), "new flow must go to resnet101");

	/* Same port, same ISN: a retransmitted SYN keeps the old decision. */
	again = client_segment_seq(40002, 0x02, 1000, &verdict);
	cr_assert_eq(again.daddr, first.daddr);
	/* Same port, new ISN: the port is reused for a new connection,
	 * which follows today's weights. */
	fresh = client_segment_seq(40002, 0x02, 777777, &verdict);
	cr_assert_eq(verdict, redirected());
	cr_assert(is_addr(fresh.daddr, EP3), "reused port kept a stale flow");
	/* And its replies come back through the new entry, not the old. */
	again = client_segment_seq(40002, 0x10, 777778, &verdict);
	cr_assert(is_addr(again.daddr, EP3));
}

static void retransmitted_syn_same_translation(void)
{
	struct pkt_tuple a, b;
	int verdict;

	apply_vs("virtualservice-weight-70.yaml");
	a = client_segment(40004, 0x02, &verdict);
	b = client_segment(40004, 0x02, &verdict);
	cr_assert_eq(a.daddr, b.daddr);
	cr_assert_eq(a.sport, b.sport);
	/* The SYN is bound before any lookup: the port the retransmission
	 * reserved on its way is let go again. */
	cr_assert_eq(flow_count(), 2, "%d entries for one connection",
		     flow_count());
	cr_assert_eq(global_counter(KANARY_G_NEW_FLOW), 1);
	/* A reused port (another ISN): the old connection's two entries go. */
	b = client_segment_seq(40004, 0x02, 5555, &verdict);
	cr_assert_eq(verdict, redirected());
	cr_assert_eq(flow_count(), 2, "%d entries after the port's reuse",
		     flow_count());
	cr_assert_eq(global_counter(KANARY_G_NEW_FLOW), 2);
}

static void split_70_30(void)
{
	int n = 3000, hits[4] = { 0 }, verdict;

	apply_vs("virtualservice-weight-70.yaml");
	for (int i = 0; i < n; i++) {
		struct pkt_tuple t = client_segment(20000 + i, 0x02, &verdict);

		cr_assert_eq(verdict, redirected());
		hits[(ntohl(t.daddr) >> 8) & 0xff]++;
	}
	cr_assert(hits[3] > n * 27 / 100 && hits[3] < n * 33 / 100,
		  "resnet101 got %d of %d", hits[3], n);
	/* Maglev spreads resnet50's 70 % over its two endpoints evenly. */
	cr_assert(hits[1] > n * 30 / 100 && hits[2] > n * 30 / 100,
		  "resnet50 endpoints got %d and %d", hits[1], hits[2]);

	/* The counters agree with what the packets show. */
	{
		int ncpu = libbpf_num_possible_cpus();
		struct kanary_subset_stats per_cpu[ncpu];
		struct kanary_stat_name name;
		unsigned long long conns[2] = { 0 };

		for (uint32_t r = 0; r < 2; r++) {
			cr_assert_eq(
				bpf_map_lookup_elem(maps.fd[KN_MAP_STAT_NAMES],
						    &r, &name),
				0);
			cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_STATS],
							 &r, per_cpu),
				     0);
			for (int c = 0; c < ncpu; c++)
				conns[r] += per_cpu[c].connections;
			cr_assert_eq(conns[r],
				     !strcmp(name.subset, "resnet101") ?
					     hits[3] :
					     hits[1] + hits[2],
				     "%s: %llu connections", name.subset,
				     conns[r]);
		}
	}
}

static void snat_ports_unique(void)
{
	static bool used[4][65536];
	int verdict;

	apply_vs("virtualservice-weight-70.yaml");
	for (int i = 0; i < 2000; i++) {
		struct pkt_tuple t = client_segment(30000 + i, 0x02, &verdict);
		int ep = (ntohl(t.daddr) >> 8) & 0xff;

		cr_assert_not(used[ep][t.sport], "SNAT port %u reused",
			      t.sport);
		used[ep][t.sport] = true;
	}
}

static void expect_untouched(const struct pkt_spec *s)
{
	struct pkt_buf in;
	char what[64];

	pkt_build(s, &in);
	snprintf(what, sizeof(what), "%s:%u flags %#x", s->daddr, s->dport,
		 s->flags);
	expect_frame_untouched(&in, what);
}

static void others_pass_untouched(void)
{
	struct pkt_spec base = { .saddr = CLIENT,
				 .daddr = VIP,
				 .sport = 41000,
				 .dport = 80,
				 .flags = 0x02 };
	struct pkt_spec s;
	struct pkt_buf in, out;

	apply_vs("virtualservice-weight-70.yaml");
	s = base, s.daddr = "198.18.0.9";
	expect_untouched(&s); /* not a VIP */
	s = base, s.dport = 81;
	expect_untouched(&s); /* VIP, other port */
	s = base, s.proto = IPPROTO_UDP;
	expect_untouched(&s);
	s = base, s.frag_off = 0x2000;
	expect_untouched(&s); /* first fragment */
	s = base, s.frag_off = 0x0010;
	expect_untouched(&s); /* later fragment */
	s = base, s.ihl = 6;
	expect_untouched(&s); /* IP options */
	s = base, s.payload = 20, s.truncate = 10;
	expect_untouched(&s); /* shorter than tot_len */
	s = base, s.flags = 0x10;
	expect_untouched(&s); /* ACK without a flow */
	s = base, s.flags = 0x12;
	expect_untouched(&s); /* SYN-ACK without a flow */

	/* Not IPv4 at all: an ARP-typed frame. */
	pkt_build(&base, &in);
	in.data[12] = 0x08, in.data[13] = 0x06;
	cr_assert_eq(run(&in, &out), passed());
	cr_assert_eq(memcmp(out.data, in.data, in.len), 0);
	/* A frame cut inside the TCP header. */
	pkt_build(&base, &in);
	in.len = 14 + 20 + 10;
	cr_assert_eq(run(&in, &out), passed());
	cr_assert_eq(memcmp(out.data, in.data, in.len), 0);
}

/*
 * An endpoint the gateway never talked to: the FIB knows the route, not
 * the neighbour. XDP passes the packet untouched to the tc program behind
 * it; tc rewrites it and sends it through the kernel's neighbour table
 * (bpf_redirect_neigh), which resolves the MAC. The kernel's plain
 * forwarding would drop the rewritten packet (its source is local).
 */
static void unknown_neighbour_is_resolved(void)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = 42000,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1 };
	struct pkt_buf in, out;
	struct pkt_tuple t;

	sh("for i in 1 2 3; do ip neigh flush dev e$i nud all; done");
	apply_vs("virtualservice-weight-70.yaml");
	pkt_build(&s, &in);
	if (!use_tc) {
		expect_frame_untouched(&in, "XDP, toward an unknown neighbour");
		return;
	}
	cr_assert_eq(run(&in, &out), TC_ACT_REDIRECT_);
	cr_assert_eq(pkt_check(&out, &t), 0);
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2) ||
		  is_addr(t.daddr, EP3));
	cr_assert_eq(t.dport, 8501);
}

/*
 * An apply that fails half-way (here: an endpoint the gateway has no route
 * to, found while writing the inactive slot) must leave the data path on
 * the config it had.
 */
static void failed_apply_keeps_old_config(void)
{
	static const char unroutable[] =
		"apiVersion: networking.istio.io/v1beta1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: resnet101-far, namespace: default}\n"
		"spec:\n"
		"  address: 198.19.200.2\n"
		"  labels: {app: image-classifier, version: resnet101}\n";
	struct kanary_cfg before, after;
	struct kn_err err;
	struct pkt_tuple t;
	uint32_t zero = 0;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_CFG], &zero, &before),
		     0);
	cr_assert_eq(apply_weights("resnet50=0", "resnet101=100", unroutable,
				   &err),
		     -1, "apply to an unroutable endpoint must fail");
	cr_assert(strstr(err.msg, "198.19.200.2"), "%s", err.msg);

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_CFG], &zero, &after),
		     0);
	cr_assert_eq(after.active_slot, before.active_slot, "slot flipped");
	cr_assert_eq(after.generation, before.generation);
	for (int i = 0; i < 200; i++) {
		t = client_segment(43000 + i, 0x02, &verdict);
		cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2),
			  "a failed apply changed the split");
	}
}

/* Hold every SNAT port of the resnet50 endpoints with a connection,
 * closed (closed_ns set) or open, half-open since open_ns or not (0). */
static void hold_all_ports(__u64 closed_ns, __u64 open_ns)
{
	for (int e = 1; e <= 2; e++) {
		char ep[16], gw[16];

		snprintf(ep, sizeof(ep), "198.18.%d.2", e);
		snprintf(gw, sizeof(gw), "198.18.%d.1", e);
		/* Records' ports included (KANARY_CONN_PORT_MIN). */
		for (int port = KANARY_CONN_PORT_MIN;
		     port <= KANARY_SNAT_PORT_MAX; port++) {
			struct kanary_flow_key k = { .saddr = pkt_addr(ep),
						     .daddr = pkt_addr(gw),
						     .sport = htons(8501),
						     .dport = htons(port),
						     .proto = IPPROTO_TCP };
			struct kanary_flow v = { .saddr = pkt_addr(VIP),
						 .daddr = pkt_addr(
							 "198.18.0.77"),
						 .sport = htons(80),
						 .dport = htons(port),
						 .dir = KANARY_DIR_TO_CLIENT,
						 .closed_ns = closed_ns,
						 .open_ns = open_ns };

			cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS],
							 &k, &v, 0),
				     0);
		}
	}
	/* Entries the data path did not make: as after an upgrade. */
	cr_assert_eq(kn_conns_mark_kn_flows(maps.fd[KN_MAP_CONNS]), 0);
}

/* Every port held by an open connection: the SYN cannot be NATed. */
static void snat_exhausted_drops_syn(void)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = 44000,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 9 };
	struct pkt_buf in, out;

	apply_vs("virtualservice-weight-100.yaml");
	set_reclaim_ns(1000);
	hold_all_ports(0, 0);
	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), use_tc ? 2 /* TC_ACT_SHOT */ : 1,
		     "SYN must be dropped when no SNAT port is free");
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 1);
}

/* Every port held by a connection closed long enough ago: reclaimed. */
static void closed_ports_are_reclaimed(void)
{
	struct pkt_tuple t;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	set_reclaim_ns(1000);
	hold_all_ports(1, 0);
	t = client_segment(44001, 0x02, &verdict);
	cr_assert_eq(verdict, redirected(), "closed ports were not reclaimed");
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2));
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 0);
}

/* Every port held by a connection half-open for longer than
 * KANARY_HALF_OPEN_NS (a spoofed SYN's): reclaimed. */
static void half_open_ports_are_reclaimed(void)
{
	struct pkt_tuple t;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	hold_all_ports(0, mono_ns() - KANARY_HALF_OPEN_NS - 1000000);
	t = client_segment(44003, 0x02, &verdict);
	cr_assert_eq(verdict, redirected(),
		     "half-open ports were not reclaimed");
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2));
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 0);
}

/* ... but not before: a handshake under way keeps its port. */
static void young_half_open_ports_are_kept(void)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = 44004,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 9 };
	struct pkt_buf in, out;

	apply_vs("virtualservice-weight-100.yaml");
	hold_all_ports(0, mono_ns());
	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), use_tc ? 2 /* TC_ACT_SHOT */ : 1,
		     "a port half-open for less than 1 s was taken");
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 1);
}

/*
 * Pressed (every port taken, as in a spoofed SYN flood): a port half-open
 * for longer than KANARY_HALF_OPEN_PRESSED_NS, though not 1 s, is taken.
 */
static void pressed_half_open_ports_are_reclaimed(void)
{
	struct pkt_tuple t;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	hold_all_ports(0, mono_ns() - KANARY_HALF_OPEN_PRESSED_NS - 50000000);
	t = client_segment(44006, 0x02, &verdict);
	cr_assert_eq(verdict, redirected(),
		     "pressed: half-open ports were not reclaimed");
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2));
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 0);
}

/* A new connection's SYN from sport: where it went, and its next hop's MAC. */
static struct pkt_tuple syn_next_hop(uint16_t sport, uint8_t dmac[6])
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1000 };
	struct pkt_buf in, out;
	struct pkt_tuple t;

	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), redirected());
	cr_assert_eq(pkt_check(&out, &t), 0, "bad checksum after rewrite");
	memcpy(dmac, out.data, 6);
	return t;
}

/* A new connection from the first port after *sport that goes to ep. */
static void syn_to(uint32_t ep, uint16_t *sport, uint8_t dmac[6])
{
	for (int i = 0; i < 64; i++) {
		if (syn_next_hop(++*sport, dmac).daddr == ep)
			return;
	}
	cr_assert_fail("64 connections, none to the endpoint");
}

/*
 * A new connection takes its endpoint's next hop as an earlier one learnt
 * it, for 1 s (EP_HOP_TTL_NS): not a FIB lookup per SYN. A neighbour that
 * changes (the endpoint's new MAC) reaches new connections that late.
 */
static void endpoint_next_hop_is_learnt_for_a_second(void)
{
	static const uint8_t old_mac[2][6] = { { 2, 0, 0, 0, 1, 2 },
					       { 2, 0, 0, 0, 2, 2 } };
	static const uint8_t new_mac[6] = { 2, 0, 0, 0, 9, 9 };
	uint16_t sport = 44100;
	uint8_t dmac[6];
	struct pkt_tuple t;
	char cmd[128];
	int e;

	apply_vs("virtualservice-weight-100.yaml");
	t = syn_next_hop(sport, dmac);
	e = is_addr(t.daddr, EP1) ? 1 : 2;
	cr_assert(!memcmp(dmac, old_mac[e - 1], 6), "not the endpoint's MAC");
	/* This test's own netns (criterion forks, pkt_lab_netns unshares). */
	snprintf(
		cmd, sizeof(cmd),
		"ip neigh replace 198.18.%d.2 lladdr 02:00:00:00:09:09 dev e%d",
		e, e);
	cr_assert_eq(system(cmd), 0);
	syn_to(t.daddr, &sport, dmac);
	cr_assert(!memcmp(dmac, old_mac[e - 1], 6),
		  "the next hop was asked again within a second");
	usleep(1100 * 1000);
	syn_to(t.daddr, &sport, dmac);
	cr_assert(!memcmp(dmac, new_mac, 6),
		  "the endpoint's new MAC not used after a second");
}

/* A FIN, either way, stamps both entries of the connection. */
static void fin_marks_both_entries(void)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(44002),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct kanary_flow_key rk = { .proto = IPPROTO_TCP };
	struct kanary_flow fwd, rev;
	struct pkt_tuple t;
	int verdict;

	apply_vs("virtualservice-weight-70.yaml");
	t = client_segment(44002, 0x02, &verdict);
	fwd = flow_at(&fk);
	cr_assert_eq(fwd.closed_ns, 0, "open connection marked closed");
	client_segment(44002, 0x11 /* FIN ACK */, &verdict);
	cr_assert_eq(verdict, redirected(), "FIN must still be forwarded");
	rk.saddr = t.daddr, rk.daddr = t.saddr;
	rk.sport = htons(t.dport), rk.dport = htons(t.sport);
	fwd = flow_at(&fk);
	rev = flow_at(&rk);
	cr_assert_neq(fwd.closed_ns, 0);
	cr_assert_neq(rev.closed_ns, 0);
}

/* Segment from the endpoint of the flow whose SYN went out as t. */
static int endpoint_segment(const struct pkt_tuple *t, uint8_t flags)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, out;

	inet_ntop(AF_INET, &t->daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &t->saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(t->daddr) >> 8) & 0xff);
	struct pkt_spec s = { .saddr = ep,
			      .daddr = snat,
			      .sport = 8501,
			      .dport = t->sport,
			      .flags = flags,
			      .seq = 9000,
			      .ack = 1001 };
	pkt_build(&s, &in);
	return run_on(ifname, &in, &out);
}

static bool flow_exists(uint16_t sport)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(sport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };

	return flow_has(&fk);
}

/* Both entries' open_ns, of the connection whose SYN left as t. */
static void open_ns_of(uint16_t sport, const struct pkt_tuple *t, __u64 *fwd,
		       __u64 *rev)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(sport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct kanary_flow_key rk = { .saddr = t->daddr,
				      .daddr = t->saddr,
				      .sport = htons(t->dport),
				      .dport = htons(t->sport),
				      .proto = IPPROTO_TCP };

	*fwd = flow_at(&fk).open_ns;
	*rev = flow_at(&rk).open_ns;
}

/*
 * A SYN makes a half-open connection (open_ns in both entries); a client
 * ACK before the endpoint's SYN-ACK leaves it so, the first one after
 * completes it (both entries cleared).
 */
static void handshake_ends_half_open(void)
{
	struct pkt_tuple t;
	__u64 fwd, rev;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	t = client_segment(44005, 0x02, &verdict);
	open_ns_of(44005, &t, &fwd, &rev);
	cr_assert(fwd && rev, "a SYN must make a half-open connection");
	client_segment(44005, 0x10, &verdict);
	open_ns_of(44005, &t, &fwd, &rev);
	cr_assert(fwd && rev, "an ACK before the SYN-ACK completed it");
	cr_assert_eq(endpoint_segment(&t, 0x12 /* SYN ACK */), redirected());
	client_segment(44005, 0x10, &verdict);
	cr_assert_eq(verdict, redirected());
	open_ns_of(44005, &t, &fwd, &rev);
	cr_assert(!fwd && !rev, "the handshake is complete: %llu %llu",
		  (unsigned long long)fwd, (unsigned long long)rev);
}

/*
 * An RST before the endpoint answered (the client refusing an endpoint's
 * TIME_WAIT ACK) keeps the flow: the client's resent SYN is the same
 * connection, counted once. Once answered, an RST ends it: no entry left.
 */
static void rst_forgets_answered_flows_only(void)
{
	struct pkt_tuple t, again;
	int verdict;

	apply_vs("virtualservice-weight-70.yaml");
	t = client_segment(44100, 0x02, &verdict);
	cr_assert_eq(endpoint_segment(&t, 0x10), redirected()); /* TW ACK */
	client_segment_seq(44100, 0x04, 1001, &verdict);
	cr_assert_eq(verdict, redirected());
	cr_assert(flow_exists(44100),
		  "RST before the SYN-ACK dropped the flow");
	again = client_segment(44100, 0x02, &verdict);
	cr_assert_eq(again.daddr, t.daddr);
	cr_assert_eq(again.sport, t.sport);

	cr_assert_eq(endpoint_segment(&t, 0x12), redirected()); /* SYN-ACK */
	client_segment_seq(44100, 0x14, 1001, &verdict);
	cr_assert_eq(verdict, redirected(), "the RST must still go through");
	cr_assert(!flow_exists(44100), "an answered flow outlived its RST");
	cr_assert_eq(endpoint_segment(&t, 0x10), passed(),
		     "the reply entry outlived the RST");
}

/* An endpoint at one of the gateway's own addresses is refused. */
static void local_endpoint_is_refused(void)
{
	static const char local[] =
		"apiVersion: networking.istio.io/v1beta1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: resnet101-self, namespace: default}\n"
		"spec:\n"
		"  address: 198.18.3.1\n"
		"  labels: {app: image-classifier, version: resnet101}\n";
	struct kn_err err;

	cr_assert_eq(apply_weights("resnet50=0", "resnet101=100", local, &err),
		     -1);
	cr_assert(strstr(err.msg, "198.18.3.1 is an address of the gateway"),
		  "%s", err.msg);
}

/*
 * What a sender with TX checksum offload puts in the TCP checksum field:
 * the folded pseudo-header sum alone (CHECKSUM_PARTIAL), as a veth peer
 * hands it to XDP on a machine left with its default offloads.
 */
static void make_partial(struct pkt_buf *b)
{
	uint8_t *ip = b->data + 14, *tcp = ip + 20;
	uint32_t sum = IPPROTO_TCP + ((ip[2] << 8) | ip[3]) - 20;

	for (int i = 12; i < 20; i += 2)
		sum += (ip[i] << 8) | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	tcp[16] = sum >> 8;
	tcp[17] = sum & 0xff;
}

/*
 * XDP cannot finish a checksum left to offload: after a rewrite and a
 * redirect the receiver would drop the segment. Such frames, SYN or
 * established, go to tc untouched; full checksums keep the XDP path.
 */
static void partial_checksum_goes_to_tc(void)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = 45000,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1000 };
	struct pkt_buf in;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	pkt_build(&s, &in);
	make_partial(&in);
	expect_frame_untouched(&in, "a SYN with a partial checksum");
	cr_assert_not(flow_exists(45000), "XDP made a flow it cannot serve");

	client_segment(45001, 0x02, &verdict);
	cr_assert_eq(verdict, XDP_REDIRECT_, "a full checksum stays in XDP");
	s.sport = 45001, s.flags = 0x10, s.seq = 1001, s.payload = 100;
	pkt_build(&s, &in);
	make_partial(&in);
	expect_frame_untouched(&in, "a segment with a partial checksum");
	cr_assert_eq(global_counter(KANARY_G_XDP_PARTIAL_CSUM), 2);
}

/*
 * An egress whose driver takes no XDP frames (not in kn_tx_ports: a veth
 * whose peer runs no XDP) would drop a redirected frame: XDP passes the
 * packet untouched and tc, behind it, forwards it. Replies toward an
 * interface that takes frames stay in XDP.
 */
static void egress_without_xdp_frames_goes_to_tc(void)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = 45100,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1000 };
	struct pkt_buf in, out;
	struct pkt_tuple t;

	apply_vs("virtualservice-weight-100.yaml");
	for (int i = 1; i <= 3; i++) {
		char name[4];
		uint32_t ifindex;

		snprintf(name, sizeof(name), "e%d", i);
		ifindex = if_nametoindex(name);
		cr_assert_eq(
			bpf_map_delete_elem(bpf_map__fd(skel->maps.kn_tx_ports),
					    &ifindex),
			0);
	}
	pkt_build(&s, &in);
	expect_frame_untouched(&in, "a SYN toward an egress without frames");
	cr_assert_eq(global_counter(KANARY_G_XDP_NO_TX), 1);

	/* tc, behind XDP on the same interface, forwards it. */
	use_tc = true;
	cr_assert_eq(run(&in, &out), TC_ACT_REDIRECT_);
	use_tc = false;
	cr_assert_eq(pkt_check(&out, &t), 0);
	cr_assert(is_addr(t.daddr, EP1) || is_addr(t.daddr, EP2));
	cr_assert_eq(global_counter(KANARY_G_NEW_FLOW), 1,
		     "one connection, counted once");

	/* The endpoint's answer leaves by c0, which takes frames. */
	cr_assert_eq(endpoint_segment(&t, 0x12), XDP_REDIRECT_);
}

static struct kanary_flow_key client_key(uint16_t sport)
{
	struct kanary_flow_key k = { .saddr = pkt_addr(CLIENT),
				     .daddr = pkt_addr(VIP),
				     .sport = htons(sport),
				     .dport = htons(80),
				     .proto = IPPROTO_TCP };
	return k;
}

/* The to-client entry of the connection whose SYN went out as t. */
static struct kanary_flow_key reply_key(const struct pkt_tuple *t)
{
	struct kanary_flow_key k = { .saddr = t->daddr,
				     .daddr = t->saddr,
				     .sport = htons(t->dport),
				     .dport = htons(t->sport),
				     .proto = IPPROTO_TCP };
	return k;
}

/* A client segment of flags with payload bytes; the verdict, and the
 * frame that left in *s (decoded, checksums checked) when it is tx. */
static int client_data(uint16_t sport, uint8_t flags, uint32_t seq,
		       uint32_t ack, size_t payload, struct pkt_buf *out)
{
	struct pkt_spec sp = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = sport,
			       .dport = 80,
			       .flags = flags,
			       .seq = seq,
			       .ack = ack,
			       .payload = payload };
	struct pkt_buf in;

	pkt_build(&sp, &in);
	return run(&in, out);
}

/* out is the gateway's RST to the client on port sport, and nothing more. */
static void expect_rst(const struct pkt_buf *out, uint16_t sport, uint32_t seq,
		       uint32_t ack)
{
	struct pkt_seg s;

	cr_assert_eq(pkt_decode(out, &s), 0, "bad RST frame or checksum");
	cr_assert(is_addr(s.t.saddr, VIP));
	cr_assert(is_addr(s.t.daddr, CLIENT));
	cr_assert_eq(s.t.sport, 80);
	cr_assert_eq(s.t.dport, sport);
	cr_assert_eq(s.t.flags, 0x14, "not RST+ACK: %#x", s.t.flags);
	cr_assert_eq(s.seq, seq, "seq %u, want %u", s.seq, seq);
	cr_assert_eq(s.ack, ack, "ack %u, want %u", s.ack, ack);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(out->len, 54, "RST frame of %zu bytes", out->len);
	/* Back to the client's MAC, from the gateway's. */
	cr_assert_eq(memcmp(out->data, "\x02\x00\x00\x00\x00\x02", 6), 0);
	cr_assert_eq(memcmp(out->data + 6, "\x02\x00\x00\x00\x00\x01", 6), 0);
}

/*
 * A flow whose endpoint health checking ejected (both entries marked):
 * the client's next segment gets an RST whose seq is its ack, and the
 * connection is forgotten; a SYN resent on a flow the endpoint never
 * answered gets RST+ACK of the ISN; the client's own RST is not answered;
 * the pool's other flows go on.
 */
static void ejected_flow_is_reset(void)
{
	struct kanary_flow_key fk = client_key(44200), rk;
	struct pkt_tuple a, b;
	struct pkt_buf out;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	a = client_segment(44200, 0x02, &verdict);
	cr_assert_eq(endpoint_segment(&a, 0x12), redirected());
	b = client_segment(44201, 0x02, &verdict);
	cr_assert_eq(endpoint_segment(&b, 0x12), redirected());
	rk = reply_key(&a);
	set_ejected(&fk);
	set_ejected(&rk);

	/* endpoint_segment's SYN-ACK had seq 9000: the client acks 9001. */
	cr_assert_eq(client_data(44200, 0x18, 1001, 9001, 100, &out),
		     sent_back());
	expect_rst(&out, 44200, 9001, 1101);
	cr_assert_eq(global_counter(KANARY_G_EJECTED_RESET), 1);
	cr_assert_not(flow_exists(44200), "the ejected flow outlived its RST");
	cr_assert_eq(endpoint_segment(&a, 0x10), passed(),
		     "the reply entry outlived the RST");

	/* Same pool, not marked: forwarded as before. */
	cr_assert_eq(client_data(44201, 0x10, 1001, 9001, 0, &out),
		     redirected());
	cr_assert_eq(pkt_check(&out, &a), 0);
	cr_assert_eq(a.daddr, b.daddr);
	cr_assert_eq(a.sport, b.sport);

	/* Never answered (the endpoint died first): the resent SYN. */
	a = client_segment(44202, 0x02, &verdict);
	fk = client_key(44202);
	set_ejected(&fk);
	cr_assert_eq(client_data(44202, 0x02, 1000, 0, 0, &out), sent_back());
	expect_rst(&out, 44202, 0, 1001);
	cr_assert_not(flow_exists(44202));

	/* The client's RST goes to the endpoint, unanswered. */
	a = client_segment(44203, 0x02, &verdict);
	cr_assert_eq(endpoint_segment(&a, 0x12), redirected());
	fk = client_key(44203);
	set_ejected(&fk);
	cr_assert_eq(client_data(44203, 0x14, 1001, 9001, 0, &out),
		     redirected());
	cr_assert_eq(pkt_check(&out, &b), 0);
	cr_assert_eq(b.flags, 0x14);
	cr_assert_eq(b.daddr, a.daddr);
	cr_assert_eq(global_counter(KANARY_G_EJECTED_RESET), 2);
}

/* XDP sends the RST only out of an interface that takes XDP frames:
 * else the segment goes to tc untouched, and tc resets the client. */
static void ejected_reset_without_xdp_tx_goes_to_tc(void)
{
	struct kanary_flow_key fk = client_key(44210);
	uint32_t c0 = if_nametoindex("c0");
	struct pkt_tuple a;
	struct pkt_spec sp = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = 44210,
			       .dport = 80,
			       .flags = 0x10,
			       .seq = 1001,
			       .ack = 9001 };
	struct pkt_buf in, out;
	int verdict;

	apply_vs("virtualservice-weight-100.yaml");
	a = client_segment(44210, 0x02, &verdict);
	cr_assert_eq(endpoint_segment(&a, 0x12), XDP_REDIRECT_);
	set_ejected(&fk);
	cr_assert_eq(bpf_map_delete_elem(bpf_map__fd(skel->maps.kn_tx_ports),
					 &c0),
		     0);
	pkt_build(&sp, &in);
	expect_frame_untouched(&in, "a segment on an ejected flow");
	cr_assert(flow_exists(44210), "XDP forgot a flow it did not reset");
	cr_assert_eq(global_counter(KANARY_G_EJECTED_RESET), 0);
	cr_assert_eq(global_counter(KANARY_G_XDP_NO_TX), 1);

	use_tc = true;
	cr_assert_eq(run(&in, &out), TC_ACT_REDIRECT_);
	expect_rst(&out, 44210, 9001, 1001);
	use_tc = false;
	cr_assert_not(flow_exists(44210));
	cr_assert_eq(global_counter(KANARY_G_EJECTED_RESET), 1);
}

/*
 * Every pool without endpoints (health checking ejected them all): a SYN
 * is answered with RST+ACK of its ISN, not dropped into a blackhole. A
 * Linux SYN with its 20 bytes of options: the RST is 54 bytes.
 */
static void empty_pool_syn_is_reset(void)
{
	static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0, 1, 0,    0,    0, 0, 1, 3,	 3, 7 };
	struct pkt_spec sp = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = 44300,
			       .dport = 80,
			       .flags = 0x02,
			       .seq = 5000,
			       .opts = opts,
			       .optlen = sizeof(opts) };
	struct pkt_buf in, out;

	apply_vs("virtualservice-weight-100.yaml");
	empty_pools();
	pkt_build(&sp, &in);
	cr_assert_eq(run(&in, &out), sent_back(), "the SYN was not answered");
	expect_rst(&out, 44300, 0, 5001);
	cr_assert_eq(global_counter(KANARY_G_NO_ENDPOINT), 1);
	cr_assert_eq(global_counter(KANARY_G_NEW_FLOW), 0);
	cr_assert_not(flow_exists(44300));
}

/*
 * kn_flows_mark_ejected: both entries of every connection to the endpoint
 * (address and port), no other; more than one batch of entries; a second
 * call finds nothing new; the data path then resets a marked flow. Most
 * connections are in records, those whose record another one took
 * (about one in 16 here) in kn_flows: both kinds are marked.
 */
static void mark_ejected_marks_endpoint_flows(void)
{
	enum { N = 2100 }; /* 4200 entries: past one 4096-entry batch */
	static struct pkt_tuple t[N];
	const struct kn_cendpoint rest[] = {
		{ pkt_addr(EP2), htons(8501) },
		{ pkt_addr(EP3), htons(8501) },
	};
	struct kanary_flow_key fk, rk;
	struct kanary_flow v;
	struct pkt_buf out;
	int verdict, n1 = 0, first = -1;

	apply_vs("virtualservice-weight-70.yaml");
	/* Some connections in kn_flows too: the records of the first 20
	 * held (2100 fit in the records, nearly all of them). */
	for (int i = 0; i < 20; i++)
		hold_records(20000 + i);
	for (int i = 0; i < N; i++) {
		t[i] = client_segment(20000 + i, 0x02, &verdict);
		if (is_addr(t[i].daddr, EP1)) {
			n1++;
			if (first < 0)
				first = i;
		}
	}
	cr_assert_gt(n1, 0);
	cr_assert_gt(record_count(), 0);
	cr_assert_gt(flow_count() - record_count(), 0, "none in kn_flows");
	cr_assert_eq(kn_flows_mark_ejected(&maps,
					   &(struct kn_cendpoint){
						   pkt_addr(EP1), htons(9999) },
					   1),
		     0, "another port of the endpoint was marked");
	cr_assert_eq(kn_flows_mark_ejected(&maps,
					   &(struct kn_cendpoint){
						   pkt_addr(EP1), htons(8501) },
					   1),
		     n1);
	for (int i = 0; i < N; i++) {
		bool want = is_addr(t[i].daddr, EP1);

		fk = client_key(20000 + i);
		rk = reply_key(&t[i]);
		v = flow_at(&fk);
		cr_assert_eq(v.ejected, want, "to-endpoint entry %d", i);
		cr_assert_eq(v.pad_ej, 0);
		v = flow_at(&rk);
		cr_assert_eq(v.ejected, want, "to-client entry %d", i);
	}
	cr_assert_eq(kn_flows_mark_ejected(&maps,
					   &(struct kn_cendpoint){
						   pkt_addr(EP1), htons(8501) },
					   1),
		     0, "marked twice");
	/* Several endpoints in one walk: every other connection. */
	cr_assert_eq(kn_flows_mark_ejected(&maps, rest, 2), N - n1);

	cr_assert_eq(client_data(20000 + first, 0x10, 1001, 9001, 0, &out),
		     sent_back());
	expect_rst(&out, 20000 + first, 9001, 1001);
}

BOTH(syn_goes_to_stable_subset)
BOTH(reply_is_translated_back)
BOTH(established_flow_keeps_endpoint)
BOTH(retransmitted_syn_same_translation)
BOTH(split_70_30)
BOTH(snat_ports_unique)
BOTH(others_pass_untouched)
BOTH(unknown_neighbour_is_resolved)
BOTH(failed_apply_keeps_old_config)
BOTH(snat_exhausted_drops_syn)
BOTH(closed_ports_are_reclaimed)
BOTH(half_open_ports_are_reclaimed)
BOTH(young_half_open_ports_are_kept)
BOTH(pressed_half_open_ports_are_reclaimed)
BOTH(endpoint_next_hop_is_learnt_for_a_second)
BOTH(handshake_ends_half_open)
BOTH(fin_marks_both_entries)
BOTH(rst_forgets_answered_flows_only)
Test(tc, local_endpoint_is_refused, .init = setup_tc, .fini = teardown)
{
	local_endpoint_is_refused();
}
Test(xdp, partial_checksum_goes_to_tc, .init = setup_xdp, .fini = teardown)
{
	partial_checksum_goes_to_tc();
}
Test(xdp, egress_without_xdp_frames_goes_to_tc, .init = setup_xdp,
     .fini = teardown)
{
	egress_without_xdp_frames_goes_to_tc();
}
BOTH(ejected_flow_is_reset)
BOTH(empty_pool_syn_is_reset)
Test(xdp, ejected_reset_without_xdp_tx_goes_to_tc, .init = setup_xdp,
     .fini = teardown)
{
	ejected_reset_without_xdp_tx_goes_to_tc();
}
Test(tc, mark_ejected_marks_endpoint_flows, .init = setup_tc, .fini = teardown)
{
	mark_ejected_marks_endpoint_flows();
}
