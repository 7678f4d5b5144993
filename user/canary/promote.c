// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "compile.h"
#include "promote.h"
#include "set_weight.h"
#include "state.h"
#include "stats.h"

/* Longest --interval: a step that long is a soak, not a canary. */
#define MAX_INTERVAL_MS (24 * 3600 * 1000.0)

static int fail(struct kn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct kn_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int kn_promote_parse_steps(const char *s, int *steps, int *n,
			   struct kn_err *err)
{
	const char *p = s;

	*n = 0;
	if (!*s)
		return fail(err, "--steps is empty");
	for (;;) {
		char *end;
		long w;

		if (*p < '0' || *p > '9')
			return fail(err, "--steps '%s': '%s' is not a weight",
				    s, p);
		errno = 0;
		w = strtol(p, &end, 10);
		if (errno || w > 100)
			return fail(err, "--steps '%s': weights are 0 to 100",
				    s);
		if (*end && *end != ',')
			return fail(err, "--steps '%s': '%s' is not a weight",
				    s, p);
		if (*n && w <= steps[*n - 1])
			return fail(err,
				    "--steps '%s': weights must go up (%d, "
				    "then %ld)",
				    s, steps[*n - 1], w);
		steps[(*n)++] = w;
		if (!*end)
			break;
		p = end + 1;
	}
	if (steps[*n - 1] != 100)
		return fail(err,
			    "--steps '%s': the last step must be 100 (for a "
			    "partial split, use set-weight)",
			    s);
	return 0;
}

int kn_promote_parse_duration(const char *s, double *ms, struct kn_err *err)
{
	size_t digits = strspn(s, "0123456789.");
	const char *unit = s + digits;
	char *end;
	double v;

	/* strtod alone would take "inf", "0x1p3" and " 5". */
	if (!digits || s[0] == '.')
		return fail(err, "'%s' is not a duration (e.g. 500ms, 30s, 1m)",
			    s);
	errno = 0;
	v = strtod(s, &end);
	if (errno || end != unit)
		return fail(err, "'%s' is not a duration (e.g. 500ms, 30s, 1m)",
			    s);
	if (!strcmp(unit, "ms"))
		*ms = v;
	else if (!strcmp(unit, "s"))
		*ms = v * 1000;
	else if (!strcmp(unit, "m"))
		*ms = v * 60000;
	else
		return fail(err, "'%s': give a unit, ms, s or m (e.g. 30s)", s);
	if (!(*ms > 0))
		return fail(err, "'%s': a duration must be more than 0", s);
	return 0;
}

/* A whole number in lo..hi. */
static int parse_count(const char *opt, const char *s, long long lo,
		       long long hi, long long *v, struct kn_err *err)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno || end == s || *end || *s < '0' || *s > '9' || *v < lo ||
	    *v > hi)
		return fail(err, "%s takes a whole number from %lld to %lld",
			    opt, lo, hi);
	return 0;
}

/* A percentage in 0..100, "%" optional. */
static int parse_pct(const char *opt, const char *s, double *v,
		     struct kn_err *err)
{
	size_t digits = strspn(s, "0123456789.");
	char *end;

	if (!digits || (s[digits] && strcmp(s + digits, "%")))
		return fail(err, "%s takes a percentage from 0 to 100", opt);
	errno = 0;
	*v = strtod(s, &end);
	if (errno || end != s + digits || *v < 0 || *v > 100)
		return fail(err, "%s takes a percentage from 0 to 100", opt);
	return 0;
}

enum {
	OPT_TO = 256,
	OPT_STEPS,
	OPT_INTERVAL,
	OPT_MIN_SUCCESS,
	OPT_MAX_P99,
	OPT_MIN_REQUESTS,
	OPT_MAX_HOLDS,
	OPT_PIN,
	OPT_JSON,
	OPT_HELP,
};

