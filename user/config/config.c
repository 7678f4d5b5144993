// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The config model's life cycle and lookups: freeing, moving resources
 * between configs (append, merge) with the file names they point to, and
 * the name resolution shared by the validator and the compiler, through
 * the lookup tables of config_index.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_index.h"
#include "yaml_tree.h"

const char *kn_kind_name(enum kn_kind kind)
{
	static const char *const names[KN_KIND_MAX] = {
		[KN_GATEWAY] = "Gateway",
		[KN_SERVICE] = "Service",
		[KN_DESTINATIONRULE] = "DestinationRule",
		[KN_VIRTUALSERVICE] = "VirtualService",
		[KN_WORKLOADENTRY] = "WorkloadEntry",
	};

	if ((unsigned int)kind >= KN_KIND_MAX)
		return "?";
	return names[kind];
}

int kn_err_set(struct kn_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------------ */
/* Freeing */

static void kn_strv_free(int n, char **v)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void kn_labels_free(struct kn_labels *l)
{
	int i;

	for (i = 0; i < l->n; i++) {
		free(l->kv[i].key);
		free(l->kv[i].value);
	}
	free(l->kv);
}

static void kn_gateway_free(struct kn_gateway *gw)
{
	int i;

	for (i = 0; i < gw->n_servers; i++) {
		free(gw->servers[i].port_name);
		free(gw->servers[i].protocol);
		free(gw->servers[i].tls_mode);
		kn_strv_free(gw->servers[i].n_hosts, gw->servers[i].hosts);
	}
	free(gw->servers);
	kn_labels_free(&gw->selector);
}

static void kn_service_free(struct kn_service *svc)
{
	int i;

	for (i = 0; i < svc->n_ports; i++) {
		free(svc->ports[i].name);
		free(svc->ports[i].protocol);
	}
	free(svc->ports);
	kn_labels_free(&svc->selector);
}

static void kn_destrule_free(struct kn_destrule *dr)
{
	int i;

	for (i = 0; i < dr->n_subsets; i++) {
		free(dr->subsets[i].name);
		kn_labels_free(&dr->subsets[i].labels);
	}
	free(dr->subsets);
	free(dr->host);
	free(dr->check.http_path);
	free(dr->check.http_expect);
}

static void kn_header_matches_free(int n, struct kn_header_match *h)
{
	int i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].match.value);
	}
	free(h);
}

static void kn_http_match_free(struct kn_http_match *m)
{
	kn_header_matches_free(m->n_headers, m->headers);
	kn_header_matches_free(m->n_without_headers, m->without_headers);
	free(m->uri.value);
	free(m->method.value);
}

static void kn_destinations_free(int n, struct kn_destination *d)
{
	for (int i = 0; i < n; i++) {
		free(d[i].host);
		free(d[i].subset);
	}
	free(d);
}

static void kn_http_route_free(struct kn_http_route *r)
{
	int i;

	free(r->name);
	for (i = 0; i < r->n_match; i++)
		kn_http_match_free(&r->match[i]);
	free(r->match);
	kn_destinations_free(r->n_route, r->route);
}

static void kn_tls_route_free(struct kn_tls_route *t)
{
	for (int i = 0; i < t->n_match; i++)
		kn_strv_free(t->match[i].n_sni_hosts, t->match[i].sni_hosts);
	free(t->match);
	kn_destinations_free(t->n_route, t->route);
}

static void kn_virtualservice_free(struct kn_virtualservice *vs)
{
	int i;

	kn_strv_free(vs->n_hosts, vs->hosts);
	kn_strv_free(vs->n_gateways, vs->gateways);
	for (i = 0; i < vs->n_http; i++)
		kn_http_route_free(&vs->http[i]);
	free(vs->http);
	for (i = 0; i < vs->n_tls; i++)
		kn_tls_route_free(&vs->tls[i]);
	free(vs->tls);
}

static void kn_workloadentry_free(struct kn_workloadentry *we)
{
	int i;

	free(we->address);
	kn_labels_free(&we->labels);
	for (i = 0; i < we->n_ports; i++)
		free(we->ports[i].name);
	free(we->ports);
}

