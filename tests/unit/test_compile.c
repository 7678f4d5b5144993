// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The compiler and set-weight on the lab's own manifests. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "config.h"
#include "helpers.h"
#include "set_weight.h"

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

static uint32_t addr(const char *s)
{
	return inet_addr(s);
}

TestSuite(compile, .fini = fini);

Test(compile, lab_70_30)
{
	const struct kn_croute *r;

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_listeners, 1);
	cr_assert_eq(out.listeners[0].port, 80);
	cr_assert_eq(out.n_routes, 1);
	r = &out.routes[0];
	cr_assert_str_eq(r->vs, "default/image-classifier");
	cr_assert_eq(r->n_dests, 2);
	cr_assert_eq(r->total_weight, 100);
	cr_assert_eq(r->dests[0].cum_weight, 70);
	cr_assert_eq(r->dests[1].cum_weight, 100);
	cr_assert_str_eq(r->dests[0].subset, "resnet50");
	cr_assert_str_eq(r->dests[1].subset, "resnet101");
	cr_assert_eq(out.n_pools, 2);
	cr_assert_eq(out.pools[r->dests[0].pool].n_endpoints, 2);
	cr_assert_eq(out.pools[r->dests[1].pool].n_endpoints, 1);
}

Test(compile, pools_hold_only_their_subset)
{
	const struct kn_cpool *p50, *p101;
	int seen[3] = { 0 };

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	p50 = &out.pools[out.routes[0].dests[0].pool];
	p101 = &out.pools[out.routes[0].dests[1].pool];
	for (int i = 0; i < KANARY_MAGLEV_SIZE; i++) {
		const struct kn_cendpoint *e = &out.eps[p50->table[i]];

		cr_assert_eq(e->port, htons(8501));
		cr_assert(e->addr == addr("198.18.1.2") ||
			  e->addr == addr("198.18.2.2"));
		seen[e->addr == addr("198.18.2.2")]++;
		cr_assert_eq(out.eps[p101->table[i]].addr, addr("198.18.3.2"));
	}
	/* Maglev: both resnet50 endpoints own half the table, +-1. */
	cr_assert(abs(seen[0] - seen[1]) <= 1, "%d vs %d", seen[0], seen[1]);
}

Test(compile, weight_100_0)
{
	read_lab("virtualservice-weight-100.yaml");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.routes[0].dests[0].cum_weight, 100);
	cr_assert_eq(out.routes[0].dests[1].cum_weight, 100);
	cr_assert_eq(out.routes[0].dests[1].weight, 0);
}

Test(compile, no_subset_means_every_endpoint)
{
	read_lab("virtualservice.yaml");
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.routes[0].n_dests, 1);
	cr_assert_eq(out.routes[0].total_weight, 1);
	cr_assert_eq(out.routes[0].dests[0].weight, 100);
	cr_assert_str_eq(out.routes[0].dests[0].subset, "image-classifier");
	cr_assert_eq(out.pools[0].n_endpoints, 3);
}

Test(compile, no_virtualservice_compiles_empty)
{
	read_lab(NULL);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.n_routes, 0);
	cr_assert_eq(out.n_listeners, 0);
}

Test(set_weight, changes_named_destinations_only)
{
	char *pairs[] = { "resnet101=45" };
	struct kn_http_route *hr;

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_set_weights(&cfg, "image-classifier", 1, pairs, &err),
		     0, "%s", err.msg);
	hr = kn_vs_l4_route(kn_config_find(&cfg, KN_VIRTUALSERVICE, "default",
					   "image-classifier"));
	cr_assert_eq(hr->route[0].weight, 70);
	cr_assert_eq(hr->route[1].weight, 45);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.routes[0].total_weight, 115);
}

Test(set_weight, namespace_qualified_name)
{
	char *pairs[] = { "resnet50=1", "resnet101=1" };

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_set_weights(&cfg, "default/image-classifier", 2, pairs,
				    &err),
		     0, "%s", err.msg);
}

