// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kn_config.index: hash tables from names to positions in cfg->res, and
 * what the validator and the compiler derive from them once per config
 * instead of once per reference (see config_index.h).
 *
 * The tables are open-addressing on positions + 1 (0 is an empty slot),
 * probed linearly and kept at most half full. A slot holds the first
 * position with its key: tables are filled in cfg->res order and an
 * existing key is never overwritten, which is what "the first match of a
 * scan" means.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_index.h"
#include "yaml_tree.h"

/* A key: a kind and up to three strings; NULL equals only NULL. */
struct kn_ikey {
	int kind;
	const char *ns;
	const char *a;
	const char *b;
};

enum kn_itab_type {
	KN_IT_NAME, /* (kind, namespace, name) */
	KN_IT_ANY_NS, /* (kind, name): lookups in any namespace */
	KN_IT_SELECTOR, /* a Service's (namespace, first selector label) */
};

struct kn_itab {
	enum kn_itab_type type;
	unsigned int mask; /* slots - 1; slots is a power of 2 */
	unsigned int used;
	int *slot; /* position + 1, 0: empty */
};

struct kn_index {
	const struct kn_resource *res; /* cfg->res and n_res when built */
	int n_res;
	struct kn_itab by_name, any_ns;

	/* Built on the first lookup that needs them (kn_index_link). */
	bool linked;
	int *dr_of; /* per position: the Service's DestinationRule, or -1 */
	int unresolved_dr; /* first DestinationRule resolving to nothing */
	/* The Services of WorkloadEntry at pos: we_svcs[we_start[pos] ..
	 * we_start[pos + 1]], and the other way round. */
	int *we_start, *we_svcs;
	int *svc_start, *svc_wes;
};

static bool kn_streq(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

static void kn_ikey_of(enum kn_itab_type type, const struct kn_resource *r,
		       struct kn_ikey *k)
{
	k->kind = r->kind;
	k->ns = type == KN_IT_ANY_NS ? NULL : r->ns;
	k->a = r->name;
	k->b = NULL;
	if (type == KN_IT_SELECTOR) {
		k->a = r->svc.selector.kv[0].key;
		k->b = r->svc.selector.kv[0].value;
	}
}

static bool kn_ikey_eq(const struct kn_ikey *x, const struct kn_ikey *y)
{
	return x->kind == y->kind && kn_streq(x->ns, y->ns) &&
	       kn_streq(x->a, y->a) && kn_streq(x->b, y->b);
}

#define KN_FNV_PRIME 0x100000001b3ULL

/* FNV-1a, with a terminator after each string and a mark for NULL. */
static uint64_t kn_hash_str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * KN_FNV_PRIME;
	return (h ^ (s ? 0x100 : 0x101)) * KN_FNV_PRIME;
}

static unsigned int kn_ikey_hash(const struct kn_ikey *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = (h ^ (unsigned int)k->kind) * KN_FNV_PRIME;
	h = kn_hash_str(h, k->ns);
	h = kn_hash_str(h, k->a);
	h = kn_hash_str(h, k->b);
	/* FNV's low bits only see the inputs' low bits: mix (murmur3). */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (unsigned int)h;
}

/* Slots for n keys at most half full. */
static unsigned int kn_itab_size(unsigned int n)
{
	unsigned int size = 16;

	while (size < 2 * n + 2)
		size *= 2;
	return size;
}

static void kn_itab_init(struct kn_itab *t, enum kn_itab_type type,
			 unsigned int size)
{
	t->type = type;
	t->mask = size - 1;
	t->used = 0;
	t->slot = kn_yt_xcalloc(size, sizeof(*t->slot));
}

/* The slot holding key, or the empty one where it would go. */
static int *kn_itab_slot(const struct kn_itab *t, const struct kn_config *cfg,
			 const struct kn_ikey *key)
{
	struct kn_ikey k;
	unsigned int i;

	for (i = kn_ikey_hash(key) & t->mask;; i = (i + 1) & t->mask) {
		if (!t->slot[i])
			return &t->slot[i];
		kn_ikey_of(t->type, &cfg->res[t->slot[i] - 1], &k);
		if (kn_ikey_eq(&k, key))
			return &t->slot[i];
	}
}

static void kn_itab_grow(struct kn_itab *t, const struct kn_config *cfg)
{
	struct kn_itab old = *t;
	struct kn_ikey k;
	unsigned int i;

	kn_itab_init(t, old.type, 2 * (old.mask + 1));
	for (i = 0; i <= old.mask; i++) {
		if (!old.slot[i])
			continue;
		kn_ikey_of(t->type, &cfg->res[old.slot[i] - 1], &k);
		*kn_itab_slot(t, cfg, &k) = old.slot[i];
		t->used++;
	}
	free(old.slot);
}

