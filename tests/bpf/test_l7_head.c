// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Request heads over many segments (bpf/l7_head.h): the gateway acks
 * each segment of a head that is not complete, decides on the one that
 * completes it, and replays every held byte to the endpoint in chunks,
 * the clones caught on the endpoint's veth. In XDP and in tc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "flows.h"
#include "harness.h"

#define FOCUSED "virtualservice-focused-routing.yaml"
#define CLIENT_ISN 7000000u
#define CLIENT_TS 555000u
#define EP_ISN 9000000u
#define EP_TS 880000u
#define SEG 1448 /* what a Linux client sends, with timestamps */

/* MSS 1460, SACK_PERM, TS (CLIENT_TS, 0), NOP, WS 7: Linux's SYN. */
static const uint8_t syn_opts[20] = {
	2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x08,
	0x78, 0x38, 0,	  0,	0, 0, 1, 3,  3,	   7,
};

static char req[24576];

static int count_keys(int fd, size_t ksz)
{
	uint8_t k[32], next[32];
	void *prev = NULL;
	int n = 0;

	cr_assert(ksz <= sizeof(k));
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(k, next, ksz);
		prev = k;
		n++;
	}
	return n;
}

static int heads(void)
{
	return count_keys(maps.fd[KN_MAP_HEAD], sizeof(struct kanary_flow_key));
}

static int chunks(void)
{
	return count_keys(maps.fd[KN_MAP_HOLD], sizeof(struct kanary_hold_key));
}

/* The client's SYN from sport: the gateway's SYN-ACK in *synack. */
static void client_syn(uint16_t sport, struct pkt_seg *synack)
{
	struct pkt_buf o;

	cr_assert_eq(vip_syn(sport, CLIENT_ISN, syn_opts, sizeof(syn_opts), &o),
		     sent_back());
	decode(&o, synack);
}

/* Bytes [off, off + len) of the client's stream (after its SYN), as one
 * segment with flags (0x18, or 0x19 with a FIN); the verdict. */
static int client_bytes(uint16_t sport, uint8_t flags, const char *stream,
			size_t off, size_t len, uint32_t gw_isn,
			struct pkt_buf *in, struct pkt_buf *o)
{
	uint8_t opts[12];
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = flags,
			      .seq = CLIENT_ISN + 1 + off,
			      .ack = gw_isn + 1,
			      .data = stream + off,
			      .payload = len,
			      .opts = opts,
			      .optlen = 12,
			      .window = 502 };

	pkt_ts_opt(opts, CLIENT_TS + 5 + off, 0);
	pkt_build(&s, in);
	return run(in, o);
}

/* The gateway's ack of a head not complete: held bytes, room left. */
static void expect_head_ack(const struct pkt_buf *o, const struct pkt_seg *syn,
			    size_t held, size_t off)
{
	struct pkt_seg s;

	decode(o, &s);
	cr_assert_eq(s.t.flags, 0x10, "not a bare ACK: %#x", s.t.flags);
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.len, 0);
	cr_assert_eq(s.seq, syn->seq + 1);
	cr_assert_eq(s.ack, CLIENT_ISN + 1 + held, "ack %u, want %zu held",
		     s.ack - CLIENT_ISN - 1, held);
	cr_assert_eq(s.window, (KANARY_L7_HEAD_DEFAULT - held + 127) >> 7,
		     "window %u for %zu held", s.window, held);
	cr_assert(s.has_ts && s.tsval == syn->tsval &&
		  s.tsecr == CLIENT_TS + 5 + off);
}

/*
 * Send the stream's first len bytes in segments of seg bytes: every one
 * but the last must be acked. The verdict on the last, whose output is
 * in *o.
 */
static int send_head(uint16_t sport, const char *stream, size_t len, size_t seg,
		     const struct pkt_seg *syn, struct pkt_buf *o)
{
	struct pkt_buf in;
	size_t off;
	int v;

	for (off = 0; off + seg < len; off += seg) {
		v = client_bytes(sport, 0x18, stream, off, seg, syn->seq, &in,
				 o);
		cr_assert_eq(v, sent_back(), "segment at %zu: verdict %d", off,
			     v);
		expect_head_ack(o, syn, off + seg, off);
	}
	v = client_bytes(sport, 0x18, stream, off, len - off, syn->seq, &in, o);
	/* XDP: a segment shorter than the SYN it becomes is tc's (whose
	 * redirect counts as XDP's here). */
	if (!use_tc && v == passed())
		return run_tc_on("c0", &in, o) == TC_ACT_REDIRECT_ ?
			       redirected() :
			       -1;
	return v;
}

