// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The gateway's own HTTP answer on the L7 path (bpf/l7_answer.h): a
 * request no route takes is answered 404 with `connection: close` and the
 * gateway's FIN, and the connection closes cleanly, driven by the
 * client's segments. Every frame is checked field by field and by
 * checksum, in XDP and in tc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "flows.h"
#include "harness.h"

/* Istio's bookinfo-gateway.yaml routes, on the lab's Gateway and Service:
 * only uri matches, no catch-all. */
#define VS_URI                                                          \
	"apiVersion: networking.istio.io/v1alpha3\n"                    \
	"kind: VirtualService\n"                                        \
	"metadata: {name: image-classifier}\n"                          \
	"spec:\n"                                                       \
	"  hosts: ['*']\n"                                              \
	"  gateways: [image-classifier-gateway]\n"                      \
	"  http:\n"                                                     \
	"  - match:\n"                                                  \
	"    - uri: {exact: /productpage}\n"                            \
	"    - uri: {prefix: /static}\n"                                \
	"    route:\n"                                                  \
	"    - destination: {host: image-classifier, subset: resnet50," \
	" port: {number: 8501}}\n"
#define CLIENT_ISN 3000000u
#define CLIENT_TS 444000u
#define NOT_FOUND "HTTP/1.1 404 Not Found\r\n"
#define REQ                                                  \
	"GET /nothing-here HTTP/1.1\r\nHost: 198.18.0.1\r\n" \
	"User-Agent: curl/8\r\nAccept: */*\r\n\r\n"

/* MSS 1460, SACK_PERM, TS (CLIENT_TS, 0), NOP, WS 7: Linux's SYN. */
static const uint8_t syn_opts[20] = {
	2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x06,
	0xc6, 0x60, 0,	  0,	0, 0, 1, 3,  3,	   7,
};

