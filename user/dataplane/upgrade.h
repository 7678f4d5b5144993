/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Loading over the pins of an older kanary. A pinned map is reused only if
 * its definition is this kanary's; kn_flows may differ by fields appended
 * to struct kanary_flow (the ABI's rule): its entries are carried into the
 * new map, so that an upgrade (a DaemonSet's rolling update) keeps the
 * established connections. kn_conns may differ by its number of records
 * (16384 before 2026-12-08): its connections are carried into kn_flows,
 * where they live as overflow connections do. Any other difference is
 * refused, by name.
 */
#ifndef KANARY_UPGRADE_H
#define KANARY_UPGRADE_H

#include <stdbool.h>

#include <bpf/libbpf.h>

struct kn_upgrade {
	int old_fd; /* the older kn_flows, unpinned; -1: nothing to carry */
	unsigned int old_size; /* its value size */
	char path[512]; /* where it was pinned */
	long carried; /* entries copied so far */
	int old_conns_fd; /* an older kn_conns, unpinned; -1: none */
	char conns_path[512];
};

/*
 * Before bpf_object__load: compare every pinned map with obj's. On an
 * older kn_flows, keep it open and unpin it, so that the load makes the
 * new one. -1 (with a message) on a difference kanary cannot carry over.
 */
int kn_upgrade_check(struct bpf_object *obj, struct kn_upgrade *u);

/* Copy the older kn_flows' entries the new one lacks, zero-extended, and
 * the live entries of an older kn_conns' records. Called after the load,
 * and again once the new programs are attached, for the connections the
 * old ones opened in between. */
int kn_upgrade_carry(struct kn_upgrade *u, int new_fd);

/* Done: close the older map. !loaded: the load failed, pin it back. */
void kn_upgrade_end(struct kn_upgrade *u, bool loaded);

#endif /* KANARY_UPGRADE_H */
