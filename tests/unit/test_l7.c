// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The L7 half of the compiler (VirtualServices with match rules become
 * rule tables), its refusals with file and line, rule names, set-weight on
 * such VirtualServices, and the rule rows of `kanary stats`.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config.h"
#include "helpers.h"
#include "set_weight.h"
#include "stats.h"

static struct kn_config cfg;
static struct kn_compiled out;
static struct kn_err err;

/* The lab's base manifests, the test endpoints, and vs if not NULL. */
static void read_lab(const char *vs)
{
	t_read_lab(&cfg, vs);
}

static void fini(void)
{
	kn_compiled_free(&out);
	kn_config_free(&cfg);
}

TestSuite(l7, .fini = fini);

/*
 * The lab's base config plus one VirtualService "l7.yaml" on the lab's
 * Gateway whose http list is given; its first http line is line 9.
 */
#define VS_TOP                                       \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata:\n"                                \
	"  name: image-classifier\n"                 \
	"spec:\n"                                    \
	"  hosts: [\"*\"]\n"                         \
	"  gateways: [image-classifier-gateway]\n"   \
	"  http:\n"

#define DEST(subset)                                                       \
	"    - destination: {host: image-classifier, subset: " subset ", " \
	"port: {number: 8501}}\n"
#define R101 DEST("resnet101")
#define R50 DEST("resnet50")

/* Add the VirtualService to what cfg has. */
static void read_vs_more(const char *http)
{
	char *yaml;

	cr_assert_neq(asprintf(&yaml, VS_TOP "%s", http), -1);
	t_read_buf_ok(&cfg, "l7.yaml", yaml);
	free(yaml);
}

static void read_vs(const char *http)
{
	read_lab(NULL);
	read_vs_more(http);
}

static void compile_ok(void)
{
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
}

/* Compiling fails with a message that starts with where and has what. */
static void compile_fails(const char *where, const char *what)
{
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1, "compiled");
	cr_assert_eq(strncmp(err.msg, where, strlen(where)), 0,
		     "'%s' does not start with '%s'", err.msg, where);
	cr_assert(strstr(err.msg, what), "'%s' lacks '%s'", err.msg, what);
	cr_assert_eq(out.n_routes, 0, "a failed compile leaves nothing");
}

static const struct kanary_l7_table *table(int i)
{
	cr_assert_lt(i, out.n_l7);
	return &out.l7[i].table;
}

static const char *block_subset(const struct kanary_l7_table *t, int b)
{
	cr_assert_lt((uint32_t)b, t->n_blocks);
	cr_assert_lt(t->blocks[b].route, (uint32_t)out.n_routes);
	return out.routes[t->blocks[b].route].dests[0].subset;
}

static const char *block_rule(const struct kanary_l7_table *t, int b)
{
	cr_assert_lt(t->blocks[b].rule, (uint32_t)out.n_rules);
	return out.rules[t->blocks[b].rule].rule;
}

static void assert_cond(const struct kanary_l7_cond *c, int block, int field,
			int op, const char *value)
{
	cr_assert_eq(c->block, block);
	cr_assert_eq(c->field, field);
	cr_assert_eq(c->op, op);
	cr_assert_eq(c->len, strlen(value));
	cr_assert_eq(memcmp(c->value, value, c->len), 0, "%.*s", (int)c->len,
		     c->value);
}

static void assert_name(const struct kanary_l7_table *t, int i,
			const char *name)
{
	cr_assert_lt((uint32_t)i, t->n_names);
	cr_assert_eq(t->name_len[i], strlen(name));
	cr_assert_eq(memcmp(t->names[i], name, strlen(name)), 0, "%.*s",
		     t->name_len[i], t->names[i]);
}

/* ------------------------------------------------------------------ */
/* Tables */