int kn_promote_parse(int argc, char **argv, const char *pin_dir,
		     struct kn_promote_opts *o, bool *help, struct kn_err *err)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "min-success", required_argument, NULL, OPT_MIN_SUCCESS },
		{ "max-p99", required_argument, NULL, OPT_MAX_P99 },
		{ "min-requests", required_argument, NULL, OPT_MIN_REQUESTS },
		{ "max-holds", required_argument, NULL, OPT_MAX_HOLDS },
		{ "pin-dir", required_argument, NULL, OPT_PIN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_dir = pin_dir;
	o->gates = (struct kn_promote_gates){
		.min_success_pct = 99,
		.max_p99_ms = 500,
		.min_requests = 20,
		.max_holds = 5,
	};
	*help = false;
	/* 0, not 1: glibc starts over (the unit tests parse many times). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			if (!*optarg)
				return fail(err, "--to takes a subset");
			o->canary = optarg;
			break;
		case OPT_STEPS:
			if (kn_promote_parse_steps(optarg, o->steps,
						   &o->n_steps, err))
				return -1;
			break;
		case OPT_INTERVAL:
			if (kn_promote_parse_duration(optarg, &o->interval_ms,
						      err))
				return -1;
			if (o->interval_ms > MAX_INTERVAL_MS)
				return fail(err, "--interval is at most 24h");
			break;
		case OPT_MIN_SUCCESS:
			if (parse_pct("--min-success", optarg,
				      &o->gates.min_success_pct, err))
				return -1;
			break;
		case OPT_MAX_P99:
			if (kn_promote_parse_duration(
				    optarg, &o->gates.max_p99_ms, err))
				return -1;
			break;
		case OPT_MIN_REQUESTS:
			if (parse_count("--min-requests", optarg, 1,
					1000000000000LL, &v, err))
				return -1;
			o->gates.min_requests = v;
			break;
		case OPT_MAX_HOLDS:
			if (parse_count("--max-holds", optarg, 0, 1000, &v,
					err))
				return -1;
			o->gates.max_holds = v;
			break;
		case OPT_PIN:
			o->pin_dir = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
		case OPT_HELP:
			*help = true;
			return 0;
		case ':':
			return fail(err, "%s needs a value", argv[optind - 1]);
		default:
			return fail(err, "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return fail(err, "give a VirtualService");
	if (argc - optind > 1)
		return fail(err, "unexpected argument '%s'", argv[optind + 1]);
	o->vs = argv[optind];
	if (!o->canary)
		return fail(err, "give the canary subset with --to");
	if (!o->n_steps)
		return fail(err, "give the weights with --steps (e.g. "
				 "10,30,50,100)");
	if (!o->interval_ms)
		return fail(err, "give how long each step is watched with "
				 "--interval (e.g. 30s)");
	return 0;
}

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

/* ------------------------------------------------------------------ run */

/* The route promote changes, found in a config. */
struct route {
	struct kn_resource *vs;
	struct kn_http_route *hr;
	int canary, stable; /* destination indices in hr */
};

/* A destination as set-weight names it. */
static const char *dest_name(const struct kn_destination *d)
{
	return d->subset ? d->subset : d->host;
}

static struct kn_resource *find_vs(struct kn_config *cfg, const char *ref,
				   struct kn_err *err)
{
	const char *slash = strchr(ref, '/');
	struct kn_resource *found = NULL;
	int n = 0;

	for (int i = 0; i < cfg->n_res; i++) {
		struct kn_resource *r = &cfg->res[i];

		if (r->kind != KN_VIRTUALSERVICE)
			continue;
		if (slash ? (strlen(r->ns) == (size_t)(slash - ref) &&
			     !strncmp(r->ns, ref, slash - ref) &&
			     !strcmp(r->name, slash + 1)) :
			    !strcmp(r->name, ref)) {
			found = r;
			n++;
		}
	}
	if (n == 1)
		return found;
	fail(err,
	     n ? "VirtualService %s is in several namespaces; say "
		 "namespace/name" :
		 "no VirtualService %s has been applied",
	     ref);
	return NULL;
}

/*
 * The one http route of the VirtualService that goes to the canary, with
 * exactly one other destination: the stable one. A split among three or
 * more has no single "other side" to give 100 - w.
 */
static int find_route(struct kn_config *cfg, const char *ref,
		      const char *canary, struct route *rt, struct kn_err *err)
{
	int n_http, n = 0;

	rt->vs = find_vs(cfg, ref, err);
	if (!rt->vs)
		return -1;
	n_http = kn_vs_is_l7(rt->vs) ? rt->vs->vs.n_http : !!rt->vs->vs.n_http;
	for (int h = 0; h < n_http; h++) {
		struct kn_http_route *hr = &rt->vs->vs.http[h];

		for (int d = 0; d < hr->n_route; d++) {
			if (strcmp(dest_name(&hr->route[d]), canary))
				continue;
			rt->hr = hr;
			rt->canary = d;
			n++;
		}
	}
	if (!n)
		return fail(err, "VirtualService %s does not route to %s", ref,
			    canary);
	if (n > 1)
		return fail(err,
			    "VirtualService %s routes to %s in %d places: "
			    "promote changes one route with two destinations",
			    ref, canary, n);
	if (rt->hr->n_route != 2)
		return fail(err,
			    "the route of VirtualService %s to %s has %d "
			    "destinations: promote needs exactly two (the "
			    "stable one and the canary)",
			    ref, canary, rt->hr->n_route);
	rt->stable = !rt->canary;
	return 0;
}

/* The name of the canary's counter row (stats.c names rows this way). */
static void row_name(const struct kn_config *cfg, const struct route *rt,
		     char *buf, size_t len)
{
	const struct kn_destination *d = &rt->hr->route[rt->canary];
	const struct kn_resource *svc;

	if (d->subset) {
		snprintf(buf, len, "%s", d->subset);
		return;
	}
	svc = kn_config_resolve_host(cfg, rt->vs->ns, d->host);
	snprintf(buf, len, "%s", svc ? svc->name : d->host);
}

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

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "2024-05-01T12:00:00.123Z " before each line of text. */
static void stamp(double t)
{
	time_t sec = (time_t)t;
	char buf[32];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("%s.%03dZ ", buf, (int)((t - sec) * 1000));
}

static void json_head(const struct promote *p, const char *event, double t)
{
	printf("{\"event\":\"%s\",\"time\":%.6f,\"virtualservice\":", event, t);
	kn_json_str(stdout, p->vs);
	printf(",\"canary\":");
	kn_json_str(stdout, p->o->canary);
	printf(",\"stable\":");
	kn_json_str(stdout, p->stable);
}

static void json_split(const char *key, const struct split *s)
{
	printf(",\"%s\":{\"canary\":%d,\"stable\":%d}", key, s->canary,
	       s->stable);
}

static void json_window(const struct kn_window *w)
{
	printf(",\"window\":{\"seconds\":%.3f,\"requests\":%llu,"
	       "\"responses\":%llu,\"errors\":%llu,\"rps\":%.2f,",
	       w->seconds, (unsigned long long)w->requests,
	       (unsigned long long)w->responses, (unsigned long long)w->errors,
	       w->rps);
	/* -1 (no response) as null: a number there would be a lie. */
	if (w->success_pct < 0)
		printf("\"success_pct\":null,\"p50_ms\":null,\"p99_ms\":null}");
	else
		printf("\"success_pct\":%.3f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}",
		       w->success_pct, w->p50_ms, w->p99_ms);
}

static void text_window(const struct kn_window *w)
{
	printf("%llu responses in %.1f s, %.1f req/s",
	       (unsigned long long)w->responses, w->seconds, w->rps);
	if (w->success_pct >= 0)
		printf(", success %.2f %%, p50 %.1f ms, p99 %.1f ms",
		       w->success_pct, w->p50_ms, w->p99_ms);
}

static void text_split(const struct promote *p, const struct split *s)
{
	printf("%s=%d %s=%d", p->stable, s->stable, p->o->canary, s->canary);
}

/* ---------------------------------------------------------- the writes */

enum write_rc {
	WRITE_OK,
	WRITE_FAILED,
	WRITE_CHANGED, /* the weights are not what promote set */
	WRITE_GONE, /* the route no longer fits promote */
};

struct cas {
	const struct promote *p;
	struct split expect, to;
	enum write_rc rc;
	struct split found;
};

/*
 * Under the state lock: change the weights only if they still are what
 * promote set, so that a writer between two polls is never overwritten.
 */
static int cas_edit(struct kn_config *cfg, void *arg, struct kn_err *err)
{
	struct cas *c = arg;
	char pair_c[KANARY_NAME_LEN + 16], pair_s[KANARY_NAME_LEN + 16];
	char *pairs[2] = { pair_s, pair_c };
	struct route rt;

	if (find_route(cfg, c->p->vs, c->p->o->canary, &rt, err)) {
		c->rc = WRITE_GONE;
		return -1;
	}
	c->found.canary = kn_dest_weight(rt.hr, rt.canary);
	c->found.stable = kn_dest_weight(rt.hr, rt.stable);
	if (c->found.canary != c->expect.canary ||
	    c->found.stable != c->expect.stable) {
		c->rc = WRITE_CHANGED;
		return fail(err, "the weights changed under promote");
	}
	snprintf(pair_c, sizeof(pair_c), "%s=%d", c->p->o->canary,
		 c->to.canary);
	snprintf(pair_s, sizeof(pair_s), "%s=%d", c->p->stable, c->to.stable);
	return kn_set_weights(cfg, c->p->vs, 2, pairs, err);
}

/* Set the split through apply, as set-weight does. */
static enum write_rc write_split(struct promote *p, struct split to,
				 struct kn_err *err)
{
	struct cas c = {
		.p = p, .expect = p->set, .to = to, .rc = WRITE_FAILED
	};
	struct kn_config none = { 0 };

	if (kn_apply_config(p->o->pin_dir, &none, cas_edit, &c, err)) {
		p->found = c.found;
		return c.rc;
	}
	p->set = to;
	return WRITE_OK;
}

/* ------------------------------------------------------------ readings */

/* The canary's row now; zeros when it has none yet (never routed to). */
static int read_row(struct promote *p, struct kn_stat_row *out)
{
	struct kn_stat_row *rows;
	int n;

	memset(out, 0, sizeof(*out));
	if (kn_stats_read(p->o->pin_dir, &p->m, &rows, &n))
		return -1;
	for (int i = 0; i < n; i++)
		if (!strcmp(rows[i].ns, p->ns) &&
		    !strcmp(rows[i].vs, p->name) &&
		    !strcmp(rows[i].subset, p->row)) {
			*out = rows[i];
			break;
		}
	free(rows);
	return 0;
}

/*
 * The split the saved config holds now (what the data path does). -1
 * when the route is gone or no longer fits: another writer, too.
 */
static int read_split(const struct promote *p, struct split *s,
		      struct kn_err *err)
{
	struct kn_config cfg;
	struct route rt;
	int rc;

	if (kn_state_read_config(p->o->pin_dir, &cfg, err))
		return -1;
	rc = find_route(&cfg, p->vs, p->o->canary, &rt, err);
	if (!rc) {
		s->canary = kn_dest_weight(rt.hr, rt.canary);
		s->stable = kn_dest_weight(rt.hr, rt.stable);
	}
	kn_config_free(&cfg);
	return rc;
}

/* Did a counter go back? Then the row was reset: start the window over. */
static bool went_back(const struct kn_stat_row *before,
		      const struct kn_stat_row *now)
{
	if (now->http.requests < before->http.requests ||
	    now->http.responses < before->http.responses ||
	    kn_row_errors(now) < kn_row_errors(before))
		return true;
	for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
		if (now->http.duration[b] < before->http.duration[b])
			return true;
	return false;
}

/* ------------------------------------------------------------- endings */

/*
 * Another writer changed the route: found is what the config holds now,
 * or NULL when the route is gone (why says how).
 */
static int overruled(struct promote *p, const struct split *found,
		     const char *why)
{
	double t = wall_s();

	if (p->o->json) {
		json_head(p, "overruled", t);
		json_split("promote_set", &p->set);
		if (found)
			json_split("found", found);
		if (why) {
			printf(",\"why\":");
			kn_json_str(stdout, why);
		}
		printf("}\n");
	} else {
		stamp(t);
		printf("stopped: another writer changed %s (", p->vs);
		if (found)
			text_split(p, found);
		if (why)
			printf("%s%s", found ? "; " : "", why);
		printf("; promote had set ");
		text_split(p, &p->set);
		printf("). The config (apply, set-weight, the agent's config "
		       "directory) wins: promote leaves it as it is.\n");
	}
	fflush(stdout);
	return KN_PROMOTE_OVERRULED;
}

/* A write that failed: say so, and which exit status it means. */
static int write_failed(struct promote *p, enum write_rc rc,
			const struct kn_err *err)
{
	if (rc == WRITE_CHANGED)
		return overruled(p, &p->found, NULL);
	if (rc == WRITE_GONE)
		return overruled(p, NULL, err->msg);
	fprintf(stderr, "kanary promote: %s\n", err->msg);
	return 1;
}

static int interrupted(struct promote *p)
{
	struct kn_err err;
	enum write_rc rc = WRITE_OK;
	double t;

	if (p->set.canary != p->good.canary || p->set.stable != p->good.stable)
		rc = write_split(p, p->good, &err);
	if (rc != WRITE_OK)
		return write_failed(p, rc, &err);
	t = wall_s();
	if (p->o->json) {
		json_head(p, "interrupted", t);
		json_split("weights", &p->good);
		printf(",\"signal\":%d}\n", (int)stop_signal);
	} else {
		stamp(t);
		printf("interrupted (%s): left the last good weights, ",
		       strsignal(stop_signal));
		text_split(p, &p->good);
		printf("\n");
	}
	fflush(stdout);
	return KN_PROMOTE_INTERRUPTED;
}

/*
 * The canary back to 0 at once; then say why and how fast: from the
 * first poll that saw a 5xx in this window (t_5xx, wall clock; 0: none)
 * to the return of the apply.
 */
static int roll_back(struct promote *p, int step, enum kn_verdict v,
		     const struct kn_window *w, double t_5xx, double m_5xx)
{
	struct split zero = { .canary = 0, .stable = 100 };
	char why[256];
	struct kn_err err;
	enum write_rc rc;
	double t, took_ms;

	rc = write_split(p, zero, &err);
	t = wall_s();
	took_ms = t_5xx ? mono_ms() - m_5xx : -1;
	if (rc != WRITE_OK)
		return write_failed(p, rc, &err);
	kn_verdict_text(v, &p->o->gates, w, why, sizeof(why));
	if (p->o->json) {
		json_head(p, "rollback", t);
		printf(",\"step\":%d,\"why\":", step + 1);
		kn_json_str(stdout, why);
		json_window(w);
		json_split("weights", &zero);
		if (t_5xx)
			printf(",\"first_5xx_seen\":%.6f,\"seconds_after_5xx\":"
			       "%.3f",
			       t_5xx, took_ms / 1e3);
		printf("}\n");
	} else {
		stamp(t);
		printf("step %d/%d failed: %s; ", step + 1, p->o->n_steps, why);
		text_window(w);
		printf("\n");
		stamp(t);
		printf("rolled back: ");
		text_split(p, &zero);
		printf(" applied at %.6f (unix time)", t);
		if (t_5xx)
			printf(", %.3f s after a poll first saw a 5xx (at %.6f)",
			       took_ms / 1e3, t_5xx);
		printf("\n");
	}
	fflush(stdout);
	return KN_PROMOTE_ROLLED_BACK;
}

/* ---------------------------------------------------------------- loop */

static void sleep_ms(double ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1e3);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1e3) * 1e6);
	/* A signal ends the sleep early: the loop then sees stop_signal. */
	nanosleep(&ts, NULL);
}

