// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
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
	[KN_MAP_HOLD] = "kn_hold",
	[KN_MAP_HTTP] = "kn_http",
	[KN_MAP_CODES] = "kn_codes",
};

int kn_pin_path(const char *pin_dir, const char *name, char *buf, int len)
{
	return snprintf(buf, len, "%s/%s", pin_dir, name) >= len ? -1 : 0;
}

static int on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

int kn_pins_prepare(const char *pin_dir)
{
	if (!on_bpffs("/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		fprintf(stderr,
			"kanary: cannot mount bpffs on /sys/fs/bpf: %s\n",
			strerror(errno));
		return -1;
	}
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "kanary: cannot create %s: %s\n", pin_dir,
			strerror(errno));
		return -1;
	}
	if (!on_bpffs(pin_dir)) {
		fprintf(stderr, "kanary: %s is not on a bpf filesystem\n",
			pin_dir);
		return -1;
	}
	return 0;
}

int kn_maps_open(const char *pin_dir, struct kn_maps *m)
{
	char path[512];

	for (int i = 0; i < KN_MAP_COUNT; i++)
		m->fd[i] = -1;
	for (int i = 0; i < KN_MAP_COUNT; i++) {
		if (kn_pin_path(pin_dir, kn_map_names[i], path, sizeof(path)))
			goto bad;
		m->fd[i] = bpf_obj_get(path);
		if (m->fd[i] < 0) {
			fprintf(stderr,
				"kanary: not loaded at %s (%s: %s); run "
				"'kanary load' first\n",
				pin_dir, kn_map_names[i], strerror(errno));
			goto bad;
		}
	}
	return 0;
bad:
	kn_maps_close(m);
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
