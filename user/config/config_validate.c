// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Cross-resource checks: what `istioctl analyze` would say about the
 * config, and what kanary needs on top of it (at most KANARY_MAX_DESTS
 * destinations, weights that fit the data path's uint32 arithmetic).
 *
 * Checks run resource by resource in read order and stop at the first
 * problem, so the message names the first offending line of the input.
 * Lookups go through the config's index (config_index.c), so that the
 * whole check is about linear in the number of resources.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_index.h"
#include "kanary_abi.h"
#include "yaml_tree.h"

static int kn_va_error(struct kn_err *err, const struct kn_src *src,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int kn_va_error(struct kn_err *err, const struct kn_src *src,
		       const char *fmt, ...)
{
	size_t size = sizeof(err->msg);
	va_list ap;
	int off;

	off = snprintf(err->msg, size, "%s:%d: ", src->file ? src->file : "?",
		       src->line);
	if (off >= 0 && (size_t)off < size) {
		va_start(ap, fmt);
		vsnprintf(err->msg + off, size - off, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/*
 * Reading appends, so two files may well define the same resource. The
 * message names the first one with the same kind, namespace and name.
 */
static int kn_va_unique(const struct kn_config *cfg, int i, struct kn_err *err)
{
	const struct kn_resource *r = &cfg->res[i], *q;
	int j = kn_index_same(cfg, r);

	if (j < 0 || j >= i)
		return 0;
	q = &cfg->res[j];
	return kn_va_error(err, &r->src, "duplicate %s %s/%s (also at %s:%d)",
			   kn_kind_name(r->kind), r->ns, r->name,
			   q->src.file ? q->src.file : "?", q->src.line);
}

/* "a=1,b=2" for messages; selector first, then the subset's labels. */
static void kn_va_labels(char *buf, size_t size, const struct kn_labels *a,
			 const struct kn_labels *b)
{
	const struct kn_labels *sets[] = { a, b };
	size_t off = 0;
	int s, i;

	buf[0] = '\0';
	for (s = 0; s < 2; s++) {
		for (i = 0; sets[s] && i < sets[s]->n && off < size; i++)
			off += snprintf(buf + off, size - off, "%s%s=%s",
					off ? "," : "", sets[s]->kv[i].key,
					sets[s]->kv[i].value);
	}
}

/* ------------------------------------------------------------------ */
/* DestinationRule, WorkloadEntry */

static int kn_va_destrule(const struct kn_config *cfg,
			  const struct kn_resource *r, struct kn_err *err)
{
	const struct kn_subset *s, *t;
	const struct kn_resource *svc, *first;
	int i, j;

	for (i = 0; i < r->dr.n_subsets; i++) {
		s = &r->dr.subsets[i];
		for (j = 0; j < i; j++) {
			t = &r->dr.subsets[j];
			if (!strcmp(s->name, t->name))
				return kn_va_error(
					err, &s->src,
					"duplicate subset '%s' (first on line %d)",
					s->name, t->src.line);
		}
	}
	/* Istio would pick one silently; which one is anybody's guess. */
	svc = kn_config_resolve_host(cfg, r->ns, r->dr.host);
	first = svc ? kn_config_destrule_for(cfg, svc) : NULL;
	if (first && first != r)
		return kn_va_error(
			err, &r->src,
			"Service %s/%s already has DestinationRule %s/%s (%s:%d)",
			svc->ns, svc->name, first->ns, first->name,
			first->src.file ? first->src.file : "?",
			first->src.line);
	return 0;
}

static bool kn_va_svc_has_port_name(const struct kn_resource *svc,
				    const char *name)
{
	int i;

	for (i = 0; i < svc->svc.n_ports; i++)
		if (svc->svc.ports[i].name &&
		    !strcmp(svc->svc.ports[i].name, name))
			return true;
	return false;
}

/*
 * A WorkloadEntry's ports are keyed by Service port name; a typo would
 * silently send traffic to the targetPort instead, so it is an error.
 */
static int kn_va_workloadentry(const struct kn_config *cfg,
			       const struct kn_resource *we, struct kn_err *err)
{
	const struct kn_resource *svc, *some = NULL;
	const int *svcs = NULL;
	int i, j, n = 0;
	bool found;

	if (we->we.n_ports)
		svcs = kn_index_services(cfg, we, &n);
	for (i = 0; i < we->we.n_ports; i++) {
		found = false;
		/* The Services it is an endpoint of, in order. */
		for (j = 0; j < n && !found; j++) {
			svc = &cfg->res[svcs[j]];
			some = svc;
			found = kn_va_svc_has_port_name(svc,
							we->we.ports[i].name);
		}
		if (some && !found)
			return kn_va_error(
				err, &we->src,
				"WorkloadEntry %s: port '%s' is not a port name of Service %s",
				we->name, we->we.ports[i].name, some->name);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* VirtualService */

/* "name" is in the VirtualService's namespace, "ns/name" is explicit. */
static const struct kn_resource *kn_va_gateway(const struct kn_config *cfg,
					       const struct kn_resource *vs,
					       const char *ref)
{
	const char *slash = strchr(ref, '/');
	char ns[256];
	size_t len;

	if (!slash)
		return kn_config_find(cfg, KN_GATEWAY, vs->ns, ref);
	len = slash - ref;
	if (!len || len >= sizeof(ns))
		return NULL;
	memcpy(ns, ref, len);
	ns[len] = '\0';
	return kn_config_find(cfg, KN_GATEWAY, ns, slash + 1);
}

static bool kn_va_mesh(const char *ref)
{
	/* The sidecars' pseudo-gateway: nothing for kanary to serve. */
	return !strcmp(ref, "mesh");
}

/*
 * Every gateway a VirtualService names must exist. Several VirtualServices
 * may share a Gateway port: the compiler merges them by host
 * (user/compile/vhosts.c), as Istio does.
 */
static int kn_va_gateways(const struct kn_config *cfg,
			  const struct kn_resource *vs, struct kn_err *err)
{
	const char *ref;
	int i;

	for (i = 0; i < vs->vs.n_gateways; i++) {
		ref = vs->vs.gateways[i];
		if (kn_va_mesh(ref))
			continue;
		if (!kn_va_gateway(cfg, vs, ref))
			return kn_va_error(
				err, &vs->src,
				"VirtualService %s: unknown gateway '%s'",
				vs->name, ref);
	}
	return 0;
}

static int kn_va_dest_port(const struct kn_resource *svc,
			   const struct kn_destination *d,
			   const struct kn_service_port **out,
			   struct kn_err *err)
{
	char ports[128];
	size_t off = 0;
	int i;

	if (!d->port && svc->svc.n_ports > 1)
		return kn_va_error(
			err, &d->src,
			"Service %s has %d ports: destination needs port.number",
			svc->name, svc->svc.n_ports);
	for (i = 0; i < svc->svc.n_ports; i++) {
		if (!d->port || svc->svc.ports[i].port == d->port) {
			*out = &svc->svc.ports[i];
			return 0;
		}
	}
	ports[0] = '\0';
	for (i = 0; i < svc->svc.n_ports && off < sizeof(ports); i++)
		off += snprintf(ports + off, sizeof(ports) - off, "%s%u",
				i ? ", " : "", svc->svc.ports[i].port);
	return kn_va_error(err, &d->src,
			   "port %u is not a port of Service %s (it has %s)",
			   d->port, svc->name, ports);
}

static int kn_va_dest_subset(const struct kn_config *cfg,
			     const struct kn_resource *svc,
			     const struct kn_destination *d,
			     const struct kn_subset **out, struct kn_err *err)
{
	const struct kn_resource *dr;
	int i;

	*out = NULL;
	if (!d->subset)
		return 0;
	dr = kn_config_destrule_for(cfg, svc);
	if (!dr)
		return kn_va_error(
			err, &d->src,
			"unknown subset '%s' of %s (no DestinationRule for it)",
			d->subset, svc->name);
	for (i = 0; i < dr->dr.n_subsets; i++) {
		if (!strcmp(dr->dr.subsets[i].name, d->subset)) {
			*out = &dr->dr.subsets[i];
			return 0;
		}
	}
	return kn_va_error(
		err, &d->src,
		"unknown subset '%s' of %s (not in DestinationRule %s, %s:%d)",
		d->subset, svc->name, dr->name,
		dr->src.file ? dr->src.file : "?", dr->src.line);
}

static int kn_va_endpoints(const struct kn_config *cfg,
			   const struct kn_resource *svc,
			   const struct kn_subset *subset,
			   const struct kn_destination *d, struct kn_err *err)
{
	char sel[512], what[256];
	const int *eps;
	int i, n;

	/* An endpoint of the subset is one of the Service's. */
	eps = kn_index_endpoints(cfg, svc, &n);
	for (i = 0; i < n; i++)
		if (kn_config_is_endpoint(svc, subset, &cfg->res[eps[i]]))
			return 0;
	if (subset)
		snprintf(what, sizeof(what), "subset %s of %s", subset->name,
			 svc->name);
	else
		snprintf(what, sizeof(what), "%s", svc->name);
	if (!svc->svc.selector.n)
		return kn_va_error(
			err, &d->src,
			"%s has no endpoints (Service %s has no selector)",
			what, svc->name);
	kn_va_labels(sel, sizeof(sel), &svc->svc.selector,
		     subset ? &subset->labels : NULL);
	return kn_va_error(
		err, &d->src,
		"%s has no endpoints (no WorkloadEntry in namespace %s matches %s)",
		what, svc->ns, sel);
}

static int kn_va_destination(const struct kn_config *cfg,
			     const struct kn_resource *vs,
			     const struct kn_destination *d, struct kn_err *err)
{
	const struct kn_service_port *sp;
	const struct kn_subset *subset;
	const struct kn_resource *svc;

	svc = kn_config_resolve_host(cfg, vs->ns, d->host);
	if (!svc)
		return kn_va_error(
			err, &d->src,
			"unknown host '%s' (no such Service seen from namespace %s)",
			d->host, vs->ns);
	if (kn_va_dest_port(svc, d, &sp, err) ||
	    kn_va_dest_subset(cfg, svc, d, &subset, err))
		return -1;
	if (d->has_weight && d->weight < 0)
		return kn_va_error(err, &d->src, "weight must be >= 0 (got %d)",
				   d->weight);
	return kn_va_endpoints(cfg, svc, subset, d, err);
}

/*
 * Istio's weights are relative: a destination gets weight / sum, a missing
 * weight counts as 0 beside others, a lone destination gets everything.
 */
static int kn_va_weights(int n, const struct kn_destination *route,
			 const struct kn_src *src, struct kn_err *err)
{
	uint64_t sum = 0;
	int i;

	if (n > KANARY_MAX_DESTS)
		return kn_va_error(
			err, src,
			"%d destinations in one route; kanary takes at most %d",
			n, KANARY_MAX_DESTS);
	if (n < 2)
		return 0;
	for (i = 0; i < n; i++)
		if (route[i].has_weight && route[i].weight > 0)
			sum += route[i].weight;
	if (!sum)
		return kn_va_error(
			err, src,
			"all weights are 0: the route sends traffic nowhere");
	if (sum > UINT32_MAX)
		return kn_va_error(err, src,
				   "weights add up to %llu, more than %u",
				   (unsigned long long)sum, UINT32_MAX);
	return 0;
}

static int kn_va_route(const struct kn_config *cfg,
		       const struct kn_resource *vs, int n,
		       const struct kn_destination *route,
		       const struct kn_src *src, struct kn_err *err)
{
	for (int j = 0; j < n; j++)
		if (kn_va_destination(cfg, vs, &route[j], err))
			return -1;
	return kn_va_weights(n, route, src, err);
}

/*
 * Does host name (or wildcard) a fall within b, a VirtualService host?
 * Istio requires it of every SNI host: "*.a.example" within "*.example".
 */
static bool kn_va_host_within(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (!strcmp(b, "*") || !strcasecmp(a, b))
		return true;
	if (strncmp(b, "*.", 2) || !strcmp(a, "*"))
		return false;
	/* b is "*.suffix": a must end in ".suffix", with something before */
	return la > lb - 1 && !strcasecmp(a + la - (lb - 1), b + 1);
}

static int kn_va_sni_hosts(const struct kn_resource *vs,
			   const struct kn_tls_match *m, struct kn_err *err)
{
	for (int i = 0; i < m->n_sni_hosts; i++) {
		int h;

		for (h = 0; h < vs->vs.n_hosts; h++)
			if (kn_va_host_within(m->sni_hosts[i], vs->vs.hosts[h]))
				break;
		if (h == vs->vs.n_hosts)
			return kn_va_error(
				err, &m->src,
				"sniHosts: '%s' is not within the "
				"VirtualService's hosts (Istio requires it)",
				m->sni_hosts[i]);
	}
	return 0;
}

static int kn_va_virtualservice(const struct kn_config *cfg,
				const struct kn_resource *vs,
				struct kn_err *err)
{
	int i, j;

	if (kn_va_gateways(cfg, vs, err))
		return -1;
	for (i = 0; i < vs->vs.n_http; i++) {
		const struct kn_http_route *h = &vs->vs.http[i];

		if (kn_va_route(cfg, vs, h->n_route, h->route, &h->src, err))
			return -1;
	}
	for (i = 0; i < vs->vs.n_tls; i++) {
		const struct kn_tls_route *t = &vs->vs.tls[i];

		for (j = 0; j < t->n_match; j++)
			if (kn_va_sni_hosts(vs, &t->match[j], err))
				return -1;
		if (kn_va_route(cfg, vs, t->n_route, t->route, &t->src, err))
			return -1;
	}
	return 0;
}

int kn_config_validate(const struct kn_config *cfg, struct kn_err *err)
{
	const struct kn_resource *r;
	struct kn_err dummy;
	int i, ret = 0;

	if (!err)
		err = &dummy;
	for (i = 0; i < cfg->n_res && !ret; i++) {
		r = &cfg->res[i];
		ret = kn_va_unique(cfg, i, err);
		if (!ret && r->kind == KN_DESTINATIONRULE)
			ret = kn_va_destrule(cfg, r, err);
		else if (!ret && r->kind == KN_WORKLOADENTRY)
			ret = kn_va_workloadentry(cfg, r, err);
		else if (!ret && r->kind == KN_VIRTUALSERVICE)
			ret = kn_va_virtualservice(cfg, r, err);
	}
	return ret ? -1 : 0;
}
