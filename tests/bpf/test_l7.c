// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The L7 path (delayed binding) on crafted packets: the lab's focused
 * routing, a connection walked through packet by packet, every frame the
 * program makes checked field by field and by checksum.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "flows.h"
#include "harness.h"

#define FOCUSED "virtualservice-focused-routing.yaml"
/* The lab's VirtualService up to its http list, for crafted rules. */
#define VS_HEAD                                      \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: image-classifier}\n"       \
	"spec:\n"                                    \
	"  hosts: ['*']\n"                           \
	"  gateways: [image-classifier-gateway]\n"   \
	"  http:\n"
#define CLIENT_ISN 1000000u
#define CLIENT_TS 777000u
#define EP_ISN 5000000u
#define EP_TS 990000u

/* MSS 1460, SACK_PERM, TS (CLIENT_TS, 0), NOP, WS 7: Linux's SYN. */
static const uint8_t syn_opts[20] = {
	2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x0b,
	0xdb, 0x28, 0,	  0,	0, 0, 1, 3,  3,	   7,
};

/* The client's SYN from port sport; returns the gateway's answer. */
static int client_syn(uint16_t sport, const uint8_t *opts, size_t optlen,
		      struct pkt_seg *out)
{
	struct pkt_buf o;
	int v = vip_syn(sport, CLIENT_ISN, opts, optlen, &o);

	if (v == sent_back() && out)
		decode(&o, out);
	return v;
}

/* A client segment of the connection, with a TS option. */
static int client_seg(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
		      const char *data, size_t len, uint32_t tsecr,
		      const uint8_t *extra, size_t extra_len, struct pkt_buf *o)
{
	uint8_t opts[40];
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .data = data,
			      .payload = len,
			      .opts = opts,
			      .optlen = 12 + extra_len,
			      .window = 502 };
	struct pkt_buf in;

	pkt_ts_opt(opts, CLIENT_TS + 5, tsecr);
	if (extra_len)
		memcpy(opts + 12, extra, extra_len);
	pkt_build(&s, &in);
	return run(&in, o);
}

static const char *request(const char *hdr)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "POST /v1/models/image_classifier:predict HTTP/1.1\r\n"
		 "Host: 198.18.0.1\r\nUser-Agent: curl/8\r\nAccept: */*\r\n"
		 "%s%sContent-Length: 2\r\n\r\n{}",
		 hdr ? hdr : "", hdr ? "\r\n" : "");
	return buf;
}

/* SYN, then the first segment with data; returns the verdict on it. */
static int open_with(uint16_t sport, const char *data, size_t len,
		     struct pkt_seg *synack, struct pkt_buf *o)
{
	cr_assert_eq(client_syn(sport, syn_opts, sizeof(syn_opts), synack),
		     sent_back());
	return client_seg(sport, 0x18, CLIENT_ISN + 1, synack->seq + 1, data,
			  len, synack->tsval, NULL, 0, o);
}

static bool is_canary(uint32_t daddr)
{
	return daddr == pkt_addr(EP3);
}

static bool is_stable(uint32_t daddr)
{
	return daddr == pkt_addr(EP1) || daddr == pkt_addr(EP2);
}

/* Which subset the first segment r went to: 101, 50, or 0 for none. */
static int routed(uint16_t port, const char *r)
{
	struct pkt_buf o;
	struct pkt_seg syn, s;

	if (open_with(port, r, strlen(r), &syn, &o) != redirected())
		return 0;
	decode(&o, &s);
	return is_canary(s.t.daddr) ? 101 : is_stable(s.t.daddr) ? 50 : 0;
}

static uint64_t global(int which)
{
	uint64_t v[256] = { 0 }, sum = 0;
	uint32_t k = which;
	int n = libbpf_num_possible_cpus();

	cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_GLOBAL], &k, v), 0);
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}

static int map_count(int fd)
{
	struct kanary_flow_key k, next;
	int n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void synack_offers_one_segment(void)
{
	struct pkt_seg s;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(41000, syn_opts, sizeof(syn_opts), &s),
		     sent_back());
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.t.sport, 80);
	cr_assert_eq(s.t.dport, 41000);
	cr_assert_eq(s.t.flags, 0x12, "not a SYN-ACK: %#x", s.t.flags);
	cr_assert_eq(s.ack, CLIENT_ISN + 1);
	cr_assert_eq(s.window, KANARY_L7_WINDOW, "window %u", s.window);
	cr_assert_eq(s.mss, KANARY_L7_MSS);
	cr_assert_eq(s.ws, KANARY_L7_WSCALE);
	cr_assert_eq(s.sack_ok, 1);
	cr_assert(s.has_ts);
	cr_assert_eq(s.tsecr, CLIENT_TS, "TSecr %u", s.tsecr);
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 1);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0,
		     "a SYN alone must not create a flow");

	/* A retransmitted SYN gets the very same answer. */
	struct pkt_seg again;

	cr_assert_eq(client_syn(41000, syn_opts, sizeof(syn_opts), &again),
		     sent_back());
	cr_assert_eq(again.seq, s.seq);
	cr_assert_eq(again.tsval, s.tsval);
}

static void synack_without_options(void)
{
	struct pkt_seg s;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(41001, NULL, 0, &s), sent_back());
	cr_assert_eq(s.doff, 5, "options the client did not offer");
	cr_assert_eq(s.mss, -1);
	cr_assert_eq(s.ws, -1);
	cr_assert(!s.has_ts);
	cr_assert_eq(s.window, KANARY_L7_WINDOW);
}

static void header_picks_subset(void)
{
	static const char *const canary[] = { "user-group: canary",
					      "User-Group: canary",
					      "USER-GROUP:canary",
					      "uSeR-gRoUp:   canary  " };
	static const char *const stable[] = { NULL, "user-group: beta",
					      "user-group: canary-x",
					      "user-group: Canary",
					      "x-user-group: canary" };
	struct pkt_buf o;
	struct pkt_seg syn, s;
	uint16_t port = 42000;

	apply_vs(FOCUSED);
	for (size_t i = 0; i < 4; i++, port++) {
		const char *r = request(canary[i]);

		cr_assert_eq(open_with(port, r, strlen(r), &syn, &o),
			     redirected());
		decode(&o, &s);
		cr_assert(is_canary(s.t.daddr), "'%s' went elsewhere",
			  canary[i]);
		cr_assert_eq(s.t.flags, 0x02, "not a SYN: %#x", s.t.flags);
		cr_assert_eq(s.seq, CLIENT_ISN, "not the client's ISN");
		cr_assert_eq(s.len, 0, "the SYN carries data");
		cr_assert_eq(s.t.dport, 8501);
		cr_assert_eq(s.mss, 1460);
		cr_assert_eq(s.ws, 7, "the client's window scale");
		cr_assert_eq(s.sack_ok, 1);
		cr_assert(s.has_ts && s.tsval == CLIENT_TS + 5 && !s.tsecr);
	}
	for (size_t i = 0; i < 5; i++, port++)
		cr_assert_eq(routed(port, request(stable[i])), 50,
			     "'%s' went to the canary",
			     stable[i] ? stable[i] : "(none)");
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 9);
}

