/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Loading, attaching and removing the data path. */
#ifndef KANARY_LOADER_H
#define KANARY_LOADER_H

#include <stdint.h>

#include "state.h"

struct kn_load_opts {
	const char *pin_dir;
	enum kn_mode mode;
	int n_ifaces;
	const char *ifaces[KANARY_MAX_IFACES];
	int n_vips;
	uint32_t vips[KN_MAX_VIP_ADDRS]; /* none: the interfaces' addresses */
	uint32_t flow_entries; /* 0: the default */
	uint32_t head_max; /* kanary_cfg.head_max; 0: the default */
};

/*
 * Load the BPF object (reusing maps already pinned in pin_dir, so that a
 * restarted loader keeps its flows and counters) and attach it to every
 * interface. Loading again over a running kanary replaces the programs in
 * place on the same interfaces.
 */
int kn_load(const struct kn_load_opts *o);

/* Detach from every interface and remove every pin and state file. */
int kn_unload(const char *pin_dir);

/* 1 when the programs are attached to it with its hook, 0 when not. */
int kn_attached(const char *pin_dir, const struct kn_iface *it);

#endif /* KANARY_LOADER_H */
