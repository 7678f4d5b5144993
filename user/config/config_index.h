/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Lookup tables over a config's resources (kn_config.index), so that the
 * validator and the compiler resolve names, DestinationRules and
 * endpoints in O(1) or O(answer) instead of scanning every resource:
 * linear in the size of the config overall, not quadratic or worse.
 *
 * The index is a cache of answers that are functions of cfg->res alone:
 * every lookup returns exactly what a scan of cfg->res in order would.
 * Name tables are built on the first lookup, the rest (DestinationRule
 * of each Service, Service <-> WorkloadEntry matches) on the first lookup
 * that needs it. See struct kn_config for when it is dropped.
 *
 * Positions are indexes into cfg->res; -1 means none. The resources passed
 * in (svc, we, r) must be elements of cfg->res.
 */
#ifndef KANARY_CONFIG_INDEX_H
#define KANARY_CONFIG_INDEX_H

#include "config.h"

/*
 * The first resource of that kind, namespace and name (ns NULL: in any
 * namespace), as kn_config_find.
 */
int kn_index_find(const struct kn_config *cfg, enum kn_kind kind,
		  const char *ns, const char *name);

/*
 * The first resource with r's kind, namespace and name, namespaces compared
 * as they are (NULL only equals NULL): r's own position unless an earlier
 * resource has the same identity. r may belong to another config.
 */
int kn_index_same(const struct kn_config *cfg, const struct kn_resource *r);

/*
 * Record cfg->res[pos], just appended, in the name tables so that
 * kn_index_same sees it (kn_config_merge). Leaves the rest unbuilt.
 */
void kn_index_appended(struct kn_config *cfg, int pos);

/*
 * The DestinationRule of a Service, as kn_config_destrule_for: the first
 * one whose host resolves to it. svc NULL gives the first DestinationRule
 * whose host resolves to no Service, as the scan did.
 */
int kn_index_destrule(const struct kn_config *cfg,
		      const struct kn_resource *svc);

/*
 * The WorkloadEntries that are endpoints of Service svc, subsets aside
 * (kn_config_is_endpoint(svc, NULL, we)), in cfg->res order; *n of them.
 */
const int *kn_index_endpoints(const struct kn_config *cfg,
			      const struct kn_resource *svc, int *n);

/*
 * The Services WorkloadEntry we is an endpoint of, in cfg->res order; *n of
 * them.
 */
const int *kn_index_services(const struct kn_config *cfg,
			     const struct kn_resource *we, int *n);

#endif /* KANARY_CONFIG_INDEX_H */
