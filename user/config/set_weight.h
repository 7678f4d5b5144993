/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `kanary set-weight`: change a VirtualService's weights in the config. */
#ifndef KANARY_SET_WEIGHT_H
#define KANARY_SET_WEIGHT_H

#include "config.h"

/*
 * vs is "name" or "namespace/name"; each pair is "subset=weight" (or
 * "host=weight" for a destination without a subset). Destinations not
 * named keep their weight. The route changed is the one that has every
 * named destination, among the VirtualService's L4 route (its first http
 * route) or, with match rules, each http route, and each tls route; none
 * or several is an error. Returns -1 with err set, cfg unchanged.
 */
int kn_set_weights(struct kn_config *cfg, const char *vs, int n_pairs,
		   char *const *pairs, struct kn_err *err);

#endif /* KANARY_SET_WEIGHT_H */
