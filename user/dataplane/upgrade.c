// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kanary_abi.h"
#include "upgrade.h"

/* The oldest kanary_flow carried over: the one before req_ns. */
#define FLOW_SIZE_OLDEST offsetof(struct kanary_flow, req_ns)

static int pinned_info(const char *path, struct bpf_map_info *info, int *fd)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	*fd = bpf_obj_get(path);
	if (*fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(*fd, info, &len)) {
		close(*fd);
		*fd = -1;
		return -1;
	}
	return 0;
}

/* May the pinned kn_flows be carried into map's? Only a shorter value. */
static bool carriable(const struct bpf_map *map, const struct bpf_map_info *in)
{
	return !strcmp(bpf_map__name(map), "kn_flows") &&
	       in->type == bpf_map__type(map) &&
	       in->key_size == bpf_map__key_size(map) &&
	       in->max_entries == bpf_map__max_entries(map) &&
	       in->map_flags == bpf_map__map_flags(map) &&
	       in->value_size >= FLOW_SIZE_OLDEST &&
	       in->value_size < bpf_map__value_size(map);
}

/*
 * Maps of L7 connections not bound yet (half-open, or their request head
 * held): a newer layout replaces them. Those connections are lost (their
 * clients are reset, or time out, and connect again); bound connections,
 * in kn_flows, are carried.
 */
static bool transient(const struct bpf_map *map)
{
	const char *name = bpf_map__name(map);

	return !strcmp(name, "kn_synq") || !strcmp(name, "kn_head") ||
	       !strcmp(name, "kn_hold");
}

int kn_upgrade_check(struct bpf_object *obj, struct kn_upgrade *u)
{
	struct bpf_map *map;

	memset(u, 0, sizeof(*u));
	u->old_fd = -1;
	bpf_object__for_each_map(map, obj) {
		const char *path = bpf_map__pin_path(map);
		struct bpf_map_info in;
		int fd;

		if (!path || pinned_info(path, &in, &fd))
			continue;
		if (in.type == bpf_map__type(map) &&
		    in.key_size == bpf_map__key_size(map) &&
		    in.value_size == bpf_map__value_size(map) &&
		    in.max_entries == bpf_map__max_entries(map) &&
		    in.map_flags == bpf_map__map_flags(map)) {
			close(fd);
			continue;
		}
		if (transient(map)) {
			close(fd);
			fprintf(stderr,
				"kanary: %s has an older layout: replaced (L7 "
				"connections not bound yet are lost)\n",
				path);
			if (unlink(path)) {
				fprintf(stderr, "kanary: cannot unpin %s: %s\n",
					path, strerror(errno));
				return -1;
			}
			continue;
		}
		if (!carriable(map, &in)) {
			close(fd);
			fprintf(stderr,
				"kanary: %s was pinned by a kanary with another "
				"layout (value %u bytes, this one's %u): "
				"'kanary unload' first (open connections are "
				"reset)\n",
				path, in.value_size, bpf_map__value_size(map));
			kn_upgrade_end(u, false);
			return -1;
		}
		if (unlink(path)) {
			fprintf(stderr, "kanary: cannot unpin %s: %s\n", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		u->old_fd = fd;
		u->old_size = in.value_size;
		snprintf(u->path, sizeof(u->path), "%s", path);
	}
	return 0;
}

int kn_upgrade_carry(struct kn_upgrade *u, int new_fd)
{
	struct kanary_flow_key key, next, *prev = NULL;
	struct kanary_flow val;
	void *old;

	if (u->old_fd < 0)
		return 0;
	old = malloc(u->old_size);
	if (!old)
		return -1;
	while (!bpf_map_get_next_key(u->old_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(u->old_fd, &key, old))
			continue; /* gone meanwhile */
		memset(&val, 0, sizeof(val));
		memcpy(&val, old, u->old_size);
		if (!bpf_map_update_elem(new_fd, &key, &val, BPF_NOEXIST))
			u->carried++;
		else if (errno != EEXIST)
			break;
	}
	free(old);
	return 0;
}

void kn_upgrade_end(struct kn_upgrade *u, bool loaded)
{
	if (u->old_fd < 0)
		return;
	if (!loaded && bpf_obj_pin(u->old_fd, u->path))
		fprintf(stderr, "kanary: cannot pin %s back: %s\n", u->path,
			strerror(errno));
	close(u->old_fd);
	u->old_fd = -1;
}