static void header_after_twenty_others(void)
{
	char hdrs[2048] = "";
	struct pkt_buf o;
	struct pkt_seg syn, s;
	const char *r;

	apply_vs(FOCUSED);
	for (int i = 0; i < 20; i++)
		snprintf(
			hdrs + strlen(hdrs), sizeof(hdrs) - strlen(hdrs),
			"X-Filler-%02d: value-%02d-abcdefghijklmnopqrstuvwxyz\r\n",
			i, i);
	strcat(hdrs, "user-group: canary");
	r = request(hdrs);
	cr_assert_eq(open_with(42100, r, strlen(r), &syn, &o), redirected());
	decode(&o, &s);
	cr_assert(is_canary(s.t.daddr));
}

/* Malformed heads take the default route (resnet50), never the canary. */
/*
 * A head that is not HTTP/1.x is answered 400 (as Envoy does), whatever
 * header it carries: a guess could pick the wrong subset. A head that is
 * not complete yet is acked, and waited for.
 */
static void malformed_is_answered_400(void)
{
	static const char *const bad[] = {
		"POST / HTTP/1.1\nuser-group: canary\n\n", /* bare LF */
		"POST / HTTP/2.0\r\nuser-group: canary\r\n\r\n",
		"POST /\r\nuser-group: canary\r\n\r\n", /* HTTP/0.9 */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", /* h2 preface */
		"\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03user-group: canary", /* TLS */
		"POST / HTTP/1.1\r\nuser-group: can\x01ry\r\n\r\n",
		"POST / HTTP/1.1\r\n user-group: canary\r\n\r\n", /* fold */
	};
	static const char *const incomplete[] = {
		"POST / HTTP/1.1\r\nuser-group: canary", /* no end */
		"POST / HTTP/1.1\r\nuser-group: canary\r\n", /* no blank line */
		"POST / HTTP/1.1\r\n", /* request line only */
		"POST / HTTP/1.1\r\nuser-group: canary\r\n\r", /* one byte short */
	};
	uint64_t before;
	struct pkt_buf o;
	struct pkt_seg syn, s;
	uint16_t port = 43000;

	apply_vs(FOCUSED);
	before = global(KANARY_G_L7_ANSWER_400);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++, port++) {
		cr_assert_eq(open_with(port, bad[i], strlen(bad[i]), &syn, &o),
			     sent_back(), "case %zu", i);
		decode(&o, &s);
		cr_assert(s.len > 24 &&
				  !memcmp(s.payload,
					  "HTTP/1.1 400 Bad Request\r\n", 26),
			  "case %zu: not a 400", i);
		cr_assert_eq(s.t.flags, 0x19, "case %zu: not PSH|ACK|FIN", i);
		cr_assert_eq(s.ack, CLIENT_ISN + 1 + strlen(bad[i]));
	}
	cr_assert_eq(global(KANARY_G_L7_ANSWER_400) - before,
		     sizeof(bad) / sizeof(bad[0]));
	before = global(KANARY_G_L7_HEAD_ACKED);
	for (size_t i = 0; i < sizeof(incomplete) / sizeof(incomplete[0]);
	     i++, port++) {
		const char *r = incomplete[i];

		cr_assert_eq(open_with(port, r, strlen(r), &syn, &o),
			     sent_back(), "incomplete case %zu", i);
		decode(&o, &s);
		cr_assert_eq(s.t.flags, 0x10, "incomplete case %zu: not an ACK",
			     i);
		cr_assert_eq(s.len, 0);
		cr_assert_eq(s.seq, syn.seq + 1);
		cr_assert_eq(s.ack, CLIENT_ISN + 1 + strlen(r));
	}
	cr_assert_eq(global(KANARY_G_L7_HEAD_ACKED) - before,
		     sizeof(incomplete) / sizeof(incomplete[0]));
	cr_assert_eq(flow_count(), 0, "nothing bound");
}

/* Run one frame through the tc program, whatever the test's mode. */
struct conn {
	uint16_t cport, snat_port;
	uint32_t gw_isn, gw_ts, ep;
	size_t len;
	const char *req;
};

/* SYN, first segment, the endpoint's SYN-ACK: a spliced connection. */
static void splice(struct conn *c, uint16_t cport)
{
	uint8_t ep_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				0, 0, 0,    0,	  0, 0, 1, 3,  3, 9 };
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, o;
	struct pkt_seg syn, s;
	uint32_t v;
	int verdict;

	c->cport = cport;
	c->req = request("user-group: canary");
	c->len = strlen(c->req);
	cr_assert_eq(open_with(cport, c->req, c->len, &syn, &o), redirected());
	decode(&o, &s);
	c->gw_isn = syn.seq;
	c->gw_ts = syn.tsval;
	c->ep = s.t.daddr;
	c->snat_port = s.t.sport;
	inet_ntop(AF_INET, &s.t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(s.t.daddr) >> 8) & 0xff);

	v = htonl(EP_TS);
	memcpy(ep_opts + 8, &v, 4);
	v = htonl(CLIENT_TS + 5);
	memcpy(ep_opts + 12, &v, 4);
	struct pkt_spec sa = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = c->snat_port,
			       .flags = 0x12,
			       .seq = EP_ISN,
			       .ack = CLIENT_ISN + 1,
			       .opts = ep_opts,
			       .optlen = 20,
			       .window = 65160 };

	pkt_build(&sa, &in);
	if (!use_tc) {
		/* XDP cannot grow the frame: tc behind it replays. */
		cr_assert_eq(run_on(ifname, &in, &o), passed());
	}
	verdict = run_tc_on(ifname, &in, &o);
	cr_assert_eq(verdict, TC_ACT_REDIRECT_, "verdict %d", verdict);
	decode(&o, &s);
	cr_assert_eq(s.t.saddr, pkt_addr(snat));
	cr_assert_eq(s.t.daddr, c->ep);
	cr_assert_eq(s.t.sport, c->snat_port);
	cr_assert_eq(s.t.dport, 8501);
	cr_assert_eq(s.t.flags, 0x18, "flags %#x", s.t.flags);
	cr_assert_eq(s.seq, CLIENT_ISN + 1);
	cr_assert_eq(s.ack, EP_ISN + 1);
	cr_assert_eq(s.window, 502, "the client's window, unscaled");
	cr_assert(s.has_ts && s.tsval == CLIENT_TS + 5 && s.tsecr == EP_TS);
	cr_assert_eq(s.len, c->len, "replayed %zu bytes of %zu", s.len, c->len);
	cr_assert_eq(memcmp(s.payload, c->req, c->len), 0,
		     "replayed payload differs");
}

static void synack_replays_held_segment(void)
{
	struct conn c;

	apply_vs(FOCUSED);
	splice(&c, 44000);
	cr_assert_eq(global(KANARY_G_L7_REPLAY), 1);
}

