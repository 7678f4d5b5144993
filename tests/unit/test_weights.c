// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Istio weights to cumulative weights, and the data path's pick. */
#include <stdbool.h>
#include <stdint.h>

#include <criterion/criterion.h>

#include "kanary_abi.h"
#include "kanary_hash.h" /* mix32 */
#include "weights.h"

#define SAMPLES 100000

/* How many of SAMPLES hashes each destination gets. */
static void spread(const uint32_t *cum, uint32_t n, uint32_t total,
		   uint32_t *count)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		count[i] = 0;
	for (i = 0; i < SAMPLES; i++) {
		int d = kn_weights_pick(cum, n, total, mix32(i));

		cr_assert(d >= 0 && (uint32_t)d < n, "pick %d", d);
		count[d]++;
	}
}

Test(weights, seventy_thirty)
{
	int32_t w[2] = { 70, 30 };
	bool has[2] = { true, true };
	uint32_t cum[2], total, count[2];

	cr_assert_eq(kn_weights_compile(w, has, 2, cum, &total), 0);
	cr_assert_eq(cum[0], 70);
	cr_assert_eq(cum[1], 100);
	cr_assert_eq(total, 100);
	spread(cum, 2, total, count);
	/* 0.5 points of 100000 samples. */
	cr_assert_leq(count[0], 70500, "%u", count[0]);
	cr_assert_geq(count[0], 69500, "%u", count[0]);
	cr_assert_eq(count[0] + count[1], SAMPLES);
}

Test(weights, hundred_zero)
{
	int32_t w[2] = { 100, 0 };
	bool has[2] = { true, true };
	uint32_t cum[2], total, count[2], h;

	cr_assert_eq(kn_weights_compile(w, has, 2, cum, &total), 0);
	spread(cum, 2, total, count);
	cr_assert_eq(count[1], 0);
	/* Including the edges of the hash range. */
	for (h = 0; h < 1000; h++) {
		cr_assert_eq(kn_weights_pick(cum, 2, total, h), 0);
		cr_assert_eq(kn_weights_pick(cum, 2, total, UINT32_MAX - h), 0);
	}
}

Test(weights, single_without_weight)
{
	int32_t w[1] = { 0 };
	bool has[1] = { false };
	uint32_t cum[1], total;

	cr_assert_eq(kn_weights_compile(w, has, 1, cum, &total), 0);
	cr_assert_eq(cum[0], 1);
	cr_assert_eq(total, 1);
	cr_assert_eq(kn_weights_pick(cum, 1, total, 12345), 0);
	cr_assert_eq(kn_weights_pick(cum, 1, total, UINT32_MAX), 0);
}

Test(weights, single_with_weight)
{
	int32_t w[1] = { 100 };
	uint32_t cum[1], total;

	/* has_weight NULL: every weight given. */
	cr_assert_eq(kn_weights_compile(w, NULL, 1, cum, &total), 0);
	cr_assert_eq(total, 100);
	cr_assert_eq(kn_weights_pick(cum, 1, total, 99), 0);
}

Test(weights, zero_in_the_middle)
{
	int32_t w[3] = { 50, 0, 50 };
	bool has[3] = { true, true, true };
	uint32_t cum[3], total, count[3];

	cr_assert_eq(kn_weights_compile(w, has, 3, cum, &total), 0);
	cr_assert_eq(cum[0], 50);
	cr_assert_eq(cum[1], 50);
	cr_assert_eq(cum[2], 100);
	spread(cum, 3, total, count);
	cr_assert_eq(count[1], 0);
	cr_assert_eq(kn_weights_pick(cum, 3, total, 49), 0);
	cr_assert_eq(kn_weights_pick(cum, 3, total, 50), 2);
}

Test(weights, missing_weight_among_several_is_zero)
{
	int32_t w[3] = { 60, 999, 40 };
	bool has[3] = { true, false, true };
	uint32_t cum[3], total, count[3];

	cr_assert_eq(kn_weights_compile(w, has, 3, cum, &total), 0);
	cr_assert_eq(total, 100);
	spread(cum, 3, total, count);
	cr_assert_eq(count[1], 0);
}

