// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* /metrics' per-subset families, from rows built in memory. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "stats.h"

static char *metrics_of(const struct kn_stat_row *rows, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	kn_metrics_write_rows(f, rows, n);
	fclose(f);
	return buf;
}

/* Lines of text that start with s (or are s, when whole). */
static int count_lines(const char *text, const char *s, bool whole)
{
	size_t len = strlen(s);
	int n = 0;

	for (const char *p = text; (p = strstr(p, s)); p += len)
		if ((p == text || p[-1] == '\n') && (!whole || p[len] == '\n'))
			n++;
	return n;
}

static int count_line(const char *text, const char *line)
{
	return count_lines(text, line, true);
}

#define L(svc, ns, wl, ver, vs)                                      \
	"reporter=\"kanary\",destination_service=\"" svc "\","       \
	"destination_service_name=\"" ns "\","                       \
	"destination_service_namespace=\"default\","                 \
	"destination_workload=\"" wl "\","                           \
	"destination_workload_namespace=\"default\","                \
	"destination_version=\"" ver "\",request_protocol=\"http\"," \
	"virtualservice=\"" vs "\""

#define CANARY_LABELS                                                       \
	L("image-classifier.default.svc.cluster.local", "image-classifier", \
	  "image-classifier-resnet101", "resnet101",                        \
	  "default/image-classifier")

static struct kn_stat_row two_rows[2] = {
	{ .ns = "default",
	  .vs = "image-classifier",
	  .subset = "resnet50",
	  .service = "image-classifier",
	  .service_ns = "default",
	  .weight = 70,
	  .http = { .requests = 5, .responses = 4 },
	  .n_codes = 1,
	  .codes = { { 200, 4 } } },
	{ .ns = "default",
	  .vs = "image-classifier",
	  .subset = "resnet101",
	  .service = "image-classifier",
	  .service_ns = "default",
	  .weight = 30,
	  /* 0.3 ms, 2 ms, 3 ms, 40 ms, 2 h: non-cumulative in the kernel */
	  .http = { .requests = 6,
		    .responses = 5,
		    .duration_sum_us = 7200045300ULL,
		    .duration = { [0] = 1, [2] = 2, [5] = 1, [19] = 1 } },
	  .n_codes = 2,
	  .codes = { { 200, 4 }, { 503, 1 } } },
};

Test(metrics, istio_requests_total_one_series_per_code)
{
	char *s = metrics_of(two_rows, 2);

	cr_assert_eq(count_line(s, "istio_requests_total{" CANARY_LABELS
				   ",response_code=\"200\"} 4"),
		     1, "%s", s);
	cr_assert_eq(count_line(s, "istio_requests_total{" CANARY_LABELS
				   ",response_code=\"503\"} 1"),
		     1, "%s", s);
	cr_assert_eq(
		count_line(
			s,
			"istio_requests_total{" L(
				"image-classifier.default.svc.cluster.local",
				"image-classifier", "image-classifier-resnet50",
				"resnet50",
				"default/image-classifier") ",response_code=\"200\"} 4"),
		1, "%s", s);
	cr_assert_null(strstr(s, "resnet50\",request_protocol=\"http\","
				 "virtualservice=\"default/image-classifier\","
				 "response_code=\"503\""),
		       "%s", s);
	cr_assert_eq(count_line(s, "kanary_http_requests_total{namespace="
				   "\"default\",virtualservice=\"image-"
				   "classifier\",subset=\"resnet101\"} 6"),
		     1, "%s", s);
	free(s);
}

