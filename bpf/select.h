/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Selection for a new connection: the route's destination by weight, then
 * the endpoint inside the destination's pool by its Maglev table. Both
 * draw on one keyed flow hash, so that a client cannot aim its connections
 * at one endpoint by picking source ports.
 */
#ifndef KANARY_BPF_SELECT_H
#define KANARY_BPF_SELECT_H

#include "maps.h"
#include "kanary_hash.h" /* mix32, flow_hash */

struct choice {
	const struct kanary_endpoint *ep;
	__u32 ep_idx; /* ep's index in kn_endpoints (and kn_ep_hops) */
	__u32 stats;
};

/* 0 and *c filled, or a KANARY_G_* reason the connection cannot be made. */
static __always_inline int choose(__u32 slot, __u32 route_id, __u32 hash,
				  struct choice *c)
{
	struct kanary_pool_key pk = { .slot = slot };
	const struct kanary_route *r;
	const struct kanary_dest *d = NULL;
	const struct kanary_pool *pool;
	__u32 idx, pick, ep;
	int i;

	if (route_id >= KANARY_MAX_ROUTES)
		return KANARY_G_NO_ROUTE;
	idx = slot * KANARY_MAX_ROUTES + route_id;
	r = bpf_map_lookup_elem(&kn_routes, &idx);
	if (!r || !r->total_weight)
		return KANARY_G_NO_ROUTE;

	pick = hash % r->total_weight;
	for (i = 0; i < KANARY_MAX_DESTS; i++) {
		if (i >= r->n_dests)
			break;
		if (pick < r->dests[i].cum_weight) {
			d = &r->dests[i];
			break;
		}
	}
	if (!d)
		return KANARY_G_NO_ROUTE;

	pk.pool = d->pool;
	pool = bpf_map_lookup_elem(&kn_pools, &pk);
	if (!pool || !pool->n_endpoints)
		return KANARY_G_NO_ENDPOINT;
	/* A second, independent draw: the weight pick must not bias it. */
	idx = mix32(hash ^ 0x9e3779b9) % KANARY_MAGLEV_SIZE;
	/* clang turns % into mul/sub, which the verifier cannot bound:
	 * hide the value from the optimiser and bound it explicitly. */
	asm volatile("" : "+r"(idx));
	if (idx >= KANARY_MAGLEV_SIZE)
		return KANARY_G_NO_ENDPOINT;
	ep = pool->table[idx];
	if (ep >= KANARY_MAX_ENDPOINTS)
		return KANARY_G_NO_ENDPOINT;
	idx = slot * KANARY_MAX_ENDPOINTS + ep;
	c->ep = bpf_map_lookup_elem(&kn_endpoints, &idx);
	if (!c->ep || !c->ep->addr)
		return KANARY_G_NO_ENDPOINT;
	c->ep_idx = idx;
	c->stats = d->stats;
	return 0;
}

#endif /* KANARY_BPF_SELECT_H */