Test(weights, relative_one_to_three)
{
	int32_t w[2] = { 1, 3 };
	uint32_t cum[2], total, count[2];

	cr_assert_eq(kn_weights_compile(w, NULL, 2, cum, &total), 0);
	cr_assert_eq(cum[0], 1);
	cr_assert_eq(cum[1], 4);
	cr_assert_eq(total, 4);
	spread(cum, 2, total, count);
	cr_assert_leq(count[0], 25500, "%u", count[0]);
	cr_assert_geq(count[0], 24500, "%u", count[0]);
}

Test(weights, max_dests_and_large_sum)
{
	int32_t w[KANARY_MAX_DESTS];
	uint32_t cum[KANARY_MAX_DESTS], total, i;

	for (i = 0; i < KANARY_MAX_DESTS; i++)
		w[i] = 1;
	cr_assert_eq(kn_weights_compile(w, NULL, KANARY_MAX_DESTS, cum, &total),
		     0);
	cr_assert_eq(total, KANARY_MAX_DESTS);
	for (i = 0; i < KANARY_MAX_DESTS; i++)
		cr_assert_eq(kn_weights_pick(cum, KANARY_MAX_DESTS, total, i),
			     (int)i);

	/* 2 * INT32_MAX + 1 = UINT32_MAX still fits. */
	w[0] = INT32_MAX;
	w[1] = INT32_MAX;
	w[2] = 1;
	cr_assert_eq(kn_weights_compile(w, NULL, 3, cum, &total), 0);
	cr_assert_eq(total, UINT32_MAX);
}

Test(weights, errors)
{
	int32_t w[KANARY_MAX_DESTS + 1] = { 0 };
	bool has[KANARY_MAX_DESTS + 1];
	uint32_t cum[KANARY_MAX_DESTS + 1], total = 7, i;

	for (i = 0; i <= KANARY_MAX_DESTS; i++) {
		w[i] = 1;
		has[i] = true;
		cum[i] = 7;
	}
	cr_assert_eq(kn_weights_compile(w, has, 0, cum, &total), -1);
	cr_assert_eq(kn_weights_compile(w, has, KANARY_MAX_DESTS + 1, cum,
					&total),
		     -1);
	cr_assert_eq(kn_weights_compile(NULL, has, 2, cum, &total), -1);
	cr_assert_eq(kn_weights_compile(w, has, 2, NULL, &total), -1);
	cr_assert_eq(kn_weights_compile(w, has, 2, cum, NULL), -1);

	/* Negative. */
	w[0] = 80;
	w[1] = -1;
	cr_assert_eq(kn_weights_compile(w, has, 2, cum, &total), -1);

	/* All zero, given or missing. */
	w[0] = 0;
	w[1] = 0;
	cr_assert_eq(kn_weights_compile(w, has, 2, cum, &total), -1);
	cr_assert_eq(kn_weights_compile(w, has, 1, cum, &total), -1);
	has[0] = false;
	has[1] = false;
	cr_assert_eq(kn_weights_compile(w, has, 2, cum, &total), -1);

	/* One past UINT32_MAX. */
	has[0] = true;
	has[1] = true;
	has[2] = true;
	w[0] = INT32_MAX;
	w[1] = INT32_MAX;
	w[2] = 2;
	cr_assert_eq(kn_weights_compile(w, has, 3, cum, &total), -1);

	/* Nothing written on error. */
	cr_assert_eq(total, 7);
	for (i = 0; i <= KANARY_MAX_DESTS; i++)
		cr_assert_eq(cum[i], 7);

	/* pick: nothing to pick from, or cum short of total. */
	cum[0] = 5;
	cr_assert_eq(kn_weights_pick(cum, 0, 10, 1), -1);
	cr_assert_eq(kn_weights_pick(cum, 1, 0, 1), -1);
	cr_assert_eq(kn_weights_pick(NULL, 1, 10, 1), -1);
	cr_assert_eq(kn_weights_pick(cum, 1, 10, 7), -1);
}
