// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The health policy as the config reader takes it: Istio's
 * outlierDetection on a DestinationRule and its subsets, and kanary's
 * health.kanary.io/ annotations; bad values are errors with file and line,
 * what kanary does not do is warned about.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"

#define DR_HEAD                                      \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: DestinationRule\n"                    \
	"metadata:\n"                                \
	"  name: r\n"

/* A DestinationRule with outlierDetection fields od (indented 6). */
#define DR_OD(od)                    \
	DR_HEAD "spec:\n"            \
		"  host: svc\n"      \
		"  trafficPolicy:\n" \
		"    outlierDetection:\n" od

/* A DestinationRule with annotations ann (indented 4). */
#define DR_ANN(ann)                              \
	DR_HEAD "  annotations:\n" ann "spec:\n" \
		"  host: svc\n"

static void read_error(const char *yaml, const char *msg)
{
	struct kn_config cfg = { 0 };
	struct kn_err err = { .msg = "" };

	cr_assert_eq(kn_config_read_buffer(&cfg, "dr.yaml", yaml, strlen(yaml),
					   &err),
		     -1, "accepted:\n%s", yaml);
	cr_assert_str_eq(err.msg, msg);
	cr_assert_eq(cfg.n_res, 0);
	kn_config_free(&cfg);
}

Test(health_config, outlier_detection_read)
{
	struct kn_config cfg = { 0 };
	const struct kn_outlier *o;

	t_read_buf_ok(&cfg, "dr.yaml",
		      DR_OD("      interval: 500ms\n"
			    "      consecutiveGatewayErrors: 2\n"
			    "      consecutive5xxErrors: 5\n"
			    "      baseEjectionTime: 1m\n"
			    "      maxEjectionPercent: 100\n"));
	o = &cfg.res[0].dr.outlier;
	cr_assert(o->set && o->has_interval && o->has_gateway_errors &&
		  o->has_5xx_errors && o->has_base_ejection &&
		  o->has_max_ejection);
	cr_assert_eq(o->interval_ms, 500);
	cr_assert_eq(o->gateway_errors, 2);
	cr_assert_eq(o->errors_5xx, 5);
	cr_assert_eq(o->base_ejection_ms, 60000);
	cr_assert_eq(o->max_ejection_pct, 100);
	cr_assert_eq(o->src.line, 9);
	kn_config_free(&cfg);
}

/* Go's time.ParseDuration, as Istio reads a Duration. */
Test(health_config, durations)
{
	static const struct {
		const char *text;
		uint32_t ms;
	} ok[] = {
		{ "1ms", 1 },	    { "2s", 2000 },	{ "1.5s", 1500 },
		{ "1m30s", 90000 }, { "1h", 3600000 },	{ "2500us", 2 },
		{ "0.25s", 250 },   { "1000000ns", 1 }, { "\"3s\"", 3000 },
	};
	char yaml[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct kn_config cfg = { 0 };

		snprintf(yaml, sizeof(yaml), DR_OD("      interval: %s\n"),
			 ok[i].text);
		t_read_buf_ok(&cfg, "dr.yaml", yaml);
		cr_assert_eq(cfg.res[0].dr.outlier.interval_ms, ok[i].ms,
			     "%s: %u", ok[i].text,
			     cfg.res[0].dr.outlier.interval_ms);
		kn_config_free(&cfg);
	}
}

Test(health_config, bad_values_are_errors_with_line)
{
	read_error(DR_OD("      interval: -1s\n"),
		   "dr.yaml:9: interval: bad duration '-1s' (a number and a "
		   "unit: 500ms, 2s, 1m)");
	read_error(DR_OD("      interval: 2\n"),
		   "dr.yaml:9: interval: bad duration '2' (a number and a "
		   "unit: 500ms, 2s, 1m)");
	read_error(DR_OD("      interval: 2 s\n"),
		   "dr.yaml:9: interval: bad duration '2 s' (a number and a "
		   "unit: 500ms, 2s, 1m)");
	read_error(DR_OD("      baseEjectionTime: 0s\n"),
		   "dr.yaml:9: baseEjectionTime: '0s' is below 1ms");
	read_error(DR_OD("      baseEjectionTime: 1000h\n"),
		   "dr.yaml:9: baseEjectionTime: '1000h' is too long (at most "
		   "596h)");
	read_error(DR_OD("      maxEjectionPercent: 101\n"),
		   "dr.yaml:9: maxEjectionPercent: 101 is out of range 0..100");
	read_error(DR_OD("      maxEjectionPercent: -1\n"),
		   "dr.yaml:9: maxEjectionPercent: -1 is out of range 0..100");
	read_error(DR_OD("      consecutive5xxErrors: -3\n"),
		   "dr.yaml:9: consecutive5xxErrors: -3 is out of range "
		   "0..4294967295");
	read_error(DR_OD("      consecutiveGatewayErrors: many\n"),
		   "dr.yaml:9: consecutiveGatewayErrors: expected an integer, "
		   "got 'many'");
	read_error(DR_ANN("    health.kanary.io/timeout: soon\n"),
		   "dr.yaml:6: health.kanary.io/timeout: bad duration 'soon' "
		   "(a number and a unit: 500ms, 2s, 1m)");
	read_error(DR_ANN("    health.kanary.io/healthy-threshold: \"0\"\n"),
		   "dr.yaml:6: health.kanary.io/healthy-threshold: '0' is not "
		   "a count of checks (1 or more)");
	read_error(DR_ANN("    health.kanary.io/http-path: v1/models/x\n"),
		   "dr.yaml:6: health.kanary.io/http-path: 'v1/models/x' does "
		   "not start with '/'");
	read_error(DR_ANN("    health.kanary.io/http-path: /a b\n"),
		   "dr.yaml:6: health.kanary.io/http-path: '/a b' has a blank "
		   "or a control character");
	read_error(DR_ANN("    health.kanary.io/fallback: \"yes\"\n"),
		   "dr.yaml:6: health.kanary.io/fallback: 'yes' is neither "
		   "\"true\" nor \"false\"");
}

