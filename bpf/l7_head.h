/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path between the handshake and the decision: the request head,
 * in as many segments as the client sends it, in any timing.
 *
 *  client                 gateway
 *  segment (seq = next)   held in kn_hold, scanned (http.h); the head is
 *                         not complete: ACK, window = what is left of
 *                         head_max
 *  ...
 *  segment with the end   held, scanned: complete. Not acked: it becomes
 *  of the head            the SYN to the endpoint (l7_bind.h); should that
 *                         SYN be lost, the client sends this segment again
 *                         and the endpoint's SYN is sent again.
 *
 * Only the next byte in sequence is taken: a segment past it is dropped
 * (the client sends it again), one before it is acked again. A segment
 * seen again whose end is the held head's end (its ACK was lost, or XDP
 * passed it to tc after holding it) is answered as the first time: acked
 * while the head is incomplete, decided again once it is complete, so
 * holding a segment twice is never needed.
 */
#ifndef KANARY_BPF_L7_HEAD_H
#define KANARY_BPF_L7_HEAD_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "nat.h"
#include "forward.h"
#include "tcpopt.h"
#include "craft.h"
#include "http.h"
#include "tls.h"

/* head_segment's answers besides a verdict and L7_NEXT. */
#define L7_NEXT (-1)
#define L7_TOO_BIG (-2) /* the head would pass head_max: 431 */
#define L7_STALE \
	(-3) /* the config changed while the head was read, or
			* the head was evicted: reset */
#define L7_FIN (-4) /* the client closed before its first byte */

static __always_inline __u32 head_limit(const struct kanary_cfg *cfg)
{
	__u32 max = cfg->head_max;

	if (!max)
		return KANARY_L7_HEAD_DEFAULT;
	return max < KANARY_L7_HEAD_CAP ? max : KANARY_L7_HEAD_CAP;
}

/* Chunk k of the head held for fk, made (zeroed) if it is not there. */
static __always_inline struct kanary_hold *
hold_chunk(const struct kanary_flow_key *fk, __u32 k)
{
	struct kanary_hold_key hk = {
		.flow = *fk,
		.chunk = k,
	};
	struct kanary_hold *c, *zero;
	__u32 z = 0;

	c = bpf_map_lookup_elem(&kn_hold, &hk);
	if (c)
		return c;
	zero = bpf_map_lookup_elem(&kn_zero_chunk, &z);
	if (!zero)
		return NULL;
	bpf_map_update_elem(&kn_hold, &hk, zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&kn_hold, &hk);
}

/* A new kn_head entry for the handshake q, scanned against table t under
 * config generation gen. NULL on failure. */
static __always_inline struct kanary_head *
head_new(const struct kanary_flow_key *fk, const struct kanary_synq *q,
	 const struct kanary_l7_table *t, __u32 gen)
{
	struct kanary_head *h;
	__u32 z = 0;

	h = bpf_map_lookup_elem(&kn_head_scratch, &z);
	if (!h)
		return NULL;
	h->syn = *q;
	h->len = 0;
	h->tsval = 0;
	h->window = 0;
	h->flags = 0;
	h->gen = gen;
	h->tls = !!(t->flags & KANARY_L7_TLS);
	if (h->tls)
		__builtin_memset(&h->hello, 0, sizeof(h->hello));
	else
		http_start(&h->http, t);
	if (bpf_map_update_elem(&kn_head, fk, h, BPF_NOEXIST))
		return NULL;
	return bpf_map_lookup_elem(&kn_head, fk);
}

/* Does the scanner want more of the head (an HTTP request head, or on a
 * TLS port a ClientHello)? */
static __always_inline bool head_more(const struct kanary_head *h)
{
	return h->tls ? h->hello.result == TLS_MORE :
			h->http.result == HTTP_MORE;
}

/* Forget a half-open connection: its handshake and its head. */
static __always_inline void forget_half_open(const struct kanary_flow_key *fk)
{
	bpf_map_delete_elem(&kn_synq, fk);
	drop_head(fk);
}

/*
 * Ack what the gateway holds of the head (h, or nothing yet) with the
 * client's segment p: V_TX. XDP sends only out of an interface that takes
 * its frames; else it passes the segment to tc (which sees it again, see
 * above).
 */
static __always_inline int head_ack(void *ctx, const bool is_tc,
				    struct kanary_synq *q,
				    const struct kanary_head *h,
				    const struct kanary_cfg *cfg, struct pkt *p,
				    __u32 in_ifindex)
{
	struct syn_opts so = { .wscale = TCP_WSCALE_NONE };
	__u32 held = h ? h->len : 0;

	if (!is_tc && !xdp_prepare_send(in_ifindex, in_ifindex)) {
		count_global(KANARY_G_XDP_NO_TX);
		return V_PASS;
	}
	walk_opts(ctx, is_tc, p->tcp, &so, NULL);
	if (craft_head_ack(ctx, is_tc, p, q, q->client_isn + 1 + held,
			   head_limit(cfg) - held, so.tsval))
		return V_DROP;
	q->held = held;
	count_global(KANARY_G_L7_HEAD_ACKED);
	return V_TX;
}

/*
 * Hold the segment p (plen bytes, the next in sequence) in h's chunks,
 * scanning it on the way. 0, or -1 when it could not be held.
 */