Test(l7, lab_focused_routing)
{
	const struct kanary_l7_table *t;

	read_lab("virtualservice-focused-routing.yaml");
	compile_ok();
	cr_assert_eq(out.n_l7, 1);
	cr_assert_str_eq(out.l7[0].vs, "default/image-classifier");
	cr_assert_eq(out.n_routes, 2);
	t = table(0);
	cr_assert_eq(t->n_blocks, 2);
	cr_assert_eq(t->n_conds, 1);
	cr_assert_eq(t->n_names, 1);
	assert_name(t, 0, "user-group");
	assert_cond(&t->conds[0], 0, KANARY_L7_HEADER, KANARY_L7_EXACT,
		    "canary");
	cr_assert_eq(t->conds[0].name, 0);
	cr_assert_str_eq(block_subset(t, 0), "resnet101");
	cr_assert_str_eq(block_subset(t, 1), "resnet50");
	cr_assert_eq(t->default_block, 1);
	/* One rule row per http route. */
	cr_assert_eq(out.n_rules, 2);
	cr_assert_str_eq(block_rule(t, 0), "http[0]");
	cr_assert_str_eq(block_rule(t, 1), "http[1]");
	cr_assert_str_eq(out.rules[t->blocks[0].rule].vs,
			 "default/image-classifier");
	/* The listener goes through the table; its route is the default's. */
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(out.listeners[0].port, 80);
	cr_assert_eq(out.listeners[0].l7, 0);
	cr_assert_eq(out.listeners[0].route, t->blocks[1].route);
}

Test(l7, weight_only_virtualservice_stays_l4)
{
	read_lab("virtualservice-weight-70.yaml");
	compile_ok();
	cr_assert_eq(out.n_l7, 0);
	cr_assert_eq(out.n_rules, 0);
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(out.listeners[0].l7, KANARY_L7_NONE);
	cr_assert_eq(out.listeners[0].route, 0);
	cr_assert_eq(out.routes[0].n_dests, 2);
}

Test(l7, later_routes_without_match_keep_the_l4_path)
{
	/* No match anywhere: the first http route is the split, as before. */
	read_vs("  - route:\n" R50 "  - route:\n" R101);
	compile_ok();
	cr_assert_eq(out.n_l7, 0);
	cr_assert_eq(out.n_routes, 1);
	cr_assert_str_eq(out.routes[0].dests[0].subset, "resnet50");
	cr_assert_eq(out.listeners[0].l7, KANARY_L7_NONE);
	cr_assert_not_null(kn_vs_l4_route(&cfg.res[cfg.n_res - 1]));
}

Test(l7, l7_virtualservice_has_no_l4_route)
{
	read_lab("virtualservice-focused-routing.yaml");
	cr_assert(kn_vs_is_l7(&cfg.res[cfg.n_res - 1]));
	cr_assert_null(kn_vs_l4_route(&cfg.res[cfg.n_res - 1]));
}

Test(l7, header_names_are_lower_case)
{
	struct kn_header_match *h;
	const struct kanary_l7_table *t;

	read_vs("  - match:\n"
		"    - headers:\n"
		"        User-Group: {exact: Canary}\n"
		"        X-Other: {prefix: a}\n"
		"    route:\n" R101);
	/* A config built by hand may have names the reader did not lower. */
	h = &cfg.res[cfg.n_res - 1].vs.http[0].match[0].headers[1];
	free(h->name);
	h->name = strdup("X-MiXed");
	compile_ok();
	t = table(0);
	cr_assert_eq(t->n_names, 2);
	assert_name(t, 0, "user-group");
	assert_name(t, 1, "x-mixed");
	/* Values are case-sensitive: kept as written. */
	assert_cond(&t->conds[0], 0, KANARY_L7_HEADER, KANARY_L7_EXACT,
		    "Canary");
}

Test(l7, blocks_are_ored_conditions_anded)
{
	const struct kanary_l7_table *t;
	int per_block[4] = { 0 };

	read_vs("  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"      uri: {prefix: /v1/models/resnet101}\n"
		"    - method: {exact: PUT}\n"
		"    route:\n" R101 "  - route:\n" R50 "  - route:\n" R101);
	compile_ok();
	t = table(0);
	/* Two blocks for the first route (OR), one for each other. */
	cr_assert_eq(t->n_blocks, 4);
	cr_assert_eq(t->blocks[0].route, t->blocks[1].route);
	cr_assert_eq(t->blocks[0].rule, t->blocks[1].rule);
	cr_assert_neq(t->blocks[1].route, t->blocks[2].route);
	cr_assert_neq(t->blocks[1].rule, t->blocks[2].rule);
	cr_assert_str_eq(block_subset(t, 0), "resnet101");
	cr_assert_str_eq(block_subset(t, 2), "resnet50");
	/* Both conditions of the first match in block 0 (AND). */
	cr_assert_eq(t->n_conds, 3);
	for (uint32_t i = 0; i < t->n_conds; i++)
		per_block[t->conds[i].block]++;
	cr_assert_eq(per_block[0], 2);
	cr_assert_eq(per_block[1], 1);
	cr_assert_eq(per_block[2], 0);
	/* The first block without conditions; the last one is never used. */
	cr_assert_eq(t->default_block, 2);
	cr_assert_eq(out.n_rules, 3);
	cr_assert_eq(out.n_routes, 3);
}

