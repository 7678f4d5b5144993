// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * SNAT ports and the endpoints' TIME_WAIT (bpf/nat.h: tw_takes_syn,
 * lookup_flow; bpf/kanary.bpf.c: l4_syn_again_tc). A port whose endpoint
 * holds the old connection in TIME_WAIT goes at once to a SYN that
 * TIME_WAIT takes (TSval newer, or without timestamps an ISN after the
 * old FIN), to no other; a client reusing its port leaves the old port
 * held; the endpoint's bare ACK to an L4 SYN is answered in tc by an RST
 * to the endpoint and the client's SYN again, once. And random draws
 * after the keyed ones (bpf/nat.h: create_flow).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "flows.h"
#include "harness.h"

#define EP EP3 /* resnet101: the only endpoint once it takes 100 % */
#define EP_IF "e3"
#define SNAT "198.18.3.1"
#define ISN 1000000u
#define EP_ISN 5000000u
#define TSVAL 777000u
#define SEC 1000000000ULL

/* Every new connection to EP (one endpoint: its SNAT ports are EP's). */
static void all_to_ep(void)
{
	char w50[] = "resnet50=0", w101[] = "resnet101=100";
	struct kn_err err;

	cr_assert_eq(apply_weights(w50, w101, NULL, &err), 0, "%s", err.msg);
}

/* Linux's SYN options: MSS 1460, SACK_PERM, TS (tsval, 0), NOP, WS 7. */
static void linux_syn_opts(uint8_t o[20], uint32_t tsval)
{
	static const uint8_t tmpl[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0, 0, 0,    0,    0, 0, 1, 3,	 3, 7 };
	uint32_t v = htonl(tsval);

	memcpy(o, tmpl, 20);
	memcpy(o + 8, &v, 4);
}

/* The client's SYN from cport (ISN isn; options opts, optlen bytes):
 * the verdict, and the frame that left in *out (if it is TCP). */
static int client_syn(uint16_t cport, uint32_t isn, const uint8_t *opts,
		      size_t optlen, struct pkt_seg *out)
{
	struct pkt_buf o;
	int v = vip_syn(cport, isn, opts, optlen, &o);

	if (out && pkt_decode(&o, out))
		memset(out, 0, sizeof(*out));
	return v;
}

/* A client segment (NOP NOP TS tsval), through the program. */
static int client_seg(uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack,
		      uint32_t tsval)
{
	uint8_t opts[12];
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = cport,
			      .dport = 80,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .opts = opts,
			      .optlen = sizeof(opts) };
	struct pkt_buf in, o;

	pkt_ts_opt(opts, tsval, 4242);
	pkt_build(&s, &in);
	return run(&in, &o);
}

/* The endpoint's segment to SNAT port sport, built into *in. */
static void ep_frame(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
		     struct pkt_buf *in)
{
	struct pkt_spec s = { .saddr = EP,
			      .daddr = SNAT,
			      .sport = 8501,
			      .dport = sport,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack };

	pkt_build(&s, in);
}

static int ep_seg(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct pkt_buf in, o;

	ep_frame(sport, flags, seq, ack, &in);
	return run_on(EP_IF, &in, &o);
}

static struct kanary_flow_key client_key(uint16_t cport)
{
	struct kanary_flow_key k = { .saddr = pkt_addr(CLIENT),
				     .daddr = pkt_addr(VIP),
				     .sport = htons(cport),
				     .dport = htons(80),
				     .proto = IPPROTO_TCP };
	return k;
}

static struct kanary_flow_key port_key(uint16_t port)
{
	struct kanary_flow_key k = { .saddr = pkt_addr(EP),
				     .daddr = pkt_addr(SNAT),
				     .sport = htons(8501),
				     .dport = htons(port),
				     .proto = IPPROTO_TCP };
	return k;
}

/*
 * Every SNAT port of EP held by a connection closed just now whose
 * endpoint holds it in TIME_WAIT as fin says (KANARY_FIN_*), the old
 * client's newest TSval tw_tsval and its FIN ending at fin_seq.
 */
