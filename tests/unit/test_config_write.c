// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Merging configs, writing them back as YAML that reads to the same model
 * (strings full of YAML's special characters included), and the lookups
 * the validator and the compiler share.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

static void base(struct kn_config *cfg)
{
	t_read_ok(cfg, t_lab("gateway.yaml"));
	t_read_ok(cfg, t_lab("service.yaml"));
	t_read_ok(cfg, t_lab("destinationrule.yaml"));
	t_read_ok(cfg, FIX "endpoints.yaml");
}

/* ------------------------------------------------------------------ */
/* Model equality, src aside (lines change when written) */

static void eq_str(const char *a, const char *b, const char *what)
{
	if (!a || !b)
		cr_assert(a == b, "%s: '%s' vs '%s'", what, a ? a : "(null)",
			  b ? b : "(null)");
	else
		cr_assert_str_eq(a, b, "%s", what);
}

static void eq_strv(int na, char **a, int nb, char **b, const char *what)
{
	int i;

	cr_assert_eq(na, nb, "%s: %d vs %d", what, na, nb);
	for (i = 0; i < na; i++)
		eq_str(a[i], b[i], what);
}

static void eq_labels(const struct kn_labels *a, const struct kn_labels *b)
{
	int i;

	cr_assert_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		eq_str(a->kv[i].key, b->kv[i].key, "label key");
		eq_str(a->kv[i].value, b->kv[i].value, "label value");
	}
}

static void eq_strmatch(const struct kn_str_match *a,
			const struct kn_str_match *b)
{
	cr_assert_eq(a->kind, b->kind);
	eq_str(a->value, b->value, "match value");
}

static void eq_headers(int na, const struct kn_header_match *a, int nb,
		       const struct kn_header_match *b)
{
	int i;

	cr_assert_eq(na, nb);
	for (i = 0; i < na; i++) {
		eq_str(a[i].name, b[i].name, "header name");
		eq_strmatch(&a[i].match, &b[i].match);
	}
}

static void eq_http(const struct kn_http_route *a,
		    const struct kn_http_route *b)
{
	const struct kn_http_match *ma, *mb;
	const struct kn_destination *da, *db;
	int i;

	cr_assert_eq(a->n_match, b->n_match);
	for (i = 0; i < a->n_match; i++) {
		ma = &a->match[i];
		mb = &b->match[i];
		eq_headers(ma->n_headers, ma->headers, mb->n_headers,
			   mb->headers);
		eq_headers(ma->n_without_headers, ma->without_headers,
			   mb->n_without_headers, mb->without_headers);
		cr_assert_eq(ma->has_uri, mb->has_uri);
		if (ma->has_uri)
			eq_strmatch(&ma->uri, &mb->uri);
		cr_assert_eq(ma->has_method, mb->has_method);
		if (ma->has_method)
			eq_strmatch(&ma->method, &mb->method);
	}
	cr_assert_eq(a->n_route, b->n_route);
	for (i = 0; i < a->n_route; i++) {
		da = &a->route[i];
		db = &b->route[i];
		eq_str(da->host, db->host, "destination host");
		eq_str(da->subset, db->subset, "destination subset");
		cr_assert_eq(da->port, db->port);
		cr_assert_eq(da->has_weight, db->has_weight);
		cr_assert_eq(da->weight, db->weight);
	}
}

static void eq_outlier(const struct kn_outlier *a, const struct kn_outlier *b)
{
	cr_assert_eq(a->set, b->set, "outlierDetection given");
	cr_assert_eq(a->has_interval, b->has_interval);
	cr_assert_eq(a->has_gateway_errors, b->has_gateway_errors);
	cr_assert_eq(a->has_5xx_errors, b->has_5xx_errors);
	cr_assert_eq(a->has_base_ejection, b->has_base_ejection);
	cr_assert_eq(a->has_max_ejection, b->has_max_ejection);
	cr_assert_eq(a->interval_ms, b->interval_ms);
	cr_assert_eq(a->gateway_errors, b->gateway_errors);
	cr_assert_eq(a->errors_5xx, b->errors_5xx);
	cr_assert_eq(a->base_ejection_ms, b->base_ejection_ms);
	cr_assert_eq(a->max_ejection_pct, b->max_ejection_pct);
}