static const char mesh_vs[] = "apiVersion: networking.istio.io/v1alpha3\n"
			      "kind: VirtualService\n"
			      "metadata: {name: mesh-only}\n"
			      "spec:\n"
			      "  http:\n"
			      "  - route:\n" R50;

Test(l7, uri_and_method)
{
	const struct kanary_l7_table *t;

	/* Nothing serves it: it compiles to nothing, and the L7
	 * VirtualService's routes start at 0. */
	read_lab(NULL);
	t_read_buf_ok(&cfg, "mesh.yaml", mesh_vs);
	read_vs_more("  - match:\n"
		     "    - uri: {prefix: '/v1/models/resnet101:predict'}\n"
		     "      method: {exact: POST}\n"
		     "    - uri: {exact: /healthz}\n"
		     "      method: {prefix: G}\n"
		     "    route:\n" R101);
	compile_ok();
	t = table(0);
	cr_assert_eq(t->n_conds, 4);
	cr_assert_eq(t->n_names, 0);
	assert_cond(&t->conds[0], 0, KANARY_L7_METHOD, KANARY_L7_EXACT, "POST");
	assert_cond(&t->conds[1], 0, KANARY_L7_URI, KANARY_L7_PREFIX,
		    "/v1/models/resnet101:predict");
	assert_cond(&t->conds[2], 1, KANARY_L7_METHOD, KANARY_L7_PREFIX, "G");
	assert_cond(&t->conds[3], 1, KANARY_L7_URI, KANARY_L7_EXACT,
		    "/healthz");
	/* No block without conditions: nothing to fall back to; the
	 * listener's route is the VirtualService's first. */
	cr_assert_eq(t->default_block, KANARY_L7_NONE);
	cr_assert_eq(t->blocks[0].route, 0);
	cr_assert_eq(out.listeners[0].route, 0);
	cr_assert_eq(out.n_routes, 1);
}

Test(l7, without_headers)
{
	const struct kanary_l7_table *t;

	read_vs("  - match:\n"
		"    - headers: {x-env: {exact: prod}}\n"
		"      withoutHeaders:\n"
		"        x-stable: {}\n"
		"        x-env: {exact: prod}\n"
		"        x-ver: {prefix: v1}\n"
		"    route:\n" R101);
	compile_ok();
	t = table(0);
	cr_assert_eq(t->n_conds, 4);
	/* x-env is one name, whether headers or withoutHeaders use it. */
	cr_assert_eq(t->n_names, 3);
	assert_name(t, 0, "x-env");
	assert_name(t, 1, "x-stable");
	assert_name(t, 2, "x-ver");
	assert_cond(&t->conds[0], 0, KANARY_L7_HEADER, KANARY_L7_EXACT, "prod");
	assert_cond(&t->conds[1], 0, KANARY_L7_WITHOUT_HEADER,
		    KANARY_L7_PRESENT, "");
	cr_assert_eq(t->conds[1].name, 1);
	assert_cond(&t->conds[2], 0, KANARY_L7_WITHOUT_HEADER, KANARY_L7_EXACT,
		    "prod");
	cr_assert_eq(t->conds[2].name, 0);
	assert_cond(&t->conds[3], 0, KANARY_L7_WITHOUT_HEADER, KANARY_L7_PREFIX,
		    "v1");
	cr_assert_eq(t->conds[3].name, 2);
}