static void hold_ports(__u64 fin, uint32_t tw_tsval, uint32_t fin_seq)
{
	__u64 now = mono_ns();

	/* Records' ports included (KANARY_CONN_PORT_MIN). */
	for (int port = KANARY_CONN_PORT_MIN; port <= KANARY_SNAT_PORT_MAX;
	     port++) {
		struct kanary_flow_key k = port_key(port);
		struct kanary_flow v = { .saddr = pkt_addr(VIP),
					 .daddr = pkt_addr("198.18.0.77"),
					 .sport = htons(80),
					 .dport = htons(port),
					 .dir = KANARY_DIR_TO_CLIENT,
					 .answered = 1,
					 .closed_ns = now,
					 .fin = fin,
					 .fin_seq = fin_seq,
					 .tw_tsval = tw_tsval };

		cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS], &k, &v,
						 0),
			     0);
	}
	/* Entries the data path did not make: as after an upgrade. */
	cr_assert_eq(kn_conns_mark_kn_flows(maps.fd[KN_MAP_CONNS]), 0);
}

#define TW_READY                                             \
	(KANARY_FIN_FROM_CLIENT | KANARY_FIN_FROM_ENDPOINT | \
	 KANARY_FIN_ENDPOINT_TW | KANARY_FIN_ACKED)

/* The SYN took a held port: it left for EP. */
static void expect_taken(int v, const struct pkt_seg *s, const char *what)
{
	cr_assert_eq(v, redirected(), "%s: the SYN did not get a port", what);
	cr_assert_eq(s->t.daddr, pkt_addr(EP), "%s", what);
	cr_assert_eq(s->t.flags, 0x02, "%s", what);
}

static void expect_refused(int v, const char *what)
{
	cr_assert_eq(v, dropped(), "%s: the SYN took a TIME_WAIT's port", what);
}

/*
 * A TIME_WAIT-ready port goes to a SYN whose TSval is newer than the old
 * client's newest, which that TIME_WAIT takes, and to no older or equal
 * one (PAWS), nor to a SYN without timestamps that starts before the old
 * FIN. Ports not ready (the endpoint has not acked the client's FIN)
 * wait the 60 s.
 */
static void tw_port_goes_to_newer_tsval(void)
{
	uint8_t opts[20];
	struct pkt_seg s;
	int v;

	all_to_ep();
	set_reclaim_ns(60 * SEC);
	hold_ports((TW_READY & ~KANARY_FIN_ACKED) | KANARY_FIN_CLIENT_TS, TSVAL,
		   ISN);
	linux_syn_opts(opts, TSVAL + 100);
	expect_refused(client_syn(46000, ISN + 9, opts, 20, NULL), "not acked");

	hold_ports(TW_READY | KANARY_FIN_CLIENT_TS, TSVAL, ISN);
	linux_syn_opts(opts, TSVAL);
	expect_refused(client_syn(46001, ISN + 9, opts, 20, NULL),
		       "equal TSval");
	linux_syn_opts(opts, TSVAL - 1);
	expect_refused(client_syn(46002, ISN + 9, opts, 20, NULL),
		       "older TSval");
	/* An ISN after the FIN does not help a SYN that PAWS refuses. */
	linux_syn_opts(opts, TSVAL - 1000);
	expect_refused(client_syn(46003, ISN + 99999, opts, 20, NULL),
		       "older TSval, ISN after");
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 0);

	linux_syn_opts(opts, TSVAL + 1);
	v = client_syn(46004, ISN - 99999, opts, 20, &s);
	expect_taken(v, &s, "newer TSval");
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 1);
}

/*
 * Without timestamps (Linux's TIME_WAIT then checks no PAWS), the SYN
 * must start after the old client's FIN (the TIME_WAIT's rcv_nxt); so
 * must a SYN with a TSval when the old connection had none.
 */
