// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The write-ahead saved config (state.h): recovery after a kill between
 * saving the pending config and the flip, or between the flip and the
 * commit, decided by kn_cfg's generation and seed, on state files in a
 * temporary state root. (The kills themselves: test_crash.sh.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "state.h"

#define PIN "/sys/fs/bpf/kanary-unit-state-none"

static char root[] = "/tmp/kanary-test-state-XXXXXX";
static char saved[600], pending[600];
/* What was applied (old, generation 4) and what is being applied (new). */
static struct kn_config old_cfg, new_cfg;
static const struct kanary_cfg gen4 = { .generation = 4, .hash_seed = 77 };
static const struct kanary_cfg gen5 = { .generation = 5, .hash_seed = 77 };

static void init(void)
{
	char dir[512];

	cr_assert_not_null(mkdtemp(root));
	setenv("KANARY_STATE_ROOT", root, 1);
	cr_assert_eq(kn_state_dir(PIN, dir, sizeof(dir)), 0);
	snprintf(saved, sizeof(saved), "%s/config.yaml", dir);
	snprintf(pending, sizeof(pending), "%s/config.pending.yaml", dir);
	t_read_lab(&old_cfg, "virtualservice-weight-70.yaml");
	t_read_lab(&new_cfg, "virtualservice-weight-100.yaml");
	/* An apply that completed: generation 4 is committed. */
	cr_assert_eq(kn_state_save_pending(PIN, &old_cfg, &gen4), 0);
	cr_assert_eq(kn_state_recover(PIN, &gen4), 1);
}

static void fini(void)
{
	char cmd[128];

	kn_config_free(&old_cfg);
	kn_config_free(&new_cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
	unsetenv("KANARY_STATE_ROOT");
}

TestSuite(state, .init = init, .fini = fini);

/* The saved config, read as the next command reads it, is cfg. */
static void assert_saved(const struct kn_config *cfg)
{
	struct kn_err err = { .msg = "" };
	struct kn_config got;
	char *want_yaml, *got_yaml;

	cr_assert_eq(kn_state_read_saved(PIN, &got, &err), 0, "%s", err.msg);
	want_yaml = t_dump(cfg);
	got_yaml = t_dump(&got);
	cr_assert_str_eq(got_yaml, want_yaml);
	free(want_yaml);
	free(got_yaml);
	kn_config_free(&got);
}

static unsigned int header_generation(const char *path)
{
	unsigned int gen = 0, seed;
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fscanf(f, "# kanary: generation %u seed %u", &gen, &seed),
		     2);
	fclose(f);
	return gen;
}

Test(state, saved_config_records_its_generation)
{
	cr_assert_eq(header_generation(saved), 4);
	cr_assert_eq(access(pending, F_OK), -1);
	assert_saved(&old_cfg);
}

Test(state, kill_after_the_flip_commits_the_pending_config)
{
	cr_assert_eq(kn_state_save_pending(PIN, &new_cfg, &gen5), 0);
	/* Killed here: the data path already runs generation 5. */
	cr_assert_eq(kn_state_recover(PIN, &gen5), 1);
	cr_assert_eq(access(pending, F_OK), -1);
	cr_assert_eq(header_generation(saved), 5);
	assert_saved(&new_cfg);
}

Test(state, kill_before_the_flip_drops_the_pending_config)
{
	cr_assert_eq(kn_state_save_pending(PIN, &new_cfg, &gen5), 0);
	/* Killed here: the data path still runs generation 4. */
	cr_assert_eq(kn_state_recover(PIN, &gen4), 0);
	cr_assert_eq(access(pending, F_OK), -1);
	cr_assert_eq(header_generation(saved), 4);
	assert_saved(&old_cfg);
}

Test(state, a_data_path_loaded_since_is_not_the_flip)
{
	/* Generation 5 of another kn_cfg (unloaded and loaded again). */
	const struct kanary_cfg other = { .generation = 5, .hash_seed = 78 };

	cr_assert_eq(kn_state_save_pending(PIN, &new_cfg, &gen5), 0);
	cr_assert_eq(kn_state_recover(PIN, &other), 0);
	cr_assert_eq(access(pending, F_OK), -1);
	assert_saved(&old_cfg);
}

Test(state, no_data_path_decides_nothing)
{
	cr_assert_eq(kn_state_save_pending(PIN, &new_cfg, &gen5), 0);
	cr_assert_eq(kn_state_recover(PIN, NULL), 0);
	cr_assert_eq(access(pending, F_OK), 0, "kept for a later decision");
	assert_saved(&old_cfg);
}

Test(state, a_pending_file_without_header_is_dropped)
{
	FILE *f = fopen(pending, "w");

	cr_assert_not_null(f);
	fputs("---\nkind: Service\n", f);
	fclose(f);
	cr_assert_eq(kn_state_recover(PIN, &gen5), 0);
	cr_assert_eq(access(pending, F_OK), -1);
	assert_saved(&old_cfg);
}

Test(state, a_reader_without_a_data_path_keeps_it_pending)
{
	struct kn_err err = { .msg = "" };
	struct kn_config got;

	/* Nothing is pinned at PIN: the reader cannot decide and reads the
	 * committed config, leaving the pending one for a later decision. */
	cr_assert_eq(kn_state_save_pending(PIN, &new_cfg, &gen5), 0);
	cr_assert_eq(kn_state_read_config(PIN, &got, &err), 0, "%s", err.msg);
	cr_assert_eq(access(pending, F_OK), 0);
	kn_config_free(&got);
	assert_saved(&old_cfg);
}

Test(state, readers_make_no_state_dir)
{
	struct kn_err err = { .msg = "" };
	struct kn_config got;
	char dir[512];

	cr_assert_eq(kn_state_read_config("/sys/fs/bpf/kanary-unit-other", &got,
					  &err),
		     0);
	cr_assert_eq(got.n_res, 0);
	cr_assert_eq(kn_state_dir("/sys/fs/bpf/kanary-unit-other", dir,
				  sizeof(dir)),
		     0);
	cr_assert_eq(access(dir, F_OK), -1);
}
