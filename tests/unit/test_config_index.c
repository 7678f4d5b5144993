// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The config's lookup tables (kn_config.index, user/config_index.c):
 * lookups give what a scan of the resources in read order would, the
 * index follows every change of the resources (read, append, merge, free,
 * edits by hand), and the validator and compiler built on it name the
 * same resources in their messages as before.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "vhosts.h"
#include "config.h"
#include "helpers.h"

#define SVC(name, ns, app)                                                   \
	"apiVersion: v1\nkind: Service\n"                                    \
	"metadata: {name: " name ", namespace: " ns "}\n"                    \
	"spec:\n  ports: [{port: 8501, name: http}]\n  selector: {app: " app \
	"}\n"

static struct kn_config cfg;

static void fini(void)
{
	kn_config_free(&cfg);
}

TestSuite(config_index, .fini = fini);

static void read_buf(const char *name, const char *yaml)
{
	t_read_buf_ok(&cfg, name, yaml);
}

static const char *validate(void)
{
	static struct kn_err err;

	memset(&err, 0, sizeof(err));
	if (!kn_config_validate(&cfg, &err))
		return "valid";
	return err.msg;
}

Test(config_index, built_by_lookups_dropped_by_reads_and_free)
{
	struct kn_err err;

	read_buf("a.yaml", SVC("a", "default", "a"));
	cr_assert_null(cfg.index, "reading builds no index");
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "default", "a"),
		     &cfg.res[0]);
	cr_assert_not_null(cfg.index);

	read_buf("b.yaml", SVC("b", "prod", "b"));
	cr_assert_null(cfg.index, "a read that appends drops the index");
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "prod", "b"),
		     &cfg.res[1]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "b"), &cfg.res[1]);
	cr_assert_null(kn_config_find(&cfg, KN_SERVICE, "default", "b"));
	cr_assert_null(kn_config_find(&cfg, KN_GATEWAY, NULL, "a"));
	cr_assert_null(kn_config_find(&cfg, KN_SERVICE, NULL, "c"));

	/* A failed read leaves the config as it was, index and all. */
	cr_assert_eq(kn_config_read_buffer(&cfg, "bad.yaml", "kind: [", 7,
					   &err),
		     -1);
	cr_assert_not_null(cfg.index);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "a"), &cfg.res[0]);

	kn_config_free(&cfg);
	cr_assert_null(cfg.index);
	cr_assert_null(kn_config_find(&cfg, KN_SERVICE, NULL, "a"));
	cr_assert_null(cfg.index, "an empty config needs no index");

	/* Usable again after kn_config_free. */
	read_buf("c.yaml", SVC("c", "default", "c"));
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "c"), &cfg.res[0]);
	cr_assert_null(kn_config_find(&cfg, KN_SERVICE, NULL, "a"));
}

Test(config_index, first_of_duplicates)
{
	read_buf("a.yaml", SVC("x", "prod", "x"));
	read_buf("b.yaml", SVC("x", "default", "x"));
	read_buf("c.yaml",
		 "---\n" SVC("y", "default", "yy") "---\n" SVC(
			 "x", "prod", "x") "---\n" SVC("x", "prod", "x"));
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "x"), &cfg.res[0]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "default", "x"),
		     &cfg.res[1]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "prod", "x"),
		     &cfg.res[0]);
	cr_assert_str_eq(
		validate(),
		"c.yaml:9: duplicate Service prod/x (also at a.yaml:1)");
}