Test(metrics, duration_histogram_is_cumulative_in_ms)
{
	static const char *const want[] = {
		"0.5\"} 1",    "1\"} 1",       "5\"} 3",       "10\"} 3",
		"25\"} 3",     "50\"} 4",      "100\"} 4",     "250\"} 4",
		"500\"} 4",    "1000\"} 4",    "2500\"} 4",    "5000\"} 4",
		"10000\"} 4",  "30000\"} 4",   "60000\"} 4",   "300000\"} 4",
		"600000\"} 4", "1.8e+06\"} 4", "3.6e+06\"} 4", "+Inf\"} 5",
	};
	char *s = metrics_of(two_rows, 2);
	char line[1024];

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(
			line, sizeof(line),
			"istio_request_duration_milliseconds_bucket{" CANARY_LABELS
			",le=\"%s",
			want[i]);
		cr_assert_eq(count_line(s, line), 1, "%s\n%s", line, s);
	}
	cr_assert_eq(
		count_line(
			s,
			"istio_request_duration_milliseconds_sum{" CANARY_LABELS
			"} 7200045.300"),
		1, "%s", s);
	cr_assert_eq(
		count_line(
			s,
			"istio_request_duration_milliseconds_count{" CANARY_LABELS
			"} 5"),
		1, "%s", s);
	/* A row without responses still has its series, all zero. */
	cr_assert(strstr(s, "destination_version=\"resnet50\",request_protocol"
			    "=\"http\",virtualservice=\"default/image-"
			    "classifier\",le=\"+Inf\"} 0\n"),
		  "%s", s);
	free(s);
}

Test(metrics, one_help_and_type_per_family)
{
	static const char *const families[] = {
		"istio_requests_total counter",
		"istio_request_duration_milliseconds histogram",
		"kanary_http_requests_total counter",
		"kanary_subset_connections_total counter",
	};
	char *s = metrics_of(two_rows, 2);
	char line[256];

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		snprintf(line, sizeof(line), "# TYPE %s", families[i]);
		cr_assert_eq(count_line(s, line), 1, "%s\n%s", line, s);
		snprintf(line, sizeof(line), "# HELP %.*s ",
			 (int)(strchr(families[i], ' ') - families[i]),
			 families[i]);
		cr_assert_eq(count_lines(s, line, false), 1, "%s\n%s", line, s);
	}
	free(s);
}

Test(metrics, labels_escaped_unknown_service)
{
	struct kn_stat_row r = {
		.ns = "n\"s",
		.vs = "a\\b\nc",
		.subset = "v1",
		.weight = -1,
		.http = { .responses = 1, .duration = { [3] = 1 } },
		.n_codes = 1,
		.codes = { { 404, 1 } },
	};
	char *s = metrics_of(&r, 1);

	cr_assert_eq(count_line(s, "istio_requests_total{reporter=\"kanary\","
				   "destination_service=\"unknown\","
				   "destination_service_name=\"unknown\","
				   "destination_service_namespace=\"n\\\"s\","
				   "destination_workload=\"unknown-v1\","
				   "destination_workload_namespace=\"n\\\"s\","
				   "destination_version=\"v1\","
				   "request_protocol=\"http\","
				   "virtualservice=\"n\\\"s/a\\\\b\\nc\","
				   "response_code=\"404\"} 1"),
		     1, "%s", s);
	free(s);
}

/* Every kn_global counter is named, in status and as a metric label, and
 * no two share a label: a counter added without a name would be printed
 * "(unnamed)" and left out of /metrics. */
Test(metrics, every_global_counter_named_once)
{
	for (int i = 0; i < KANARY_G_MAX; i++) {
		cr_assert_not_null(kn_global_names[i].id, "counter %d", i);
		cr_assert_not_null(kn_global_names[i].text, "counter %d", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(kn_global_names[i].id,
					  kn_global_names[j].id,
					  "counters %d and %d", i, j);
	}
	cr_assert_str_eq(kn_global_names[KANARY_G_L7_ANSWER_404].id,
			 "l7_answer_404");
	cr_assert_str_eq(kn_global_names[KANARY_G_L7_ANSWER_431].id,
			 "l7_answer_431");
	cr_assert_str_eq(kn_global_names[KANARY_G_L7_ANSWER_400].id,
			 "l7_answer_400");
	cr_assert_str_eq(kn_global_names[KANARY_G_L7_TLS_NO_ROUTE].id,
			 "l7_tls_no_route");
}