static int synq_count(void)
{
	struct kanary_flow_key k, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(maps.fd[KN_MAP_SYNQ], prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* The client's SYN from sport, with Linux's options or none. */
static void client_syn(uint16_t sport, bool opts, struct pkt_seg *synack)
{
	struct pkt_buf o;

	cr_assert_eq(vip_syn(sport, CLIENT_ISN, opts ? syn_opts : NULL,
			     opts ? sizeof(syn_opts) : 0, &o),
		     sent_back(), "SYN not answered");
	decode(&o, synack);
}

/* A client segment; with ts, Linux's TS option (TSval CLIENT_TS + 5). */
static void client_frame(uint16_t sport, uint8_t flags, uint32_t seq,
			 uint32_t ack, const char *data, bool ts,
			 uint32_t tsecr, struct pkt_buf *in)
{
	uint8_t opts[12];
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = 80,
			      .flags = flags,
			      .seq = seq,
			      .ack = ack,
			      .data = data,
			      .payload = data ? strlen(data) : 0,
			      .opts = ts ? opts : NULL,
			      .optlen = ts ? 12 : 0,
			      .window = 502 };

	pkt_ts_opt(opts, CLIENT_TS + 5, tsecr);
	pkt_build(&s, in);
}

static int client_seg(uint16_t sport, uint8_t flags, uint32_t seq, uint32_t ack,
		      const char *data, uint32_t tsecr, struct pkt_buf *o)
{
	struct pkt_buf in;

	client_frame(sport, flags, seq, ack, data, true, tsecr, &in);
	return run(&in, o);
}

/* The answer frame o to the request req on sport: a 404 from the VIP,
 * in the gateway's sequence space, acking the whole request. */
static void expect_404(const struct pkt_buf *o, uint16_t sport,
		       const struct pkt_seg *synack, const char *req, bool ts,
		       struct pkt_seg *s)
{
	static const char tail[] = "connection: close\r\n\r\n";

	decode(o, s);
	cr_assert_eq(s->t.saddr, pkt_addr(VIP));
	cr_assert_eq(s->t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s->t.sport, 80);
	cr_assert_eq(s->t.dport, sport);
	cr_assert_eq(s->t.flags, 0x19, "flags %#x, not FIN|PSH|ACK",
		     s->t.flags);
	cr_assert_eq(s->seq, synack->seq + 1);
	cr_assert_eq(s->ack, CLIENT_ISN + 1 + strlen(req));
	cr_assert_eq(s->has_ts, ts);
	if (ts) {
		cr_assert_eq(s->tsecr, CLIENT_TS + 5, "TSecr %u", s->tsecr);
		cr_assert_geq(s->tsval, synack->tsval, "TSval went back");
	}
	cr_assert_eq(s->window, ts ? KANARY_L7_WINDOW >> KANARY_L7_WSCALE :
				     KANARY_L7_WINDOW);
	cr_assert_gt(s->len, strlen(NOT_FOUND) + strlen(tail));
	cr_assert_eq(memcmp(s->payload, NOT_FOUND, strlen(NOT_FOUND)), 0,
		     "status line: %.*s", (int)s->len, s->payload);
	cr_assert_eq(memcmp(s->payload + s->len - strlen(tail), tail,
			    strlen(tail)),
		     0, "head: %.*s", (int)s->len, s->payload);
	cr_assert(memmem(s->payload, s->len, "content-length: 0\r\n", 19));
	cr_assert_eq(o->len, 14 + 20 + 20 + (ts ? 12 : 0) + s->len,
		     "frame of %zu bytes", o->len);
}

/* SYN, and a request no route takes: the 404, in o (s reads it). */
static void answered(uint16_t sport, const char *req, struct pkt_seg *synack,
		     struct pkt_buf *o, struct pkt_seg *s)
{
	apply_rules(VS_URI);
	client_syn(sport, true, synack);
	cr_assert_eq(client_seg(sport, 0x18, CLIENT_ISN + 1, synack->seq + 1,
				req, synack->tsval, o),
		     sent_back(), "request not answered");
	expect_404(o, sport, synack, req, true, s);
}

static void no_route_answers_404(void)
{
	uint64_t before = global_counter(KANARY_G_L7_ANSWER_404);
	struct pkt_seg syn, s;
	struct pkt_buf a;

	answered(44100, REQ, &syn, &a, &s);
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_404) - before, 1);
	cr_assert_eq(flow_count(), 0, "bound to an endpoint");
	cr_assert_eq(synq_count(), 1, "the answered connection is kept");
}

/* A request shorter than the answer: the frame grows. */
static void short_request_answered(void)
{
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";
	struct pkt_seg syn, s;
	struct pkt_buf a;

	answered(44150, req, &syn, &a, &s);
	cr_assert_gt(s.len, strlen(req));
}

static void matched_path_still_binds(void)
{
	static const char req[] = "GET /static/x.css HTTP/1.1\r\n\r\n";
	struct pkt_seg syn;
	struct pkt_buf o;

	apply_rules(VS_URI);
	client_syn(44160, true, &syn);
	cr_assert_eq(client_seg(44160, 0x18, CLIENT_ISN + 1, syn.seq + 1, req,
				syn.tsval, &o),
		     redirected());
	cr_assert_eq(flow_count(), 2);
}

/* The client acks the answer and the FIN, then closes: its ACK is
 * consumed, its FIN acked, and nothing of the connection is left. */