static void tw_port_goes_to_later_isn_without_ts(void)
{
	/* MSS 1460, NOP NOP SACK_PERM, NOP WS 7: timestamps off. */
	static const uint8_t no_ts[12] = { 2, 4, 0x05, 0xb4, 1, 1,
					   4, 2, 1,    3,    3, 7 };
	static const uint8_t tfo[8] = { 2, 4, 0x05, 0xb4, 34, 2, 1, 1 };
	uint8_t opts[20];
	struct pkt_seg s;
	int v;

	all_to_ep();
	set_reclaim_ns(60 * SEC);
	hold_ports(TW_READY | KANARY_FIN_CLIENT_TS, TSVAL, ISN);
	expect_refused(client_syn(46100, ISN, no_ts, 12, NULL), "ISN equal");
	expect_refused(client_syn(46101, ISN - 1, no_ts, 12, NULL),
		       "ISN before");
	/* MSS, then a TFO cookie request: whether it has a TSval is not
	 * known, so neither is what PAWS says. */
	expect_refused(client_syn(46102, ISN + 5, tfo, 8, NULL),
		       "options unread, ISN after");
	v = client_syn(46103, ISN + 1, no_ts, 12, &s);
	expect_taken(v, &s, "ISN after the FIN, no TSval");
	v = client_syn(46107, ISN + 1, NULL, 0, &s);
	expect_taken(v, &s, "ISN after the FIN, no option at all");
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 2);

	/* The old client's TS option unread: a SYN with one must wait. */
	hold_ports(TW_READY, TSVAL, ISN);
	linux_syn_opts(opts, TSVAL + 100);
	expect_refused(client_syn(46104, ISN + 5, opts, 20, NULL),
		       "old TS unknown");
	/* The old connection sent none: its TIME_WAIT checks no PAWS. */
	hold_ports(TW_READY | KANARY_FIN_CLIENT_NO_TS, TSVAL, ISN);
	expect_refused(client_syn(46105, ISN - 5, opts, 20, NULL),
		       "no TS before, ISN before");
	v = client_syn(46106, ISN + 5, opts, 20, &s);
	expect_taken(v, &s, "no TS before, ISN after");
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 3);
}

/*
 * An L4 connection from cport the endpoint closes first: SYN (Linux's
 * options, TSval TSVAL), SYN-ACK, ACK, the endpoint's FIN, the client's
 * FIN (TSval tsval_fin), the endpoint's ACK of it. Its SNAT port.
 */
static uint16_t endpoint_closes_first(uint16_t cport, uint32_t tsval_fin)
{
	uint8_t opts[20];
	struct pkt_seg s;

	linux_syn_opts(opts, TSVAL);
	cr_assert_eq(client_syn(cport, ISN, opts, 20, &s), redirected());
	cr_assert_eq(s.t.daddr, pkt_addr(EP));
	cr_assert_eq(ep_seg(s.t.sport, 0x12, EP_ISN, ISN + 1), redirected());
	cr_assert_eq(client_seg(cport, 0x10, ISN + 1, EP_ISN + 1, TSVAL + 1),
		     redirected());
	cr_assert_eq(ep_seg(s.t.sport, 0x11, EP_ISN + 1, ISN + 1),
		     redirected());
	cr_assert_eq(client_seg(cport, 0x11, ISN + 1, EP_ISN + 2, tsval_fin),
		     redirected());
	cr_assert_eq(ep_seg(s.t.sport, 0x10, EP_ISN + 2, ISN + 2),
		     redirected());
	return s.t.sport;
}

/* An endpoint-first close notes what the endpoint's TIME_WAIT holds (the
 * client's newest TSval, the ack of its FIN), in both entries. */
static void endpoint_first_close_notes_time_wait(void)
{
	struct kanary_flow_key ck = client_key(46200), pk;
	struct kanary_flow f, r;

	all_to_ep();
	pk = port_key(endpoint_closes_first(46200, TSVAL + 50));
	f = flow_at(&ck);
	r = flow_at(&pk);
	cr_assert_eq(f.fin & (TW_READY | KANARY_FIN_CLIENT_TS),
		     TW_READY | KANARY_FIN_CLIENT_TS, "fin %#llx",
		     (unsigned long long)f.fin);
	cr_assert_eq(r.fin, f.fin);
	cr_assert_eq(f.tw_tsval, TSVAL + 50);
	cr_assert_eq(r.tw_tsval, TSVAL + 50);
	cr_assert_eq(r.fin_seq, ISN + 2);
}

/*
 * The client then reuses its port (a new ISN): the old to-endpoint entry
 * goes, the to-client one keeps the SNAT port; a SYN of the client's
 * that the TIME_WAIT would refuse (an older TSval) gets another port,
 * the next one, newer, gets the old port back (its keyed draws are the
 * old connection's).
 */
