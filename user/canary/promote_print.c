// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* promote's events, for people (text) or for programs (--json). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "promote_run.h"

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

void promote_print_start(const struct promote *p, double t)
{
	const struct kn_promote_opts *o = p->o;

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
}

void promote_print_step(const struct promote *p, int step, double t)
{
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

void promote_print_verdict(const struct promote *p, int step, enum kn_verdict v,
			   const struct kn_window *w, int holds, double t)
{
	const char *event = v == KN_VERDICT_PASS ? "pass" : "hold";
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

void promote_print_overruled(const struct promote *p, const struct split *found,
			     const char *why, double t)
{
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
}

void promote_print_interrupted(const struct promote *p, int sig, double t)
{
	if (p->o->json) {
		json_head(p, "interrupted", t);
		json_split("weights", &p->good);
		printf(",\"signal\":%d}\n", sig);
	} else {
		stamp(t);
		printf("interrupted (%s): left the last good weights, ",
		       strsignal(sig));
		text_split(p, &p->good);
		printf("\n");
	}
	fflush(stdout);
}

void promote_print_rollback(const struct promote *p, int step,
			    enum kn_verdict v, const struct kn_window *w,
			    const struct split *zero, double t, double t_5xx,
			    double took_ms)
{
	char why[256];

	kn_verdict_text(v, &p->o->gates, w, why, sizeof(why));
	if (p->o->json) {
		json_head(p, "rollback", t);
		printf(",\"step\":%d,\"why\":", step + 1);
		kn_json_str(stdout, why);
		json_window(w);
		json_split("weights", zero);
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
		text_split(p, zero);
		printf(" applied at %.6f (unix time)", t);
		if (t_5xx)
			printf(", %.3f s after a poll first saw a 5xx (at %.6f)",
			       took_ms / 1e3, t_5xx);
		printf("\n");
	}
	fflush(stdout);
}

void promote_print_promoted(const struct promote *p, double t)
{
	if (p->o->json) {
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
}
