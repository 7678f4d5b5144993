/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What `kanary status` says the data path serves, from the accepted
 * config: each Gateway port (on every VIP) with its protocol, its path
 * (L4 or L7) and its VirtualServices and hosts; and the VirtualServices
 * nothing serves.
 */
#ifndef KANARY_SERVED_H
#define KANARY_SERVED_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

/*
 * "port:        VIP:PORT[,VIP:PORT...] PROTO L4|L7: ns/vs (hosts), ..."
 * per port and "not served:  ns/vs: why" per VirtualService. vips: IPv4,
 * network byte order.
 */
void kn_served_print(FILE *f, const struct kn_config *cfg, const uint32_t *vips,
		     int n_vips);

/*
 * "ports":[{"listen":["VIP:PORT",...],"port":N,"protocol":...,"path":
 * "L4"|"L7","virtualservices":[{"name":...,"hosts":[...]}]}],
 * "not_served":[{"name":...,"why":...}]: members of an object, without
 * braces. cfg NULL: both empty.
 */
void kn_served_print_json(FILE *f, const struct kn_config *cfg,
			  const uint32_t *vips, int n_vips);

#endif /* KANARY_SERVED_H */
