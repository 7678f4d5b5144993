// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kanary promote: its command line, and its gates on synthetic windows. */
#include <string.h>

#include <criterion/criterion.h>

#include "analysis.h"
#include "promote.h"

/* ------------------------------------------------------------- parsing */

#define ARGV(...) ((char *[]){ "promote", __VA_ARGS__, NULL })
#define ARGC(...) \
	((int)(sizeof((char *[]){ "promote", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(o, err, ...)                                                 \
	kn_promote_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), "/pins", o, \
			 &help, err)

Test(promote_parse, everything)
{
	struct kn_promote_opts o;
	struct kn_err err;
	bool help;
	int rc = PARSE(&o, &err, "default/image-classifier", "--to",
		       "resnet101", "--steps", "10,30,50,100", "--interval",
		       "30s", "--min-success", "99.5", "--max-p99", "250ms",
		       "--min-requests", "50", "--max-holds", "2", "--json",
		       "--pin-dir", "/sys/fs/bpf/x");

	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_not(help);
	cr_assert_str_eq(o.vs, "default/image-classifier");
	cr_assert_str_eq(o.canary, "resnet101");
	cr_assert_eq(o.n_steps, 4);
	cr_assert_eq(o.steps[0], 10);
	cr_assert_eq(o.steps[3], 100);
	cr_assert_float_eq(o.interval_ms, 30000, 1e-9);
	cr_assert_float_eq(o.gates.min_success_pct, 99.5, 1e-9);
	cr_assert_float_eq(o.gates.max_p99_ms, 250, 1e-9);
	cr_assert_eq(o.gates.min_requests, 50);
	cr_assert_eq(o.gates.max_holds, 2);
	cr_assert(o.json);
	cr_assert_str_eq(o.pin_dir, "/sys/fs/bpf/x");
}

Test(promote_parse, defaults_are_flaggers)
{
	struct kn_promote_opts o;
	struct kn_err err;
	bool help;
	/* Options may come before the VirtualService, too. */
	int rc = PARSE(&o, &err, "--to", "b", "--steps", "100", "--interval",
		       "1m", "vs");

	cr_assert_eq(rc, 0, "%s", err.msg);
	cr_assert_str_eq(o.vs, "vs");
	cr_assert_float_eq(o.interval_ms, 60000, 1e-9);
	cr_assert_float_eq(o.gates.min_success_pct, 99, 1e-9);
	cr_assert_float_eq(o.gates.max_p99_ms, 500, 1e-9);
	cr_assert_eq(o.gates.min_requests, 20);
	cr_assert_eq(o.gates.max_holds, 5);
	cr_assert_not(o.json);
	cr_assert_str_eq(o.pin_dir, "/pins");
}

Test(promote_parse, help)
{
	struct kn_promote_opts o;
	struct kn_err err;
	bool help;

	cr_assert_eq(PARSE(&o, &err, "--help"), 0);
	cr_assert(help);
}

/* Each bad command line is refused with a message naming the problem. */
Test(promote_parse, bad_input)
{
	static const struct {
		const char *args[12];
		const char *says;
	} bad[] = {
		{ { "--to", "b", "--steps", "10,100", "--interval", "1s" },
		  "give a VirtualService" },
		{ { "vs", "--steps", "10,100", "--interval", "1s" }, "--to" },
		{ { "vs", "--to", "b", "--interval", "1s" }, "--steps" },
		{ { "vs", "--to", "b", "--steps", "10,100" }, "--interval" },
		{ { "vs", "extra", "--to", "b", "--steps", "100", "--interval",
		    "1s" },
		  "unexpected argument 'extra'" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--frobnicate" },
		  "bad option" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval" },
		  "needs a value" },
		{ { "vs", "--to", "", "--steps", "100", "--interval", "1s" },
		  "--to takes a subset" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "30" },
		  "give a unit" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "30h" },
		  "give a unit" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "0s" },
		  "more than 0" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "-1s" },
		  "not a duration" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "inf" },
		  "not a duration" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval",
		    "2000m" },
		  "at most 24h" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--max-p99", "fast" },
		  "not a duration" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--min-success", "101" },
		  "percentage" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--min-success", "-5" },
		  "percentage" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--min-requests", "0" },
		  "--min-requests takes a whole number" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--min-requests", "2x" },
		  "--min-requests takes a whole number" },
		{ { "vs", "--to", "b", "--steps", "100", "--interval", "1s",
		    "--max-holds", "-1" },
		  "--max-holds takes a whole number" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[14] = { "promote" };
		struct kn_promote_opts o;
		struct kn_err err = { "" };
		bool help;
		int argc = 1;

		for (int a = 0; bad[i].args[a]; a++)
			argv[argc++] = (char *)bad[i].args[a];
		cr_assert_eq(kn_promote_parse(argc, argv, "/p", &o, &help,
					      &err),
			     -1, "case %zu accepted", i);
		cr_assert(strstr(err.msg, bad[i].says),
			  "case %zu: '%s' does not say '%s'", i, err.msg,
			  bad[i].says);
	}
}

