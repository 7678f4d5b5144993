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

/* Start the checker for pin_dir; the ejected set saved there is kept. */
struct kn_health *kn_health_start(const char *pin_dir, int notify_fd);
/* The endpoints and policies to check, from a config just applied. */
int kn_health_set_config(struct kn_health *h, const struct kn_config *cfg);
/*
 * After the re-apply that followed a notify: flows to endpoints ejected
 * because they no longer answer are marked, so that the client's next
 * packet gets a reset rather than retransmitting into the void.
 */
void kn_health_after_apply(struct kn_health *h, const struct kn_maps *m);
/* A snapshot of every endpoint; *rows is malloc'ed. */
int kn_health_rows(struct kn_health *h, struct kn_health_row **rows, int *n);
void kn_health_stop(struct kn_health *h);

#endif /* KANARY_HEALTH_H */
