// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "kanary_abi.h"
#include "set_weight.h"

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
	snprintf(err->msg, sizeof(err->msg),
		 n ? "VirtualService %s is in several namespaces; "
		     "say namespace/name" :
		     "no VirtualService %s has been applied",
		 ref);
	return NULL;
}

int kn_set_weights(struct kn_config *cfg, const char *vs, int n_pairs,
		   char *const *pairs, struct kn_err *err)
{
	int32_t weights[KANARY_MAX_DESTS];
	struct kn_http_route *hr;
	struct kn_resource *r;
	int idx[KANARY_MAX_DESTS] = { 0 };

	r = find_vs(cfg, vs, err);
	if (!r)
		return -1;
	hr = kn_vs_l4_route(r);
	if (!hr || hr->n_match) {
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
		idx[p] = -1;
		for (int d = 0; d < hr->n_route; d++) {
			const struct kn_destination *dst = &hr->route[d];
			const char *name = dst->subset ? dst->subset :
							 dst->host;

			if (strlen(name) == (size_t)(eq - pairs[p]) &&
			    !strncmp(name, pairs[p], eq - pairs[p]))
				idx[p] = d;
		}
		if (idx[p] < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "VirtualService %s does not route to %.*s", vs,
				 (int)(eq - pairs[p]), pairs[p]);
			return -1;
		}
		weights[p] = w;
	}
	for (int p = 0; p < n_pairs; p++) {
		hr->route[idx[p]].weight = weights[p];
		hr->route[idx[p]].has_weight = true;
	}
	return 0;
}
