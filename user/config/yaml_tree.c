// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * YAML to a tree with line numbers, on top of libyaml's event parser.
 *
 * libyaml does the parsing; this file builds a tree from its events that
 * knows its lines, resolves aliases and merge keys, refuses what no
 * Kubernetes manifest needs (non-scalar keys, duplicate keys, deep nesting,
 * runaway alias expansion) and offers typed accessors whose errors name
 * file and line. Building is linear in the input: libyaml's own document
 * loader is not, since it reads a whole document before anything can
 * stop it, and its scanner is quadratic in the nesting depth.
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
/* Building the tree from libyaml's events */

/*
 * An anchor names a finished node (shared, not copied, by its aliases), or
 * one still being built: an alias to that would be a node inside itself.
 */
struct kn_yt_anchor {
	char *name;
	bool done;
	struct kn_yt_node node;
	struct kn_yt_anchor *next; /* same bucket, newest first */
};

#define KN_YT_ANCHOR_BUCKETS 1024

struct kn_yt_build {
	const struct kn_yt_ctx *c;
	struct kn_yt_stream *st;
	yaml_parser_t parser;
	const char *buf;
	size_t len;
	long nodes; /* values so far in this document, aliases expanded */
	struct kn_yt_anchor *anchors[KN_YT_ANCHOR_BUCKETS];
};

static void *kn_yt_own(struct kn_yt_stream *st, void *p)
{
	st->blocks = kn_yt_xreallocarray(st->blocks, st->n_blocks + 1,
					 sizeof(*st->blocks));
	st->blocks[st->n_blocks++] = p;
	return p;
}

void kn_yt_stream_free(struct kn_yt_stream *st)
{
	size_t i;

	for (i = 0; i < st->n_blocks; i++)
		free(st->blocks[i]);
	free(st->blocks);
	free(st->docs);
	memset(st, 0, sizeof(*st));
}

/* FNV-1a: anchors and map keys are looked up in O(1). */
static uint32_t kn_yt_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct kn_yt_anchor *kn_yt_anchor_find(struct kn_yt_build *b,
					      const char *name)
{
	struct kn_yt_anchor *a;

	a = b->anchors[kn_yt_hash(name) % KN_YT_ANCHOR_BUCKETS];
	for (; a; a = a->next)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

/* A later anchor of the same name hides the earlier one, as in YAML. */
static struct kn_yt_anchor *kn_yt_anchor_add(struct kn_yt_build *b,
					     const yaml_char_t *name)
{
	struct kn_yt_anchor *a = kn_yt_xcalloc(1, sizeof(*a));
	uint32_t h;

	a->name = kn_yt_xstrdup((const char *)name);
	h = kn_yt_hash(a->name) % KN_YT_ANCHOR_BUCKETS;
	a->next = b->anchors[h];
	b->anchors[h] = a;
	return a;
}

/* Anchors are local to their document. */
static void kn_yt_anchors_free(struct kn_yt_build *b)
{
	struct kn_yt_anchor *a, *next;
	int i;

	for (i = 0; i < KN_YT_ANCHOR_BUCKETS; i++) {
		for (a = b->anchors[i]; a; a = next) {
			next = a->next;
			free(a->name);
			free(a);
		}
		b->anchors[i] = NULL;
	}
}

/* libyaml's error as "file:line: not valid YAML: problem". */
static int kn_yt_syntax_error(struct kn_yt_build *b)
{
	yaml_parser_t *p = &b->parser;
	size_t i, end;
	int line = 1;

	if (p->error == YAML_MEMORY_ERROR)
		kn_yt_oom();
	if (p->error == YAML_READER_ERROR) {
		/* The reader (encoding errors) only knows a byte offset. */
		end = p->problem_offset < b->len ? p->problem_offset : b->len;
		for (i = 0; i < end; i++)
			line += b->buf[i] == '\n';
	} else {
		line = p->problem_mark.line + 1;
	}
	return kn_yt_error(b->c, line, "not valid YAML: %s",
			   p->problem ? p->problem : "unknown error");
}

static int kn_yt_next(struct kn_yt_build *b, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&b->parser, ev))
		return kn_yt_syntax_error(b);
	return 0;
}