static void client_close_after_answer(void)
{
	uint32_t end = CLIENT_ISN + 1 + strlen(REQ), fin_end;
	struct pkt_seg syn, s, a;
	struct pkt_buf in, o, first;

	answered(44200, REQ, &syn, &first, &s);
	fin_end = syn.seq + 1 + s.len + 1;
	cr_assert_eq(client_seg(44200, 0x10, end, fin_end, NULL, s.tsval, &o),
		     dropped(), "the ACK of the answer is not consumed");
	cr_assert_eq(synq_count(), 1);
	cr_assert_eq(client_seg(44200, 0x11, end, fin_end, NULL, s.tsval, &o),
		     sent_back(), "the client's FIN is not acked");
	decode(&o, &a);
	cr_assert_eq(a.t.flags, 0x10, "flags %#x", a.t.flags);
	cr_assert_eq(a.t.saddr, pkt_addr(VIP));
	cr_assert_eq(a.t.dport, 44200);
	cr_assert_eq(a.seq, fin_end, "seq after the gateway's FIN");
	cr_assert_eq(a.ack, end + 1, "ack after the client's FIN");
	cr_assert_eq(a.len, 0);
	cr_assert(a.has_ts);
	cr_assert_eq(a.tsecr, CLIENT_TS + 5);
	cr_assert_eq(o.len, 14 + 20 + 32);
	cr_assert_eq(synq_count(), 0, "the half-open entry is left");
	cr_assert_eq(flow_count(), 0);
	/* A late segment: no state, the kernel's. */
	client_frame(44200, 0x11, end, fin_end, NULL, true, s.tsval, &in);
	expect_frame_untouched(&in, "segment after the close");
}

/* A late duplicate of the client's SYN after the answer: the SYN-ACK
 * again, and the close still goes as after the answer. */
static void duplicate_syn_after_answer(void)
{
	uint32_t end = CLIENT_ISN + 1 + strlen(REQ), fin_end;
	struct pkt_seg syn, s, again, a;
	struct pkt_buf o, first;

	answered(44250, REQ, &syn, &first, &s);
	fin_end = syn.seq + 1 + s.len + 1;
	client_syn(44250, true, &again);
	cr_assert_eq(again.seq, syn.seq, "another ISN for the same SYN");
	cr_assert_eq(client_seg(44250, 0x11, end, fin_end, NULL, s.tsval, &o),
		     sent_back(), "the client's FIN is not acked");
	decode(&o, &a);
	cr_assert_eq(a.t.flags, 0x10, "flags %#x", a.t.flags);
	cr_assert_eq(a.seq, fin_end);
	cr_assert_eq(synq_count(), 0);
}

/* The answer was lost: the client resends its request (and, having
 * closed its side, a FIN without the answer's ack); each gets the same
 * answer again, counted once. */
static void resent_request_answered_again(void)
{
	uint64_t before = global_counter(KANARY_G_L7_ANSWER_404);
	uint32_t end = CLIENT_ISN + 1 + strlen(REQ);
	struct pkt_seg syn, s, again;
	struct pkt_buf o, first;

	answered(44300, REQ, &syn, &first, &s);
	cr_assert_eq(client_seg(44300, 0x18, CLIENT_ISN + 1, syn.seq + 1, REQ,
				syn.tsval, &o),
		     sent_back(), "the resent request is not answered");
	expect_404(&o, 44300, &syn, REQ, true, &again);
	cr_assert_eq(again.len, s.len);
	cr_assert_eq(memcmp(again.payload, s.payload, s.len), 0);
	cr_assert_eq(client_seg(44300, 0x11, end, syn.seq + 1, NULL, syn.tsval,
				&o),
		     sent_back(), "a FIN without the answer is not answered");
	expect_404(&o, 44300, &syn, REQ, true, &again);
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_404) - before, 1,
		     "one connection, one answer counted");
	cr_assert_eq(synq_count(), 1);
}

/* RFC 5961: a blind RST changes nothing, one at the client's sequence
 * number ends the connection. So does nothing that acks what the gateway
 * never sent. */
