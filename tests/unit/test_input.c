// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Input the config reader must bound or get right (issue 12, findings 4
 * and 5): YAML merge keys, deep nesting, big maps, what kind of file is
 * read and how much of it, duplicate resources in one apply, and errors in
 * resources kept from an earlier apply.
 *
 * Run from the repository root.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"
#include "yaml_tree.h"

/* ------------------------------------------------------------------ */
/* Helpers */

static double t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse yaml into st (one document), failing the test on error. */
static const struct kn_yt_node *t_tree(struct kn_yt_stream *st,
				       const char *yaml)
{
	struct kn_err err = { .msg = "" };
	struct kn_yt_ctx c = { .file = "t.yaml", .err = &err };

	cr_assert_eq(kn_yt_load(st, &c, yaml, strlen(yaml)), 0, "%s", err.msg);
	cr_assert_eq(st->n_docs, 1);
	return &st->docs[0];
}

static void t_tree_error(const char *yaml, size_t len, const char *msg)
{
	struct kn_err err = { .msg = "" };
	struct kn_yt_ctx c = { .file = "t.yaml", .err = &err };
	struct kn_yt_stream st;

	cr_assert_eq(kn_yt_load(&st, &c, yaml, len), -1, "accepted: %.200s",
		     yaml);
	cr_assert_str_eq(err.msg, msg);
	cr_assert_eq(st.n_docs, 0);
	cr_assert_null(st.blocks);
}

/* The text of key in map, which must be a scalar. */
static const char *t_str(const struct kn_yt_node *map, const char *key)
{
	const struct kn_yt_node *v = kn_yt_get(map, key);

	cr_assert_not_null(v, "no key %s", key);
	cr_assert_eq(v->type, KN_YT_SCALAR);
	return v->str;
}

/* ------------------------------------------------------------------ */
/* Merge keys */

#define VS_HEAD                                     \
	"apiVersion: networking.istio.io/v1beta1\n" \
	"kind: VirtualService\n"                    \
	"metadata: {name: vs}\n"                    \
	"spec:\n"                                   \
	"  hosts: [\"*\"]\n"                        \
	"  gateways: [gw]\n"                        \
	"  http:\n"                                 \
	"  - route:\n"

/* The finding: the merged weight was dropped, and 100 % went to v2. */
Test(input, merge_key_carries_the_weight)
{
	struct kn_config cfg = { 0 };
	const struct kn_destination *d;

	t_read_buf_ok(&cfg, "vs.yaml",
		      VS_HEAD "    - destination: {host: svc, subset: v1}\n"
			      "      <<: &heavy {weight: 90}\n"
			      "    - destination: {host: svc, subset: v2}\n"
			      "      weight: 10\n");
	cr_assert_eq(cfg.n_res, 1);
	d = cfg.res[0].vs.http[0].route;
	cr_assert(d[0].has_weight, "the merged weight was dropped");
	cr_assert_eq(d[0].weight, 90);
	cr_assert_eq(d[1].weight, 10);
	kn_config_free(&cfg);
}

/* kubectl's manifests share whole blocks; the aliased map is reused. */
Test(input, merge_key_from_an_earlier_route)
{
	struct kn_config cfg = { 0 };
	const struct kn_destination *d;

	t_read_buf_ok(&cfg, "vs.yaml",
		      VS_HEAD "    - &base\n"
			      "      destination: {host: svc, subset: v1}\n"
			      "      weight: 70\n"
			      "    - <<: *base\n"
			      "      destination: {host: svc, subset: v2}\n");
	d = cfg.res[0].vs.http[0].route;
	cr_assert_str_eq(d[1].subset, "v2", "the written key wins");
	cr_assert(d[1].has_weight);
	cr_assert_eq(d[1].weight, 70);
	/* Errors name the destination written here, not the merged one. */
	cr_assert_eq(d[1].src.line, 13, "line %d", d[1].src.line);
	kn_config_free(&cfg);
}

