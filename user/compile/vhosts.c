// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compile.h"
#include "vhosts.h"
#include "yaml_tree.h"

bool kn_port_is_http(const struct kn_port *p)
{
	return !p->protocol || !strcasecmp(p->protocol, "HTTP");
}

bool kn_tls_match_applies(const struct kn_tls_match *m, uint16_t port)
{
	return !m->port || m->port == port;
}

/* "name" is in the VirtualService's namespace, "ns/name" is explicit. */
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

static struct kn_port *port_of(struct kn_ports *out,
			       const struct kn_gw_server *sv)
{
	struct kn_port *p;

	for (int i = 0; i < out->n; i++)
		if (out->port[i].port == sv->port)
			return &out->port[i];
	out->port =
		kn_yt_xreallocarray(out->port, out->n + 1, sizeof(*out->port));
	p = &out->port[out->n++];
	memset(p, 0, sizeof(*p));
	p->port = sv->port;
	p->protocol = sv->protocol;
	p->server = sv;
	return p;
}

/* VirtualService vs's slot on port p, added when new. */
static int add_vs(struct kn_port *p, int vs)
{
	for (int i = 0; i < p->n_vs; i++)
		if (p->vs[i] == vs)
			return i;
	p->vs = kn_yt_xreallocarray(p->vs, p->n_vs + 1, sizeof(*p->vs));
	p->by = kn_yt_xreallocarray(p->by, p->n_vs + 1, sizeof(*p->by));
	p->n_hosts = kn_yt_xreallocarray(p->n_hosts, p->n_vs + 1,
					 sizeof(*p->n_hosts));
	p->hosts =
		kn_yt_xreallocarray(p->hosts, p->n_vs + 1, sizeof(*p->hosts));
	p->vs[p->n_vs] = vs;
	p->by[p->n_vs] = 0;
	p->n_hosts[p->n_vs] = 0;
	p->hosts[p->n_vs] = NULL;
	return p->n_vs++;
}

static void add_host(struct kn_port *p, int slot, const char *host)
{
	for (int i = 0; i < p->n_hosts[slot]; i++)
		if (!strcmp(p->hosts[slot][i], host))
			return;
	p->hosts[slot] = kn_yt_xreallocarray(
		p->hosts[slot], p->n_hosts[slot] + 1, sizeof(**p->hosts));
	p->hosts[slot][p->n_hosts[slot]++] = kn_yt_xstrdup(host);
}

static void lower(char *dst, const char *src, size_t size)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = tolower((unsigned char)src[i]);
	dst[i] = '\0';
}

/* Does Gateway server host sh ("[ns/]host") admit VirtualService vs? */
static const char *server_host(const char *sh, const struct kn_resource *gw,
			       const struct kn_resource *vs)
{
	const char *slash = strchr(sh, '/');
	size_t len;

	if (!slash)
		return sh;
	len = slash - sh;
	if (len == 1 && sh[0] == '*')
		return slash + 1;
	if (len == 1 && sh[0] == '.')
		return strcmp(gw->ns, vs->ns) ? NULL : slash + 1;
	if (strlen(vs->ns) == len && !strncmp(vs->ns, sh, len))
		return slash + 1;
	return NULL;
}

/*
 * Which of VirtualService vs's routes serve Gateway server sv, as Istio
 * applies them: a PASSTHROUGH server its tls routes (those whose match
 * applies to the port; none: nothing), any other server its http routes.
 * 0: nothing.
 */
static int server_by(const struct kn_resource *vs,
		     const struct kn_gw_server *sv)
{
	if (kn_gw_server_passthrough(sv) && vs->vs.n_tls) {
		for (int i = 0; i < vs->vs.n_tls; i++) {
			const struct kn_tls_route *t = &vs->vs.tls[i];

			for (int j = 0; j < t->n_match; j++)
				if (kn_tls_match_applies(&t->match[j],
							 sv->port))
					return KN_BY_TLS;
		}
		return 0;
	}
	return vs->vs.n_http ? KN_BY_HTTP : 0;
}

/*
 * The hosts VirtualService vs serves through Gateway gw's server sv: its
 * own met with the server's, added to its slot on port p. Istio serves
 * a VirtualService on a server only where their hosts meet, whether it
 * routes by Host or by SNI.
 */
static bool bind_server(struct kn_ports *out, const struct kn_resource *gw,
			const struct kn_gw_server *sv,
			const struct kn_resource *vs, int i)
{
	int by = server_by(vs, sv);
	struct kn_port *p = NULL;
	char a[256], b[256];
	int slot = -1;

	if (!by)
		return false;
	for (int h = 0; h < (vs->vs.n_hosts ? vs->vs.n_hosts : 1); h++) {
		lower(a, vs->vs.n_hosts ? vs->vs.hosts[h] : "*", sizeof(a));
		for (int k = 0; k < sv->n_hosts; k++) {
			const char *sh = server_host(sv->hosts[k], gw, vs);
			const char *meet;

			if (!sh)
				continue;
			lower(b, sh, sizeof(b));
			meet = kn_host_meet(a, b);
			if (!meet)
				continue;
			/* A port only once something binds it: status
			 * lists no port that serves nothing. */
			if (slot < 0) {
				p = port_of(out, sv);
				slot = add_vs(p, i);
			}
			add_host(p, slot, meet);
		}
	}
	if (slot < 0)
		return false;
	p->by[slot] |= by;
	/* The port is what its SNI-routed server says, not another's. */
	if (by == KN_BY_TLS && !p->tls) {
		p->tls = true;
		p->server = sv;
		p->protocol = sv->protocol;
	}
	return true;
}

