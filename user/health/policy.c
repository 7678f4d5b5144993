// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The health policy of a pool and the state machine of an endpoint: pure
 * (no clock, no I/O), so that the unit tests drive it with made-up times.
 * Envoy's outlier detection is the model: consecutive failures eject for
 * a base time multiplied by the times ejected, maxEjectionPercent per
 * pool with at least one ejectable.
 */
#include <string.h>

#include "health.h"

/*
 * The smaller of consecutiveGatewayErrors and consecutive5xxErrors given;
 * 0 means "this kind never ejects" in Istio, so a 0 counts only when both
 * given are 0 (then nothing ejects).
 */
static uint32_t unhealthy_threshold(const struct kn_outlier *o)
{
	uint32_t t = 0;

	if (o->has_gateway_errors && o->gateway_errors)
		t = o->gateway_errors;
	if (o->has_5xx_errors && o->errors_5xx && (!t || o->errors_5xx < t))
		t = o->errors_5xx;
	if (!t && !o->has_gateway_errors && !o->has_5xx_errors)
		t = KN_HEALTH_UNHEALTHY;
	return t;
}

void kn_health_policy_of(const struct kn_resource *dr,
			 const struct kn_subset *subset,
			 struct kn_health_policy *p)
{
	static const struct kn_outlier none;
	const struct kn_outlier *o = &none;
	const struct kn_health_check *hc = dr ? &dr->dr.check : NULL;

	if (subset && subset->outlier.set)
		o = &subset->outlier;
	else if (dr && dr->dr.outlier.set)
		o = &dr->dr.outlier;
	memset(p, 0, sizeof(*p));
	p->interval_ms = o->has_interval ? o->interval_ms :
					   KN_HEALTH_INTERVAL_MS;
	p->unhealthy_threshold = unhealthy_threshold(o);
	p->base_ejection_ms = o->has_base_ejection ? o->base_ejection_ms :
						     KN_HEALTH_BASE_EJECTION_MS;
	p->max_ejection_pct = o->has_max_ejection ? o->max_ejection_pct :
						    KN_HEALTH_MAX_EJECTION_PCT;
	p->timeout_ms = hc && hc->timeout_ms ? hc->timeout_ms :
					       KN_HEALTH_TIMEOUT_MS;
	p->healthy_threshold = hc && hc->healthy_threshold ?
				       hc->healthy_threshold :
				       KN_HEALTH_HEALTHY;
	p->http_path = hc ? hc->http_path : NULL;
	p->http_expect = hc ? hc->http_expect : NULL;
}

static bool in_pool(const struct kn_hpool *p, int i)
{
	for (int j = 0; j < p->n; j++)
		if (p->eps[j] == i)
			return true;
	return false;
}

/*
 * Envoy: ejecting is allowed while the pool's ejected share, this one
 * included, stays within maxEjectionPercent, and always for the first.
 */
static bool may_eject(const struct kn_hset *s, int i)
{
	for (int p = 0; p < s->n_pools; p++) {
		const struct kn_hpool *pool = &s->pools[p];
		uint64_t ejected = 0;

		if (!in_pool(pool, i))
			continue;
		for (int j = 0; j < pool->n; j++)
			ejected += s->eps[pool->eps[j]].ejected;
		if (ejected &&
		    (ejected + 1) * 100 >
			    (uint64_t)pool->max_ejection_pct * pool->n)
			return false;
	}
	return true;
}

static uint64_t ejection_ms(const struct kn_hep *e)
{
	uint64_t ms = (uint64_t)e->base_ejection_ms * e->multiplier;
	uint64_t cap = e->base_ejection_ms > KN_HEALTH_MAX_EJECTION_MS ?
			       e->base_ejection_ms :
			       KN_HEALTH_MAX_EJECTION_MS;

	return ms < cap ? ms : cap;
}

enum kn_health_change kn_health_result(struct kn_hset *s, int i, bool pass,
				       uint64_t now_ms)
{
	struct kn_hep *e = &s->eps[i];

	e->checks++;
	e->healthy = pass;
	if (!pass) {
		e->failures++;
		e->fails++;
		e->passes = 0;
		if (e->ejected || !e->unhealthy_threshold ||
		    e->fails < e->unhealthy_threshold || !may_eject(s, i))
			return KN_HEALTH_SAME;
		e->ejected = true;
		e->times_ejected++;
		e->multiplier++;
		e->eject_until = now_ms + ejection_ms(e);
		e->since = now_ms;
		return KN_HEALTH_EJECTED;
	}
	e->fails = 0;
	e->passes++;
	if (!e->ejected) {
		/* An endpoint that stays healthy earns its multiplier back,
		 * one base ejection time at a time, as Envoy's does. */
		if (e->multiplier && now_ms - e->since >= e->base_ejection_ms) {
			e->multiplier--;
			e->since = now_ms;
		}
		return KN_HEALTH_SAME;
	}
	if (now_ms < e->eject_until || e->passes < e->healthy_threshold)
		return KN_HEALTH_SAME;
	e->ejected = false;
	e->since = now_ms;
	return KN_HEALTH_READMITTED;
}

void kn_health_adopt(struct kn_hep *e, uint64_t now_ms)
{
	/* Its ejection time is unknown: the first passes readmit it. */
	e->ejected = true;
	e->multiplier = e->multiplier ? e->multiplier : 1;
	e->eject_until = now_ms;
	e->since = now_ms;
	e->healthy = false;
}
