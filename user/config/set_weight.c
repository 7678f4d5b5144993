// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "kanary_abi.h"
#include "set_weight.h"

/* The destination of hr that "name=..." names, or -1. */
static int find_dest(const struct kn_http_route *hr, const char *pair,
		     size_t len)
{
	int found = -1;

	for (int d = 0; d < hr->n_route; d++) {
		const struct kn_destination *dst = &hr->route[d];
		const char *name = dst->subset ? dst->subset : dst->host;

		if (strlen(name) == len && !strncmp(name, pair, len))
			found = d;
	}
	return found;
}

/*
 * The route set-weight changes. The L4 path has one. With match rules
 * every http route has weights of its own: the one route that has every
 * named destination; none or several is an error, never a guess.
 */
static struct kn_http_route *pick_route(struct kn_resource *r, const char *vs,
					int n_pairs, char *const *pairs,
					struct kn_err *err)
{
	struct kn_http_route *found = NULL;
	char first[KANARY_NAME_LEN], second[KANARY_NAME_LEN];
	int n = 0, at = -1;

	if (!kn_vs_is_l7(r))
		return kn_vs_l4_route(r);
	for (int h = 0; h < r->vs.n_http; h++) {
		struct kn_http_route *hr = &r->vs.http[h];
		int p;

		for (p = 0; p < n_pairs; p++) {
			const char *eq = strchr(pairs[p], '=');

			if (find_dest(hr, pairs[p], eq - pairs[p]) < 0)
				break;
		}
		if (p < n_pairs)
			continue;
		if (!n++) {
			found = hr;
			at = h;
		} else if (n == 2) {
			kn_vs_rule_name(r, at, first);
			kn_vs_rule_name(r, h, second);
		}
	}
	if (n == 1)
		return found;
	if (n > 1) {
		snprintf(
			err->msg, sizeof(err->msg),
			"VirtualService %s routes to the named destinations "
			"in %d http routes (%s, %s%s): set-weight cannot tell "
			"which to change; edit the VirtualService and apply it",
			vs, n, first, second, n > 2 ? ", ..." : "");
		return NULL;
	}
	/* None: name the destination no route has, if there is one. */
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');
		int h;

		for (h = 0; h < r->vs.n_http; h++)
			if (find_dest(&r->vs.http[h], pairs[p],
				      eq - pairs[p]) >= 0)
				break;
		if (h == r->vs.n_http) {
			snprintf(err->msg, sizeof(err->msg),
				 "VirtualService %s does not route to %.*s", vs,
				 (int)(eq - pairs[p]), pairs[p]);
			return NULL;
		}
	}
	snprintf(err->msg, sizeof(err->msg),
		 "VirtualService %s has match rules and no http route has "
		 "all of the named destinations: set-weight changes one "
		 "route at a time",
		 vs);
	return NULL;
}

int kn_set_weights(struct kn_config *cfg, const char *vs, int n_pairs,
		   char *const *pairs, struct kn_err *err)
{
	int32_t weights[KANARY_MAX_DESTS];
	struct kn_http_route *hr;
	struct kn_resource *r;
	int idx[KANARY_MAX_DESTS] = { 0 };

	r = kn_config_find_vs(cfg, vs, err);
	if (!r)
		return -1;
	if (!r->vs.n_http && r->vs.n_tls) {
		snprintf(err->msg, sizeof(err->msg),
			 "VirtualService %s has tls routes only: set-weight "
			 "changes http routes; edit the tls routes and apply "
			 "them",
			 vs);
		return -1;
	}
	if (!r->vs.n_http) {
		snprintf(err->msg, sizeof(err->msg),
			 "VirtualService %s has no weighted route", vs);
		return -1;
	}
	if (n_pairs < 1 || n_pairs > KANARY_MAX_DESTS) {
		snprintf(err->msg, sizeof(err->msg),
			 "give 1 to %d subset=weight pairs", KANARY_MAX_DESTS);
		return -1;
	}
	/* Check every pair before changing anything. */
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
	hr = pick_route(r, vs, n_pairs, pairs, err);
	if (!hr)
		return -1;
	for (int p = 0; p < n_pairs; p++) {
		const char *eq = strchr(pairs[p], '=');

		idx[p] = find_dest(hr, pairs[p], eq - pairs[p]);
		if (idx[p] < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "VirtualService %s does not route to %.*s", vs,
				 (int)(eq - pairs[p]), pairs[p]);
			return -1;
		}
	}
	for (int p = 0; p < n_pairs; p++) {
		hr->route[idx[p]].weight = weights[p];
		hr->route[idx[p]].has_weight = true;
	}
	return 0;
}