Test(config_index, append_and_merge)
{
	struct kn_config upd = { 0 };
	struct kn_resource *svc;

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_ok(&cfg, t_lab("destinationrule.yaml"));
	t_read_ok(&cfg, FIX "endpoints.yaml");
	cr_assert_eq(cfg.n_res, 6);
	svc = kn_config_find(&cfg, KN_SERVICE, "default", "image-classifier");
	cr_assert_eq(svc, &cfg.res[1]);
	cr_assert_eq(kn_config_destrule_for(&cfg, svc), &cfg.res[2]);

	/* Replaces the Service in place, appends one Service, and of two
	 * WorkloadEntries with one name keeps the second. */
	t_read_buf_ok(
		&upd, "upd.yaml",
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: image-classifier}\n"
		"spec:\n  ports: [{port: 9000}]\n  selector: {app: image-classifier}\n"
		"---\n" SVC(
			"other", "prod",
			"other") "---\n"
				 "apiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\n"
				 "metadata: {name: extra}\n"
				 "spec: {address: 198.18.9.1, labels: {app: other}}\n"
				 "---\n"
				 "apiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\n"
				 "metadata: {name: extra}\n"
				 "spec: {address: 198.18.9.2, labels: {app: other}}\n");
	cr_assert_eq(kn_config_find(&upd, KN_SERVICE, NULL, "other"),
		     &upd.res[1]);
	cr_assert_not_null(upd.index);
	kn_config_merge(&cfg, &upd);
	cr_assert_null(cfg.index, "merge drops the index");
	cr_assert_null(upd.index);
	cr_assert_eq(upd.n_res, 0);
	cr_assert_eq(cfg.n_res, 8);
	svc = kn_config_find(&cfg, KN_SERVICE, "default", "image-classifier");
	cr_assert_eq(svc, &cfg.res[1]);
	cr_assert_eq(svc->svc.ports[0].port, 9000);
	cr_assert_eq(kn_config_destrule_for(&cfg, svc), &cfg.res[2]);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "other"),
		     &cfg.res[6]);
	cr_assert_eq(kn_config_find(&cfg, KN_WORKLOADENTRY, "default", "extra"),
		     &cfg.res[7]);
	cr_assert_eq(cfg.res[7].we.addr, inet_addr("198.18.9.2"));
	cr_assert_null(kn_config_destrule_for(&cfg, &cfg.res[6]));

	/* Merged into a config whose index is built: the same. */
	t_read_buf_ok(&upd, "upd2.yaml",
		      SVC("other", "prod",
			  "changed") "---\n" SVC("third", "dev", "third"));
	cr_assert_not_null(kn_config_find(&cfg, KN_SERVICE, NULL, "other"));
	kn_config_merge(&cfg, &upd);
	cr_assert_eq(cfg.n_res, 9);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "prod", "other"),
		     &cfg.res[6]);
	cr_assert_str_eq(cfg.res[6].svc.selector.kv[0].value, "changed");
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "dev", "third"),
		     &cfg.res[8]);

	/* Append keeps duplicates; the first stays the one found. */
	t_read_buf_ok(&upd, "dup.yaml", SVC("third", "dev", "again"));
	kn_config_find(&cfg, KN_SERVICE, NULL, "third");
	kn_config_append(&cfg, &upd);
	cr_assert_null(cfg.index, "append drops the index");
	cr_assert_eq(cfg.n_res, 10);
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, NULL, "third"),
		     &cfg.res[8]);
	kn_config_free(&upd);
}

/* Resources added by hand are noticed; renames need kn_config_index_drop. */
Test(config_index, edits_by_hand)
{
	struct kn_resource *r;

	read_buf("a.yaml", SVC("a", "default", "a"));
	cr_assert_null(kn_config_find(&cfg, KN_GATEWAY, NULL, "g"));

	cfg.res = realloc(cfg.res, (cfg.n_res + 1) * sizeof(*cfg.res));
	cr_assert_not_null(cfg.res);
	r = &cfg.res[cfg.n_res++];
	memset(r, 0, sizeof(*r));
	r->kind = KN_GATEWAY;
	r->name = strdup("g");
	r->ns = strdup("default");
	cr_assert_eq(kn_config_find(&cfg, KN_GATEWAY, NULL, "g"), r);

	free(cfg.res[0].name);
	cfg.res[0].name = strdup("renamed");
	kn_config_index_drop(&cfg);
	cr_assert_null(cfg.index);
	cr_assert_null(kn_config_find(&cfg, KN_SERVICE, NULL, "a"));
	cr_assert_eq(kn_config_find(&cfg, KN_SERVICE, "default", "renamed"),
		     &cfg.res[0]);
}

