// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Virtual hosts: several VirtualServices on one Gateway port, merged by
 * host into one rule table in the order Envoy selects virtual hosts;
 * which ports take the L7 path; the conflicts refused, with file and line;
 * hosts the reader refuses; VirtualServices nothing serves.
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
#include "vhosts.h"

static struct kn_config cfg;
static struct kn_compiled out;
static struct kn_err err;

static void fini(void)
{
	kn_compiled_free(&out);
	kn_config_free(&cfg);
}

TestSuite(vhosts, .fini = fini);

/* A VirtualService on the lab's Gateway (port 80); hosts on line 6. */
#define VS(name, hosts, http)                        \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: " name "}\n"               \
	"spec:\n"                                    \
	"  gateways: [image-classifier-gateway]\n"   \
	"  hosts: " hosts "\n"                       \
	"  http:\n" http
#define TO(subset)                                                           \
	"    route: [{destination: {host: image-classifier, subset: " subset \
	", port: {number: 8501}}}]\n"
#define CATCH(subset)                                         \
	"  - route: [{destination: {host: image-classifier, " \
	"subset: " subset ", port: {number: 8501}}}]\n"
#define CANARY_ONLY(subset) \
	"  - match:\n"      \
	"    - headers: {user-group: {exact: canary}}\n" TO(subset)

/* The lab's base manifests and endpoints, then each file given. */
static void read_files(const char *const *yaml, int n)
{
	char name[32];

	t_read_lab(&cfg, NULL);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "vs%d.yaml", i + 1);
		t_read_buf_ok(&cfg, name, yaml[i]);
	}
}

#define READ(...)                                                \
	do {                                                     \
		static const char *const _y[] = { __VA_ARGS__ }; \
		read_files(_y, sizeof(_y) / sizeof(_y[0]));      \
	} while (0)

static void compile_ok(void)
{
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
}

static void compile_fails(const char *msg)
{
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1, "compiled");
	cr_assert(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
}

/* The one table of port 80. */
static const struct kanary_l7_table *port80(void)
{
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(out.listeners[0].port, 80);
	cr_assert_neq(out.listeners[0].l7, KANARY_L7_NONE, "port 80 is L4");
	return &out.l7[out.listeners[0].l7].table;
}

/* Block b's host condition: "" when it has none. */
static const char *block_host(const struct kanary_l7_table *t, uint32_t b,
			      int *op)
{
	static char buf[KANARY_L7_VALUE_LEN + 1];

	for (uint32_t i = 0; i < t->n_conds; i++) {
		const struct kanary_l7_cond *c = &t->conds[i];

		if (c->block != b || c->op < KANARY_L7_HOST_EXACT)
			continue;
		cr_assert_eq(c->field, KANARY_L7_HEADER);
		cr_assert_eq(t->name_len[c->name], 4);
		cr_assert_eq(memcmp(t->names[c->name], "host", 4), 0);
		*op = c->op;
		snprintf(buf, sizeof(buf), "%.*s", (int)c->len, c->value);
		return buf;
	}
	*op = -1;
	return "";
}

/* Block b: for host (op), to subset ("" for a stop block). */
static void assert_block(const struct kanary_l7_table *t, uint32_t b,
			 const char *host, int op, const char *subset)
{
	int got_op;
	const char *got = block_host(t, b, &got_op);

	cr_assert_lt(b, t->n_blocks);
	cr_assert_str_eq(got, host, "block %u", b);
	cr_assert_eq(got_op, op, "block %u", b);
	if (!*subset) {
		cr_assert_eq(t->blocks[b].route, KANARY_L7_NONE, "block %u", b);
		return;
	}
	cr_assert_lt(t->blocks[b].route, (uint32_t)out.n_routes);
	cr_assert_str_eq(out.routes[t->blocks[b].route].dests[0].subset, subset,
			 "block %u", b);
}

#define EXACT KANARY_L7_HOST_EXACT
#define SUFFIX KANARY_L7_HOST_SUFFIX