Test(promote_parse, steps)
{
	static const struct {
		const char *s;
		const char *says; /* NULL: accepted */
	} cases[] = {
		{ "10,30,50,100", NULL },
		{ "0,100", NULL },
		{ "100", NULL },
		{ "", "empty" },
		{ "10,50", "last step must be 100" },
		{ "50,10,100", "must go up" },
		{ "10,10,100", "must go up" },
		{ "10,,100", "not a weight" },
		{ "10,100,", "not a weight" },
		{ "-10,100", "not a weight" },
		{ "10,101", "0 to 100" },
		{ "10;100", "not a weight" },
		{ "1e1,100", "not a weight" },
		{ " 10,100", "not a weight" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int steps[KN_PROMOTE_MAX_STEPS], n;
		struct kn_err err = { "" };
		int rc = kn_promote_parse_steps(cases[i].s, steps, &n, &err);

		if (!cases[i].says) {
			cr_assert_eq(rc, 0, "'%s': %s", cases[i].s, err.msg);
			cr_assert_eq(steps[n - 1], 100);
			continue;
		}
		cr_assert_eq(rc, -1, "'%s' accepted", cases[i].s);
		cr_assert(strstr(err.msg, cases[i].says),
			  "'%s': '%s' does not say '%s'", cases[i].s, err.msg,
			  cases[i].says);
	}
}

Test(promote_parse, every_weight_is_a_step)
{
	char s[512] = "0";
	int steps[KN_PROMOTE_MAX_STEPS], n;
	struct kn_err err;

	for (int w = 1; w <= 100; w++)
		snprintf(s + strlen(s), sizeof(s) - strlen(s), ",%d", w);
	cr_assert_eq(kn_promote_parse_steps(s, steps, &n, &err), 0, "%s",
		     err.msg);
	cr_assert_eq(n, 101);
}

Test(promote_parse, durations)
{
	static const struct {
		const char *s;
		double ms;
	} ok[] = {
		{ "500ms", 500 }, { "30s", 30000 }, { "1m", 60000 },
		{ "1.5s", 1500 }, { "0.5ms", 0.5 }, { "2m", 120000 },
	};
	static const char *const bad[] = { "",	 "s",	"500",	 "5 s",
					   "5S", ".5s", "0x10s", "1e3ms",
					   "1h", "0ms", "nan",	 "5sec" };
	struct kn_err err;
	double ms;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(kn_promote_parse_duration(ok[i].s, &ms, &err), 0,
			     "'%s': %s", ok[i].s, err.msg);
		cr_assert_float_eq(ms, ok[i].ms, 1e-9, "'%s'", ok[i].s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(kn_promote_parse_duration(bad[i], &ms, &err), -1,
			     "'%s' accepted", bad[i]);
}

/* ------------------------------------------------------------ verdicts */

static const struct kn_promote_gates gates = {
	.min_success_pct = 99,
	.max_p99_ms = 500,
	.min_requests = 20,
	.max_holds = 5,
};

/* The bucket that holds ms (bounds are upper bounds, le=). */
static int bucket_of(double ms)
{
	int b = 0;

	while (b < KANARY_DURATION_BOUNDS && ms > kn_duration_bounds_ms[b])
		b++;
	return b;
}

/* n responses of code, each taking ms, added to row r. */
static void add(struct kn_stat_row *r, int code, __u64 n, double ms)
{
	int i;

	r->http.requests += n;
	r->http.responses += n;
	r->http.duration_sum_us += n * ms * 1000;
	r->http.duration[bucket_of(ms)] += n;
	for (i = 0; i < r->n_codes; i++)
		if (r->codes[i].code == (__u32)code)
			break;
	if (i == r->n_codes) {
		r->codes[i].code = code;
		r->n_codes++;
	}
	r->codes[i].count += n;
}

/* The verdict on what was added between before and now. */
static enum kn_verdict judge(const struct kn_stat_row *before,
			     const struct kn_stat_row *now, bool over,
			     int holds, struct kn_window *w)
{
	kn_window_between(before, now, 10, w);
	return kn_promote_judge(&gates, w, over, holds);
}

Test(promote_judge, healthy_window_passes_at_the_end)
{
	struct kn_stat_row before = { 0 }, now;
	struct kn_window w;

	/* History before the window does not count: it was all errors. */
	add(&before, 503, 1000, 3);
	now = before;
	add(&now, 200, 990, 20);
	add(&now, 200, 10, 400);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	cr_assert_eq(judge(&before, &now, true, 0, &w), KN_VERDICT_PASS);
	cr_assert_eq(w.responses, 1000);
	cr_assert_float_eq(w.success_pct, 100, 1e-9);
	cr_assert(w.p99_ms <= 500, "p99 %f", w.p99_ms);
}

Test(promote_judge, exactly_at_the_gates_passes)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	add(&now, 200, 99, 3);
	add(&now, 500, 1, 3); /* 99 % */
	cr_assert_eq(judge(&before, &now, true, 0, &w), KN_VERDICT_PASS);
	cr_assert_float_eq(w.success_pct, 99, 1e-9);
}

Test(promote_judge, errors_fail_before_the_end)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	/* 4 of 20: an error share of 0.2, as the lab's canary has. */
	add(&now, 200, 16, 3);
	add(&now, 500, 4, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w),
		     KN_VERDICT_FAIL_SUCCESS);
	cr_assert_float_eq(w.success_pct, 80, 1e-9);
	/* 4xx is the client's fault: it counts as success. */
	memset(&now, 0, sizeof(now));
	add(&now, 200, 10, 3);
	add(&now, 404, 10, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	cr_assert_eq(judge(&before, &now, true, 0, &w), KN_VERDICT_PASS);
}

