// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Canary analysis from counter rows. Every quantile expected here is what
 * Prometheus' histogram_quantile gives for the same buckets made
 * cumulative (checked with promtool test rules, Prometheus 2.x).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "analysis.h"

#define EPS 1e-9

static double q(const __u64 *b, double quantile)
{
	return kn_duration_quantile(b, quantile);
}

Test(analysis, bounds_are_istios)
{
	cr_assert_eq(kn_duration_bounds_ms[0], 0.5);
	cr_assert_eq(kn_duration_bounds_ms[2], 5);
	cr_assert_eq(kn_duration_bounds_ms[KANARY_DURATION_BOUNDS - 1], 3.6e6);
}

Test(analysis, quantile_interpolates_inside_the_bucket)
{
	__u64 b[KANARY_DURATION_BUCKETS] = { [2] = 10 }; /* (1, 5] ms */

	cr_assert_float_eq(q(b, 0.5), 3.0, EPS);
	cr_assert_float_eq(q(b, 0.99), 4.96, EPS);
	cr_assert_float_eq(q(b, 0.1), 1.4, EPS);
}

Test(analysis, quantile_first_bucket_starts_at_zero)
{
	__u64 b[KANARY_DURATION_BUCKETS] = { [0] = 4 }; /* (0, 0.5] ms */

	cr_assert_float_eq(q(b, 0.5), 0.25, EPS);
	cr_assert_float_eq(q(b, 0.99), 0.495, EPS);
	cr_assert_float_eq(q(b, 0.1), 0.05, EPS);
}

Test(analysis, quantile_in_inf_is_the_highest_finite_bound)
{
	__u64 b[KANARY_DURATION_BUCKETS] = {
		[0] = 1, [KANARY_DURATION_BOUNDS] = 9
	};

	cr_assert_float_eq(q(b, 0.5), 3.6e6, EPS);
	cr_assert_float_eq(q(b, 0.99), 3.6e6, EPS);
	cr_assert_float_eq(q(b, 0.1), 0.5, EPS);
}

Test(analysis, quantile_rank_on_a_bound_and_across_empty_buckets)
{
	__u64 on_bound[KANARY_DURATION_BUCKETS] = { [2] = 5, [3] = 5 };
	__u64 gap[KANARY_DURATION_BUCKETS] = { [0] = 1, [5] = 3 };

	/* rank 5 is the whole of (1, 5]: its upper bound */
	cr_assert_float_eq(q(on_bound, 0.5), 5.0, EPS);
	cr_assert_float_eq(q(on_bound, 0.99), 9.9, EPS);
	cr_assert_float_eq(q(on_bound, 0.1), 1.8, EPS);
	/* (25, 50] holds ranks 1..4; the empty buckets below add nothing */
	cr_assert_float_eq(q(gap, 0.5), 25 + 25.0 / 3, EPS);
	cr_assert_float_eq(q(gap, 0.99), 25 + 25 * 2.96 / 3, EPS);
	cr_assert_float_eq(q(gap, 0.1), 0.2, EPS);
}

Test(analysis, quantile_of_nothing_is_minus_one)
{
	__u64 b[KANARY_DURATION_BUCKETS] = { 0 };

	cr_assert_eq(q(b, 0.5), -1);
	cr_assert_eq(q(b, 0.99), -1);
}

static const struct kn_stat_row before = {
	.http = { .requests = 10, .responses = 8, .duration = { [2] = 8 } },
	.n_codes = 2,
	.codes = { { 200, 7 }, { 503, 1 } },
};

static const struct kn_stat_row now = {
	.http = { .requests = 25,
		  .responses = 20,
		  .duration = { [2] = 8, [4] = 12 } },
	.n_codes = 4,
	.codes = { { 200, 17 }, { 404, 1 }, { 502, 1 }, { 503, 1 } },
};

Test(analysis, row_errors_are_5xx_only)
{
	cr_assert_eq(kn_row_errors(&before), 1);
	cr_assert_eq(kn_row_errors(&now), 2);
}

Test(analysis, window_subtracts_the_earlier_reading)
{
	struct kn_window w;

	kn_window_between(&before, &now, 2.0, &w);
	cr_assert_eq(w.requests, 15);
	cr_assert_eq(w.responses, 12);
	cr_assert_eq(w.errors, 1);
	cr_assert_float_eq(w.rps, 6.0, EPS);
	/* the 404 is a success: only 5xx count against it */
	cr_assert_float_eq(w.success_pct, 100.0 * 11 / 12, EPS);
	/* only the window's 12, all in (10, 25]: the 8 in (1, 5] are gone */
	cr_assert_float_eq(w.p50_ms, 17.5, EPS);
	cr_assert_float_eq(w.p99_ms, 10 + 15 * 11.88 / 12, EPS);
}

/* A row read again after it started from zero (unload and load): the
 * window is what it counted since, not a wrapped-around difference. */
Test(analysis, window_after_a_reset_is_what_came_since)
{
	struct kn_window w;

	kn_window_between(&now, &before, 1.0, &w);
	cr_assert_eq(w.requests, 10);
	cr_assert_eq(w.responses, 8);
	cr_assert_eq(w.errors, 1);
	cr_assert_float_eq(w.success_pct, 100.0 * 7 / 8, EPS);
}

Test(analysis, window_from_null_is_the_lifetime)
{
	struct kn_window w;

	kn_window_between(NULL, &now, 0, &w);
	cr_assert_eq(w.responses, 20);
	cr_assert_eq(w.errors, 2);
	cr_assert_eq(w.rps, 0);
	cr_assert_float_eq(w.success_pct, 90.0, EPS);
	/* rank 10 of 20: 8 in (1, 5], then 2 of 12 into (10, 25] */
	cr_assert_float_eq(w.p50_ms, 10 + 15 * 2.0 / 12, EPS);
}

Test(analysis, window_without_responses_has_no_rate_or_latency)
{
	struct kn_window w;

	kn_window_between(&now, &now, 1.0, &w);
	cr_assert_eq(w.responses, 0);
	cr_assert_eq(w.rps, 0);
	cr_assert_eq(w.success_pct, -1);
	cr_assert_eq(w.p50_ms, -1);
	cr_assert_eq(w.p99_ms, -1);
}