static void translated_both_ways(void)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	uint8_t opts[24], sack[12] = { 1, 1, 5, 10 };
	struct pkt_buf in, o;
	struct pkt_seg s;
	struct conn c;
	uint32_t v;

	apply_vs(FOCUSED);
	splice(&c, 44001);
	inet_ntop(AF_INET, &c.ep, ep, sizeof(ep));
	snprintf(snat, sizeof(snat), "198.18.%u.1", (ntohl(c.ep) >> 8) & 0xff);
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(c.ep) >> 8) & 0xff);

	/* Endpoint -> client: its ACK of the replay, with 100 bytes. */
	pkt_ts_opt(opts, EP_TS + 7, CLIENT_TS + 5);
	struct pkt_spec r = { .saddr = ep,
			      .daddr = snat,
			      .sport = 8501,
			      .dport = c.snat_port,
			      .flags = 0x18,
			      .seq = EP_ISN + 1,
			      .ack = CLIENT_ISN + 1 + c.len,
			      .payload = 100,
			      .opts = opts,
			      .optlen = 12,
			      .window = 100 };
	pkt_build(&r, &in);
	cr_assert_eq(run_on(ifname, &in, &o), redirected());
	decode(&o, &s);
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.t.sport, 80);
	cr_assert_eq(s.t.dport, c.cport);
	cr_assert_eq(s.seq, c.gw_isn + 1, "seq %u, want %u", s.seq,
		     c.gw_isn + 1);
	cr_assert_eq(s.ack, CLIENT_ISN + 1 + c.len);
	cr_assert_eq(s.tsval, c.gw_ts + 7, "TSval in the gateway's clock");
	cr_assert_eq(s.tsecr, CLIENT_TS + 5);
	/* 100 << 9 (endpoint's scale) >> 7 (the gateway's) */
	cr_assert_eq(s.window, 400, "window %u", s.window);
	cr_assert_eq(s.len, 100);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 0,
		     "the hold outlived the endpoint's ack");

	/* Client -> endpoint: ACK with a SACK block in the gateway's space. */
	v = htonl(c.gw_isn + 1 + 50);
	memcpy(sack + 4, &v, 4);
	v = htonl(c.gw_isn + 1 + 80);
	memcpy(sack + 8, &v, 4);
	cr_assert_eq(client_seg(c.cport, 0x10, CLIENT_ISN + 1 + c.len,
				c.gw_isn + 1 + 100, NULL, 0, c.gw_ts + 7, sack,
				sizeof(sack), &o),
		     redirected());
	decode(&o, &s);
	cr_assert_eq(s.t.daddr, c.ep);
	cr_assert_eq(s.t.sport, c.snat_port);
	cr_assert_eq(s.seq, CLIENT_ISN + 1 + c.len);
	cr_assert_eq(s.ack, EP_ISN + 1 + 100, "ack %u", s.ack);
	cr_assert_eq(s.tsecr, EP_TS + 7, "TSecr in the endpoint's clock");
	cr_assert_eq(s.tsval, CLIENT_TS + 5);
	cr_assert_eq(s.n_sack, 2);
	cr_assert_eq(s.sack[0], EP_ISN + 1 + 50);
	cr_assert_eq(s.sack[1], EP_ISN + 1 + 80);
	cr_assert_eq(s.window, 502, "client windows pass unchanged");
}

static void retransmitted_first_segment(void)
{
	struct pkt_buf o, o2;
	struct pkt_seg syn, s, s2;
	const char *r = request("user-group: canary");

	apply_vs(FOCUSED);
	cr_assert_eq(open_with(45000, r, strlen(r), &syn, &o), redirected());
	decode(&o, &s);
	/* The client resends it (the SYN toward the endpoint was lost). */
	if (use_tc) {
		cr_assert_eq(client_seg(45000, 0x18, CLIENT_ISN + 1,
					syn.seq + 1, r, strlen(r), syn.tsval,
					NULL, 0, &o2),
			     redirected());
		decode(&o2, &s2);
		cr_assert_eq(s2.t.flags, 0x02);
		cr_assert_eq(s2.seq, CLIENT_ISN);
		cr_assert_eq(s2.t.daddr, s.t.daddr, "decided twice");
		cr_assert_eq(s2.t.sport, s.t.sport);
	} else {
		cr_assert_eq(client_seg(45000, 0x18, CLIENT_ISN + 1,
					syn.seq + 1, r, strlen(r), syn.tsval,
					NULL, 0, &o2),
			     passed(), "XDP leaves the resend to tc");
	}
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 1);
}

static void rst_in_each_state(void)
{
	struct pkt_buf o;
	struct pkt_seg syn;
	struct conn c;
	const char *r = request(NULL);
	int v;

	apply_vs(FOCUSED);
	/* Half-open: the gateway forgets it. */
	cr_assert_eq(client_syn(46000, syn_opts, sizeof(syn_opts), &syn),
		     sent_back());
	v = client_seg(46000, 0x04, CLIENT_ISN + 1, 0, NULL, 0, 0, NULL, 0, &o);
	cr_assert_eq(v, use_tc ? 2 : 1, "RST must be dropped");
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 0);

	/* SYN sent to the endpoint, segment held: all of it goes. */
	cr_assert_eq(open_with(46001, r, strlen(r), &syn, &o), redirected());
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 2);
	use_tc = true; /* XDP hands this state to tc */
	v = client_seg(46001, 0x04, CLIENT_ISN + 1 + strlen(r), 0, NULL, 0, 0,
		       NULL, 0, &o);
	cr_assert_eq(v, 2, "verdict %d", v);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 0);

	/* Spliced: the RST is translated and sent on, and the flows go. */
	splice(&c, 46002);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 2);
	cr_assert_eq(client_seg(46002, 0x14, CLIENT_ISN + 1 + c.len,
				c.gw_isn + 1, NULL, 0, c.gw_ts, NULL, 0, &o),
		     redirected());
	struct pkt_seg s;

	decode(&o, &s);
	cr_assert_eq(s.t.flags & 0x04, 0x04);
	cr_assert_eq(s.t.daddr, c.ep);
	cr_assert_eq(s.ack, EP_ISN + 1);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
}

static void rules_are_counted(void)
{
	struct kanary_rule_stats v[256];
	struct kanary_rule_name name;
	struct pkt_buf o;
	struct pkt_seg syn;
	const char *r;
	uint64_t n[2] = { 0, 0 };
	int cpus = libbpf_num_possible_cpus();

	apply_vs(FOCUSED);
	r = request("user-group: canary");
	open_with(47000, r, strlen(r), &syn, &o);
	open_with(47001, r, strlen(r), &syn, &o);
	r = request(NULL);
	open_with(47002, r, strlen(r), &syn, &o);
	for (uint32_t row = 0; row < KANARY_MAX_RULES; row++) {
		if (bpf_map_lookup_elem(maps.fd[KN_MAP_RULE_NAMES], &row,
					&name) ||
		    !name.virtualservice[0])
			continue;
		cr_assert_eq(bpf_map_lookup_elem(maps.fd[KN_MAP_RULE_STATS],
						 &row, v),
			     0);
		for (int i = 0; i < cpus; i++)
			n[!strcmp(name.rule, "http[1]")] += v[i].connections;
	}
	cr_assert_eq(n[0], 2, "http[0] matched %lu", (unsigned long)n[0]);
	cr_assert_eq(n[1], 1, "http[1] matched %lu", (unsigned long)n[1]);
}

/* Packets sent so far on interface ifname, from /proc/net/dev (which,
 * unlike /sys here, is this network namespace's). */
static unsigned long tx_packets(const char *ifname)
{
	char line[512], name[32];
	unsigned long v[10];
	bool found = false;
	FILE *f = fopen("/proc/net/dev", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line,
			   " %31[^:]: %lu %lu %lu %lu %lu %lu %lu %lu %lu %lu",
			   name, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6], &v[7], &v[8], &v[9]) == 11 &&
		    !strcmp(name, ifname)) {
			found = true;
			break;
		}
	}
	fclose(f);
	cr_assert(found, "no %s in /proc/net/dev", ifname);
	return v[9];
}

