/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Conntrack from userspace: flows to an endpoint health checking ejected. */
#ifndef KANARY_FLOWS_H
#define KANARY_FLOWS_H

#include <stdint.h>

#include "compile.h"
#include "pins.h"

/*
 * Mark every connection to the endpoints eps (addresses and ports in
 * network byte order), in one walk of kn_flows, as ejected (kanary_flow.ejected, in both of its kn_flows
 * entries): the client's next segment is answered with an RST by the
 * data path, and the connection forgotten. For an endpoint that no
 * longer answers; call it after the apply that left the endpoint out of
 * its pools, so that the client's new connection goes elsewhere. Returns
 * the number of connections newly marked (entries already marked are
 * left alone and not counted), or -1 with errno set.
 */
int kn_flows_mark_ejected(const struct kn_maps *m,
			  const struct kn_cendpoint *eps, int n_eps);

#endif /* KANARY_FLOWS_H */
