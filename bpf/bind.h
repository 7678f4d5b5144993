/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Binding a new connection to an endpoint, in five steps that the L4 path
 * (new_flow, on the SYN) and the L7 path (l7_first, on the first segment)
 * take alike:
 *   bind_vip       the VIP the connection is for, under one read of the config
 *   bind_choose    the route's destination by weight, its endpoint by Maglev
 *   bind_next_hop  the endpoint's next hop, learnt once a second (forward.h)
 *   bind_flow      both conntrack entries, with a SNAT port
 *   count_bound    the connection counted: its subset's row, and NEW_FLOW
 * The L7 path puts its own steps between them: the rule that names the
 * route, the endpoint's next hop before any state is created, the rule's
 * counter.
 */
#ifndef KANARY_BPF_BIND_H
#define KANARY_BPF_BIND_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kanary_abi.h"
#include "maps.h"
#include "select.h"
#include "nat.h"
#include "martian.h"
#include "forward.h"
#include "rst_guard.h"
#include "clock.h"

/* A connection being bound: what each step found. */
struct binding {
	const struct kanary_cfg *cfg;
	const struct kanary_vip *vip;
	__u32 slot; /* the config slot, read once */
	__u32 hash; /* the keyed flow hash */
	struct choice c; /* the endpoint and its subset's counter row */
	const struct ep_hop *hop; /* its next hop, NULL while unknown */
	__u64 now; /* coarse_now(), read once by bind_next_hop */
};

/*
 * The VIP fk is addressed to, or NULL (b->cfg is NULL too if the config
 * itself is missing). Every later step uses the slot read here, so one
 * connection sees one config.
 */
static __always_inline const struct kanary_vip *
bind_vip(const struct kanary_flow_key *fk, struct binding *b)
{
	struct kanary_vip_key vk = {
		.addr = fk->daddr,
		.port = fk->dport,
		.proto = IPPROTO_TCP,
	};
	__u32 zero = 0;

	b->vip = NULL;
	b->cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!b->cfg)
		return NULL;
	/* Read the slot once: every lookup below sees one config. */
	vk.slot = b->cfg->active_slot;
	b->slot = vk.slot;
	b->vip = bpf_map_lookup_elem(&kn_vips, &vk);
	return b->vip;
}

/* 0 and b->c filled, or a KANARY_G_* reason the connection cannot be made. */
static __always_inline int bind_choose(const struct kanary_flow_key *fk,
				       struct binding *b, __u32 route)
{
	b->hash = flow_hash(fk, b->cfg->hash_seed);
	return choose(b->slot, route, b->hash, &b->c);
}

/*
 * The chosen endpoint's next hop, asked before any state is created, for
 * a packet of tot_len bytes (IP) toward it. 0 with b->hop set; 0 with
 * b->hop NULL and *egress set (tc only: the neighbour is unknown, the
 * packet goes through the kernel's neighbour table); or
 * KANARY_G_FIB_PASS: XDP passes the packet, untouched, to the tc program
 * behind it, which can ask for the neighbour; tc has no route, and drops.
 */
static __always_inline int bind_next_hop(void *ctx, const bool is_tc,
					 struct binding *b, __u16 tot_len,
					 __u32 in_ifindex, __u32 *egress)
{
	int rc;

	b->hop = NULL;
	b->now = coarse_now();
	rc = endpoint_next_hop(ctx, b->c.ep, b->c.ep_idx, tot_len, in_ifindex,
			       b->now, &b->hop, egress);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	b->hop = NULL;
	return is_tc && *egress ? 0 : KANARY_G_FIB_PASS;
}

/*
 * Both entries (conn.h), in state l7, for the client at fk. An L4
 * connection's (p: its SYN, up to data_end) are half-open from now on,
 * and its to-endpoint entry has already seen its SYN (rst_guard.h). The
 * to-client entry keeps what the SYN to the endpoint offers (syn_*:
 * the client's own, L4; kanary's, with the TSval of the first segment
 * h, L7), which tw_takes_syn reads. 0 with *f the to-endpoint entry as
 * inserted (per-CPU scratch: writes to it reach no map), CREATE_EXISTS
 * (fk has an entry already: create_flow), or a KANARY_G_* reason.
 */
static __always_inline int bind_flow(const struct kanary_flow_key *fk,
				     const struct binding *b,
				     const struct pkt *p, void *data_end,
				     const struct kanary_head *h, __u32 syn_seq,
				     __u8 l7, struct kanary_flow **f)
{
	struct kanary_flow *twin;

	*f = flow_scratch(fk, b->c.ep, b->c.stats, l7, &twin);
	if (!*f)
		return KANARY_G_SNAT_EXHAUSTED;
	(*f)->syn_seq = syn_seq;
	if (b->hop) {
		__builtin_memcpy((*f)->smac, b->hop->smac, 6);
		__builtin_memcpy((*f)->dmac, b->hop->dmac, 6);
		(*f)->ifindex = b->hop->ifindex;
	}
	/* L7 connections are made once the client's handshake with the
	 * gateway is complete: never half-open here. */
	if (p) {
		twin->open_ns = (*f)->open_ns = b->now;
		track_seq(*f, p);
		syn_read(twin, p, data_end);
	} else if (h) {
		/* What craft_syn sends: the first segment's TSval. */
		twin->syn_tsval = h->tsval;
		twin->syn_flags = h->syn.ts_ok ? KANARY_SYN_TS :
						 KANARY_SYN_NO_TS;
	}
	return create_flow(fk, b->c.ep, *f, twin, b->hash, b->now, l7);
}

