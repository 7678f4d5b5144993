// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TLS passthrough in userspace: Gateway servers' tls, VirtualService tls
 * routes read (errors with file and line), checked, written back, and
 * compiled into TLS tables (KANARY_L7_TLS) in Envoy's order.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config.h"
#include "helpers.h"
#include "served.h"
#include "set_weight.h"

static struct kn_config cfg;
static struct kn_compiled out;
static struct kn_err err;

static void fini(void)
{
	kn_compiled_free(&out);
	kn_config_free(&cfg);
}

TestSuite(tls, .fini = fini);

/* A Gateway with the lab's HTTP port and a TLS PASSTHROUGH port (lines
 * 1-14), then a VirtualService on it up to its routes (line 22 next). */
#define GW                                                     \
	"apiVersion: networking.istio.io/v1alpha3\n"           \
	"kind: Gateway\n"                                      \
	"metadata: {name: tls-gateway}\n"                      \
	"spec:\n"                                              \
	"  selector: {istio: ingressgateway}\n"                \
	"  servers:\n"                                         \
	"  - port: {number: 80, name: http, protocol: HTTP}\n" \
	"    hosts: ['*']\n"                                   \
	"  - port: {number: 443, name: tls, protocol: TLS}\n"  \
	"    hosts: ['*']\n"                                   \
	"    tls:\n"                                           \
	"      mode: PASSTHROUGH\n"                            \
	"      credentialName: ignored-in-passthrough\n"       \
	"---\n"
#define VS_TOP                                       \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: image-classifier}\n"       \
	"spec:\n"                                    \
	"  hosts: ['*.example', a.example.org]\n"    \
	"  gateways: [tls-gateway]\n"                \
	"  tls:\n"
/* The same, any host: '*' in sniHosts must be within the hosts. */
#define VS_TOP_ANY                                   \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: image-classifier}\n"       \
	"spec:\n"                                    \
	"  hosts: ['*']\n"                           \
	"  gateways: [tls-gateway]\n"                \
	"  tls:\n"
#define DEST(subset)                                                       \
	"    - destination: {host: image-classifier, subset: " subset ", " \
	"port: {number: 8501}}\n"

/* The lab's manifests and endpoints, and yaml. */
static void read_tls(const char *yaml)
{
	char *w;

	t_read_lab(&cfg, NULL);
	w = t_read_warnings(&cfg, "tls.yaml", yaml);
	cr_assert_str_eq(w, "", "warnings: %s", w);
	free(w);
}

static void read_fails(const char *yaml, const char *msg)
{
	struct kn_config c = { 0 };

	cr_assert_eq(kn_config_read_buffer(&c, "tls.yaml", yaml, strlen(yaml),
					   &err),
		     -1, "accepted:\n%s", yaml);
	cr_assert_str_eq(err.msg, msg);
	kn_config_free(&c);
}

static const struct kn_clistener *listener(uint16_t port)
{
	for (int i = 0; i < out.n_listeners; i++)
		if (out.listeners[i].port == port)
			return &out.listeners[i];
	return NULL;
}

static const char *block_subset(const struct kanary_l7_table *t, uint32_t b)
{
	cr_assert_lt(b, t->n_blocks);
	return out.routes[t->blocks[b].route].dests[0].subset;
}

static void assert_sni(const struct kanary_l7_table *t, uint32_t c, int block,
		       int op, const char *value)
{
	cr_assert_lt(c, t->n_conds);
	cr_assert_eq(t->conds[c].block, block);
	cr_assert_eq(t->conds[c].field, KANARY_L7_SNI);
	cr_assert_eq(t->conds[c].op, op);
	cr_assert_eq(t->conds[c].len, strlen(value));
	cr_assert_eq(memcmp(t->conds[c].value, value, t->conds[c].len), 0,
		     "%.*s", (int)t->conds[c].len, t->conds[c].value);
}