static void rst_after_answer(void)
{
	uint32_t end = CLIENT_ISN + 1 + strlen(REQ);
	struct pkt_seg syn, s;
	struct pkt_buf o, first;

	answered(44400, REQ, &syn, &first, &s);
	cr_assert_eq(client_seg(44400, 0x10, end, syn.seq + 1 + s.len + 99,
				NULL, s.tsval, &o),
		     dropped());
	cr_assert_eq(client_seg(44400, 0x11, end, syn.seq + 1 + s.len + 99,
				NULL, s.tsval, &o),
		     dropped(), "a FIN acking unsent bytes is taken");
	cr_assert_eq(client_seg(44400, 0x04, end + 5000, 0, NULL, 0, &o),
		     dropped());
	cr_assert_eq(synq_count(), 1, "a blind RST ended it");
	cr_assert_eq(client_seg(44400, 0x04, end, 0, NULL, 0, &o), dropped());
	cr_assert_eq(synq_count(), 0, "an acceptable RST did not end it");
}

/* Without timestamps in the handshake the answer has no options, and its
 * window is not scaled. */
static void answer_without_timestamps(void)
{
	struct pkt_seg syn, s;
	struct pkt_buf in, o;

	apply_rules(VS_URI);
	client_syn(44500, false, &syn);
	cr_assert_not(syn.has_ts);
	client_frame(44500, 0x18, CLIENT_ISN + 1, syn.seq + 1, REQ, false, 0,
		     &in);
	cr_assert_eq(run(&in, &o), sent_back());
	expect_404(&o, 44500, &syn, REQ, false, &s);
}

/* XDP: the client's interface takes no XDP frames. The request passes
 * untouched to tc, and nothing is changed; tc answers it. */
static void xdp_without_tx_passes_to_tc(void)
{
	int ifindex = if_nametoindex("c0");
	struct pkt_seg syn, s;
	struct pkt_buf in, o;

	apply_rules(VS_URI);
	client_syn(44600, true, &syn);
	cr_assert_eq(bpf_map_delete_elem(bpf_map__fd(skel->maps.kn_tx_ports),
					 &ifindex),
		     0);
	client_frame(44600, 0x18, CLIENT_ISN + 1, syn.seq + 1, REQ, true,
		     syn.tsval, &in);
	expect_frame_untouched(&in, "request on an interface without XDP TX");
	cr_assert_eq(global_counter(KANARY_G_XDP_NO_TX), 1);
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_404), 0);
	use_tc = true;
	cr_assert_eq(run(&in, &o), TC_ACT_REDIRECT_);
	expect_404(&o, 44600, &syn, REQ, true, &s);
	use_tc = false;
}

/*
 * The client closes before the first byte of its request (wrk stopping,
 * a TCP health check): its FIN is acked at once by the gateway's own FIN,
 * no HTTP answer. Dropped, the FIN went again, an RTO later, to the
 * gateway's stack, whose TIME_WAIT of an older connection on the tuple
 * (a proxy that served the VIP) answered with an ACK of that one: the
 * client stayed in FIN-WAIT-1 (the HTTP benchmark's stuck connections).
 * Its ACK of the gateway's FIN, its last segment, ends the connection.
 */