/* A request whose deciding header follows a cookie of cookie bytes. */
static size_t cookie_request(size_t cookie, const char *last_hdr)
{
	size_t n;

	n = snprintf(req, sizeof(req),
		     "POST /v1/models/image_classifier:predict HTTP/1.1\r\n"
		     "Host: 198.18.0.1\r\nCookie: session=");
	memset(req + n, 'c', cookie);
	n += cookie;
	n += snprintf(req + n, sizeof(req) - n,
		      "\r\n%s\r\nContent-Length: 2\r\n\r\n{}", last_hdr);
	return n;
}

static bool is_canary(uint32_t daddr)
{
	return daddr == pkt_addr(EP3);
}

/* A packet socket on the endpoint's side of e3: the replay's clones. */
static int catch_on(const char *ifname)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP),
				  .sll_ifindex = if_nametoindex(ifname) };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK, htons(ETH_P_IP));

	cr_assert(fd >= 0 && sa.sll_ifindex);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* The next caught TCP segment from the gateway, or false. */
static bool caught(int fd, struct pkt_seg *s, struct pkt_buf *b)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 200) != 1)
		return false;
	n = recv(fd, b->data, sizeof(b->data), 0);
	if (n <= 0)
		return false;
	b->len = n;
	decode(b, s);
	return true;
}

/* The endpoint's SYN-ACK to the SYN in syn_out (on e3): the verdict. */
static int endpoint_synack(const struct pkt_seg *syn_out, struct pkt_buf *o)
{
	uint8_t ep_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
				0, 0, 0,    0,	  0, 0, 1, 3,  3, 9 };
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN];
	struct pkt_buf in;
	uint32_t v;

	inet_ntop(AF_INET, &syn_out->t.daddr, ep, sizeof(ep));
	inet_ntop(AF_INET, &syn_out->t.saddr, snat, sizeof(snat));
	v = htonl(EP_TS);
	memcpy(ep_opts + 8, &v, 4);
	v = htonl(syn_out->tsval);
	memcpy(ep_opts + 12, &v, 4);
	struct pkt_spec sa = { .saddr = ep,
			       .daddr = snat,
			       .sport = 8501,
			       .dport = syn_out->t.sport,
			       .flags = 0x12,
			       .seq = EP_ISN,
			       .ack = CLIENT_ISN + 1,
			       .opts = ep_opts,
			       .optlen = 20,
			       .window = 65160 };

	pkt_build(&sa, &in);
	if (!use_tc)
		cr_assert_eq(run_on("e3", &in, o), passed(),
			     "XDP passes the endpoint's handshake to tc");
	return run_tc_on("e3", &in, o);
}

/* Every replayed segment: chunk k of the stream, in order, to the
 * endpoint, the last one (PSH) the program's own output. */
static void expect_replay(int fd, const struct pkt_buf *last,
			  const struct pkt_seg *syn_out, size_t len)
{
	size_t n = (len + KANARY_L7_CHUNK - 1) / KANARY_L7_CHUNK, k;
	struct pkt_seg s;
	struct pkt_buf b;

	for (k = 0; k < n; k++) {
		size_t off = k * KANARY_L7_CHUNK;
		size_t want = len - off < KANARY_L7_CHUNK ? len - off :
							    KANARY_L7_CHUNK;

		if (k + 1 < n)
			cr_assert(caught(fd, &s, &b), "chunk %zu not sent", k);
		else
			decode(last, &s);
		cr_assert_eq(s.t.daddr, syn_out->t.daddr);
		cr_assert_eq(s.t.saddr, syn_out->t.saddr);
		cr_assert_eq(s.t.sport, syn_out->t.sport);
		cr_assert_eq(s.seq, CLIENT_ISN + 1 + off, "chunk %zu: seq", k);
		cr_assert_eq(s.ack, EP_ISN + 1);
		cr_assert_eq(s.t.flags, k + 1 < n ? 0x10 : 0x18,
			     "chunk %zu: flags %#x", k, s.t.flags);
		cr_assert_eq(s.len, want, "chunk %zu: %zu bytes", k, s.len);
		cr_assert_eq(memcmp(s.payload, req + off, want), 0,
			     "chunk %zu differs", k);
		cr_assert(s.has_ts && s.tsecr == EP_TS);
	}
	cr_assert_not(caught(fd, &s, &b), "more than %zu segments", n);
}