/* The endpoint answers kanary's SYN with a bare ACK of an older
 * connection (TIME_WAIT on the port): kanary resets that one (a clone
 * sent on the endpoint's link) and sends the SYN again at once. */
static void old_ack_for_syn_is_reset(void)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, o;
	struct pkt_seg syn, s, again;
	const char *r = request(NULL);
	unsigned long tx;

	apply_vs(FOCUSED);
	cr_assert_eq(open_with(48000, r, strlen(r), &syn, &o), redirected());
	decode(&o, &s);
	inet_ntop(AF_INET, &s.t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(s.t.daddr) >> 8) & 0xff);
	struct pkt_spec ack = { .saddr = ep,
				.daddr = snat,
				.sport = 8501,
				.dport = s.t.sport,
				.flags = 0x10,
				.seq = 123456,
				.ack = 654321 };

	pkt_build(&ack, &in);
	tx = tx_packets(ifname);
	cr_assert_eq(run_tc_on(ifname, &in, &o), TC_ACT_REDIRECT_);
	cr_assert_eq(tx_packets(ifname), tx + 1, "the RST did not leave on %s",
		     ifname);
	decode(&o, &again);
	cr_assert_eq(again.t.flags, 0x02, "not the SYN again: %#x",
		     again.t.flags);
	cr_assert_eq(again.seq, CLIENT_ISN);
	cr_assert_eq(again.t.daddr, s.t.daddr);
	cr_assert_eq(again.t.sport, s.t.sport, "another SNAT port");
	cr_assert(again.has_ts && again.tsval == CLIENT_TS + 5);
	cr_assert_eq(global(KANARY_G_L7_SYN_REFUSED), 1);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 1,
		     "the held segment must wait for the endpoint's SYN-ACK");
}

/* Send a closing segment of a spliced connection either way. */
/* A segment from the endpoint of c, by its link; the verdict. */
static int ep_run(const struct conn *c, uint8_t flags, uint32_t seq,
		  uint32_t ack)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, o;

	inet_ntop(AF_INET, &c->ep, ep, sizeof(ep));
	snprintf(snat, sizeof(snat), "198.18.%u.1", (ntohl(c->ep) >> 8) & 0xff);
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(c->ep) >> 8) & 0xff);
	struct pkt_spec sp = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = c->snat_port,
			       .flags = flags,
			       .seq = seq,
			       .ack = ack };

	pkt_build(&sp, &in);
	return run_on(ifname, &in, &o);
}

static void close_seg(const struct conn *c, bool from_client, uint8_t flags,
		      uint32_t seq, uint32_t ack)
{
	struct pkt_buf o;

	if (from_client) {
		cr_assert_eq(client_seg(c->cport, flags, seq, ack, NULL, 0,
					c->gw_ts, NULL, 0, &o),
			     redirected());
		return;
	}
	cr_assert_eq(ep_run(c, flags, seq, ack), redirected());
}

/* The client closes, the endpoint acks its FIN with its own: nothing of
 * the connection stays once the last ACK has passed. Both closing at
 * once: the endpoint holds a TIME_WAIT, so the entries stay (stamped). */
static void client_close_leaves_nothing(void)
{
	struct conn c;
	uint32_t cseq, eseq = EP_ISN + 1;

	apply_vs(FOCUSED);
	splice(&c, 48100);
	cseq = CLIENT_ISN + 1 + c.len;
	close_seg(&c, false, 0x10, eseq, cseq); /* acks the replay */
	close_seg(&c, true, 0x11, cseq, c.gw_isn + 1); /* FIN */
	close_seg(&c, false, 0x11, eseq, cseq + 1); /* FIN, acks it */
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 2);
	close_seg(&c, true, 0x10, cseq + 1, c.gw_isn + 2); /* last ACK */
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0,
		     "a passive close left state behind");

	splice(&c, 48101);
	cseq = CLIENT_ISN + 1 + c.len;
	close_seg(&c, false, 0x10, eseq, cseq);
	close_seg(&c, true, 0x11, cseq, c.gw_isn + 1);
	/* The endpoint's FIN was sent before it had the client's. */
	close_seg(&c, false, 0x11, eseq, cseq);
	close_seg(&c, true, 0x10, cseq + 1, c.gw_isn + 2);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 2,
		     "simultaneous close: the endpoint's TIME_WAIT needs them");
}

/*
 * The endpoint holds a spliced connection in TIME_WAIT, so its to-client
 * entry stays when the client reuses its port; the client's next
 * connection reads its head. An RST from the endpoint's address on the
 * old port is dropped (rst_acceptable: the kept entry's twin is gone),
 * and that head is left alone. Before, the RST ended the kept entry, and
 * forget_conn dropped the head at the client's key: the client was
 * reset.
 */
static void kept_entry_rst_spares_next_head(void)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	uint32_t cseq, eseq = EP_ISN + 1, isn = CLIENT_ISN + 100000;
	struct pkt_seg syn;
	struct pkt_buf o;
	struct conn c;
	int v;

	apply_vs(FOCUSED);
	splice(&c, 48300);
	cseq = CLIENT_ISN + 1 + c.len;
	close_seg(&c, false, 0x10, eseq, cseq);
	close_seg(&c, true, 0x11, cseq, c.gw_isn + 1);
	close_seg(&c, false, 0x11, eseq, cseq); /* the endpoint's TIME_WAIT */
	close_seg(&c, true, 0x10, cseq + 1, c.gw_isn + 2);
	close_seg(&c, false, 0x10, eseq + 1, cseq + 1); /* acks the FIN */

	cr_assert_eq(vip_syn(48300, isn, syn_opts, sizeof(syn_opts), &o),
		     sent_back());
	decode(&o, &syn);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 1,
		     "the to-client entry is not kept for the TIME_WAIT");
	cr_assert_eq(client_seg(48300, 0x18, isn + 1, syn.seq + 1, part,
				strlen(part), syn.tsval, NULL, 0, &o),
		     sent_back(), "part of the next head is not acked");
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 1);

	cr_assert_eq(ep_run(&c, 0x04, eseq + 1, 0), dropped(),
		     "an RST on the kept port went on to the client");
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 1,
		     "the kept entry is gone: its port is free");
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 1,
		     "the next connection's head went with the old one");
	/* XDP hands a segment shorter than the SYN it becomes to tc. */
	v = client_seg(48300, 0x18, isn + 1 + strlen(part), syn.seq + 1, "\r\n",
		       2, syn.tsval, NULL, 0, &o);
	cr_assert(v == redirected() || (!use_tc && v == passed()),
		  "the next connection is not bound (verdict %d)", v);
}

/* A head of the given request line and headers, for open_plain(). */
static const char *head(const char *line, const char *hdrs)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "%s\r\nHost: 198.18.0.1\r\n%s%s\r\n", line,
		 hdrs ? hdrs : "", hdrs ? "\r\n" : "");
	return buf;
}