Test(tls, table_in_envoy_order)
{
	read_tls(
		GW VS_TOP_ANY
		"  - match: [{port: 443, sniHosts: ['*.example']}]\n"
		"    route:\n" DEST(
			"resnet50") "  - match:\n"
				    "    - sniHosts: ['*']\n"
				    "    - sniHosts: [A.Example, '*.b.example']\n"
				    "    route:\n" DEST("resnet101") "      weight: 30\n" DEST(
					    "resnet50") "      weight: 70\n");
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);

	/* Port 80 has no http route: only 443 is served. */
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_not_null(listener(443));
	cr_assert_eq(out.n_l7, 1);
	cr_assert_eq(listener(443)->l7, 0);
	const struct kanary_l7_table *t = &out.l7[0].table;

	cr_assert_eq(t->flags, KANARY_L7_TLS);
	cr_assert_eq(t->n_names, 0);
	/* exact, then wildcards longest first, then '*' */
	cr_assert_eq(t->n_blocks, 4);
	cr_assert_eq(t->n_conds, 3);
	assert_sni(t, 0, 0, KANARY_L7_EXACT, "a.example");
	assert_sni(t, 1, 1, KANARY_L7_SUFFIX, ".b.example");
	assert_sni(t, 2, 2, KANARY_L7_SUFFIX, ".example");
	cr_assert_eq(t->default_block, 3);
	cr_assert_str_eq(block_subset(t, 0), "resnet101");
	cr_assert_str_eq(block_subset(t, 2), "resnet50");
	cr_assert_eq(t->blocks[0].route, t->blocks[3].route);
	/* the weights are the route's */
	cr_assert_eq(out.routes[t->blocks[0].route].n_dests, 2);
	cr_assert_eq(out.routes[t->blocks[0].route].total_weight, 100);
	cr_assert_str_eq(out.rules[t->blocks[2].rule].rule, "tls[0]");
	cr_assert_str_eq(out.rules[t->blocks[0].rule].rule, "tls[1]");
	cr_assert_eq(out.n_rules, 2);
}

/* http routes serve the HTTP port, tls routes the PASSTHROUGH one. */
Test(tls, http_and_tls_in_one_virtualservice)
{
	read_tls(GW VS_TOP
		 "  - match: [{sniHosts: [a.example]}]\n"
		 "    route:\n" DEST("resnet101") "  http:\n"
						  "  - route:\n" DEST(
							  "resnet50"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_listeners, 2);
	/* Its hosts are not "*": port 80 reads the Host (vhosts.c). */
	cr_assert_neq(listener(80)->l7, KANARY_L7_NONE);
	cr_assert_eq(out.l7[listener(80)->l7].table.flags, 0);
	cr_assert_str_eq(out.routes[listener(80)->route].dests[0].subset,
			 "resnet50");
	cr_assert_neq(listener(443)->l7, KANARY_L7_NONE);
	cr_assert_eq(out.l7[listener(443)->l7].table.default_block,
		     KANARY_L7_NONE);
}

/* A match for another port does not apply: nothing serves 443. */
Test(tls, match_port_filters)
{
	read_tls(GW VS_TOP "  - match: [{port: 8443, sniHosts: [a.example]}]\n"
			   "    route:\n" DEST("resnet101"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_listeners, 0);
}

/* What the state file keeps: PASSTHROUGH and the tls routes. */
Test(tls, written_back_the_same)
{
	struct kn_config again = { 0 };
	char *a, *b;

	read_tls(GW VS_TOP "  - match: [{port: 443, sniHosts: [a.example]}]\n"
			   "    route:\n" DEST("resnet101"));
	a = t_dump(&cfg);
	cr_assert(strstr(a, "mode: PASSTHROUGH"), "%s", a);
	cr_assert(strstr(a, "sniHosts"), "%s", a);
	t_read_buf_ok(&again, "again.yaml", a);
	b = t_dump(&again);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	kn_config_free(&again);
}

/* ------------------------------------------------------- set-weight */

/* An http route for port 80 (resnet50 alone) and two tls routes: tls[0]
 * resnet50 alone, tls[1] the 70/30 split. */
static void read_split(void)
{
	read_tls(
		GW VS_TOP
		"  - match: [{sniHosts: [a.example]}]\n"
		"    route:\n" DEST(
			"resnet50") "  - match: [{sniHosts: [b.example]}]\n"
				    "    route:\n" DEST("resnet50") "      weight: 70\n" DEST(
					    "resnet101") "      weight: 30\n"
							 "  http:\n"
							 "  - route:\n" DEST(
								 "resnet50"));
}

static struct kn_tls_route *tls_route(int i)
{
	return &kn_config_find(&cfg, KN_VIRTUALSERVICE, "default",
			       "image-classifier")
			->vs.tls[i];
}

/* The one route with every named subset is the tls route: it changes,
 * and compiles to the new split; nothing else moves. */
Test(tls, set_weight_changes_the_tls_route_with_every_subset)
{
	char *pairs[] = { "resnet50=10", "resnet101=90" };
	const struct kanary_l7_table *t;

	read_split();
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 2, pairs, &err),
		     0, "%s", err.msg);
	cr_assert_eq(tls_route(1)->route[0].weight, 10);
	cr_assert_eq(tls_route(1)->route[1].weight, 90);
	cr_assert_not(tls_route(0)->route[0].has_weight);
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	t = &out.l7[listener(443)->l7].table;
	cr_assert_eq(t->n_blocks, 2);
	cr_assert_str_eq(out.rules[t->blocks[1].rule].rule, "tls[1]");
	cr_assert_eq(t->conds[1].block, 1);
	cr_assert_eq(memcmp(t->conds[1].value, "b.example", 9), 0);
	cr_assert_eq(out.routes[t->blocks[1].route].n_dests, 2);
	cr_assert_eq(out.routes[t->blocks[1].route].total_weight, 100);
	cr_assert_eq(out.routes[t->blocks[1].route].dests[0].cum_weight, 10);
}