/* Bind VirtualService i to the ports of its Gateways; false: none. */
static int bind_vs(const struct kn_config *cfg, struct kn_ports *out, int i,
		   bool *served, struct kn_err *err)
{
	const struct kn_resource *vs = &cfg->res[i];

	*served = false;
	for (int g = 0; g < vs->vs.n_gateways; g++) {
		const struct kn_resource *gw;

		/* The sidecars' pseudo-gateway: nothing for kanary. */
		if (!strcmp(vs->vs.gateways[g], "mesh"))
			continue;
		gw = find_gateway(cfg, vs, vs->vs.gateways[g]);
		if (!gw)
			return kn_compile_fail(err, &vs->src,
					       "unknown gateway %s",
					       vs->vs.gateways[g]);
		for (int s = 0; s < gw->gw.n_servers; s++)
			*served |=
				bind_server(out, gw, &gw->gw.servers[s], vs, i);
	}
	return 0;
}

/*
 * A port routed by SNI takes tls routes only: several VirtualServices'
 * merge by SNI (compile.c), but http routes could never be used there.
 */
static int decide_tls(const struct kn_config *cfg, struct kn_port *p,
		      struct kn_err *err)
{
	const struct kn_resource *t = NULL;

	for (int i = 0; i < p->n_vs && !t; i++)
		if (p->by[i] & KN_BY_TLS)
			t = &cfg->res[p->vs[i]];
	for (int i = 0; i < p->n_vs; i++) {
		const struct kn_resource *vs = &cfg->res[p->vs[i]];

		if (!(p->by[i] & KN_BY_HTTP))
			continue;
		return kn_compile_fail(
			err, &vs->src,
			"VirtualService %s/%s: its http routes bind "
			"gateway port %u, which a PASSTHROUGH server "
			"routes by SNI with VirtualService %s/%s's tls "
			"routes (%s:%d): a port is routed by one or the "
			"other",
			vs->ns, vs->name, p->port, t->ns, t->name,
			t->src.file ? t->src.file : "?", t->src.line);
	}
	p->l7 = true;
	return 0;
}

/* Which path port p takes; -1 for what neither can do. */
static int decide(const struct kn_config *cfg, struct kn_port *p,
		  struct kn_err *err)
{
	bool match = false, hosts = false;

	if (p->tls)
		return decide_tls(cfg, p, err);

	for (int i = 0; i < p->n_vs; i++) {
		bool any = false;

		for (int h = 0; h < p->n_hosts[i]; h++)
			any |= !strcmp(p->hosts[i][h], "*");
		match |= kn_vs_is_l7(&cfg->res[p->vs[i]]);
		hosts |= !any;
	}
	if (kn_port_is_http(p)) {
		p->l7 = match || hosts || p->n_vs > 1;
		return 0;
	}
	/* Matching reads the request: TLS or HTTP/2 would take the
	 * default route every time, silently. */
	for (int i = 0; i < p->n_vs; i++) {
		const struct kn_resource *vs = &cfg->res[p->vs[i]];

		if (kn_vs_is_l7(vs))
			return kn_compile_fail(
				err, &p->server->src,
				"gateway port %u is %s, and VirtualService "
				"%s/%s has match rules: the L7 path reads "
				"plain HTTP/1.x requests only",
				p->port, p->protocol, vs->ns, vs->name);
	}
	if (p->n_vs > 1) {
		const struct kn_resource *a = &cfg->res[p->vs[0]];
		const struct kn_resource *b = &cfg->res[p->vs[1]];

		return kn_compile_fail(
			err, &b->src,
			"VirtualService %s/%s: gateway port %u is %s, and "
			"VirtualService %s/%s (%s:%d) binds it too: kanary "
			"tells VirtualServices apart by Host on HTTP "
			"ports only (and by SNI on PASSTHROUGH ones)",
			b->ns, b->name, p->port, p->protocol, a->ns, a->name,
			a->src.file ? a->src.file : "?", a->src.line);
	}
	return 0;
}

int kn_ports_plan(const struct kn_config *cfg, struct kn_ports *out,
		  struct kn_err *err)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < cfg->n_res; i++) {
		bool served;

		if (cfg->res[i].kind != KN_VIRTUALSERVICE ||
		    (!cfg->res[i].vs.n_http && !cfg->res[i].vs.n_tls))
			continue;
		if (bind_vs(cfg, out, i, &served, err))
			goto bad;
		if (served)
			continue;
		out->unserved = kn_yt_xreallocarray(out->unserved,
						    out->n_unserved + 1,
						    sizeof(*out->unserved));
		out->unserved[out->n_unserved++] = i;
	}
	for (int i = 0; i < out->n; i++)
		if (decide(cfg, &out->port[i], err))
			goto bad;
	return 0;