/*
 * A 6 KB cookie before the deciding header: five segments acked, the
 * sixth decides (canary), and the endpoint gets all of it, in order.
 */
static void cookie_before_deciding_header(void)
{
	size_t len = cookie_request(6000, "user-group: canary");
	struct pkt_seg syn, s;
	struct pkt_buf o, last;
	int fd;

	apply_vs(FOCUSED);
	client_syn(41000, &syn);
	cr_assert_eq(send_head(41000, req, len, SEG, &syn, &o), redirected());
	decode(&o, &s);
	cr_assert(is_canary(s.t.daddr), "the late header was not read");
	cr_assert_eq(s.t.flags, 0x02);
	cr_assert_eq(s.seq, CLIENT_ISN);
	cr_assert_eq(heads(), 1);
	cr_assert_eq(chunks(),
		     (int)((len + KANARY_L7_CHUNK - 1) / KANARY_L7_CHUNK));
	cr_assert_eq(global_counter(KANARY_G_L7_HEAD_ACKED), len / SEG);

	fd = catch_on("e3p");
	cr_assert_eq(endpoint_synack(&s, &last), TC_ACT_REDIRECT_);
	expect_replay(fd, &last, &s, len);
	close(fd);
	cr_assert_eq(global_counter(KANARY_G_L7_REPLAY), 1);
}

/* Without the header, the same head takes the default route. */
static void cookie_without_header_is_stable(void)
{
	size_t len = cookie_request(6000, "user-group: beta");
	struct pkt_seg syn, s;
	struct pkt_buf o;

	apply_vs(FOCUSED);
	client_syn(41001, &syn);
	cr_assert_eq(send_head(41001, req, len, SEG, &syn, &o), redirected());
	decode(&o, &s);
	cr_assert_not(is_canary(s.t.daddr));
}

/* One byte per segment: every byte acked, then decided on the last
 * byte of the head (the body, 2 bytes, comes after the decision). */
static void one_byte_per_segment(void)
{
	size_t len = cookie_request(10, "user-group: canary") - 2;
	struct pkt_seg syn, s;
	struct pkt_buf o, last;
	int fd, v;

	apply_vs(FOCUSED);
	client_syn(41002, &syn);
	v = send_head(41002, req, len, 1, &syn, &o);
	cr_assert_eq(v, redirected(), "verdict %d", v);
	decode(&o, &s);
	cr_assert(is_canary(s.t.daddr));
	fd = catch_on("e3p");
	cr_assert_eq(endpoint_synack(&s, &last), TC_ACT_REDIRECT_);
	expect_replay(fd, &last, &s, len);
	close(fd);
}

/* Over head_max (16 KiB) before its end: 431, and nothing held. */
static void head_over_the_limit_gets_431(void)
{
	size_t len = cookie_request(18000, "user-group: canary"), off;
	struct pkt_buf in, o;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41003, &syn);
	for (off = 0; off + SEG <= KANARY_L7_HEAD_DEFAULT; off += SEG) {
		cr_assert_eq(client_bytes(41003, 0x18, req, off, SEG, syn.seq,
					  &in, &o),
			     sent_back());
		expect_head_ack(&o, &syn, off + SEG, off);
	}
	cr_assert_eq(client_bytes(41003, 0x18, req, off, SEG, syn.seq, &in, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert(
		s.len > 40 &&
			!memcmp(s.payload,
				"HTTP/1.1 431 Request Header Fields Too Large\r\n",
				46),
		"not a 431");
	cr_assert_eq(s.t.flags, 0x19);
	cr_assert_eq(s.ack, CLIENT_ISN + 1 + off + SEG);
	cr_assert(len > off + SEG);
	cr_assert_eq(heads(), 0);
	cr_assert_eq(chunks(), 0);
	cr_assert_eq(flow_count(), 0);
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_431), 1);
}

