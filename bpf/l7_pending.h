/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path between the SYN to the endpoint and the splice: the
 * connection is bound (both kn_flows entries, SYN_SENT, then REPLAYED)
 * but the endpoint has not acked the held first segment yet. These
 * packets are tc's (l7_pending_tc; XDP passes them): the endpoint's
 * SYN-ACK becomes the replay (l7_splice.h), a bare ACK of an older
 * connection on the port is reset, RSTs are checked, the client's resent
 * first segment sends the SYN again. The endpoint's ack of the whole held
 * segment splices the connection (l7_spliced).
 */
#ifndef KANARY_BPF_L7_PENDING_H
#define KANARY_BPF_L7_PENDING_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "nat.h"
#include "forward.h"
#include "craft.h"
#include "reset.h"
#include "l7_bind.h"
#include "l7_splice.h"

/*
 * The endpoint answered kanary's SYN (f: the connection's to-client entry)
 * with a bare ACK of an older connection on the same SNAT port, still in
 * TIME_WAIT there. Reset that connection (RFC 9293, SYN-SENT: an RST whose
 * sequence number is the ACK's ack, which TIME_WAIT accepts), sent out by
 * bpf_clone_redirect, then turn the packet into the SYN again: waiting for
 * the client to resend its first segment would cost its RTO (200 ms and
 * up, measured in the HTTP benchmark).
 */
static __always_inline enum verdict
l7_reset_endpoint(struct __sk_buff *skb, struct pkt *p, struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;
	struct kanary_head *h;

	twin_key(f, &tk);
	twin = bpf_map_lookup_elem(&kn_flows, &tk);
	h = bpf_map_lookup_elem(&kn_head, &tk);
	if (!twin || !h)
		return V_DROP;
	/* Its seq is the ACK's ack (craft_rst). */
	if (reset_back(skb, true, p))
		return V_DROP;
	if (bpf_clone_redirect(skb, skb->ifindex, 0))
		return V_DROP;
	if (craft_syn(skb, true, &h->syn, h->tsval, twin))
		return V_DROP;
	return V_TX;
}

/* The endpoint acked the replayed segment: let the hold go. */
static __always_inline void l7_spliced(struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	twin_key(f, &tk);
	f->l7 = KANARY_L7_SPLICED;
	twin = bpf_map_lookup_elem(&kn_flows, &tk);
	if (twin)
		twin->l7 = KANARY_L7_SPLICED;
	drop_head(&tk);
}

/*
 * tc only: the endpoint's packet of an L7 connection not spliced yet (f is
 * its to-client entry): its SYN-ACK turns into the replay; an RST that
 * refuses kanary's SYN forgets the connection; a bare ACK of an older
 * connection on the port is reset.
 */
static __always_inline enum verdict
pending_from_endpoint(struct __sk_buff *skb, const struct kanary_flow_key *fk,
		      struct kanary_flow *f, struct pkt *p)
{
	struct kanary_flow_key tk = {};
	struct kanary_head *h;
	__u8 flags = p->flags;

	if ((flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) ==
	    (TCP_FLAG_SYN | TCP_FLAG_ACK))
		return l7_replay(skb, fk, f);
	if (flags & TCP_FLAG_RST) {
		/* The endpoint refuses our SYN: an RST that acks it,
		 * nothing else (RFC 5961). */
		twin_key(f, &tk);
		h = bpf_map_lookup_elem(&kn_head, &tk);
		if (h && (flags & TCP_FLAG_ACK) &&
		    bpf_ntohl(p->tcp->ack_seq) == h->syn.client_isn + 1)
			forget_conn(fk, f);
	} else if (f->l7 == KANARY_L7_SYN_SENT && (flags & TCP_FLAG_ACK)) {
		/* A bare ACK for our SYN: the endpoint still holds an old
		 * connection on this port (TIME_WAIT). */
		count_global(KANARY_G_L7_SYN_REFUSED);
		return l7_reset_endpoint(skb, p, f);
	}
	return V_DROP;
}

/*
 * tc only: the client's packet of an L7 connection not spliced yet (f is
 * its to-endpoint entry): an RST within what it sent forgets the
 * connection; a segment of its held head again (it has no ack of the
 * head's last one) sends the SYN again while the endpoint has not
 * answered (it may be lost), and the head again once it has (part of
 * the replay may be lost). Anything else waits.
 */
