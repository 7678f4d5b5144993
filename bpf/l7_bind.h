/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path up to the splice: delayed binding.
 *
 *  client              gateway (this program)              endpoint
 *  SYN         ->      kn_synq entry, SYN-ACK back
 *              <-      (own ISN, window = two MSS)
 *  ACK         ->      dropped (nothing to bind yet)
 *  first seg   ->      parse, pick route and endpoint,
 *                      keep payload in kn_hold, send       -> SYN
 *                                                            (client ISN)
 *                      SYN-ACK turns into the replay  <-    SYN-ACK
 *                      (tc: it needs room)                 -> first seg
 *  from then on: NAT plus seq/ack, timestamp, window and SACK translation
 *
 * Here, the client's side of it: answering the SYN (l7_syn), and the
 * first segment's decision (l7_first), which binds the connection
 * (bind.h) and sends the SYN to the endpoint. Until the endpoint has
 * the first segment: l7_pending.h; the replay and the translation:
 * l7_splice.h.
 */
#ifndef KANARY_BPF_L7_BIND_H
#define KANARY_BPF_L7_BIND_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "nat.h"
#include "bind.h"
#include "forward.h"
#include "tcpopt.h"
#include "craft.h"
#include "reset.h"
#include "http.h"
#include "tls.h"
#include "outcome.h"
#include "l7_answer.h"
#include "l7_head.h"

/*
 * The steps below return L7_NEXT (l7_head.h) when the packet goes on to
 * the next step, or else the verdict that ends its way through the L7
 * path.
 */

static __always_inline void count_rule(__u32 row)
{
	struct kanary_rule_stats *r = bpf_map_lookup_elem(&kn_rule_stats, &row);

	if (r)
		r->connections++;
}

/* Out to the endpoint: through the neighbour table (tc) while its MAC is
 * unknown (egress), else by the flow's own next hop. */
static __always_inline enum verdict
to_endpoint(const struct kanary_flow *f, __u32 egress, __u32 *out_ifindex)
{
	if (egress) {
		*out_ifindex = egress;
		return V_RESOLVE;
	}
	*out_ifindex = f->ifindex;
	return V_FORWARD;
}

/*
 * The half-open entry for a client's SYN (tcp, offering so). A
 * retransmitted SYN (same ISN) keeps the gateway's ISN and TSval, a new
 * ISN on the tuple starts over.
 */
static __always_inline void synq_entry(const struct kanary_flow_key *fk,
				       const struct tcphdr *tcp,
				       const struct syn_opts *so,
				       struct kanary_synq *q)
{
	struct kanary_synq *old;

	old = bpf_map_lookup_elem(&kn_synq, fk);
	if (old && old->client_isn == bpf_ntohl(tcp->seq)) {
		/* A retransmission: the same ISN and TSval, so that either
		 * SYN-ACK is right; the options as this SYN offers them
		 * (some stacks drop options from later SYNs), so that the
		 * endpoint hears what this SYN-ACK agreed to. */
		q->gw_isn = old->gw_isn;
		q->gw_tsval = old->gw_tsval;
		/* A late duplicate after the gateway answered the request
		 * (l7_answer.h): the close still needs the answer. */
		q->answer = old->answer;
		q->answer_ack = old->answer_ack;
		q->answer_fin = old->answer_fin;
		/* Or mid-head: what it acked is still owed. */
		q->held = old->held;
	} else {
		q->gw_isn = bpf_get_prandom_u32();
		/* A millisecond clock, like Linux's TSval. */
		q->gw_tsval = bpf_ktime_get_ns() / 1000000;
	}
	q->client_isn = bpf_ntohl(tcp->seq);
	q->mss = so->mss;
	q->wscale = so->wscale;
	q->sack_ok = so->sack_ok;
	q->ts_ok = so->ts_ok;
	q->window = bpf_ntohs(tcp->window);
}