static void print_step(const struct promote *p, int step)
{
	double t = wall_s();

	if (p->o->json) {
		json_head(p, "step", t);
		printf(",\"step\":%d,\"steps\":%d", step + 1, p->o->n_steps);
		json_split("weights", &p->set);
		printf("}\n");
	} else {
		stamp(t);
		printf("step %d/%d: ", step + 1, p->o->n_steps);
		text_split(p, &p->set);
		printf(", watching %s for %.1f s\n", p->o->canary,
		       p->o->interval_ms / 1e3);
	}
	fflush(stdout);
}

static void print_verdict(const struct promote *p, int step, enum kn_verdict v,
			  const struct kn_window *w, int holds)
{
	const char *event = v == KN_VERDICT_PASS ? "pass" : "hold";
	double t = wall_s();
	char why[256];

	kn_verdict_text(v, &p->o->gates, w, why, sizeof(why));
	if (p->o->json) {
		json_head(p, event, t);
		printf(",\"step\":%d,\"why\":", step + 1);
		kn_json_str(stdout, why);
		if (v == KN_VERDICT_HOLD)
			printf(",\"hold\":%d,\"max_holds\":%d", holds,
			       p->o->gates.max_holds);
		json_window(w);
		printf("}\n");
	} else {
		stamp(t);
		if (v == KN_VERDICT_PASS)
			printf("step %d/%d passed: ", step + 1, p->o->n_steps);
		else
			printf("step %d/%d held (%d of %d): %s; ", step + 1,
			       p->o->n_steps, holds, p->o->gates.max_holds,
			       why);
		text_window(w);
		printf("\n");
	}
	fflush(stdout);
}

