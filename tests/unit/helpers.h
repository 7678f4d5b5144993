/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Shared by the unit tests: the lab's files and reading them. */
#ifndef KANARY_TEST_HELPERS_H
#define KANARY_TEST_HELPERS_H

#include "config.h"

#define FIX "tests/unit/fixtures/config/"

/* examples/lab, or $KANARY_LAB_DIR; tests run from the repo root. */
const char *t_lab_dir(void);
/* Path of a lab file; up to 8 results may be alive at once. */
const char *t_lab(const char *name);
void t_read_ok(struct kn_config *cfg, const char *path);
/* cfg := the lab's base manifests and WorkloadEntries, plus lab file vs. */
void t_read_lab(struct kn_config *cfg, const char *vs);
void t_read_buf_ok(struct kn_config *cfg, const char *name, const char *yaml);
/* Read yaml (it must be good) as file name: what it printed on stderr
 * (the warnings), malloc'ed. */
char *t_read_warnings(struct kn_config *cfg, const char *name,
		      const char *yaml);
/* The whole config as YAML (malloc'ed): equal dumps, equal configs. */
char *t_dump(const struct kn_config *cfg);

#endif
