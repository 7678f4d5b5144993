// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * verifier: how much of the kernel's verifier budget each program of a
 * BPF object takes (instructions processed, of 1,000,000; stack depth
 * per subprogram, of 512 bytes together), read from the verifier's own
 * statistics (log level 4). kanary's programs are one large function
 * each: a change that makes the verifier follow the rest of a program
 * more than once shows here first (docs/conntrack-record.md).
 *
 *   verifier [object...]   default: build/kanary.bpf.o
 *
 * Loads with private maps (nothing pinned); needs root. Exits 1 if an
 * object does not load.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#define LOG_SIZE (16u << 20)

/* Print the line of log starting with key, if any. */
static void print_stat(const char *log, const char *key)
{
	const char *l = strstr(log, key);
	int n;

	if (!l)
		return;
	n = strcspn(l, "\n");
	printf("  %.*s\n", n, l);
}

static int report(const char *path)
{
	struct bpf_program *prog;
	struct bpf_object *obj;
	struct bpf_map *map;
	char *logs[16] = {};
	int n = 0, err;

	obj = bpf_object__open(path);
	if (!obj) {
		fprintf(stderr, "verifier: cannot open %s\n", path);
		return 1;
	}
	bpf_object__for_each_map(map, obj)
		bpf_map__set_pin_path(map, NULL);
	bpf_object__for_each_program(prog, obj) {
		if (n == 16)
			break;
		logs[n] = calloc(1, LOG_SIZE);
		if (!logs[n])
			return 1;
		bpf_program__set_log_level(prog, 4);
		bpf_program__set_log_buf(prog, logs[n++], LOG_SIZE);
	}
	err = bpf_object__load(obj);
	printf("%s: %s\n", path, err ? "does not load" : "loads");
	n = 0;
	bpf_object__for_each_program(prog, obj) {
		if (n == 16)
			break;
		printf("%s\n", bpf_program__name(prog));
		print_stat(logs[n], "stack depth");
		print_stat(logs[n], "processed");
		/* A refusal's reason is the line before the statistics. */
		if (err)
			print_stat(logs[n], "combined stack size");
		free(logs[n++]);
	}
	bpf_object__close(obj);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	int i, rc = 0;

	if (argc < 2)
		return report("build/kanary.bpf.o");
	for (i = 1; i < argc; i++)
		rc |= report(argv[i]);
	return rc;
}
