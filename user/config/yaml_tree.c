// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * YAML to a tree with line numbers, on top of libyaml's document loader.
 *
 * libyaml does the parsing; this file only copies its nodes into a tree
 * that owns its strings and knows its lines, refuses what no Kubernetes
 * manifest needs (non-scalar keys, duplicate keys, runaway alias expansion)
 * and offers typed accessors whose errors name file and line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml_tree.h"

/*
 * Aliases are expanded into copies, so a few lines of YAML could ask for
 * billions of nodes (or for an endless tree: libyaml lets an alias refer
 * to a node that contains it). Real manifests are far below both limits.
 */
#define KN_YT_MAX_DEPTH 64
#define KN_YT_MAX_NODES 100000

static void kn_yt_oom(void)
{
	fputs("kanary: out of memory\n", stderr);
	abort();
}

void *kn_yt_xcalloc(size_t n, size_t size)
{
	void *p;

	/* calloc(0) may return NULL: never make that look like an error. */
	if (!n || !size)
		n = size = 1;
	if (n > PTRDIFF_MAX / size)
		kn_yt_oom();
	p = calloc(n, size);
	if (!p)
		kn_yt_oom();
	return p;
}

void *kn_yt_xreallocarray(void *p, size_t n, size_t size)
{
	if (!n || !size)
		n = size = 1;
	if (n > PTRDIFF_MAX / size)
		kn_yt_oom();
	p = realloc(p, n * size);
	if (!p)
		kn_yt_oom();
	return p;
}

char *kn_yt_xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		kn_yt_oom();
	return d;
}

static int kn_yt_verror(const struct kn_yt_ctx *c, int line, const char *fmt,
			va_list ap)
{
	char *msg = c->err->msg;
	size_t size = sizeof(c->err->msg);
	int off;

	off = snprintf(msg, size, "%s:%d: ", c->file ? c->file : "?", line);
	if (off >= 0 && (size_t)off < size)
		vsnprintf(msg + off, size - off, fmt, ap);
	return -1;
}

int kn_yt_error(const struct kn_yt_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kn_yt_verror(c, line, fmt, ap);
	va_end(ap);
	return -1;
}