static void set_weight_fails(const char *vs, char *pair, const char *msg)
{
	char *pairs[] = { pair };
	struct kn_http_route *hr;

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_set_weights(&cfg, vs, 1, pairs, &err), -1, "%s", pair);
	cr_assert(strstr(err.msg, msg), "'%s' lacks '%s'", err.msg, msg);
	hr = kn_vs_l4_route(kn_config_find(&cfg, KN_VIRTUALSERVICE, "default",
					   "image-classifier"));
	cr_assert_eq(hr->route[0].weight, 70, "config changed on error");
	cr_assert_eq(hr->route[1].weight, 30, "config changed on error");
}

Test(set_weight, rejects_unknown_subset)
{
	set_weight_fails("image-classifier", "resnet152=10", "resnet152");
}

Test(set_weight, rejects_bad_numbers)
{
	set_weight_fails("image-classifier", "resnet50=-1", "whole number");
	kn_config_free(&cfg);
	set_weight_fails("image-classifier", "resnet50=7x", "whole number");
	kn_config_free(&cfg);
	set_weight_fails("image-classifier", "resnet50=", "whole number");
	kn_config_free(&cfg);
	set_weight_fails("image-classifier", "resnet50", "subset=weight");
}

Test(set_weight, rejects_unknown_virtualservice)
{
	set_weight_fails("other", "resnet50=1", "no VirtualService other");
}

Test(compile, lone_destination_takes_everything_even_at_weight_0)
{
	static const char vs[] = "apiVersion: networking.istio.io/v1alpha3\n"
				 "kind: VirtualService\n"
				 "metadata:\n"
				 "  name: image-classifier\n"
				 "spec:\n"
				 "  hosts: [\"*\"]\n"
				 "  gateways: [image-classifier-gateway]\n"
				 "  http:\n"
				 "  - route:\n"
				 "    - destination:\n"
				 "        host: image-classifier\n"
				 "        subset: resnet101\n"
				 "        port: {number: 8501}\n"
				 "      weight: 0\n";

	read_lab(NULL);
	cr_assert_eq(kn_config_read_buffer(&cfg, "lone.yaml", vs, strlen(vs),
					   &err),
		     0, "%s", err.msg);
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out.routes[0].n_dests, 1);
	cr_assert_gt(out.routes[0].total_weight, 0);
	cr_assert_eq(out.routes[0].dests[0].cum_weight,
		     out.routes[0].total_weight);
	cr_assert_eq(out.routes[0].dests[0].weight, 100);
}

Test(compile, duplicate_workloadentries_are_one_endpoint)
{
	static const char twin[] =
		"apiVersion: networking.istio.io/v1beta1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: resnet101-twin, namespace: default}\n"
		"spec:\n"
		"  address: 198.18.3.2\n"
		"  labels: {app: image-classifier, version: resnet101}\n"
		"  ports: {tf-serving-http: 8501}\n";
	const struct kn_cpool *p101;

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_config_read_buffer(&cfg, "twin.yaml", twin,
					   strlen(twin), &err),
		     0, "%s", err.msg);
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile(&cfg, &out, &err), 0, "%s", err.msg);
	p101 = &out.pools[out.routes[0].dests[1].pool];
	cr_assert_eq(p101->n_endpoints, 1);
	cr_assert_eq(out.n_eps, 3);
}

/* ------------------------------------------------------------------ */
/* Ejected endpoints (health checks) */

static struct kn_cendpoint ep(const char *a)
{
	return (struct kn_cendpoint){ .addr = addr(a), .port = htons(8501) };
}

