/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The compiler: a validated config in, the contents of the data path's
 * maps out (routes, weights, pools with Maglev tables, endpoints). Pure:
 * no BPF, no system calls, so that unit tests check it exactly.
 */
#ifndef KANARY_COMPILE_H
#define KANARY_COMPILE_H

#include <stdint.h>

#include "config.h"
#include "kanary_abi.h"

struct kn_cdest {
	uint32_t pool;
	uint32_t cum_weight;
	int32_t weight; /* as configured (0 when absent among several) */
	char vs[KANARY_NAME_LEN]; /* "namespace/name": the stats row */
	char subset[KANARY_NAME_LEN];
};

struct kn_croute {
	char vs[KANARY_NAME_LEN];
	uint32_t n_dests;
	uint32_t total_weight;
	struct kn_cdest dests[KANARY_MAX_DESTS];
};

struct kn_cpool {
	uint32_t n_endpoints;
	uint32_t endpoints[KANARY_MAX_POOL_ENDPOINTS]; /* into kn_compiled.eps */
	uint32_t table[KANARY_MAGLEV_SIZE]; /* into kn_compiled.eps */
};

struct kn_cendpoint {
	uint32_t addr; /* network byte order */
	uint16_t port; /* network byte order */
};

/* A port of the Gateway: the VIP addresses on this port go to route. */
struct kn_clistener {
	uint16_t port; /* host byte order */
	uint32_t route;
};

struct kn_compiled {
	int n_listeners;
	struct kn_clistener *listeners;
	int n_routes;
	struct kn_croute *routes;
	int n_pools;
	struct kn_cpool *pools;
	int n_eps;
	struct kn_cendpoint *eps;
};

int kn_compile(const struct kn_config *cfg, struct kn_compiled *out,
	       struct kn_err *err);
void kn_compiled_free(struct kn_compiled *c);

/* The L4 route of a VirtualService: its first http entry (NULL if none). */
struct kn_http_route *kn_vs_l4_route(const struct kn_resource *vs);

#endif /* KANARY_COMPILE_H */
