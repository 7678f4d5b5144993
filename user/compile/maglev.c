// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Maglev table population, as in section 3.4 of the paper: every endpoint
 * walks its own permutation of the table (offset + j * skip, mod a prime
 * size) and, taking turns, claims the first entry still free.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kanary_abi.h"
#include "maglev.h"

#define SEED_ID 0x6b616e6172792d69ULL /* "kanary-i" */
#define SEED_OFFSET 0x9e3779b97f4a7c15ULL
#define SEED_SKIP 0xc2b2ae3d27d4eb4fULL
#define EMPTY UINT32_MAX

/*
 * splitmix64 of x under a seed: every input bit flips about half the output
 * bits, so ids that differ in one bit (neighbouring addresses or ports)
 * still get unrelated permutations.
 */
static uint64_t mix64(uint64_t x, uint64_t seed)
{
	uint64_t z = x + seed;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t kn_endpoint_id(uint32_t addr_be, uint16_t port_be)
{
	/* Host order, so that the id is the same on any architecture. */
	uint64_t key = (uint64_t)ntohl(addr_be) << 16 | ntohs(port_be);

	return mix64(key, SEED_ID);
}

static bool is_prime(uint32_t m)
{
	uint32_t d;

	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (d = 3; (uint64_t)d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

/* Sorted by id; kn_maglev_build() has no context to pass to qsort. */
struct slot {
	uint64_t id;
	uint32_t index; /* into the caller's ids */
	uint32_t skip;
	uint32_t next; /* next position of the permutation to try */
};

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

int kn_maglev_build(const uint64_t *ids, uint32_t n, uint32_t *table,
		    uint32_t size)
{
	struct slot s[KANARY_MAX_POOL_ENDPOINTS];
	uint32_t i, c, filled = 0;

	if (!ids || !table || n == 0 || n > KANARY_MAX_POOL_ENDPOINTS ||
	    size <= n || !is_prime(size))
		return -1;

	for (i = 0; i < n; i++) {
		s[i].id = ids[i];
		s[i].index = i;
	}
	/*
	 * Turns are taken in id order, not in the caller's order: the table
	 * then depends only on the set of ids, and equal ids (which would
	 * make the turn order ambiguous) are refused.
	 */
	qsort(s, n, sizeof(s[0]), cmp_slot);
	for (i = 0; i < n; i++) {
		if (i > 0 && s[i].id == s[i - 1].id)
			return -1;
		/* skip in [1, size - 1]: with size prime, a full cycle. */
		s[i].next = mix64(s[i].id, SEED_OFFSET) % size;
		s[i].skip = mix64(s[i].id, SEED_SKIP) % (size - 1) + 1;
	}

	for (c = 0; c < size; c++)
		table[c] = EMPTY;

	/* size > n, so every endpoint gets at least one entry. */
	for (;;) {
		for (i = 0; i < n; i++) {
			c = s[i].next;
			while (table[c] != EMPTY)
				c = ((uint64_t)c + s[i].skip) % size;
			table[c] = s[i].index;
			s[i].next = ((uint64_t)c + s[i].skip) % size;
			if (++filled == size)
				return 0;
		}
	}
}
