// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config_index.h"
#include "maglev.h"
#include "weights.h"

static int fail(struct kn_err *err, const struct kn_src *src, const char *fmt,
		...)
{
	int n = 0;
	va_list ap;

	if (src && src->file)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%d: ", src->file,
			     src->line);
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

static void *grow(void *arr, int n, size_t size)
{
	/* Arrays grow by doubling; n is the count before adding one. */
	if (n && (n & (n - 1)))
		return arr;
	return realloc(arr, (n ? 2 * n : 1) * size);
}

#define PUSH(arr, n)                                                      \
	({                                                                \
		void *_p = grow((arr), (n), sizeof(*(arr)));              \
		_p ? ((arr) = _p, memset(&(arr)[(n)], 0, sizeof(*(arr))), \
		      &(arr)[(n)++]) :                                    \
		     NULL;                                                \
	})

struct kn_http_route *kn_vs_l4_route(const struct kn_resource *vs)
{
	return vs->vs.n_http ? &vs->vs.http[0] : NULL;
}

/*
 * add_endpoint's (addr, port) -> endpoint table, for one kn_compile:
 * endpoint + 1 (0: empty) in twice as many slots as there can be
 * endpoints, probed linearly.
 */
#define EP_SLOTS (2 * KANARY_MAX_ENDPOINTS)
_Static_assert(!(EP_SLOTS & (EP_SLOTS - 1)), "EP_SLOTS: a power of 2");

struct ep_table {
	int32_t *slot; /* allocated by the first add_endpoint */
};

static unsigned int ep_hash(uint32_t addr, uint16_t port)
{
	return ((uint64_t)addr << 16 | port) * 0x9e3779b97f4a7c15ULL >> 40;
}

static int add_endpoint(struct kn_compiled *c, struct ep_table *t,
			uint32_t addr, uint16_t port)
{
	struct kn_cendpoint *e;
	unsigned int i;

	if (!t->slot && !(t->slot = calloc(EP_SLOTS, sizeof(*t->slot))))
		return -1;
	for (i = ep_hash(addr, port) & (EP_SLOTS - 1); t->slot[i];
	     i = (i + 1) & (EP_SLOTS - 1)) {
		e = &c->eps[t->slot[i] - 1];
		if (e->addr == addr && e->port == port)
			return t->slot[i] - 1;
	}
	if (c->n_eps >= KANARY_MAX_ENDPOINTS)
		return -1;
	e = PUSH(c->eps, c->n_eps);
	if (!e)
		return -1;
	e->addr = addr;
	e->port = port;
	t->slot[i] = c->n_eps;
	return c->n_eps - 1;
}

static const struct kn_service_port *service_port(const struct kn_resource *svc,
						  uint16_t port)
{
	if (!port && svc->svc.n_ports == 1)
		return &svc->svc.ports[0];
	for (int i = 0; i < svc->svc.n_ports; i++)
		if (svc->svc.ports[i].port == port)
			return &svc->svc.ports[i];
	return NULL;
}

static bool in_pool(const struct kn_cpool *pool, int n, int ep)
{
	for (int i = 0; i < n; i++)
		if (pool->endpoints[i] == (uint32_t)ep)
			return true;
	return false;
}

/*
 * Build the pool of one destination: its endpoints and Maglev table. The
 * endpoints are the Service's (from the config's index) that are in the
 * subset, in the order they were read.
 */
