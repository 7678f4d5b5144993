// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Istio's weighted destinations turned into the cumulative weights of
 * struct kanary_dest, and the data path's choice replayed in userspace.
 */
#include <stddef.h>
#include <stdint.h>

#include "kanary_abi.h"
#include "weights.h"

int kn_weights_compile(const int32_t *weights, const bool *has_weight,
		       uint32_t n, uint32_t *cum, uint32_t *total)
{
	uint32_t out[KANARY_MAX_DESTS];
	uint64_t sum = 0;
	uint32_t i;

	if (!weights || !cum || !total || n == 0 || n > KANARY_MAX_DESTS)
		return -1;

	for (i = 0; i < n; i++) {
		bool given = !has_weight || has_weight[i];
		int64_t w;

		if (!given)
			w = n == 1; /* Istio: a lone destination takes all */
		else
			w = weights[i];
		if (w < 0)
			return -1;
		sum += w;
		/* Checked on every step: 16 weights can pass 2^32. */
		if (sum > UINT32_MAX)
			return -1;
		out[i] = sum;
	}
	/* A route that can pick nothing would divide by 0 in the data path. */
	if (sum == 0)
		return -1;

	for (i = 0; i < n; i++)
		cum[i] = out[i];
	*total = sum;
	return 0;
}

int kn_weights_pick(const uint32_t *cum, uint32_t n, uint32_t total,
		    uint32_t hash)
{
	uint32_t i, h;

	if (!cum || n == 0 || total == 0)
		return -1;
	h = hash % total;
	for (i = 0; i < n && i < KANARY_MAX_DESTS; i++)
		if (h < cum[i])
			return i;
	return -1;
}