static __always_inline int head_take(void *ctx, const bool is_tc,
				     const struct kanary_flow_key *fk,
				     struct kanary_head *h,
				     const struct kanary_l7_table *t,
				     const struct pkt *p, __u32 plen)
{
	struct syn_opts so = { .wscale = TCP_WSCALE_NONE };
	struct kanary_hold *c0, *c1 = NULL;
	struct l7_segment_buf *buf;
	__u32 z = 0, at = h->len, hlen;
	__u64 n = plen;

	asm volatile("" : "+r"(n)); /* see bounded() */
	if (n < 1 || n > KANARY_L7_SEG_MAX)
		return -1;
	buf = bpf_map_lookup_elem(&kn_scratch, &z);
	if (!buf)
		return -1;
	hlen = sizeof(struct ethhdr) + sizeof(struct iphdr) + p->tcp->doff * 4;
	if (ctx_load(ctx, is_tc, hlen, buf->data, n))
		return -1;
	c0 = hold_chunk(fk, at / KANARY_L7_CHUNK);
	if (!c0)
		return -1;
	if (at % KANARY_L7_CHUNK + n > KANARY_L7_CHUNK) {
		c1 = hold_chunk(fk, at / KANARY_L7_CHUNK + 1);
		if (!c1)
			return -1;
	}
	http_scan(h->tls ? NULL : &h->http, t, buf->data, at, n, c0->data,
		  c1 ? c1->data : NULL);
	if (h->tls)
		tls_scan(buf->data, n, &h->hello);
	walk_opts(ctx, is_tc, p->tcp, &so, NULL);
	h->len = at + n;
	h->tsval = so.tsval;
	h->window = bpf_ntohs(p->tcp->window);
	h->flags = p->flags;
	return 0;
}

/*
 * A segment from the client of a half-open L7 connection (q), for the
 * VIP's table t under config cfg. L7_NEXT with *hp set when the head is
 * complete (or bad, or ended by a FIN) and this segment is its last: the
 * caller decides. L7_TOO_BIG, L7_STALE; or the segment's verdict (acked,
 * dropped, passed to tc).
 */
static __always_inline int
head_segment(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	     struct kanary_synq *q, const struct kanary_l7_table *t,
	     const struct kanary_cfg *cfg, struct pkt *p, __u32 in_ifindex,
	     struct kanary_head **hp)
{
	struct kanary_head *h = bpf_map_lookup_elem(&kn_head, fk);
	__u32 seq = bpf_ntohl(p->tcp->seq), plen = p->plen;
	__u32 held = h ? h->len : 0;
	__u32 next = q->client_isn + 1 + held;

	if (p->flags & TCP_FLAG_RST) {
		/* Only an RST at the very sequence number the client is at
		 * (RFC 5961): a blind one cannot end a handshake. */
		if (seq == next)
			forget_half_open(fk);
		return V_DROP;
	}
	if (!(p->flags & TCP_FLAG_ACK) ||
	    bpf_ntohl(p->tcp->ack_seq) != q->gw_isn + 1) {
		count_global(KANARY_G_L7_NO_SYN);
		return V_DROP;
	}
	/* The handshake's ACK, or a window probe: consumed. */
	if (!plen && (!(p->flags & TCP_FLAG_FIN) || seq != next))
		return V_DROP;
	/* The config changed while the head was read, or the head the
	 * gateway acked is gone (evicted): the client is reset. */
	if (h ? h->gen != cfg->generation : q->held != 0)
		return L7_STALE;
	/*
	 * The client's FIN, alone, at the next byte: it must be answered
	 * here. Dropped, it would be sent again to the gateway's own stack,
	 * whose RST comes an RTO later, and whose TIME_WAIT of an older
	 * connection on the tuple (a proxy once served the VIP) answers
	 * with an ACK of that one: the client stays in FIN-WAIT-1. Before
	 * any byte the gateway closes too; a head begun ends here, as with
	 * a FIN on its last segment.
	 */
	if (!plen) {
		if (!h)
			return L7_FIN;
		h->flags |= TCP_FLAG_FIN;
		*hp = h;
		return L7_NEXT;
	}
	if (seq != next) {
		*hp = h;
		/* The held head's last segment again. */
		if (h && seq + plen == next)
			return head_more(h) ? head_ack(ctx, is_tc, q, h, cfg, p,
						       in_ifindex) :
					      L7_NEXT;
		/* Bytes held already: ack them again. */
		if ((__s32)(seq - next) < 0)
			return head_ack(ctx, is_tc, q, h, cfg, p, in_ifindex);
		count_global(KANARY_G_L7_EARLY);
		return V_DROP;
	}
	/* Complete, but not decided (the decision failed): nothing more is
	 * taken until it is. */
	if (h && !head_more(h)) {
		count_global(KANARY_G_L7_EARLY);
		return V_DROP;
	}
	/* Bigger than a segment (GRO): not taken, the client sends it
	 * again in segments. */
	if (plen > KANARY_L7_SEG_MAX)
		return V_DROP;
	if (held + plen > head_limit(cfg))
		return L7_TOO_BIG;
	if (!h) {
		h = head_new(fk, q, t, cfg->generation);
		if (!h)
			return V_DROP;
	}
	if (head_take(ctx, is_tc, fk, h, t, p, plen))
		return V_DROP;
	*hp = h;
	if (head_more(h) && !(p->flags & TCP_FLAG_FIN))
		return head_ack(ctx, is_tc, q, h, cfg, p, in_ifindex);
	return L7_NEXT;
}

#endif /* KANARY_BPF_L7_HEAD_H */