/*
 * Watch one step: poll until its verdict. Returns -1 when it passed, or
 * the exit status to end with.
 */
static int watch_step(struct promote *p, int step)
{
	const struct kn_promote_opts *o = p->o;
	double m0, end, t_5xx = 0, m_5xx = 0;
	struct kn_stat_row before, now;
	struct kn_window w;
	struct kn_err err;
	int holds = 0;

	if (read_row(p, &before)) {
		fprintf(stderr, "kanary promote: cannot read the counters\n");
		return 1;
	}
	m0 = mono_ms();
	end = m0 + o->interval_ms;
	for (;;) {
		double left = end - mono_ms(), m;
		enum kn_verdict v;
		struct split s;

		sleep_ms(left < KN_PROMOTE_POLL_MS ? left : KN_PROMOTE_POLL_MS);
		if (stop_signal)
			return interrupted(p);
		if (read_split(p, &s, &err))
			return overruled(p, NULL, err.msg);
		if (s.canary != p->set.canary || s.stable != p->set.stable)
			return overruled(p, &s, NULL);
		if (read_row(p, &now)) {
			fprintf(stderr,
				"kanary promote: cannot read the counters\n");
			return 1;
		}
		m = mono_ms();
		if (went_back(&before, &now)) {
			before = now;
			m0 = m;
			end = m0 + o->interval_ms;
			t_5xx = 0;
			continue;
		}
		kn_window_between(&before, &now, (m - m0) / 1e3, &w);
		if (w.errors && !t_5xx) {
			t_5xx = wall_s();
			m_5xx = m;
		}
		v = kn_promote_judge(&o->gates, &w, m >= end, holds);
		switch (v) {
		case KN_VERDICT_WATCH:
			continue;
		case KN_VERDICT_PASS:
			print_verdict(p, step, v, &w, holds);
			return -1;
		case KN_VERDICT_HOLD:
			/* The window grows by an interval: what the thin
			 * one saw still counts. */
			print_verdict(p, step, v, &w, ++holds);
			end += o->interval_ms;
			continue;
		default:
			return roll_back(p, step, v, &w, t_5xx, m_5xx);
		}
	}
}