static void kn_resource_free(struct kn_resource *r)
{
	switch (r->kind) {
	case KN_GATEWAY:
		kn_gateway_free(&r->gw);
		break;
	case KN_SERVICE:
		kn_service_free(&r->svc);
		break;
	case KN_DESTINATIONRULE:
		kn_destrule_free(&r->dr);
		break;
	case KN_VIRTUALSERVICE:
		kn_virtualservice_free(&r->vs);
		break;
	case KN_WORKLOADENTRY:
		kn_workloadentry_free(&r->we);
		break;
	default:
		break;
	}
	free(r->name);
	free(r->ns);
}

void kn_config_free(struct kn_config *cfg)
{
	int i;

	if (!cfg)
		return;
	kn_config_index_drop(cfg);
	for (i = 0; i < cfg->n_res; i++)
		kn_resource_free(&cfg->res[i]);
	free(cfg->res);
	kn_strv_free(cfg->n_files, cfg->files);
	memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------ */
/* Moving resources between configs */

static void kn_header_srcs(int n, struct kn_header_match *h, kn_src_fn *fn,
			   void *arg)
{
	for (int i = 0; i < n; i++) {
		fn(&h[i].src, arg);
		fn(&h[i].match.src, arg);
	}
}

static void kn_match_srcs(struct kn_http_match *m, kn_src_fn *fn, void *arg)
{
	fn(&m->src, arg);
	fn(&m->uri.src, arg);
	fn(&m->method.src, arg);
	kn_header_srcs(m->n_headers, m->headers, fn, arg);
	kn_header_srcs(m->n_without_headers, m->without_headers, fn, arg);
}

/* They all point at file names, which follow the resource. */
void kn_resource_srcs(struct kn_resource *r, kn_src_fn *fn, void *arg)
{
	struct kn_http_route *h;
	int i, j;

	fn(&r->src, arg);
	switch (r->kind) {
	case KN_GATEWAY:
		for (i = 0; i < r->gw.n_servers; i++)
			fn(&r->gw.servers[i].src, arg);
		break;
	case KN_SERVICE:
		for (i = 0; i < r->svc.n_ports; i++)
			fn(&r->svc.ports[i].src, arg);
		break;
	case KN_DESTINATIONRULE:
		fn(&r->dr.outlier.src, arg);
		for (i = 0; i < r->dr.n_subsets; i++) {
			fn(&r->dr.subsets[i].src, arg);
			fn(&r->dr.subsets[i].outlier.src, arg);
		}
		break;
	case KN_VIRTUALSERVICE:
		for (i = 0; i < r->vs.n_http; i++) {
			h = &r->vs.http[i];
			fn(&h->src, arg);
			for (j = 0; j < h->n_match; j++)
				kn_match_srcs(&h->match[j], fn, arg);
			for (j = 0; j < h->n_route; j++)
				fn(&h->route[j].src, arg);
		}
		for (i = 0; i < r->vs.n_tls; i++) {
			struct kn_tls_route *t = &r->vs.tls[i];

			fn(&t->src, arg);
			for (j = 0; j < t->n_match; j++)
				fn(&t->match[j].src, arg);
			for (j = 0; j < t->n_route; j++)
				fn(&t->route[j].src, arg);
		}
		fn(&r->vs.hosts_src, arg);
		break;
	default:
		break;
	}
}

/*
 * Point src at base's copy of its file name, adding one when base has
 * none. Names are compared as strings, so a resource may come from a
 * config that is freed right after, or from a hand-built one.
 */
static void kn_src_adopt(struct kn_src *src, void *arg)
{
	struct kn_config *base = arg;
	int i;

	if (!src->file)
		return;
	for (i = 0; i < base->n_files; i++) {
		if (base->files[i] == src->file ||
		    !strcmp(base->files[i], src->file)) {
			src->file = base->files[i];
			return;
		}
	}
	base->files = kn_yt_xreallocarray(base->files, base->n_files + 1,
					  sizeof(*base->files));
	base->files[base->n_files] = kn_yt_xstrdup(src->file);
	src->file = base->files[base->n_files++];
}

/* Free upd's containers once its resources have moved out. */
static void kn_config_empty(struct kn_config *upd)
{
	kn_config_index_drop(upd);
	free(upd->res);
	kn_strv_free(upd->n_files, upd->files);
	memset(upd, 0, sizeof(*upd));
}

void kn_config_append(struct kn_config *base, struct kn_config *upd)
{
	struct kn_resource *r;
	int i;

	base->n_warnings += upd->n_warnings;
	if (!upd->n_res) {
		kn_config_empty(upd);
		return;
	}
	kn_config_index_drop(base);
	base->res = kn_yt_xreallocarray(base->res, base->n_res + upd->n_res,
					sizeof(*base->res));
	for (i = 0; i < upd->n_res; i++) {
		r = &base->res[base->n_res++];
		*r = upd->res[i];
		kn_resource_srcs(r, kn_src_adopt, base);
	}
	kn_config_empty(upd);
}

static bool kn_str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

struct kn_file_use {
	const char *file;
	bool used;
};

static void kn_src_mark(struct kn_src *src, void *arg)
{
	struct kn_file_use *u = arg;

	if (src->file == u->file)
		u->used = true;
}

/*
 * Forget the file names no resource refers to any more, so that a daemon
 * applying files with fresh names over weeks does not grow without end.
 */
static void kn_config_prune_files(struct kn_config *cfg)
{
	struct kn_file_use u;
	int i, j, kept = 0;

	for (i = 0; i < cfg->n_files; i++) {
		u.file = cfg->files[i];
		u.used = false;
		for (j = 0; j < cfg->n_res && !u.used; j++)
			kn_resource_srcs(&cfg->res[j], kn_src_mark, &u);
		if (u.used)
			cfg->files[kept++] = cfg->files[i];
		else
			free(cfg->files[i]);
	}
	cfg->n_files = kept;
}

int kn_config_unique(const struct kn_config *cfg, struct kn_err *err)
{
	const struct kn_resource *r, *q;
	int i, j;

	for (i = 0; i < cfg->n_res; i++) {
		r = &cfg->res[i];
		j = kn_index_same(cfg, r);
		if (j == i)
			continue;
		q = &cfg->res[j];
		return kn_err_set(err,
				  "%s:%d: duplicate %s %s/%s (also at %s:%d)",
				  r->src.file ? r->src.file : "?", r->src.line,
				  kn_kind_name(r->kind), r->ns, r->name,
				  q->src.file ? q->src.file : "?", q->src.line);
	}
	return 0;
}

/*
 * The name tables of base's index follow the merge (a replaced resource
 * keeps its key, an appended one is added), so that each resource of upd
 * is looked up in O(1); the whole index is dropped at the end, since
 * what else it holds depends on the resources' contents.
 */
void kn_config_merge(struct kn_config *base, struct kn_config *upd)
{
	struct kn_resource *r;
	int i, at;

	base->n_warnings += upd->n_warnings;
	kn_config_index_drop(base);
	for (i = 0; i < upd->n_res; i++) {
		at = kn_index_same(base, &upd->res[i]);
		if (at >= 0) {
			r = &base->res[at];
			kn_resource_free(r);
		} else {
			base->res = kn_yt_xreallocarray(
				base->res, base->n_res + 1, sizeof(*base->res));
			r = &base->res[base->n_res++];
		}
		*r = upd->res[i];
		kn_resource_srcs(r, kn_src_adopt, base);
		if (at < 0)
			kn_index_appended(base, base->n_res - 1);
	}
	kn_config_index_drop(base);
	kn_config_empty(upd);
	kn_config_prune_files(base);
}

/* ------------------------------------------------------------------ */
/* Lookups */

struct kn_resource *kn_config_find(const struct kn_config *cfg,
				   enum kn_kind kind, const char *ns,
				   const char *name)
{
	int at = kn_index_find(cfg, kind, ns, name);

	return at < 0 ? NULL : &cfg->res[at];
}

struct kn_resource *kn_config_find_vs(const struct kn_config *cfg,
				      const char *ref, struct kn_err *err)
{
	const char *slash = strchr(ref, '/');
	struct kn_resource *found = NULL;
	int n = 0;

	for (int i = 0; i < cfg->n_res; i++) {
		struct kn_resource *r = &cfg->res[i];

		if (r->kind != KN_VIRTUALSERVICE)
			continue;
		if (slash ? (strlen(r->ns) == (size_t)(slash - ref) &&
			     !strncmp(r->ns, ref, slash - ref) &&
			     !strcmp(r->name, slash + 1)) :
			    !strcmp(r->name, ref)) {
			found = r;
			n++;
		}
	}
	if (n == 1)
		return found;
	kn_err_set(err,
		   n ? "VirtualService %s is in several namespaces; say "
		       "namespace/name" :
		       "no VirtualService %s has been applied",
		   ref);
	return NULL;
}

/*
 * The cluster domain is assumed to be cluster.local, as nearly everywhere;
 * "svc.ns.svc" is accepted too since that is what resolv.conf's search
 * path makes of it in a pod.
 */
int kn_host_split(const char *host, const char *ns, char *name, size_t name_len,
		  char *svc_ns, size_t ns_len)
{
	const char *dot, *rest, *end;
	size_t len;

	if (!host)
		return -1;
	dot = strchr(host, '.');
	len = dot ? (size_t)(dot - host) : strlen(host);
	if (!len || len >= name_len)
		return -1;
	memcpy(name, host, len);
	name[len] = '\0';
	if (!dot) {
		snprintf(svc_ns, ns_len, "%s", ns);
		return 0;
	}
	rest = dot + 1;
	end = strchr(rest, '.');
	if (end && strcmp(end, ".svc") && strcmp(end, ".svc.cluster.local"))
		return -1;
	len = end ? (size_t)(end - rest) : strlen(rest);
	if (!len || len >= ns_len)
		return -1;
	memcpy(svc_ns, rest, len);
	svc_ns[len] = '\0';
	return 0;
}

struct kn_resource *kn_config_resolve_host(const struct kn_config *cfg,
					   const char *ns, const char *host)
{
	char name[254], svc_ns[254];

	if (kn_host_split(host, ns, name, sizeof(name), svc_ns, sizeof(svc_ns)))
		return NULL;
	return kn_config_find(cfg, KN_SERVICE, svc_ns, name);
}

/* The first DestinationRule r with resolve_host(r->ns, r->dr.host) == svc. */
struct kn_resource *kn_config_destrule_for(const struct kn_config *cfg,
					   const struct kn_resource *svc)
{
	int at = kn_index_destrule(cfg, svc);

	return at < 0 ? NULL : &cfg->res[at];
}

bool kn_labels_match(const struct kn_labels *sel,
		     const struct kn_labels *labels)
{
	int i, j;

	for (i = 0; i < sel->n; i++) {
		for (j = 0; j < labels->n; j++)
			if (!strcmp(sel->kv[i].key, labels->kv[j].key))
				break;
		if (j == labels->n ||
		    strcmp(sel->kv[i].value, labels->kv[j].value))
			return false;
	}
	return true;
}

bool kn_config_is_endpoint(const struct kn_resource *svc,
			   const struct kn_subset *subset,
			   const struct kn_resource *we)
{
	if (svc->kind != KN_SERVICE || we->kind != KN_WORKLOADENTRY)
		return false;
	if (!kn_str_eq(svc->ns, we->ns) || !svc->svc.selector.n)
		return false;
	if (!kn_labels_match(&svc->svc.selector, &we->we.labels))
		return false;
	return !subset || kn_labels_match(&subset->labels, &we->we.labels);
}

uint16_t kn_workloadentry_port(const struct kn_workloadentry *we,
			       const struct kn_service_port *sp)
{
	int i;

	for (i = 0; sp->name && i < we->n_ports; i++)
		if (!strcmp(we->ports[i].name, sp->name))
			return we->ports[i].port;
	return sp->target_port;
}
