// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Maglev table: balance, minimal disruption, determinism, errors. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "kanary_abi.h"
#include "maglev.h"

#define M KANARY_MAGLEV_SIZE
#define BIG_M 65537 /* prime, 100 times more entries than endpoints */

static uint32_t table_a[BIG_M];
static uint32_t table_b[BIG_M];

/* Pod-like endpoints: 10.1.x.y:8080, the ids the loader would use. */
static void make_ids(uint64_t *ids, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		ids[i] = kn_endpoint_id(htonl(0x0a010000 + i + 1), htons(8080));
}

static void check_balance(uint32_t n)
{
	uint64_t ids[KANARY_MAX_POOL_ENDPOINTS];
	uint32_t count[KANARY_MAX_POOL_ENDPOINTS] = { 0 };
	uint32_t i, min = UINT32_MAX, max = 0;

	make_ids(ids, n);
	cr_assert_eq(kn_maglev_build(ids, n, table_a, M), 0);
	for (i = 0; i < M; i++) {
		cr_assert_lt(table_a[i], n, "entry %u = %u", i, table_a[i]);
		count[table_a[i]]++;
	}
	for (i = 0; i < n; i++) {
		if (count[i] < min)
			min = count[i];
		if (count[i] > max)
			max = count[i];
	}
	/* Population takes turns, one entry each: at most 1 apart. */
	cr_assert_leq(max - min, 1, "n=%u: min %u max %u", n, min, max);
	cr_assert_geq(min, M / n - 1);
}

Test(maglev, balance)
{
	static const uint32_t ns[] = { 1, 2, 3, 7, 50, 256 };
	size_t i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		check_balance(ns[i]);
}

Test(maglev, single_endpoint_owns_all)
{
	uint64_t id = 42;
	uint32_t i;

	cr_assert_eq(kn_maglev_build(&id, 1, table_a, M), 0);
	for (i = 0; i < M; i++)
		cr_assert_eq(table_a[i], 0);
}

/*
 * Remove endpoint r of n, rebuild with a table of size entries, and check
 * that at least pct percent of the other endpoints' entries stay put.
 */
static void check_removal(uint32_t n, uint32_t r, uint32_t size, uint32_t pct)
{
	uint64_t ids[KANARY_MAX_POOL_ENDPOINTS];
	uint64_t rest[KANARY_MAX_POOL_ENDPOINTS];
	uint32_t i, j = 0, kept = 0, others = 0;

	make_ids(ids, n);
	for (i = 0; i < n; i++)
		if (i != r)
			rest[j++] = ids[i];
	cr_assert_eq(kn_maglev_build(ids, n, table_a, size), 0);
	cr_assert_eq(kn_maglev_build(rest, n - 1, table_b, size), 0);

	for (i = 0; i < size; i++) {
		uint64_t before = ids[table_a[i]];
		uint64_t after = rest[table_b[i]];

		cr_assert_neq(after, ids[r], "removed endpoint still in table");
		if (table_a[i] == r)
			continue;
		others++;
		kept += before == after;
	}
	cr_assert_geq((uint64_t)kept * 100, (uint64_t)others * pct,
		      "n=%u remove %u size %u: %u of %u kept", n, r, size, kept,
		      others);
}

static void check_removals(uint32_t n, uint32_t size, uint32_t pct)
{
	check_removal(n, 0, size, pct);
	check_removal(n, n / 2, size, pct);
	check_removal(n, n - 1, size, pct);
}

Test(maglev, removal_moves_little)
{
	check_removals(3, M, 98);
	check_removals(10, M, 98);
	/*
	 * Maglev's extra churn grows with n / size (the paper asks for
	 * size > 100 * n): with 100 endpoints in 4093 entries about 3% of
	 * the others' entries move, whatever the hash. The same pool in a
	 * table 100 times its size keeps 98%.
	 */
	check_removals(100, M, 96);
	check_removals(100, BIG_M, 98);
}

Test(maglev, deterministic)
{
	uint64_t ids[50];

	make_ids(ids, 50);
	cr_assert_eq(kn_maglev_build(ids, 50, table_a, M), 0);
	cr_assert_eq(kn_maglev_build(ids, 50, table_b, M), 0);
	cr_assert_eq(memcmp(table_a, table_b, sizeof(table_a)), 0);
}

Test(maglev, order_independent)
{
	uint64_t ids[50], rev[50];
	uint32_t i;

	make_ids(ids, 50);
	/* 7 is coprime to 50, so this is a shuffle. */
	for (i = 0; i < 50; i++)
		rev[i] = ids[(i * 7 + 3) % 50];
	cr_assert_eq(kn_maglev_build(ids, 50, table_a, M), 0);
	cr_assert_eq(kn_maglev_build(rev, 50, table_b, M), 0);
	for (i = 0; i < M; i++)
		cr_assert_eq(ids[table_a[i]], rev[table_b[i]], "entry %u", i);
}

Test(maglev, other_prime_sizes)
{
	uint64_t ids[3] = { 1, 2, 3 };
	uint32_t t[5];

	/* The smallest tables: size 2 for one endpoint, 5 for three. */
	cr_assert_eq(kn_maglev_build(ids, 1, t, 2), 0);
	cr_assert_eq(t[0], 0);
	cr_assert_eq(t[1], 0);
	cr_assert_eq(kn_maglev_build(ids, 3, t, 5), 0);
	cr_assert(t[0] < 3 && t[1] < 3 && t[2] < 3 && t[3] < 3 && t[4] < 3);
}

Test(maglev, endpoint_id)
{
	uint64_t a = kn_endpoint_id(htonl(0x0a000001), htons(80));

	cr_assert_eq(a, kn_endpoint_id(htonl(0x0a000001), htons(80)));
	cr_assert_neq(a, kn_endpoint_id(htonl(0x0a000002), htons(80)));
	cr_assert_neq(a, kn_endpoint_id(htonl(0x0a000001), htons(81)));
	/* Address and port must not be interchangeable. */
	cr_assert_neq(kn_endpoint_id(htonl(80), htons(1)),
		      kn_endpoint_id(htonl(1), htons(80)));
}

Test(maglev, errors)
{
	uint64_t ids[KANARY_MAX_POOL_ENDPOINTS + 1];
	uint64_t dup[3] = { 5, 6, 5 };
	uint32_t i;

	make_ids(ids, KANARY_MAX_POOL_ENDPOINTS + 1);
	for (i = 0; i < M; i++)
		table_a[i] = 0xdead;

	cr_assert_eq(kn_maglev_build(ids, 0, table_a, M), -1);
	cr_assert_eq(kn_maglev_build(ids, KANARY_MAX_POOL_ENDPOINTS + 1,
				     table_a, M),
		     -1);
	cr_assert_eq(kn_maglev_build(NULL, 3, table_a, M), -1);
	cr_assert_eq(kn_maglev_build(ids, 3, NULL, M), -1);
	/* Not prime. */
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 0), -1);
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 1), -1);
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 4092), -1);
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 4087), -1); /* 61*67 */
	/* Prime but not larger than n. */
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 3), -1);
	cr_assert_eq(kn_maglev_build(ids, 3, table_a, 2), -1);
	cr_assert_eq(kn_maglev_build(ids, 7, table_a, 7), -1);
	/* The same endpoint twice. */
	cr_assert_eq(kn_maglev_build(dup, 3, table_a, M), -1);

	for (i = 0; i < M; i++)
		cr_assert_eq(table_a[i], 0xdead, "table touched on error");
}