static void eq_resource(const struct kn_resource *a,
			const struct kn_resource *b)
{
	int i;

	cr_assert_eq(a->kind, b->kind);
	eq_str(a->name, b->name, "name");
	eq_str(a->ns, b->ns, "namespace");
	switch (a->kind) {
	case KN_GATEWAY:
		eq_labels(&a->gw.selector, &b->gw.selector);
		cr_assert_eq(a->gw.n_servers, b->gw.n_servers);
		for (i = 0; i < a->gw.n_servers; i++) {
			cr_assert_eq(a->gw.servers[i].port,
				     b->gw.servers[i].port);
			eq_str(a->gw.servers[i].port_name,
			       b->gw.servers[i].port_name, "port name");
			eq_str(a->gw.servers[i].protocol,
			       b->gw.servers[i].protocol, "protocol");
			eq_strv(a->gw.servers[i].n_hosts,
				a->gw.servers[i].hosts,
				b->gw.servers[i].n_hosts,
				b->gw.servers[i].hosts, "server hosts");
		}
		break;
	case KN_SERVICE:
		eq_labels(&a->svc.selector, &b->svc.selector);
		cr_assert_eq(a->svc.n_ports, b->svc.n_ports);
		for (i = 0; i < a->svc.n_ports; i++) {
			eq_str(a->svc.ports[i].name, b->svc.ports[i].name,
			       "port name");
			cr_assert_eq(a->svc.ports[i].port,
				     b->svc.ports[i].port);
			cr_assert_eq(a->svc.ports[i].target_port,
				     b->svc.ports[i].target_port);
			eq_str(a->svc.ports[i].protocol,
			       b->svc.ports[i].protocol, "protocol");
		}
		break;
	case KN_DESTINATIONRULE:
		eq_str(a->dr.host, b->dr.host, "host");
		eq_outlier(&a->dr.outlier, &b->dr.outlier);
		eq_str(a->dr.check.http_path, b->dr.check.http_path,
		       "http-path");
		eq_str(a->dr.check.http_expect, b->dr.check.http_expect,
		       "http-expect");
		cr_assert_eq(a->dr.check.timeout_ms, b->dr.check.timeout_ms);
		cr_assert_eq(a->dr.check.healthy_threshold,
			     b->dr.check.healthy_threshold);
		cr_assert_eq(a->dr.check.fallback, b->dr.check.fallback);
		cr_assert_eq(a->dr.n_subsets, b->dr.n_subsets);
		for (i = 0; i < a->dr.n_subsets; i++) {
			eq_str(a->dr.subsets[i].name, b->dr.subsets[i].name,
			       "subset");
			eq_labels(&a->dr.subsets[i].labels,
				  &b->dr.subsets[i].labels);
			eq_outlier(&a->dr.subsets[i].outlier,
				   &b->dr.subsets[i].outlier);
		}
		break;
	case KN_VIRTUALSERVICE:
		eq_strv(a->vs.n_hosts, a->vs.hosts, b->vs.n_hosts, b->vs.hosts,
			"hosts");
		eq_strv(a->vs.n_gateways, a->vs.gateways, b->vs.n_gateways,
			b->vs.gateways, "gateways");
		cr_assert_eq(a->vs.n_http, b->vs.n_http);
		for (i = 0; i < a->vs.n_http; i++)
			eq_http(&a->vs.http[i], &b->vs.http[i]);
		break;
	case KN_WORKLOADENTRY:
		cr_assert_eq(a->we.addr, b->we.addr);
		eq_str(a->we.address, b->we.address, "address");
		eq_labels(&a->we.labels, &b->we.labels);
		cr_assert_eq(a->we.n_ports, b->we.n_ports);
		for (i = 0; i < a->we.n_ports; i++) {
			eq_str(a->we.ports[i].name, b->we.ports[i].name,
			       "port name");
			cr_assert_eq(a->we.ports[i].port, b->we.ports[i].port);
		}
		break;
	default:
		cr_assert_fail("bad kind %d", a->kind);
	}
}