/*
 * Out of order: a segment past the next byte is dropped; one before it,
 * or the last one again, is acked again; nothing is held twice.
 */
static void out_of_order_and_again(void)
{
	size_t len = cookie_request(3000, "user-group: canary");
	struct pkt_buf in, o;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41004, &syn);
	cr_assert_eq(client_bytes(41004, 0x18, req, SEG, SEG, syn.seq, &in, &o),
		     dropped(), "a segment past the next byte");
	cr_assert_eq(heads(), 0);
	cr_assert_eq(client_bytes(41004, 0x18, req, 0, SEG, syn.seq, &in, &o),
		     sent_back());
	expect_head_ack(&o, &syn, SEG, 0);
	/* Its ACK lost: the same segment again, acked again. */
	cr_assert_eq(client_bytes(41004, 0x18, req, 0, SEG, syn.seq, &in, &o),
		     sent_back());
	expect_head_ack(&o, &syn, SEG, 0);
	/* Part of it again, re-cut by the client. */
	cr_assert_eq(client_bytes(41004, 0x18, req, 100, 200, syn.seq, &in, &o),
		     sent_back());
	expect_head_ack(&o, &syn, SEG, 100);
	cr_assert_eq(client_bytes(41004, 0x18, req, SEG, SEG, syn.seq, &in, &o),
		     sent_back());
	expect_head_ack(&o, &syn, 2 * SEG, SEG);
	cr_assert_eq(client_bytes(41004, 0x18, req, 2 * SEG, len - 2 * SEG,
				  syn.seq, &in, &o),
		     redirected());
	decode(&o, &s);
	cr_assert(is_canary(s.t.daddr));
	cr_assert_eq(chunks(), 3);
}

/*
 * Bound, the endpoint silent: the client sends its head's last segment
 * again (it has no ack of it), and the SYN goes again. After the replay,
 * the same makes the gateway replay the whole head again, out of the
 * endpoint's interface.
 */
static void head_again_sends_syn_then_replay(void)
{
	size_t len = cookie_request(2000, "user-group: canary");
	size_t last_off = (len / SEG) * SEG;
	struct pkt_buf in, o, last;
	struct pkt_seg syn, s, again;
	int fd;

	apply_vs(FOCUSED);
	client_syn(41005, &syn);
	cr_assert_eq(send_head(41005, req, len, SEG, &syn, &o), redirected());
	decode(&o, &s);
	if (!use_tc)
		return; /* the rest is tc's, as in test_l7.c */
	cr_assert_eq(client_bytes(41005, 0x18, req, last_off, len - last_off,
				  syn.seq, &in, &o),
		     TC_ACT_REDIRECT_);
	decode(&o, &again);
	cr_assert_eq(again.t.flags, 0x02, "not the SYN again");
	cr_assert_eq(again.t.sport, s.t.sport);

	cr_assert_eq(endpoint_synack(&s, &last), TC_ACT_REDIRECT_);
	fd = catch_on("e3p");
	cr_assert_eq(client_bytes(41005, 0x18, req, last_off, len - last_off,
				  syn.seq, &in, &last),
		     TC_ACT_REDIRECT_, "the head again");
	expect_replay(fd, &last, &s, len);
	close(fd);
	cr_assert_eq(global_counter(KANARY_G_L7_REPLAY), 2);
}

