/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Canary analysis from the kernel's counters: what a subset did between
 * two readings of its row (requests, success rate, latency quantiles),
 * computed as Prometheus computes it from the same counters, so that
 * `kanary stats`, `kanary promote` and a Flagger query agree.
 */
#ifndef KANARY_ANALYSIS_H
#define KANARY_ANALYSIS_H

#include "kanary_abi.h"
#include "stats.h"

/* Istio's istio_request_duration_milliseconds bucket bounds (ABI). */
extern const double kn_duration_bounds_ms[KANARY_DURATION_BOUNDS];

/* What one subset did between two readings of its row. */
struct kn_window {
	double seconds;
	__u64 requests; /* request heads sent toward the endpoint */
	__u64 responses; /* final responses */
	__u64 errors; /* 5xx among them */
	double rps; /* responses per second; 0 when seconds is 0 */
	double success_pct; /* 100 * non-5xx / responses; -1: no response */
	double p50_ms, p99_ms; /* -1: no response */
};

/*
 * The window from before to now (the same row read twice, seconds
 * apart). before may be NULL: everything since the row began; so is a
 * before whose counters are above now's (the row started again).
 */
void kn_window_between(const struct kn_stat_row *before,
		       const struct kn_stat_row *now, double seconds,
		       struct kn_window *w);

/*
 * Prometheus' histogram_quantile(q) over non-cumulative buckets (the
 * ABI's layout): linear interpolation inside the bucket that holds the
 * rank, the lowest bucket starting at 0, and the highest finite bound
 * when the rank falls in +Inf. -1 when the buckets are empty.
 */
double kn_duration_quantile(const __u64 buckets[KANARY_DURATION_BUCKETS],
			    double q);

/* Responses of a row with a 5xx code. */
__u64 kn_row_errors(const struct kn_stat_row *r);

#endif /* KANARY_ANALYSIS_H */