static int build_pool(const struct kn_config *cfg, struct kn_compiled *c,
		      struct ep_table *et, const struct kn_resource *svc,
		      const struct kn_subset *subset,
		      const struct kn_service_port *sp,
		      const struct kn_destination *d, struct kn_err *err)
{
	uint64_t ids[KANARY_MAX_POOL_ENDPOINTS];
	uint32_t local[KANARY_MAGLEV_SIZE];
	struct kn_cpool *pool;
	const int *wes;
	int n = 0, n_wes;

	if (c->n_pools >= KANARY_MAX_POOLS)
		return fail(err, &d->src, "more than %d pools",
			    KANARY_MAX_POOLS);
	pool = PUSH(c->pools, c->n_pools);
	if (!pool)
		return fail(err, NULL, "out of memory");

	wes = kn_index_endpoints(cfg, svc, &n_wes);
	for (int i = 0; i < n_wes; i++) {
		const struct kn_resource *we = &cfg->res[wes[i]];
		int ep;

		if (!kn_config_is_endpoint(svc, subset, we))
			continue;
		if (n >= KANARY_MAX_POOL_ENDPOINTS)
			return fail(err, &d->src,
				    "more than %d endpoints in one subset",
				    KANARY_MAX_POOL_ENDPOINTS);
		ep = add_endpoint(c, et, we->we.addr,
				  htons(kn_workloadentry_port(&we->we, sp)));
		if (ep < 0)
			return fail(err, &we->src, "more than %d endpoints",
				    KANARY_MAX_ENDPOINTS);
		/* Two WorkloadEntries for one address and port are one
		 * endpoint: it gets one share of the pool, not two. */
		if (in_pool(pool, n, ep))
			continue;
		pool->endpoints[n] = ep;
		ids[n++] = kn_endpoint_id(c->eps[ep].addr, c->eps[ep].port);
	}
	if (!n)
		return fail(err, &d->src, "%s%s%s has no endpoints",
			    subset ? "subset " : "host ",
			    subset ? subset->name : d->host,
			    subset ? " of the destination" : "");
	pool->n_endpoints = n;
	if (kn_maglev_build(ids, n, local, KANARY_MAGLEV_SIZE))
		return fail(err, &d->src, "cannot build the Maglev table");
	for (int i = 0; i < KANARY_MAGLEV_SIZE; i++)
		pool->table[i] = pool->endpoints[local[i]];
	return c->n_pools - 1;
}

static const struct kn_subset *find_subset(const struct kn_resource *dr,
					   const char *name)
{
	for (int i = 0; dr && i < dr->dr.n_subsets; i++)
		if (!strcmp(dr->dr.subsets[i].name, name))
			return &dr->dr.subsets[i];
	return NULL;
}

static int compile_route(const struct kn_config *cfg, struct kn_compiled *c,
			 struct ep_table *et, const struct kn_resource *vs,
			 const struct kn_http_route *hr, struct kn_err *err)
{
	int32_t weights[KANARY_MAX_DESTS];
	bool has_weight[KANARY_MAX_DESTS];
	uint32_t cum[KANARY_MAX_DESTS];
	struct kn_croute *r;

	if (hr->n_match)
		return fail(err, &hr->src,
			    "match-based routing needs kanary's L7 path, which "
			    "this version does not have; only weight routes "
			    "are supported");
	if (hr->n_route < 1 || hr->n_route > KANARY_MAX_DESTS)
		return fail(err, &hr->src, "a route needs 1 to %d destinations",
			    KANARY_MAX_DESTS);
	if (c->n_routes >= KANARY_MAX_ROUTES)
		return fail(err, &hr->src, "more than %d routes",
			    KANARY_MAX_ROUTES);
	r = PUSH(c->routes, c->n_routes);
	if (!r)
		return fail(err, NULL, "out of memory");
	snprintf(r->vs, sizeof(r->vs), "%s/%s", vs->ns, vs->name);

	for (int i = 0; i < hr->n_route; i++) {
		const struct kn_destination *d = &hr->route[i];
		const struct kn_resource *svc, *dr;
		const struct kn_service_port *sp;
		const struct kn_subset *subset = NULL;
		struct kn_cdest *cd = &r->dests[i];
		int pool;

		svc = kn_config_resolve_host(cfg, vs->ns, d->host);
		if (!svc)
			return fail(err, &d->src, "unknown host %s", d->host);
		sp = service_port(svc, d->port);
		if (!sp)
			return fail(err, &d->src, "Service %s has no port %u",
				    svc->name, d->port);
		if (d->subset) {
			dr = kn_config_destrule_for(cfg, svc);
			subset = find_subset(dr, d->subset);
			if (!subset)
				return fail(err, &d->src, "unknown subset %s",
					    d->subset);
		}
		pool = build_pool(cfg, c, et, svc, subset, sp, d, err);
		if (pool < 0)
			return -1;
		cd->pool = pool;
		snprintf(cd->vs, sizeof(cd->vs), "%s", r->vs);
		snprintf(cd->subset, sizeof(cd->subset), "%s",
			 d->subset ? d->subset : svc->name);
		/* Istio: a lone destination takes everything, whatever its
		 * weight says; among several, a missing weight is 0. */
		weights[i] = d->weight;
		has_weight[i] = d->has_weight && hr->n_route > 1;
		cd->weight = hr->n_route == 1 ? 100 :
			     d->has_weight    ? d->weight :
						0;
	}
	if (kn_weights_compile(weights, has_weight, hr->n_route, cum,
			       &r->total_weight))
		return fail(err, &hr->src,
			    "bad weights: negative, all 0, or too large");
	r->n_dests = hr->n_route;
	for (uint32_t i = 0; i < r->n_dests; i++)
		r->dests[i].cum_weight = cum[i];
	return c->n_routes - 1;
}

