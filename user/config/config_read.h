/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The reader's own interface between its files (config_read.c, and
 * config_tls.c for TLS): how a YAML map is read field by field against
 * its schema. Not for the rest of kanary: config.h is.
 */
#ifndef KANARY_CONFIG_READ_H
#define KANARY_CONFIG_READ_H

#include "config.h"
#include "yaml_tree.h"

struct kn_rd {
	struct kn_yt_ctx c; /* c.file is owned by cfg */
	struct kn_config *cfg; /* the scratch config */
	const char *schema; /* whose schema the resource read is in */
	bool origins; /* honour kanary.io/source (kn_config_read_state) */
};

typedef int kn_rd_fn(struct kn_rd *rd, const struct kn_yt_node *v, void *obj);

enum kn_rd_act {
	KN_RD_USE, /* call fn */
	KN_RD_SILENT, /* in the schema and meaningless to kanary */
	KN_RD_WARN, /* changes what Istio does, kanary does not: a warning */
	KN_RD_REFUSE, /* in the schema, and ignoring it would be wrong */
	KN_RD_UNKNOWN, /* not in the schema: a typo, warned about */
};

struct kn_rd_field {
	const char *key;
	enum kn_rd_act act;
	kn_rd_fn *fn;
	const char *why; /* WARN, REFUSE: what Istio does and kanary not */
};

/* clang-format off */
#define KN_USE(k, f) { .key = k, .act = KN_RD_USE, .fn = f }
#define KN_SILENT(k) { .key = k, .act = KN_RD_SILENT }
#define KN_WARN(k, w) { .key = k, .act = KN_RD_WARN, .why = w }
#define KN_REFUSE(k, w) { .key = k, .act = KN_RD_REFUSE, .why = w }
/* clang-format on */

/* Where n was written, in the file being read. */
struct kn_src kn_rd_src(const struct kn_rd *rd, const struct kn_yt_node *n);

/* A warning that counts: `apply --strict` refuses what drew one. */
void kn_rd_warn(struct kn_rd *rd, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Walk the keys of map, handling each as tab says; a key not in tab is
 * warned about as a typo (other KN_RD_UNKNOWN) or an error (KN_RD_REFUSE).
 */
int kn_rd_fields(struct kn_rd *rd, const struct kn_yt_node *map,
		 const char *what, const struct kn_rd_field *tab,
		 enum kn_rd_act other, void *obj);

/* Read a list of objects of size bytes each, one item() per element. */
int kn_rd_list(struct kn_rd *rd, const struct kn_yt_node *v, const char *what,
	       size_t size, int *n, void **arr, kn_rd_fn *item);

int kn_rd_port(struct kn_rd *rd, const struct kn_yt_node *v, const char *what,
	       uint16_t *out);

/* One route[] item (destination and weight) into a kn_destination. */
int kn_rd_route_dest(struct kn_rd *rd, const struct kn_yt_node *v, void *obj);

/* config_tls.c: a Gateway server's tls, a VirtualService's tls routes. */
int kn_rd_gw_tls(struct kn_rd *rd, const struct kn_yt_node *v, void *obj);
int kn_rd_vs_tls(struct kn_rd *rd, const struct kn_yt_node *v, void *obj);

#endif /* KANARY_CONFIG_READ_H */
