/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Conntrack from userspace: flows to an endpoint health checking ejected. */
#ifndef KANARY_FLOWS_H
#define KANARY_FLOWS_H

#include <stdint.h>

#include "kanary_abi.h"

#include "compile.h"
#include "pins.h"

/*
 * kn_conns (fd), mapped into memory (it is BPF_F_MMAPABLE): the records,
 * KANARY_CONN_SLOTS of them, as the data path sees them. NULL with errno
 * set on failure; kn_conns_unmap when done.
 */
struct kanary_conn *kn_conns_map(int fd);
void kn_conns_unmap(struct kanary_conn *recs);

/* The same for a kn_conns of any number of records, *n (an older
 * kanary's: user/dataplane/upgrade.c). */
struct kanary_conn *kn_conns_map_any(int fd, uint32_t *n);
void kn_conns_unmap_any(struct kanary_conn *recs, uint32_t n);

/* Live entries in kn_conns' records (two per whole connection), or -1. */
long kn_conns_entries(int fd);

/*
 * Mark every record KANARY_CONN_KN_FLOWS: kn_flows holds connections the
 * data path did not mark records for (an older kanary's, kept by a load
 * over its pins), so every claim must look there. 0, or -1 with errno.
 */
int kn_conns_mark_kn_flows(int fd);

/*
 * Mark every connection to the endpoints eps (addresses and ports in
 * network byte order), in one walk of kn_conns and one of kn_flows, as
 * ejected (kanary_flow.ejected, in both of its entries): the client's
 * next segment is answered with an RST by the
 * data path, and the connection forgotten. For an endpoint that no
 * longer answers; call it after the apply that left the endpoint out of
 * its pools, so that the client's new connection goes elsewhere. Returns
 * the number of connections newly marked (entries already marked are
 * left alone and not counted), or -1 with errno set.
 */
int kn_flows_mark_ejected(const struct kn_maps *m,
			  const struct kn_cendpoint *eps, int n_eps);

/* What a sweep of the records' marks found. */
struct kn_sweep {
	long entries; /* kn_flows entries walked */
	long marked; /* records marked before the sweep */
	long cleared; /* of them, records no entry needs any more */
};

/*
 * Sweep the records' KANARY_CONN_KN_FLOWS marks (kanary_abi.h): turn the
 * mark epoch, wait for the programs that read the old one, mark the
 * records of every kn_flows entry with the new one, and clear the old
 * one on every record. A record whose kn_flows entries are gone no longer
 * makes its claims look in kn_flows. 0, or -1 with errno.
 */
int kn_conns_sweep_marks(const struct kn_maps *m, struct kn_sweep *res);

#endif /* KANARY_FLOWS_H */
