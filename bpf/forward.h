/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Where a packet goes once kanary has decided: verdicts and next hops. */
#ifndef KANARY_BPF_FORWARD_H
#define KANARY_BPF_FORWARD_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "clock.h"

#define AF_INET 2
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

enum verdict {
	V_PASS,
	V_DROP,
	V_FORWARD, /* redirect to out_ifindex, MACs already set */
	V_RESOLVE, /* tc: redirect to out_ifindex through the neighbour table */
	V_TX, /* back out of the interface it came in by, MACs already set */
};

static __always_inline void count_flow(const struct kanary_flow *f, __u32 len)
{
	struct kanary_subset_stats *s;
	__u32 row = f->stats;

	s = bpf_map_lookup_elem(&kn_stats, &row);
	if (!s)
		return;
	if (f->dir == KANARY_DIR_TO_ENDPOINT) {
		s->packets_to_endpoint++;
		s->bytes_to_endpoint += len;
	} else {
		s->packets_to_client++;
		s->bytes_to_client += len;
	}
}

/*
 * XDP only, before anything is written: can the packet leave by out as an
 * XDP frame? For another interface this also sets up the redirect (the
 * program then returns XDP_REDIRECT); out == in is XDP_TX, which a veth
 * sends the same way. A frame sent to an interface whose driver takes no
 * frames would be dropped: such packets go to tc untouched.
 */
static __always_inline bool xdp_prepare_send(__u32 out, __u32 in)
{
	if (out == in)
		return bpf_map_lookup_elem(&kn_tx_ports, &out) != NULL;
	return bpf_redirect_map(&kn_tx_ports, out, XDP_PASS) == XDP_REDIRECT;
}

/* One FIB lookup for a packet from saddr to daddr; fib holds the answer. */
static __always_inline int fib_next_hop(void *ctx, struct bpf_fib_lookup *fib,
					__be32 saddr, __be32 daddr,
					__be16 sport, __be16 dport,
					__u16 tot_len, __u32 ifindex)
{
	/* memset, then fields: with a designated initializer, clang 14's
	 * code made the helper see family 0 on this kernel (measured, both
	 * in BPF_PROG_TEST_RUN and on veths; cause not pinned down). */
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = IPPROTO_TCP;
	fib->sport = sport;
	fib->dport = dport;
	fib->tot_len = tot_len;
	fib->ipv4_src = saddr;
	fib->ipv4_dst = daddr;
	fib->ifindex = ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/*
 * How long a next hop learnt for an endpoint serves new connections: an
 * endpoint's new MAC (a neighbour that changed) reaches new connections
 * at most this late. Established ones keep the next hop they started
 * with, as they always did.
 */
#define EP_HOP_TTL_NS (1000ULL * 1000000ULL)

/*
 * A new connection's next hop toward endpoint ep (index ep_idx): kn_ep_hops'
 * while fresh, else the FIB's, which refreshes it. A BPF_FIB_LKUP_RET_*:
 * SUCCESS with *hop set; NO_NEIGH with *egress the interface the route
 * leaves by; anything else, no route. Two CPUs may refresh one entry at
 * once: both write what the FIB told them, the same answer but for a
 * neighbour changing at that instant.
 */
static __always_inline int
endpoint_next_hop(void *ctx, const struct kanary_endpoint *ep, __u32 ep_idx,
		  __u16 tot_len, __u32 in_ifindex, __u64 now,
		  const struct ep_hop **hop, __u32 *egress)
{
	struct bpf_fib_lookup *fib;
	struct ep_hop *h;
	__u32 zero = 0;
	int rc;

	*egress = 0;
	h = bpf_map_lookup_elem(&kn_ep_hops, &ep_idx);
	fib = bpf_map_lookup_elem(&kn_fib_scratch, &zero);
	if (!h || !fib)
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	*hop = h;
	if (h->learnt && h->addr == ep->addr && h->snat_addr == ep->snat_addr &&
	    younger(now, h->learnt, EP_HOP_TTL_NS))
		return BPF_FIB_LKUP_RET_SUCCESS;
	rc = fib_next_hop(ctx, fib, ep->snat_addr, ep->addr, 0, ep->port,
			  tot_len, in_ifindex);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		*egress = fib->ifindex;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	__builtin_memcpy(h->smac, fib->smac, 6);
	__builtin_memcpy(h->dmac, fib->dmac, 6);
	h->ifindex = fib->ifindex;
	h->addr = ep->addr;
	h->snat_addr = ep->snat_addr;
	h->learnt = now;
	return rc;
}

/*
 * Learn the next hop of a flow once and keep it in the flow: established
 * packets then need no FIB lookup. Returns 0 when f->ifindex is usable;
 * otherwise *egress is the interface the route leaves by when only the
 * neighbour is missing, or 0 when there is no route.
 */
static __always_inline int resolve_next_hop(void *ctx, struct kanary_flow *f,
					    const struct pkt *p, __u32 ifindex,
					    __u32 *egress)
{
	struct bpf_fib_lookup *fib;
	__u32 zero = 0;
	int rc;

	*egress = 0;
	fib = bpf_map_lookup_elem(&kn_fib_scratch, &zero);
	if (!fib)
		return -1;
	rc = fib_next_hop(ctx, fib, f->saddr, f->daddr, f->sport, f->dport,
			  bpf_ntohs(p->ip->tot_len), ifindex);
	*egress = rc == BPF_FIB_LKUP_RET_NO_NEIGH ? fib->ifindex : 0;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	__builtin_memcpy(f->smac, fib->smac, 6);
	__builtin_memcpy(f->dmac, fib->dmac, 6);
	f->ifindex = fib->ifindex;
	return 0;
}

#endif /* KANARY_BPF_FORWARD_H */