/* Add cfg->res[pos] unless an earlier position has its key. */
static void kn_itab_add(struct kn_itab *t, const struct kn_config *cfg, int pos)
{
	struct kn_ikey k;
	int *slot;

	if (2 * (t->used + 1) > t->mask + 1)
		kn_itab_grow(t, cfg);
	kn_ikey_of(t->type, &cfg->res[pos], &k);
	slot = kn_itab_slot(t, cfg, &k);
	if (!*slot) {
		*slot = pos + 1;
		t->used++;
	}
}

void kn_config_index_drop(struct kn_config *cfg)
{
	struct kn_index *x = cfg->index;

	if (!x)
		return;
	free(x->by_name.slot);
	free(x->any_ns.slot);
	free(x->dr_of);
	free(x->we_start);
	free(x->we_svcs);
	free(x->svc_start);
	free(x->svc_wes);
	free(x);
	cfg->index = NULL;
}

/*
 * cfg's index with its name tables, built now if need be. The config is
 * const to its users; the index is a cache of what a scan would find.
 */
static struct kn_index *kn_index_get(const struct kn_config *cfg)
{
	struct kn_config *c = (struct kn_config *)cfg;
	struct kn_index *x = c->index;
	unsigned int size;
	int i;

	if (x && x->res == cfg->res && x->n_res == cfg->n_res)
		return x;
	kn_config_index_drop(c); /* resources added or removed by hand */
	x = kn_yt_xcalloc(1, sizeof(*x));
	x->res = cfg->res;
	x->n_res = cfg->n_res;
	size = kn_itab_size(cfg->n_res);
	kn_itab_init(&x->by_name, KN_IT_NAME, size);
	kn_itab_init(&x->any_ns, KN_IT_ANY_NS, size);
	for (i = 0; i < cfg->n_res; i++) {
		kn_itab_add(&x->by_name, cfg, i);
		kn_itab_add(&x->any_ns, cfg, i);
	}
	c->index = x;
	return x;
}

int kn_index_find(const struct kn_config *cfg, enum kn_kind kind,
		  const char *ns, const char *name)
{
	struct kn_ikey k = { kind, ns, name, NULL };
	struct kn_index *x;

	if (!cfg->n_res)
		return -1;
	x = kn_index_get(cfg);
	return *kn_itab_slot(ns ? &x->by_name : &x->any_ns, cfg, &k) - 1;
}

int kn_index_same(const struct kn_config *cfg, const struct kn_resource *r)
{
	struct kn_ikey k = { r->kind, r->ns, r->name, NULL };

	if (!cfg->n_res)
		return -1;
	return *kn_itab_slot(&kn_index_get(cfg)->by_name, cfg, &k) - 1;
}

void kn_index_appended(struct kn_config *cfg, int pos)
{
	struct kn_index *x = cfg->index;

	if (!x)
		return; /* the next lookup builds it, pos included */
	if (x->linked || x->n_res != pos || cfg->n_res != pos + 1) {
		kn_config_index_drop(cfg);
		return;
	}
	x->res = cfg->res;
	x->n_res = cfg->n_res;
	kn_itab_add(&x->by_name, cfg, pos);
	kn_itab_add(&x->any_ns, cfg, pos);
}

/* ------------------------------------------------------------------ */
/* DestinationRules and endpoints */

/* Whether label j is the first with its key: the one kn_labels_match
 * compares. */
static bool kn_label_first(const struct kn_labels *l, int j)
{
	int i;

	for (i = 0; i < j; i++)
		if (!strcmp(l->kv[i].key, l->kv[j].key))
			return false;
	return true;
}

static void kn_sort_ints(int *v, int n)
{
	int i, j, t;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1] > t; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

/*
 * Which WorkloadEntry is an endpoint of which Service. A WorkloadEntry
 * can only match a Service whose first selector label it has, with the
 * same value under the first label of that key: so Services are hashed
 * by (namespace, first selector label), and each WorkloadEntry is tried
 * against the Services of each of its labels only.
 */
static void kn_index_link_endpoints(const struct kn_config *cfg,
				    struct kn_index *x)
{
	const struct kn_resource *r;
	int n = cfg->n_res, n_pairs = 0, cap = 0, i, j, s;
	int *slot, *next, *fill;
	struct kn_itab sel;
	struct kn_ikey k;

	/* Chains of Services by selector key, in cfg->res order. */
	kn_itab_init(&sel, KN_IT_SELECTOR, kn_itab_size(n));
	next = kn_yt_xcalloc(n, sizeof(*next));
	for (i = n - 1; i >= 0; i--) {
		r = &cfg->res[i];
		if (r->kind != KN_SERVICE || !r->svc.selector.n)
			continue;
		kn_ikey_of(KN_IT_SELECTOR, r, &k);
		slot = kn_itab_slot(&sel, cfg, &k);
		next[i] = *slot - 1;
		*slot = i + 1;
	}

