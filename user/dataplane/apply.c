// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"

/*
 * Ask the kernel's routing table, as a connect() on a UDP socket does: the
 * address it picks is the one the endpoint must answer to.
 */
int kn_source_addr_for(uint32_t addr, uint32_t *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(9),
				  .sin_addr.s_addr = addr };
	socklen_t len = sizeof(sa);
	int fd, rc = -1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len)) {
		*src = sa.sin_addr.s_addr;
		rc = 0;
	}
	close(fd);
	return rc;
}

/* Delete every key of a hash map whose leading __u32 (the slot) is slot. */
static int clear_slot(int fd, size_t key_size, uint32_t slot)
{
	char key[64], next[64];
	char(*dead)[64] = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int rc = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		if (*(uint32_t *)key != slot)
			continue;
		if (n == cap) {
			void *p = realloc(dead, (cap = cap ? 2 * cap : 64) *
							sizeof(*dead));
			if (!p) {
				free(dead);
				return -1;
			}
			dead = p;
		}
		memcpy(dead[n++], key, key_size);
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, dead[i]) && errno != ENOENT)
			rc = -1;
	free(dead);
	return rc;
}

/*
 * Counter rows are kept by name across applies, so that counts survive a
 * config change: (VirtualService, subset) rows in kn_stats, (VirtualService,
 * rule) rows in kn_rule_stats. A new name takes a free row, zeroed first.
 * The names are read once per apply, not once per row.
 */
struct row_name {
	char vs[KANARY_NAME_LEN];
	char what[KANARY_NAME_LEN]; /* subset or rule */
};

_Static_assert(sizeof(struct row_name) == sizeof(struct kanary_stat_name),
	       "kanary_stat_name is (virtualservice, subset)");
_Static_assert(sizeof(struct row_name) == sizeof(struct kanary_rule_name),
	       "kanary_rule_name is (virtualservice, rule)");

struct name_rows {
	int names_fd, stats_fd;
	size_t stats_size; /* one CPU's value in stats_fd */
	uint32_t max;
	struct row_name *names; /* max of them */
};

static int name_rows_read(struct name_rows *t, int names_fd, int stats_fd,
			  size_t stats_size, uint32_t max)
{
	uint32_t out_batch, count = max, *keys;
	int rc;

	t->names_fd = names_fd;
	t->stats_fd = stats_fd;
	t->stats_size = stats_size;
	t->max = max;
	t->names = calloc(max, sizeof(*t->names));
	keys = calloc(max, sizeof(*keys));
	if (!t->names || !keys) {
		free(keys);
		return -1;
	}
	/* One batch call for the whole array instead of max lookups. */
	rc = bpf_map_lookup_batch(names_fd, NULL, &out_batch, keys, t->names,
				  &count, NULL);
	free(keys);
	if (rc && errno != ENOENT)
		return -1;
	return count == max ? 0 : -1;
}

static void name_rows_free(struct name_rows *t)
{
	free(t->names);
	t->names = NULL;
}

static int name_row(struct name_rows *t, const char *vs, const char *what,
		    uint32_t *row)
{
	int ncpu = libbpf_num_possible_cpus();
	struct row_name *name;
	int free_row = -1;
	void *zero;
	uint32_t r;

	for (uint32_t i = 0; i < t->max; i++) {
		name = &t->names[i];
		if (!name->vs[0]) {
			if (free_row < 0)
				free_row = i;
			continue;
		}
		if (!strcmp(name->vs, vs) && !strcmp(name->what, what)) {
			*row = i;
			return 0;
		}
	}
	if (free_row < 0 || ncpu <= 0)
		return -1;

	r = free_row;
	zero = calloc(ncpu, t->stats_size);
	if (!zero || bpf_map_update_elem(t->stats_fd, &r, zero, 0)) {
		free(zero);
		return -1;
	}
	free(zero);
	name = &t->names[r];
	snprintf(name->vs, sizeof(name->vs), "%s", vs);
	snprintf(name->what, sizeof(name->what), "%s", what);
	if (bpf_map_update_elem(t->names_fd, &r, name, 0))
		return -1;
	*row = r;
	return 0;
}

/* Rows used before (in_use) but not now are zeroed, as a fresh map has them. */
static int write_endpoints(const struct kn_maps *m, uint32_t slot,
			   uint32_t in_use, const struct kn_compiled *c,
			   struct kn_err *err)
{
	uint32_t n = (uint32_t)c->n_eps > in_use ? (uint32_t)c->n_eps : in_use;
	int fd = m->fd[KN_MAP_ENDPOINTS];
	char addr[INET_ADDRSTRLEN];

