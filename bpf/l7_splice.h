/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path once the endpoint answers: its SYN-ACK turns into the
 * replay of the held request head (l7_replay, which learns the
 * endpoint's ISN and options and sets both entries' translation), and
 * every later packet is translated (l7_translate).
 *
 * The client's sequence space is the endpoint's (same ISN); only the
 * gateway's side differs, by constants set once the endpoint's SYN-ACK is
 * seen (kanary_flow.seq_delta, ts_delta, ws_ep, ws_gw).
 */
#ifndef KANARY_BPF_L7_SPLICE_H
#define KANARY_BPF_L7_SPLICE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "csum.h"
#include "nat.h"
#include "forward.h"
#include "tcpopt.h"
#include "craft.h"

/*
 * The translation of both entries, once the endpoint's SYN-ACK (its ISN
 * ep_isn, its options eso) is known; f is the to-client entry. Window
 * scales, as (w << ws_ep) >> ws_gw in each entry's direction: toward the
 * client from the endpoint's scale (0 if it did not agree) to the
 * gateway's; toward the endpoint from the client's scale to the one the
 * endpoint agreed to (the client's, or none).
 */
static __always_inline void
set_translation(struct kanary_flow *f, struct kanary_flow *twin,
		const struct kanary_head *h, __u32 ep_isn,
		const struct syn_opts *eso, bool ts_on)
{
	__u8 c_ws = h->syn.wscale == TCP_WSCALE_NONE ? 0 : h->syn.wscale;
	bool agreed = h->syn.wscale != TCP_WSCALE_NONE &&
		      eso->wscale != TCP_WSCALE_NONE;

	f->seq_delta = h->syn.gw_isn - ep_isn;
	f->ts_delta = ts_on ? h->syn.gw_tsval - eso->tsval : 0;
	f->ws_gw = h->syn.wscale == TCP_WSCALE_NONE ? 0 : KANARY_L7_WSCALE;
	f->ws_ep = agreed ? eso->wscale : 0;
	twin->seq_delta = f->seq_delta;
	twin->ts_delta = f->ts_delta;
	twin->ws_ep = c_ws;
	twin->ws_gw = agreed ? c_ws : 0;
}

/* A FIN in the held segment: the client closed, as if seen now. */
static __always_inline void note_held_fin(struct kanary_flow *f,
					  struct kanary_flow *twin,
					  const struct kanary_head *h)
{
	__u32 fin_seq = h->syn.client_isn + 1 + h->len + 1;
	__u64 now = coarse_now();

	f->fin_seq = fin_seq;
	twin->fin_seq = fin_seq;
	if (!f->closed_ns)
		f->closed_ns = now;
	if (!twin->closed_ns)
		twin->closed_ns = now;
	__sync_fetch_and_or(&f->fin, KANARY_FIN_FROM_CLIENT);
	__sync_fetch_and_or(&twin->fin, KANARY_FIN_FROM_CLIENT);
}

/* replay_step's view: the packet, the head and where its chunks are. */
struct replay_loop {
	struct __sk_buff *skb;
	const struct kanary_head *h;
	struct kanary_hold_key hk;
	struct replay_seg r;
	__u32 n; /* chunks */
	__u32 ifindex; /* out of which the clones go */
	int err; /* 1: failed; 2: a chunk is gone */
};

/*
 * Chunk k of the head over the packet; every chunk but the last is sent
 * by a clone, the last is the packet itself (the caller's verdict).
 */
static long replay_step(__u32 k, struct replay_loop *l)
{
	const struct kanary_hold *c;

	if (k >= l->n)
		return 1;
	l->hk.chunk = k;
	c = bpf_map_lookup_elem(&kn_hold, &l->hk);
	if (!c) {
		l->err = 2;
		return 1;
	}
	l->r.k = k;
	l->r.last = k + 1 == l->n;
	if (craft_replay(l->skb, l->h, c, &l->r)) {
		l->err = 1;
		return 1;
	}
	if (!l->r.last && bpf_clone_redirect(l->skb, l->ifindex, 0)) {
		l->err = 1;
		return 1;
	}
	return 0;
}

