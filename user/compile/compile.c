// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile.h"
#include "config_index.h"
#include "maglev.h"
#include "vhosts.h"
#include "weights.h"

int kn_compile_fail(struct kn_err *err, const struct kn_src *src,
		    const char *fmt, ...)
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

bool kn_vs_is_l7(const struct kn_resource *vs)
{
	for (int i = 0; i < vs->vs.n_http; i++)
		if (vs->vs.http[i].n_match)
			return true;
	return false;
}

struct kn_http_route *kn_vs_l4_route(const struct kn_resource *vs)
{
	return vs->vs.n_http && !kn_vs_is_l7(vs) ? &vs->vs.http[0] : NULL;
}

void kn_vs_rule_name(const struct kn_resource *vs, int i,
		     char buf[KANARY_NAME_LEN])
{
	char(*names)[KANARY_NAME_LEN] = calloc(i + 1, KANARY_NAME_LEN);

	snprintf(buf, KANARY_NAME_LEN, "http[%d]", i);
	if (!names)
		return;
	/* A name already taken by an earlier route falls back to http[j],
	 * so that two routes never share (and mix) one counter. */
	for (int j = 0; j <= i; j++) {
		const char *name = vs->vs.http[j].name;

		snprintf(names[j], KANARY_NAME_LEN, "%s", name ? name : "");
		for (int k = 0; k < j && names[j][0]; k++)
			if (!strcmp(names[k], names[j]))
				names[j][0] = 0;
		if (!names[j][0])
			snprintf(names[j], KANARY_NAME_LEN, "http[%d]", j);
	}
	snprintf(buf, KANARY_NAME_LEN, "%s", names[i]);
	free(names);
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
	/* This compile's options: every pool consults them too. */
	const struct kn_compile_opts *opts;
};

static bool ejected(const struct ep_table *t, uint32_t addr, uint16_t port)
{
	const struct kn_compile_opts *o = t->opts;

	for (int i = 0; o && i < o->n_ejected; i++)
		if (o->ejected[i].addr == addr && o->ejected[i].port == port)
			return true;
	return false;
}

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

