// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "config_dir.h"

/* crc32 over one file, the name first; a file that vanished counts as gone. */
static uint32_t digest_file(uint32_t crc, int dirfd, const char *name)
{
	char buf[65536];
	ssize_t n;
	int fd;

	crc = crc32(crc, (const Bytef *)name, strlen(name) + 1);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return crc32(crc, (const Bytef *)"\0missing", 8);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crc = crc32(crc, (const Bytef *)buf, n);
	close(fd);
	return crc;
}

uint64_t kn_config_dir_digest(const char *dir)
{
	struct dirent **names;
	uint32_t crc = crc32(0, NULL, 0);
	uint64_t total = 0;
	int n, dirfd;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return 0;
	n = scandir(dir, &names, kn_config_yaml_entry, kn_config_name_order);
	if (n < 0) {
		close(dirfd);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		crc = digest_file(crc, dirfd, names[i]->d_name);
		free(names[i]);
	}
	free(names);
	close(dirfd);
	/* The count in the high half: never 0 for a readable directory. */
	total = ((uint64_t)(n + 1) << 32) | crc;
	return total;
}

int kn_config_dir_read(const char *dir, struct kn_config *cfg,
		       struct kn_err *err)
{
	memset(cfg, 0, sizeof(*cfg));
	return kn_config_read_path(cfg, dir, err);
}