Test(health_config, annotations_read)
{
	struct kn_config cfg = { 0 };
	const struct kn_health_check *hc;
	char *warn;

	warn = t_read_warnings(
		&cfg, "dr.yaml",
		DR_ANN("    health.kanary.io/http-path: /v1/models/m\n"
		       "    health.kanary.io/http-expect: AVAILABLE\n"
		       "    health.kanary.io/timeout: 300ms\n"
		       "    health.kanary.io/healthy-threshold: \"3\"\n"
		       "    health.kanary.io/fallback: \"true\"\n"
		       "    kubectl.kubernetes.io/last-applied: '{}'\n"));
	/* Someone else's annotation: silently theirs. */
	cr_assert_str_eq(warn, "");
	hc = &cfg.res[0].dr.check;
	cr_assert_str_eq(hc->http_path, "/v1/models/m");
	cr_assert_str_eq(hc->http_expect, "AVAILABLE");
	cr_assert_eq(hc->timeout_ms, 300);
	cr_assert_eq(hc->healthy_threshold, 3);
	cr_assert(hc->fallback);
	cr_assert(!cfg.res[0].dr.outlier.set);
	free(warn);
	kn_config_free(&cfg);
}

Test(health_config, what_kanary_does_not_do_warns)
{
	struct kn_config cfg = { 0 };
	char *warn;

	warn = t_read_warnings(&cfg, "dr.yaml",
			       DR_HEAD
			       "  annotations:\n"
			       "    health.kanary.io/http-pth: /x\n"
			       "spec:\n"
			       "  host: svc\n"
			       "  trafficPolicy:\n"
			       "    tls: {mode: ISTIO_MUTUAL}\n"
			       "    outlierDetection:\n"
			       "      minHealthPercent: 50\n"
			       "      splitExternalLocalOriginErrors: true\n"
			       "      consecutive5xxErrors: 2\n");
	cr_assert_str_eq(
		warn,
		"kanary: dr.yaml:6: warning: 'health.kanary.io/http-pth' is "
		"ignored by kanary\n"
		"kanary: dr.yaml:10: warning: 'tls' is ignored: Istio opens TLS "
		"(mutual or simple) to the endpoints; kanary forwards "
		"connections as they are\n"
		"kanary: dr.yaml:12: warning: 'minHealthPercent: 50' is "
		"ignored: Istio stops ejecting and uses every endpoint when "
		"fewer than this share are healthy; kanary has no such "
		"threshold\n"
		"kanary: dr.yaml:13: warning: 'splitExternalLocalOriginErrors: "
		"true' is ignored: Istio counts local failures (timeouts, "
		"resets) apart from 5xx; kanary's health checks do not\n");
	cr_assert_eq(cfg.res[0].dr.outlier.errors_5xx, 2);
	cr_assert_null(cfg.res[0].dr.check.http_path);
	free(warn);
	kn_config_free(&cfg);
}

Test(health_config, health_annotation_elsewhere_warns)
{
	static const char yaml[] = "apiVersion: networking.istio.io/v1beta1\n"
				   "kind: WorkloadEntry\n"
				   "metadata:\n"
				   "  name: we\n"
				   "  annotations:\n"
				   "    health.kanary.io/fallback: \"true\"\n"
				   "spec:\n"
				   "  address: 10.0.0.1\n";
	struct kn_config cfg = { 0 };
	char *warn = t_read_warnings(&cfg, "dr.yaml", yaml);

	cr_assert_str_eq(warn,
			 "kanary: dr.yaml:6: warning: "
			 "'health.kanary.io/fallback' is ignored by kanary (it "
			 "belongs on a DestinationRule)\n");
	free(warn);
	kn_config_free(&cfg);
}

Test(health_config, subset_policy_read)
{
	struct kn_config cfg = { 0 };
	const struct kn_destrule *dr;

	t_read_buf_ok(&cfg, "dr.yaml",
		      DR_HEAD "spec:\n"
			      "  host: svc\n"
			      "  subsets:\n"
			      "  - name: v1\n"
			      "    labels: {version: v1}\n"
			      "    trafficPolicy:\n"
			      "      outlierDetection:\n"
			      "        consecutiveGatewayErrors: 1\n"
			      "  - name: v2\n"
			      "    labels: {version: v2}\n");
	dr = &cfg.res[0].dr;
	cr_assert(!dr->outlier.set);
	cr_assert(dr->subsets[0].outlier.set);
	cr_assert(dr->subsets[0].outlier.has_gateway_errors);
	cr_assert_eq(dr->subsets[0].outlier.gateway_errors, 1);
	cr_assert(!dr->subsets[1].outlier.set);
	kn_config_free(&cfg);
}
