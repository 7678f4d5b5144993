// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * promote's run: find the route, set each step's weights with a
 * compare-and-set through apply, watch the canary's counters, and end on
 * the verdict, another writer or a signal.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "compile.h"
#include "promote_run.h"
#include "set_weight.h"
#include "state.h"

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

/* Has one of vs's tls routes (TLS passthrough, by SNI) canary? */
static bool routes_tls_to(const struct kn_resource *vs, const char *canary)
{
	for (int t = 0; t < vs->vs.n_tls; t++)
		for (int d = 0; d < vs->vs.tls[t].n_route; d++)
			if (!strcmp(dest_name(&vs->vs.tls[t].route[d]), canary))
				return true;
	return false;
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

	rt->vs = kn_config_find_vs(cfg, ref, err);
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
	if (!n && routes_tls_to(rt->vs, canary))
		return kn_err_set(
			err,
			"VirtualService %s routes to %s by tls routes only: "
			"promote judges the canary on its HTTP responses, "
			"which kanary cannot read inside TLS; move the "
			"weights with set-weight",
			ref, canary);
	if (!n)
		return kn_err_set(err, "VirtualService %s does not route to %s",
				  ref, canary);
	if (n > 1)
		return kn_err_set(
			err,
			"VirtualService %s routes to %s in %d places: "
			"promote changes one route with two destinations",
			ref, canary, n);
	if (rt->hr->n_route != 2)
		return kn_err_set(
			err,
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
		return kn_err_set(err, "the weights changed under promote");
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

static int overruled(struct promote *p, const struct split *found,
		     const char *why)
{
	promote_print_overruled(p, found, why, wall_s());
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

	if (p->set.canary != p->good.canary || p->set.stable != p->good.stable)
		rc = write_split(p, p->good, &err);
	if (rc != WRITE_OK)
		return write_failed(p, rc, &err);
	promote_print_interrupted(p, stop_signal, wall_s());
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
	struct kn_err err;
	enum write_rc rc;
	double t, took_ms;

	rc = write_split(p, zero, &err);
	t = wall_s();
	took_ms = t_5xx ? mono_ms() - m_5xx : -1;
	if (rc != WRITE_OK)
		return write_failed(p, rc, &err);
	promote_print_rollback(p, step, v, w, &zero, t, t_5xx, took_ms);
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
			promote_print_verdict(p, step, v, &w, holds, wall_s());
			return -1;
		case KN_VERDICT_HOLD:
			/* The window grows by an interval: what the thin
			 * one saw still counts. */
			promote_print_verdict(p, step, v, &w, ++holds,
					      wall_s());
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
	struct kn_err err;

	promote_print_start(p, wall_s());

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
		promote_print_step(p, i, wall_s());
		end = watch_step(p, i);
		if (end >= 0)
			return end;
		p->good = p->set;
	}
	promote_print_promoted(p, wall_s());
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