/*
 * tc only. The held head h of the client at fk, to the endpoint, over the
 * packet, whose headers already face it: the clones go out of ifindex.
 * 0; -1 on failure; -2 when a chunk was evicted from kn_hold.
 */
static __always_inline int replay_chunks(struct __sk_buff *skb,
					 const struct kanary_flow_key *fk,
					 const struct kanary_head *h,
					 __u32 ifindex)
{
	struct replay_loop l = {
		.skb = skb,
		.h = h,
		.n = (h->len + KANARY_L7_CHUNK - 1) / KANARY_L7_CHUNK,
		.ifindex = ifindex,
	};

	l.hk.flow = *fk;
	l.r.ep_isn = h->ep_isn;
	l.r.ep_tsval = h->ep_tsval;
	l.r.ts_on = h->ts_on;
	l.r.window = h->ep_window;
	bpf_loop(KANARY_L7_MAX_CHUNKS, replay_step, &l, 0);
	return l.err == 2 ? -2 : -l.err;
}

/* A replay failed: a lost chunk (-2) forgets the connection, and each
 * end's next segment meets the gateway's own stack, which resets it. */
static __always_inline enum verdict
replay_failed(int err, const struct kanary_flow_key *fk, struct kanary_flow *f)
{
	if (err == -2) {
		count_global(KANARY_G_L7_HOLD_LOST);
		forget_conn(fk, f);
	}
	return V_DROP;
}

/*
 * tc only. The endpoint's SYN-ACK of an L7 connection (f is its to-client
 * entry, at fk): learn the endpoint's ISN and options, turn the packet
 * into the held head, in as many segments as it has chunks, sent back to
 * the endpoint, and set the translation of both entries.
 */
static __always_inline enum verdict l7_replay(struct __sk_buff *skb,
					      const struct kanary_flow_key *fk,
					      struct kanary_flow *f)
{
	struct syn_opts eso = { .wscale = TCP_WSCALE_NONE };
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;
	struct kanary_head *h;
	struct pkt p;
	int err;

	if (reparse(skb, true, &p))
		return V_PASS;
	twin_key(f, &tk);
	h = bpf_map_lookup_elem(&kn_head, &tk);
	if (!h || !h->len)
		return V_DROP;
	if (bpf_ntohl(p.tcp->ack_seq) != h->syn.client_isn + 1)
		return V_DROP;
	twin = bpf_map_lookup_elem(&kn_flows, &tk);
	if (!twin)
		return V_DROP;

	walk_opts(skb, true, p.tcp, &eso, NULL);
	h->ep_isn = bpf_ntohl(p.tcp->seq);
	h->ep_tsval = eso.tsval;
	h->ts_on = h->syn.ts_ok && eso.ts_ok;
	h->ep_window = replay_window(h, &eso);
	/* Back where it came from: every segment of the replay keeps these
	 * headers (resizing the tail keeps them). */
	turn_around(&p);
	err = replay_chunks(skb, &tk, h, skb->ifindex);
	if (err)
		return replay_failed(err, fk, f);

	set_translation(f, twin, h, h->ep_isn, &eso, h->ts_on);
	/* Until the endpoint acks this far, the hold is kept for a replay. */
	f->syn_seq = h->syn.client_isn + 1 + h->len;
	/* Forward only: a late SYN-ACK must not undo a splice. */
	if (f->l7 == KANARY_L7_SYN_SENT)
		f->l7 = KANARY_L7_REPLAYED;
	if (twin->l7 == KANARY_L7_SYN_SENT)
		twin->l7 = KANARY_L7_REPLAYED;
	if (h->flags & TCP_FLAG_FIN)
		note_held_fin(f, twin, h);
	count_global(KANARY_G_L7_REPLAY);
	count_flow(twin, skb->len);
	return V_TX;
}

/*
 * tc only. The client sent a segment of its held head again (fk, f: the
 * to-endpoint entry) after the replay: the endpoint has not acked all of
 * it (part of the replay was lost, or its ack was), so it is replayed
 * again, from the client's packet, out of f's interface. The endpoint
 * drops what it has already.
 */