Test(l7, header_presence_and_empty_exact)
{
	const struct kanary_l7_table *t;

	read_vs("  - match:\n"
		"    - headers:\n"
		"        x-debug: {}\n"
		"        x-empty: {exact: ''}\n"
		"    route:\n" R101);
	compile_ok();
	t = table(0);
	assert_cond(&t->conds[0], 0, KANARY_L7_HEADER, KANARY_L7_PRESENT, "");
	assert_cond(&t->conds[1], 0, KANARY_L7_HEADER, KANARY_L7_EXACT, "");
	cr_assert_eq(t->conds[1].name, 1);
}

Test(l7, weights_inside_a_matched_route)
{
	const struct kanary_l7_table *t;
	const struct kn_croute *r;

	read_vs("  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "      weight: 80\n" R50
		"      weight: 20\n"
		"  - route:\n" R50);
	compile_ok();
	t = table(0);
	r = &out.routes[t->blocks[0].route];
	cr_assert_eq(r->n_dests, 2);
	cr_assert_eq(r->total_weight, 100);
	cr_assert_eq(r->dests[0].cum_weight, 80);
	cr_assert_eq(r->dests[1].cum_weight, 100);
	cr_assert_str_eq(r->dests[0].subset, "resnet101");
	cr_assert_str_eq(r->dests[1].subset, "resnet50");
	r = &out.routes[t->blocks[1].route];
	cr_assert_eq(r->n_dests, 1);
	cr_assert_str_eq(r->dests[0].subset, "resnet50");
}

Test(l7, limits_are_inclusive)
{
	char yaml[8192];
	int n;

	/* A 64-byte value and a 31-byte header name fit exactly. */
	n = snprintf(yaml, sizeof(yaml),
		     "  - match:\n"
		     "    - headers: {%.31s: {exact: %.64s}}\n"
		     "    route:\n" R101,
		     "abcdefghijklmnopqrstuvwxyz0123456789",
		     "0123456789012345678901234567890123456789"
		     "0123456789012345678901234567890123456789");
	cr_assert_lt(n, (int)sizeof(yaml));
	read_vs(yaml);
	compile_ok();
	cr_assert_eq(table(0)->conds[0].len, KANARY_L7_VALUE_LEN);
	cr_assert_eq(table(0)->name_len[0], KANARY_L7_NAME_LEN - 1);
}

/* ------------------------------------------------------------------ */
/* Refusals, each with file and line */

Test(l7, regex_is_refused)
{
	read_vs("  - match:\n"
		"    - headers:\n"
		"        user-group: {regex: 'can.*'}\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:11: ",
		      "regex matching is not supported by the L7 path; use "
		      "exact or prefix");
}

Test(l7, regex_on_uri_is_refused)
{
	read_vs("  - match:\n"
		"    - method: {exact: GET}\n"
		"      uri:\n"
		"        regex: '/v1/.*'\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:12: ", "uri: regex matching is not supported");
}

Test(l7, presence_on_uri_or_method_is_refused)
{
	struct kn_http_match *m;

	/* The reader refuses `uri: {}`; a config built by hand may not. */
	read_vs("  - match:\n"
		"    - uri: {prefix: /a}\n"
		"    route:\n" R101);
	m = &cfg.res[cfg.n_res - 1].vs.http[0].match[0];
	free(m->uri.value);
	m->uri.value = NULL;
	m->uri.kind = KN_MATCH_PRESENT;
	compile_fails("l7.yaml:10: ", "uri: presence ({}) is only a condition "
				      "on headers");
	kn_config_free(&cfg);
	read_vs("  - route:\n" R50 "    match:\n"
		"    - method: {exact: GET}\n");
	m = &cfg.res[cfg.n_res - 1].vs.http[0].match[0];
	free(m->method.value);
	m->method.value = NULL;
	m->method.kind = KN_MATCH_PRESENT;
	compile_fails("l7.yaml:12: ", "method: presence");
}

Test(l7, long_value_is_refused)
{
	read_vs("  - match:\n"
		"    - uri: {exact: /a}\n"
		"    - headers:\n"
		"        user-group:\n"
		"          prefix: 01234567890123456789012345678901234567890123"
		"456789012345678901234\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:13: ",
		      "user-group: prefix value is 65 bytes; the L7 path "
		      "matches at most 64");
}

Test(l7, long_header_name_is_refused)
{
	read_vs("  - match:\n"
		"    - headers:\n"
		"        x-a: {exact: a}\n"
		"        x-012345678901234567890123456789: {exact: a}\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:12: ", "is 32 bytes; the L7 path takes at most "
				      "31");
}

