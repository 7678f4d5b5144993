// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Cross-resource validation: the lab validates with the endpoints
 * fixture, and each broken reference or weight is reported with the file
 * and line of the offending field.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

/* The lab's Gateway, Service and DestinationRule, and three endpoints. */
static void base(struct kn_config *cfg)
{
	t_read_ok(cfg, t_lab("gateway.yaml"));
	t_read_ok(cfg, t_lab("service.yaml"));
	t_read_ok(cfg, t_lab("destinationrule.yaml"));
	t_read_ok(cfg, FIX "endpoints.yaml");
}

static void valid(const struct kn_config *cfg)
{
	struct kn_err err = { .msg = "" };

	cr_assert_eq(kn_config_validate(cfg, &err), 0, "invalid: %s", err.msg);
}

static void invalid(const struct kn_config *cfg, const char *msg)
{
	struct kn_err err = { .msg = "" };

	cr_assert_eq(kn_config_validate(cfg, &err), -1, "valid, expected %s",
		     msg);
	cr_assert_str_eq(err.msg, msg);
}

/* Base config plus one file: the file's problem is the expected one. */
static void invalid_with(const char *path, const char *msg)
{
	struct kn_config cfg = { 0 };

	base(&cfg);
	t_read_ok(&cfg, path);
	invalid(&cfg, msg);
	kn_config_free(&cfg);
}

static void invalid_with_buf(const char *yaml, const char *msg)
{
	struct kn_config cfg = { 0 };

	base(&cfg);
	t_read_buf_ok(&cfg, "vs.yaml", yaml);
	invalid(&cfg, msg);
	kn_config_free(&cfg);
}

static void valid_with_buf(const char *yaml)
{
	struct kn_config cfg = { 0 };

	base(&cfg);
	t_read_buf_ok(&cfg, "vs.yaml", yaml);
	valid(&cfg);
	kn_config_free(&cfg);
}

/* A VirtualService on the lab's gateway; the route list follows. */
#define VS                                           \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: v}\n"                      \
	"spec:\n"                                    \
	"  gateways: [image-classifier-gateway]\n"   \
	"  http:\n"                                  \
	"  - route:\n"

/* ------------------------------------------------------------------ */
/* The lab */

Test(config_validate, each_lab_virtualservice_validates)
{
	static const char *const vss[] = {
		"virtualservice.yaml",
		"virtualservice-weight-100.yaml",
		"virtualservice-weight-70.yaml",
		"virtualservice-focused-routing.yaml",
	};
	int i;

	for (i = 0; i < 4; i++) {
		struct kn_config cfg = { 0 };

		base(&cfg);
		t_read_ok(&cfg, t_lab(vss[i]));
		cr_assert_eq(cfg.n_res, 7);
		valid(&cfg);
		kn_config_free(&cfg);
	}
}

Test(config_validate, whole_lab_has_four_versions_of_one_virtualservice)
{
	struct kn_config cfg = { 0 };
	char want[3 * PATH_MAX];

	t_read_ok(&cfg, t_lab_dir());
	snprintf(
		want, sizeof(want),
		"%s:1: duplicate VirtualService default/image-classifier (also at %s:1)",
		t_lab("virtualservice-weight-100.yaml"),
		t_lab("virtualservice-focused-routing.yaml"));
	invalid(&cfg, want);
	kn_config_free(&cfg);
}

Test(config_validate, empty_config_is_valid)
{
	struct kn_config cfg = { 0 };

	valid(&cfg);
}

/* ------------------------------------------------------------------ */
/* Subsets and endpoints */

Test(config_validate, unknown_subset)
{
	char want[2 * PATH_MAX];

	snprintf(
		want, sizeof(want),
		FIX
		"vs-unknown-subset.yaml:19: unknown subset 'resnet152' of image-classifier (not in DestinationRule image-classifier, %s:1)",
		t_lab("destinationrule.yaml"));
	invalid_with(FIX "vs-unknown-subset.yaml", want);
}

Test(config_validate, subset_without_destinationrule)
{
	struct kn_config cfg = { 0 };
	char want[PATH_MAX + 128];

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_ok(&cfg, FIX "endpoints.yaml");
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	snprintf(
		want, sizeof(want),
		"%s:13: unknown subset 'resnet50' of image-classifier (no DestinationRule for it)",
		t_lab("virtualservice-weight-70.yaml"));
	invalid(&cfg, want);
	kn_config_free(&cfg);
}