static __always_inline enum verdict
l7_replay_again(struct __sk_buff *skb, const struct kanary_flow_key *fk,
		struct kanary_flow *f, const struct kanary_head *h,
		__u32 *out_ifindex)
{
	struct pkt p;
	int err;

	if (!f->ifindex || reparse(skb, true, &p))
		return V_DROP;
	__builtin_memcpy(p.eth->h_source, f->smac, 6);
	__builtin_memcpy(p.eth->h_dest, f->dmac, 6);
	p.ip->saddr = f->saddr;
	p.ip->daddr = f->daddr;
	p.tcp->source = f->sport;
	p.tcp->dest = f->dport;
	err = replay_chunks(skb, fk, h, f->ifindex);
	if (err)
		return replay_failed(err, fk, f);
	count_global(KANARY_G_L7_REPLAY);
	*out_ifindex = f->ifindex;
	return V_FORWARD;
}

/*
 * Add delta to the 32-bit big-endian field at offset off of the TCP
 * header (any alignment); returns the checksum diff, 0 if out of bounds.
 */
static __always_inline __u32 add_be32_at(struct tcphdr *tcp, __u32 off,
					 __u32 delta, void *data_end)
{
	__u8 *o = (__u8 *)tcp + (off & 63);
	__u32 old, new;

	if ((void *)(o + 4) > data_end)
		return 0;
	old = load_be32(o);
	new = old + delta;
	store_be32(o, new);
	return csum_diff32_at(bpf_htonl(old), bpf_htonl(new), off);
}

/*
 * An established L7 packet (replayed or spliced): translate sequence
 * space, timestamps, SACK blocks and window in place. Returns the TCP
 * checksum diff (not pseudo-header) for the caller's rewrite.
 */
static __always_inline __u32 l7_translate(void *ctx, const bool is_tc,
					  struct pkt *p,
					  const struct kanary_flow *f,
					  void *data_end)
{
	struct seg_opts eo = {};
	struct tcphdr *tcp = p->tcp;
	__u8 *first = (__u8 *)(tcp + 1);
	__u32 diff = 0;
	int j;

	/* Linux's established segments: NOP, NOP, TS and nothing else. */
	if (tcp->doff == 8 && (void *)(first + 4) <= data_end &&
	    first[0] == TCPOPT_NOP && first[1] == TCPOPT_NOP &&
	    first[2] == TCPOPT_TS && first[3] == 10)
		eo.ts = sizeof(*tcp) + 2;
	else if (tcp->doff > 5)
		walk_opts(ctx, is_tc, tcp, NULL, &eo);

	if (f->dir == KANARY_DIR_TO_CLIENT) {
		diff += add_be32_at(tcp, 4, f->seq_delta, data_end); /* seq */
		if (eo.ts) /* TSval */
			diff += add_be32_at(tcp, eo.ts + 2, f->ts_delta,
					    data_end);
	} else {
		if (p->flags & TCP_FLAG_ACK) /* ack */
			diff += add_be32_at(tcp, 8, -f->seq_delta, data_end);
		if (eo.ts) /* TSecr */
			diff += add_be32_at(tcp, eo.ts + 6, -f->ts_delta,
					    data_end);
		/* SACK blocks name the gateway's (now the endpoint's) bytes. */
		for (j = 0; j < 8 && eo.sack; j++) {
			if (2 + j * 4 >= eo.sack_len)
				break;
			diff += add_be32_at(tcp, eo.sack + 2 + j * 4,
					    -f->seq_delta, data_end);
		}
	}
	if (f->ws_ep != f->ws_gw) {
		__u16 w = bpf_ntohs(tcp->window);
		__u32 nw = ((__u32)w << (f->ws_ep & 15)) >> (f->ws_gw & 15);

		if (nw > 0xffff)
			nw = 0xffff;
		tcp->window = bpf_htons(nw);
		diff += csum_diff16(bpf_htons(w), bpf_htons(nw));
	}
	return diff;
}

#endif /* KANARY_BPF_L7_SPLICE_H */