/* Every match field Istio has and the L7 path takes, in one config. */
static void match_kinds(void)
{
	static const char vs[] = VS_HEAD
		"  - name: debug\n"
		"    match:\n"
		"    - headers: {x-debug: {}}\n"
		"      withoutHeaders: {x-skip: {}}\n"
		"    route: [{destination: {host: image-classifier,"
		" subset: resnet101, port: {number: 8501}}}]\n"
		"  - name: v2\n"
		"    match:\n"
		"    - uri: {prefix: /v2/}\n"
		"      method: {exact: GET}\n"
		"    - headers: {user-agent: {prefix: canary-bot/}}\n"
		"    route: [{destination: {host: image-classifier,"
		" subset: resnet101, port: {number: 8501}}}]\n"
		"  - name: health\n"
		"    match:\n"
		"    - uri: {exact: /health}\n"
		"    route: [{destination: {host: image-classifier,"
		" subset: resnet101, port: {number: 8501}}}]\n"
		"  - route: [{destination: {host: image-classifier,"
		" subset: resnet50, port: {number: 8501}}}]\n";
	static const struct {
		const char *line, *hdrs;
		int want;
	} cases[] = {
		{ "GET / HTTP/1.1", "X-Debug: 1", 101 }, /* present */
		{ "GET / HTTP/1.1", "x-debug:", 101 }, /* present, empty */
		{ "GET / HTTP/1.1", "X-Debug: 1\r\nX-Skip: y", 50 },
		{ "GET / HTTP/1.1", "x-skip: y\r\nx-debug: 1", 50 },
		{ "GET /v2/models HTTP/1.1", NULL, 101 }, /* uri AND method */
		{ "POST /v2/models HTTP/1.1", NULL, 50 },
		{ "GET /v2 HTTP/1.1", NULL, 50 }, /* prefix is /v2/ */
		{ "get /v2/models HTTP/1.1", NULL, 50 }, /* method is exact */
		{ "POST / HTTP/1.1", "User-Agent: canary-bot/1.0", 101 },
		{ "POST / HTTP/1.1", "User-Agent: xcanary-bot/1.0", 50 },
		{ "GET /health HTTP/1.1", NULL, 101 }, /* uri exact */
		{ "GET /healthz HTTP/1.1", NULL, 50 },
		/* Envoy: an exact path ignores the query string. */
		{ "GET /health?x=1 HTTP/1.1", NULL, 101 },
		{ "GET /healthz?x=1 HTTP/1.1", NULL, 50 },
		/* A repeated header: Envoy joins the values, no exact match. */
		{ "POST / HTTP/1.1", "X-Debug: 1\r\nx-skip: a\r\nX-Skip: b",
		  50 },
	};
	apply_rules(vs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = routed(49000 + i, head(cases[i].line, cases[i].hdrs));

		cr_assert_eq(got, cases[i].want, "'%s' + '%s' went to %d",
			     cases[i].line, cases[i].hdrs ? cases[i].hdrs : "",
			     got);
	}
}

/* A matched route with weights of its own splits by them. */
static void matched_route_weights(void)
{
	static const char vs[] = VS_HEAD
		"  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n"
		"    - destination: {host: image-classifier, subset: resnet50,"
		" port: {number: 8501}}\n"
		"      weight: 25\n"
		"    - destination: {host: image-classifier, subset: resnet101,"
		" port: {number: 8501}}\n"
		"      weight: 75\n"
		"  - route: [{destination: {host: image-classifier,"
		" subset: resnet50, port: {number: 8501}}}]\n";
	const char *r = request("user-group: canary");
	int n101 = 0, n = 400;

	apply_rules(vs);
	for (int i = 0; i < n; i++)
		n101 += routed(50000 + i, r) == 101;
	/* 75 % of 400: 300; binomial sd ~8.7, so 4 sd either way. */
	cr_assert(n101 >= 265 && n101 <= 335, "%d of %d to resnet101", n101, n);
}

/* A client without timestamps: none offered, none sent, none replayed. */
static void no_timestamps_anywhere(void)
{
	static const uint8_t opts[12] = { 2, 4, 0x05, 0xb4, 1, 1,
					  4, 2, 1,    3,    3, 7 };
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	const char *r = request("user-group: canary");
	struct pkt_buf in, o;
	struct pkt_seg syn, s;
	uint16_t snat_port;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(51000, opts, sizeof(opts), &syn), sent_back());
	cr_assert(!syn.has_ts, "TS offered to a client that has none");
	cr_assert_eq(syn.sack_ok, 1);
	cr_assert_eq(syn.ws, KANARY_L7_WSCALE);
	struct pkt_spec fs = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = 51000,
			       .dport = 80,
			       .flags = 0x18,
			       .seq = CLIENT_ISN + 1,
			       .ack = syn.seq + 1,
			       .data = r,
			       .payload = strlen(r),
			       .window = 502 };
	pkt_build(&fs, &in);
	cr_assert_eq(run(&in, &o), redirected());
	decode(&o, &s);
	cr_assert(is_canary(s.t.daddr));
	cr_assert(!s.has_ts, "the endpoint's SYN has a TS");
	cr_assert_eq(s.mss, 1460);
	cr_assert_eq(s.ws, 7);
	inet_ntop(AF_INET, &s.t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(s.t.daddr) >> 8) & 0xff);
	snat_port = s.t.sport;

	static const uint8_t ep_opts[12] = { 2, 4, 0x05, 0xb4, 1, 1,
					     4, 2, 1,	 3,    3, 7 };
	struct pkt_spec sa = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = snat_port,
			       .flags = 0x12,
			       .seq = EP_ISN,
			       .ack = CLIENT_ISN + 1,
			       .opts = ep_opts,
			       .optlen = sizeof(ep_opts) };
	pkt_build(&sa, &in);
	cr_assert_eq(run_tc_on(ifname, &in, &o), TC_ACT_REDIRECT_);
	decode(&o, &s);
	cr_assert_eq(s.doff, 5, "the replay carries options");
	cr_assert_eq(s.len, strlen(r));
	cr_assert_eq(memcmp(s.payload, r, s.len), 0);

	/* The endpoint's answer: seq translated, window scale equal (7). */
	struct pkt_spec an = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = snat_port,
			       .flags = 0x18,
			       .seq = EP_ISN + 1,
			       .ack = CLIENT_ISN + 1 + strlen(r),
			       .payload = 10,
			       .window = 300 };
	pkt_build(&an, &in);
	cr_assert_eq(run_on(ifname, &in, &o), redirected());
	decode(&o, &s);
	cr_assert_eq(s.seq, syn.seq + 1);
	cr_assert_eq(s.window, 300, "equal scales: the window as it was");
	cr_assert(!s.has_ts);
}

/* The config drops the rules between SYN and first segment: the
 * handshake is forgotten and the segment passed to the kernel (which
 * resets the client); nothing is bound to a route that is gone. */
static void rules_gone_before_first_segment(void)
{
	struct pkt_buf o;
	struct pkt_seg syn;
	const char *r = request("user-group: canary");

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(52000, syn_opts, sizeof(syn_opts), &syn),
		     sent_back());
	apply_vs("virtualservice-weight-100.yaml");
	cr_assert_eq(client_seg(52000, 0x18, CLIENT_ISN + 1, syn.seq + 1, r,
				strlen(r), syn.tsval, NULL, 0, &o),
		     passed());
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
}

/* The lab's rule and a repeated user-group header: Envoy matches the
 * values joined ("canary,beta"), which is not "canary". */
static void repeated_header_is_not_exact(void)
{
	apply_vs(FOCUSED);
	cr_assert_eq(routed(53000, request("user-group: canary\r\n"
					   "user-group: beta")),
		     50);
	cr_assert_eq(routed(53001, request("user-group: canary")), 101);
}