const struct kn_service_port *kn_service_port(const struct kn_resource *svc,
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
	int n = 0, n_wes, configured = 0;

	if (c->n_pools >= KANARY_MAX_POOLS)
		return kn_compile_fail(err, &d->src, "more than %d pools",
				       KANARY_MAX_POOLS);
	pool = PUSH(c->pools, c->n_pools);
	if (!pool)
		return kn_compile_fail(err, NULL, "out of memory");

	wes = kn_index_endpoints(cfg, svc, &n_wes);
	for (int i = 0; i < n_wes; i++) {
		const struct kn_resource *we = &cfg->res[wes[i]];
		uint16_t port;
		int ep;

		if (!kn_config_is_endpoint(svc, subset, we))
			continue;
		configured++;
		port = htons(kn_workloadentry_port(&we->we, sp));
		/* Left out of the table, so Maglev moves only its share. */
		if (ejected(et, we->we.addr, port))
			continue;
		if (n >= KANARY_MAX_POOL_ENDPOINTS)
			return kn_compile_fail(
				err, &d->src,
				"more than %d endpoints in one subset",
				KANARY_MAX_POOL_ENDPOINTS);
		ep = add_endpoint(c, et, we->we.addr, port);
		if (ep < 0)
			return kn_compile_fail(err, &we->src,
					       "more than %d endpoints",
					       KANARY_MAX_ENDPOINTS);
		/* Two WorkloadEntries for one address and port are one
		 * endpoint: it gets one share of the pool, not two. */
		if (in_pool(pool, n, ep))
			continue;
		pool->endpoints[n] = ep;
		ids[n++] = kn_endpoint_id(c->eps[ep].addr, c->eps[ep].port);
	}
	if (!configured)
		return kn_compile_fail(err, &d->src, "%s%s%s has no endpoints",
				       subset ? "subset " : "host ",
				       subset ? subset->name : d->host,
				       subset ? " of the destination" : "");
	pool->n_endpoints = n;
	/* Every endpoint ejected: an empty pool, no table to build. */
	if (!n)
		return c->n_pools - 1;
	if (kn_maglev_build(ids, n, local, KANARY_MAGLEV_SIZE))
		return kn_compile_fail(err, &d->src,
				       "cannot build the Maglev table");
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

/*
 * health.kanary.io/fallback: destinations whose pool is empty get weight 0,
 * so that their share goes to the others in proportion to their weights;
 * unless nothing would be left to pick, when the weights stay as they are
 * (and the empty pools refuse, as without fallback).
 */
static void fallback(int32_t *weights, bool *has_weight, const bool *drop,
		     int n)
{
	int64_t left = 0;

	for (int i = 0; i < n; i++) {
		int64_t w = has_weight[i] ? weights[i] : n == 1;

		if (!drop[i] && w > 0)
			left += w;
	}
	if (!left)
		return;
	for (int i = 0; i < n; i++) {
		if (!drop[i])
			continue;
		weights[i] = 0;
		has_weight[i] = true;
	}
}

/* A route of n destinations (an http or a tls route's), written at src. */
static int compile_route(const struct kn_config *cfg, struct kn_compiled *c,
			 struct ep_table *et, const struct kn_resource *vs,
			 int n, const struct kn_destination *route,
			 const struct kn_src *src, struct kn_err *err)
{
	int32_t weights[KANARY_MAX_DESTS];
	bool has_weight[KANARY_MAX_DESTS];
	bool fall_back[KANARY_MAX_DESTS];
	uint32_t cum[KANARY_MAX_DESTS];
	struct kn_croute *r;

	if (n < 1 || n > KANARY_MAX_DESTS)
		return kn_compile_fail(err, src,
				       "a route needs 1 to %d destinations",
				       KANARY_MAX_DESTS);
	if (c->n_routes >= KANARY_MAX_ROUTES)
		return kn_compile_fail(err, src, "more than %d routes",
				       KANARY_MAX_ROUTES);
	r = PUSH(c->routes, c->n_routes);
	if (!r)
		return kn_compile_fail(err, NULL, "out of memory");
	snprintf(r->vs, sizeof(r->vs), "%s/%s", vs->ns, vs->name);

	for (int i = 0; i < n; i++) {
		const struct kn_destination *d = &route[i];
		const struct kn_resource *svc, *dr = NULL;
		const struct kn_service_port *sp;
		const struct kn_subset *subset = NULL;
		struct kn_cdest *cd = &r->dests[i];
		int pool;

		svc = kn_config_resolve_host(cfg, vs->ns, d->host);
		if (!svc)
			return kn_compile_fail(err, &d->src, "unknown host %s",
					       d->host);
		sp = kn_service_port(svc, d->port);
		if (!sp)
			return kn_compile_fail(err, &d->src,
					       "Service %s has no port %u",
					       svc->name, d->port);
		if (d->subset) {
			dr = kn_config_destrule_for(cfg, svc);
			subset = find_subset(dr, d->subset);
			if (!subset)
				return kn_compile_fail(err, &d->src,
						       "unknown subset %s",
						       d->subset);
		}
		pool = build_pool(cfg, c, et, svc, subset, sp, d, err);
		if (pool < 0)
			return -1;
		cd->pool = pool;
		dr = kn_config_destrule_for(cfg, svc);
		fall_back[i] = dr && dr->dr.check.fallback &&
			       !c->pools[pool].n_endpoints;
		snprintf(cd->vs, sizeof(cd->vs), "%s", r->vs);
		snprintf(cd->subset, sizeof(cd->subset), "%s",
			 d->subset ? d->subset : svc->name);
		/* Istio: a lone destination takes everything, whatever its
		 * weight says; among several, a missing weight is 0. */
		weights[i] = d->weight;
		has_weight[i] = d->has_weight && n > 1;
		cd->weight = n == 1 ? 100 : d->has_weight ? d->weight : 0;
	}
	fallback(weights, has_weight, fall_back, n);
	if (kn_weights_compile(weights, has_weight, n, cum, &r->total_weight))
		return kn_compile_fail(
			err, src, "bad weights: negative, all 0, or too large");
	r->n_dests = n;
	for (uint32_t i = 0; i < r->n_dests; i++)
		r->dests[i].cum_weight = cum[i];
	return c->n_routes - 1;
}

/* ------------------------------------------------------------------ */
/* The L7 path: one rule table per VirtualService with match rules */

/* RFC 9110 tchar: what a header field name is made of. */
static bool http_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

/* The index of a header name in the table, added when new. */
static int l7_name(struct kanary_l7_table *t, const struct kn_header_match *h,
		   struct kn_err *err)
{
	char lower[KANARY_L7_NAME_LEN];
	size_t len = strlen(h->name);

	if (!http_token(h->name))
		return kn_compile_fail(
			err, &h->src,
			"header name '%s' is not an HTTP token (the L7 "
			"path matches request headers by name; "
			"pseudo-headers such as ':authority' are not "
			"supported)",
			h->name);
	if (len > KANARY_L7_NAME_LEN - 1)
		return kn_compile_fail(
			err, &h->src,
			"header name '%s' is %zu bytes; the L7 path takes "
			"at most %d",
			h->name, len, KANARY_L7_NAME_LEN - 1);
	/* The reader lowers names already; a hand-built config may not. */
	for (size_t i = 0; i <= len; i++)
		lower[i] = tolower((unsigned char)h->name[i]);
	for (uint32_t i = 0; i < t->n_names; i++)
		if (t->name_len[i] == len && !memcmp(t->names[i], lower, len))
			return i;
	if (t->n_names >= KANARY_L7_MAX_NAMES)
		return kn_compile_fail(
			err, &h->src,
			"more than %d distinct header names in one "
			"VirtualService (the L7 path's limit)",
			KANARY_L7_MAX_NAMES);
	memcpy(t->names[t->n_names], lower, len);
	t->name_len[t->n_names] = len;
	return t->n_names++;
}

/* One condition of block b: field op value (name for headers). */
static int l7_cond(struct kanary_l7_table *t, uint32_t b, int field,
		   const char *what, const struct kn_str_match *m, int name,
		   const struct kn_src *src, struct kn_err *err)
{
	static const char *const kinds[] = {
		[KN_MATCH_EXACT] = "exact",
		[KN_MATCH_PREFIX] = "prefix",
		[KN_MATCH_REGEX] = "regex",
		[KN_MATCH_PRESENT] = "presence",
	};
	const struct kn_src *at = m->src.file ? &m->src : src;
	struct kanary_l7_cond *cond;
	size_t len = m->value ? strlen(m->value) : 0;
	int op;

	switch (m->kind) {
	case KN_MATCH_EXACT:
		op = KANARY_L7_EXACT;
		break;
	case KN_MATCH_PREFIX:
		op = KANARY_L7_PREFIX;
		break;
	case KN_MATCH_PRESENT:
		op = KANARY_L7_PRESENT;
		if (field == KANARY_L7_HEADER ||
		    field == KANARY_L7_WITHOUT_HEADER)
			break;
		return kn_compile_fail(
			err, at,
			"%s: presence ({}) is only a condition on headers; "
			"use exact or prefix",
			what);
	case KN_MATCH_REGEX:
		return kn_compile_fail(
			err, at,
			"%s: regex matching is not supported by the L7 "
			"path; use exact or prefix",
			what);
	default:
		return kn_compile_fail(err, at, "%s: unknown match kind", what);
	}
	if (len > KANARY_L7_VALUE_LEN)
		return kn_compile_fail(
			err, at,
			"%s: %s value is %zu bytes; the L7 path matches at "
			"most %d",
			what, kinds[m->kind], len, KANARY_L7_VALUE_LEN);
	if (t->n_conds >= KANARY_L7_MAX_CONDS)
		return kn_compile_fail(err, at,
				       "more than %d match conditions in one "
				       "VirtualService (the L7 path's limit)",
				       KANARY_L7_MAX_CONDS);
	cond = &t->conds[t->n_conds++];
	cond->block = b;
	cond->field = field;
	cond->op = op;
	cond->name = name;
	cond->len = len;
	memcpy(cond->value, m->value ? m->value : "", len);
	return 0;
}

static int l7_headers(struct kanary_l7_table *t, uint32_t b, int field, int n,
		      const struct kn_header_match *h, struct kn_err *err)
{
	for (int i = 0; i < n; i++) {
		int name = l7_name(t, &h[i], err);

		if (name < 0 || l7_cond(t, b, field, h[i].name, &h[i].match,
					name, &h[i].src, err))
			return -1;
	}
	return 0;
}

/*
 * The condition that the request's Host selects virtual host vh: none
 * for "*". The table's "host" name is added when new.
 */
static int l7_host(struct kanary_l7_table *t, uint32_t b,
		   const struct kn_vhost *vh, const struct kn_src *src,
		   struct kn_err *err)
{
	struct kn_header_match host = { .name = "host", .src = *src };
	struct kanary_l7_cond *cond;
	int name;

	if (!vh || vh->kind == KN_HOST_ANY)
		return 0;
	name = l7_name(t, &host, err);
	if (name < 0)
		return -1;
	if (t->n_conds >= KANARY_L7_MAX_CONDS)
		return kn_compile_fail(
			err, src,
			"more than %d match conditions on one gateway "
			"port (the L7 path's limit; each host of a "
			"VirtualService adds one per match block)",
			KANARY_L7_MAX_CONDS);
	cond = &t->conds[t->n_conds++];
	cond->block = b;
	cond->field = KANARY_L7_HEADER;
	cond->op = vh->kind == KN_HOST_EXACT ? KANARY_L7_HOST_EXACT :
					       KANARY_L7_HOST_SUFFIX;
	cond->name = name;
	cond->len = strlen(vh->host);
	memcpy(cond->value, vh->host, cond->len);
	return 0;
}

/*
 * A block of route `route` (rule `rule`) for the requests of virtual host
 * vh (NULL: every host); m NULL: the route has no match. *any: the block
 * takes every request of its host.
 */
static int l7_block(struct kanary_l7_table *t, uint32_t route, uint32_t rule,
		    const struct kn_vhost *vh, const struct kn_http_match *m,
		    const struct kn_src *src, bool *any, struct kn_err *err)
{
	uint32_t b = t->n_blocks, conds;

	if (b >= KANARY_L7_MAX_BLOCKS)
		return kn_compile_fail(
			err, src,
			"more than %d match blocks on one gateway port "
			"(the L7 path's limit; a route without match "
			"counts as one, and so does each host of a "
			"VirtualService sharing the port)",
			KANARY_L7_MAX_BLOCKS);
	t->blocks[b].route = route;
	t->blocks[b].rule = rule;
	t->n_blocks++;
	if (l7_host(t, b, vh, src, err))
		return -1;
	conds = t->n_conds;
	if (m && m->has_method &&
	    l7_cond(t, b, KANARY_L7_METHOD, "method", &m->method, 0, src, err))
		return -1;
	if (m && m->has_uri &&
	    l7_cond(t, b, KANARY_L7_URI, "uri", &m->uri, 0, src, err))
		return -1;
	if (m && (l7_headers(t, b, KANARY_L7_HEADER, m->n_headers, m->headers,
			     err) ||
		  l7_headers(t, b, KANARY_L7_WITHOUT_HEADER,
			     m->n_without_headers, m->without_headers, err)))
		return -1;
	*any = t->n_conds == conds;
	/* The first block that holds whatever the request says is the
	 * default: what a request the data path cannot parse takes (one
	 * without Host cannot pick a host). */
	if (*any && (!vh || vh->kind == KN_HOST_ANY) &&
	    t->default_block == KANARY_L7_NONE)
		t->default_block = b;
	return 0;
}

/* The counter row of a route named rule: the name must be the VS's only
 * one (from first_rule on). */
static int l7_rule(struct kn_compiled *c, const struct kn_resource *vs,
		   int first_rule, const char *rule, const struct kn_src *src,
		   struct kn_err *err)
{
	char vs_name[KANARY_NAME_LEN];
	struct kn_crule *r;

	snprintf(vs_name, sizeof(vs_name), "%s/%s", vs->ns, vs->name);
	for (int j = first_rule; j < c->n_rules; j++)
		if (!strcmp(c->rules[j].rule, rule))
			return kn_compile_fail(
				err, src,
				"this route and an earlier route of this "
				"VirtualService are both named '%s'; their "
				"counters would mix",
				rule);
	r = PUSH(c->rules, c->n_rules);
	if (!r)
		return kn_compile_fail(err, NULL, "out of memory");
	memcpy(r->vs, vs_name, sizeof(r->vs));
	snprintf(r->rule, sizeof(r->rule), "%s", rule);
	return c->n_rules - 1;
}

/*
 * The routes of one VirtualService, compiled once however many ports
 * serve it: every http route with match rules (each with its rule row),
 * else the first (the others can never be reached), rule KANARY_L7_NONE:
 * a weight-only VirtualService has no rule counters, on either path.
 */
struct vs_routes {
	int n; /* 0: not compiled yet */
	uint32_t *route;
	uint32_t *rule;
};

static int vs_compile(const struct kn_config *cfg, struct kn_compiled *c,
		      struct ep_table *et, int i, struct vs_routes *out,
		      struct kn_err *err)
{
	const struct kn_resource *vs = &cfg->res[i];
	int n = kn_vs_is_l7(vs) ? vs->vs.n_http : 1, first_rule = c->n_rules;

	out->route = calloc(n, sizeof(*out->route));
	out->rule = calloc(n, sizeof(*out->rule));
	if (!out->route || !out->rule)
		return kn_compile_fail(err, NULL, "out of memory");
	for (int h = 0; h < n; h++) {
		const struct kn_http_route *hr = &vs->vs.http[h];
		int r = compile_route(cfg, c, et, vs, hr->n_route, hr->route,
				      &hr->src, err);
		char name[KANARY_NAME_LEN];
		int rule = 0;

		kn_vs_rule_name(vs, h, name);
		if (r >= 0 && kn_vs_is_l7(vs))
			rule = l7_rule(c, vs, first_rule, name, &hr->src, err);
		if (r < 0 || rule < 0)
			return -1;
		out->route[h] = r;
		out->rule[h] = kn_vs_is_l7(vs) ? (uint32_t)rule :
						 KANARY_L7_NONE;
	}
	out->n = n;
	return 0;
}

/* The blocks of one VirtualService for virtual host vh, in route order. */
static int l7_vs_blocks(struct kanary_l7_table *t, const struct kn_resource *vs,
			const struct vs_routes *vr, const struct kn_vhost *vh,
			bool *any, struct kn_err *err)
{
	bool b_any = false;

	*any = false;
	for (int h = 0; h < vr->n; h++) {
		const struct kn_http_route *hr = &vs->vs.http[h];

		if (!hr->n_match && l7_block(t, vr->route[h], vr->rule[h], vh,
					     NULL, &hr->src, &b_any, err))
			return -1;
		*any |= b_any;
		for (int j = 0; j < hr->n_match; j++) {
			if (l7_block(t, vr->route[h], vr->rule[h], vh,
				     &hr->match[j], &hr->match[j].src, &b_any,
				     err))
				return -1;
			*any |= b_any;
		}
	}
	return 0;
}

/*
 * Istio merges the VirtualServices that share a host on one gateway in
 * an order it does not promise; kanary takes config order, and refuses
 * what that order would make dead: routes after one that takes every
 * request of the host.
 */
static int l7_shadowed(const struct kn_config *cfg, const struct kn_vhost *vh,
		       int by, uint16_t port, struct kn_err *err)
{
	const struct kn_resource *vs = &cfg->res[vh->vs], *o = &cfg->res[by];

	return kn_compile_fail(
		err, vs->vs.hosts_src.file ? &vs->vs.hosts_src : &vs->src,
		"VirtualService %s/%s: host '%s%s' on gateway port %u is "
		"also VirtualService %s/%s's (%s:%d), which comes first "
		"and has a route that takes every request for it: these "
		"routes would never be used (merge them into one "
		"VirtualService, or give the first a match)",
		vs->ns, vs->name, vh->kind == KN_HOST_SUFFIX ? "*" : "",
		vh->host, port, o->ns, o->name, o->src.file ? o->src.file : "?",
		o->src.line);
}

/*
 * The rule table of an L7 gateway port: one virtual host per host of each
 * VirtualService, in the order Envoy selects them (vhosts.c), each
 * VirtualService's blocks under a condition on the Host. A host whose
 * routes do not all match ends with a stop block when a less specific
 * host follows: Envoy answers 404 there, and never tries another virtual
 * host. Returns the table's index; *route gets the listener's route.
 */
static int compile_port_l7(const struct kn_config *cfg, struct kn_compiled *c,
			   const struct kn_port *p, struct vs_routes *vrs,
			   uint32_t *route, struct kn_err *err)
{
	struct kanary_l7_table *t;
	struct kn_vhost *vh = NULL;
	struct kn_cl7 *l7;
	int n_vh, rc = -1;

	if (c->n_l7 >= KANARY_MAX_L7)
		return kn_compile_fail(
			err, &cfg->res[p->vs[0]].src,
			"more than %d L7 gateway ports (the L7 path's "
			"limit)",
			KANARY_MAX_L7);
	if (kn_vhosts(cfg, p, &vh, &n_vh, err))
		return -1;
	l7 = PUSH(c->l7, c->n_l7);
	if (!l7) {
		free(vh);
		return kn_compile_fail(err, NULL, "out of memory");
	}
	if (p->n_vs == 1)
		snprintf(l7->vs, sizeof(l7->vs), "%s/%s", cfg->res[p->vs[0]].ns,
			 cfg->res[p->vs[0]].name);
	else
		snprintf(l7->vs, sizeof(l7->vs), "port %u", p->port);
	t = &l7->table;
	t->default_block = KANARY_L7_NONE;
	for (int g = 0; g < n_vh;) {
		int end = g, taker = -1;
		bool any;

		while (end < n_vh && kn_vhost_same(&vh[g], &vh[end]))
			end++;
		for (int i = g; i < end; i++) {
			const struct kn_resource *vs = &cfg->res[vh[i].vs];

			if (taker >= 0) {
				l7_shadowed(cfg, &vh[i], taker, p->port, err);
				goto out;
			}
			if (l7_vs_blocks(t, vs, &vrs[vh[i].vs], &vh[i], &any,
					 err))
				goto out;
			if (any)
				taker = vh[i].vs;
		}
		for (int later = end; taker < 0 && later < n_vh; later++) {
			bool stop_any;

			if (!kn_vhost_overlaps(&vh[g], &vh[later]))
				continue;
			if (l7_block(t, KANARY_L7_NONE, KANARY_L7_NONE, &vh[g],
				     NULL, &cfg->res[vh[g].vs].src, &stop_any,
				     err))
				goto out;
			break;
		}
		g = end;
	}
	*route = t->blocks[0].route;
	if (t->default_block != KANARY_L7_NONE)
		*route = t->blocks[t->default_block].route;
	rc = c->n_l7 - 1;
out:
	free(vh);
	return rc;
}

/* ------------------------------------------------------------------ */
/* TLS passthrough: one table per PASSTHROUGH port, merged by SNI */

/* A VirtualService's tls routes, compiled once for all its ports. */
struct tls_routes {
	int n; /* vs->vs.n_tls once compiled; 0 before, -1: to compile */
	uint32_t *route;
	uint32_t *rule;
};

/* One SNI host of one tls route, as the table will try it. */
struct sni_entry {
	int vs; /* index into cfg->res */
	int route; /* index into the VirtualService's tls routes */
	const char *host;
	const struct kn_src *src;
	int rank; /* 0 exact, 1 wildcard, 2 "*" */
	size_t len;
};

static int tls_routes_compile(const struct kn_config *cfg,
			      struct kn_compiled *c, struct ep_table *et,
			      const struct kn_resource *vs,
			      struct tls_routes *tr, struct kn_err *err)
{
	int first_rule = c->n_rules;

	tr->route = calloc(vs->vs.n_tls, sizeof(*tr->route));
	tr->rule = calloc(vs->vs.n_tls, sizeof(*tr->rule));
	if (!tr->route || !tr->rule)
		return kn_compile_fail(err, NULL, "out of memory");
	for (int i = 0; i < vs->vs.n_tls; i++) {
		const struct kn_tls_route *t = &vs->vs.tls[i];
		char name[KANARY_NAME_LEN];
		int r, rule;

		/* Istio's TLSRoute has no name: the counters say tls[i]. */
		snprintf(name, sizeof(name), "tls[%d]", i);
		r = compile_route(cfg, c, et, vs, t->n_route, t->route, &t->src,
				  err);
		rule = r < 0 ? -1 :
			       l7_rule(c, vs, first_rule, name, &t->src, err);
		if (rule < 0)
			return -1;
		tr->route[i] = r;
		tr->rule[i] = rule;
	}
	tr->n = vs->vs.n_tls;
	return 0;
}

/*
 * Envoy picks the filter chain whose server name is the most specific
 * that matches, whatever the order of the routes: an exact name, then
 * wildcards from the longest suffix, then "*" (no server name). Sorted
 * so, the data path's first block that holds is Envoy's pick. Stable:
 * among equals (the same host twice) the first route keeps it.
 */
static bool sni_before(const struct sni_entry *a, const struct sni_entry *b)
{
	if (a->rank != b->rank)
		return a->rank < b->rank;
	return a->rank == 1 && a->len > b->len;
}

static void sni_sort(struct sni_entry *e, int n)
{
	for (int i = 1; i < n; i++) {
		struct sni_entry x = e[i];
		int j = i;

		for (; j > 0 && sni_before(&x, &e[j - 1]); j--)
			e[j] = e[j - 1];
		e[j] = x;
	}
}

/*
 * The SNI hosts of the tls routes that apply to port p, of each of its
 * VirtualServices in config order, sorted in Envoy's order.
 */
static int sni_entries(const struct kn_config *cfg, const struct kn_port *p,
		       struct sni_entry **out)
{
	struct sni_entry *e = NULL, *x;
	int n = 0;

	for (int v = 0; v < p->n_vs; v++) {
		const struct kn_resource *vs = &cfg->res[p->vs[v]];

		if (!(p->by[v] & KN_BY_TLS))
			continue;
		for (int i = 0; i < vs->vs.n_tls; i++) {
			const struct kn_tls_route *t = &vs->vs.tls[i];

			for (int j = 0; j < t->n_match; j++) {
				const struct kn_tls_match *m = &t->match[j];

				if (!kn_tls_match_applies(m, p->port))
					continue;
				for (int k = 0; k < m->n_sni_hosts; k++) {
					const char *h = m->sni_hosts[k];

					x = PUSH(e, n);
					if (!x) {
						free(e);
						return -1;
					}
					x->vs = p->vs[v];
					x->route = i;
					x->host = h;
					x->src = &m->src;
					x->rank = !strcmp(h, "*")      ? 2 :
						  !strncmp(h, "*.", 2) ? 1 :
									 0;
					x->len = strlen(h);
				}
			}
		}
	}
	sni_sort(e, n);
	*out = e;
	return n;
}

/* The SNI condition of block b: the name, or for "*.x" the suffix ".x". */
static int sni_cond(struct kanary_l7_table *t, uint32_t b,
		    const struct sni_entry *e, uint16_t port,
		    struct kn_err *err)
{
	const char *value = e->rank == 1 ? e->host + 1 : e->host;
	size_t len = strlen(value);
	struct kanary_l7_cond *cond;

	if (len > KANARY_L7_VALUE_LEN)
		return kn_compile_fail(
			err, e->src,
			"sniHosts: '%s' is %zu bytes; the L7 path matches "
			"at most %d",
			e->host, len, KANARY_L7_VALUE_LEN);
	if (t->n_conds >= KANARY_L7_MAX_CONDS)
		return kn_compile_fail(
			err, e->src,
			"more than %d SNI hosts in the tls routes of "
			"gateway port %u (the L7 path's limit)",
			KANARY_L7_MAX_CONDS, port);
	cond = &t->conds[t->n_conds++];
	cond->block = b;
	cond->field = KANARY_L7_SNI;
	cond->op = e->rank == 1 ? KANARY_L7_SUFFIX : KANARY_L7_EXACT;
	cond->len = len;
	memcpy(cond->value, value, len);
	return 0;
}

/*
 * The same SNI host in an earlier entry. Within one VirtualService Istio
 * keeps the first route with it (0); from another VirtualService, that
 * one's route would never be used, which kanary refuses (-1), as it does
 * for a host on an HTTP port.
 */
static int sni_seen(const struct kn_config *cfg, const struct sni_entry *e,
		    int i, uint16_t port, struct kn_err *err)
{
	for (int j = 0; j < i; j++) {
		const struct kn_resource *vs, *o;

		if (strcmp(e[j].host, e[i].host))
			continue;
		if (e[j].vs == e[i].vs)
			return 1;
		vs = &cfg->res[e[i].vs];
		o = &cfg->res[e[j].vs];
		return kn_compile_fail(
			err, e[i].src,
			"VirtualService %s/%s: sniHosts '%s' on gateway "
			"port %u is also VirtualService %s/%s's (%s:%d), "
			"which comes first: this route would never be "
			"used for it",
			vs->ns, vs->name, e[i].host, port, o->ns, o->name,
			o->src.file ? o->src.file : "?", o->src.line);
	}
	return 0;
}

/*
 * The TLS table of PASSTHROUGH port p: a block per SNI host of the tls
 * routes of its VirtualServices that apply to it, one condition each
 * ("*": none, the default). Istio merges them so, by SNI: a
 * ClientHello has no Host to tell VirtualServices apart by. Returns the
 * table's index; *route gets the listener's route.
 */
static int tls_table(const struct kn_config *cfg, struct kn_compiled *c,
		     const struct kn_port *p, const struct tls_routes *trs,
		     uint32_t *route, struct kn_err *err)
{
	const struct kn_resource *vs0 = &cfg->res[p->vs[0]];
	struct sni_entry *e;
	struct kanary_l7_table *t;
	struct kn_cl7 *cl7;
	int n = sni_entries(cfg, p, &e), rc = -1;

	if (n < 0)
		return kn_compile_fail(err, NULL, "out of memory");
	if (c->n_l7 >= KANARY_MAX_L7) {
		kn_compile_fail(
			err, &vs0->src,
			"more than %d L7 gateway ports (HTTP ports that need "
			"the request, and TLS ports; the L7 path's limit)",
			KANARY_MAX_L7);
		goto out;
	}
	cl7 = PUSH(c->l7, c->n_l7);
	if (!cl7) {
		kn_compile_fail(err, NULL, "out of memory");
		goto out;
	}
	if (p->n_vs == 1)
		snprintf(cl7->vs, sizeof(cl7->vs), "%s/%s", vs0->ns, vs0->name);
	else
		snprintf(cl7->vs, sizeof(cl7->vs), "port %u", p->port);
	t = &cl7->table;
	t->flags = KANARY_L7_TLS;
	t->default_block = KANARY_L7_NONE;
	for (int i = 0; i < n; i++) {
		const struct tls_routes *tr = &trs[e[i].vs];
		uint32_t b = t->n_blocks;
		int seen = sni_seen(cfg, e, i, p->port, err);

		if (seen < 0)
			goto out;
		if (seen)
			continue;
		if (b >= KANARY_L7_MAX_BLOCKS) {
			kn_compile_fail(
				err, e[i].src,
				"more than %d SNI hosts in the tls routes of "
				"gateway port %u (the L7 path's limit)",
				KANARY_L7_MAX_BLOCKS, p->port);
			goto out;
		}
		t->blocks[b].route = tr->route[e[i].route];
		t->blocks[b].rule = tr->rule[e[i].route];
		t->n_blocks++;
		if (e[i].rank == 2)
			t->default_block = b; /* sorted last: once */
		else if (sni_cond(t, b, &e[i], p->port, err))
			goto out;
	}
	/* The plan binds a port by tls routes that apply: never empty. */
	*route = t->blocks[0].route;
	if (t->default_block != KANARY_L7_NONE)
		*route = t->blocks[t->default_block].route;
	rc = c->n_l7 - 1;
out:
	free(e);
	return rc;
}

/* ------------------------------------------------------------------ */

static int add_listener(struct kn_compiled *c, uint16_t port, uint32_t route,
			uint32_t l7, struct kn_err *err)
{
	struct kn_clistener *l = PUSH(c->listeners, c->n_listeners);

	if (!l)
		return kn_compile_fail(err, NULL, "out of memory");
	l->port = port;
	l->route = route;
	l->l7 = l7;
	return 0;
}

int kn_compile(const struct kn_config *cfg, struct kn_compiled *out,
	       struct kn_err *err)
{
	return kn_compile_with(cfg, NULL, out, err);
}

/*
 * The served VirtualServices' routes first, in config order (each one's
 * http routes if an HTTP or other port serves it, then its tls routes if
 * a PASSTHROUGH port does), then one listener per gateway port: its one
 * VirtualService's route (L4), a rule table merging every VirtualService
 * it serves by Host (L7), or a TLS table merging them by SNI.
 */
int kn_compile_with(const struct kn_config *cfg,
		    const struct kn_compile_opts *opts, struct kn_compiled *out,
		    struct kn_err *err)
{
	struct kn_compiled c = { 0 };
	struct ep_table et = { .opts = opts };
	struct vs_routes *vrs =
		calloc(cfg->n_res ? cfg->n_res : 1, sizeof(*vrs));
	struct tls_routes *trs =
		calloc(cfg->n_res ? cfg->n_res : 1, sizeof(*trs));
	struct kn_ports ports;
	int rc = -1;

	if (!vrs || !trs) {
		kn_compile_fail(err, NULL, "out of memory");
		goto out;
	}
	if (kn_ports_plan(cfg, &ports, err))
		goto out;
	for (int i = 0; i < ports.n; i++)
		for (int v = 0; v < ports.port[i].n_vs; v++) {
			int vs = ports.port[i].vs[v];

			/* served: by its http routes, its tls routes */
			if (ports.port[i].by[v] & KN_BY_HTTP)
				vrs[vs].n = -1;
			if (ports.port[i].by[v] & KN_BY_TLS)
				trs[vs].n = -1;
		}
	for (int i = 0; i < cfg->n_res; i++) {
		const struct kn_resource *vs = &cfg->res[i];

		if (vrs[i].n && vs_compile(cfg, &c, &et, i, &vrs[i], err))
			goto out_ports;
		if (trs[i].n &&
		    tls_routes_compile(cfg, &c, &et, vs, &trs[i], err))
			goto out_ports;
	}
	for (int i = 0; i < ports.n; i++) {
		const struct kn_port *p = &ports.port[i];
		uint32_t route = 0;
		int l7 = 0;

		if (p->tls)
			l7 = tls_table(cfg, &c, p, trs, &route, err);
		else if (p->l7)
			l7 = compile_port_l7(cfg, &c, p, vrs, &route, err);
		else
			route = vrs[p->vs[0]].route[0];
		if (l7 < 0)
			goto out_ports;
		if (add_listener(&c, p->port, route,
				 p->l7 ? (uint32_t)l7 : KANARY_L7_NONE, err))
			goto out_ports;
	}
	rc = 0;
out_ports:
	kn_ports_free(&ports);
out:
	for (int i = 0; vrs && trs && i < cfg->n_res; i++) {
		free(vrs[i].route);
		free(vrs[i].rule);
		free(trs[i].route);
		free(trs[i].rule);
	}
	free(vrs);
	free(trs);
	free(et.slot);
	if (rc)
		kn_compiled_free(&c);
	else
		*out = c;
	return rc;
}

void kn_compiled_free(struct kn_compiled *c)
{
	free(c->listeners);
	free(c->routes);
	free(c->pools);
	free(c->eps);
	free(c->l7);
	free(c->rules);
	memset(c, 0, sizeof(*c));
}