static int kn_yt_count(struct kn_yt_build *b, int line, long n)
{
	b->nodes += n;
	if (b->nodes > KN_YT_MAX_NODES)
		return kn_yt_error(
			b->c, line,
			"more than %d values (after expanding aliases)",
			KN_YT_MAX_NODES);
	return 0;
}

/* Children are gathered in a growing array, owned by the stream once done. */
struct kn_yt_kids {
	struct kn_yt_node *v;
	int n, cap;
};

static struct kn_yt_node *kn_yt_kid(struct kn_yt_kids *k)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 8;
		k->v = kn_yt_xreallocarray(k->v, k->cap, sizeof(*k->v));
	}
	memset(&k->v[k->n], 0, sizeof(k->v[0]));
	return &k->v[k->n++];
}

static void kn_yt_kids_done(struct kn_yt_build *b, struct kn_yt_kids *k,
			    struct kn_yt_node *out)
{
	int i;

	out->size = 1;
	out->height = 0;
	for (i = 0; i < k->n; i++) {
		out->size += k->v[i].size;
		if (k->v[i].height + 1 > out->height)
			out->height = k->v[i].height + 1;
	}
	out->kids = k->v ? kn_yt_own(b->st, k->v) : NULL;
	k->v = NULL;
}

static int kn_yt_parse(struct kn_yt_build *b, yaml_event_t *ev, int depth,
		       struct kn_yt_node *out);

static int kn_yt_scalar(struct kn_yt_build *b, yaml_event_t *ev,
			struct kn_yt_node *out)
{
	size_t len = ev->data.scalar.length;

	out->type = KN_YT_SCALAR;
	out->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	out->size = 1;
	/* "\0" is legal in a double-quoted scalar; C strings cannot hold it. */
	if (memchr(ev->data.scalar.value, 0, len))
		return kn_yt_error(b->c, out->line,
				   "a string contains a NUL character");
	out->str = kn_yt_own(b->st, kn_yt_xcalloc(len + 1, 1));
	memcpy(out->str, ev->data.scalar.value, len);
	return 0;
}

static int kn_yt_alias(struct kn_yt_build *b, yaml_event_t *ev, int depth,
		       struct kn_yt_node *out)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct kn_yt_anchor *a = kn_yt_anchor_find(b, name);
	int line = out->line;

	if (!a)
		return kn_yt_error(b->c, line,
				   "not valid YAML: found undefined alias '%s'",
				   name);
	if (!a->done)
		return kn_yt_error(b->c, line,
				   "alias '%s' is inside the node it names",
				   name);
	if (depth + a->node.height > KN_YT_MAX_DEPTH)
		return kn_yt_error(
			b->c, line,
			"nested more than %d levels deep (after expanding aliases)",
			KN_YT_MAX_DEPTH);
	/* The node itself was counted when it was built. */
	if (kn_yt_count(b, line, a->node.size))
		return -1;
	*out = a->node;
	return 0;
}

static int kn_yt_seq(struct kn_yt_build *b, int depth, struct kn_yt_node *out)
{
	struct kn_yt_kids k = { 0 };
	yaml_event_t ev;
	int ret;

	out->type = KN_YT_SEQ;
	for (;;) {
		if (kn_yt_next(b, &ev)) {
			ret = -1;
			break;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			out->n = k.n;
			kn_yt_kids_done(b, &k, out);
			return 0;
		}
		ret = kn_yt_parse(b, &ev, depth + 1, kn_yt_kid(&k));
		if (ret)
			break;
	}
	free(k.v);
	return ret;
}

/* An unquoted "<<": the YAML 1.1 merge key. Quoted, it is a plain key. */
static bool kn_yt_is_merge(const struct kn_yt_node *key)
{
	return key->type == KN_YT_SCALAR && key->plain &&
	       !strcmp(key->str, "<<");
}

/* The keys of one map, for duplicates and merges in O(1) each. */
struct kn_yt_keys {
	const struct kn_yt_node **slot;
	size_t mask;
};

static void kn_yt_keys_init(struct kn_yt_keys *t, size_t n)
{
	size_t size = 16;

	while (size < 2 * n)
		size *= 2;
	t->slot = kn_yt_xcalloc(size, sizeof(*t->slot));
	t->mask = size - 1;
}