Test(input, merge_key_precedence)
{
	struct kn_yt_stream st;
	const struct kn_yt_node *m, *n;

	m = t_tree(&st, "a: &a {x: a, y: a, z: a}\n"
			"b: &b {x: b, y: b, w: b}\n"
			"c:\n"
			"  x: c\n"
			"  <<: [*a, *b]\n"
			"  v: c\n");
	n = kn_yt_get(m, "c");
	cr_assert_eq(n->n, 5, "%d keys", n->n);
	cr_assert_str_eq(t_str(n, "x"), "c", "written keys win");
	cr_assert_str_eq(t_str(n, "v"), "c");
	cr_assert_str_eq(t_str(n, "y"), "a", "the earlier merged map wins");
	cr_assert_str_eq(t_str(n, "z"), "a");
	cr_assert_str_eq(t_str(n, "w"), "b");
	cr_assert_null(kn_yt_get(n, "<<"));
	/* Written keys first, in order; then the merged ones. */
	cr_assert_str_eq(kn_yt_key(n, 0)->str, "x");
	cr_assert_str_eq(kn_yt_key(n, 1)->str, "v");
	cr_assert_eq(kn_yt_key(n, 2)->line, 1);
	kn_yt_stream_free(&st);
}

Test(input, merge_key_chains_and_inline_maps)
{
	struct kn_yt_stream st;
	const struct kn_yt_node *m, *n;

	m = t_tree(&st, "a: &a {x: 1}\n"
			"b: &b {<<: *a, y: 2}\n"
			"c: {<<: [*b, {z: 3, x: 9}]}\n"
			"d: {\"<<\": 4}\n");
	n = kn_yt_get(m, "c");
	cr_assert_eq(n->n, 3);
	cr_assert_str_eq(t_str(n, "x"), "1");
	cr_assert_str_eq(t_str(n, "y"), "2");
	cr_assert_str_eq(t_str(n, "z"), "3");
	/* Quoted, "<<" is an ordinary key. */
	cr_assert_str_eq(t_str(kn_yt_get(m, "d"), "<<"), "4");
	kn_yt_stream_free(&st);
}