static __always_inline int pending_from_client(struct __sk_buff *skb,
					       const struct kanary_flow_key *fk,
					       struct kanary_flow *f,
					       struct pkt *p, __u32 in_ifindex,
					       __u32 *out_ifindex)
{
	struct kanary_head *h;
	__u32 egress = 0;

	h = bpf_map_lookup_elem(&kn_head, fk);
	if (p->flags & TCP_FLAG_RST) {
		/* Within what the client has sent, not blind (RFC 5961). */
		if (h &&
		    bpf_ntohl(p->tcp->seq) - (h->syn.client_isn + 1) <= h->len)
			forget_conn(fk, f);
		return V_DROP;
	}
	if (!h) {
		count_global(KANARY_G_L7_EARLY);
		return V_DROP;
	}
	if (bpf_ntohl(p->tcp->seq) - (h->syn.client_isn + 1) >= h->len) {
		/* Past the head (a request body): once the endpoint has the
		 * head, the established way (the translation is set, and the
		 * replay went out before); until then it waits. */
		if (f->l7 == KANARY_L7_REPLAYED && p->plen &&
		    (__s32)(bpf_ntohl(p->tcp->seq) -
			    (h->syn.client_isn + 1 + h->len)) >= 0)
			return L7_NEXT;
		count_global(KANARY_G_L7_EARLY);
		return V_DROP;
	}
	if (f->l7 == KANARY_L7_REPLAYED)
		return l7_replay_again(skb, fk, f, h, out_ifindex);
	if (!f->ifindex && resolve_next_hop(skb, f, p, in_ifindex, &egress) &&
	    !egress)
		return V_DROP;
	if (craft_syn(skb, true, &h->syn, h->tsval, f))
		return V_DROP;
	return to_endpoint(f, egress, out_ifindex);
}

/*
 * tc only: an L7 connection whose endpoint has not acked the held first
 * segment yet (SYN_SENT, REPLAYED).
 */
static __noinline int l7_pending_tc(struct __sk_buff *skb,
				    const struct kanary_flow_key *fk,
				    struct kanary_flow *f, __u32 in_ifindex,
				    __u32 *out_ifindex)
{
	struct pkt p;

	if (reparse(skb, true, &p))
		return V_PASS;
	if (f->dir == KANARY_DIR_TO_CLIENT)
		return pending_from_endpoint(skb, fk, f, &p);
	return pending_from_client(skb, fk, f, &p, in_ifindex, out_ifindex);
}

/*
 * A packet of a bound L7 connection (f->l7 set): L7_NEXT when it goes the
 * established way (NAT and translation), else its verdict. Until the
 * endpoint has acked the held first segment, the connection's packets are
 * tc's (l7_pending_tc): XDP passes them to it.
 */
static __always_inline int l7_bound(void *ctx, const bool is_tc,
				    const struct kanary_flow_key *fk,
				    struct kanary_flow *f, const struct pkt *p,
				    bool syn, __u32 in_ifindex,
				    __u32 *out_ifindex)
{
	if (syn)
		return V_DROP; /* a stale SYN of a bound connection */
	if (f->l7 == KANARY_L7_SPLICED)
		return L7_NEXT;
	if (f->l7 == KANARY_L7_REPLAYED && f->dir == KANARY_DIR_TO_CLIENT &&
	    !(p->flags & TCP_FLAG_SYN) && (p->flags & TCP_FLAG_ACK) &&
	    (__s32)(bpf_ntohl(p->tcp->ack_seq) - f->syn_seq) >= 0) {
		/* The endpoint has the first segment. */
		l7_spliced(f);
		return L7_NEXT;
	}
	/* Both ends know the connection: an RST is passed on. */
	if (f->l7 == KANARY_L7_REPLAYED && (p->flags & TCP_FLAG_RST))
		return L7_NEXT;
	/* Handshake with the endpoint: tc's job. */
	if (!is_tc)
		return V_PASS;
	return l7_pending_tc(ctx, fk, f, in_ifindex, out_ifindex);
}

#endif /* KANARY_BPF_L7_PENDING_H */