/* The key already in t with key's text, else NULL after adding key. */
static const struct kn_yt_node *kn_yt_keys_add(struct kn_yt_keys *t,
					       const struct kn_yt_node *key)
{
	size_t i = kn_yt_hash(key->str) & t->mask;

	for (; t->slot[i]; i = (i + 1) & t->mask)
		if (!strcmp(t->slot[i]->str, key->str))
			return t->slot[i];
	t->slot[i] = key;
	return NULL;
}

static int kn_yt_want_merge_map(struct kn_yt_build *b,
				const struct kn_yt_node *n)
{
	if (n->type == KN_YT_MAP)
		return 0;
	return kn_yt_error(b->c, n->line,
			   "merge key '<<': expected a map or a list of maps");
}

/*
 * k holds the pairs as written. Keep them, minus the merge key, and add
 * each pair of the merged maps whose key is not there yet: written keys
 * win, then the earlier of the merged maps. The merged values are shared.
 */
static int kn_yt_map_done(struct kn_yt_build *b, struct kn_yt_kids *k,
			  struct kn_yt_node *out)
{
	const struct kn_yt_node *merge = NULL, *src, *first;
	struct kn_yt_kids res = { 0 };
	struct kn_yt_keys keys;
	int i, j, n_src, n_pairs = k->n / 2;

	/* The merged maps' pairs were counted as they were built. */
	for (i = 0; i < k->n; i += 2)
		if (kn_yt_is_merge(&k->v[i]))
			merge = &k->v[i + 1];
	if (merge && merge->type == KN_YT_SEQ)
		for (j = 0; j < merge->n; j++)
			n_pairs += merge->kids[j].n;
	else if (merge)
		n_pairs += merge->n;
	kn_yt_keys_init(&keys, n_pairs);
	for (i = 0; i < k->n; i += 2) {
		/*
		 * libyaml keeps both values of a repeated key; Kubernetes
		 * would keep the last. Either way one of them is a mistake.
		 */
		first = kn_yt_keys_add(&keys, &k->v[i]);
		if (first) {
			free(keys.slot);
			return kn_yt_error(
				b->c, k->v[i].line,
				"duplicate key '%s' (first on line %d)",
				k->v[i].str, first->line);
		}
	}
	if (!merge) {
		free(keys.slot);
		out->n = k->n / 2;
		kn_yt_kids_done(b, k, out);
		return 0;
	}
	n_src = merge->type == KN_YT_SEQ ? merge->n : 1;
	for (i = 0; i < n_src; i++) {
		src = merge->type == KN_YT_SEQ ? &merge->kids[i] : merge;
		if (kn_yt_want_merge_map(b, src)) {
			free(keys.slot);
			free(res.v);
			return -1;
		}
	}
	for (i = 0; i < k->n; i += 2) {
		if (kn_yt_is_merge(&k->v[i]))
			continue;
		*kn_yt_kid(&res) = k->v[i];
		*kn_yt_kid(&res) = k->v[i + 1];
	}
	for (i = 0; i < n_src; i++) {
		src = merge->type == KN_YT_SEQ ? &merge->kids[i] : merge;
		for (j = 0; j < src->n; j++) {
			if (kn_yt_keys_add(&keys, kn_yt_key(src, j)))
				continue;
			*kn_yt_kid(&res) = *kn_yt_key(src, j);
			*kn_yt_kid(&res) = *kn_yt_val(src, j);
		}
	}
	free(keys.slot);
	free(k->v);
	k->v = NULL;
	out->n = res.n / 2;
	kn_yt_kids_done(b, &res, out);
	return 0;
}

static int kn_yt_map(struct kn_yt_build *b, int depth, struct kn_yt_node *out)
{
	struct kn_yt_kids k = { 0 };
	struct kn_yt_node *key;
	yaml_event_t ev;
	int ret;

	out->type = KN_YT_MAP;
	for (;;) {
		if (kn_yt_next(b, &ev)) {
			ret = -1;
			break;
		}
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			ret = kn_yt_map_done(b, &k, out);
			if (!ret)
				return 0;
			break;
		}
		key = kn_yt_kid(&k);
		ret = kn_yt_parse(b, &ev, depth + 1, key);
		if (ret)
			break;
		if (key->type != KN_YT_SCALAR) {
			ret = kn_yt_error(b->c, key->line,
					  "a map key must be a string");
			break;
		}
		if (kn_yt_next(b, &ev)) {
			ret = -1;
			break;
		}
		ret = kn_yt_parse(b, &ev, depth + 1, kn_yt_kid(&k));
		if (ret)
			break;
	}
	free(k.v);
	return ret;
}