Test(config_validate, subset_without_endpoints)
{
	struct kn_config cfg = { 0 };
	char want[PATH_MAX + 256];

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_ok(&cfg, t_lab("destinationrule.yaml"));
	t_read_ok(&cfg, FIX "endpoints-resnet50-only.yaml");
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	snprintf(
		want, sizeof(want),
		"%s:19: subset resnet101 of image-classifier has no endpoints (no WorkloadEntry in namespace default matches app=image-classifier,version=resnet101)",
		t_lab("virtualservice-weight-70.yaml"));
	invalid(&cfg, want);
	kn_config_free(&cfg);
}

Test(config_validate, service_without_endpoints)
{
	struct kn_config cfg = { 0 };
	char want[PATH_MAX + 256];

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_ok(&cfg, t_lab("virtualservice.yaml"));
	snprintf(
		want, sizeof(want),
		"%s:13: image-classifier has no endpoints (no WorkloadEntry in namespace default matches app=image-classifier)",
		t_lab("virtualservice.yaml"));
	invalid(&cfg, want);
	/* Endpoints in another namespace are not the Service's. */
	t_read_buf_ok(&cfg, "we.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: WorkloadEntry\n"
		      "metadata: {name: w, namespace: other}\n"
		      "spec:\n"
		      "  address: 198.18.0.1\n"
		      "  labels: {app: image-classifier}\n");
	invalid(&cfg, want);
	t_read_buf_ok(&cfg, "we2.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: WorkloadEntry\n"
		      "metadata: {name: w}\n"
		      "spec:\n"
		      "  address: 198.18.0.1\n"
		      "  labels: {app: image-classifier, extra: label}\n");
	valid(&cfg);
	kn_config_free(&cfg);
}

Test(config_validate, service_without_selector_has_no_endpoints)
{
	struct kn_config cfg = { 0 };

	t_read_ok(&cfg, FIX "endpoints.yaml");
	t_read_buf_ok(&cfg, "svc.yaml",
		      "apiVersion: v1\n"
		      "kind: Service\n"
		      "metadata: {name: bare}\n"
		      "spec:\n"
		      "  ports: [{port: 80}]\n"
		      "---\n"
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: VirtualService\n"
		      "metadata: {name: v}\n"
		      "spec:\n"
		      "  http:\n"
		      "  - route:\n"
		      "    - destination: {host: bare}\n");
	invalid(&cfg,
		"svc.yaml:13: bare has no endpoints (Service bare has no selector)");
	kn_config_free(&cfg);
}

Test(config_validate, duplicate_subset_names)
{
	struct kn_config cfg = { 0 };

	t_read_ok(&cfg, t_lab("service.yaml"));
	t_read_buf_ok(&cfg, "dr.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: DestinationRule\n"
		      "metadata: {name: dr}\n"
		      "spec:\n"
		      "  host: image-classifier\n"
		      "  subsets:\n"
		      "  - name: v1\n"
		      "    labels: {version: resnet50}\n"
		      "  - name: v2\n"
		      "    labels: {version: resnet101}\n"
		      "  - name: v1\n"
		      "    labels: {version: resnet101}\n");
	invalid(&cfg, "dr.yaml:11: duplicate subset 'v1' (first on line 7)");
	kn_config_free(&cfg);
}

Test(config_validate, two_destinationrules_for_one_service)
{
	struct kn_config cfg = { 0 };
	char want[PATH_MAX + 256];

	base(&cfg);
	t_read_buf_ok(
		&cfg, "dr.yaml",
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: DestinationRule\n"
		"metadata: {name: again}\n"
		"spec: {host: image-classifier.default.svc.cluster.local}\n");
	snprintf(
		want, sizeof(want),
		"dr.yaml:1: Service default/image-classifier already has DestinationRule default/image-classifier (%s:1)",
		t_lab("destinationrule.yaml"));
	invalid(&cfg, want);
	kn_config_free(&cfg);
}