/* resnet50 is in the http route and both tls routes: which to change
 * is not guessed, and the config is left as it was. */
Test(tls, set_weight_refuses_a_subset_in_several_routes)
{
	char *pairs[] = { "resnet50=1" };
	char *before, *after;

	read_split();
	before = t_dump(&cfg);
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 1, pairs, &err),
		     -1);
	cr_assert(strstr(err.msg, "in 3 routes (http[0], tls[0], ...)"), "%s",
		  err.msg);
	after = t_dump(&cfg);
	cr_assert_str_eq(after, before, "config changed on error");
	free(before);
	free(after);
}

/* A VirtualService with tls routes only: set-weight changes them too. */
Test(tls, set_weight_on_tls_routes_only)
{
	char *pairs[] = { "resnet101=0" };

	read_tls(GW VS_TOP
		 "  - match: [{sniHosts: [b.example]}]\n"
		 "    route:\n" DEST("resnet50") "      weight: 70\n" DEST(
			 "resnet101") "      weight: 30\n");
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 1, pairs, &err),
		     0, "%s", err.msg);
	cr_assert_eq(tls_route(0)->route[1].weight, 0);
	cr_assert_eq(tls_route(0)->route[0].weight, 70);
}

Test(tls, bad_tls_routes_name_the_line)
{
	read_fails(VS_TOP "  - route:\n" DEST("resnet101"),
		   "tls.yaml:8: tls route without 'match' (Istio requires "
		   "sniHosts; '*' takes every connection)");
	read_fails(VS_TOP "  - match: [{port: 443}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: missing 'sniHosts' (Istio requires at least "
		   "one per tls match)");
	read_fails(VS_TOP "  - match: [{sniHosts: ['a*.example']}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: sniHosts: 'a*.example' is not a host name, "
		   "'*.' and a host name, or '*'");
	read_fails(VS_TOP "  - match: [{sniHosts: [a.example], "
			  "destinationSubnets: [10.0.0.0/8]}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: 'destinationSubnets' is not supported by "
		   "kanary");
	read_fails(VS_TOP "  - match: [{sniHosts: [a.example]}]\n",
		   "tls.yaml:8: tls route without 'route'");
}