	for (uint32_t i = 0; i < n && i < KANARY_MAX_ENDPOINTS; i++) {
		struct kanary_endpoint ep = { 0 };
		uint32_t key = slot * KANARY_MAX_ENDPOINTS + i;

		if (i < (uint32_t)c->n_eps) {
			ep.addr = c->eps[i].addr;
			ep.port = c->eps[i].port;
			if (kn_source_addr_for(ep.addr, &ep.snat_addr))
				return kn_err_set(
					err,
					"no route from the gateway to "
					"endpoint %s",
					inet_ntop(AF_INET, &ep.addr, addr,
						  sizeof(addr)));
			if (ep.snat_addr == ep.addr)
				return kn_err_set(
					err,
					"endpoint %s is an address of the "
					"gateway itself",
					inet_ntop(AF_INET, &ep.addr, addr,
						  sizeof(addr)));
		}
		if (bpf_map_update_elem(fd, &key, &ep, 0))
			return kn_err_set(err, "cannot write kn_endpoints: %s",
					  strerror(errno));
	}
	return 0;
}

static int write_pools(const struct kn_maps *m, uint32_t slot,
		       const struct kn_compiled *c, struct kn_err *err)
{
	struct kanary_pool *pool = malloc(sizeof(*pool));
	int fd = m->fd[KN_MAP_POOLS];

	if (!pool)
		return kn_err_set(err, "out of memory");
	if (clear_slot(fd, sizeof(struct kanary_pool_key), slot)) {
		free(pool);
		return kn_err_set(err, "cannot clear kn_pools: %s",
				  strerror(errno));
	}
	for (int i = 0; i < c->n_pools; i++) {
		struct kanary_pool_key key = { .slot = slot, .pool = i };

		pool->n_endpoints = c->pools[i].n_endpoints;
		memcpy(pool->table, c->pools[i].table, sizeof(pool->table));
		if (bpf_map_update_elem(fd, &key, pool, 0)) {
			free(pool);
			return kn_err_set(err, "cannot write kn_pools: %s",
					  strerror(errno));
		}
	}
	free(pool);
	return 0;
}

static int write_route(const struct kn_maps *m, struct name_rows *rows,
		       uint32_t slot, const struct kn_compiled *c, int i,
		       struct kn_err *err)
{
	const struct kn_croute *cr = &c->routes[i];
	struct kanary_route r = { .n_dests = cr->n_dests,
				  .total_weight = cr->total_weight };
	uint32_t key = slot * KANARY_MAX_ROUTES + i;

	for (uint32_t d = 0; d < cr->n_dests; d++) {
		r.dests[d].pool = cr->dests[d].pool;
		r.dests[d].cum_weight = cr->dests[d].cum_weight;
		if (name_row(rows, cr->dests[d].vs, cr->dests[d].subset,
			     &r.dests[d].stats))
			return kn_err_set(err,
					  "no free counter row (%d in use)",
					  KANARY_MAX_STATS);
	}
	if (bpf_map_update_elem(m->fd[KN_MAP_ROUTES], &key, &r, 0))
		return kn_err_set(err, "cannot write kn_routes: %s",
				  strerror(errno));
	return 0;
}

static int write_routes(const struct kn_maps *m, uint32_t slot,
			const struct kn_compiled *c, struct kn_err *err)
{
	struct name_rows rows;
	int rc = 0;

	if (name_rows_read(&rows, m->fd[KN_MAP_STAT_NAMES], m->fd[KN_MAP_STATS],
			   sizeof(struct kanary_subset_stats),
			   KANARY_MAX_STATS)) {
		name_rows_free(&rows);
		return kn_err_set(err, "cannot read kn_stat_names");
	}
	for (int i = 0; i < c->n_routes && !rc; i++)
		rc = write_route(m, &rows, slot, c, i, err);
	name_rows_free(&rows);
	return rc;
}

/*
 * The L7 rule tables, with each block's rule turned into its kn_rule_stats
 * row. A config without L7 VirtualServices does not touch the L7 maps:
 * nothing reads their rows while every VIP has l7 = KANARY_L7_NONE.
 */