Test(config_validate, workloadentry_port_names)
{
	struct kn_config cfg = { 0 };

	base(&cfg);
	t_read_buf_ok(&cfg, "we.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: WorkloadEntry\n"
		      "metadata: {name: typo}\n"
		      "spec:\n"
		      "  address: 198.18.4.2\n"
		      "  labels: {app: image-classifier, version: resnet50}\n"
		      "  ports: {tf-serving-htp: 8501}\n");
	invalid(&cfg,
		"we.yaml:1: WorkloadEntry typo: port 'tf-serving-htp' is not a port name of Service image-classifier");
	kn_config_free(&cfg);

	/* Matching no Service, its port names are nobody's business. */
	memset(&cfg, 0, sizeof(cfg));
	base(&cfg);
	t_read_buf_ok(&cfg, "we.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: WorkloadEntry\n"
		      "metadata: {name: other}\n"
		      "spec:\n"
		      "  address: 198.18.4.2\n"
		      "  labels: {app: something-else}\n"
		      "  ports: {anything: 1}\n");
	valid(&cfg);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Gateways */

Test(config_validate, unknown_gateway)
{
	invalid_with(
		FIX "vs-unknown-gateway.yaml", FIX
		"vs-unknown-gateway.yaml:1: VirtualService image-classifier: unknown gateway 'image-classifier-gw'");
}

Test(config_validate, gateway_references)
{
	static const char tail[] =
		"  http:\n"
		"  - route:\n"
		"    - destination: {host: image-classifier, port: {number: 8501}}\n";
	static const char head[] = "apiVersion: networking.istio.io/v1alpha3\n"
				   "kind: VirtualService\n"
				   "metadata: {name: v}\n"
				   "spec:\n";
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "%s%s%s", head,
		 "  gateways: [mesh, default/image-classifier-gateway]\n",
		 tail);
	valid_with_buf(yaml);
	snprintf(yaml, sizeof(yaml), "%s%s%s", head, "  gateways: [mesh]\n",
		 tail);
	valid_with_buf(yaml);
	snprintf(yaml, sizeof(yaml), "%s%s%s", head,
		 "  gateways: [prod/image-classifier-gateway]\n", tail);
	invalid_with_buf(
		yaml,
		"vs.yaml:1: VirtualService v: unknown gateway 'prod/image-classifier-gateway'");
}