Test(tls, sni_host_outside_hosts_is_refused)
{
	read_tls(GW VS_TOP "  - match: [{sniHosts: [example.org]}]\n"
			   "    route:\n" DEST("resnet101"));
	cr_assert_eq(kn_config_validate(&cfg, &err), -1);
	cr_assert_str_eq(err.msg,
			 "tls.yaml:22: sniHosts: 'example.org' is not within "
			 "the VirtualService's hosts (Istio requires it)");
}

Test(tls, sni_host_too_long_for_the_data_path)
{
	read_tls(GW VS_TOP
		 "  - match: [{sniHosts: ["
		 "a-name-longer-than-the-sixty-four-bytes-kept-of-it-0123456789"
		 ".example]}]\n"
		 "    route:\n" DEST("resnet101"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1);
	cr_assert(strstr(err.msg, "tls.yaml:22: sniHosts: "), "%s", err.msg);
	cr_assert(strstr(err.msg,
			 "is 69 bytes; the L7 path matches at most 64"),
		  "%s", err.msg);
}

/* Modes kanary does not implement are warned about (`apply --strict`
 * refuses them), PASSTHROUGH and its ignored certificates are not. */
Test(tls, gateway_modes)
{
	struct kn_config c = { 0 };
	char *w;

	w = t_read_warnings(
		&c, "g.yaml",
		"apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: g}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 80, name: http, protocol: HTTP}\n"
		"    hosts: ['*']\n"
		"    tls: {httpsRedirect: true}\n"
		"  - port: {number: 443, name: tls, protocol: TLS}\n"
		"    hosts: ['*']\n"
		"    tls: {credentialName: c}\n"
		"  - port: {number: 8443, name: m, protocol: TLS}\n"
		"    hosts: ['*']\n"
		"    tls: {mode: AUTO_PASSTHROUGH}\n");
	cr_assert_str_eq(
		w,
		"kanary: g.yaml:8: warning: 'tls.httpsRedirect: true' is "
		"ignored: Istio answers HTTP requests on this server with a "
		"301 to HTTPS; kanary forwards them\n"
		"kanary: g.yaml:14: warning: 'tls.mode: AUTO_PASSTHROUGH' is "
		"ignored: Istio routes by the service named in the SNI "
		"(multi-cluster); kanary does not\n");
	cr_assert_eq(c.n_warnings, 2);
	cr_assert(!kn_gw_server_passthrough(&c.res[0].gw.servers[0]));
	/* no mode: Istio's default, PASSTHROUGH */
	cr_assert(kn_gw_server_passthrough(&c.res[0].gw.servers[1]));
	cr_assert(!kn_gw_server_passthrough(&c.res[0].gw.servers[2]));
	free(w);
	kn_config_free(&c);
	read_fails("apiVersion: networking.istio.io/v1\n"
		   "kind: Gateway\n"
		   "metadata: {name: g}\n"
		   "spec:\n"
		   "  servers:\n"
		   "  - port: {number: 443, name: tls, protocol: TLS}\n"
		   "    hosts: ['*']\n"
		   "    tls: {mode: passthrough}\n",
		   "tls.yaml:8: tls.mode: unsupported value 'passthrough' (one "
		   "of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, "
		   "ISTIO_MUTUAL, OPTIONAL_MUTUAL)");
}

/* ------------------------------------------------------------------ */
/* TLS ports in the port plan (vhosts.c): merged by SNI, as Istio */

/* A VirtualService on tls-gateway, name and hosts as given, up to tls. */
#define VS_NAMED(name, hosts)                        \
	"---\n"                                      \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: " name "}\n"               \
	"spec:\n"                                    \
	"  hosts: " hosts "\n"                       \
	"  gateways: [tls-gateway]\n"
#define SNI_TO(sni, subset)                    \
	"  - match: [{sniHosts: [" sni "]}]\n" \
	"    route:\n" DEST(subset)