/* A SYN to an L7 VIP: remember it, and answer it with a SYN-ACK. */
static __always_inline enum verdict l7_syn(void *ctx, const bool is_tc,
					   const struct kanary_flow_key *fk)
{
	struct syn_opts so = { .wscale = TCP_WSCALE_NONE };
	struct kanary_synq q = {};
	void *data, *data_end;
	struct pkt p;

	if (reparse(ctx, is_tc, &p))
		return V_PASS;
	ctx_bounds(ctx, is_tc, &data, &data_end);
	walk_opts(ctx, is_tc, p.tcp, &so, NULL);
	synq_entry(fk, p.tcp, &so, &q);
	if (bpf_map_update_elem(&kn_synq, fk, &q, BPF_ANY))
		return V_DROP;
	if (craft_syn_ack(&p, &so, &q, data_end, ctx_csum_partial(ctx, is_tc)))
		return V_DROP;
	count_global(KANARY_G_L7_SYN);
	return V_TX;
}

/*
 * l7_first: the connection cannot be bound (its route's pool has no
 * endpoint, or the config changed while its head was read): reset the
 * client (the segment in p) and forget the handshake, counted as why. In
 * XDP, where the client's interface takes no XDP frames, tc does it
 * (reset_client).
 */
static __always_inline int first_refuse(void *ctx, const bool is_tc,
					const struct kanary_flow_key *fk,
					struct pkt *p, __u32 in_ifindex,
					__u32 why)
{
	enum verdict v = reset_client(ctx, is_tc, p, in_ifindex, why);

	if (v == V_TX)
		forget_half_open(fk);
	return v;
}

/*
 * l7_first: the VIP's rule table, under the config read once into b. No
 * table any more (the VIP lost its rules since the SYN): the handshake is
 * forgotten and the segment passed, for the kernel to reset the client,
 * which connects anew under today's config.
 */
static __always_inline int first_table(const struct kanary_flow_key *fk,
				       struct binding *b,
				       const struct kanary_l7_table **t)
{
	const struct kanary_vip *vip;
	__u32 idx;

	vip = bind_vip(fk, b);
	if (!b->cfg)
		return V_DROP;
	if (!vip || vip->l7 >= KANARY_MAX_L7) {
		forget_half_open(fk);
		return V_PASS;
	}
	idx = b->slot * KANARY_MAX_L7 + vip->l7;
	*t = bpf_map_lookup_elem(&kn_l7, &idx);
	return *t ? L7_NEXT : V_DROP;
}

/*
 * l7_first: the gateway answers the client itself (l7_answer.h), acking
 * its bytes up to ack_seq, and lets the head go; the half-open entry stays
 * for the close (l7_answered).
 */
static __always_inline int first_answer(void *ctx, const bool is_tc,
					const struct kanary_flow_key *fk,
					struct kanary_synq *q, struct pkt *p,
					__u32 in_ifindex, __u32 ack_seq,
					enum kanary_l7_answer code)
{
	enum verdict v = l7_answer(ctx, is_tc, q, p, in_ifindex, ack_seq, code);

	if (v == V_TX)
		drop_head(fk);
	return v;
}

/*
 * l7_first: the rules read the complete head h and name the block, *blk.
 * A head that is not HTTP/1.x, or that a FIN ended before its blank line,
 * gets 400; one that no rule takes, 404 (as Envoy answers). On a TLS port
 * the head is a ClientHello (tls.h), and no route resets the client: an
 * HTTP answer means nothing to a TLS client.
 */
static __always_inline int
first_rule(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	   struct kanary_synq *q, struct kanary_head *h,
	   const struct kanary_l7_table *t, struct pkt *p, __u32 in_ifindex,
	   const struct kanary_l7_block **blk)
{
	/* A FIN that ended the head is acked with it. */
	__u32 ack = q->client_isn + 1 + h->len + !!(h->flags & TCP_FLAG_FIN);
	__u32 block;

	if (h->tls) {
		block = tls_select(t, &h->hello);
		if (block >= KANARY_L7_MAX_BLOCKS)
			return first_refuse(ctx, is_tc, fk, p, in_ifindex,
					    KANARY_G_L7_TLS_NO_ROUTE);
		*blk = &t->blocks[block];
		return L7_NEXT;
	}
	if (h->http.result != HTTP_DONE)
		return first_answer(ctx, is_tc, fk, q, p, in_ifindex, ack,
				    KANARY_L7_ANSWER_400);
	block = http_select(&h->http, t);
	if (block >= KANARY_L7_MAX_BLOCKS)
		return first_answer(ctx, is_tc, fk, q, p, in_ifindex, ack,
				    KANARY_L7_ANSWER_404);
	*blk = &t->blocks[block];
	return L7_NEXT;
}

