/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4): the
 * lookup table a pool's new flows are spread with. Every endpoint owns an
 * almost equal share of the table, and when one endpoint leaves, almost
 * only its own entries move, so established spreading barely changes.
 */
#ifndef KANARY_MAGLEV_H
#define KANARY_MAGLEV_H

#include <stdint.h>

/*
 * The stable identity of an endpoint, for kn_maglev_build(). Addresses and
 * port are given in network byte order (as in the ABI); the id does not
 * depend on the host's byte order, so every gateway builds the same table.
 */
uint64_t kn_endpoint_id(uint32_t addr_be, uint16_t port_be);

/*
 * Fill table[0..size) with indexes 0..n-1 into ids. ids must be distinct;
 * their order does not matter (the table is the same up to the indexes).
 * size must be prime and greater than n; 0 < n <= KANARY_MAX_POOL_ENDPOINTS.
 * Returns 0, or -1 on bad arguments (table is then left untouched).
 */
int kn_maglev_build(const uint64_t *ids, uint32_t n, uint32_t *table,
		    uint32_t size);

#endif /* KANARY_MAGLEV_H */