/* One node, from its first event ev (consumed here) to its last. */
static int kn_yt_parse(struct kn_yt_build *b, yaml_event_t *ev, int depth,
		       struct kn_yt_node *out)
{
	const yaml_char_t *anchor = NULL;
	struct kn_yt_anchor *a = NULL;
	int ret;

	out->type = KN_YT_SCALAR;
	out->line = ev->start_mark.line + 1;
	if (ev->type == YAML_ALIAS_EVENT) {
		ret = kn_yt_alias(b, ev, depth, out);
		yaml_event_delete(ev);
		return ret;
	}
	/*
	 * Checked where a node starts, before libyaml reads further: its
	 * scanner's cost grows with the square of the nesting depth.
	 */
	if (depth > KN_YT_MAX_DEPTH)
		ret = kn_yt_error(b->c, out->line,
				  "nested more than %d levels deep",
				  KN_YT_MAX_DEPTH);
	else
		ret = kn_yt_count(b, out->line, 1);
	if (ret) {
		yaml_event_delete(ev);
		return ret;
	}
	if (ev->type == YAML_SCALAR_EVENT)
		anchor = ev->data.scalar.anchor;
	else if (ev->type == YAML_SEQUENCE_START_EVENT)
		anchor = ev->data.sequence_start.anchor;
	else if (ev->type == YAML_MAPPING_START_EVENT)
		anchor = ev->data.mapping_start.anchor;
	if (anchor)
		a = kn_yt_anchor_add(b, anchor);
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		ret = kn_yt_scalar(b, ev, out);
		yaml_event_delete(ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		yaml_event_delete(ev);
		ret = kn_yt_seq(b, depth, out);
		break;
	case YAML_MAPPING_START_EVENT:
		yaml_event_delete(ev);
		ret = kn_yt_map(b, depth, out);
		break;
	default:
		yaml_event_delete(ev);
		ret = kn_yt_error(b->c, out->line, "broken YAML document");
		break;
	}
	if (a && !ret) {
		a->node = *out;
		a->done = true;
	}
	return ret;
}

/* DOCUMENT-START was read: its node, then DOCUMENT-END. */
static int kn_yt_doc(struct kn_yt_build *b)
{
	struct kn_yt_stream *st = b->st;
	struct kn_yt_node *n;
	yaml_event_t ev;
	int ret;

	st->docs = kn_yt_xreallocarray(st->docs, st->n_docs + 1,
				       sizeof(*st->docs));
	n = &st->docs[st->n_docs++];
	memset(n, 0, sizeof(*n));
	b->nodes = 0;
	ret = kn_yt_next(b, &ev) ?: kn_yt_parse(b, &ev, 0, n);
	kn_yt_anchors_free(b);
	if (ret || kn_yt_next(b, &ev))
		return -1;
	yaml_event_delete(&ev);
	return 0;
}

int kn_yt_load(struct kn_yt_stream *st, const struct kn_yt_ctx *c,
	       const char *buf, size_t len)
{
	struct kn_yt_build *b = kn_yt_xcalloc(1, sizeof(*b));
	yaml_event_t ev;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	b->c = c;
	b->st = st;
	b->buf = buf;
	b->len = len;
	if (!yaml_parser_initialize(&b->parser))
		kn_yt_oom();
	yaml_parser_set_input_string(&b->parser, (const unsigned char *)buf,
				     len);
	for (;;) {
		if (kn_yt_next(b, &ev)) {
			ret = -1;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type != YAML_DOCUMENT_START_EVENT) {
			/* STREAM-START */
			yaml_event_delete(&ev);
			continue;
		}
		yaml_event_delete(&ev);
		ret = kn_yt_doc(b);
		if (ret)
			break;
	}
	yaml_parser_delete(&b->parser);
	free(b);
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