/*
 * l7_first: the chosen endpoint's next hop (bind_next_hop), asked before
 * any state is created. When only its neighbour is unknown, tc sends the
 * SYN through the neighbour table (*egress) and XDP passes the segment,
 * untouched, to the tc program behind it.
 */
static __always_inline int first_next_hop(void *ctx, const bool is_tc,
					  struct binding *b, __u32 in_ifindex,
					  __u32 *egress)
{
	if (bind_next_hop(ctx, is_tc, b,
			  L7_SYN_FRAME_LEN - sizeof(struct ethhdr), in_ifindex,
			  egress))
		return is_tc ? V_DROP : V_PASS;
	/* An egress that takes no XDP frames: tc's. */
	if (!is_tc &&
	    (!b->hop || !xdp_prepare_send(b->hop->ifindex, in_ifindex)))
		return V_PASS;
	return L7_NEXT;
}

/*
 * l7_first, once both entries exist (the to-endpoint one with its next
 * hop): the half-open entry goes, the head stays (kn_head, kn_hold) for
 * the replay. The to-endpoint entry, or NULL on failure.
 */
static __always_inline struct kanary_flow *
first_keep(const struct kanary_flow_key *fk)
{
	struct kanary_flow *f;

	f = bpf_map_lookup_elem(&kn_flows, fk);
	if (!f)
		return NULL;
	bpf_map_delete_elem(&kn_synq, fk);
	return f;
}

/* The head's first bytes, for the HTTP outcome counters. */
static __always_inline void
first_count_request(const struct kanary_flow_key *fk,
		    const struct kanary_flow *f, const struct kanary_head *h)
{
	struct kanary_hold_key hk = { .flow = *fk };
	const struct kanary_hold *c = bpf_map_lookup_elem(&kn_hold, &hk);

	if (c)
		count_held_request(fk, f, c->data, h->len);
}

/*
 * A segment from the client of a half-open L7 connection (q): the
 * handshake's ACK, or a segment of the request head (l7_head.h). The one
 * that completes the head decides the connection: its rule picks the
 * route, the route an endpoint (bind.h), and the segment becomes the SYN
 * to that endpoint.
 */