/* Exact hosts, then suffixes longest first, then "*": not config order. */
Test(vhosts, ordered_as_envoy_selects)
{
	const struct kanary_l7_table *t;

	READ(VS("any", "['*']", CATCH("resnet50")),
	     VS("wide", "['*.example.com']", CATCH("resnet50")),
	     VS("a", "[A.Example.com]", CATCH("resnet101")),
	     VS("narrow", "['*.b.example.com']", CATCH("resnet101")));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 4);
	assert_block(t, 0, "a.example.com", EXACT, "resnet101");
	assert_block(t, 1, ".b.example.com", SUFFIX, "resnet101");
	assert_block(t, 2, ".example.com", SUFFIX, "resnet50");
	assert_block(t, 3, "", -1, "resnet50");
	/* A head without Host can only take the "*" VirtualService's. */
	cr_assert_eq(t->default_block, 3);
	cr_assert_eq(t->n_names, 1);
}

/* Each of a VirtualService's hosts is a virtual host of its own. */
Test(vhosts, every_host_of_a_virtualservice)
{
	const struct kanary_l7_table *t;

	READ(VS("a", "[a.example.com, '*.a.example.com']",
		CANARY_ONLY("resnet101") CATCH("resnet50")));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 4);
	assert_block(t, 0, "a.example.com", EXACT, "resnet101");
	assert_block(t, 1, "a.example.com", EXACT, "resnet50");
	assert_block(t, 2, ".a.example.com", SUFFIX, "resnet101");
	assert_block(t, 3, ".a.example.com", SUFFIX, "resnet50");
	cr_assert_eq(t->default_block, KANARY_L7_NONE);
	/* Both hosts' blocks count on the VirtualService's two rules. */
	cr_assert_eq(out.n_rules, 2);
	cr_assert_eq(t->blocks[0].rule, t->blocks[2].rule);
	cr_assert_eq(t->blocks[1].rule, t->blocks[3].rule);
	cr_assert_eq(out.n_routes, 2);
}

/*
 * A host whose routes may all miss, with a less specific host after it,
 * ends with a stop block: Envoy does not try another virtual host.
 */
Test(vhosts, stop_block_after_a_host_that_may_miss)
{
	const struct kanary_l7_table *t;

	READ(VS("any", "['*']", CATCH("resnet50")),
	     VS("a", "[a.example.com]", CANARY_ONLY("resnet101")),
	     VS("c", "[c.example.com]",
		CANARY_ONLY("resnet101") CATCH("resnet50")));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 5);
	assert_block(t, 0, "a.example.com", EXACT, "resnet101");
	assert_block(t, 1, "a.example.com", EXACT, "");
	cr_assert_eq(t->blocks[1].rule, KANARY_L7_NONE);
	/* c takes every request of its host: nothing to stop. */
	assert_block(t, 2, "c.example.com", EXACT, "resnet101");
	assert_block(t, 3, "c.example.com", EXACT, "resnet50");
	assert_block(t, 4, "", -1, "resnet50");
}

/* Nothing less specific after it (or nothing overlapping): no stop. */
Test(vhosts, no_stop_block_without_a_wider_host)
{
	const struct kanary_l7_table *t;

	READ(VS("a", "[a.example.com]", CANARY_ONLY("resnet101")),
	     VS("w", "['*.example.org']", CANARY_ONLY("resnet101")));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 2);
	assert_block(t, 0, "a.example.com", EXACT, "resnet101");
	assert_block(t, 1, ".example.org", SUFFIX, "resnet101");
}

/* One host in two VirtualServices: merged in config order, as Istio. */
Test(vhosts, same_host_merged_in_config_order)
{
	const struct kanary_l7_table *t;

	READ(VS("first", "[a.example.com]", CANARY_ONLY("resnet101")),
	     VS("second", "[A.EXAMPLE.COM]", CATCH("resnet50")));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 2);
	assert_block(t, 0, "a.example.com", EXACT, "resnet101");
	assert_block(t, 1, "a.example.com", EXACT, "resnet50");
}

/* ... unless the first takes every request of it: the second is dead. */
Test(vhosts, same_host_after_a_catch_all_is_refused)
{
	READ(VS("first", "[a.example.com]", CATCH("resnet50")),
	     VS("second", "[b.example.com, a.example.com]",
		CANARY_ONLY("resnet101")));
	compile_fails("vs2.yaml:6: VirtualService default/second: host "
		      "'a.example.com' on gateway port 80 is also "
		      "VirtualService default/first's (vs1.yaml:1), which "
		      "comes first and has a route that takes every request "
		      "for it");
}

Test(vhosts, two_catch_alls_for_every_host_are_refused)
{
	READ(VS("first", "['*']", CATCH("resnet50")),
	     VS("second", "['*']", CATCH("resnet101")));
	compile_fails("vs2.yaml:6: VirtualService default/second: host '*' "
		      "on gateway port 80 is also VirtualService "
		      "default/first's (vs1.yaml:1)");
}