/* A client without timestamps whose first segment is a few bytes: the
 * replay is shorter than a TS option and still goes out whole. */
static void short_first_segment_without_timestamps(void)
{
	static const uint8_t opts[8] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, o;
	struct pkt_seg syn, s;
	int v;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(53100, opts, sizeof(opts), &syn), sent_back());
	struct pkt_spec fs = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = 53100,
			       .dport = 80,
			       .flags = 0x18,
			       .seq = CLIENT_ISN + 1,
			       .ack = syn.seq + 1,
			       .data = "GET / HTTP/1.0\r\n\r\n",
			       .payload = 18,
			       .window = 502 };
	pkt_build(&fs, &in);
	v = run(&in, &o);
	if (!use_tc) {
		/* 72 bytes: too short to become the SYN in XDP. */
		cr_assert_eq(v, passed());
		v = run_tc_on("c0", &in, &o);
		cr_assert_eq(v, TC_ACT_REDIRECT_);
	} else {
		cr_assert_eq(v, redirected());
	}
	decode(&o, &s);
	cr_assert(is_stable(s.t.daddr), "no header: the default route");
	inet_ntop(AF_INET, &s.t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(s.t.daddr) >> 8) & 0xff);
	struct pkt_spec sa = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = s.t.sport,
			       .flags = 0x12,
			       .seq = EP_ISN,
			       .ack = CLIENT_ISN + 1,
			       .opts = opts,
			       .optlen = sizeof(opts) };
	pkt_build(&sa, &in);
	cr_assert_eq(run_tc_on(ifname, &in, &o), TC_ACT_REDIRECT_);
	decode(&o, &s);
	cr_assert_eq(s.len, 18);
	cr_assert_eq(memcmp(s.payload, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	cr_assert_eq(s.seq, CLIENT_ISN + 1);
}

/* A SYN resent with the same ISN and fewer options (as some stacks do):
 * the endpoint hears what the last SYN-ACK agreed to. */
static void resent_syn_with_fewer_options(void)
{
	struct pkt_buf o;
	struct pkt_seg syn, again, s;
	const char *r = request(NULL);

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(53200, syn_opts, sizeof(syn_opts), &syn),
		     sent_back());
	cr_assert_eq(client_syn(53200, NULL, 0, &again), sent_back());
	cr_assert_eq(again.seq, syn.seq, "a resent SYN must keep the ISN");
	cr_assert_eq(again.ws, -1);
	struct pkt_spec fs = { .saddr = CLIENT,
			       .daddr = VIP,
			       .sport = 53200,
			       .dport = 80,
			       .flags = 0x18,
			       .seq = CLIENT_ISN + 1,
			       .ack = again.seq + 1,
			       .data = r,
			       .payload = strlen(r) };
	struct pkt_buf in;

	pkt_build(&fs, &in);
	cr_assert_eq(run(&in, &o), redirected());
	decode(&o, &s);
	cr_assert_eq(s.ws, -1, "window scale the client did not offer last");
	cr_assert(!s.has_ts);
	cr_assert_eq(s.sack_ok, -1);
}

/* A blind RST (wrong sequence number) does not end a handshake. */
static void blind_rst_is_ignored(void)
{
	struct pkt_buf o;
	struct pkt_seg syn;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(53300, syn_opts, sizeof(syn_opts), &syn),
		     sent_back());
	client_seg(53300, 0x04, CLIENT_ISN + 99999, 0, NULL, 0, 0, NULL, 0, &o);
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 1,
		     "a blind RST ended the handshake");
}

/* An endpoint without window scaling: the client's scaled windows are
 * unscaled toward it, its windows scaled toward the client. */
static void endpoint_without_window_scale(void)
{
	static const uint8_t ep_opts[12] = { 2, 4, 0x05, 0xb4, 1, 1,
					     4, 2, 1,	 1,    1, 1 };
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	const char *r = request("user-group: canary");
	struct pkt_buf in, o;
	struct pkt_seg syn, s;
	uint16_t snat_port;

	apply_vs(FOCUSED);
	cr_assert_eq(open_with(53400, r, strlen(r), &syn, &o), redirected());
	decode(&o, &s);
	inet_ntop(AF_INET, &s.t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &s.t.saddr, snat, sizeof(snat));
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(s.t.daddr) >> 8) & 0xff);
	snat_port = s.t.sport;
	struct pkt_spec sa = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = snat_port,
			       .flags = 0x12,
			       .seq = EP_ISN,
			       .ack = CLIENT_ISN + 1,
			       .opts = ep_opts,
			       .optlen = sizeof(ep_opts) };
	pkt_build(&sa, &in);
	cr_assert_eq(run_tc_on(ifname, &in, &o), TC_ACT_REDIRECT_);
	decode(&o, &s);
	cr_assert_eq(s.window, 502 << 7, "replay window %u", s.window);
	/* Endpoint -> client: 8000 bytes unscaled, >> 7 for the client. */
	struct pkt_spec an = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = snat_port,
			       .flags = 0x10,
			       .seq = EP_ISN + 1,
			       .ack = CLIENT_ISN + 1 + strlen(r),
			       .window = 8000 };
	pkt_build(&an, &in);
	cr_assert_eq(run_on(ifname, &in, &o), redirected());
	decode(&o, &s);
	cr_assert_eq(s.window, 8000 >> 7, "window %u", s.window);
	/* Client -> endpoint: 100 << 7 bytes, unscaled. */
	cr_assert_eq(client_seg(53400, 0x10, CLIENT_ISN + 1 + strlen(r),
				syn.seq + 1, NULL, 0, syn.tsval, NULL, 0, &o),
		     redirected());
	decode(&o, &s);
	cr_assert_eq(s.window, 502 << 7, "window %u", s.window);
}

/* The client's neighbour unknown on the first packet toward it: XDP
 * hands the frame to tc untouched (not translated: tc translates it),
 * and tc sends it translated through the neighbour table. */
static void unknown_client_neighbour(void)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct pkt_buf in, o;
	struct pkt_seg s;
	struct conn c;
	int v;

	apply_vs(FOCUSED);
	splice(&c, 53500);
	sh("ip neigh flush dev c0 nud all");
	inet_ntop(AF_INET, &c.ep, ep, sizeof(ep));
	snprintf(snat, sizeof(snat), "198.18.%u.1", (ntohl(c.ep) >> 8) & 0xff);
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(c.ep) >> 8) & 0xff);
	struct pkt_spec an = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = c.snat_port,
			       .flags = 0x18,
			       .seq = EP_ISN + 1,
			       .ack = CLIENT_ISN + 1 + c.len,
			       .payload = 10 };
	pkt_build(&an, &in);
	v = run_on(ifname, &in, &o);
	if (!use_tc) {
		cr_assert_eq(v, passed());
		cr_assert_eq(o.len, in.len);
		cr_assert_eq(memcmp(o.data, in.data, in.len), 0,
			     "XDP must pass the frame unchanged to tc");
		v = run_tc_on(ifname, &in, &o);
	}
	cr_assert_eq(v, TC_ACT_REDIRECT_);
	decode(&o, &s);
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.seq, c.gw_isn + 1, "translated once, not twice");
}

/*
 * A spliced connection whose endpoint health checking ejected: the
 * endpoint's packets still reach the client (it may be alive after all),
 * the client's next segment gets an RST in the gateway's sequence space
 * (its own ack), and the connection is forgotten.
 */