static void eq_config(const struct kn_config *a, const struct kn_config *b)
{
	int i;

	cr_assert_eq(a->n_res, b->n_res);
	for (i = 0; i < a->n_res; i++)
		eq_resource(&a->res[i], &b->res[i]);
}

/* Write cfg, read it back, compare; returns the text for more checks. */
static char *round_trip(const struct kn_config *cfg)
{
	struct kn_config back = { 0 };
	char *text = t_dump(cfg);

	t_read_buf_ok(&back, "written.yaml", text);
	eq_config(cfg, &back);
	kn_config_free(&back);
	return text;
}

/* ------------------------------------------------------------------ */
/* Write */

Test(config_write, lab_round_trip)
{
	struct kn_config cfg = { 0 };
	char *text;

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice-focused-routing.yaml"));
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	cr_assert_eq(cfg.n_res, 8);
	text = round_trip(&cfg);
	/* Canonical form: namespace spelled out, one document each. */
	cr_assert_not_null(strstr(
		text,
		"---\napiVersion: networking.istio.io/v1alpha3\nkind: Gateway\nmetadata:\n  name: image-classifier-gateway\n  namespace: default\nspec:\n"));
	cr_assert_not_null(strstr(text, "    targetPort: 8501\n"));
	cr_assert_not_null(strstr(text, "      weight: 30\n"));
	free(text);
	kn_config_free(&cfg);
}

Test(config_write, written_text_is_stable)
{
	struct kn_config cfg = { 0 }, back = { 0 };
	char *first, *second;

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice-weight-100.yaml"));
	first = t_dump(&cfg);
	t_read_buf_ok(&back, "written.yaml", first);
	second = t_dump(&back);
	cr_assert_str_eq(second, first);
	free(first);
	free(second);
	kn_config_free(&back);
	kn_config_free(&cfg);
}

Test(config_write, empty_config_round_trips)
{
	struct kn_config cfg = { 0 };
	char *text = round_trip(&cfg);

	free(text);
}

/* Strings YAML would mangle if written bare. */
static const char *const tricky[] = {
	"a: b",
	"# not a comment",
	"it's \"quoted\"",
	"  leading spaces",
	"trailing ",
	"*",
	"*.example.com",
	"&anchor",
	"!tag",
	"%percent",
	"@at",
	"`tick",
	"|pipe",
	">folded",
	"- dash",
	"? question",
	"{braces}",
	"[brackets]",
	"comma, here",
	"true",
	"no",
	"null",
	"~",
	"",
	"123",
	"0x1F",
	"1e3",
	".5",
	"-1",
	"multi\nline",
	"tab\there",
	"ünïcödé",
	"back\\slash",
	"---",
	"...",
	"<<",
};

#define N_TRICKY ((int)(sizeof(tricky) / sizeof(tricky[0])))

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	cr_assert_not_null(d);
	return d;
}