#define DR(name, ns, host)                                \
	"apiVersion: networking.istio.io/v1beta1\n"       \
	"kind: DestinationRule\n"                         \
	"metadata: {name: " name ", namespace: " ns "}\n" \
	"spec:\n  host: " host "\n  subsets:\n"           \
	"  - {name: v1, labels: {version: v1}}\n"

Test(config_index, destrule_for_is_the_first_that_resolves)
{
	struct kn_resource copy;

	read_buf("svc.yaml",
		 SVC("a", "default", "a") "---\n" SVC("b", "prod", "b"));
	read_buf("dr.yaml",
		 DR("dr1", "prod", "a") "---\n" DR(
			 "dr2", "prod",
			 "a.default") "---\n" DR("dr3", "default",
						 "a") "---\n" DR("dr4",
								 "default",
								 "nope"));
	cr_assert_eq(kn_config_resolve_host(&cfg, "prod", "a.default.svc"),
		     &cfg.res[0]);
	cr_assert_eq(kn_config_destrule_for(&cfg, &cfg.res[0]), &cfg.res[3]);
	cr_assert_null(kn_config_destrule_for(&cfg, &cfg.res[1]));
	/* What the scan gave: the first whose host resolves to nothing. */
	cr_assert_eq(kn_config_destrule_for(&cfg, NULL), &cfg.res[2]);
	/* Not one of cfg's resources: no DestinationRule is its. */
	copy = cfg.res[0];
	cr_assert_null(kn_config_destrule_for(&cfg, &copy));
	cr_assert_str_eq(
		validate(),
		"dr.yaml:17: Service default/a already has DestinationRule prod/dr2 (dr.yaml:9)");
}

#define GW(name, port)                                               \
	"apiVersion: networking.istio.io/v1beta1\nkind: Gateway\n"   \
	"metadata: {name: " name "}\n"                               \
	"spec:\n  selector: {istio: ingressgateway}\n  servers:\n"   \
	"  - port: {number: " port ", name: http, protocol: HTTP}\n" \
	"    hosts: [\"*\"]\n"
#define VS(name, ns, gateways, host)                                      \
	"apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n" \
	"metadata: {name: " name ", namespace: " ns "}\n"                 \
	"spec:\n  hosts: [\"*\"]\n  gateways: " gateways "\n"             \
	"  http:\n  - route:\n    - destination: {host: " host "}\n"
#define WE(name, ns, addr, labels)                                       \
	"apiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\n" \
	"metadata: {name: " name ", namespace: " ns "}\n"                \
	"spec: {address: " addr ", labels: " labels "}\n"

Test(config_index, virtualservices_share_gateway_ports)
{
	struct kn_ports ports;
	struct kn_err err;

	read_buf("gw.yaml", GW("g1", "80") "---\n" GW("g2", "81"));
	read_buf("svc.yaml", SVC("s", "default", "s") "---\n" WE(
				     "e", "default", "10.0.0.1", "{app: s}"));
	read_buf("vs.yaml",
		 VS("vs1", "default", "[g1]", "s") "---\n" VS(
			 "vs2", "prod", "[mesh, default/g2]",
			 "s.default") "---\n" VS("vs3", "default",
						 "[g2, mesh, default/g1]",
						 "s"));
	cr_assert_str_eq(validate(), "valid");
	cr_assert_eq(kn_ports_plan(&cfg, &ports, &err), 0, "%s", err.msg);
	cr_assert_eq(ports.n, 2);
	cr_assert_eq(ports.port[0].port, 80);
	cr_assert_eq(ports.port[0].n_vs, 2);
	cr_assert(ports.port[0].l7);
	cr_assert_eq(ports.port[1].port, 81);
	cr_assert_eq(ports.port[1].n_vs, 2);
	cr_assert(ports.port[1].l7);
	kn_ports_free(&ports);
}