	x->we_start = kn_yt_xcalloc(n + 1, sizeof(*x->we_start));
	for (i = 0; i < n; i++) {
		x->we_start[i] = n_pairs;
		r = &cfg->res[i];
		if (r->kind != KN_WORKLOADENTRY)
			continue;
		for (j = 0; j < r->we.labels.n; j++) {
			if (!kn_label_first(&r->we.labels, j))
				continue;
			k.kind = KN_SERVICE;
			k.ns = r->ns;
			k.a = r->we.labels.kv[j].key;
			k.b = r->we.labels.kv[j].value;
			for (s = *kn_itab_slot(&sel, cfg, &k) - 1; s >= 0;
			     s = next[s]) {
				if (!kn_config_is_endpoint(&cfg->res[s], NULL,
							   r))
					continue;
				if (n_pairs == cap) {
					cap = cap ? 2 * cap : 64;
					x->we_svcs = kn_yt_xreallocarray(
						x->we_svcs, cap,
						sizeof(*x->we_svcs));
				}
				x->we_svcs[n_pairs++] = s;
			}
		}
		kn_sort_ints(x->we_svcs + x->we_start[i],
			     n_pairs - x->we_start[i]);
	}
	x->we_start[n] = n_pairs;
	free(sel.slot);
	free(next);

	/* The same pairs by Service, WorkloadEntries in order. */
	x->svc_start = kn_yt_xcalloc(n + 1, sizeof(*x->svc_start));
	x->svc_wes = kn_yt_xcalloc(n_pairs, sizeof(*x->svc_wes));
	fill = kn_yt_xcalloc(n, sizeof(*fill));
	for (j = 0; j < n_pairs; j++)
		x->svc_start[x->we_svcs[j] + 1]++;
	for (i = 0; i < n; i++) {
		x->svc_start[i + 1] += x->svc_start[i];
		fill[i] = x->svc_start[i];
	}
	for (i = 0; i < n; i++)
		for (j = x->we_start[i]; j < x->we_start[i + 1]; j++)
			x->svc_wes[fill[x->we_svcs[j]]++] = i;
	free(fill);
}

static struct kn_index *kn_index_linked(const struct kn_config *cfg)
{
	struct kn_index *x = kn_index_get(cfg);
	const struct kn_resource *r, *svc;
	int i;

	if (x->linked)
		return x;
	x->dr_of = kn_yt_xcalloc(cfg->n_res, sizeof(*x->dr_of));
	x->unresolved_dr = -1;
	for (i = 0; i < cfg->n_res; i++)
		x->dr_of[i] = -1;
	for (i = 0; i < cfg->n_res; i++) {
		r = &cfg->res[i];
		if (r->kind != KN_DESTINATIONRULE)
			continue;
		svc = kn_config_resolve_host(cfg, r->ns, r->dr.host);
		if (!svc && x->unresolved_dr < 0)
			x->unresolved_dr = i;
		else if (svc && x->dr_of[svc - cfg->res] < 0)
			x->dr_of[svc - cfg->res] = i;
	}
	kn_index_link_endpoints(cfg, x);
	x->linked = true;
	return x;
}

/* r's position in cfg->res, -1 when it is not one of them. */
static int kn_index_pos(const struct kn_config *cfg,
			const struct kn_resource *r)
{
	uintptr_t p = (uintptr_t)r, base = (uintptr_t)cfg->res;

	if (!r || p < base || p >= base + cfg->n_res * sizeof(*r) ||
	    (p - base) % sizeof(*r))
		return -1;
	return (p - base) / sizeof(*r);
}

int kn_index_destrule(const struct kn_config *cfg,
		      const struct kn_resource *svc)
{
	int pos = kn_index_pos(cfg, svc);

	if (!cfg->n_res || (svc && pos < 0))
		return -1;
	return svc ? kn_index_linked(cfg)->dr_of[pos] :
		     kn_index_linked(cfg)->unresolved_dr;
}

const int *kn_index_endpoints(const struct kn_config *cfg,
			      const struct kn_resource *svc, int *n)
{
	int pos = kn_index_pos(cfg, svc);
	struct kn_index *x;

	*n = 0;
	if (pos < 0)
		return NULL;
	x = kn_index_linked(cfg);
	*n = x->svc_start[pos + 1] - x->svc_start[pos];
	return x->svc_wes + x->svc_start[pos];
}

const int *kn_index_services(const struct kn_config *cfg,
			     const struct kn_resource *we, int *n)
{
	int pos = kn_index_pos(cfg, we);
	struct kn_index *x;

	*n = 0;
	if (pos < 0)
		return NULL;
	x = kn_index_linked(cfg);
	*n = x->we_start[pos + 1] - x->we_start[pos];
	return x->we_svcs + x->we_start[pos];
}