static struct kn_resource *add(struct kn_config *cfg, enum kn_kind kind,
			       const char *name)
{
	struct kn_resource *r;

	cfg->res = realloc(cfg->res, (cfg->n_res + 1) * sizeof(*cfg->res));
	cr_assert_not_null(cfg->res);
	r = &cfg->res[cfg->n_res++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->name = xstrdup(name);
	r->ns = xstrdup("default");
	return r;
}

/* Up to 63 of [A-Za-z0-9-_.], alphanumeric at both ends, or empty. */
static bool label_value(const char *s)
{
	size_t len = strlen(s);

	if (!len)
		return true;
	if (len > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789-_.") == len;
}

Test(config_write, special_characters_round_trip)
{
	struct kn_config cfg = { 0 };
	struct kn_http_match *m;
	struct kn_http_route *h;
	struct kn_resource *r;
	char key[32], *text;
	int i;

	/* Hand-built: the reader plays no part in what goes in. */
	r = add(&cfg, KN_WORKLOADENTRY, "w");
	r->we.address = xstrdup("198.18.0.1");
	r->we.addr = inet_addr("198.18.0.1");
	r->we.labels.n = N_TRICKY;
	r->we.labels.kv = calloc(N_TRICKY, sizeof(*r->we.labels.kv));
	/* Label values must be Kubernetes label values (the reader refuses
	 * others): the tricky ones that are, the rest go in hosts. */
	for (i = 0; i < N_TRICKY; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		r->we.labels.kv[i].key = xstrdup(key);
		r->we.labels.kv[i].value =
			xstrdup(label_value(tricky[i]) ? tricky[i] : "v");
	}

	r = add(&cfg, KN_VIRTUALSERVICE, "v");
	r->vs.n_hosts = N_TRICKY;
	r->vs.hosts = calloc(N_TRICKY, sizeof(char *));
	/* Hosts are never empty: "" becomes "x". */
	for (i = 0; i < N_TRICKY; i++)
		r->vs.hosts[i] = xstrdup(tricky[i][0] ? tricky[i] : "x");
	r->vs.n_http = 1;
	h = r->vs.http = calloc(1, sizeof(*h));
	h->n_match = 1;
	m = h->match = calloc(1, sizeof(*m));
	m->n_headers = N_TRICKY;
	m->headers = calloc(N_TRICKY, sizeof(*m->headers));
	for (i = 0; i < N_TRICKY; i++) {
		snprintf(key, sizeof(key), "x-h%d", i);
		m->headers[i].name = xstrdup(key);
		m->headers[i].match.kind = i % 4;
		if (i % 4 != KN_MATCH_PRESENT)
			m->headers[i].match.value = xstrdup(tricky[i]);
	}
	m->has_uri = true;
	m->uri.kind = KN_MATCH_PREFIX;
	m->uri.value = xstrdup("/a b#c:d");
	h->n_route = 1;
	h->route = calloc(1, sizeof(*h->route));
	h->route[0].host = xstrdup("svc");
	h->route[0].subset = xstrdup("true");

	text = round_trip(&cfg);
	free(text);
	kn_config_free(&cfg);
}

Test(config_write, strings_that_look_like_numbers_are_quoted)
{
	struct kn_config cfg = { 0 };
	char *text;

	t_read_buf_ok(&cfg, "dr.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: DestinationRule\n"
		      "metadata: {name: d}\n"
		      "spec:\n"
		      "  host: svc\n"
		      "  subsets:\n"
		      "  - name: '2'\n"
		      "    labels: {version: '2', stable: 'yes', n: ''}\n");
	text = round_trip(&cfg);
	cr_assert_not_null(strstr(text, "  - name: '2'\n"));
	cr_assert_not_null(strstr(text, "      stable: 'yes'\n"));
	/* Even a key: n is false in YAML 1.1. */
	cr_assert_not_null(strstr(text, "      'n': ''\n"));
	free(text);
	kn_config_free(&cfg);
}

Test(config_write, write_error_is_reported)
{
	struct kn_config cfg = { 0 };
	FILE *f = fopen("/dev/full", "w");

	cr_assert_not_null(f);
	base(&cfg);
	cr_assert_eq(kn_config_write(&cfg, f), -1);
	fclose(f);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Merge */

static bool owned(const struct kn_config *cfg, const char *file)
{
	int i;

	for (i = 0; i < cfg->n_files; i++)
		if (cfg->files[i] == file)
			return true;
	return false;
}

Test(config_merge, new_virtualservice_replaces_old)
{
	struct kn_config cfg = { 0 }, upd = { 0 };
	struct kn_resource *vs;
	int i;

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice-weight-100.yaml"));
	t_read_ok(&cfg, t_lab("service.yaml") /* any other file after it */);
	cr_assert_eq(cfg.n_res, 8);
	cr_assert_eq(cfg.res[6].kind, KN_VIRTUALSERVICE);

	t_read_ok(&upd, t_lab("virtualservice-weight-70.yaml"));
	kn_config_merge(&cfg, &upd);

	cr_assert_eq(upd.n_res, 0);
	cr_assert_null(upd.res);
	cr_assert_eq(upd.n_files, 0);
	kn_config_free(&upd);

	cr_assert_eq(cfg.n_res, 8);
	vs = &cfg.res[6];
	cr_assert_eq(vs->kind, KN_VIRTUALSERVICE);
	cr_assert_eq(vs->vs.http[0].route[0].weight, 70);
	cr_assert_eq(vs->vs.http[0].route[1].weight, 30);
	cr_assert_str_eq(vs->src.file, t_lab("virtualservice-weight-70.yaml"));
	cr_assert(owned(&cfg, vs->src.file));
	cr_assert(owned(&cfg, vs->vs.http[0].route[1].src.file));
	/* The rest is where it was. */
	cr_assert_eq(cfg.res[0].kind, KN_GATEWAY);
	cr_assert_eq(cfg.res[1].kind, KN_SERVICE);
	cr_assert_eq(cfg.res[2].kind, KN_DESTINATIONRULE);
	for (i = 3; i < 6; i++)
		cr_assert_eq(cfg.res[i].kind, KN_WORKLOADENTRY);
	cr_assert_eq(cfg.res[7].kind, KN_SERVICE);
	/* weight-100.yaml is no longer anyone's file. */
	for (i = 0; i < cfg.n_files; i++)
		cr_assert_str_neq(cfg.files[i],
				  t_lab("virtualservice-weight-100.yaml"));
	cr_assert_eq(cfg.n_files, 5);
	kn_config_free(&cfg);
}

Test(config_merge, others_are_appended)
{
	struct kn_config cfg = { 0 }, upd = { 0 };
	struct kn_err err;

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice.yaml"));
	t_read_buf_ok(
		&upd, "upd.yaml",
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: image-classifier-resnet101-a}\n"
		"spec:\n"
		"  address: 198.18.9.9\n"
		"  labels: {app: image-classifier, version: resnet101}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: image-classifier-resnet101-a, namespace: prod}\n"
		"spec: {address: 198.18.9.10}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: Gateway\n"
		"metadata: {name: image-classifier}\n"
		"spec:\n"
		"  servers: [{port: {number: 8080, protocol: HTTP}, hosts: ['*']}]\n");
	kn_config_merge(&cfg, &upd);
	/* Same kind, namespace and name replaced; the rest appended. */
	cr_assert_eq(cfg.n_res, 9);
	cr_assert_str_eq(cfg.res[5].we.address, "198.18.9.9");
	cr_assert_eq(cfg.res[5].we.n_ports, 0);
	cr_assert_str_eq(cfg.res[7].ns, "prod");
	cr_assert_eq(cfg.res[8].kind, KN_GATEWAY);
	cr_assert_str_eq(cfg.res[8].src.file, "upd.yaml");
	cr_assert(owned(&cfg, cfg.res[8].src.file));
	cr_assert(owned(&cfg, cfg.res[8].gw.servers[0].src.file));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	kn_config_free(&cfg);
}

Test(config_merge, into_empty_and_twice_in_one_update)
{
	struct kn_config cfg = { 0 }, upd = { 0 };

	t_read_ok(&upd, t_lab("virtualservice.yaml"));
	t_read_ok(&upd, t_lab("virtualservice-weight-70.yaml"));
	kn_config_merge(&cfg, &upd);
	cr_assert_eq(cfg.n_res, 1);
	cr_assert_eq(cfg.res[0].vs.http[0].n_route, 2);
	cr_assert_eq(cfg.n_files, 1);
	cr_assert_str_eq(cfg.files[0], t_lab("virtualservice-weight-70.yaml"));
	kn_config_free(&cfg);
}

Test(config_merge, append_moves_file_names)
{
	struct kn_config cfg = { 0 }, upd = { 0 };

	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_ok(&upd, t_lab("service.yaml"));
	t_read_ok(&upd, FIX "endpoints.yaml");
	kn_config_append(&cfg, &upd);
	cr_assert_eq(upd.n_res, 0);
	cr_assert_eq(cfg.n_res, 5);
	/* service.yaml once, endpoints.yaml added. */
	cr_assert_eq(cfg.n_files, 2);
	cr_assert_eq(cfg.res[1].src.file, cfg.res[0].src.file);
	cr_assert(owned(&cfg, cfg.res[4].src.file));
	cr_assert(owned(&cfg, cfg.res[1].svc.ports[1].src.file));
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Lookups */

Test(config_lookup, find_and_resolve)
{
	struct kn_config cfg = { 0 };
	struct kn_resource *svc, *dr;

	base(&cfg);
	t_read_buf_ok(&cfg, "prod.yaml",
		      "apiVersion: v1\n"
		      "kind: Service\n"
		      "metadata: {name: image-classifier, namespace: prod}\n"
		      "spec: {ports: [{port: 80}]}\n");
	svc = kn_config_find(&cfg, KN_SERVICE, "default", "image-classifier");
	cr_assert_not_null(svc);
	cr_assert_eq(svc, &cfg.res[1]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "prod",
				    "image-classifier"),
		     &cfg.res[6]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "image-classifier"),
		     svc);
	cr_assert_null(
		kn_config_find(&cfg, KN_GATEWAY, NULL, "image-classifier"));
	cr_assert_null(
		kn_config_find(&cfg, KN_SERVICE, "nope", "image-classifier"));

	cr_assert_eq(kn_config_resolve_host(&cfg, "default",
					    "image-classifier"),
		     svc);
	cr_assert_eq(kn_config_resolve_host(&cfg, "prod", "image-classifier"),
		     &cfg.res[6]);
	cr_assert_eq(kn_config_resolve_host(&cfg, "prod",
					    "image-classifier.default"),
		     svc);
	cr_assert_eq(kn_config_resolve_host(
			     &cfg, "prod",
			     "image-classifier.default.svc.cluster.local"),
		     svc);
	cr_assert_eq(kn_config_resolve_host(&cfg, "default",
					    "image-classifier.prod.svc"),
		     &cfg.res[6]);
	cr_assert_null(kn_config_resolve_host(&cfg, "default", "*"));
	cr_assert_null(kn_config_resolve_host(
		&cfg, "default", "image-classifier.default.svc.example"));
	cr_assert_null(
		kn_config_resolve_host(&cfg, "default", "image-classifier."));

	dr = kn_config_destrule_for(&cfg, svc);
	cr_assert_eq(dr, &cfg.res[2]);
	cr_assert_null(kn_config_destrule_for(&cfg, &cfg.res[6]));
	kn_config_free(&cfg);
}

Test(config_lookup, labels_match)
{
	struct kn_label sel_kv[] = {
		{ "app", "image-classifier" },
		{ "version", "resnet50" },
	};
	struct kn_label we_kv[] = {
		{ "version", "resnet50" },
		{ "zone", "a" },
		{ "app", "image-classifier" },
	};
	struct kn_label other_kv[] = {
		{ "app", "image-classifier" },
		{ "version", "resnet101" },
	};
	struct kn_labels sel = { 2, sel_kv }, we = { 3, we_kv };
	struct kn_labels other = { 2, other_kv }, none = { 0, NULL };

	cr_assert(kn_labels_match(&sel, &we));
	cr_assert_not(kn_labels_match(&we, &sel));
	cr_assert_not(kn_labels_match(&sel, &other));
	cr_assert_not(kn_labels_match(&sel, &none));
	cr_assert(kn_labels_match(&none, &we));
	cr_assert(kn_labels_match(&none, &none));
}

Test(config_lookup, endpoints_and_their_ports)
{
	struct kn_config cfg = { 0 };
	struct kn_resource *svc, *dr;
	struct kn_service_port grpc, http;
	int i, n50 = 0, n101 = 0, all = 0;

	base(&cfg);
	svc = &cfg.res[1];
	dr = &cfg.res[2];
	for (i = 0; i < cfg.n_res; i++) {
		all += kn_config_is_endpoint(svc, NULL, &cfg.res[i]);
		n101 += kn_config_is_endpoint(svc, &dr->dr.subsets[0],
					      &cfg.res[i]);
		n50 += kn_config_is_endpoint(svc, &dr->dr.subsets[1],
					     &cfg.res[i]);
	}
	cr_assert_eq(all, 3);
	cr_assert_eq(n50, 2);
	cr_assert_eq(n101, 1);

	/* The entry's own port by name, else the Service targetPort. */
	grpc = svc->svc.ports[0];
	http = svc->svc.ports[1];
	http.target_port = 9999;
	grpc.target_port = 7777;
	cr_assert_eq(kn_workloadentry_port(&cfg.res[3].we, &http), 8501);
	cr_assert_eq(kn_workloadentry_port(&cfg.res[3].we, &grpc), 7777);
	grpc.name = NULL;
	cr_assert_eq(kn_workloadentry_port(&cfg.res[3].we, &grpc), 7777);
	kn_config_free(&cfg);
}

Test(config_lookup, kind_names)
{
	cr_assert_str_eq(kn_kind_name(KN_GATEWAY), "Gateway");
	cr_assert_str_eq(kn_kind_name(KN_SERVICE), "Service");
	cr_assert_str_eq(kn_kind_name(KN_DESTINATIONRULE), "DestinationRule");
	cr_assert_str_eq(kn_kind_name(KN_VIRTUALSERVICE), "VirtualService");
	cr_assert_str_eq(kn_kind_name(KN_WORKLOADENTRY), "WorkloadEntry");
	cr_assert_str_eq(kn_kind_name(KN_KIND_MAX), "?");
}

/* The health policy: outlierDetection at both levels and the annotations. */
Test(config_write, health_policy_round_trips)
{
	static const char yaml[] =
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: DestinationRule\n"
		"metadata:\n"
		"  name: r\n"
		"  annotations:\n"
		"    health.kanary.io/http-path: /v1/models/image_classifier\n"
		"    health.kanary.io/http-expect: '\"state\": \"AVAILABLE\"'\n"
		"    health.kanary.io/timeout: 1500ms\n"
		"    health.kanary.io/healthy-threshold: \"2\"\n"
		"    health.kanary.io/fallback: \"true\"\n"
		"spec:\n"
		"  host: svc\n"
		"  trafficPolicy:\n"
		"    outlierDetection:\n"
		"      interval: 1m30s\n"
		"      consecutiveGatewayErrors: 0\n"
		"      consecutive5xxErrors: 4\n"
		"      baseEjectionTime: 2h\n"
		"      maxEjectionPercent: 50\n"
		"  subsets:\n"
		"  - name: v1\n"
		"    labels: {version: v1}\n"
		"    trafficPolicy:\n"
		"      outlierDetection: {interval: 250ms}\n"
		"  - name: v2\n"
		"    labels: {version: v2}\n"
		"    trafficPolicy:\n"
		"      outlierDetection: {}\n";
	struct kn_config cfg = { 0 };
	const struct kn_destrule *dr;
	char *text;

	t_read_buf_ok(&cfg, "dr.yaml", yaml);
	dr = &cfg.res[0].dr;
	cr_assert_eq(dr->outlier.interval_ms, 90000);
	cr_assert_eq(dr->outlier.base_ejection_ms, 7200000);
	cr_assert(dr->subsets[1].outlier.set);
	cr_assert(!dr->subsets[1].outlier.has_interval);
	text = round_trip(&cfg);
	cr_assert_not_null(strstr(text, "      interval: 90s\n"), "%s", text);
	cr_assert_not_null(strstr(text, "      baseEjectionTime: 2h\n"));
	cr_assert_not_null(strstr(text, "health.kanary.io/timeout: 1500ms\n"));
	cr_assert_not_null(
		strstr(text, "health.kanary.io/healthy-threshold: '2'\n"));
	free(text);
	kn_config_free(&cfg);
}