Test(l7, header_names_must_be_tokens)
{
	read_vs("  - match:\n"
		"    - headers:\n"
		"        ':authority': {exact: example.com}\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:11: ",
		      "header name ':authority' is not an HTTP token");
	kn_config_free(&cfg);
	read_vs("  - match:\n"
		"    - withoutHeaders:\n"
		"        'x y': {}\n"
		"    route:\n" R101);
	compile_fails("l7.yaml:11: ", "header name 'x y' is not an HTTP token");
}

Test(l7, too_many_header_names)
{
	char yaml[4096] = "  - match:\n    - headers:\n";

	for (int i = 0; i <= KANARY_L7_MAX_NAMES; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "        x-h%d: {exact: a}\n", i);
	strcat(yaml, "    route:\n" R101);
	read_vs(yaml);
	/* The ninth name, on line 11 + 8. */
	compile_fails("l7.yaml:19: ", "more than 8 distinct header names");
}

Test(l7, same_name_many_times_is_one_name)
{
	char yaml[4096] = "  - match:\n";

	for (int i = 0; i < 12; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "    - headers: {x-h: {exact: v%d}}\n", i);
	strcat(yaml, "    route:\n" R101);
	read_vs(yaml);
	compile_ok();
	cr_assert_eq(table(0)->n_names, 1);
	cr_assert_eq(table(0)->n_blocks, 12);
}

Test(l7, too_many_blocks)
{
	char yaml[8192] = "  - match:\n";

	for (int i = 0; i <= KANARY_L7_MAX_BLOCKS; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "    - uri: {exact: /%d}\n", i);
	strcat(yaml, "    route:\n" R101);
	read_vs(yaml);
	/* The seventeenth block, on line 10 + 16. */
	compile_fails("l7.yaml:26: ", "more than 16 match blocks");
}

Test(l7, routes_without_match_count_as_blocks)
{
	char yaml[8192] = "  - match:\n    - uri: {exact: /}\n"
			  "    route:\n" R101;

	/* 1 + 16 routes without match: the last is one block too many. */
	for (int i = 0; i < KANARY_L7_MAX_BLOCKS; i++)
		strcat(yaml, "  - route:\n" R50);
	read_vs(yaml);
	/* The sixteenth route without match starts on line 13 + 15 * 2. */
	compile_fails("l7.yaml:43: ", "more than 16 match blocks");
}

Test(l7, too_many_conditions)
{
	char yaml[8192] = "  - match:\n";

	/* 11 blocks of 3 conditions: the 33rd is in the 11th block. */
	for (int i = 0; i < 11; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "    - uri: {exact: /%d}\n"
			 "      method: {exact: GET}\n"
			 "      headers: {x-a: {exact: a}}\n",
			 i);
	strcat(yaml, "    route:\n" R101);
	read_vs(yaml);
	/* Block 11 starts on line 10 + 30; its header is on line 42. */
	compile_fails("l7.yaml:42: ", "more than 32 match conditions");
}

Test(l7, too_many_l7_virtualservices)
{
	char *yaml = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&yaml, &len);

	cr_assert_not_null(f);
	/* Each on a Gateway port of its own: one table per port. */
	for (int i = 0; i <= KANARY_MAX_L7; i++)
		fprintf(f,
			"---\n"
			"apiVersion: networking.istio.io/v1alpha3\n"
			"kind: Gateway\n"
			"metadata: {name: gw-%d}\n"
			"spec:\n"
			"  servers:\n"
			"  - port: {number: %d, name: http, protocol: HTTP}\n"
			"    hosts: ['*']\n"
			"---\n"
			"apiVersion: networking.istio.io/v1alpha3\n"
			"kind: VirtualService\n"
			"metadata: {name: vs-%d}\n"
			"spec:\n"
			"  gateways: [gw-%d]\n"
			"  http:\n"
			"  - match:\n"
			"    - uri: {prefix: /}\n"
			"    route:\n" R101,
			i, 1000 + i, i, i);
	fclose(f);
	read_lab(NULL);
	t_read_buf_ok(&cfg, "many.yaml", yaml);
	free(yaml);
	/* The VirtualService of port 1256 starts on line 1 + 256 * 19 + 9. */
	compile_fails("many.yaml:4874: ", "more than 256 L7 gateway ports");
}