Test(compile, ejected_endpoint_left_out_of_its_pool)
{
	struct kn_cendpoint ej[] = { ep("198.18.1.2") };
	struct kn_compile_opts opts = { .ejected = ej, .n_ejected = 1 };
	struct kn_compiled all = { 0 };
	const struct kn_cpool *p50, *before;
	int kept = 0, was_b = 0;

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_compile(&cfg, &all, &err), 0, "%s", err.msg);
	cr_assert_eq(kn_compile_with(&cfg, &opts, &out, &err), 0, "%s",
		     err.msg);
	p50 = &out.pools[out.routes[0].dests[0].pool];
	before = &all.pools[all.routes[0].dests[0].pool];
	cr_assert_eq(p50->n_endpoints, 1);
	for (int i = 0; i < KANARY_MAGLEV_SIZE; i++) {
		cr_assert_eq(out.eps[p50->table[i]].addr, addr("198.18.2.2"));
		/* Maglev: the other endpoint keeps every entry it had. */
		if (all.eps[before->table[i]].addr == addr("198.18.2.2")) {
			was_b++;
			kept += out.eps[p50->table[i]].addr ==
				addr("198.18.2.2");
		}
	}
	cr_assert_eq(kept, was_b);
	/* Weights are not touched without fallback. */
	cr_assert_eq(out.routes[0].dests[0].cum_weight, 70);
	kn_compiled_free(&all);
}

Test(compile, pool_with_every_endpoint_ejected_compiles_empty)
{
	struct kn_cendpoint ej[] = { ep("198.18.3.2") };
	struct kn_compile_opts opts = { .ejected = ej, .n_ejected = 1 };

	read_lab("virtualservice-weight-70.yaml");
	cr_assert_eq(kn_compile_with(&cfg, &opts, &out, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(out.pools[out.routes[0].dests[1].pool].n_endpoints, 0);
	cr_assert_eq(out.pools[out.routes[0].dests[0].pool].n_endpoints, 2);
	/* The empty pool keeps its 30 %: its connections are refused. */
	cr_assert_eq(out.routes[0].dests[0].cum_weight, 70);
	cr_assert_eq(out.routes[0].dests[1].cum_weight, 100);
	/* 198.18.3.2 is no endpoint of this compile at all. */
	for (int i = 0; i < out.n_eps; i++)
		cr_assert_neq(out.eps[i].addr, addr("198.18.3.2"));
}

static void fallback_on(void)
{
	struct kn_resource *dr = kn_config_find(&cfg, KN_DESTINATIONRULE,
						"default", "image-classifier");

	cr_assert_not_null(dr);
	dr->dr.check.fallback = true;
}

Test(compile, fallback_moves_an_empty_destination_share)
{
	struct kn_cendpoint ej[] = { ep("198.18.3.2") };
	struct kn_compile_opts opts = { .ejected = ej, .n_ejected = 1 };

	read_lab("virtualservice-weight-70.yaml");
	fallback_on();
	cr_assert_eq(kn_compile_with(&cfg, &opts, &out, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(out.routes[0].total_weight, 70);
	cr_assert_eq(out.routes[0].dests[0].cum_weight, 70);
	cr_assert_eq(out.routes[0].dests[1].cum_weight, 70);
	/* The configured weight is still what stats shows. */
	cr_assert_eq(out.routes[0].dests[1].weight, 30);
}

Test(compile, fallback_with_nothing_left_keeps_the_weights)
{
	struct kn_cendpoint ej[] = { ep("198.18.1.2"), ep("198.18.2.2"),
				     ep("198.18.3.2") };
	struct kn_compile_opts opts = { .ejected = ej, .n_ejected = 3 };

	read_lab("virtualservice-weight-70.yaml");
	fallback_on();
	cr_assert_eq(kn_compile_with(&cfg, &opts, &out, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(out.routes[0].total_weight, 100);
	cr_assert_eq(out.pools[0].n_endpoints, 0);
	cr_assert_eq(out.pools[1].n_endpoints, 0);
}

Test(compile, fallback_to_a_zero_weight_destination_does_not_happen)
{
	struct kn_cendpoint ej[] = { ep("198.18.1.2"), ep("198.18.2.2") };
	struct kn_compile_opts opts = { .ejected = ej, .n_ejected = 2 };

	/* 100/0: resnet50 empty, resnet101 has weight 0: nothing to move
	 * to, so the route stays as configured (and refuses). */
	read_lab("virtualservice-weight-100.yaml");
	fallback_on();
	cr_assert_eq(kn_compile_with(&cfg, &opts, &out, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(out.routes[0].total_weight, 100);
	cr_assert_eq(out.routes[0].dests[0].cum_weight, 100);
}