bad:
	kn_ports_free(out);
	return -1;
}

void kn_ports_free(struct kn_ports *p)
{
	for (int i = 0; i < p->n; i++) {
		for (int v = 0; v < p->port[i].n_vs; v++) {
			for (int h = 0; h < p->port[i].n_hosts[v]; h++)
				free(p->port[i].hosts[v][h]);
			free(p->port[i].hosts[v]);
		}
		free(p->port[i].vs);
		free(p->port[i].by);
		free(p->port[i].n_hosts);
		free(p->port[i].hosts);
	}
	free(p->port);
	free(p->unserved);
	memset(p, 0, sizeof(*p));
}

/* Envoy's order: exact, longer suffixes first, "*"; then config order. */
static int vhost_order(const void *pa, const void *pb)
{
	const struct kn_vhost *a = pa, *b = pb;
	int c;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == KN_HOST_SUFFIX && strlen(a->host) != strlen(b->host))
		return strlen(a->host) > strlen(b->host) ? -1 : 1;
	c = strcmp(a->host, b->host);
	if (c)
		return c;
	return a->vs < b->vs ? -1 : a->vs > b->vs;
}

static int add_vhost(struct kn_vhost **out, int *n, const char *host, int vs,
		     const struct kn_resource *r, struct kn_err *err)
{
	enum kn_host_kind kind = kn_host_kind(host);
	const char *h = kind == KN_HOST_SUFFIX ? host + 1 : host;
	struct kn_vhost v = { .kind = kind, .vs = vs };
	size_t len = strlen(h);

	if (len > KANARY_L7_VALUE_LEN)
		return kn_compile_fail(
			err, r->vs.hosts_src.file ? &r->vs.hosts_src : &r->src,
			"VirtualService %s/%s: host '%s' is %zu bytes; the "
			"L7 path matches hosts of at most %d",
			r->ns, r->name, host, len, KANARY_L7_VALUE_LEN);
	for (size_t i = 0; i <= len; i++)
		v.host[i] = tolower((unsigned char)h[i]);
	/* One VirtualService naming a host twice: one virtual host. */
	for (int i = 0; i < *n; i++)
		if ((*out)[i].vs == vs && kn_vhost_same(&(*out)[i], &v))
			return 0;
	*out = kn_yt_xreallocarray(*out, *n + 1, sizeof(**out));
	(*out)[(*n)++] = v;
	return 0;
}

int kn_vhosts(const struct kn_config *cfg, const struct kn_port *p,
	      struct kn_vhost **out, int *n, struct kn_err *err)
{
	*out = NULL;
	*n = 0;
	for (int i = 0; i < p->n_vs; i++) {
		const struct kn_resource *r = &cfg->res[p->vs[i]];
		int rc = 0;

		for (int h = 0; !rc && h < p->n_hosts[i]; h++)
			rc = add_vhost(out, n, p->hosts[i][h], p->vs[i], r,
				       err);
		if (rc) {
			free(*out);
			*out = NULL;
			*n = 0;
			return -1;
		}
	}
	qsort(*out, *n, sizeof(**out), vhost_order);
	return 0;
}

/* Does s end with suffix (".x"), after at least one byte, or equal it? */
static bool within(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

const char *kn_host_meet(const char *a, const char *b)
{
	enum kn_host_kind ka = kn_host_kind(a), kb = kn_host_kind(b);

	if (ka == KN_HOST_ANY)
		return b;
	if (kb == KN_HOST_ANY)
		return a;
	if (ka == KN_HOST_EXACT && kb == KN_HOST_EXACT)
		return strcmp(a, b) ? NULL : a;
	if (ka == KN_HOST_EXACT)
		return strlen(a) > strlen(b + 1) && within(a, b + 1) ? a : NULL;
	if (kb == KN_HOST_EXACT)
		return strlen(b) > strlen(a + 1) && within(b, a + 1) ? b : NULL;
	/* Two suffixes: the longer, if it ends with the shorter. */
	if (within(a + 1, b + 1))
		return a;
	return within(b + 1, a + 1) ? b : NULL;
}

bool kn_vhost_same(const struct kn_vhost *a, const struct kn_vhost *b)
{
	return a->kind == b->kind && !strcmp(a->host, b->host);
}

/* Does s end with suffix, after at least one byte? */
static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix);
}

bool kn_vhost_overlaps(const struct kn_vhost *first,
		       const struct kn_vhost *later)
{
	if (later->kind == KN_HOST_ANY)
		return true;
	if (later->kind == KN_HOST_EXACT)
		return first->kind == KN_HOST_EXACT &&
		       !strcmp(first->host, later->host);
	/* later is a suffix: a host first takes may end with it. */
	return first->kind != KN_HOST_ANY &&
	       (ends_with(first->host, later->host) ||
		!strcmp(first->host, later->host));
}
