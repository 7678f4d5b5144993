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

/*
 * The steps below return L7_NEXT when the packet goes on to the next step,
 * or else the verdict that ends its way through the L7 path.
 */
#define L7_NEXT (-1)

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
 * l7_first: is this the first segment? An RST, the handshake's
 * ACK and anything out of sequence end here. *plen: the payload's length.
 */
static __always_inline int first_check(void *ctx, const bool is_tc,
				       const struct kanary_flow_key *fk,
				       const struct kanary_synq *q,
				       const struct pkt *p, __u32 *plen)
{
	if (p->flags & TCP_FLAG_RST) {
		/* Only an RST at the very sequence number the client is at
		 * (RFC 5961): a blind one cannot end a handshake. */
		if (bpf_ntohl(p->tcp->seq) == q->client_isn + 1)
			bpf_map_delete_elem(&kn_synq, fk);
		return V_DROP;
	}
	if (!(p->flags & TCP_FLAG_ACK) ||
	    bpf_ntohl(p->tcp->ack_seq) != q->gw_isn + 1) {
		count_global(KANARY_G_L7_NO_SYN);
		return V_DROP;
	}
	if (bpf_ntohl(p->tcp->seq) != q->client_isn + 1) {
		count_global(KANARY_G_L7_EARLY);
		return V_DROP;
	}
	*plen = p->plen;
	if (!*plen) {
		/* The handshake's ACK: consumed. A FIN before any data
		 * ends the half-open connection. */
		if (p->flags & TCP_FLAG_FIN)
			bpf_map_delete_elem(&kn_synq, fk);
		return V_DROP;
	}
	/* More than one segment (GRO, or a client past our MSS): not kept. */
	if (*plen > KANARY_L7_HOLD_LEN - 4)
		return V_DROP;
	/* XDP cannot grow a frame on every driver: tc makes the SYN. */
	if (!is_tc && ctx_len(ctx, false) < L7_SYN_FRAME_LEN)
		return V_PASS;
	return L7_NEXT;
}

/*
 * l7_first: the segment, as kn_hold will keep it, in per-CPU
 * scratch (plen payload bytes after the headers of p). NULL on failure.
 */
static __always_inline struct kanary_hold *
first_hold(void *ctx, const bool is_tc, const struct kanary_synq *q,
	   const struct pkt *p, __u32 plen)
{
	struct syn_opts so = { .wscale = TCP_WSCALE_NONE };
	__u32 zero = 0, hlen;
	struct kanary_hold *h;

	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + p->tcp->doff * 4;
	h = bpf_map_lookup_elem(&kn_scratch, &zero);
	if (!h)
		return NULL;
	walk_opts(ctx, is_tc, p->tcp, &so, NULL);
	h->syn = *q;
	h->len = plen;
	h->tsval = so.tsval;
	h->window = bpf_ntohs(p->tcp->window);
	h->flags = p->flags;
	if (ctx_load(ctx, is_tc, hlen, h->data, plen))
		return NULL;
	/* The replay's checksum sums whole words: zero the last one's tail. */
	h->data[plen] = 0;
	h->data[plen + 1] = 0;
	h->data[plen + 2] = 0;
	return h;
}

/*
 * l7_first: the connection cannot be bound (its route's pool has no
 * endpoint): reset the client (the segment in p) and forget the
 * handshake, counted as why. In XDP, where the client's interface takes
 * no XDP frames, tc does it (reset_client).
 */
static __always_inline int first_refuse(void *ctx, const bool is_tc,
					const struct kanary_flow_key *fk,
					struct pkt *p, __u32 in_ifindex,
					__u32 why)
{
	enum verdict v = reset_client(ctx, is_tc, p, in_ifindex, why);

	if (v == V_TX)
		bpf_map_delete_elem(&kn_synq, fk);
	return v;
}

/*
 * l7_first: the VIP's rules read the request head in h (plen
 * bytes), or on a TLS port its ClientHello (tls.h), and name the block,
 * *blk. No block: no route, and the gateway answers 404 itself
 * (l7_answer.h), as Envoy does; on a TLS port it resets the client
 * (first_refuse): an HTTP answer means nothing to a TLS client.
 */
static __always_inline int
first_rule(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	   struct kanary_synq *q, const struct kanary_hold *h, __u32 plen,
	   struct pkt *p, __u32 in_ifindex, struct binding *b,
	   const struct kanary_l7_block **blk)
{
	const struct kanary_l7_table *t;
	const struct kanary_vip *vip;
	__u32 block, idx;
	bool complete;

	vip = bind_vip(fk, b);
	if (!b->cfg)
		return V_DROP;
	if (!vip || vip->l7 >= KANARY_MAX_L7) {
		/* The VIP lost its rules since the SYN: forget the handshake
		 * and let the kernel reset the client, which connects anew
		 * under today's config. */
		bpf_map_delete_elem(&kn_synq, fk);
		return V_PASS;
	}
	idx = b->slot * KANARY_MAX_L7 + vip->l7;
	t = bpf_map_lookup_elem(&kn_l7, &idx);
	if (!t)
		return V_DROP;

	if (t->flags & KANARY_L7_TLS)
		block = tls_first(h->data, plen, t, &complete);
	else
		block = http_select(h->data, plen, t, &complete);
	if (!complete)
		count_global(KANARY_G_L7_DEFAULT);
	if (block >= KANARY_L7_MAX_BLOCKS && (t->flags & KANARY_L7_TLS))
		return first_refuse(ctx, is_tc, fk, p, in_ifindex,
				    KANARY_G_L7_TLS_NO_ROUTE);
	if (block >= KANARY_L7_MAX_BLOCKS)
		return l7_answer(ctx, is_tc, q, p, in_ifindex,
				 bpf_ntohl(p->tcp->seq) + plen,
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
 * hop): the segment goes to kn_hold, the half-open entry goes. The
 * to-endpoint entry, or NULL on failure.
 */
static __always_inline struct kanary_flow *
first_keep(const struct kanary_flow_key *fk, const struct kanary_hold *h)
{
	struct kanary_flow *f;

	f = bpf_map_lookup_elem(&kn_flows, fk);
	if (!f)
		return NULL;
	if (bpf_map_update_elem(&kn_hold, fk, h, BPF_ANY))
		return NULL;
	bpf_map_delete_elem(&kn_synq, fk);
	return f;
}

/*
 * A segment from the client of a half-open L7 connection (q): the
 * handshake's ACK, or the first segment, which decides the connection:
 * its rule picks the route, the route an endpoint (bind.h), and the
 * segment becomes the SYN to that endpoint.
 */
static __always_inline enum verdict
l7_first(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	 struct kanary_synq *q, __u32 in_ifindex, __u32 *out_ifindex)
{
	const struct kanary_l7_block *blk;
	struct kanary_hold *h;
	struct kanary_flow *f;
	struct binding b;
	__u32 plen, egress = 0;
	struct pkt p;
	int rc;

	if (reparse(ctx, is_tc, &p))
		return V_PASS;
	rc = first_check(ctx, is_tc, fk, q, &p, &plen);
	if (rc != L7_NEXT)
		return rc;
	h = first_hold(ctx, is_tc, q, &p, plen);
	if (!h)
		return V_DROP;
	rc = first_rule(ctx, is_tc, fk, q, h, plen, &p, in_ifindex, &b, &blk);
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
	f = first_keep(fk, h);
	if (!f)
		return V_DROP;
	count_bound(&b);
	count_rule(blk->rule);
	count_held_request(fk, f, h->data, plen);

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