static int write_l7(const struct kn_maps *m, uint32_t slot,
		    const struct kn_compiled *c, struct kn_err *err)
{
	struct kanary_l7_table table;
	struct name_rows rows;
	uint32_t *row;
	int rc = 0;

	if (!c->n_l7)
		return 0;
	if (c->n_l7 > KANARY_MAX_L7)
		return kn_err_set(err, "more than %d L7 VirtualServices",
				  KANARY_MAX_L7);
	row = calloc(c->n_rules ? c->n_rules : 1, sizeof(*row));
	if (!row)
		return kn_err_set(err, "out of memory");
	if (name_rows_read(
		    &rows, m->fd[KN_MAP_RULE_NAMES], m->fd[KN_MAP_RULE_STATS],
		    sizeof(struct kanary_rule_stats), KANARY_MAX_RULES)) {
		rc = kn_err_set(err, "cannot read kn_rule_names");
		goto out;
	}
	for (int i = 0; i < c->n_rules && !rc; i++)
		if (name_row(&rows, c->rules[i].vs, c->rules[i].rule, &row[i]))
			rc = kn_err_set(err,
					"no free rule counter row (%d in use)",
					KANARY_MAX_RULES);
	for (int i = 0; i < c->n_l7 && !rc; i++) {
		uint32_t key = slot * KANARY_MAX_L7 + i;

		table = c->l7[i].table;
		/* KANARY_L7_NONE (stop blocks, weight-only routes) counts
		 * nowhere: kn_rule_stats has no such row. */
		for (uint32_t b = 0; b < table.n_blocks; b++)
			if (table.blocks[b].rule != KANARY_L7_NONE)
				table.blocks[b].rule =
					row[table.blocks[b].rule];
		if (bpf_map_update_elem(m->fd[KN_MAP_L7], &key, &table, 0))
			rc = kn_err_set(err, "cannot write kn_l7: %s",
					strerror(errno));
	}
out:
	name_rows_free(&rows);
	free(row);
	return rc;
}

static int write_vips(const struct kn_maps *m, const struct kn_load_info *li,
		      uint32_t slot, const struct kn_compiled *c,
		      struct kn_err *err)
{
	int fd = m->fd[KN_MAP_VIPS];

	if (clear_slot(fd, sizeof(struct kanary_vip_key), slot))
		return kn_err_set(err, "cannot clear kn_vips: %s",
				  strerror(errno));
	for (int a = 0; a < li->n_vips; a++) {
		for (int l = 0; l < c->n_listeners; l++) {
			struct kanary_vip_key key = {
				.slot = slot,
				.addr = li->vips[a],
				.port = htons(c->listeners[l].port),
				.proto = IPPROTO_TCP,
			};
			struct kanary_vip v = {
				.route = c->listeners[l].route,
				.l7 = c->listeners[l].l7,
			};

			if (bpf_map_update_elem(fd, &key, &v, 0))
				return kn_err_set(err,
						  "cannot write kn_vips: %s",
						  strerror(errno));
		}
	}
	return 0;
}

int kn_apply_compiled(const struct kn_maps *m, const struct kn_load_info *li,
		      const struct kn_compiled *c, struct kn_err *err)
{
	struct kanary_cfg cfg;
	uint32_t zero = 0, slot;

	if (bpf_map_lookup_elem(m->fd[KN_MAP_CFG], &zero, &cfg))
		return kn_err_set(err, "cannot read kn_cfg: %s",
				  strerror(errno));
	slot = !cfg.active_slot;
	/* Packets that read this slot before the last flip must be gone. */
	if (kn_wait_for_programs(m))
		return kn_err_set(err, "cannot wait for the data path: %s",
				  strerror(errno));

	if (write_endpoints(m, slot, cfg.slot_endpoints[slot], c, err) ||
	    write_pools(m, slot, c, err) || write_routes(m, slot, c, err) ||
	    write_l7(m, slot, c, err) || write_vips(m, li, slot, c, err))
		return -1;

	/* The flip: one byte of one value changes, so no reader sees half. */
	cfg.active_slot = slot;
	cfg.generation++;
	cfg.slot_endpoints[slot] = c->n_eps;
	if (bpf_map_update_elem(m->fd[KN_MAP_CFG], &zero, &cfg, 0))
		return kn_err_set(err, "cannot flip kn_cfg: %s",
				  strerror(errno));
	return 0;
}

/*
 * Compile without the endpoints the health checks ejected (the state
 * dir's list, read under the state lock the caller holds), so that an
 * apply from the CLI beside the agent does not put them back.
 */
static int compile_healthy(const char *pin_dir, const struct kn_config *cfg,
			   struct kn_compiled *c, struct kn_err *err)
{
	struct kn_compile_opts opts = { 0 };
	struct kn_cendpoint *eps = NULL;
	struct kn_ejected *ej;
	int n, rc;