/* Lines 1-14 the Gateway, 15-25 a (apiVersion 16), 26-36 b (34: its match). */
#define TWO_ON_443(sni_a, sni_b)                                               \
	GW VS_NAMED("a", "['*.example']") "  tls:\n" SNI_TO(sni_a, "resnet50") \
		VS_NAMED("b", "['*.example']") "  tls:\n" SNI_TO(sni_b,        \
								 "resnet101")

/*
 * Istio merges the tls routes of every VirtualService on a PASSTHROUGH
 * port by SNI: one table, the most specific name first, whatever the
 * VirtualService.
 */
Test(tls, virtualservices_on_one_port_merged_by_sni)
{
	const struct kanary_l7_table *t;

	read_tls(TWO_ON_443("'*.example'", "b.example"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_not_null(listener(443));
	t = &out.l7[listener(443)->l7].table;
	cr_assert_str_eq(out.l7[listener(443)->l7].vs, "port 443");
	cr_assert_eq(t->flags, KANARY_L7_TLS);
	cr_assert_eq(t->n_blocks, 2);
	assert_sni(t, 0, 0, KANARY_L7_EXACT, "b.example");
	assert_sni(t, 1, 1, KANARY_L7_SUFFIX, ".example");
	cr_assert_str_eq(block_subset(t, 0), "resnet101");
	cr_assert_str_eq(block_subset(t, 1), "resnet50");
	cr_assert_str_eq(out.rules[t->blocks[0].rule].vs, "default/b");
	cr_assert_str_eq(out.rules[t->blocks[1].rule].vs, "default/a");
	cr_assert_eq(t->default_block, KANARY_L7_NONE);
}

/* The same name in a later VirtualService would never be used. */
Test(tls, same_sni_host_in_two_virtualservices_is_refused)
{
	read_tls(TWO_ON_443("a.example", "A.example"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1, "compiled");
	cr_assert_str_eq(err.msg,
			 "tls.yaml:34: VirtualService default/b: sniHosts "
			 "'a.example' on gateway port 443 is also "
			 "VirtualService default/a's (tls.yaml:16), which "
			 "comes first: this route would never be used for it");
}

/* An http-only VirtualService on the PASSTHROUGH port as well: refused. */
Test(tls, http_routes_on_a_port_routed_by_sni_are_refused)
{
	read_tls(GW VS_NAMED("a", "['*.example']") "  tls:\n" SNI_TO(
		"a.example", "resnet50")
			 VS_NAMED("b",
				  "['*']") "  http:\n"
					   "  - route:\n" DEST("resnet101"));
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1, "compiled");
	cr_assert_str_eq(err.msg,
			 "tls.yaml:27: VirtualService default/b: its http "
			 "routes bind gateway port 443, which a PASSTHROUGH "
			 "server routes by SNI with VirtualService default/a's "
			 "tls routes (tls.yaml:16): a port is routed by one or "
			 "the other");
}

/* `status`: the TLS port, and a tls-only VirtualService with no
 * PASSTHROUGH server (the lab's Gateway is HTTP only) not served. */
Test(tls, status_shows_tls_ports_and_what_is_not_served)
{
	static const uint32_t vips[] = { 0x010012c6 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	read_tls(TWO_ON_443(
		"'*.example'",
		"b.example") "---\n"
			     "apiVersion: networking.istio.io/v1alpha3\n"
			     "kind: VirtualService\n"
			     "metadata: {name: c}\n"
			     "spec:\n"
			     "  hosts: ['*']\n"
			     "  gateways: [image-classifier-gateway]\n"
			     "  tls:\n" SNI_TO("c.example", "resnet50"));
	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	kn_served_print(f, &cfg, vips, 1);
	fclose(f);
	cr_assert_str_eq(text,
			 "port:        198.18.0.1:443 TLS L7: default/a "
			 "(*.example), default/b (*.example)\n"
			 "not served:  default/c: no PASSTHROUGH server of its "
			 "gateways has one of its hosts on a port its tls "
			 "routes match\n");
	free(text);
}