static void client_port_reuse_keeps_tw_port(void)
{
	struct kanary_flow_key ck = client_key(46210), pk;
	struct kanary_flow r;
	uint8_t opts[20];
	struct pkt_seg s;
	uint16_t port;

	all_to_ep();
	set_reclaim_ns(60 * SEC);
	port = endpoint_closes_first(46210, TSVAL + 50);
	pk = port_key(port);

	/* Older than the TIME_WAIT's ts_recent: PAWS would refuse it. */
	linux_syn_opts(opts, TSVAL + 49);
	cr_assert_eq(client_syn(46210, ISN + 7777, opts, 20, &s), redirected());
	cr_assert_neq(s.t.sport, port,
		      "the TIME_WAIT's port went to a SYN it refuses");
	r = flow_at(&pk);
	cr_assert(r.closed_ns && r.dport == htons(46210) &&
			  (r.fin & TW_READY) == TW_READY,
		  "the old connection's port was freed");
	cr_assert_eq(flow_at(&ck).sport, htons(s.t.sport));
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 0);

	/* Newer: that TIME_WAIT takes it, and it gets the port back. */
	linux_syn_opts(opts, TSVAL + 51);
	cr_assert_eq(client_syn(46210, ISN + 8888, opts, 20, &s), redirected());
	cr_assert_eq(s.t.sport, port, "not the old port back");
	cr_assert_eq(global_counter(KANARY_G_TW_TAKEOVER), 1);
	r = flow_at(&pk);
	cr_assert(!r.closed_ns && !r.fin, "the old entry is still there");
}

/*
 * Then RSTs from the endpoint's address on the kept port, at its next
 * sequence number and at another: dropped, not sent to the client's
 * tuple (its new connection's now), and the kept entry keeps the port
 * for the TIME_WAIT; the client's new connection, on another port to the
 * same endpoint, stays. Before, the RST was forwarded, the kept entry
 * forgotten, and its close followed the client's key and deleted the
 * new connection's two entries.
 */
static void rst_on_kept_port_spares_the_new_connection(void)
{
	struct kanary_flow_key ck = client_key(46220), pk, nk;
	uint64_t blind;
	uint8_t opts[20];
	struct pkt_seg s;
	uint16_t port;

	all_to_ep();
	set_reclaim_ns(60 * SEC);
	port = endpoint_closes_first(46220, TSVAL + 50);
	pk = port_key(port);
	linux_syn_opts(opts, TSVAL + 49);
	cr_assert_eq(client_syn(46220, ISN + 7777, opts, 20, &s), redirected());
	cr_assert_neq(s.t.sport, port);
	nk = port_key(s.t.sport);

	blind = global_counter(KANARY_G_RST_BLIND);
	cr_assert_eq(ep_seg(port, 0x04, EP_ISN + 2, 0), dropped(),
		     "an RST on the kept port went on to the client");
	cr_assert_eq(ep_seg(port, 0x04, EP_ISN + 99999, 0), dropped());
	cr_assert_eq(global_counter(KANARY_G_RST_BLIND) - blind, 2);
	cr_assert(flow_has(&ck) && flow_has(&nk),
		  "the client's new connection went with the old one");
	cr_assert_eq(flow_at(&ck).sport, htons(s.t.sport));
	cr_assert_eq(flow_at(&nk).dport, htons(46220));
	cr_assert(flow_has(&pk), "the kept entry is gone: its port is free");
}

/* A passive close (the client's FIN first) leaves no TIME_WAIT at the
 * endpoint, and nothing kept: both entries go on the client's last ACK. */
static void passive_close_leaves_nothing(void)
{
	uint8_t opts[20];
	struct pkt_seg s;

	all_to_ep();
	linux_syn_opts(opts, TSVAL);
	cr_assert_eq(client_syn(46300, ISN, opts, 20, &s), redirected());
	cr_assert_eq(ep_seg(s.t.sport, 0x12, EP_ISN, ISN + 1), redirected());
	cr_assert_eq(client_seg(46300, 0x11, ISN + 1, EP_ISN + 1, TSVAL + 1),
		     redirected());
	cr_assert_eq(ep_seg(s.t.sport, 0x11, EP_ISN + 1, ISN + 2),
		     redirected());
	cr_assert_eq(client_seg(46300, 0x10, ISN + 2, EP_ISN + 2, TSVAL + 2),
		     redirected());
	cr_assert_eq(flow_count(), 0);
}