/* Which ports need the request: the L4 fast path stays where it can. */
Test(vhosts, which_ports_take_the_l7_path)
{
	static const struct {
		const char *yaml;
		bool l7;
	} cases[] = {
		{ VS("lab", "['*']", CATCH("resnet50")), false },
		{ VS("host", "[a.example.com]", CATCH("resnet50")), true },
		{ VS("some", "[a.example.com, '*']", CATCH("resnet50")),
		  false },
		{ VS("match", "['*']", CANARY_ONLY("resnet101")), true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		read_files(&cases[i].yaml, 1);
		compile_ok();
		cr_assert_eq(out.n_listeners, 1);
		cr_assert_eq(out.listeners[0].l7 != KANARY_L7_NONE, cases[i].l7,
			     "case %zu", i);
		kn_compiled_free(&out);
		kn_config_free(&cfg);
	}
	/* Two VirtualServices for every host still need the request. */
	READ(VS("a", "['*']", CANARY_ONLY("resnet101")),
	     VS("b", "['*']", CATCH("resnet50")));
	compile_ok();
	port80();
}

static const char tcp_gateway[] =
	"apiVersion: networking.istio.io/v1beta1\n"
	"kind: Gateway\n"
	"metadata: {name: tcp}\n"
	"spec:\n"
	"  servers:\n"
	"  - port: {number: 9000, name: tcp, protocol: TCP}\n"
	"    hosts: ['*']\n";

#define TCP_VS(name, hosts)                          \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: " name "}\n"               \
	"spec:\n"                                    \
	"  gateways: [tcp]\n"                        \
	"  hosts: " hosts "\n"                       \
	"  http:\n" CATCH("resnet50")

/* A TCP port has no Host: hosts do not count there, and one per port. */
Test(vhosts, tcp_port_stays_l4_and_takes_one)
{
	READ(tcp_gateway, TCP_VS("a", "[a.example.com]"));
	compile_ok();
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(out.listeners[0].l7, KANARY_L7_NONE);
	kn_compiled_free(&out);
	kn_config_free(&cfg);

	READ(tcp_gateway, TCP_VS("a", "[a.example.com]"),
	     TCP_VS("b", "[b.example.com]"));
	compile_fails("vs3.yaml:1: VirtualService default/b: gateway port "
		      "9000 is TCP, and VirtualService default/a (vs2.yaml:1) "
		      "binds it too: kanary tells VirtualServices apart by "
		      "Host on HTTP ports only");
}

Test(vhosts, host_longer_than_the_data_path_takes)
{
	READ(VS("long",
		"[a.example.com, "
		"x1234567890123456789012345678901234567890123456789"
		"0123456789.example.com]",
		CATCH("resnet50")));
	compile_fails("vs1.yaml:6: VirtualService default/long: host "
		      "'x12345678901234567890123456789012345678901234567890"
		      "123456789.example.com' is 72 bytes; the L7 path matches "
		      "hosts of at most 64");
}

/* Istio's wildcard: "*" or a leading "*."; the reader says where. */
Test(vhosts, bad_hosts_are_refused_where_written)
{
	static const struct {
		const char *host, *why;
	} cases[] = {
		{ "'*example.com'",
		  "a wildcard must be \"*\" or start \"*.\"" },
		{ "'*.'", "a wildcard must be \"*\" or start \"*.\"" },
		{ "'a.*.com'", "a wildcard may only be the first label "
			       "(\"*.example.com\")" },
		{ "'example.*'", "a wildcard may only be the first label "
				 "(\"*.example.com\")" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kn_config c = { 0 };
		char yaml[512], want[256];

		snprintf(yaml, sizeof(yaml),
			 VS("v", "\n  - ok.example.com\n  - %s", CATCH("x")),
			 cases[i].host);
		cr_assert_eq(kn_config_read_buffer(&c, "h.yaml", yaml,
						   strlen(yaml), &err),
			     -1, "%s read", cases[i].host);
		snprintf(want, sizeof(want), "h.yaml:8: bad host %.*s: %s",
			 (int)strlen(cases[i].host), cases[i].host,
			 cases[i].why);
		cr_assert_str_eq(err.msg, want);
		kn_config_free(&c);
	}
}

/* The sidecars' VirtualServices: a warning where, and nothing served. */
Test(vhosts, virtualservice_without_gateway_warns_and_is_not_served)
{
	static const char none[] = "apiVersion: networking.istio.io/v1\n"
				   "kind: VirtualService\n"
				   "metadata: {name: reviews}\n"
				   "spec:\n"
				   "  hosts: [reviews]\n"
				   "  http:\n" CATCH("resnet50");
	static const char mesh[] = "apiVersion: networking.istio.io/v1\n"
				   "kind: VirtualService\n"
				   "metadata: {name: ratings}\n"
				   "spec:\n"
				   "  hosts: [ratings]\n"
				   "  gateways:\n"
				   "  - mesh\n"
				   "  http:\n" CATCH("resnet50");
	struct kn_ports ports;
	char *got;

	t_read_lab(&cfg, "virtualservice-weight-70.yaml");
	got = t_read_warnings(&cfg, "reviews.yaml", none);
	cr_assert_str_eq(
		got,
		"kanary: reviews.yaml:1: warning: VirtualService reviews has "
		"no 'gateways' (Istio applies it to the sidecars, 'mesh'); "
		"kanary serves Gateways, so nothing serves it: not served "
		"(add gateways: [NAME] to serve it)\n");
	free(got);
	got = t_read_warnings(&cfg, "ratings.yaml", mesh);
	cr_assert_str_eq(got, "kanary: ratings.yaml:7: warning: "
			      "VirtualService ratings binds only 'mesh' "
			      "(Istio's sidecars); kanary serves Gateways, "
			      "so nothing serves it: not served\n");
	free(got);
	cr_assert_eq(cfg.n_warnings, 2);

	compile_ok();
	/* Only the lab's VirtualService has routes and a port. */
	cr_assert_eq(out.n_routes, 1);
	cr_assert_str_eq(out.routes[0].vs, "default/image-classifier");
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(kn_ports_plan(&cfg, &ports, &err), 0, "%s", err.msg);
	cr_assert_eq(ports.n_unserved, 2);
	cr_assert_str_eq(cfg.res[ports.unserved[0]].name, "reviews");
	cr_assert_str_eq(cfg.res[ports.unserved[1]].name, "ratings");
	kn_ports_free(&ports);
}

/* `kanary status`: every port on every VIP, its path, what it serves. */
Test(vhosts, status_lists_ports_and_what_is_not_served)
{
	static const uint32_t vips[] = { 0x010012c6, 0x020012c6 };
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	READ(VS("a", "[a.example.com]", CATCH("resnet101")),
	     VS("b", "['*.example.org', b.example.net]", CATCH("resnet50")),
	     tcp_gateway, TCP_VS("t", "['*']"),
	     "apiVersion: networking.istio.io/v1\n"
	     "kind: VirtualService\n"
	     "metadata: {name: reviews, namespace: shop}\n"
	     "spec:\n"
	     "  hosts: [reviews]\n"
	     "  gateways: [mesh]\n"
	     "  http:\n" CATCH("resnet50"));
	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	kn_served_print(f, &cfg, vips, 2);
	fclose(f);
	cr_assert_str_eq(
		text,
		"port:        198.18.0.1:80,198.18.0.2:80 HTTP L7: default/a "
		"(a.example.com), default/b (*.example.org b.example.net)\n"
		"port:        198.18.0.1:9000,198.18.0.2:9000 TCP L4: "
		"default/t (*)\n"
		"not served:  shop/reviews: only 'mesh' (Istio's sidecars)\n");
	free(text);

	text = NULL;
	f = open_memstream(&text, &len);
	kn_served_print_json(f, &cfg, vips, 1);
	fclose(f);
	cr_assert_str_eq(
		text,
		"\"ports\":[{\"listen\":[\"198.18.0.1:80\"],\"port\":80,"
		"\"protocol\":\"HTTP\",\"path\":\"L7\",\"virtualservices\":["
		"{\"name\":\"default/a\",\"hosts\":[\"a.example.com\"]},"
		"{\"name\":\"default/b\",\"hosts\":[\"*.example.org\","
		"\"b.example.net\"]}]},"
		"{\"listen\":[\"198.18.0.1:9000\"],\"port\":9000,"
		"\"protocol\":\"TCP\",\"path\":\"L4\",\"virtualservices\":["
		"{\"name\":\"default/t\",\"hosts\":[\"*\"]}]}],"
		"\"not_served\":[{\"name\":\"shop/reviews\",\"why\":\"only "
		"'mesh' (Istio's sidecars)\"}]");
	free(text);
}

/* Istio narrows a VirtualService's hosts to its Gateway server's. */
Test(vhosts, hosts_meet_as_istio_narrows_them)
{
	static const char *const cases[][3] = {
		{ "*", "a.example.com", "a.example.com" },
		{ "a.example.com", "*", "a.example.com" },
		{ "a.example.com", "a.example.com", "a.example.com" },
		{ "a.example.com", "b.example.com", NULL },
		{ "*.example.com", "a.example.com", "a.example.com" },
		{ "a.example.com", "*.example.com", "a.example.com" },
		{ "example.com", "*.example.com", NULL },
		{ "*.example.com", "*.a.example.com", "*.a.example.com" },
		{ "*.a.example.com", "*.example.com", "*.a.example.com" },
		{ "*.example.com", "*.example.com", "*.example.com" },
		{ "*.example.com", "*.example.org", NULL },
		{ "*.example.com", "xexample.com", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = kn_host_meet(cases[i][0], cases[i][1]);

		if (!cases[i][2])
			cr_assert_null(got, "%s ^ %s = %s", cases[i][0],
				       cases[i][1], got);
		else
			cr_assert(got && !strcmp(got, cases[i][2]),
				  "%s ^ %s = %s", cases[i][0], cases[i][1],
				  got ? got : "none");
	}
}

/* A Gateway of its own on port 80, servers' hosts as given. */
#define GW_HOSTS(hosts)                                        \
	"apiVersion: networking.istio.io/v1alpha3\n"           \
	"kind: Gateway\n"                                      \
	"metadata: {name: narrow}\n"                           \
	"spec:\n"                                              \
	"  servers:\n"                                         \
	"  - port: {number: 80, name: http, protocol: HTTP}\n" \
	"    hosts: " hosts "\n"
#define NARROW_VS(name, hosts)                       \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: " name "}\n"               \
	"spec:\n"                                    \
	"  gateways: [narrow]\n"                     \
	"  hosts: " hosts "\n"                       \
	"  http:\n" CATCH("resnet50")

/*
 * `Host: evil.example` on a Gateway for bookinfo.example.com gets no
 * route, though its VirtualService says "*": the port takes L7.
 */
Test(vhosts, gateway_server_hosts_narrow_the_virtualservice)
{
	const struct kanary_l7_table *t;

	t_read_lab(&cfg, NULL);
	t_read_buf_ok(&cfg, "gw.yaml", GW_HOSTS("[bookinfo.example.com]"));
	t_read_buf_ok(&cfg, "vs.yaml", NARROW_VS("bookinfo", "['*']"));
	compile_ok();
	t = port80();
	cr_assert_eq(t->n_blocks, 1);
	assert_block(t, 0, "bookinfo.example.com", EXACT, "resnet50");
	cr_assert_eq(t->default_block, KANARY_L7_NONE);
}

/* "./host" admits the Gateway's namespace, "ns/host" that namespace. */
Test(vhosts, gateway_server_host_namespaces)
{
	struct kn_ports ports;

	t_read_lab(&cfg, NULL);
	t_read_buf_ok(&cfg, "gw.yaml",
		      GW_HOSTS("['./*.example.com', 'other/x.example.org', "
			       "'*/y.example.org']"));
	t_read_buf_ok(&cfg, "vs.yaml",
		      NARROW_VS("v", "[a.example.com, x.example.org, "
				     "y.example.org, '*']"));
	t_read_buf_ok(&cfg, "none.yaml", NARROW_VS("none", "[b.example.net]"));
	compile_ok();
	cr_assert_eq(kn_ports_plan(&cfg, &ports, &err), 0, "%s", err.msg);
	cr_assert_eq(ports.n, 1);
	cr_assert_eq(ports.port[0].n_vs, 1);
	cr_assert_eq(ports.port[0].n_hosts[0], 3);
	cr_assert_str_eq(ports.port[0].hosts[0][0], "a.example.com");
	cr_assert_str_eq(ports.port[0].hosts[0][1], "y.example.org");
	cr_assert_str_eq(ports.port[0].hosts[0][2], "*.example.com");
	cr_assert(ports.port[0].l7);
	/* No server has its host: nothing serves it. */
	cr_assert_eq(ports.n_unserved, 1);
	cr_assert_str_eq(cfg.res[ports.unserved[0]].name, "none");
	kn_ports_free(&ports);
}
