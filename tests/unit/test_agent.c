// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's pure parts: --listen parsing, and the config directory's
 * digest (what decides whether a burst of inotify events applies anything).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "agent.h"
#include "config_dir.h"
#include "helpers.h"

Test(agent, listen_parses_ipv4_and_port)
{
	struct sockaddr_in sa;

	cr_assert_eq(kn_agent_parse_listen("127.0.0.1:9901", &sa), 0);
	cr_assert_eq(ntohs(sa.sin_port), 9901);
	cr_assert_eq(sa.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	cr_assert_eq(kn_agent_parse_listen("0.0.0.0:1", &sa), 0);
	cr_assert_eq(sa.sin_addr.s_addr, 0);
}

Test(agent, listen_refuses_what_is_not_addr_port)
{
	static const char *const bad[] = {
		"9901",	       ":9901",		  "127.0.0.1:",
		"127.0.0.1:0", "127.0.0.1:65536", "localhost:80",
		"1.2.3.4:80x", "300.1.1.1:80"
	};
	struct sockaddr_in sa;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(kn_agent_parse_listen(bad[i], &sa), -1, "%s",
			     bad[i]);
}

static char dir[] = "/tmp/kanary-unit-cfgdir-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void mkdir_tmp(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(config_dir, .init = mkdir_tmp, .fini = rm_tmp);

Test(config_dir, digest_follows_names_and_contents_only)
{
	uint64_t empty, one, same, changed, renamed;

	empty = kn_config_dir_digest(dir);
	cr_assert_neq(empty, 0, "a readable empty directory has a digest");
	put("a.yaml", "kind: Service\n");
	one = kn_config_dir_digest(dir);
	cr_assert_neq(one, empty);
	/* Rewriting the same bytes (a no-op update) changes nothing. */
	put("a.yaml", "kind: Service\n");
	same = kn_config_dir_digest(dir);
	cr_assert_eq(same, one);
	put("a.yaml", "kind: Gateway\n");
	changed = kn_config_dir_digest(dir);
	cr_assert_neq(changed, one);
	/* Files the reader skips do not count: dot names, other suffixes. */
	put(".hidden.yaml", "x: 1\n");
	put("notes.txt", "x: 1\n");
	cr_assert_eq(kn_config_dir_digest(dir), changed);
	/* The same content under another name is another set. */
	put("b.yml", "kind: Gateway\n");
	renamed = kn_config_dir_digest(dir);
	cr_assert_neq(renamed, changed);
}

Test(config_dir, digest_follows_the_kubelet_data_swap)
{
	char path[256], target[256];
	uint64_t before;

	/* ..v1/a.yaml, ..data -> ..v1, a.yaml -> ..data/a.yaml */
	snprintf(path, sizeof(path), "%s/..v1", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	put("..v1/a.yaml", "weight: 70\n");
	snprintf(path, sizeof(path), "%s/..data", dir);
	cr_assert_eq(symlink("..v1", path), 0);
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	cr_assert_eq(symlink("..data/a.yaml", path), 0);
	before = kn_config_dir_digest(dir);

	snprintf(path, sizeof(path), "%s/..v2", dir);
	cr_assert_eq(mkdir(path, 0755), 0);
	put("..v2/a.yaml", "weight: 30\n");
	snprintf(path, sizeof(path), "%s/..data_tmp", dir);
	cr_assert_eq(symlink("..v2", path), 0);
	snprintf(target, sizeof(target), "%s/..data", dir);
	cr_assert_eq(rename(path, target), 0);
	cr_assert_neq(kn_config_dir_digest(dir), before,
		      "the swap of ..data is a new set");
}

Test(config_dir, missing_directory_has_no_digest)
{
	cr_assert_eq(kn_config_dir_digest("/nonexistent/kanary"), 0);
}

Test(config_dir, empty_directory_is_an_error)
{
	struct kn_config cfg;
	struct kn_err err;

	cr_assert_eq(kn_config_dir_read(dir, &cfg, &err), -1);
	cr_assert(strstr(err.msg, "no *.yaml"), "%s", err.msg);
	kn_config_free(&cfg);
}