/* Virtual hosting: the compiler merges them by host (test_vhosts.c). */
Test(config_validate, two_virtualservices_on_one_gateway_are_valid)
{
	struct kn_config cfg = { 0 };

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	t_read_buf_ok(
		&cfg, "second.yaml",
		"# another team's service\n"
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: VirtualService\n"
		"metadata: {name: other}\n"
		"spec:\n"
		"  hosts: [other.example.com]\n"
		"  gateways: [image-classifier-gateway]\n"
		"  http:\n"
		"  - route:\n"
		"    - destination: {host: image-classifier, port: {number: 8500}}\n");
	valid(&cfg);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Hosts and ports */

Test(config_validate, port_the_service_lacks)
{
	invalid_with(
		FIX "vs-bad-port.yaml", FIX
		"vs-bad-port.yaml:13: port 9000 is not a port of Service image-classifier (it has 8500, 8501)");
}

Test(config_validate, port_required_with_several)
{
	invalid_with_buf(
		VS "    - destination: {host: image-classifier}\n",
		"vs.yaml:8: Service image-classifier has 2 ports: destination needs port.number");
}

Test(config_validate, port_optional_with_one)
{
	struct kn_config cfg = { 0 };

	t_read_ok(&cfg, FIX "endpoints.yaml");
	t_read_buf_ok(
		&cfg, "one.yaml",
		"apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: one}\n"
		"spec:\n"
		"  ports: [{name: tf-serving-http, port: 80, targetPort: 8501}]\n"
		"  selector: {app: image-classifier}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n"
		"spec:\n"
		"  http:\n"
		"  - route:\n"
		"    - destination: {host: one}\n");
	valid(&cfg);
	kn_config_free(&cfg);
}

Test(config_validate, host_forms)
{
	static const char *const ok[] = {
		"image-classifier",
		"image-classifier.default",
		"image-classifier.default.svc",
		"image-classifier.default.svc.cluster.local",
	};
	char yaml[1024];
	int i;

	for (i = 0; i < 4; i++) {
		snprintf(
			yaml, sizeof(yaml),
			VS
			"    - destination: {host: %s, port: {number: 8501}}\n",
			ok[i]);
		valid_with_buf(yaml);
	}
	invalid_with_buf(
		VS
		"    - destination: {host: image-classifer, port: {number: 8501}}\n",
		"vs.yaml:8: unknown host 'image-classifer' (no such Service seen from namespace default)");
	invalid_with_buf(
		VS
		"    - destination: {host: image-classifier.prod, port: {number: 8501}}\n",
		"vs.yaml:8: unknown host 'image-classifier.prod' (no such Service seen from namespace default)");
	invalid_with_buf(
		VS
		"    - destination: {host: image-classifier.default.example.com, port: {number: 8501}}\n",
		"vs.yaml:8: unknown host 'image-classifier.default.example.com' (no such Service seen from namespace default)");
}

/* ------------------------------------------------------------------ */
/* Weights */

Test(config_validate, all_weights_zero)
{
	invalid_with(
		FIX "vs-all-weights-zero.yaml", FIX
		"vs-all-weights-zero.yaml:11: all weights are 0: the route sends traffic nowhere");
}

Test(config_validate, weights_that_are_fine)
{
	/* A lone destination gets everything, weight or not. */
	valid_with_buf(
		VS
		"    - destination: {host: image-classifier, port: {number: 8501}}\n");
	valid_with_buf(
		VS
		"    - destination: {host: image-classifier, port: {number: 8501}}\n"
		"      weight: 0\n");
	/* Relative weights: 1 and 3 is 25 % and 75 %; absent counts 0. */
	valid_with_buf(
		VS
		"    - destination: {host: image-classifier, subset: resnet50, port: {number: 8501}}\n"
		"      weight: 1\n"
		"    - destination: {host: image-classifier, subset: resnet101, port: {number: 8501}}\n"
		"      weight: 3\n"
		"    - destination: {host: image-classifier, port: {number: 8501}}\n");
}

Test(config_validate, weights_must_fit_uint32)
{
	invalid_with_buf(
		VS
		"    - destination: {host: image-classifier, subset: resnet50, port: {number: 8501}}\n"
		"      weight: 2147483647\n"
		"    - destination: {host: image-classifier, subset: resnet101, port: {number: 8501}}\n"
		"      weight: 2147483647\n"
		"    - destination: {host: image-classifier, port: {number: 8501}}\n"
		"      weight: 2\n",
		"vs.yaml:7: weights add up to 4294967296, more than 4294967295");
	valid_with_buf(
		VS
		"    - destination: {host: image-classifier, subset: resnet50, port: {number: 8501}}\n"
		"      weight: 2147483647\n"
		"    - destination: {host: image-classifier, subset: resnet101, port: {number: 8501}}\n"
		"      weight: 2147483647\n"
		"    - destination: {host: image-classifier, port: {number: 8501}}\n"
		"      weight: 1\n");
}

static void many_destinations(char *yaml, size_t size, int n)
{
	size_t off;
	int i;

	off = snprintf(yaml, size, VS);
	for (i = 0; i < n; i++)
		off += snprintf(
			yaml + off, size - off,
			"    - destination: {host: image-classifier, port: {number: 8501}}\n"
			"      weight: 1\n");
}

Test(config_validate, at_most_16_destinations)
{
	char yaml[8192];

	many_destinations(yaml, sizeof(yaml), 16);
	valid_with_buf(yaml);
	many_destinations(yaml, sizeof(yaml), 17);
	invalid_with_buf(
		yaml,
		"vs.yaml:7: 17 destinations in one route; kanary takes at most 16");
}

/* A weight set by hand (the CLI changes weights) is checked too. */
Test(config_validate, negative_weight_in_model)
{
	struct kn_config cfg = { 0 };
	struct kn_destination *d;
	char want[PATH_MAX + 64];

	base(&cfg);
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	d = &cfg.res[cfg.n_res - 1].vs.http[0].route[1];
	d->weight = -1;
	snprintf(want, sizeof(want), "%s:19: weight must be >= 0 (got -1)",
		 t_lab("virtualservice-weight-70.yaml"));
	invalid(&cfg, want);
	kn_config_free(&cfg);
}