static const struct kn_resource *find_gateway(const struct kn_config *cfg,
					      const struct kn_resource *vs,
					      const char *ref)
{
	const char *slash = strchr(ref, '/');
	char ns[256];

	if (!slash)
		return kn_config_find(cfg, KN_GATEWAY, vs->ns, ref);
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - ref), ref);
	return kn_config_find(cfg, KN_GATEWAY, ns, slash + 1);
}

static int add_listeners(const struct kn_config *cfg, struct kn_compiled *c,
			 const struct kn_resource *vs, int route,
			 struct kn_err *err)
{
	for (int g = 0; g < vs->vs.n_gateways; g++) {
		const struct kn_resource *gw;

		if (!strcmp(vs->vs.gateways[g], "mesh"))
			continue;
		gw = find_gateway(cfg, vs, vs->vs.gateways[g]);
		if (!gw)
			return fail(err, &vs->src, "unknown gateway %s",
				    vs->vs.gateways[g]);
		for (int s = 0; s < gw->gw.n_servers; s++) {
			uint16_t port = gw->gw.servers[s].port;
			struct kn_clistener *l;

			for (int i = 0; i < c->n_listeners; i++)
				if (c->listeners[i].port == port)
					return fail(err, &vs->src,
						    "gateway port %u already "
						    "has a VirtualService",
						    port);
			l = PUSH(c->listeners, c->n_listeners);
			if (!l)
				return fail(err, NULL, "out of memory");
			l->port = port;
			l->route = route;
		}
	}
	return 0;
}

int kn_compile(const struct kn_config *cfg, struct kn_compiled *out,
	       struct kn_err *err)
{
	struct kn_compiled c = { 0 };
	struct ep_table et = { 0 };

	for (int i = 0; i < cfg->n_res; i++) {
		const struct kn_resource *vs = &cfg->res[i];
		const struct kn_http_route *hr;
		int route;

		if (vs->kind != KN_VIRTUALSERVICE)
			continue;
		hr = kn_vs_l4_route(vs);
		if (!hr)
			continue;
		route = compile_route(cfg, &c, &et, vs, hr, err);
		if (route < 0 || add_listeners(cfg, &c, vs, route, err))
			goto bad;
	}
	free(et.slot);
	*out = c;
	return 0;
bad:
	free(et.slot);
	kn_compiled_free(&c);
	return -1;
}

void kn_compiled_free(struct kn_compiled *c)
{
	free(c->listeners);
	free(c->routes);
	free(c->pools);
	free(c->eps);
	memset(c, 0, sizeof(*c));
}