	if (kn_state_read_ejected(pin_dir, &ej, &n))
		return kn_err_set(err, "cannot read the ejected endpoints: %s",
				  strerror(errno));
	if (n && !(eps = calloc(n, sizeof(*eps)))) {
		free(ej);
		return kn_err_set(err, "out of memory");
	}
	for (int i = 0; i < n; i++) {
		eps[i].addr = ej[i].addr;
		eps[i].port = ej[i].port;
	}
	opts.ejected = eps;
	opts.n_ejected = n;
	rc = kn_compile_with(cfg, &opts, c, err);
	free(eps);
	free(ej);
	return rc;
}

/*
 * Swap cfg in write-ahead (state.h): save it as pending with the
 * generation the flip will give, flip, then let kn_cfg as it is now
 * decide whether the pending config is committed or dropped.
 */
static int swap_in(const char *pin_dir, const struct kn_maps *m,
		   const struct kn_load_info *li, const struct kn_config *cfg,
		   const struct kn_compiled *c, struct kanary_cfg live,
		   struct kn_err *err)
{
	struct kanary_cfg next = live;
	uint32_t zero = 0;
	int rc;

	next.generation++;
	if (kn_state_save_pending(pin_dir, cfg, &next))
		return kn_err_set(err, "cannot save the config: %s",
				  strerror(errno));
	rc = kn_apply_compiled(m, li, c, err);
	if (bpf_map_lookup_elem(m->fd[KN_MAP_CFG], &zero, &live)) {
		/* Undecided: the next command's recovery decides. */
		if (!rc)
			kn_err_set(err, "cannot read kn_cfg after the flip: %s",
				   strerror(errno));
		return -1;
	}
	switch (kn_state_recover(pin_dir, &live)) {
	case 1:
		return 0;
	case 0:
		return rc ? rc :
			    kn_err_set(err, "kn_cfg changed under the apply");
	default:
		if (!rc)
			kn_err_set(err,
				   "applied, but could not commit the saved "
				   "config (the next command will): %s",
				   strerror(errno));
		return -1;
	}
}

static int apply(const char *pin_dir, struct kn_config *upd, bool replace,
		 kn_edit_fn edit, void *edit_arg, struct kn_err *err)
{
	struct kn_load_info li;
	struct kanary_cfg live;
	struct kn_config cfg;
	struct kn_compiled c;
	struct kn_maps m;
	uint32_t zero = 0;
	int lock, rc = -1;

	/* One apply naming a resource twice is a mistake, not an update. */
	if (kn_config_unique(upd, err))
		return -1;
	if (kn_state_read_load(pin_dir, &li) || kn_maps_open(pin_dir, &m))
		return kn_err_set(
			err,
			kn_denied(errno) ?
				"%s: " KN_DENIED :
				"not loaded at %s; run 'kanary load' first",
			pin_dir);
	lock = kn_state_lock(pin_dir);
	if (lock < 0) {
		kn_maps_close(&m);
		return kn_err_set(err, "cannot lock the state of %s: %s",
				  pin_dir, kn_strerror(errno));
	}
	/* An earlier apply killed mid-way: settle what it left first. */
	memset(&cfg, 0, sizeof(cfg));
	if (bpf_map_lookup_elem(m.fd[KN_MAP_CFG], &zero, &live)) {
		kn_err_set(err, "cannot read kn_cfg: %s", strerror(errno));
		goto out;
	}
	if (kn_state_recover(pin_dir, &live) < 0) {
		kn_err_set(err, "cannot recover the saved config: %s",
			   strerror(errno));
		goto out;
	}
	if (!replace && kn_state_read_saved(pin_dir, &cfg, err))
		goto out;
	kn_config_merge(&cfg, upd);
	if (edit && edit(&cfg, edit_arg, err))
		goto out_cfg;
	if (kn_config_validate(&cfg, err) ||
	    compile_healthy(pin_dir, &cfg, &c, err))
		goto out_cfg;
	rc = swap_in(pin_dir, &m, &li, &cfg, &c, live, err);
	kn_compiled_free(&c);
out_cfg:
	kn_config_free(&cfg);
out:
	close(lock);
	kn_maps_close(&m);
	return rc;
}

int kn_apply_config(const char *pin_dir, struct kn_config *upd, kn_edit_fn edit,
		    void *edit_arg, struct kn_err *err)
{
	return apply(pin_dir, upd, false, edit, edit_arg, err);
}

int kn_apply_replace(const char *pin_dir, struct kn_config *set,
		     struct kn_err *err)
{
	return apply(pin_dir, set, true, NULL, NULL, err);
}
