// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kanary_abi.h"
#include "kanary_hash.h" /* twin_key */
#include "flows.h" /* kn_conns_map_any */
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

/* Is the pinned kn_conns one of another number of records, carried into
 * kn_flows? Its records must be this kanary's. */
static bool conns_carriable(const struct bpf_map *map,
			    const struct bpf_map_info *in)
{
	return !strcmp(bpf_map__name(map), "kn_conns") &&
	       in->type == bpf_map__type(map) &&
	       in->key_size == bpf_map__key_size(map) &&
	       in->value_size == bpf_map__value_size(map) &&
	       in->map_flags == bpf_map__map_flags(map) &&
	       in->max_entries != bpf_map__max_entries(map);
}

static int unpin(const char *path, int fd)
{
	if (!unlink(path))
		return 0;
	fprintf(stderr, "kanary: cannot unpin %s: %s\n", path, strerror(errno));
	close(fd);
	return -1;
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
	u->old_conns_fd = -1;
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
		if (conns_carriable(map, &in)) {
			if (unpin(path, fd))
				return -1;
			u->old_conns_fd = fd;
			snprintf(u->conns_path, sizeof(u->conns_path), "%s",
				 path);
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
		if (unpin(path, fd))
			return -1;
		u->old_fd = fd;
		u->old_size = in.value_size;
		snprintf(u->path, sizeof(u->path), "%s", path);
	}
	return 0;
}

/* A record's live entries, each at its key (the other entry's outgoing
 * tuple reversed: twin_key), into kn_flows. */
static void carry_conns(struct kn_upgrade *u, int new_fd)
{
	uint32_t n;
	struct kanary_conn *recs = kn_conns_map_any(u->old_conns_fd, &n);

	if (!recs) {
		fprintf(stderr, "kanary: cannot read the older kn_conns: %s\n",
			strerror(errno));
		return;
	}
	for (uint32_t s = 0; s < n; s++) {
		uint64_t claim =
			__atomic_load_n(&recs[s].claim, __ATOMIC_ACQUIRE);
		struct kanary_conn r;

		if (!(claim & KANARY_CONN_LIVE))
			continue;
		memcpy(&r, &recs[s], sizeof(r));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		/* Being written, or claimed anew while copied: the older
		 * programs, still attached, are in charge of it; the second
		 * carry, once they are replaced, reads it again. */
		if ((claim & KANARY_CONN_BUSY) ||
		    (__atomic_load_n(&recs[s].claim, __ATOMIC_ACQUIRE) ^
		     claim) >>
			    KANARY_CONN_GEN_SHIFT)
			continue;
		r.claim = claim;
		for (int d = 0; d < 2; d++) {
			struct kanary_flow_key k = {};

			if (!(r.claim & (1ULL << d)))
				continue;
			twin_key(&r.half[d ^ 1], &k);
			if (!bpf_map_update_elem(new_fd, &k, &r.half[d],
						 BPF_NOEXIST))
				u->carried++;
		}
	}
	kn_conns_unmap_any(recs, n);
}

int kn_upgrade_carry(struct kn_upgrade *u, int new_fd)
{
	struct kanary_flow_key key, next, *prev = NULL;
	struct kanary_flow val;
	void *old;

	if (u->old_conns_fd >= 0)
		carry_conns(u, new_fd);
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
	if (u->old_conns_fd >= 0) {
		if (!loaded && bpf_obj_pin(u->old_conns_fd, u->conns_path))
			fprintf(stderr, "kanary: cannot pin %s back: %s\n",
				u->conns_path, strerror(errno));
		close(u->old_conns_fd);
		u->old_conns_fd = -1;
	}
	if (u->old_fd < 0)
		return;
	if (!loaded && bpf_obj_pin(u->old_fd, u->path))
		fprintf(stderr, "kanary: cannot pin %s back: %s\n", u->path,
			strerror(errno));
	close(u->old_fd);
	u->old_fd = -1;
}