static __always_inline enum verdict
l7_first(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	 struct kanary_synq *q, __u32 in_ifindex, __u32 *out_ifindex)
{
	const struct kanary_l7_table *t = NULL;
	const struct kanary_l7_block *blk;
	struct kanary_head *h = NULL;
	struct kanary_flow *f;
	struct binding b;
	__u32 egress = 0;
	struct pkt p;
	int rc;

	if (reparse(ctx, is_tc, &p))
		return V_PASS;
	rc = first_table(fk, &b, &t);
	if (rc != L7_NEXT || !t)
		return rc;
	rc = head_segment(ctx, is_tc, fk, q, t, b.cfg, &p, in_ifindex, &h);
	/* The whole segment is taken, and thrown away; a ClientHello that
	 * long is no TLS client's. */
	if (rc == L7_TOO_BIG && (t->flags & KANARY_L7_TLS))
		return first_refuse(ctx, is_tc, fk, &p, in_ifindex,
				    KANARY_G_L7_TLS_NO_ROUTE);
	if (rc == L7_TOO_BIG)
		return first_answer(ctx, is_tc, fk, q, &p, in_ifindex,
				    seg_end(&p), KANARY_L7_ANSWER_431);
	if (rc == L7_STALE)
		return first_refuse(ctx, is_tc, fk, &p, in_ifindex,
				    KANARY_G_L7_HOLD_LOST);
	/* Nothing to answer: the gateway acks the client's FIN with its
	 * own, and the entry stays for the close (l7_answered). */
	if (rc == L7_FIN)
		return l7_answer(ctx, is_tc, q, &p, in_ifindex, seg_end(&p),
				 KANARY_L7_ANSWER_FIN);
	if (rc != L7_NEXT || !h)
		return rc;
	rc = first_rule(ctx, is_tc, fk, q, h, t, &p, in_ifindex, &blk);
	if (rc != L7_NEXT)
		return rc;

	rc = bind_choose(fk, &b, blk->route);
	/* The route's pool has no endpoint (health checking ejected them
	 * all): reset, as when no rule takes the connection. */
	if (rc == KANARY_G_NO_ENDPOINT)
		return first_refuse(ctx, is_tc, fk, &p, in_ifindex, rc);
	if (rc) {
		count_global(rc);
		return V_DROP;
	}
	/* XDP cannot grow a frame on every driver: tc makes the SYN. */
	if (!is_tc && ctx_len(ctx, false) < L7_SYN_FRAME_LEN)
		return V_PASS;
	rc = first_next_hop(ctx, is_tc, &b, in_ifindex, &egress);
	if (rc != L7_NEXT)
		return rc;
	rc = bind_flow(fk, &b, NULL, NULL, h, bpf_htonl(q->client_isn),
		       KANARY_L7_SYN_SENT, &f);
	/* Raced: another CPU bound it first; its entry is the one kept. */
	if (rc == CREATE_EXISTS)
		release_port(f);
	else if (rc) {
		count_global(rc);
		return V_DROP;
	}
	f = first_keep(fk);
	if (!f)
		return V_DROP;
	count_bound(&b);
	count_rule(blk->rule);
	first_count_request(fk, f, h);

	if (craft_syn(ctx, is_tc, &h->syn, h->tsval, f))
		return V_DROP;
	count_flow(f, L7_SYN_FRAME_LEN);
	return to_endpoint(f, egress, out_ifindex);
}

/*
 * The L7 slow paths, one copy per attach point (is_tc is a constant in
 * each), kept out of line so that the established path stays small for
 * the verifier and the instruction cache.
 */
static __noinline int l7_syn_xdp(struct xdp_md *ctx,
				 const struct kanary_flow_key *fk)
{
	return l7_syn(ctx, false, fk);
}

static __noinline int l7_syn_tc(struct __sk_buff *skb,
				const struct kanary_flow_key *fk)
{
	return l7_syn(skb, true, fk);
}

static __noinline int l7_first_xdp(struct xdp_md *ctx,
				   const struct kanary_flow_key *fk,
				   struct kanary_synq *q, __u32 in_ifindex,
				   __u32 *out_ifindex)
{
	return l7_first(ctx, false, fk, q, in_ifindex, out_ifindex);
}

static __noinline int l7_first_tc(struct __sk_buff *skb,
				  const struct kanary_flow_key *fk,
				  struct kanary_synq *q, __u32 in_ifindex,
				  __u32 *out_ifindex)
{
	return l7_first(skb, true, fk, q, in_ifindex, out_ifindex);
}

/* l7_syn, by the out-of-line copy of this attach point. */
static __always_inline int l7_syn_call(void *ctx, const bool is_tc,
				       const struct kanary_flow_key *fk)
{
	return is_tc ? l7_syn_tc(ctx, fk) : l7_syn_xdp(ctx, fk);
}

/*
 * A segment that matches no flow: the handshake's ACK or the first
 * segment of a half-open L7 connection goes to l7_first, a segment of one
 * the gateway answered itself to l7_answered; anything else passes to
 * the kernel.
 */
static __always_inline int stray_segment(void *ctx, const bool is_tc,
					 const struct kanary_flow_key *fk,
					 __u32 in_ifindex, __u32 *out_ifindex)
{
	struct kanary_synq *q;

	q = bpf_map_lookup_elem(&kn_synq, fk);
	if (q && q->answer)
		return l7_answered_call(ctx, is_tc, fk, q, in_ifindex);
	if (q)
		return is_tc ? l7_first_tc(ctx, fk, q, in_ifindex,
					   out_ifindex) :
			       l7_first_xdp(ctx, fk, q, in_ifindex,
					    out_ifindex);
	count_global(KANARY_G_PASS_NO_FLOW);
	return V_PASS;
}

#endif /* KANARY_BPF_L7_BIND_H */
