// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

const char *t_lab_dir(void)
{
	const char *d = getenv("KANARY_LAB_DIR");

	return d && *d ? d : "examples/lab";
}

const char *t_lab(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, PATH_MAX, "%s/%s", t_lab_dir(), name);
	return b;
}

void t_read_ok(struct kn_config *cfg, const char *path)
{
	struct kn_err err = { .msg = "" };
	int ret = kn_config_read_path(cfg, path, &err);

	cr_assert_eq(ret, 0, "reading %s failed: %s", path, err.msg);
}

void t_read_lab(struct kn_config *cfg, const char *vs)
{
	static const char *const base[] = { "gateway.yaml", "service.yaml",
					    "destinationrule.yaml" };

	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < 3; i++)
		t_read_ok(cfg, t_lab(base[i]));
	t_read_ok(cfg, t_lab("workloadentries.yaml"));
	if (vs)
		t_read_ok(cfg, t_lab(vs));
}

void t_read_buf_ok(struct kn_config *cfg, const char *name, const char *yaml)
{
	struct kn_err err = { .msg = "" };
	int ret = kn_config_read_buffer(cfg, name, yaml, strlen(yaml), &err);

	cr_assert_eq(ret, 0, "reading %s failed: %s", name, err.msg);
}

char *t_dump(const struct kn_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(kn_config_write(cfg, f), 0);
	fclose(f);
	return buf;
}

char *t_read_warnings(struct kn_config *cfg, const char *name, const char *yaml)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	char *buf;
	long len;

	cr_assert_not_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), 2);
	t_read_buf_ok(cfg, name, yaml);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = ftell(tmp);
	rewind(tmp);
	buf = calloc(1, len + 1);
	cr_assert_eq(fread(buf, 1, len, tmp), (size_t)len);
	fclose(tmp);
	return buf;
}
