/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Private to promote's files: the state of one promotion (promote.c runs
 * it) and its events as text or JSON lines (promote_print.c). Times are
 * unix time in seconds, read by the caller when the event happened.
 */
#ifndef KANARY_PROMOTE_RUN_H
#define KANARY_PROMOTE_RUN_H

#include "promote.h"
#include "stats.h"

/* The weights of the route's two destinations. */
struct split {
	int canary, stable;
};

struct promote {
	const struct kn_promote_opts *o;
	char vs[2 * KANARY_NAME_LEN]; /* namespace/name */
	char ns[KANARY_NAME_LEN], name[KANARY_NAME_LEN];
	char stable[KANARY_NAME_LEN]; /* the other destination */
	char row[KANARY_NAME_LEN]; /* the canary's counter row */
	struct split set; /* what promote set last (or found at the start) */
	struct split found; /* what an overruled write found instead */
	struct split good; /* of the last step that passed, or the start */
	struct kn_maps m;
};

/* The steps and gates, before the first step. */
void promote_print_start(const struct promote *p, double t);
/* A step's weights are set; its window starts. */
void promote_print_step(const struct promote *p, int step, double t);
/* A step passed (KN_VERDICT_PASS) or was held for the holds-th time. */
void promote_print_verdict(const struct promote *p, int step, enum kn_verdict v,
			   const struct kn_window *w, int holds, double t);
/*
 * Another writer changed the route: found is what the config holds now,
 * or NULL when the route is gone (why says how).
 */
void promote_print_overruled(const struct promote *p, const struct split *found,
			     const char *why, double t);
/* A signal stopped promote; the last good weights are set. */
void promote_print_interrupted(const struct promote *p, int sig, double t);
/*
 * A gate failed and the canary is back to zero; t_5xx is when a poll
 * first saw a 5xx in the window (0: none), took_ms how long from then to
 * the rollback.
 */
void promote_print_rollback(const struct promote *p, int step,
			    enum kn_verdict v, const struct kn_window *w,
			    const struct split *zero, double t, double t_5xx,
			    double took_ms);
/* Every step passed. */
void promote_print_promoted(const struct promote *p, double t);

#endif /* KANARY_PROMOTE_RUN_H */