static void fin_before_request_closed(void)
{
	uint64_t n404 = global_counter(KANARY_G_L7_ANSWER_404);
	uint32_t fin_seq = CLIENT_ISN + 1;
	struct pkt_seg syn, s;
	struct pkt_buf in, o;

	apply_rules(VS_URI);
	client_syn(44700, true, &syn);
	cr_assert_eq(client_seg(44700, 0x10, fin_seq, syn.seq + 1, NULL,
				syn.tsval, &o),
		     dropped(), "the handshake's ACK");
	cr_assert_eq(client_seg(44700, 0x11, fin_seq, syn.seq + 1, NULL,
				syn.tsval, &o),
		     sent_back(), "the client's FIN is not answered");
	decode(&o, &s);
	cr_assert_eq(s.t.saddr, pkt_addr(VIP));
	cr_assert_eq(s.t.daddr, pkt_addr(CLIENT));
	cr_assert_eq(s.t.sport, 80);
	cr_assert_eq(s.t.dport, 44700);
	cr_assert_eq(s.t.flags, 0x11, "flags %#x, not FIN|ACK", s.t.flags);
	cr_assert_eq(s.seq, syn.seq + 1, "seq after the gateway's SYN");
	cr_assert_eq(s.ack, fin_seq + 1, "ack after the client's FIN");
	cr_assert_eq(s.len, 0);
	cr_assert(s.has_ts);
	cr_assert_eq(s.tsecr, CLIENT_TS + 5);
	cr_assert_geq(s.tsval, syn.tsval, "TSval went back");
	cr_assert_eq(s.window, KANARY_L7_WINDOW >> KANARY_L7_WSCALE);
	cr_assert_eq(o.len, 14 + 20 + 32);
	cr_assert_eq(synq_count(), 1, "the close is not kept");
	cr_assert_eq(flow_count(), 0, "bound to an endpoint");
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_404), n404,
		     "a close counted as a 404");

	/* The gateway's FIN was lost: the client's FIN again, the same
	 * answer again. */
	cr_assert_eq(client_seg(44700, 0x11, fin_seq, syn.seq + 1, NULL,
				syn.tsval, &o),
		     sent_back(), "the client's FIN again is not answered");
	decode(&o, &s);
	cr_assert_eq(s.t.flags, 0x11);
	cr_assert_eq(s.seq, syn.seq + 1);
	cr_assert_eq(s.ack, fin_seq + 1);

	/* Its ACK of the gateway's FIN: consumed, and nothing is left. */
	cr_assert_eq(client_seg(44700, 0x10, fin_seq + 1, syn.seq + 2, NULL,
				s.tsval, &o),
		     dropped(), "the client's last ACK");
	cr_assert_eq(synq_count(), 0, "the half-open entry is left");
	cr_assert_eq(flow_count(), 0);
	client_frame(44700, 0x10, fin_seq + 1, syn.seq + 2, NULL, true, s.tsval,
		     &in);
	expect_frame_untouched(&in, "segment after the close");
}

/* The same close without timestamps, ended by the client's RST after its
 * FIN (RFC 5961: at its sequence number; a blind one changes nothing). */
static void fin_before_request_then_rst(void)
{
	uint32_t fin_seq = CLIENT_ISN + 1;
	struct pkt_seg syn, s;
	struct pkt_buf in, o;

	apply_rules(VS_URI);
	client_syn(44750, false, &syn);
	client_frame(44750, 0x11, fin_seq, syn.seq + 1, NULL, false, 0, &in);
	cr_assert_eq(run(&in, &o), sent_back(), "the FIN is not answered");
	decode(&o, &s);
	cr_assert_eq(s.t.flags, 0x11, "flags %#x", s.t.flags);
	cr_assert_eq(s.ack, fin_seq + 1);
	cr_assert_not(s.has_ts);
	cr_assert_eq(s.window, KANARY_L7_WINDOW);
	cr_assert_eq(o.len, 14 + 20 + 20);
	client_frame(44750, 0x04, fin_seq + 5000, 0, NULL, false, 0, &in);
	cr_assert_eq(run(&in, &o), dropped());
	cr_assert_eq(synq_count(), 1, "a blind RST ended it");
	client_frame(44750, 0x04, fin_seq + 1, 0, NULL, false, 0, &in);
	cr_assert_eq(run(&in, &o), dropped());
	cr_assert_eq(synq_count(), 0, "an acceptable RST did not end it");
}

/*
 * o, the gateway's answer to a head that the client's FIN (at end) cut
 * short: a 400 that acks the FIN with the head, so that the client, in
 * FIN-WAIT-1, is not left to send its FIN again an RTO later; the
 * client's ACK of the answer, its last segment, leaves nothing behind.
 */
