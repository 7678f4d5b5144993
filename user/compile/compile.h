/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The compiler: a validated config in, the contents of the data path's
 * maps out (routes, weights, pools with Maglev tables, endpoints). Pure:
 * no BPF, no system calls, so that unit tests check it exactly.
 */
#ifndef KANARY_COMPILE_H
#define KANARY_COMPILE_H

#include <stdbool.h>
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

/*
 * A port of the Gateways: the VIP addresses on this port go to route (the
 * L4 path), or, when l7 is not KANARY_L7_NONE, through the rule table
 * kn_compiled.l7[l7] (vhosts.h says which ports). For an L7 port route is
 * the route of the table's default block when it has one, else that of
 * its first block; the data path does not read it then.
 */
struct kn_clistener {
	uint16_t port; /* host byte order */
	uint32_t route;
	uint32_t l7; /* index into kn_compiled.l7, or KANARY_L7_NONE */
};

/*
 * One http route of an L7 VirtualService, or one tls route, as its
 * kn_rule_names row names it: "namespace/name", and the route's name,
 * "http[i]" or "tls[i]".
 */
struct kn_crule {
	char vs[KANARY_NAME_LEN];
	char rule[KANARY_NAME_LEN];
};

/*
 * The rule table of one L7 gateway port, merging the VirtualServices it
 * serves (by Host; a TLS table, KANARY_L7_TLS, by SNI), exactly as kn_l7
 * holds it except for blocks[].rule: here an index into
 * kn_compiled.rules (KANARY_L7_NONE: counted nowhere), which apply turns
 * into that rule's kn_rule_stats row.
 */
struct kn_cl7 {
	char vs[KANARY_NAME_LEN]; /* "namespace/name", or "port N" for several */
	struct kanary_l7_table table;
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
	int n_l7;
	struct kn_cl7 *l7;
	int n_rules;
	struct kn_crule *rules;
};

/*
 * A Gateway port served by one VirtualService for every host ("*"),
 * none of whose http routes has `match`, takes the L4 path: its first
 * http route is the weighted split. Any other HTTP port takes the L7
 * path: one rule table whose blocks are each VirtualService's http
 * routes (all of them with match rules, else its first), tried in order
 * (Istio: first match wins; the conditions of one match block are ANDed,
 * the blocks ORed), under a condition on the request's Host, virtual
 * hosts in the order Envoy selects them (vhosts.h). A PASSTHROUGH port
 * takes its VirtualServices' tls routes instead: one TLS table with a
 * block per SNI host, in the order Envoy selects filter chains. A
 * VirtualService no Gateway port serves compiles to nothing.
 */
int kn_compile(const struct kn_config *cfg, struct kn_compiled *out,
	       struct kn_err *err);

/*
 * What a compile may be told besides the config. Endpoints in ejected
 * (the health checks', user/health/) are left out of every pool; a pool
 * whose every endpoint is ejected compiles empty (the data path refuses
 * its new connections), or, when the destination's DestinationRule has
 * health.kanary.io/fallback, its destination leaves the route's weights
 * while another destination of the route can still take connections.
 */
struct kn_compile_opts {
	const struct kn_cendpoint *ejected;
	int n_ejected;
};

/* kn_compile with options; opts may be NULL (kn_compile is that). */
int kn_compile_with(const struct kn_config *cfg,
		    const struct kn_compile_opts *opts, struct kn_compiled *out,
		    struct kn_err *err);
void kn_compiled_free(struct kn_compiled *c);

/* err = "file:line: " (when src has a file) and the message; returns -1.
 * The compiler's errors, in compile.c and vhosts.c alike. */
int kn_compile_fail(struct kn_err *err, const struct kn_src *src,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The Service port a destination names (port 0: the Service's only one),
 * or NULL.
 */
const struct kn_service_port *kn_service_port(const struct kn_resource *svc,
					      uint16_t port);

/* True when a VirtualService has match rules (takes the L7 path). */
bool kn_vs_is_l7(const struct kn_resource *vs);

/*
 * The L4 route of a VirtualService: its first http entry; NULL if it has
 * none, or if the VirtualService takes the L7 path.
 */
struct kn_http_route *kn_vs_l4_route(const struct kn_resource *vs);

/*
 * The name of http route i of a VirtualService as its counters know it
 * (kanary_rule_name.rule): its `name`, or "http[i]" when it has none or
 * when an earlier route of the same VirtualService already has that name.
 * Cut to KANARY_NAME_LEN - 1 bytes.
 */
void kn_vs_rule_name(const struct kn_resource *vs, int i,
		     char buf[KANARY_NAME_LEN]);

#endif /* KANARY_COMPILE_H */