Test(config_index, workloadentry_port_names_name_the_last_service)
{
	read_buf("svc.yaml",
		 SVC("s1", "default",
		     "x") "---\n"
			  "apiVersion: v1\nkind: Service\n"
			  "metadata: {name: s2}\n"
			  "spec:\n  ports: [{port: 80, name: web}]\n"
			  "  selector: {tier: t, app: x}\n"
			  "---\n" SVC("s3", "prod", "x"));
	read_buf(
		"we.yaml",
		"apiVersion: networking.istio.io/v1beta1\nkind: WorkloadEntry\n"
		"metadata: {name: e}\n"
		"spec:\n  address: 10.0.0.1\n  labels: {app: x, tier: t}\n"
		"  ports: {http: 8501, typo: 1}\n");
	cr_assert_str_eq(
		validate(),
		"we.yaml:1: WorkloadEntry e: port 'typo' is not a port name of Service s2");
}

/*
 * Endpoints by selector, whatever the order of the labels, in read order;
 * one (address, port) shared by two pools is one endpoint.
 */
Test(config_index, endpoints_in_read_order_and_shared)
{
	struct kn_compiled out;
	struct kn_err err;
	const struct kn_cpool *p;

	read_buf("gw.yaml", GW("g1", "80") "---\n" GW("g2", "81"));
	read_buf("svc.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
		 "spec:\n  ports: [{port: 8501}]\n"
		 "  selector: {tier: front, app: web}\n"
		 "---\n" SVC("api", "default", "web"));
	read_buf(
		"we.yaml",
		WE("w0", "default", "10.0.0.1", "{app: web, tier: front, version: v1}") "---\n" WE(
			"w1", "prod", "10.0.0.9",
			"{app: web, tier: front}") "---\n" WE("w2", "default",
							      "10.0.0.2",
							      "{tier: back, app: web}") "---\n" WE("w3",
												   "default",
												   "10.0.0.3",
												   "{version: v2, app: web, tier: front}"));
	read_buf("vs.yaml", VS("vs1", "default", "[g1]", "web") "---\n" VS(
				    "vs2", "default", "[g2]", "api"));
	cr_assert_str_eq(validate(), "valid");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_pools, 2);
	cr_assert_eq(out.n_eps, 3);
	cr_assert_eq(out.eps[0].addr, inet_addr("10.0.0.1"));
	cr_assert_eq(out.eps[1].addr, inet_addr("10.0.0.3"));
	cr_assert_eq(out.eps[2].addr, inet_addr("10.0.0.2"));
	p = &out.pools[0];
	cr_assert_eq(p->n_endpoints, 2);
	cr_assert_eq(p->endpoints[0], 0);
	cr_assert_eq(p->endpoints[1], 1);
	p = &out.pools[1];
	cr_assert_eq(p->n_endpoints, 3);
	cr_assert_eq(p->endpoints[0], 0);
	cr_assert_eq(p->endpoints[1], 2);
	cr_assert_eq(p->endpoints[2], 1);
	kn_compiled_free(&out);
}

Test(config_index, service_without_selector_has_no_endpoints)
{
	read_buf("gw.yaml", GW("g1", "80"));
	read_buf("svc.yaml",
		 "apiVersion: v1\nkind: Service\nmetadata: {name: bare}\n"
		 "spec: {ports: [{port: 8501}]}\n"
		 "---\n" WE("w0", "default", "10.0.0.1", "{app: bare}"));
	read_buf("vs.yaml", VS("vs1", "default", "[g1]", "bare"));
	cr_assert_str_eq(
		validate(),
		"vs.yaml:9: bare has no endpoints (Service bare has no selector)");
}

