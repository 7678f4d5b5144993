// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* promote's gates: the verdict on a window, and its words. */
#include <stdio.h>

#include "promote.h"

enum kn_verdict kn_promote_judge(const struct kn_promote_gates *g,
				 const struct kn_window *w, bool over,
				 int holds)
{
	bool enough = w->responses >= g->min_requests;

	if (enough && w->success_pct < g->min_success_pct)
		return KN_VERDICT_FAIL_SUCCESS;
	if (!over)
		return KN_VERDICT_WATCH;
	if (!enough)
		return holds < g->max_holds ? KN_VERDICT_HOLD :
					      KN_VERDICT_FAIL_TRAFFIC;
	if (w->p99_ms > g->max_p99_ms)
		return KN_VERDICT_FAIL_P99;
	return KN_VERDICT_PASS;
}

void kn_verdict_text(enum kn_verdict v, const struct kn_promote_gates *g,
		     const struct kn_window *w, char *buf, size_t len)
{
	switch (v) {
	case KN_VERDICT_WATCH:
		snprintf(buf, len, "watching");
		break;
	case KN_VERDICT_PASS:
		snprintf(buf, len,
			 "success %.2f %% >= %g %%, p99 %.1f ms <= %g ms",
			 w->success_pct, g->min_success_pct, w->p99_ms,
			 g->max_p99_ms);
		break;
	case KN_VERDICT_HOLD:
		snprintf(buf, len, "%llu responses < %llu: too few to judge",
			 (unsigned long long)w->responses,
			 (unsigned long long)g->min_requests);
		break;
	case KN_VERDICT_FAIL_SUCCESS:
		snprintf(buf, len,
			 "success %.2f %% < %g %% (%llu of %llu "
			 "responses 5xx)",
			 w->success_pct, g->min_success_pct,
			 (unsigned long long)w->errors,
			 (unsigned long long)w->responses);
		break;
	case KN_VERDICT_FAIL_P99:
		snprintf(buf, len, "p99 %.1f ms > %g ms", w->p99_ms,
			 g->max_p99_ms);
		break;
	case KN_VERDICT_FAIL_TRAFFIC:
		snprintf(buf, len,
			 "not enough traffic to judge (%llu responses < %llu "
			 "after %d holds)",
			 (unsigned long long)w->responses,
			 (unsigned long long)g->min_requests, g->max_holds);
		break;
	}
}
