/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Binding a new connection to an endpoint, in four steps that the L4 path
 * (new_flow, on the SYN) and the L7 path (l7_first, on the first segment)
 * take alike:
 *   bind_vip     the VIP the connection is for, under one read of the config
 *   bind_choose  the route's destination by weight, its endpoint by Maglev
 *   bind_flow    both conntrack entries, with a SNAT port
 *   count_bound  the connection counted: its subset's row, and NEW_FLOW
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

/* A connection being bound: what each step found. */
struct binding {
	const struct kanary_cfg *cfg;
	const struct kanary_vip *vip;
	__u32 slot; /* the config slot, read once */
	__u32 hash; /* the keyed flow hash */
	struct choice c; /* the endpoint and its subset's counter row */
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

/* Both kn_flows entries, in state l7: 0, or a KANARY_G_* reason. */
static __always_inline int bind_flow(const struct kanary_flow_key *fk,
				     const struct binding *b, __u32 syn_seq,
				     __u8 l7)
{
	return create_flow(fk, b->c.ep, b->c.stats, b->hash, syn_seq,
			   b->cfg->reclaim_ns, l7);
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
 * A SYN p that matches no flow (the L4 path): 0 once both entries exist,
 * or NEW_FLOW_L7, or a KANARY_G_* reason (KANARY_G_PASS_NO_FLOW: not a
 * VIP; KANARY_G_PASS_INVALID: a SYN no connection may come from, checked
 * for VIPs only, so that the gateway's own SYNs pay nothing).
 */
static __always_inline int new_flow(void *ctx, const bool is_tc,
				    const struct kanary_flow_key *fk,
				    const struct pkt *p, void *data_end)
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
	rc = bind_choose(fk, &b, vip->route);
	if (rc)
		return rc;
	rc = bind_flow(fk, &b, p->tcp->seq, KANARY_L7_OFF);
	if (rc)
		return rc;
	count_bound(&b);
	return 0;
}

#endif /* KANARY_BPF_BIND_H */