/* The bench's shape at 300 routes: every lookup still finds its own. */
Test(config_index, many_routes)
{
	enum { R = 300, K = 3 };
	struct kn_compiled out;
	struct kn_err err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int i, k, s, e = 0;

	cr_assert_not_null(f);
	for (i = 0; i < R; i++) {
		fprintf(f,
			"---\napiVersion: networking.istio.io/v1beta1\n"
			"kind: Gateway\nmetadata: {name: gw-%d}\n"
			"spec:\n  servers:\n  - port: {number: %d, name: h, "
			"protocol: HTTP}\n    hosts: [\"*\"]\n",
			i, 10000 + i);
		fprintf(f,
			"---\napiVersion: v1\nkind: Service\n"
			"metadata: {name: svc-%d}\n"
			"spec:\n  ports: [{port: 8501, name: http}]\n"
			"  selector: {app: app-%d}\n",
			i, i);
		fprintf(f,
			"---\napiVersion: networking.istio.io/v1beta1\n"
			"kind: DestinationRule\nmetadata: {name: dr-%d}\n"
			"spec:\n  host: svc-%d\n  subsets:\n"
			"  - {name: stable, labels: {version: stable}}\n"
			"  - {name: canary, labels: {version: canary}}\n",
			i, i);
		for (s = 0; s < 2; s++)
			for (k = 0; k < K; k++, e++)
				fprintf(f,
					"---\napiVersion: "
					"networking.istio.io/v1beta1\n"
					"kind: WorkloadEntry\n"
					"metadata: {name: we-%d-%d-%d}\n"
					"spec:\n  address: 198.19.%d.%d\n"
					"  labels: {app: app-%d, version: %s}\n"
					"  ports: {http: 8501}\n",
					i, s, k, e / 256, e % 256, i,
					s ? "canary" : "stable");
		fprintf(f,
			"---\napiVersion: networking.istio.io/v1beta1\n"
			"kind: VirtualService\nmetadata: {name: vs-%d}\n"
			"spec:\n  hosts: [\"*\"]\n  gateways: [gw-%d]\n"
			"  http:\n  - route:\n"
			"    - destination: {host: svc-%d, subset: stable}\n"
			"      weight: 70\n"
			"    - destination: {host: svc-%d, subset: canary}\n"
			"      weight: 30\n",
			i, i, i, i);
	}
	fclose(f);
	t_read_buf_ok(&cfg, "big.yaml", buf);
	free(buf);
	cr_assert_eq(cfg.n_res, R * (4 + 2 * K));
	cr_assert_str_eq(validate(), "valid");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_routes, R);
	cr_assert_eq(out.n_pools, 2 * R);
	cr_assert_eq(out.n_eps, 2 * R * K);
	for (i = 0; i < 2 * R; i++) {
		cr_assert_eq(out.pools[i].n_endpoints, K);
		for (k = 0; k < K; k++)
			cr_assert_eq(out.pools[i].endpoints[k], i * K + k);
	}
	kn_compiled_free(&out);
	for (i = 0; i < cfg.n_res; i++) {
		const struct kn_resource *r = &cfg.res[i], *dr;

		if (r->kind != KN_SERVICE)
			continue;
		dr = kn_config_destrule_for(&cfg, r);
		cr_assert_not_null(dr);
		cr_assert_str_eq(dr->name + 3, r->name + 4);
	}

	/* One more VirtualService for every host on a Gateway that has
	 * one: valid, but its routes would never be used. */
	read_buf("late.yaml", VS("late", "default", "[gw-7]", "svc-7"));
	cr_assert_str_eq(validate(), "valid");
	cr_assert_eq(kn_compile(&cfg, &out, &err), -1);
	cr_assert(strstr(err.msg, "late.yaml:5: VirtualService default/late: "
				  "host '*' on gateway port 10007 is also "
				  "VirtualService default/vs-7's (big.yaml:"),
		  "%s", err.msg);
}

/* Kubernetes hosts name a Service (as /metrics' labels read them); an
 * external host names none, and is not read as "svc.ns". */
Test(config_index, host_split_kubernetes_names_only)
{
	char name[64], ns[64];

	cr_assert_eq(kn_host_split("reviews", "default", name, sizeof(name), ns,
				   sizeof(ns)),
		     0);
	cr_assert_str_eq(name, "reviews");
	cr_assert_str_eq(ns, "default");
	cr_assert_eq(kn_host_split("reviews.prod.svc.cluster.local", "default",
				   name, sizeof(name), ns, sizeof(ns)),
		     0);
	cr_assert_str_eq(name, "reviews");
	cr_assert_str_eq(ns, "prod");
	cr_assert_eq(kn_host_split("api.example.com", "default", name,
				   sizeof(name), ns, sizeof(ns)),
		     -1);
}