static int promote(struct promote *p)
{
	const struct kn_promote_opts *o = p->o;
	double t = wall_s();
	struct kn_err err;

	if (o->json) {
		json_head(p, "start", t);
		json_split("weights", &p->set);
		printf(",\"steps\":[");
		for (int i = 0; i < o->n_steps; i++)
			printf("%s%d", i ? "," : "", o->steps[i]);
		printf("],\"interval_s\":%.3f,\"min_success_pct\":%g,"
		       "\"max_p99_ms\":%g,\"min_requests\":%llu,"
		       "\"max_holds\":%d}\n",
		       o->interval_ms / 1e3, o->gates.min_success_pct,
		       o->gates.max_p99_ms,
		       (unsigned long long)o->gates.min_requests,
		       o->gates.max_holds);
	} else {
		stamp(t);
		printf("promote %s to %s from ", p->vs, o->canary);
		text_split(p, &p->set);
		printf(": steps");
		for (int i = 0; i < o->n_steps; i++)
			printf("%s%d", i ? "," : " ", o->steps[i]);
		printf(", %.1f s each; gates: success >= %g %%, p99 <= %g ms, "
		       ">= %llu responses\n",
		       o->interval_ms / 1e3, o->gates.min_success_pct,
		       o->gates.max_p99_ms,
		       (unsigned long long)o->gates.min_requests);
	}
	fflush(stdout);

	for (int i = 0; i < o->n_steps; i++) {
		struct split to = { .canary = o->steps[i],
				    .stable = 100 - o->steps[i] };
		enum write_rc rc;
		int end;

		if (stop_signal)
			return interrupted(p);
		rc = write_split(p, to, &err);
		if (rc != WRITE_OK)
			return write_failed(p, rc, &err);
		print_step(p, i);
		end = watch_step(p, i);
		if (end >= 0)
			return end;
		p->good = p->set;
	}
	t = wall_s();
	if (o->json) {
		json_head(p, "promoted", t);
		json_split("weights", &p->set);
		printf("}\n");
	} else {
		stamp(t);
		printf("promoted: ");
		text_split(p, &p->set);
		printf("\n");
	}
	fflush(stdout);
	return 0;
}