static void ejected_spliced_flow_is_reset(void)
{
	uint32_t cseq, eseq = EP_ISN + 1;
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(48200),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct kanary_flow f;
	struct pkt_buf o;
	struct pkt_seg s;
	struct conn c;

	apply_vs(FOCUSED);
	splice(&c, 48200);
	cseq = CLIENT_ISN + 1 + c.len;
	close_seg(&c, false, 0x10, eseq, cseq); /* acks the replay */
	f = flow_at(&fk);
	cr_assert_eq(f.l7, KANARY_L7_SPLICED);
	cr_assert_eq(kn_flows_mark_ejected(
			     &maps, &(struct kn_cendpoint){ c.ep, htons(8501) },
			     1),
		     1);
	close_seg(&c, false, 0x10, eseq, cseq); /* still forwarded */

	cr_assert_eq(client_seg(c.cport, 0x18, cseq, c.gw_isn + 1, "next", 4,
				c.gw_ts, NULL, 0, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert_eq(s.t.flags, 0x14, "not RST+ACK: %#x", s.t.flags);
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.t.sport, 80);
	cr_assert_eq(s.t.dport, c.cport);
	cr_assert_eq(s.seq, c.gw_isn + 1, "seq %u: not the client's ack",
		     s.seq);
	cr_assert_eq(s.ack, cseq + 4);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(o.len, 54);
	cr_assert_eq(global(KANARY_G_EJECTED_RESET), 1);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 0);
}

/*
 * The route's pool has no endpoint (all ejected) when the first segment
 * comes: the gateway answered the SYN itself, so it resets the client, as
 * when no rule matches, instead of dropping the segment.
 */
static void empty_pool_first_segment_is_reset(void)
{
	const char *r = request("user-group: canary");
	struct pkt_seg syn, s;
	struct pkt_buf o;

	apply_vs(FOCUSED);
	cr_assert_eq(client_syn(48300, syn_opts, sizeof(syn_opts), &syn),
		     sent_back());
	empty_pools();
	cr_assert_eq(client_seg(48300, 0x18, CLIENT_ISN + 1, syn.seq + 1, r,
				strlen(r), syn.tsval, NULL, 0, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert_eq(s.t.flags, 0x14, "not RST+ACK: %#x", s.t.flags);
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.t.dport, 48300);
	cr_assert_eq(s.seq, syn.seq + 1);
	cr_assert_eq(s.ack, CLIENT_ISN + 1 + strlen(r));
	cr_assert_eq(s.len, 0);
	cr_assert_eq(o.len, 54);
	cr_assert_eq(global(KANARY_G_NO_ENDPOINT), 1);
	cr_assert_eq(map_count(maps.fd[KN_MAP_SYNQ]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
	cr_assert_eq(map_count(maps.fd[KN_MAP_HEAD]), 0);
}

/* The endpoint's segment of spliced connection c, at seq, with data. */
static void ep_data(const struct conn *c, uint32_t seq, uint32_t ack,
		    const char *data)
{
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	uint8_t opts[12];
	struct pkt_buf in, o;
	struct pkt_seg s;

	inet_ntop(AF_INET, &c->ep, ep, sizeof(ep));
	snprintf(snat, sizeof(snat), "198.18.%u.1", (ntohl(c->ep) >> 8) & 0xff);
	snprintf(ifname, sizeof(ifname), "e%u", (ntohl(c->ep) >> 8) & 0xff);
	pkt_ts_opt(opts, EP_TS + 7, CLIENT_TS + 5);
	struct pkt_spec r = { .saddr = ep,
			      .daddr = snat,
			      .sport = 8501,
			      .dport = c->snat_port,
			      .flags = 0x18,
			      .seq = seq,
			      .ack = ack,
			      .data = data,
			      .payload = strlen(data),
			      .opts = opts,
			      .optlen = 12,
			      .window = 100 };
	pkt_build(&r, &in);
	cr_assert_eq(run_on(ifname, &in, &o), redirected());
	decode(&o, &s);
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.len, strlen(data));
	cr_assert_eq(memcmp(s.payload, data, s.len), 0);
}

/* The to-client entry of spliced connection c. */
static struct kanary_flow conn_to_client(const struct conn *c)
{
	struct kanary_flow_key k = { .saddr = c->ep,
				     .sport = htons(8501),
				     .dport = htons(c->snat_port),
				     .proto = IPPROTO_TCP };

	k.daddr = htonl(ntohl(c->ep) - 1); /* the SNAT address */
	return flow_at(&k);
}

/*
 * HTTP outcomes on the L7 path: the held first request is counted when it
 * binds the connection (once, although the endpoint gets it by the
 * replay), its response once spliced, and a keep-alive connection's next
 * request and response on the established path.
 */
static void http_outcomes_l7(void)
{
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	static const char err[] = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
	static const char again[] =
		"GET /v1/models/x HTTP/1.1\r\nHost: y\r\n\r\n";
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(44900),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct kanary_http_stats h;
	struct pkt_buf o;
	struct pkt_seg s;
	struct conn c;
	uint32_t row;

	apply_vs(FOCUSED);
	splice(&c, 44900);
	row = flow_at(&fk).stats;
	http_stats(row, &h);
	cr_assert_eq(h.requests, 1, "the held request: %lu",
		     (unsigned long)h.requests);
	cr_assert_eq(h.responses, 0);
	cr_assert_neq(conn_to_client(&c).req_ns, 0);

	ep_data(&c, EP_ISN + 1, CLIENT_ISN + 1 + c.len, ok);
	http_stats(row, &h);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(row, 200), 1);
	cr_assert_eq(conn_to_client(&c).req_ns, 0);

	/* Keep-alive: the next request and its response. */
	cr_assert_eq(client_seg(c.cport, 0x18, CLIENT_ISN + 1 + c.len,
				c.gw_isn + 1 + strlen(ok), again, strlen(again),
				c.gw_ts + 7, NULL, 0, &o),
		     redirected());
	decode(&o, &s);
	cr_assert_eq(s.t.daddr, c.ep);
	http_stats(row, &h);
	cr_assert_eq(h.requests, 2);
	ep_data(&c, EP_ISN + 1 + strlen(ok),
		CLIENT_ISN + 1 + c.len + strlen(again), err);
	http_stats(row, &h);
	cr_assert_eq(h.requests, 2);
	cr_assert_eq(h.responses, 2);
	cr_assert_eq(code_count(row, 200), 1);
	cr_assert_eq(code_count(row, 503), 1);
}

/* A head with a method outcome.h does not know (an extension method)
 * binds the connection, but is not counted as a request. */
static void held_non_request_not_counted(void)
{
	static const char tls[] = "BREW /pot HTTP/1.1\r\n\r\n";
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(44901),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct kanary_http_stats h;
	struct pkt_seg syn;
	struct pkt_buf o;

	apply_vs(FOCUSED);
	cr_assert_eq(open_with(44901, tls, sizeof(tls) - 1, &syn, &o),
		     redirected());
	http_stats(flow_at(&fk).stats, &h);
	cr_assert_eq(h.requests, 0);
	/* A request head in the same place is. */
	fk.sport = htons(44902);
	cr_assert_eq(open_with(44902, request(NULL), strlen(request(NULL)),
			       &syn, &o),
		     redirected());
	http_stats(flow_at(&fk).stats, &h);
	cr_assert_eq(h.requests, 1);
}

/*
 * RFC 5961 on a spliced connection, as on L4 (issue 12, finding 2): a
 * blind RST from either side is dropped and counted, the connection
 * kept. The endpoint's RST at what the client acked last (its RCV.NXT,
 * in the endpoint's numbers: the client acks the gateway's) ends it.
 * Before, any RST ended a spliced connection.
 */
static void spliced_blind_rst_is_dropped(void)
{
	uint32_t cseq, eseq = EP_ISN + 1;
	uint64_t blind;
	struct pkt_buf o;
	struct conn c;

	apply_vs(FOCUSED);
	splice(&c, 48400);
	cseq = CLIENT_ISN + 1 + c.len;
	close_seg(&c, false, 0x10, eseq, cseq); /* acks the replay */
	close_seg(&c, true, 0x10, cseq, c.gw_isn + 1);
	ep_data(&c, eseq, cseq, "0123456789"); /* not acked yet */
	blind = global(KANARY_G_RST_BLIND);
	cr_assert_eq(client_seg(48400, 0x04, cseq + 5000, 0, NULL, 0, 0, NULL,
				0, &o),
		     dropped(), "a blind RST from the client passed");
	cr_assert_eq(ep_run(&c, 0x04, eseq + 5, 0), dropped(),
		     "a blind RST from the endpoint passed");
	cr_assert_eq(global(KANARY_G_RST_BLIND) - blind, 2);
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 2,
		     "a blind RST ended the connection");
	cr_assert_eq(ep_run(&c, 0x04, eseq, 0), redirected(),
		     "the endpoint's RST at the client's last ack is dropped");
	cr_assert_eq(map_count(maps.fd[KN_MAP_FLOWS]), 0);
}