static void fin_answered_400(uint16_t port, uint32_t end,
			     const struct pkt_seg *syn, const struct pkt_buf *o)
{
	struct pkt_seg a;
	struct pkt_buf in, last;
	uint32_t fin_end;

	decode(o, &a);
	cr_assert_eq(a.t.flags, 0x19, "flags %#x", a.t.flags);
	cr_assert(a.len > 26 &&
		  !memcmp(a.payload, "HTTP/1.1 400 Bad Request\r\n", 26));
	cr_assert_eq(a.ack, end + 1, "ack %u, not after the client's FIN (%u)",
		     a.ack, end + 1);
	cr_assert_eq(flow_count(), 0);
	cr_assert_eq(synq_count(), 1);
	fin_end = syn->seq + 1 + a.len + 1;
	cr_assert_eq(client_seg(port, 0x10, end + 1, fin_end, NULL, a.tsval,
				&last),
		     dropped(), "the client's last ACK");
	cr_assert_eq(synq_count(), 0, "the half-open entry is left");
	client_frame(port, 0x10, end + 1, fin_end, NULL, true, a.tsval, &in);
	expect_frame_untouched(&in, "segment after the close");
}

/* A FIN alone after part of a head: the head ends there, as with a FIN
 * on its last segment: 400, not silence. */
static void fin_after_part_of_head_gets_400(void)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	uint64_t n400 = global_counter(KANARY_G_L7_ANSWER_400);
	uint32_t end = CLIENT_ISN + 1 + strlen(part);
	struct pkt_seg syn, s;
	struct pkt_buf o;

	apply_rules(VS_URI);
	client_syn(44800, true, &syn);
	cr_assert_eq(client_seg(44800, 0x18, CLIENT_ISN + 1, syn.seq + 1, part,
				syn.tsval, &o),
		     sent_back(), "part of a head is not acked");
	decode(&o, &s);
	cr_assert_eq(s.ack, end);
	cr_assert_eq(client_seg(44800, 0x11, end, syn.seq + 1, NULL, syn.tsval,
				&o),
		     sent_back(), "the FIN is not answered");
	cr_assert_eq(global_counter(KANARY_G_L7_ANSWER_400) - n400, 1);
	fin_answered_400(44800, end, &syn, &o);
}

/* The same head cut short by a FIN on its one segment. */
static void fin_with_part_of_head_gets_400(void)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	struct pkt_seg syn;
	struct pkt_buf o;

	apply_rules(VS_URI);
	client_syn(44850, true, &syn);
	cr_assert_eq(client_seg(44850, 0x19, CLIENT_ISN + 1, syn.seq + 1, part,
				syn.tsval, &o),
		     sent_back(), "the head and FIN are not answered");
	fin_answered_400(44850, CLIENT_ISN + 1 + strlen(part), &syn, &o);
}

/* A late duplicate of the SYN after a 400 that acked the client's FIN:
 * the close still ends on the client's ACK of the answer. */
static void duplicate_syn_after_fin_answered(void)
{
	static const char part[] = "GET / HTTP/1.1\r\nHost: a\r\n";
	struct pkt_seg syn, again;
	struct pkt_buf o;

	apply_rules(VS_URI);
	client_syn(44870, true, &syn);
	cr_assert_eq(client_seg(44870, 0x19, CLIENT_ISN + 1, syn.seq + 1, part,
				syn.tsval, &o),
		     sent_back(), "the head and FIN are not answered");
	client_syn(44870, true, &again);
	cr_assert_eq(again.seq, syn.seq, "another ISN for the same SYN");
	fin_answered_400(44870, CLIENT_ISN + 1 + strlen(part), &syn, &o);
}

BOTH(no_route_answers_404)
BOTH(short_request_answered)
BOTH(matched_path_still_binds)
BOTH(client_close_after_answer)
BOTH(duplicate_syn_after_answer)
BOTH(resent_request_answered_again)
BOTH(rst_after_answer)
BOTH(answer_without_timestamps)
BOTH(fin_before_request_closed)
BOTH(fin_before_request_then_rst)
BOTH(fin_after_part_of_head_gets_400)
BOTH(fin_with_part_of_head_gets_400)
BOTH(duplicate_syn_after_fin_answered)
Test(xdp, xdp_without_tx_passes_to_tc, .init = setup_xdp, .fini = teardown)
{
	xdp_without_tx_passes_to_tc();
}