static const char tls_gateway[] = "apiVersion: networking.istio.io/v1beta1\n"
				  "kind: Gateway\n"
				  "metadata: {name: tls}\n"
				  "spec:\n"
				  "  servers:\n"
				  "  - port: {number: 443, name: https, "
				  "protocol: HTTPS}\n"
				  "    hosts: [\"*\"]\n";

Test(l7, match_rules_need_a_plain_http_gateway_port)
{
	/* A weight split does not read the request: any protocol will do. */
	read_lab("virtualservice-weight-70.yaml");
	t_read_buf_ok(&cfg, "tls.yaml", tls_gateway);
	free(cfg.res[cfg.n_res - 2].vs.gateways[0]);
	cfg.res[cfg.n_res - 2].vs.gateways[0] = strdup("tls");
	compile_ok();
	cr_assert_eq(out.listeners[0].port, 443);
	kn_compiled_free(&out);
	kn_config_free(&cfg);

	read_lab("virtualservice-focused-routing.yaml");
	t_read_buf_ok(&cfg, "tls.yaml", tls_gateway);
	free(cfg.res[cfg.n_res - 2].vs.gateways[0]);
	cfg.res[cfg.n_res - 2].vs.gateways[0] = strdup("tls");
	compile_fails("tls.yaml:6: ", "gateway port 443 is HTTPS, and "
				      "VirtualService default/image-classifier "
				      "has match rules");
}

/* What a match may say that the L7 path cannot do: refused, not dropped. */
Test(l7, unknown_match_fields_are_refused_by_the_reader)
{
	static const char *const fields[] = {
		"authority: {exact: a}",
		"scheme: {exact: http}",
		"queryParams: {a: {exact: b}}",
		"port: 80",
		"sourceLabels: {app: a}",
		"ignoreUriCase: true",
		"gateways: [mesh]",
		"sourceNamespace: default",
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct kn_config c = { 0 };
		char *yaml, want[256];
		int n = strcspn(fields[i], ":");

		cr_assert_neq(asprintf(&yaml,
				       VS_TOP "  - match:\n"
					      "    - uri: {prefix: /}\n"
					      "      %s\n"
					      "    route:\n" R101,
				       fields[i]),
			      -1);
		snprintf(want, sizeof(want),
			 "l7.yaml:11: '%.*s' is not supported by kanary", n,
			 fields[i]);
		cr_assert_eq(kn_config_read_buffer(&c, "l7.yaml", yaml,
						   strlen(yaml), &err),
			     -1, "accepted %s", fields[i]);
		cr_assert_str_eq(err.msg, want);
		cr_assert_eq(c.n_res, 0);
		free(yaml);
	}
}

/* ------------------------------------------------------------------ */
/* Rule names */

