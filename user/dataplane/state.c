// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "pins.h"
#include "state.h"

static const char *const mode_names[] = {
	[KN_MODE_XDP] = "xdp",
	[KN_MODE_XDP_GENERIC] = "xdp-generic",
	[KN_MODE_TC] = "tc",
	[KN_MODE_AUTO] = "auto",
};

const char *kn_mode_name(enum kn_mode mode)
{
	return mode_names[mode];
}

int kn_mode_parse(const char *s, enum kn_mode *mode)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]);
	     i++) {
		if (!strcmp(s, mode_names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -1;
}

int kn_state_dir(const char *pin_dir, char *buf, size_t len)
{
	const char *root = getenv("KANARY_STATE_ROOT");
	size_t n;

	if (!root || !*root)
		root = "/run/kanary";
	n = snprintf(buf, len, "%s/", root);
	for (const char *p = pin_dir; *p && n + 1 < len; p++)
		buf[n++] = *p == '/' ? '_' : *p;
	if (n + 1 >= len)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int state_path(const char *pin_dir, const char *file, char *buf,
		      size_t len, bool create)
{
	char dir[512];

	if (kn_state_dir(pin_dir, dir, sizeof(dir)))
		return -1;
	if (create) {
		char root[512];
		char *slash;

		snprintf(root, sizeof(root), "%s", dir);
		slash = strrchr(root, '/');
		*slash = '\0';
		if (mkdir(root, 0755) && errno != EEXIST)
			return -1;
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -1;
	}
	if ((size_t)snprintf(buf, len, "%s/%s", dir, file) >= len)
		return -1;
	return 0;
}

/* Write through a temporary file and rename: readers never see half. */
static FILE *open_for_replace(const char *path, char *tmp, size_t len)
{
	snprintf(tmp, len, "%s.tmp", path);
	return fopen(tmp, "w");
}

static int finish_replace(FILE *f, const char *tmp, const char *path)
{
	if (fflush(f) || fsync(fileno(f))) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	return rename(tmp, path);
}

int kn_state_save_load(const char *pin_dir, const struct kn_load_info *li)
{
	char path[600], tmp[640], addr[INET_ADDRSTRLEN];
	FILE *f;

	if (state_path(pin_dir, "load", path, sizeof(path), true))
		return -1;
	f = open_for_replace(path, tmp, sizeof(tmp));
	if (!f)
		return -1;
	fprintf(f, "mode %s\n", kn_mode_name(li->mode));
	for (int i = 0; i < li->n_ifaces; i++) {
		const struct kn_iface *it = &li->ifaces[i];

		fprintf(f, "iface %s %d %d %s %d %s\n", it->name, it->ifindex,
			it->made_qdisc, kn_mode_name(it->hook),
			it->takes_frames, it->why);
	}
	for (int i = 0; i < li->n_vips; i++)
		fprintf(f, "vip %s\n",
			inet_ntop(AF_INET, &li->vips[i], addr, sizeof(addr)));
	return finish_replace(f, tmp, path);
}

int kn_state_read_load(const char *pin_dir, struct kn_load_info *li)
{
	char path[600], line[512], a[64], b[64];
	int ifindex, made, takes, why = 0, n;
	FILE *f;

	memset(li, 0, sizeof(*li));
	if (state_path(pin_dir, "load", path, sizeof(path), false))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "mode %63s", a) == 1) {
			kn_mode_parse(a, &li->mode);
		} else if ((n = sscanf(line, "iface %63s %d %d %63s %d %n", a,
				       &ifindex, &made, b, &takes, &why)) >=
				   3 &&
			   li->n_ifaces < KANARY_MAX_IFACES) {
			struct kn_iface *it = &li->ifaces[li->n_ifaces++];

			snprintf(it->name, sizeof(it->name), "%.*s",
				 (int)sizeof(it->name) - 1, a);
			it->ifindex = ifindex;
			it->made_qdisc = made;
			/* A state file of an older kanary: one mode for all. */
			it->hook = li->mode;
			if (n < 5 || kn_mode_parse(b, &it->hook))
				continue;
			it->takes_frames = takes;
			snprintf(it->why, sizeof(it->why), "%.*s",
				 (int)strcspn(line + why, "\n"), line + why);
		} else if (sscanf(line, "vip %63s", b) == 1 &&
			   li->n_vips < KN_MAX_VIP_ADDRS) {
			inet_pton(AF_INET, b, &li->vips[li->n_vips++]);
		}
	}
	fclose(f);
	return 0;
}

int kn_state_read_saved(const char *pin_dir, struct kn_config *cfg,
			struct kn_err *err)
{
	char path[600];

	memset(cfg, 0, sizeof(*cfg));
	if (state_path(pin_dir, "config.yaml", path, sizeof(path), false))
		return -1;
	if (access(path, F_OK))
		return 0;
	return kn_config_read_state(cfg, path, err);
}

/* The first line of a saved config: which flip of which kn_cfg it is. */
#define GEN_HEADER "# kanary: generation %u seed %u\n"

static int file_gen(const char *path, uint32_t *generation, uint32_t *seed)
{
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, GEN_HEADER, generation, seed);
	fclose(f);
	return n == 2 ? 0 : -1;
}

int kn_state_save_pending(const char *pin_dir, const struct kn_config *cfg,
			  const struct kanary_cfg *next)
{
	char path[600], tmp[640];
	FILE *f;

	if (state_path(pin_dir, "config.pending.yaml", path, sizeof(path),
		       true))
		return -1;
	f = open_for_replace(path, tmp, sizeof(tmp));
	if (!f)
		return -1;
	fprintf(f, GEN_HEADER, next->generation, next->hash_seed);
	if (kn_config_write_state(cfg, f)) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	return finish_replace(f, tmp, path);
}

