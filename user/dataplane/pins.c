// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/magic.h>

#include "pins.h"

const char *const kn_map_names[KN_MAP_COUNT] = {
	[KN_MAP_CFG] = "kn_cfg",
	[KN_MAP_VIPS] = "kn_vips",
	[KN_MAP_ROUTES] = "kn_routes",
	[KN_MAP_POOLS] = "kn_pools",
	[KN_MAP_ENDPOINTS] = "kn_endpoints",
	[KN_MAP_FLOWS] = "kn_flows",
	[KN_MAP_STATS] = "kn_stats",
	[KN_MAP_STAT_NAMES] = "kn_stat_names",
	[KN_MAP_GLOBAL] = "kn_global",
	[KN_MAP_SYNC] = "kn_sync",
	[KN_MAP_L7] = "kn_l7",
	[KN_MAP_RULE_STATS] = "kn_rule_stats",
	[KN_MAP_RULE_NAMES] = "kn_rule_names",
	[KN_MAP_SYNQ] = "kn_synq",
	[KN_MAP_HEAD] = "kn_head",
	[KN_MAP_HOLD] = "kn_hold",
	[KN_MAP_HTTP] = "kn_http",
	[KN_MAP_CODES] = "kn_codes",
	[KN_MAP_CONNS] = "kn_conns",
	[KN_MAP_MARK_EPOCH] = "kn_mark_epoch",
};

int kn_pin_path(const char *pin_dir, const char *name, char *buf, int len)
{
	return snprintf(buf, len, "%s/%s", pin_dir, name) >= len ? -1 : 0;
}

const char *kn_strerror(int err)
{
	return kn_denied(err) ? KN_DENIED : strerror(err);
}

const char *kn_load_strerror(int err, bool root)
{
	if (root && err == EACCES)
		return "the kernel refused them (EACCES: the verifier, or a "
		       "security module); KANARY_DEBUG=1 prints libbpf's log, "
		       "the verifier's included";
	return kn_strerror(err);
}

static int on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * Check the pin dir through one fd opened without following a symlink,
 * so that what is checked is what was opened.
 */
static int check_pin_dir(const char *pin_dir)
{
	struct statfs sfs;
	struct stat st;
	int fd, rc = -1;

	fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			fprintf(stderr,
				"kanary: %s is a symlink or not a directory; "
				"refusing to pin there\n",
				pin_dir);
		else
			fprintf(stderr, "kanary: cannot open %s: %s\n", pin_dir,
				kn_strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) || fstatfs(fd, &sfs)) {
		fprintf(stderr, "kanary: cannot stat %s: %s\n", pin_dir,
			kn_strerror(errno));
	} else if (sfs.f_type != BPF_FS_MAGIC) {
		fprintf(stderr, "kanary: %s is not on a bpf filesystem\n",
			pin_dir);
	} else if (st.st_uid != geteuid()) {
		fprintf(stderr,
			"kanary: %s is owned by uid %u, not uid %u; refusing "
			"to pin there (its owner could remove the pins): "
			"remove it\n",
			pin_dir, (unsigned int)st.st_uid,
			(unsigned int)geteuid());
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		fprintf(stderr,
			"kanary: %s is writable by group or others (mode "
			"%04o); refusing to pin there: chmod go-w it, or "
			"remove it\n",
			pin_dir, (unsigned int)(st.st_mode & 07777));
	} else {
		rc = 0;
	}
	close(fd);
	return rc;
}

int kn_pins_prepare(const char *pin_dir)
{
	if (!on_bpffs("/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		fprintf(stderr,
			"kanary: cannot mount bpffs on /sys/fs/bpf: %s\n",
			kn_strerror(errno));
		return -1;
	}
	/* 0700: only the loader needs into it; the pins are 0600 anyway. */
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "kanary: cannot create %s: %s\n", pin_dir,
			kn_strerror(errno));
		return -1;
	}
	return check_pin_dir(pin_dir);
}

int kn_maps_open(const char *pin_dir, struct kn_maps *m)
{
	char path[512];
	int err = ENAMETOOLONG;

	for (int i = 0; i < KN_MAP_COUNT; i++)
		m->fd[i] = -1;
	for (int i = 0; i < KN_MAP_COUNT; i++) {
		if (kn_pin_path(pin_dir, kn_map_names[i], path, sizeof(path)))
			goto bad;
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] >= 0)
			continue;
		err = errno;
		if (kn_denied(err))
			fprintf(stderr, "kanary: %s: %s\n", pin_dir, KN_DENIED);
		else
			fprintf(stderr,
				"kanary: not loaded at %s (%s: %s); run "
				"'kanary load' first\n",
				pin_dir, kn_map_names[i], strerror(err));
		goto bad;
	}
	return 0;
bad:
	kn_maps_close(m);
	errno = err; /* callers tell "denied" from "not loaded" by it */
	return -1;
}

void kn_maps_close(struct kn_maps *m)
{
	for (int i = 0; i < KN_MAP_COUNT; i++) {
		if (m->fd[i] >= 0)
			close(m->fd[i]);
		m->fd[i] = -1;
	}
}

int kn_wait_for_programs(const struct kn_maps *m)
{
	uint32_t zero = 0;
	int inner, rc;

	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, sizeof(uint32_t),
			       sizeof(uint32_t), 1, NULL);
	if (inner < 0)
		return -1;
	rc = bpf_map_update_elem(m->fd[KN_MAP_SYNC], &zero, &inner, 0);
	close(inner);
	return rc;
}