Test(l7, rules_are_named_by_route_name)
{
	const struct kanary_l7_table *t;

	read_vs("  - name: canary-users\n"
		"    match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "  - route:\n" R50);
	cr_assert_str_eq(cfg.res[cfg.n_res - 1].vs.http[0].name,
			 "canary-users");
	cr_assert_null(cfg.res[cfg.n_res - 1].vs.http[1].name);
	compile_ok();
	t = table(0);
	cr_assert_str_eq(block_rule(t, 0), "canary-users");
	cr_assert_str_eq(block_rule(t, 1), "http[1]");
}

Test(l7, a_name_taken_by_an_earlier_route_falls_back)
{
	const struct kanary_l7_table *t;
	char name[KANARY_NAME_LEN];

	read_vs("  - name: same\n"
		"    match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "  - name: same\n"
		"    route:\n" R50);
	compile_ok();
	t = table(0);
	cr_assert_str_eq(block_rule(t, 0), "same");
	cr_assert_str_eq(block_rule(t, 1), "http[1]");
	kn_vs_rule_name(&cfg.res[cfg.n_res - 1], 1, name);
	cr_assert_str_eq(name, "http[1]");
}

Test(l7, a_fallback_name_taken_is_refused)
{
	/* http[0] is named "http[1]"; http[1] has no name of its own. */
	read_vs("  - name: 'http[1]'\n"
		"    match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "  - route:\n" R50);
	compile_fails("l7.yaml:14: ", "both named 'http[1]'");
}

Test(l7, route_names_are_written_back)
{
	struct kn_config again = { 0 };
	char *dump;

	read_vs("  - name: 'canary: users'\n"
		"    match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "  - name: ''\n"
		"    route:\n" R50);
	/* "" is no name, as in Istio. */
	cr_assert_null(cfg.res[cfg.n_res - 1].vs.http[1].name);
	dump = t_dump(&cfg);
	t_read_buf_ok(&again, "again.yaml", dump);
	free(dump);
	cr_assert_str_eq(again.res[again.n_res - 1].vs.http[0].name,
			 "canary: users");
	cr_assert_null(again.res[again.n_res - 1].vs.http[1].name);
	kn_config_free(&again);
}

static void assert_owned(const char *file)
{
	for (int i = 0; i < cfg.n_files; i++)
		if (cfg.files[i] == file)
			return;
	cr_assert_fail("src.file %s is not one of cfg.files", file);
}

Test(l7, condition_places_survive_the_move_into_a_config)
{
	const struct kn_http_match *m;

	/* Read into a scratch config, then moved: file names must follow. */
	read_vs("  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"      withoutHeaders: {x-a: {}}\n"
		"      uri: {prefix: /}\n"
		"      method: {exact: GET}\n"
		"    route:\n" R101);
	m = &cfg.res[cfg.n_res - 1].vs.http[0].match[0];
	assert_owned(m->headers[0].src.file);
	assert_owned(m->headers[0].match.src.file);
	assert_owned(m->without_headers[0].src.file);
	assert_owned(m->without_headers[0].match.src.file);
	assert_owned(m->uri.src.file);
	assert_owned(m->method.src.file);
	cr_assert_eq(m->headers[0].src.line, 10);
	cr_assert_eq(m->method.src.line, 13);
}

/* ------------------------------------------------------------------ */
/* set-weight with match rules */

static struct kn_http_route *http(int i)
{
	return &kn_config_find(&cfg, KN_VIRTUALSERVICE, "default",
			       "image-classifier")
			->vs.http[i];
}

Test(l7, set_weight_changes_the_route_with_the_subset)
{
	char *pairs[] = { "resnet101=45" };

	read_lab("virtualservice-focused-routing.yaml");
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 1, pairs, &err),
		     0, "%s", err.msg);
	cr_assert(http(0)->route[0].has_weight);
	cr_assert_eq(http(0)->route[0].weight, 45);
	cr_assert_not(http(1)->route[0].has_weight);
	compile_ok();
}

Test(l7, set_weight_picks_the_one_route_with_every_subset)
{
	char *pairs[] = { "resnet101=10", "resnet50=90" };

	/* resnet101 is in both routes, resnet50 only in the second. */
	read_vs("  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "  - route:\n" R50 "      weight: 50\n" R101
		"      weight: 50\n");
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 2, pairs, &err),
		     0, "%s", err.msg);
	cr_assert_not(http(0)->route[0].has_weight);
	cr_assert_eq(http(1)->route[0].weight, 90);
	cr_assert_eq(http(1)->route[1].weight, 10);
	compile_ok();
	cr_assert_eq(out.routes[1].dests[0].cum_weight, 90);
	cr_assert_eq(out.routes[1].dests[1].cum_weight, 100);
}

static void set_weight_refused(char *pair, const char *msg)
{
	char *pairs[] = { pair };
	char *before = t_dump(&cfg), *after;

	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 1, pairs, &err),
		     -1, "%s accepted", pair);
	cr_assert(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
	after = t_dump(&cfg);
	cr_assert_str_eq(after, before, "config changed on error");
	free(before);
	free(after);
}

Test(l7, set_weight_refuses_a_subset_in_several_routes)
{
	read_vs("  - match:\n"
		"    - headers: {user-group: {exact: canary}}\n"
		"    route:\n" R101 "      weight: 50\n" R50
		"      weight: 50\n"
		"  - name: rest\n"
		"    route:\n" R50);
	set_weight_refused("resnet50=1",
			   "routes to the named destinations in 2 routes "
			   "(http[0], rest)");
}