int kn_state_recover(const char *pin_dir, const struct kanary_cfg *live)
{
	char pending[600], saved[600];
	uint32_t generation, seed;

	if (state_path(pin_dir, "config.pending.yaml", pending, sizeof(pending),
		       false) ||
	    state_path(pin_dir, "config.yaml", saved, sizeof(saved), false))
		return -1;
	if (access(pending, F_OK))
		return 0;
	if (!live)
		return 0;
	if (!file_gen(pending, &generation, &seed) &&
	    generation == live->generation && seed == live->hash_seed)
		return rename(pending, saved) ? -1 : 1;
	return unlink(pending) && errno != ENOENT ? -1 : 0;
}

/* kn_cfg from its pin; -1 when not loaded (or not readable). */
static int read_live(const char *pin_dir, struct kanary_cfg *live)
{
	uint32_t zero = 0;
	char path[512];
	int fd, rc;

	if (kn_pin_path(pin_dir, kn_map_names[KN_MAP_CFG], path, sizeof(path)))
		return -1;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	rc = bpf_map_lookup_elem(fd, &zero, live);
	close(fd);
	return rc;
}

int kn_state_read_config(const char *pin_dir, struct kn_config *cfg,
			 struct kn_err *err)
{
	struct kanary_cfg live;
	char dir[512];
	int lock, rc;

	memset(cfg, 0, sizeof(*cfg));
	if (kn_state_dir(pin_dir, dir, sizeof(dir)))
		return kn_err_set(err, "state dir of %s: name too long",
				  pin_dir);
	/* Nothing applied yet: no state dir to make just for the lock. */
	if (access(dir, F_OK))
		return 0;
	lock = kn_state_lock(pin_dir);
	if (lock < 0)
		return kn_err_set(err, "cannot lock the state of %s: %s",
				  pin_dir, strerror(errno));
	rc = kn_state_recover(pin_dir,
			      read_live(pin_dir, &live) ? NULL : &live);
	if (rc < 0)
		rc = kn_err_set(err,
				"cannot recover the saved config of %s: %s",
				pin_dir, strerror(errno));
	else
		rc = kn_state_read_saved(pin_dir, cfg, err);
	close(lock);
	return rc;
}

int kn_state_lock(const char *pin_dir)
{
	char path[600];
	int fd;

	if (state_path(pin_dir, "lock", path, sizeof(path), true))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -1;
	}
	return fd;
}

int kn_state_save_ejected(const char *pin_dir, const struct kn_ejected *e,
			  int n)
{
	char path[600], tmp[640], addr[INET_ADDRSTRLEN];
	int lock, rc;
	FILE *f;

	if (state_path(pin_dir, "ejected", path, sizeof(path), true))
		return -1;
	lock = kn_state_lock(pin_dir);
	if (lock < 0)
		return -1;
	f = open_for_replace(path, tmp, sizeof(tmp));
	if (!f) {
		close(lock);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		/* One line per endpoint, whatever the error says. */
		char why[sizeof(e[i].why)];

		snprintf(why, sizeof(why), "%s", e[i].why);
		for (char *p = why; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		fprintf(f, "%s:%u since=%lld service=%s subset=%s why=%s\n",
			inet_ntop(AF_INET, &e[i].addr, addr, sizeof(addr)),
			ntohs(e[i].port), (long long)e[i].since,
			e[i].service[0] ? e[i].service : "-",
			e[i].subset[0] ? e[i].subset : "-", why);
	}
	rc = finish_replace(f, tmp, path);
	close(lock);
	return rc;
}

static void ejected_field(const char *line, const char *key, char *out,
			  size_t len, bool rest)
{
	const char *p = strstr(line, key);
	size_t n;

	out[0] = '\0';
	if (!p)
		return;
	p += strlen(key);
	n = rest ? strcspn(p, "\n") : strcspn(p, " \n");
	if (n == 1 && *p == '-')
		return;
	snprintf(out, len, "%.*s", (int)n, p);
}

int kn_state_read_ejected(const char *pin_dir, struct kn_ejected **e, int *n)
{
	char path[600], line[1024], a[64], since[32];
	struct kn_ejected *arr = NULL, *x;
	unsigned int port;
	int cap = 0;
	FILE *f;

	*e = NULL;
	*n = 0;
	if (state_path(pin_dir, "ejected", path, sizeof(path), false))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f)) {
		struct in_addr in;

		if (sscanf(line, "%63[0-9.]:%u", a, &port) != 2 ||
		    inet_pton(AF_INET, a, &in) != 1 || !port || port > 65535)
			continue;
		if (*n == cap) {
			void *p = realloc(arr, (cap = cap ? 2 * cap : 8) *
						       sizeof(*arr));

			if (!p) {
				free(arr);
				fclose(f);
				return -1;
			}
			arr = p;
		}
		x = &arr[(*n)++];
		memset(x, 0, sizeof(*x));
		x->addr = in.s_addr;
		x->port = htons(port);
		ejected_field(line, " since=", since, sizeof(since), false);
		x->since = atoll(since);
		ejected_field(line, " service=", x->service, sizeof(x->service),
			      false);
		ejected_field(line, " subset=", x->subset, sizeof(x->subset),
			      false);
		ejected_field(line, " why=", x->why, sizeof(x->why), true);
	}
	fclose(f);
	*e = arr;
	return 0;
}

void kn_state_remove(const char *pin_dir)
{
	static const char *const files[] = { "load",
					     "config.yaml",
					     "config.pending.yaml",
					     "config.pending.yaml.tmp",
					     "ejected",
					     "lock" };
	char path[600];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!state_path(pin_dir, files[i], path, sizeof(path), false))
			unlink(path);
	if (!kn_state_dir(pin_dir, path, sizeof(path)))
		rmdir(path);
}
