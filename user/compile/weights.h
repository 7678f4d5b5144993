/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A route's destination weights, Istio style, as the cumulative weights
 * the data path chooses with (struct kanary_dest.cum_weight).
 */
#ifndef KANARY_WEIGHTS_H
#define KANARY_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * weights[i] counts only when has_weight[i] (has_weight may be NULL: every
 * weight is given). A lone destination without a weight gets everything;
 * with several, a missing weight is 0. Shares are weight / sum, so weights
 * need not add up to 100.
 *
 * On success cum[i] = w[0] + ... + w[i], *total = cum[n - 1] > 0, and 0 is
 * returned. Returns -1, writing nothing, when n is 0 or above
 * KANARY_MAX_DESTS, a weight is negative, all are 0, or the sum does not
 * fit in 32 bits.
 */
int kn_weights_compile(const int32_t *weights, const bool *has_weight,
		       uint32_t n, uint32_t *cum, uint32_t *total);

/*
 * The destination the data path picks for a flow hash: the first i with
 * hash % total < cum[i]. Returns -1 when there is none (n or total is 0,
 * or cum does not reach total).
 */
int kn_weights_pick(const uint32_t *cum, uint32_t n, uint32_t total,
		    uint32_t hash);

#endif /* KANARY_WEIGHTS_H */
