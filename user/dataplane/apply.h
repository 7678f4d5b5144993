/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Swapping a compiled config into the data path's maps, atomically. */
#ifndef KANARY_APPLY_H
#define KANARY_APPLY_H

#include "compile.h"
#include "pins.h"
#include "state.h"

/*
 * Write c into the inactive slot of every config map, then flip
 * kn_cfg.active_slot. Until the flip the data path sees only the old
 * config; on any error before it, nothing it reads has changed.
 */
int kn_apply_compiled(const struct kn_maps *m, const struct kn_load_info *li,
		      const struct kn_compiled *c, struct kn_err *err);

/*
 * The whole apply: merge upd into the accepted config, validate, compile,
 * swap in, and keep the result as the accepted config. upd may be empty
 * (re-apply). edit, when given, changes the merged config before it is
 * validated (set-weight). Takes the state lock, and saves the result
 * write-ahead (state.h): a kill at any point leaves the data path and
 * the saved config on one config, the old or the new.
 */
typedef int (*kn_edit_fn)(struct kn_config *cfg, void *arg, struct kn_err *err);
int kn_apply_config(const char *pin_dir, struct kn_config *upd, kn_edit_fn edit,
		    void *edit_arg, struct kn_err *err);

/*
 * As kn_apply_config, but set is the whole config: what was applied before
 * and is not in set is dropped (the agent's config directory).
 */
int kn_apply_replace(const char *pin_dir, struct kn_config *set,
		     struct kn_err *err);

/* The gateway's own source address toward addr (both network order). */
int kn_source_addr_for(uint32_t addr, uint32_t *src);

#endif /* KANARY_APPLY_H */
