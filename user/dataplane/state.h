/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * What kanary keeps besides the pinned maps: how it was loaded and the
 * config apply accepted. It lives in /run (tmpfs) like the pins in bpffs,
 * so both go away together on reboot.
 */
#ifndef KANARY_STATE_H
#define KANARY_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "config.h"
#include "kanary_abi.h"

#define KN_MAX_VIP_ADDRS 64

/* The requested mode; an interface's hook is one of the first three. */
enum kn_mode { KN_MODE_XDP, KN_MODE_XDP_GENERIC, KN_MODE_TC, KN_MODE_AUTO };

struct kn_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	bool made_qdisc; /* tc: kanary created the clsact qdisc */
	enum kn_mode hook; /* which program rewrites what comes in here */
	bool takes_frames; /* in kn_tx_ports: XDP may redirect to it */
	char why[160]; /* why this hook (hook.c) */
};

struct kn_load_info {
	enum kn_mode mode; /* as requested */
	int n_ifaces;
	struct kn_iface ifaces[KANARY_MAX_IFACES];
	int n_vips;
	uint32_t vips[KN_MAX_VIP_ADDRS]; /* network byte order */
};

const char *kn_mode_name(enum kn_mode mode);
int kn_mode_parse(const char *s, enum kn_mode *mode);

/* /run/kanary/<pin dir with '/' as '_'>; KANARY_STATE_ROOT overrides /run/kanary */
int kn_state_dir(const char *pin_dir, char *buf, size_t len);
int kn_state_save_load(const char *pin_dir, const struct kn_load_info *li);
/* 0, or -1 with errno ENOENT when nothing is loaded for this pin dir */
int kn_state_read_load(const char *pin_dir, struct kn_load_info *li);
/*
 * The accepted config is saved write-ahead, so that after a kill at any
 * point the data path, `status` and the next command are on one config:
 *   1. config.pending.yaml: the new config, headed by the generation the
 *      flip will give kn_cfg and kn_cfg's hash_seed (random for each
 *      kn_cfg a load creates: it tells this data path from one loaded
 *      since);
 *   2. the flip (kn_cfg.generation becomes that generation);
 *   3. config.pending.yaml is renamed over config.yaml.
 * Recovery, under the state lock before anything reads the saved config:
 * a pending config whose generation and seed are kn_cfg's is committed
 * (the kill came after the flip), any other is dropped (it came before).
 */

/* For readers: lock, recover, read, unlock. Empty when none was applied. */
int kn_state_read_config(const char *pin_dir, struct kn_config *cfg,
			 struct kn_err *err);
/* The committed config; the caller holds the lock and has recovered. */
int kn_state_read_saved(const char *pin_dir, struct kn_config *cfg,
			struct kn_err *err);
/* Step 1; next is kn_cfg as the flip will leave it. */
int kn_state_save_pending(const char *pin_dir, const struct kn_config *cfg,
			  const struct kanary_cfg *next);
/*
 * Steps 3 and recovery, with the lock held. live is kn_cfg as it is now,
 * NULL when it cannot be read: then nothing is decided. Returns 1 when a
 * pending config was committed, 0 when there was none or it was dropped,
 * -1 (errno) when the files could not be changed.
 */
int kn_state_recover(const char *pin_dir, const struct kanary_cfg *live);
/*
 * The endpoints the health checks ejected (user/health/), kept in the
 * state dir so that every apply, the agent's or a CLI apply beside it,
 * leaves them out of their pools, and so that a restarted agent adopts
 * them. One line each: "addr:port since=T service=NS/NAME subset=S why=..."
 * (apply needs only addr:port; the rest is for `status`).
 */
struct kn_ejected {
	uint32_t addr; /* network byte order */
	uint16_t port; /* network byte order */
	int64_t since; /* unix time of the ejection */
	char service[KANARY_NAME_LEN]; /* namespace/name of the Service */
	char subset[KANARY_NAME_LEN]; /* "" when none */
	char why[128]; /* the failing check's error */
};

/* Replace the set (n may be 0). Takes the state lock: never call it held. */
int kn_state_save_ejected(const char *pin_dir, const struct kn_ejected *e,
			  int n);
/*
 * The saved set; *e is malloc'ed (NULL when n is 0). No file: an empty
 * set. Takes no lock: the file is replaced whole, by rename.
 */
int kn_state_read_ejected(const char *pin_dir, struct kn_ejected **e, int *n);

/*
 * Serialises apply, set-weight and the readers' recovery; returns an fd
 * to close, or -1. Not reentrant: a holder must not take it again.
 */
int kn_state_lock(const char *pin_dir);
void kn_state_remove(const char *pin_dir);

#endif /* KANARY_STATE_H */