/* Frames that arrive on ifname's veth peer, from now on. */
static int capture_on(const char *ifname)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL) };
	struct timeval tv = { .tv_sec = 1 };
	char peer[IF_NAMESIZE];
	int fd;

	snprintf(peer, sizeof(peer), "%sp", ifname);
	sll.sll_ifindex = if_nametoindex(peer);
	fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	cr_assert_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)),
		     0);
	return fd;
}

/* The first TCP segment with flags among what fd captured. */
static bool captured(int fd, uint8_t flags, struct pkt_seg *s)
{
	struct pkt_buf b;
	ssize_t n;

	while ((n = recv(fd, b.data, sizeof(b.data), 0)) > 0) {
		b.len = n;
		if (!pkt_decode(&b, s) && s->t.flags == flags)
			return true;
	}
	return false;
}

/* XDP: the frame passes, byte for byte, on the endpoint's link (to tc). */
static void expect_passed_on_ep(struct pkt_buf *in, const char *what)
{
	struct pkt_buf out;

	cr_assert_eq(run_on(EP_IF, in, &out), XDP_PASS_, "%s: not passed",
		     what);
	cr_assert_eq(out.len, in->len);
	cr_assert_eq(memcmp(out.data, in->data, in->len), 0,
		     "%s: packet was modified", what);
}

/* An L4 SYN from cport with Linux's options, and the endpoint's bare ACK
 * of an older connection on its SNAT port: built into *ack. */
static uint16_t syn_then_old_ack(uint16_t cport, struct pkt_buf *ack)
{
	uint8_t opts[20];
	struct pkt_seg s;

	all_to_ep();
	linux_syn_opts(opts, TSVAL);
	cr_assert_eq(client_syn(cport, ISN, opts, 20, &s), redirected());
	cr_assert_eq(s.t.daddr, pkt_addr(EP));
	ep_frame(s.t.sport, 0x10, 123456, 654321, ack);
	return s.t.sport;
}

/*
 * The endpoint answers an L4 SYN with a bare ACK (its TIME_WAIT refused
 * the SYN by PAWS): tc sends it an RST at the ACK's ack (cloned out of
 * the endpoint's link), and the client's SYN again, with the options it
 * offered. XDP passes the ACK, untouched, to tc.
 */
static void old_ack_to_l4_syn_is_reset(void)
{
	struct pkt_buf ack, o;
	struct pkt_seg rst, again;
	uint16_t port;
	int fd;

	port = syn_then_old_ack(46400, &ack);
	if (!use_tc)
		expect_passed_on_ep(&ack, "XDP: the endpoint's bare ACK");
	fd = capture_on(EP_IF);
	cr_assert_eq(run_tc_on(EP_IF, &ack, &o), TC_ACT_REDIRECT_,
		     "the ACK was not turned into the SYN again");
	cr_assert_eq(pkt_decode(&o, &again), 0);
	cr_assert_eq(again.t.flags, 0x02, "not a SYN: %#x", again.t.flags);
	cr_assert_eq(again.t.saddr, pkt_addr(SNAT));
	cr_assert_eq(again.t.daddr, pkt_addr(EP));
	cr_assert_eq(again.t.sport, port);
	cr_assert_eq(again.t.dport, 8501);
	cr_assert_eq(again.seq, ISN);
	cr_assert_eq(again.mss, 1460);
	cr_assert_eq(again.sack_ok, 1);
	cr_assert_eq(again.ws, 7);
	cr_assert(again.has_ts && again.tsval == TSVAL && !again.tsecr);
	cr_assert_eq(again.window, 64240);
	cr_assert(!memcmp(o.data, "\x02\0\0\0\x03\x02", 6),
		  "not to the endpoint's MAC");

	cr_assert(captured(fd, 0x14, &rst), "no RST left on " EP_IF);
	close(fd);
	cr_assert_eq(rst.t.saddr, pkt_addr(SNAT));
	cr_assert_eq(rst.t.daddr, pkt_addr(EP));
	cr_assert_eq(rst.t.sport, port);
	cr_assert_eq(rst.seq, 654321, "the RST is not at the ACK's ack");
	cr_assert_eq(global_counter(KANARY_G_L4_SYN_RESENT), 1);
}