BOTH(synack_offers_one_segment)
BOTH(synack_without_options)
BOTH(header_picks_subset)
BOTH(header_after_twenty_others)
BOTH(malformed_is_answered_400)
BOTH(synack_replays_held_segment)
BOTH(translated_both_ways)
BOTH(retransmitted_first_segment)
BOTH(rst_in_each_state)
BOTH(rules_are_counted)
BOTH(old_ack_for_syn_is_reset)
BOTH(client_close_leaves_nothing)
BOTH(kept_entry_rst_spares_next_head)
BOTH(spliced_blind_rst_is_dropped)
BOTH(match_kinds)
BOTH(matched_route_weights)
BOTH(no_timestamps_anywhere)
BOTH(rules_gone_before_first_segment)
BOTH(repeated_header_is_not_exact)
BOTH(short_first_segment_without_timestamps)
BOTH(resent_syn_with_fewer_options)
BOTH(blind_rst_is_ignored)
BOTH(endpoint_without_window_scale)
BOTH(unknown_client_neighbour)
BOTH(ejected_spliced_flow_is_reset)
BOTH(empty_pool_first_segment_is_reset)
BOTH(http_outcomes_l7)
BOTH(held_non_request_not_counted)

/* ------------------------------------------------------------------ */
/* Virtual hosts: VirtualServices on one port, picked by the Host. */

#define HOST_VS(name, hosts, http)                   \
	"---\n"                                      \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: " name "}\n"               \
	"spec:\n"                                    \
	"  hosts: " hosts "\n"                       \
	"  gateways: [image-classifier-gateway]\n"   \
	"  http:\n" http
#define TO(subset)                                                           \
	"    route: [{destination: {host: image-classifier, subset: " subset \
	", port: {number: 8501}}}]\n"

/* A GET whose headers are hdrs alone (no Host unless given). */
static const char *get(const char *hdrs)
{
	static char buf[2048];

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n%s%sAccept: */*\r\n\r\n",
		 hdrs, *hdrs ? "\r\n" : "");
	return buf;
}

/* Exact and suffix hosts, case, ports, and hosts no VirtualService has. */
static void hosts_pick_virtualservice(void)
{
	static const char vs[] =
		HOST_VS("a", "[a.example.com]", "  - name: a\n" TO("resnet101"))
			HOST_VS("b", "['*.example.org', b.example.net]",
				"  - name: b\n" TO("resnet50"));
	static const struct {
		const char *hdrs;
		int want;
	} cases[] = {
		{ "Host: a.example.com", 101 },
		{ "host: A.Example.COM", 101 }, /* names and hosts: any case */
		{ "Host: a.example.com:8080", 101 }, /* any port */
		{ "Host:a.example.com  ", 101 }, /* blanks are not the value */
		{ "Host: x.example.org", 50 }, /* suffix */
		{ "Host: X.Y.EXAMPLE.ORG:80", 50 },
		{ "Host: b.example.net", 50 }, /* a VirtualService's 2nd host */
		{ "Host: example.org", 0 }, /* "*." needs a label before */
		{ "Host: .example.org", 0 },
		{ "Host: evil.example", 0 }, /* no VirtualService: no route */
		{ "Host: a.example.com.evil", 0 },
		{ "Host: aa.example.com", 0 },
		{ "Host: a.example.com:", 0 }, /* a port has digits */
		{ "Host: a.example.com:80x", 0 },
		{ "User-Agent: no-host", 0 }, /* no Host at all */
		{ "Host: a.example.com\r\nHost: a.example.com", 0 }, /* twice */
		/* 65 bytes, longer than KANARY_L7_VALUE_LEN: never matches */
		{ "Host: x12345678901234567890123456789012345678901234567890"
		  "12.example.org",
		  0 },
		{ "Host: x12345678901234567890123456789012345678901234567890"
		  "1.example.org",
		  50 }, /* 64 bytes */
	};
	uint64_t none = global(KANARY_G_L7_ANSWER_404), n_none = 0;

	apply_rules(vs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = routed(51000 + i, get(cases[i].hdrs));

		n_none += !cases[i].want;
		cr_assert_eq(got, cases[i].want, "'%s' went to %d",
			     cases[i].hdrs, got);
	}
	cr_assert_eq(global(KANARY_G_L7_ANSWER_404) - none, n_none);
}

/*
 * Envoy picks the virtual host first, then a route in it: a request for
 * a.example.com that none of a's routes matches gets no route, even
 * though the VirtualService for "*" (or for *.example.com) would take it.
 */
static void host_without_matching_route_gets_none(void)
{
	static const char vs[] = HOST_VS("any", "['*']",
					 "  - name: any\n" TO("resnet50"))
		HOST_VS("a", "[a.example.com]",
			"  - match:\n"
			"    - headers: {user-group: {exact: canary}}\n" TO(
				"resnet101"))
			HOST_VS("w", "['*.example.com']",
				"  - match:\n"
				"    - uri: {prefix: /w}\n" TO("resnet101"));
	static const struct {
		const char *hdrs;
		int want;
	} cases[] = {
		{ "Host: a.example.com\r\nuser-group: canary", 101 },
		{ "Host: a.example.com", 0 }, /* a's, no route: not any's */
		{ "Host: b.example.com", 0 }, /* w's, no route */
		{ "Host: other.example", 50 }, /* only "*" has it */
		{ "User-Agent: no-host", 50 },
	};

	apply_rules(vs);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = routed(52000 + i, get(cases[i].hdrs));

		cr_assert_eq(got, cases[i].want, "'%s' went to %d",
			     cases[i].hdrs, got);
	}
}

BOTH(hosts_pick_virtualservice)
BOTH(host_without_matching_route_gets_none)
