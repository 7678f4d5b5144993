/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The pin dir: where the maps and attachments live between commands. */
#ifndef KANARY_PINS_H
#define KANARY_PINS_H

#include <errno.h>
#include <stdbool.h>

#define KN_DEFAULT_PIN_DIR "/sys/fs/bpf/kanary"

/* The maps, by pin name, in the order kn_maps.fd is indexed. */
enum kn_map {
	KN_MAP_CFG,
	KN_MAP_VIPS,
	KN_MAP_ROUTES,
	KN_MAP_POOLS,
	KN_MAP_ENDPOINTS,
	KN_MAP_FLOWS,
	KN_MAP_STATS,
	KN_MAP_STAT_NAMES,
	KN_MAP_GLOBAL,
	KN_MAP_SYNC,
	KN_MAP_L7,
	KN_MAP_RULE_STATS,
	KN_MAP_RULE_NAMES,
	KN_MAP_SYNQ,
	KN_MAP_HEAD,
	KN_MAP_HOLD,
	KN_MAP_HTTP,
	KN_MAP_CODES,
	KN_MAP_CONNS,
	KN_MAP_MARK_EPOCH,
	KN_MAP_COUNT,
};

extern const char *const kn_map_names[KN_MAP_COUNT];

struct kn_maps {
	int fd[KN_MAP_COUNT];
};

/*
 * Mount bpffs on /sys/fs/bpf when missing; create pin_dir (0700), or check
 * the one there: a directory on bpffs, not a symlink, owned by the
 * effective uid and not writable by group or others. Anyone else who can
 * write it could unlink the pins (a bpffs root may be 1777). -1 with a
 * message on stderr, having changed nothing, when it is refused.
 */
int kn_pins_prepare(const char *pin_dir);
/* Open every pinned map; -1 with a message on stderr and errno set when
 * not loaded or not permitted. */
int kn_maps_open(const char *pin_dir, struct kn_maps *m);
void kn_maps_close(struct kn_maps *m);

/*
 * Wait until every BPF program run that began before now has ended: an
 * update of a map-in-map (kn_sync) does synchronize_rcu() in the kernel.
 * 0, or -1 with errno.
 */
int kn_wait_for_programs(const struct kn_maps *m);
int kn_pin_path(const char *pin_dir, const char *name, char *buf, int len);

#define KN_DENIED \
	"permission denied (run as root, or with CAP_BPF and CAP_NET_ADMIN)"

/* EPERM or EACCES: a privilege is missing, not a pin or a file. */
static inline int kn_denied(int err)
{
	return err == EPERM || err == EACCES;
}

/* strerror(err), but KN_DENIED when kn_denied(err). */
const char *kn_strerror(int err);
/*
 * Why loading the programs failed, from errno err, for a caller that is
 * root or not: as kn_strerror, except that root's EACCES is no missing
 * privilege but the verifier's refusal (or a security module's).
 */
const char *kn_load_strerror(int err, bool root);

#endif /* KANARY_PINS_H */