static __always_inline void count_bound(const struct binding *b)
{
	struct kanary_subset_stats *s;
	__u32 row = b->c.stats;

	s = bpf_map_lookup_elem(&kn_stats, &row);
	if (s)
		s->connections++;
	count_global(KANARY_G_NEW_FLOW);
}

/* new_flow's answer for a VIP whose connections take the L7 path */
#define NEW_FLOW_L7 (KANARY_G_MAX + 1)

/*
 * bind_flow found the client's tuple taken, with *f's SNAT port reserved:
 * a retransmitted SYN (same ISN: its connection goes on), a new
 * connection reusing the client's port (another ISN: lookup_flow forgets
 * the old one, and *f goes in after all), or another CPU's connection.
 * 0 with *f the entry to forward by, the reserved port let go unless *f
 * went in; or KANARY_G_SNAT_EXHAUSTED.
 */
static __always_inline int bind_existing(const struct kanary_flow_key *fk,
					 const struct pkt *p,
					 const struct binding *b,
					 struct kanary_flow **f)
{
	struct kanary_flow *old = lookup_flow(fk, p, true);

	if (!old && (*f)->sport &&
	    !bpf_map_update_elem(&kn_flows, fk, *f, BPF_NOEXIST)) {
		count_bound(b);
		return 0;
	}
	/* Nothing reserved: another CPU put this SYN's connection in its
	 * record a moment ago; that CPU sends the SYN on. */
	if (!old && !(*f)->sport)
		return KANARY_G_SYN_RACE;
	release_port(*f);
	*f = old ? old : bpf_map_lookup_elem(&kn_flows, fk);
	return *f ? 0 : KANARY_G_SNAT_EXHAUSTED;
}

/* new_flow's answer for a VIP whose connections take the L7 path */
#define NEW_FLOW_L7 (KANARY_G_MAX + 1)

/*
 * A SYN p (the L4 path), looked up nowhere before: 0 once the connection
 * has both entries, with *f its to-endpoint entry (per-CPU scratch
 * holding what was kept, or the entry the SYN found: a retransmission's)
 * and *egress set if its next hop must be resolved on the way; or
 * NEW_FLOW_L7; or a KANARY_G_* reason (KANARY_G_PASS_NO_FLOW: not a VIP;
 * KANARY_G_PASS_INVALID: a SYN no connection may come from, checked for
 * VIPs only, so that the gateway's own SYNs pay nothing;
 * KANARY_G_FIB_PASS: see bind_next_hop). The SYN is looked up in
 * kn_flows first when its record says kn_flows may hold its client
 * (KANARY_CONN_KN_FLOWS_ANY): a record, unlike kn_flows' BPF_NOEXIST
 * insert, cannot tell that fk already has an entry there
 * (bind_existing handles another CPU's race).
 */
static __always_inline int new_flow(void *ctx, const bool is_tc,
				    const struct kanary_flow_key *fk,
				    const struct pkt *p, void *data_end,
				    __u32 in_ifindex, __u32 *egress,
				    struct kanary_flow **f)
{
	const struct kanary_vip *vip;
	struct binding b;
	int rc;

	vip = bind_vip(fk, &b);
	if (!vip)
		return KANARY_G_PASS_NO_FLOW;
	if (syn_martian(ctx, is_tc, p, data_end))
		return KANARY_G_PASS_INVALID;
	if (vip->l7 != KANARY_L7_NONE)
		return NEW_FLOW_L7;
	/* Only the client's record knows whether that can be. */
	if (conn_hinted(flow_hash(fk, b.cfg->hash_seed))) {
		*f = lookup_flow(fk, p, true);
		if (*f)
			return 0;
	}
	rc = bind_choose(fk, &b, vip->route);
	if (rc)
		return rc;
	rc = bind_next_hop(ctx, is_tc, &b, bpf_ntohs(p->ip->tot_len),
			   in_ifindex, egress);
	if (rc)
		return rc;
	rc = bind_flow(fk, &b, p, data_end, NULL, p->tcp->seq, KANARY_L7_OFF,
		       f);
	if (rc == CREATE_EXISTS)
		return bind_existing(fk, p, &b, f);
	if (rc)
		return rc;
	count_bound(&b);
	return 0;
}

#endif /* KANARY_BPF_BIND_H */
