/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Endpoint health, as the agent (`kanary run`) checks it: one active check
 * per endpoint of the applied config (TCP connect, or HTTP GET where the
 * DestinationRule asks for it), consecutive failures eject an endpoint for
 * a base time, passing checks readmit it. The ejected set is kept in the
 * state dir so that every apply (the agent's, or a CLI apply beside it)
 * leaves ejected endpoints out of their pools.
 *
 * The checks run in a thread of their own; the agent's main thread is told
 * through notify_fd (an eventfd: 1 is added) that the ejected set changed,
 * re-applies, then calls kn_health_after_apply().
 */
#ifndef KANARY_HEALTH_H
#define KANARY_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "kanary_abi.h"
#include "pins.h"

struct kn_health;

/* One endpoint as /metrics and `status` show it. */
struct kn_health_row {
	uint32_t addr; /* network byte order */
	uint16_t port; /* network byte order */
	char service[KANARY_NAME_LEN]; /* namespace/name of the Service */
	char subset[KANARY_NAME_LEN]; /* "" when in no subset */
	bool http; /* HTTP check (else TCP connect) */
	bool healthy; /* the last check passed */
	bool ejected; /* left out of its pools */
	uint32_t consecutive_failures;
	uint64_t checks; /* checks run */
	uint64_t failures; /* checks failed */
	uint32_t times_ejected;
	char last_error[128]; /* "" after a passing check */
};

/*
 * Start the checker for pin_dir; the ejected set saved there is adopted:
 * those endpoints stay ejected until their checks pass. notify_fd may be
 * -1 (nobody re-applies). NULL on failure (errno set).
 */
struct kn_health *kn_health_start(const char *pin_dir, int notify_fd);
/*
 * The endpoints and policies to check, from a config just applied. State
 * (counters, ejections) carries over for endpoints in both configs.
 */
int kn_health_set_config(struct kn_health *h, const struct kn_config *cfg);
/*
 * After the re-apply that followed a notify: flows to endpoints ejected
 * because they no longer answer are marked, so that the client's next
 * packet gets a reset rather than retransmitting into the void. m NULL:
 * the pending marks are dropped (nothing loaded to mark).
 */
void kn_health_after_apply(struct kn_health *h, const struct kn_maps *m);
/* A snapshot of every endpoint; *rows is malloc'ed. */
int kn_health_rows(struct kn_health *h, struct kn_health_row **rows, int *n);
void kn_health_stop(struct kn_health *h);

/*
 * For `kanary status`: the ejected endpoints saved in pin_dir's state dir
 * (by a running agent, or left by one), one line each, or "none".
 */
void kn_health_print_status(FILE *f, const char *pin_dir);

/* ------------------------------------------------------------------ */
/* The policy and the state machine: pure, for the unit tests */

#define KN_HEALTH_INTERVAL_MS 2000
#define KN_HEALTH_TIMEOUT_MS 1000
#define KN_HEALTH_UNHEALTHY 3
#define KN_HEALTH_HEALTHY 1
#define KN_HEALTH_BASE_EJECTION_MS 10000
#define KN_HEALTH_MAX_EJECTION_PCT 100
/* Envoy's max_ejection_time default: base x times ejected stops here. */
#define KN_HEALTH_MAX_EJECTION_MS 300000

/* How the endpoints of one pool are checked, defaults applied. */
struct kn_health_policy {
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t unhealthy_threshold; /* consecutive failures; 0: never */
	uint32_t healthy_threshold; /* consecutive passes to readmit */
	uint32_t base_ejection_ms;
	uint32_t max_ejection_pct;
	const char *http_path; /* NULL: TCP connect; points into the config */
	const char *http_expect; /* NULL: any 2xx */
};

/*
 * The policy of a pool: the subset's outlierDetection when it has one
 * (the whole block replaces the rule's, as in Istio), else the rule's;
 * the DestinationRule's health.kanary.io/ annotations; defaults for the
 * rest. dr and subset may be NULL.
 */
void kn_health_policy_of(const struct kn_resource *dr,
			 const struct kn_subset *subset,
			 struct kn_health_policy *p);

/* One endpoint in the state machine. */
struct kn_hep {
	uint32_t addr; /* network byte order */
	uint16_t port; /* network byte order */
	/* From its policy (its first pool's, in config order). */
	uint32_t unhealthy_threshold, healthy_threshold, base_ejection_ms;
	/* State */
	bool healthy; /* the last check passed */
	bool ejected;
	uint32_t fails, passes; /* consecutive */
	uint32_t multiplier; /* base ejection time x this; decays */
	uint32_t times_ejected;
	uint64_t eject_until; /* ms, the caller's clock */
	uint64_t since; /* last ejection or readmission */
	uint64_t checks, failures;
};

/* A pool: the endpoints of one destination (Service, subset, port). */
struct kn_hpool {
	uint32_t max_ejection_pct;
	int n;
	int *eps; /* into kn_hset.eps */
};

struct kn_hset {
	int n_eps;
	struct kn_hep *eps;
	int n_pools;
	struct kn_hpool *pools;
};

enum kn_health_change {
	KN_HEALTH_SAME = 0,
	KN_HEALTH_EJECTED,
	KN_HEALTH_READMITTED,
};

/*
 * One check of endpoint i ended (pass or not) at now_ms. Consecutive
 * failures reaching the threshold eject, unless a pool of the endpoint
 * already has maxEjectionPercent of its endpoints ejected (one endpoint
 * per pool is always ejectable, as in Envoy); the ejection lasts base
 * ejection time x times ejected (capped at KN_HEALTH_MAX_EJECTION_MS;
 * the multiplier drops by one per base ejection time spent admitted),
 * and ends at the first check after it with healthy_threshold
 * consecutive passes.
 */
enum kn_health_change kn_health_result(struct kn_hset *s, int i, bool pass,
				       uint64_t now_ms);

/* An endpoint ejected before (state dir) is ejected now, until it passes. */
void kn_health_adopt(struct kn_hep *e, uint64_t now_ms);

#endif /* KANARY_HEALTH_H */