/* The early rule: errors alone are not enough, min_requests responses are. */
Test(promote_judge, early_rule_waits_for_min_requests)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	add(&now, 500, 19, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	add(&now, 200, 1, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w),
		     KN_VERDICT_FAIL_SUCCESS);
	/* One 5xx among 20..99 responses is below 99 % already. */
	memset(&now, 0, sizeof(now));
	add(&now, 200, 99, 3);
	add(&now, 502, 1, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	add(&now, 503, 1, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w),
		     KN_VERDICT_FAIL_SUCCESS);
}

Test(promote_judge, slow_window_fails_on_p99_at_the_end_only)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	add(&now, 200, 95, 20);
	add(&now, 200, 5, 800);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	cr_assert_eq(judge(&before, &now, true, 0, &w), KN_VERDICT_FAIL_P99);
	cr_assert(w.p99_ms > 500, "p99 %f", w.p99_ms);
	/* Fast responses later in the interval pull it under the gate. */
	add(&now, 200, 900, 20);
	cr_assert_eq(judge(&before, &now, true, 0, &w), KN_VERDICT_PASS);
}

Test(promote_judge, a_failed_success_gate_wins_over_p99)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	add(&now, 200, 50, 2000);
	add(&now, 500, 50, 2000);
	cr_assert_eq(judge(&before, &now, true, 0, &w),
		     KN_VERDICT_FAIL_SUCCESS);
}

Test(promote_judge, thin_windows_hold_then_give_up)
{
	struct kn_stat_row before = { 0 }, now = { 0 };
	struct kn_window w;

	add(&now, 200, 19, 3);
	cr_assert_eq(judge(&before, &now, false, 0, &w), KN_VERDICT_WATCH);
	for (int holds = 0; holds < gates.max_holds; holds++)
		cr_assert_eq(judge(&before, &now, true, holds, &w),
			     KN_VERDICT_HOLD, "hold %d", holds);
	cr_assert_eq(judge(&before, &now, true, gates.max_holds, &w),
		     KN_VERDICT_FAIL_TRAFFIC);
	/* No response at all: the same. */
	cr_assert_eq(judge(&before, &before, true, 0, &w), KN_VERDICT_HOLD);
	cr_assert_eq(w.success_pct, -1);
	/* Enough, at last: judged as any other window. */
	add(&now, 200, 1, 3);
	cr_assert_eq(judge(&before, &now, true, gates.max_holds, &w),
		     KN_VERDICT_PASS);
}

Test(promote_judge, no_holds_allowed)
{
	struct kn_promote_gates g = gates;
	struct kn_stat_row now = { 0 };
	struct kn_window w;

	g.max_holds = 0;
	add(&now, 200, 3, 3);
	kn_window_between(NULL, &now, 1, &w);
	cr_assert_eq(kn_promote_judge(&g, &w, true, 0),
		     KN_VERDICT_FAIL_TRAFFIC);
}

Test(promote_judge, says_why)
{
	struct kn_stat_row now = { 0 };
	struct kn_window w;
	char buf[256];

	add(&now, 200, 16, 3);
	add(&now, 500, 4, 3);
	kn_window_between(NULL, &now, 1, &w);
	kn_verdict_text(KN_VERDICT_FAIL_SUCCESS, &gates, &w, buf, sizeof(buf));
	cr_assert(strstr(buf, "success 80.00 % < 99 %"), "%s", buf);
	cr_assert(strstr(buf, "4 of 20"), "%s", buf);
	kn_verdict_text(KN_VERDICT_FAIL_TRAFFIC, &gates, &w, buf, sizeof(buf));
	cr_assert(strstr(buf, "not enough traffic to judge"), "%s", buf);
}
