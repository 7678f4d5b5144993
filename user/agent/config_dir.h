/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's config directory: every *.yaml and *.yml file in it is the
 * whole config. A ConfigMap volume is laid out by the kubelet as symlinks
 * (gateway.yaml -> ..data/gateway.yaml, ..data -> ..2026_12_06_...) and
 * updated by swapping ..data in one rename; names starting with '.' are
 * never read, and the symlinks are followed.
 */
#ifndef KANARY_CONFIG_DIR_H
#define KANARY_CONFIG_DIR_H

#include <stdint.h>

#include "config.h"

/*
 * A digest of the directory's files (names and contents, as the reader
 * would see them), so that the burst of events one update makes applies
 * once, and an update that changes nothing applies nothing. 0 with errno
 * set when the directory cannot be read.
 */
uint64_t kn_config_dir_digest(const char *dir);

/* Read the directory into cfg (zeroed); an empty directory is an error. */
int kn_config_dir_read(const char *dir, struct kn_config *cfg,
		       struct kn_err *err);

#endif /* KANARY_CONFIG_DIR_H */
