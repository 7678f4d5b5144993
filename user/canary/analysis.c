// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>

#include "analysis.h"

const double kn_duration_bounds_ms[KANARY_DURATION_BOUNDS] = {
	0.5,  1,    5,	   10,	  25,	 50,  100, 250,	  500,	 1000,
	2500, 5000, 10000, 30000, 60000, 3e5, 6e5, 1.8e6, 3.6e6,
};

double kn_duration_quantile(const __u64 buckets[KANARY_DURATION_BUCKETS],
			    double q)
{
	double total = 0, rank, below = 0;

	for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
		total += buckets[b];
	if (total == 0)
		return -1;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	rank = q * total;
	for (int b = 0; b < KANARY_DURATION_BUCKETS; b++) {
		double lo, hi;

		if (below + buckets[b] < rank || !buckets[b]) {
			below += buckets[b];
			continue;
		}
		if (b == KANARY_DURATION_BOUNDS) /* +Inf */
			return kn_duration_bounds_ms[b - 1];
		lo = b ? kn_duration_bounds_ms[b - 1] : 0;
		hi = kn_duration_bounds_ms[b];
		return lo + (hi - lo) * (rank - below) / buckets[b];
	}
	return kn_duration_bounds_ms[KANARY_DURATION_BOUNDS - 1];
}

__u64 kn_row_errors(const struct kn_stat_row *r)
{
	__u64 n = 0;

	for (int i = 0; i < r->n_codes; i++)
		if (r->codes[i].code >= 500 && r->codes[i].code <= 599)
			n += r->codes[i].count;
	return n;
}

void kn_window_between(const struct kn_stat_row *before,
		       const struct kn_stat_row *now, double seconds,
		       struct kn_window *w)
{
	__u64 buckets[KANARY_DURATION_BUCKETS];

	memset(w, 0, sizeof(*w));
	w->seconds = seconds;
	/* A row that went back (unload and load, a row given anew) starts
	 * again from zero: the window is what it has counted since. */
	if (before && (now->http.requests < before->http.requests ||
		       now->http.responses < before->http.responses))
		before = NULL;
	w->requests = now->http.requests;
	w->responses = now->http.responses;
	w->errors = kn_row_errors(now);
	memcpy(buckets, now->http.duration, sizeof(buckets));
	if (before) {
		w->requests -= before->http.requests;
		w->responses -= before->http.responses;
		w->errors -= kn_row_errors(before);
		for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
			buckets[b] -= before->http.duration[b];
	}
	w->rps = seconds > 0 ? w->responses / seconds : 0;
	w->success_pct = w->responses ? 100.0 * (w->responses - w->errors) /
						w->responses :
					-1;
	w->p50_ms = kn_duration_quantile(buckets, 0.5);
	w->p99_ms = kn_duration_quantile(buckets, 0.99);
}