int kn_promote_run(const struct kn_promote_opts *o)
{
	struct promote p = { .o = o };
	struct sigaction sa = { .sa_handler = on_signal };
	struct kn_config cfg;
	struct kn_err err;
	struct route rt;
	int rc;

	if (kn_maps_open(o->pin_dir, &p.m)) /* it says why */
		return 1;
	if (kn_state_read_config(o->pin_dir, &cfg, &err)) {
		fprintf(stderr, "kanary promote: %s\n", err.msg);
		kn_maps_close(&p.m);
		return 1;
	}
	if (find_route(&cfg, o->vs, o->canary, &rt, &err)) {
		fprintf(stderr, "kanary promote: %s\n", err.msg);
		kn_config_free(&cfg);
		kn_maps_close(&p.m);
		return 1;
	}
	snprintf(p.ns, sizeof(p.ns), "%s", rt.vs->ns);
	snprintf(p.name, sizeof(p.name), "%s", rt.vs->name);
	snprintf(p.vs, sizeof(p.vs), "%s/%s", p.ns, p.name);
	snprintf(p.stable, sizeof(p.stable), "%s",
		 dest_name(&rt.hr->route[rt.stable]));
	row_name(&cfg, &rt, p.row, sizeof(p.row));
	p.set.canary = kn_dest_weight(rt.hr, rt.canary);
	p.set.stable = kn_dest_weight(rt.hr, rt.stable);
	p.good = p.set;
	kn_config_free(&cfg);

	/*
	 * SA_RESTART keeps the state lock's flock() going; nanosleep() is
	 * never restarted, so a signal still ends a poll's sleep at once.
	 */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	rc = promote(&p);
	kn_maps_close(&p.m);
	return rc;
}