/* A second bare ACK for the same connection goes to the client: once. */
static void second_old_ack_goes_to_client(void)
{
	struct pkt_buf ack, o;
	struct pkt_tuple t;

	syn_then_old_ack(46500, &ack);
	if (!use_tc)
		expect_passed_on_ep(&ack, "XDP: the endpoint's bare ACK");
	cr_assert_eq(run_tc_on(EP_IF, &ack, &o), TC_ACT_REDIRECT_);
	cr_assert_eq(pkt_check(&o, &t), 0);
	cr_assert_eq(t.flags, 0x02, "the first ACK was not answered");

	cr_assert_eq(run_on(EP_IF, &ack, &o), redirected());
	cr_assert_eq(pkt_check(&o, &t), 0);
	cr_assert_eq(t.flags, 0x10);
	cr_assert_eq(t.daddr, pkt_addr(CLIENT), "not to the client");
	cr_assert_eq(t.dport, 46500);
	cr_assert_eq(global_counter(KANARY_G_L4_SYN_RESENT), 1);
}

/* A SYN whose options kanary cannot make again (here MSS alone, then a
 * TFO cookie request): its bare ACK goes to the client, as before. */
static void old_ack_to_unknown_syn_goes_to_client(void)
{
	static const uint8_t tfo[8] = { 2, 4, 0x05, 0xb4, 34, 2, 1, 1 };
	struct pkt_buf ack, o;
	struct pkt_tuple t;
	struct pkt_seg s;

	all_to_ep();
	cr_assert_eq(client_syn(46600, ISN, tfo, 8, &s), redirected());
	ep_frame(s.t.sport, 0x10, 123456, 654321, &ack);
	cr_assert_eq(run_on(EP_IF, &ack, &o), redirected());
	cr_assert_eq(pkt_check(&o, &t), 0);
	cr_assert_eq(t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(global_counter(KANARY_G_L4_SYN_RESENT), 0);
}

/*
 * Every keyed draw of a client tuple held by an open connection: its
 * SYN, and every SYN it sends again, still gets a port from the random
 * draws after them, instead of being dropped until one of those 16 is
 * freed.
 */
static void held_keyed_draws_leave_random_ones(void)
{
	uint16_t ports[KANARY_SNAT_TRIES];
	uint32_t h = client_hash(46700);
	struct pkt_seg s;

	all_to_ep();
	/* The client's records held: the SYN goes to kn_flows' draws. */
	hold_records(46700);
	for (int i = 0; i < KANARY_SNAT_TRIES; i++) {
		struct kanary_flow_key k;
		struct kanary_flow v = { .saddr = pkt_addr(VIP),
					 .daddr = pkt_addr("198.18.0.77"),
					 .sport = htons(80),
					 .dir = KANARY_DIR_TO_CLIENT,
					 .answered = 1 };

		ports[i] = snat_draw_port(h, i);
		k = port_key(ports[i]);
		v.dport = htons(ports[i]);
		cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS], &k, &v,
						 0),
			     0);
	}
	cr_assert_eq(kn_conns_mark_kn_flows(maps.fd[KN_MAP_CONNS]), 0);
	cr_assert_eq(client_syn(46700, ISN, NULL, 0, &s), redirected(),
		     "the SYN was dropped");
	for (int i = 0; i < KANARY_SNAT_TRIES; i++)
		cr_assert_neq(s.t.sport, ports[i], "a held port");
	cr_assert_eq(global_counter(KANARY_G_SNAT_EXHAUSTED), 0);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1);
}

BOTH(tw_port_goes_to_newer_tsval)
BOTH(tw_port_goes_to_later_isn_without_ts)
BOTH(endpoint_first_close_notes_time_wait)
BOTH(client_port_reuse_keeps_tw_port)
BOTH(rst_on_kept_port_spares_the_new_connection)
BOTH(passive_close_leaves_nothing)
BOTH(old_ack_to_l4_syn_is_reset)
BOTH(second_old_ack_goes_to_client)
BOTH(old_ack_to_unknown_syn_goes_to_client)
BOTH(held_keyed_draws_leave_random_ones)