Test(input, merge_key_errors)
{
	static const char *const bad[][2] = {
		{ "a: {<<: 1}\n",
		  "t.yaml:1: merge key '<<': expected a map or a list of maps" },
		{ "a: &s [1]\nb:\n  <<: *s\n",
		  "t.yaml:1: merge key '<<': expected a map or a list of maps" },
		{ "a: &m {x: 1}\nb:\n  <<: [*m, 2]\n",
		  "t.yaml:3: merge key '<<': expected a map or a list of maps" },
		{ "a: &m {x: 1}\nb:\n  <<: *m\n  <<: *m\n",
		  "t.yaml:4: duplicate key '<<' (first on line 3)" },
		{ "a: &m {x: 1}\nb:\n  x: 2\n  <<: *m\n  x: 3\n",
		  "t.yaml:5: duplicate key 'x' (first on line 3)" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		t_tree_error(bad[i][0], strlen(bad[i][0]), bad[i][1]);
}

/* ------------------------------------------------------------------ */
/* Cost: nesting, aliases, big maps */

/* The finding: 100,000 '[' took 21 s here (89 s there), quadratic. */
Test(input, deep_nesting_stops_early, .timeout = 20)
{
	size_t n = 100000;
	char *buf = malloc(n + 8);
	double t;

	memcpy(buf, "a: ", 3);
	memset(buf + 3, '[', n);
	buf[n + 3] = '\n';
	t = t_now();
	t_tree_error(buf, n + 4, "t.yaml:1: nested more than 64 levels deep");
	t = t_now() - t;
	cr_assert_lt(t, 0.5, "100,000 '[' took %.3f s", t);

	/* The same in block style, one level a line: the line is named. */
	buf = realloc(buf, 200 * 100);
	buf[0] = '\0';
	for (int i = 0; i < 100; i++)
		sprintf(buf + strlen(buf), "%*sk:\n", 2 * i, "");
	t_tree_error(buf, strlen(buf),
		     "t.yaml:65: nested more than 64 levels deep");
	free(buf);
}

Test(input, nesting_limit_is_exact)
{
	char buf[512];
	struct kn_yt_stream st;

	/* The document's root is level 0: 64 levels below it are fine. */
	memset(buf, '[', 65);
	memset(buf + 65, ']', 65);
	buf[130] = '\0';
	t_tree(&st, buf);
	kn_yt_stream_free(&st);
	memset(buf, '[', 66);
	memset(buf + 66, ']', 66);
	t_tree_error(buf, 132, "t.yaml:1: nested more than 64 levels deep");
	/* An alias counts with what it expands to. */
	snprintf(buf, sizeof(buf), "a: &a %.*s%.*s\nb: [*a]\n", 64,
		 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
		 "[[[[[",
		 64,
		 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		 "]]]]]");
	t_tree_error(buf, strlen(buf),
		     "t.yaml:2: nested more than 64 levels deep (after "
		     "expanding aliases)");
}

Test(input, alias_expansion_is_bounded, .timeout = 20)
{
	static const char laughs[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	static const char merges[] =
		"a: &a {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1}\n"
		"b: &b {<<: [*a, *a, *a, *a, *a, *a, *a, *a], x: *a}\n"
		"c: &c {<<: [*b, *b, *b, *b, *b, *b, *b, *b], x: *b}\n"
		"d: &d {<<: [*c, *c, *c, *c, *c, *c, *c, *c], x: *c}\n"
		"e: &e {<<: [*d, *d, *d, *d, *d, *d, *d, *d], x: *d}\n"
		"f: &f {<<: [*e, *e, *e, *e, *e, *e, *e, *e], x: *e}\n"
		"g: &g {<<: [*f, *f, *f, *f, *f, *f, *f, *f], x: *f}\n"
		"h: &h {<<: [*g, *g, *g, *g, *g, *g, *g, *g], x: *g}\n";
	struct kn_yt_stream st;
	double t = t_now();

	t_tree_error(laughs, strlen(laughs),
		     "t.yaml:5: more than 100000 values (after expanding "
		     "aliases)");
	/* Merged keys are unique: merging many times costs nothing more. */
	cr_assert_eq(kn_yt_get(t_tree(&st, merges), "h")->n, 9);
	kn_yt_stream_free(&st);
	t = t_now() - t;
	cr_assert_lt(t, 0.5, "took %.3f s", t);
}

/* Duplicate keys were found by comparing each key with all before it. */
Test(input, big_map_is_linear, .timeout = 30)
{
	int n = 49000;
	size_t size = (size_t)n * 24 + 64;
	char *buf = malloc(size);
	struct kn_yt_stream st;
	size_t off = 0;
	double t;

	for (int i = 0; i < n; i++)
		off += snprintf(buf + off, size - off, "key-%d: %d\n", i, i);
	t = t_now();
	t_tree(&st, buf);
	t = t_now() - t;
	cr_assert_eq(st.docs[0].n, n);
	cr_assert_lt(t, 0.5, "a map of %d keys took %.3f s", n, t);
	kn_yt_stream_free(&st);
	off += snprintf(buf + off, size - off, "key-17: again\n");
	t_tree_error(buf, off,
		     "t.yaml:49001: duplicate key 'key-17' (first on line 18)");
	free(buf);
}

/* ------------------------------------------------------------------ */
/* What is read, and how much */

static char t_dir[] = "/tmp/kanary-test-input-XXXXXX";

static void t_dir_up(void)
{
	cr_assert_not_null(mkdtemp(t_dir));
}

static void t_dir_down(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
	if (system(cmd))
		cr_log_warn("could not remove %s", t_dir);
}

static const char *t_path(const char *name)
{
	static char bufs[4][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", t_dir, name);
	return b;
}

static void t_path_error(const char *path, const char *msg)
{
	struct kn_config cfg = { 0 };
	struct kn_err err = { .msg = "" };

	cr_assert_eq(kn_config_read_path(&cfg, path, &err), -1, "%s was read",
		     path);
	cr_assert_str_eq(err.msg, msg);
	cr_assert_eq(cfg.n_res, 0);
	kn_config_free(&cfg);
}

#define WE_DOC                                      \
	"apiVersion: networking.istio.io/v1beta1\n" \
	"kind: WorkloadEntry\n"                     \
	"metadata: {name: w}\n"                     \
	"spec: {address: 198.18.1.2}\n"

/* A file of exactly size bytes: a resource, then comment lines. */
static void t_write_padded(const char *path, size_t size)
{
	FILE *f = fopen(path, "w");
	size_t len = strlen(WE_DOC);

	cr_assert_not_null(f);
	fputs(WE_DOC, f);
	for (; len + 64 <= size; len += 64)
		fprintf(f, "#%62s\n", "");
	for (; len + 1 < size; len++)
		fputc('#', f);
	if (len < size)
		fputc('\n', f);
	fclose(f);
}

/* The finding: a FIFO blocked until a writer came. */
Test(input, fifo_is_refused, .init = t_dir_up, .fini = t_dir_down,
     .timeout = 10)
{
	char msg[PATH_MAX + 128];

	cr_assert_eq(mkfifo(t_path("f.yaml"), 0600), 0);
	snprintf(msg, sizeof(msg),
		 "%s: not a regular file (a FIFO); give a file, a directory, "
		 "or - for standard input",
		 t_path("f.yaml"));
	t_path_error(t_path("f.yaml"), msg);
	/* Inside a directory too. */
	t_write_padded(t_path("a.yaml"), 200);
	t_path_error(t_dir, msg);
}

/* The finding: /dev/zero was read until memory ran out. */
Test(input, device_is_refused, .timeout = 10)
{
	t_path_error("/dev/zero",
		     "/dev/zero: not a regular file (a character device); "
		     "give a file, a directory, or - for standard input");
}

Test(input, file_size_limit, .init = t_dir_up, .fini = t_dir_down,
     .timeout = 10)
{
	struct kn_config cfg = { 0 };
	char msg[PATH_MAX + 128];

	t_write_padded(t_path("max.yaml"), KN_CONFIG_MAX_INPUT);
	t_read_ok(&cfg, t_path("max.yaml"));
	cr_assert_eq(cfg.n_res, 1);
	kn_config_free(&cfg);
	t_write_padded(t_path("big.yaml"), KN_CONFIG_MAX_INPUT + 1);
	snprintf(msg, sizeof(msg),
		 "%s: larger than 4 MiB, the most kanary reads from one file",
		 t_path("big.yaml"));
	t_path_error(t_path("big.yaml"), msg);
}

/* stdin may be a pipe or a device: read, but no more than a file. */
Test(input, stdin_is_bounded, .timeout = 10)
{
	int fd = open("/dev/zero", O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	t_path_error("-", "<stdin>: larger than 4 MiB, the most kanary reads "
			  "from one file");
}

Test(input, stdin_pipe_is_read, .timeout = 10)
{
	struct kn_config cfg = { 0 };
	int p[2];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(write(p[1], WE_DOC, strlen(WE_DOC)),
		     (ssize_t)strlen(WE_DOC));
	close(p[1]);
	cr_assert_eq(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
	close(p[0]);
	t_read_ok(&cfg, "-");
	cr_assert_eq(cfg.n_res, 1);
	cr_assert_str_eq(cfg.res[0].src.file, "<stdin>");
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Duplicates in one apply */

/* The finding: one apply with the same VirtualService twice was taken. */
Test(input, duplicates_in_one_apply)
{
	struct kn_config upd = { 0 };
	struct kn_err err = { .msg = "" };

	t_read_buf_ok(&upd, "a.yaml", WE_DOC);
	cr_assert_eq(kn_config_unique(&upd, &err), 0, "%s", err.msg);
	t_read_buf_ok(&upd, "b.yaml",
		      "apiVersion: v1\nkind: List\nitems:\n"
		      "- {apiVersion: networking.istio.io/v1beta1, "
		      "kind: WorkloadEntry, metadata: {name: w}, "
		      "spec: {address: 198.18.1.2}}\n");
	cr_assert_eq(kn_config_unique(&upd, &err), -1);
	cr_assert_str_eq(err.msg, "b.yaml:4: duplicate WorkloadEntry "
				  "default/w (also at a.yaml:1)");
	kn_config_free(&upd);
	/* One file, twice the same; another namespace is another one. */
	t_read_buf_ok(&upd, "c.yaml",
		      WE_DOC "---\n" WE_DOC "---\n"
			     "apiVersion: networking.istio.io/v1beta1\n"
			     "kind: WorkloadEntry\n"
			     "metadata: {name: w, namespace: prod}\n"
			     "spec: {address: 198.18.1.3}\n");
	cr_assert_eq(kn_config_unique(&upd, &err), -1);
	cr_assert_str_eq(err.msg, "c.yaml:6: duplicate WorkloadEntry "
				  "default/w (also at c.yaml:1)");
	kn_config_free(&upd);
}

/* ------------------------------------------------------------------ */
/* Errors in resources kept from an earlier apply */

/* Save cfg as the state, read it back: the next apply's starting point. */
static void t_state_round_trip(struct kn_config *cfg, const char *state)
{
	struct kn_err err = { .msg = "" };
	FILE *f = fopen(state, "w");

	cr_assert_not_null(f);
	cr_assert_eq(kn_config_write_state(cfg, f), 0);
	fclose(f);
	kn_config_free(cfg);
	cr_assert_eq(kn_config_read_state(cfg, state, &err), 0, "%s", err.msg);
}

/* The finding: the error named the state file under /run. */
Test(input, kept_resource_error_names_the_applied_file, .init = t_dir_up,
     .fini = t_dir_down)
{
	struct kn_config cfg = { 0 }, upd = { 0 };
	struct kn_err err = { .msg = "" };
	char want[2 * PATH_MAX], cwd[PATH_MAX];

	t_read_lab(&cfg, "virtualservice-weight-70.yaml");
	cr_assert_eq(kn_config_validate(&cfg, &err), 0, "%s", err.msg);
	t_state_round_trip(&cfg, t_path("state.yaml"));
	/* Twice: what was kept from a kept resource is kept again. */
	t_state_round_trip(&cfg, t_path("state.yaml"));

	/* A new DestinationRule without the subset the kept route uses. */
	t_read_buf_ok(&upd, "dr.yaml",
		      "apiVersion: networking.istio.io/v1alpha3\n"
		      "kind: DestinationRule\n"
		      "metadata: {name: image-classifier}\n"
		      "spec:\n"
		      "  host: image-classifier\n"
		      "  subsets:\n"
		      "  - name: resnet50\n"
		      "    labels: {version: resnet50}\n");
	kn_config_merge(&cfg, &upd);
	cr_assert_eq(kn_config_validate(&cfg, &err), -1);
	/* The lab's file, made absolute, and the line in it. */
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	snprintf(want, sizeof(want), "%s/%s:19:", cwd,
		 t_lab("virtualservice-weight-70.yaml"));
	cr_assert(!strncmp(err.msg, want, strlen(want)),
		  "error: %s\nwanted it to start with %s", err.msg, want);
	kn_config_free(&cfg);
}

/* n WorkloadEntries named <prefix>-<i>, one file, each a document. */
static void t_write_entries(const char *path, const char *prefix, int n)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (int i = 0; i < n; i++)
		fprintf(f,
			"apiVersion: networking.istio.io/v1beta1\n"
			"kind: WorkloadEntry\n"
			"metadata: {name: %s-%d}\n"
			"spec:\n"
			"  address: 198.18.%d.%d\n"
			"  labels: {app: image-classifier, version: resnet50}\n"
			"---\n",
			prefix, i, 1 + i / 250, 1 + i % 250);
	fclose(f);
}

/*
 * The finding (bench_scale, 1000 routes / 10000 endpoints): two files
 * within the limit each were applied, and the next apply failed reading
 * the saved state, bigger than the limit for one file.
 */
Test(input, state_bigger_than_one_file_is_read, .init = t_dir_up,
     .fini = t_dir_down, .timeout = 30)
{
	struct kn_config cfg = { 0 };
	struct stat st;

	t_write_entries(t_path("a.yaml"), "a", 12000);
	t_write_entries(t_path("b.yaml"), "b", 12000);
	t_read_ok(&cfg, t_path("a.yaml"));
	t_read_ok(&cfg, t_path("b.yaml"));
	t_state_round_trip(&cfg, t_path("state.yaml"));
	cr_assert_eq(stat(t_path("state.yaml"), &st), 0);
	cr_assert_gt(st.st_size, KN_CONFIG_MAX_INPUT,
		     "the state (%lld bytes) should be over the limit for "
		     "one file",
		     (long long)st.st_size);
	cr_assert_eq(cfg.n_res, 24000);
	kn_config_free(&cfg);
}

/* The state's annotations are the state's: a user's file is itself. */
Test(input, source_annotation_only_in_the_state)
{
	struct kn_config cfg = { 0 };

	t_read_buf_ok(&cfg, "we.yaml",
		      "apiVersion: networking.istio.io/v1beta1\n"
		      "kind: WorkloadEntry\n"
		      "metadata:\n"
		      "  name: w\n"
		      "  annotations:\n"
		      "    kanary.io/source: /elsewhere.yaml\n"
		      "    kanary.io/source-lines: \"40\"\n"
		      "spec: {address: 198.18.1.2}\n");
	cr_assert_str_eq(cfg.res[0].src.file, "we.yaml");
	cr_assert_eq(cfg.res[0].src.line, 1);
	kn_config_free(&cfg);
}
