/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * YAML as a plain tree with line numbers, built with libyaml's parser, and
 * typed access to that tree that reports "file:line: problem".
 *
 * The config reader works on this tree rather than on libyaml's document
 * so that it never deals with node indices, aliases, merge keys or marks:
 * every node is a value with the line it was written on.
 */
#ifndef KANARY_YAML_TREE_H
#define KANARY_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * Aliases are expanded (shared) trees, so a few lines of YAML could ask
 * for billions of values: both limits count after expansion. Real
 * manifests are far below them.
 */
#define KN_YT_MAX_DEPTH 64
#define KN_YT_MAX_NODES 100000

enum kn_yt_type {
	KN_YT_SCALAR,
	KN_YT_SEQ,
	KN_YT_MAP,
};

struct kn_yt_node {
	enum kn_yt_type type;
	int line; /* 1-based */
	bool plain; /* scalar written without quotes: may be null or a number */
	char *str; /* scalar text */
	int n; /* items of a sequence, pairs of a mapping */
	struct kn_yt_node *kids; /* seq: n items; map: 2n, key then value */
	/* What an alias to this node costs: levels below it, values in it. */
	int height;
	long size;
};

/*
 * The documents of one input, in order; empty documents are null scalars.
 * An alias or a merge key shares the arrays and strings of the node it
 * names, so the trees own nothing: the stream owns every block of them.
 */
struct kn_yt_stream {
	int n_docs;
	struct kn_yt_node *docs;
	size_t n_blocks;
	void **blocks;
};

/* Where errors go: the file name printed and the caller's err. */
struct kn_yt_ctx {
	const char *file;
	struct kn_err *err;
};

/*
 * Parse buf. Merge keys (an unquoted `<<`) are resolved as YAML 1.1 and
 * kubectl do: keys written in the map win over merged ones, and of a list
 * of merged maps the earlier wins. Nesting deeper than KN_YT_MAX_DEPTH
 * stops the parse where it starts, so that the cost stays linear.
 */
int kn_yt_load(struct kn_yt_stream *st, const struct kn_yt_ctx *c,
	       const char *buf, size_t len);
void kn_yt_stream_free(struct kn_yt_stream *st);

static inline const struct kn_yt_node *kn_yt_key(const struct kn_yt_node *map,
						 int i)
{
	return &map->kids[2 * i];
}

static inline const struct kn_yt_node *kn_yt_val(const struct kn_yt_node *map,
						 int i)
{
	return &map->kids[2 * i + 1];
}

/* The value of key in map, NULL when absent or when map is not a map. */
const struct kn_yt_node *kn_yt_get(const struct kn_yt_node *map,
				   const char *key);
/* An unquoted "", "~" or "null": what YAML means by "no value". */
bool kn_yt_is_null(const struct kn_yt_node *n);

/* Both set err to "file:line: " and the message, and return -1. */
int kn_yt_error(const struct kn_yt_ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "kanary: file:line: warning: ..." on stderr. */
void kn_yt_warn(const struct kn_yt_ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Typed access. what names the field in the message ("weight: expected an
 * integer, got 'abc'"). Strings are copied; out is only set on success.
 */
int kn_yt_want(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
	       enum kn_yt_type type, const char *what);
int kn_yt_string(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		 const char *what, bool allow_empty, char **out);
int kn_yt_int(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
	      const char *what, long long min, long long max, long long *out);
int kn_yt_strings(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		  const char *what, int *n_out, char ***out);
int kn_yt_labels(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		 const char *what, struct kn_labels *out);
/* A plain decimal integer, as YAML would resolve it, without overflow. */
bool kn_yt_parse_int(const char *s, long long *out);

/*
 * Allocation for the config module. Running out of memory while reading a
 * few kilobytes of YAML is not a condition worth unwinding from: these
 * print a message and abort.
 */
void *kn_yt_xcalloc(size_t n, size_t size);
void *kn_yt_xreallocarray(void *p, size_t n, size_t size);
char *kn_yt_xstrdup(const char *s);

#endif /* KANARY_YAML_TREE_H */