Test(l7, set_weight_refuses_subsets_of_different_routes)
{
	char *pairs[] = { "resnet101=1", "resnet50=1" };

	read_lab("virtualservice-focused-routing.yaml");
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 2, pairs, &err),
		     -1);
	cr_assert(strstr(err.msg, "none has all of the named destinations"),
		  "%s", err.msg);
	cr_assert_not(http(0)->route[0].has_weight);
}

Test(l7, set_weight_refuses_an_unknown_subset)
{
	read_lab("virtualservice-focused-routing.yaml");
	set_weight_refused("resnet152=1",
			   "VirtualService image-classifier does not route to "
			   "resnet152");
}

/* ------------------------------------------------------------------ */
/* kanary stats */

static char *print_stats(const struct kn_stat_row *rows, int n,
			 const struct kn_rule_row *rules, int n_rules,
			 bool json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	kn_stats_print(f, rows, n, rules, n_rules, json);
	fclose(f);
	return buf;
}

static const struct kn_stat_row stat_rows[] = {
	{ .ns = "default",
	  .vs = "l4",
	  .subset = "a",
	  .weight = 100,
	  .sum = { .connections = 3 } },
	{ .ns = "default",
	  .vs = "image-classifier",
	  .subset = "resnet101",
	  .weight = 100,
	  .sum = { .connections = 7 } },
};

static const struct kn_rule_row rule_rows[] = {
	{ .ns = "default",
	  .vs = "image-classifier",
	  .rule = "canary",
	  .connections = 7 },
	{ .ns = "default",
	  .vs = "image-classifier",
	  .rule = "say \"hi\"\\",
	  .connections = 0 },
	{ .ns = "other", .vs = "gone", .rule = "http[0]", .connections = 2 },
};

/* The HTTP fields of a subset that saw no request (test_metrics.c: more). */
#define NO_HTTP                                                 \
	",\"requests\":0,\"responses\":0,\"codes\":{},"         \
	"\"success_pct\":null,\"p50_ms\":null,\"p99_ms\":null," \
	"\"duration_sum_ms\":0.000,\"duration_buckets\":"       \
	"[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]"

Test(l7, stats_json_has_rules)
{
	char *s = print_stats(stat_rows, 2, rule_rows, 3, true);

	cr_assert_str_eq(
		s, "{\"virtualservices\":["
		   "{\"name\":\"l4\",\"namespace\":\"default\",\"subsets\":["
		   "{\"name\":\"a\",\"service\":\"\",\"weight\":100,"
		   "\"connections\":3,"
		   "\"packets\":0,\"bytes\":0,\"packets_to_endpoint\":0,"
		   "\"bytes_to_endpoint\":0,\"packets_to_client\":0,"
		   "\"bytes_to_client\":0" NO_HTTP "}],\"rules\":[]},"
		   "{\"name\":\"image-classifier\",\"namespace\":\"default\","
		   "\"subsets\":["
		   "{\"name\":\"resnet101\",\"service\":\"\",\"weight\":100,"
		   "\"connections\":7,"
		   "\"packets\":0,\"bytes\":0,\"packets_to_endpoint\":0,"
		   "\"bytes_to_endpoint\":0,\"packets_to_client\":0,"
		   "\"bytes_to_client\":0" NO_HTTP "}],\"rules\":["
		   "{\"name\":\"canary\",\"connections\":7},"
		   "{\"name\":\"say \\\"hi\\\"\\\\\",\"connections\":0}]},"
		   "{\"name\":\"gone\",\"namespace\":\"other\",\"subsets\":[],"
		   "\"rules\":[{\"name\":\"http[0]\",\"connections\":2}]}"
		   "]}\n");
	free(s);
}

Test(l7, stats_table_lists_rules_only_when_there_are)
{
	char *s = print_stats(stat_rows, 2, rule_rows, 1, false);
	char *r = strstr(s, "\nVIRTUALSERVICE");

	cr_assert_not_null(r, "%s", s);
	cr_assert(strstr(r, "RULE"), "%s", s);
	cr_assert(strstr(r, "default/image-classifier"), "%s", s);
	cr_assert(strstr(r, "canary"), "%s", s);
	free(s);
	s = print_stats(stat_rows, 2, NULL, 0, false);
	cr_assert_null(strstr(s, "RULE"), "%s", s);
	free(s);
}