/* A FIN before the blank line: the head is not HTTP, 400. */
static void fin_before_the_end_gets_400(void)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	struct pkt_buf in, o;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41006, &syn);
	cr_assert_eq(client_bytes(41006, 0x18, part, 0, 10, syn.seq, &in, &o),
		     sent_back());
	cr_assert_eq(client_bytes(41006, 0x19, part, 10, sizeof(part) - 11,
				  syn.seq, &in, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert(s.len > 26 &&
		  !memcmp(s.payload, "HTTP/1.1 400 Bad Request\r\n", 26));
	cr_assert_eq(heads(), 0);
}

/* The config changes while a head is read: the client is reset. */
static void config_change_mid_head_resets(void)
{
	size_t len = cookie_request(3000, "user-group: canary");
	struct pkt_buf in, o;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41007, &syn);
	cr_assert_eq(client_bytes(41007, 0x18, req, 0, SEG, syn.seq, &in, &o),
		     sent_back());
	apply_vs(FOCUSED);
	cr_assert_eq(client_bytes(41007, 0x18, req, SEG, SEG, syn.seq, &in, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert_eq(s.t.flags & 0x04, 0x04, "not an RST: %#x", s.t.flags);
	cr_assert_eq(heads(), 0);
	cr_assert_eq(chunks(), 0);
	cr_assert_eq(global_counter(KANARY_G_L7_HOLD_LOST), 1);
	cr_assert(len > 2 * SEG);
}

/* RFC 5961 mid-head: a blind RST changes nothing, one at the next byte
 * forgets the head. */
static void rst_mid_head(void)
{
	size_t len = cookie_request(3000, "user-group: canary");
	struct pkt_buf in, o;
	struct pkt_seg syn;

	apply_vs(FOCUSED);
	client_syn(41008, &syn);
	cr_assert_eq(client_bytes(41008, 0x18, req, 0, SEG, syn.seq, &in, &o),
		     sent_back());
	cr_assert_eq(client_bytes(41008, 0x14, req, 5, 0, syn.seq, &in, &o),
		     dropped());
	cr_assert_eq(heads(), 1);
	cr_assert_eq(client_bytes(41008, 0x14, req, SEG, 0, syn.seq, &in, &o),
		     dropped());
	cr_assert_eq(heads(), 0);
	cr_assert_eq(chunks(), 0);
	cr_assert(len > SEG);
}

/* The head evicted (kn_head is an LRU) after the gateway acked part of
 * it: the client's next segment is reset, not dropped for ever. */
static void evicted_head_resets(void)
{
	size_t len = cookie_request(3000, "user-group: canary");
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(41010),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct pkt_buf in, o;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41010, &syn);
	cr_assert_eq(client_bytes(41010, 0x18, req, 0, SEG, syn.seq, &in, &o),
		     sent_back());
	cr_assert_eq(bpf_map_delete_elem(maps.fd[KN_MAP_HEAD], &fk), 0);
	cr_assert_eq(client_bytes(41010, 0x18, req, SEG, SEG, syn.seq, &in, &o),
		     sent_back());
	decode(&o, &s);
	cr_assert_eq(s.t.flags & 0x04, 0x04, "not an RST: %#x", s.t.flags);
	cr_assert_eq(global_counter(KANARY_G_L7_HOLD_LOST), 1);
	cr_assert(len > 2 * SEG);
}

/* A chunk evicted before the replay: the connection is forgotten. */
static void evicted_chunk_forgets(void)
{
	size_t len = cookie_request(2000, "user-group: canary");
	struct kanary_hold_key hk = { .chunk = 1 };
	struct pkt_buf o, last;
	struct pkt_seg syn, s;

	apply_vs(FOCUSED);
	client_syn(41009, &syn);
	cr_assert_eq(send_head(41009, req, len, SEG, &syn, &o), redirected());
	decode(&o, &s);
	hk.flow = (struct kanary_flow_key){ .saddr = pkt_addr(CLIENT),
					    .daddr = pkt_addr(VIP),
					    .sport = htons(41009),
					    .dport = htons(80),
					    .proto = IPPROTO_TCP };
	cr_assert_eq(bpf_map_delete_elem(maps.fd[KN_MAP_HOLD], &hk), 0);
	cr_assert_eq(endpoint_synack(&s, &last), TC_ACT_SHOT_);
	cr_assert_eq(flow_count(), 0);
	cr_assert_eq(global_counter(KANARY_G_L7_HOLD_LOST), 1);
}

BOTH(cookie_before_deciding_header)
BOTH(cookie_without_header_is_stable)
BOTH(one_byte_per_segment)
BOTH(head_over_the_limit_gets_431)
BOTH(out_of_order_and_again)
BOTH(head_again_sends_syn_then_replay)
BOTH(fin_before_the_end_gets_400)
BOTH(config_change_mid_head_resets)
BOTH(rst_mid_head)
BOTH(evicted_head_resets)
BOTH(evicted_chunk_forgets)