void kn_yt_warn(const struct kn_yt_ctx *c, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kanary: %s:%d: warning: ", c->file ? c->file : "?",
		line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------------ */
/* Building the tree */

struct kn_yt_build {
	const struct kn_yt_ctx *c;
	yaml_document_t *doc;
	long nodes;
};

static void kn_yt_node_free(struct kn_yt_node *n)
{
	int i, kids;

	if (n->type == KN_YT_SCALAR) {
		free(n->str);
		return;
	}
	kids = n->type == KN_YT_MAP ? 2 * n->n : n->n;
	for (i = 0; i < kids; i++)
		kn_yt_node_free(&n->kids[i]);
	free(n->kids);
}

void kn_yt_stream_free(struct kn_yt_stream *st)
{
	int i;

	for (i = 0; i < st->n_docs; i++)
		kn_yt_node_free(&st->docs[i]);
	free(st->docs);
	st->docs = NULL;
	st->n_docs = 0;
}

static int kn_yt_build_node(struct kn_yt_build *b, yaml_node_t *yn,
			    struct kn_yt_node *out, int depth);

static int kn_yt_build_scalar(struct kn_yt_build *b, yaml_node_t *yn,
			      struct kn_yt_node *out)
{
	size_t len = yn->data.scalar.length;

	out->type = KN_YT_SCALAR;
	out->plain = yn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	/* "\0" is legal in a double-quoted scalar; C strings cannot hold it. */
	if (memchr(yn->data.scalar.value, 0, len))
		return kn_yt_error(b->c, out->line,
				   "a string contains a NUL character");
	out->str = kn_yt_xcalloc(len + 1, 1);
	memcpy(out->str, yn->data.scalar.value, len);
	return 0;
}

static int kn_yt_build_seq(struct kn_yt_build *b, yaml_node_t *yn,
			   struct kn_yt_node *out, int depth)
{
	yaml_node_item_t *item = yn->data.sequence.items.start;
	int i, ret;

	out->type = KN_YT_SEQ;
	out->n = yn->data.sequence.items.top - item;
	out->kids = kn_yt_xcalloc(out->n, sizeof(*out->kids));
	/* Children start zeroed (empty scalars): a partial tree frees. */
	for (i = 0; i < out->n; i++) {
		ret = kn_yt_build_node(b,
				       yaml_document_get_node(b->doc, item[i]),
				       &out->kids[i], depth + 1);
		if (ret)
			return ret;
	}
	return 0;
}

static int kn_yt_build_map(struct kn_yt_build *b, yaml_node_t *yn,
			   struct kn_yt_node *out, int depth)
{
	yaml_node_pair_t *pair = yn->data.mapping.pairs.start;
	struct kn_yt_node *key;
	int i, j, ret;

	out->type = KN_YT_MAP;
	out->n = yn->data.mapping.pairs.top - pair;
	out->kids = kn_yt_xcalloc(2 * (size_t)out->n, sizeof(*out->kids));
	for (i = 0; i < out->n; i++) {
		key = &out->kids[2 * i];
		ret = kn_yt_build_node(
			b, yaml_document_get_node(b->doc, pair[i].key), key,
			depth + 1);
		if (ret)
			return ret;
		if (key->type != KN_YT_SCALAR)
			return kn_yt_error(b->c, key->line,
					   "a map key must be a string");
		/*
		 * libyaml keeps both values of a repeated key; Kubernetes
		 * would keep the last. Either way one of them is a mistake.
		 */
		for (j = 0; j < i; j++)
			if (!strcmp(out->kids[2 * j].str, key->str))
				return kn_yt_error(
					b->c, key->line,
					"duplicate key '%s' (first on line %d)",
					key->str, out->kids[2 * j].line);
		ret = kn_yt_build_node(
			b, yaml_document_get_node(b->doc, pair[i].value),
			&out->kids[2 * i + 1], depth + 1);
		if (ret)
			return ret;
	}
	return 0;
}

static int kn_yt_build_node(struct kn_yt_build *b, yaml_node_t *yn,
			    struct kn_yt_node *out, int depth)
{
	out->type = KN_YT_SCALAR;
	if (!yn)
		return kn_yt_error(b->c, 1, "broken YAML document");
	out->line = yn->start_mark.line + 1;
	if (depth > KN_YT_MAX_DEPTH)
		return kn_yt_error(b->c, out->line,
				   "nested more than %d levels deep",
				   KN_YT_MAX_DEPTH);
	if (++b->nodes > KN_YT_MAX_NODES)
		return kn_yt_error(
			b->c, out->line,
			"more than %d values (after expanding aliases)",
			KN_YT_MAX_NODES);
	switch (yn->type) {
	case YAML_SCALAR_NODE:
		return kn_yt_build_scalar(b, yn, out);
	case YAML_SEQUENCE_NODE:
		return kn_yt_build_seq(b, yn, out, depth);
	case YAML_MAPPING_NODE:
		return kn_yt_build_map(b, yn, out, depth);
	default:
		return kn_yt_error(b->c, out->line, "empty YAML node");
	}
}

/* libyaml's error as "file:line: not valid YAML: problem". */
static int kn_yt_syntax_error(const struct kn_yt_ctx *c, yaml_parser_t *p,
			      const char *buf, size_t len)
{
	size_t i, end;
	int line = 1;

	if (p->error == YAML_MEMORY_ERROR)
		kn_yt_oom();
	if (p->error == YAML_READER_ERROR) {
		/* The reader (encoding errors) only knows a byte offset. */
		end = p->problem_offset < len ? p->problem_offset : len;
		for (i = 0; i < end; i++)
			line += buf[i] == '\n';
	} else {
		line = p->problem_mark.line + 1;
	}
	return kn_yt_error(c, line, "not valid YAML: %s",
			   p->problem ? p->problem : "unknown error");
}

static int kn_yt_add_doc(struct kn_yt_stream *st, const struct kn_yt_ctx *c,
			 yaml_document_t *doc, yaml_node_t *root)
{
	struct kn_yt_build b = { .c = c, .doc = doc };
	struct kn_yt_node *n;

	st->docs = kn_yt_xreallocarray(st->docs, st->n_docs + 1,
				       sizeof(*st->docs));
	n = &st->docs[st->n_docs++];
	memset(n, 0, sizeof(*n));
	return kn_yt_build_node(&b, root, n, 0);
}

int kn_yt_load(struct kn_yt_stream *st, const struct kn_yt_ctx *c,
	       const char *buf, size_t len)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (!yaml_parser_initialize(&parser))
		kn_yt_oom();
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		/* On failure libyaml has already freed doc. */
		if (!yaml_parser_load(&parser, &doc)) {
			ret = kn_yt_syntax_error(c, &parser, buf, len);
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (root)
			ret = kn_yt_add_doc(st, c, &doc, root);
		yaml_document_delete(&doc);
		if (!root || ret)
			break;
	}
	yaml_parser_delete(&parser);
	if (ret)
		kn_yt_stream_free(st);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Typed access */

const struct kn_yt_node *kn_yt_get(const struct kn_yt_node *map,
				   const char *key)
{
	int i;

	if (!map || map->type != KN_YT_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (!strcmp(kn_yt_key(map, i)->str, key))
			return kn_yt_val(map, i);
	return NULL;
}

bool kn_yt_is_null(const struct kn_yt_node *n)
{
	const char *s = n->str;

	if (n->type != KN_YT_SCALAR || !n->plain)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* "a map", "a list", "nothing", 'abc' or the string "80", for messages. */
static const char *kn_yt_describe(const struct kn_yt_node *n, char *buf,
				  size_t size)
{
	if (n->type == KN_YT_MAP)
		return "a map";
	if (n->type == KN_YT_SEQ)
		return "a list";
	if (kn_yt_is_null(n))
		return "nothing";
	if (n->plain)
		snprintf(buf, size, "'%.40s%s'", n->str,
			 strlen(n->str) > 40 ? "..." : "");
	else
		snprintf(buf, size, "the string \"%.40s%s\"", n->str,
			 strlen(n->str) > 40 ? "..." : "");
	return buf;
}

static int kn_yt_type_error(const struct kn_yt_ctx *c,
			    const struct kn_yt_node *n, const char *what,
			    const char *want)
{
	char buf[80];

	return kn_yt_error(c, n->line, "%s: expected %s, got %s", what, want,
			   kn_yt_describe(n, buf, sizeof(buf)));
}

int kn_yt_want(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
	       enum kn_yt_type type, const char *what)
{
	static const char *const names[] = {
		[KN_YT_SCALAR] = "a string",
		[KN_YT_SEQ] = "a list",
		[KN_YT_MAP] = "a map",
	};

	if (n->type == type && !(type == KN_YT_SCALAR && kn_yt_is_null(n)))
		return 0;
	return kn_yt_type_error(c, n, what, names[type]);
}

int kn_yt_string(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		 const char *what, bool allow_empty, char **out)
{
	/*
	 * An unquoted 80 or true is text as good as any other here: what
	 * would be a type error in Go's strict decoding is harmless for
	 * names, hosts and label values.
	 */
	if (kn_yt_want(c, n, KN_YT_SCALAR, what))
		return -1;
	if (!allow_empty && !*n->str)
		return kn_yt_error(c, n->line, "%s: must not be empty", what);
	*out = kn_yt_xstrdup(n->str);
	return 0;
}

bool kn_yt_parse_int(const char *s, long long *out)
{
	const char *p = s;
	bool neg = false;
	long long v = 0;
	int d;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!*p)
		return false;
	/* 010 is 8 in YAML 1.1 and 10 in 1.2: refuse to guess. */
	if (p[0] == '0' && p[1])
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		d = *p - '0';
		if (v > (LLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? -v : v;
	return true;
}

int kn_yt_int(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
	      const char *what, long long min, long long max, long long *out)
{
	long long v;

	/* A quoted "80" is a string to Kubernetes, and so it is here. */
	if (n->type != KN_YT_SCALAR || !n->plain ||
	    !kn_yt_parse_int(n->str, &v))
		return kn_yt_type_error(c, n, what, "an integer");
	if (v < min || v > max)
		return kn_yt_error(c, n->line,
				   "%s: %lld is out of range %lld..%lld", what,
				   v, min, max);
	*out = v;
	return 0;
}

int kn_yt_strings(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		  const char *what, int *n_out, char ***out)
{
	char **v;
	int i;

	if (kn_yt_want(c, n, KN_YT_SEQ, what))
		return -1;
	for (i = 0; i < n->n; i++)
		if (kn_yt_want(c, &n->kids[i], KN_YT_SCALAR, what) ||
		    (!*n->kids[i].str &&
		     kn_yt_error(c, n->kids[i].line, "%s: must not be empty",
				 what)))
			return -1;
	v = kn_yt_xcalloc(n->n, sizeof(*v));
	for (i = 0; i < n->n; i++)
		v[i] = kn_yt_xstrdup(n->kids[i].str);
	*n_out = n->n;
	*out = v;
	return 0;
}

int kn_yt_labels(const struct kn_yt_ctx *c, const struct kn_yt_node *n,
		 const char *what, struct kn_labels *out)
{
	const struct kn_yt_node *k, *v;
	struct kn_label *kv;
	int i;

	if (kn_yt_want(c, n, KN_YT_MAP, what))
		return -1;
	for (i = 0; i < n->n; i++) {
		k = kn_yt_key(n, i);
		v = kn_yt_val(n, i);
		if (!*k->str)
			return kn_yt_error(c, k->line,
					   "%s: a label key must not be empty",
					   what);
		/* A label value may be empty; "key:" with nothing says so. */
		if (v->type != KN_YT_SCALAR)
			return kn_yt_want(c, v, KN_YT_SCALAR, k->str);
	}
	kv = kn_yt_xcalloc(n->n, sizeof(*kv));
	for (i = 0; i < n->n; i++) {
		v = kn_yt_val(n, i);
		kv[i].key = kn_yt_xstrdup(kn_yt_key(n, i)->str);
		kv[i].value = kn_yt_xstrdup(kn_yt_is_null(v) ? "" : v->str);
	}
	out->n = n->n;
	out->kv = kv;
	return 0;
}
