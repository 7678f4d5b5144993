// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "kanary_abi.h"
#include "set_weight.h"

/*
 * A route set-weight may change: the L4 path's http route, an http route
 * with match rules, or a tls route. name is the rule's name, as `stats`
 * prints it.
 */
struct weighted {
	int n_route;
	struct kn_destination *route;
	char name[KANARY_NAME_LEN];
};

/* The destination of w that "name=..." names, or -1. */
static int find_dest(const struct weighted *w, const char *pair, size_t len)
{
	int found = -1;

	for (int d = 0; d < w->n_route; d++) {
		const struct kn_destination *dst = &w->route[d];
		const char *name = dst->subset ? dst->subset : dst->host;

		if (strlen(name) == len && !strncmp(name, pair, len))
			found = d;
	}
	return found;
}

/*
 * r's routes that set-weight may change, in *out (to free): the L4
 * route, or every http route when there are match rules, then every tls
 * route. Their number, or -1 when out of memory.
 */
static int weighted_routes(struct kn_resource *r, struct weighted **out)
{
	struct kn_http_route *l4 = kn_vs_l4_route(r);
	int n_http = l4 ? 1 : kn_vs_is_l7(r) ? r->vs.n_http : 0, n = 0;
	struct weighted *w;

	w = calloc(n_http + r->vs.n_tls + 1, sizeof(*w));
	if (!w)
		return -1;
	for (int h = 0; h < n_http; h++, n++) {
		w[n].n_route = r->vs.http[h].n_route;
		w[n].route = r->vs.http[h].route;
		kn_vs_rule_name(r, h, w[n].name);
	}
	for (int t = 0; t < r->vs.n_tls; t++, n++) {
		w[n].n_route = r->vs.tls[t].n_route;
		w[n].route = r->vs.tls[t].route;
		snprintf(w[n].name, sizeof(w[n].name), "tls[%d]", t);
	}
	*out = w;
	return n;
}

/* Does w route to every destination the pairs name? */
static bool has_every(const struct weighted *w, int n_pairs, char *const *pairs)
{
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');

		if (find_dest(w, pairs[p], eq - pairs[p]) < 0)
			return false;
	}
	return true;
}

/*
 * The route set-weight changes, among the n in w: the one that has every
 * named destination. None or several is an error, never a guess.
 */
static struct weighted *pick_route(struct weighted *w, int n, const char *vs,
				   int n_pairs, char *const *pairs,
				   struct kn_err *err)
{
	struct weighted *found = NULL, *second = NULL;
	int n_found = 0;

	for (int i = 0; i < n; i++) {
		if (!has_every(&w[i], n_pairs, pairs))
			continue;
		if (!n_found++)
			found = &w[i];
		else if (n_found == 2)
			second = &w[i];
	}
	if (n_found == 1)
		return found;
	if (n_found > 1) {
		snprintf(
			err->msg, sizeof(err->msg),
			"VirtualService %s routes to the named destinations "
			"in %d routes (%s, %s%s): set-weight cannot tell "
			"which to change; edit the VirtualService and apply it",
			vs, n_found, found->name, second->name,
			n_found > 2 ? ", ..." : "");
		return NULL;
	}
	/* None: name the destination no route has, if there is one. */
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');
		int i;

		for (i = 0; i < n; i++)
			if (find_dest(&w[i], pairs[p], eq - pairs[p]) >= 0)
				break;
		if (i == n) {
			snprintf(err->msg, sizeof(err->msg),
				 "VirtualService %s does not route to %.*s", vs,
				 (int)(eq - pairs[p]), pairs[p]);
			return NULL;
		}
	}
	snprintf(err->msg, sizeof(err->msg),
		 "VirtualService %s has several routes and none has all of "
		 "the named destinations: set-weight changes one route at a "
		 "time",
		 vs);
	return NULL;
}

/* The weights in pairs, checked: 0, or -1 with err set. */
static int read_weights(int n_pairs, char *const *pairs, int32_t *weights,
			struct kn_err *err)
{
	if (n_pairs < 1 || n_pairs > KANARY_MAX_DESTS) {
		snprintf(err->msg, sizeof(err->msg),
			 "give 1 to %d subset=weight pairs", KANARY_MAX_DESTS);
		return -1;
	}
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');
		char *end;
		long w;

		if (!eq || eq == pairs[p]) {
			snprintf(err->msg, sizeof(err->msg),
				 "'%s' is not subset=weight", pairs[p]);
			return -1;
		}
		errno = 0;
		w = strtol(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || w < 0 || w > INT32_MAX) {
			snprintf(err->msg, sizeof(err->msg),
				 "weight '%s' is not a whole number >= 0",
				 eq + 1);
			return -1;
		}
		weights[p] = w;
	}
	return 0;
}

int kn_set_weights(struct kn_config *cfg, const char *vs, int n_pairs,
		   char *const *pairs, struct kn_err *err)
{
	int32_t weights[KANARY_MAX_DESTS];
	struct weighted *w = NULL, *pick;
	struct kn_resource *r;
	int n, rc = -1;

	r = kn_config_find_vs(cfg, vs, err);
	if (!r)
		return -1;
	/* Check every pair before changing anything. */
	if (read_weights(n_pairs, pairs, weights, err))
		return -1;
	n = weighted_routes(r, &w);
	if (n < 0)
		return kn_err_set(err, "out of memory");
	if (!n) {
		snprintf(err->msg, sizeof(err->msg),
			 "VirtualService %s has no weighted route", vs);
		goto out;
	}
	pick = pick_route(w, n, vs, n_pairs, pairs, err);
	if (!pick)
		goto out;
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');
		int d = find_dest(pick, pairs[p], eq - pairs[p]);

		pick->route[d].weight = weights[p];
		pick->route[d].has_weight = true;
	}
	rc = 0;
out:
	free(w);
	return rc;
}
