/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * `kanary promote`: move a VirtualService's traffic to a canary subset in
 * steps, judging the canary's counters over an interval at each step, and
 * rolling back to the stable subset as soon as a gate fails. The decisions
 * are pure functions of two readings of the canary's row, so that they can
 * be tested without a data path.
 */
#ifndef KANARY_PROMOTE_H
#define KANARY_PROMOTE_H

#include <stdbool.h>

#include "analysis.h"
#include "config.h"

/* Steps are strictly ascending weights in 0..100: at most 101 of them. */
#define KN_PROMOTE_MAX_STEPS 101

/* How often the counters and the saved config are read during a step. */
#define KN_PROMOTE_POLL_MS 100

/* Exit statuses besides 0 (promoted), 1 (error) and 2 (usage). */
enum {
	KN_PROMOTE_ROLLED_BACK = 3, /* a gate failed, or too little traffic */
	KN_PROMOTE_OVERRULED = 4, /* another writer changed the weights */
	KN_PROMOTE_INTERRUPTED = 130, /* SIGINT or SIGTERM */
};

/* What a step's window must show (Flagger's defaults). */
struct kn_promote_gates {
	double min_success_pct; /* non-5xx / final responses; 99 */
	double max_p99_ms; /* 500 */
	__u64 min_requests; /* final responses a window needs to judge; 20 */
	int max_holds; /* times a step's window is extended; 5 */
};

struct kn_promote_opts {
	const char *vs; /* "name" or "namespace/name" */
	const char *canary; /* --to: the subset traffic moves to */
	int n_steps;
	int steps[KN_PROMOTE_MAX_STEPS]; /* the canary's weight at each */
	double interval_ms;
	struct kn_promote_gates gates;
	const char *pin_dir;
	bool json; /* one JSON object per line */
};

/*
 * "10,30,50,100": whole numbers in 0..100, strictly ascending, ending at
 * 100 (promote moves all traffic; set-weight holds a partial split).
 */
int kn_promote_parse_steps(const char *s, int *steps, int *n,
			   struct kn_err *err);
/* "500ms", "30s", "1m", "1.5s": a positive duration with its unit. */
int kn_promote_parse_duration(const char *s, double *ms, struct kn_err *err);

/*
 * The command line after "promote" (argv[0] is "promote"). pin_dir is the
 * default of --pin-dir. -1 with err set on bad input; *help is set by
 * --help (nothing else is parsed then).
 */
int kn_promote_parse(int argc, char **argv, const char *pin_dir,
		     struct kn_promote_opts *o, bool *help, struct kn_err *err);

enum kn_verdict {
	KN_VERDICT_WATCH, /* the interval is not over, no gate failed yet */
	KN_VERDICT_PASS, /* the interval is over and every gate passed */
	KN_VERDICT_HOLD, /* over, too few responses: extend the window */
	KN_VERDICT_FAIL_SUCCESS, /* success rate below the gate */
	KN_VERDICT_FAIL_P99, /* p99 above the gate, at the interval's end */
	KN_VERDICT_FAIL_TRAFFIC, /* still too few after max_holds holds */
};

/*
 * The verdict on the window so far (w: from the step's start to now).
 * over: the window's time is up. holds: how many times this step's
 * window was held (extended by another interval) so far: a hold keeps
 * what the thin interval saw, so a slow trickle is judged on
 * 1 + max_holds intervals before promote gives up.
 *
 * The success gate is judged at every poll: once the window has
 * min_requests responses and its success rate is below the gate, it fails
 * at once (a 5xx cannot be taken back; promote prefers a needless rollback
 * to serving errors for the rest of the interval). p99 is judged at the
 * end only: more fast responses can still pull a quantile under the gate.
 */
enum kn_verdict kn_promote_judge(const struct kn_promote_gates *g,
				 const struct kn_window *w, bool over,
				 int holds);

/* A verdict in a few words, for people ("success 80.0 % < 99 %"). */
void kn_verdict_text(enum kn_verdict v, const struct kn_promote_gates *g,
		     const struct kn_window *w, char *buf, size_t len);

/* The whole promotion; returns the process' exit status. */
int kn_promote_run(const struct kn_promote_opts *o);

#endif /* KANARY_PROMOTE_H */
