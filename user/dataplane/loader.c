// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "kanary.skel.h"
#include "hook.h"
#include "kanary_abi.h"
#include "loader.h"
#include "flows.h"
#include "pins.h"
#include "upgrade.h"

/* tc filter identity: kanary's own handle and priority on clsact ingress. */
#define KN_TC_HANDLE 0x6b6e
#define KN_TC_PRIO 0x6b6e

static int link_pin(const char *pin_dir, const char *ifname, char *buf, int len)
{
	char name[64];

	snprintf(name, sizeof(name), "link_xdp_%s", ifname);
	return kn_pin_path(pin_dir, name, buf, len);
}

static int attach_xdp(const char *pin_dir, struct kn_iface *it, int prog_fd)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	char path[512];
	int fd;

	link_pin(pin_dir, it->name, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* Already attached: swap the program in place. */
		int rc = bpf_link_update(fd, prog_fd, NULL);

		close(fd);
		if (rc)
			fprintf(stderr,
				"kanary: cannot replace XDP on %s: %s\n",
				it->name, kn_strerror(errno));
		return rc;
	}
	lo.flags = it->hook == KN_MODE_XDP ? XDP_FLAGS_DRV_MODE :
					     XDP_FLAGS_SKB_MODE;
	fd = bpf_link_create(prog_fd, it->ifindex, BPF_XDP, &lo);
	if (fd < 0) {
		fprintf(stderr, "kanary: cannot attach XDP (%s) to %s: %s\n",
			kn_mode_name(it->hook), it->name, kn_strerror(errno));
		return -1;
	}
	if (bpf_obj_pin(fd, path)) {
		fprintf(stderr, "kanary: cannot pin %s: %s\n", path,
			kn_strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int attach_tc(struct kn_iface *it, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = it->ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KN_TC_HANDLE,
		    .priority = KN_TC_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	int rc = bpf_tc_hook_create(&hook);

	if (rc && rc != -EEXIST) {
		fprintf(stderr, "kanary: cannot add clsact to %s: %s\n",
			it->name, kn_strerror(-rc));
		return -1;
	}
	if (!rc)
		it->made_qdisc = true;
	rc = bpf_tc_attach(&hook, &to);
	if (rc) {
		fprintf(stderr, "kanary: cannot attach tc to %s: %s\n",
			it->name, kn_strerror(-rc));
		return -1;
	}
	return 0;
}

/* 0, or -errno when the privilege to detach is missing (pin kept). */
static int detach_xdp(const char *pin_dir, const struct kn_iface *it)
{
	char path[512];
	int fd, err = 0;

	/*
	 * Detach explicitly before unpinning: the link's last reference goes
	 * with an RCU grace period, and a load right after unload could
	 * still find the interface busy.
	 */
	link_pin(pin_dir, it->name, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0 && kn_denied(errno))
		return -errno;
	if (fd >= 0) {
		if (bpf_link_detach(fd) && kn_denied(errno))
			err = -errno;
		close(fd);
	}
	if (!err)
		unlink(path);
	return err;
}

/*
 * Every interface has the tc program on clsact ingress; where the hook is
 * XDP, the XDP program sits in front of it, and the tc one then only sees
 * what XDP passes (partial checksums, egresses that take no XDP frames,
 * neighbours to resolve, and foreign packets).
 * 0, or -errno when the privilege to detach is missing: anything else
 * (already gone) is as good as detached.
 */
static int detach(const char *pin_dir, const struct kn_iface *it)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = it->ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KN_TC_HANDLE,
		    .priority = KN_TC_PRIO);
	int err;

	/*
	 * tc first: netlink needs CAP_NET_ADMIN, while anyone holding the
	 * link's pin may detach XDP; without the privilege nothing changes.
	 */
	err = bpf_tc_detach(&hook, &to);
	if (kn_denied(-err))
		return err;
	if (it->made_qdisc) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		err = bpf_tc_hook_destroy(&hook);
		if (kn_denied(-err))
			return err;
	}
	return it->hook != KN_MODE_TC ? detach_xdp(pin_dir, it) : 0;
}

int kn_attached(const char *pin_dir, const struct kn_iface *it)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = it->ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = KN_TC_HANDLE,
		    .priority = KN_TC_PRIO);
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	char path[512];
	int fd, ok;

	if (bpf_tc_query(&hook, &to))
		return 0;
	if (it->hook == KN_MODE_TC)
		return 1;
	link_pin(pin_dir, it->name, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	     info.xdp.ifindex == (__u32)it->ifindex;
	close(fd);
	return ok;
}

/* kanary forwards with the kernel's FIB, which refuses when forwarding is
 * off on the interface a packet came in on. */
static void warn_forwarding(const struct kn_iface *it)
{
	char path[128], c = '1';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
		 it->name);
	f = fopen(path, "r");
	if (f && fread(&c, 1, 1, f) == 1 && c == '0')
		fprintf(stderr,
			"kanary: warning: IPv4 forwarding is off on %s; "
			"connections through it will not be forwarded "
			"(sysctl net.ipv4.ip_forward=1)\n",
			it->name);
	if (f)
		fclose(f);
}

/* Without --vip, the VIPs are the IPv4 addresses of the interfaces. */
static int iface_addrs(struct kn_load_info *li)
{
	struct ifaddrs *ifa, *p;

	if (getifaddrs(&ifa))
		return -1;
	for (p = ifa; p; p = p->ifa_next) {
		if (!p->ifa_addr || p->ifa_addr->sa_family != AF_INET)
			continue;
		for (int i = 0; i < li->n_ifaces; i++) {
			if (strcmp(p->ifa_name, li->ifaces[i].name) ||
			    li->n_vips >= KN_MAX_VIP_ADDRS)
				continue;
			li->vips[li->n_vips++] =
				((struct sockaddr_in *)p->ifa_addr)
					->sin_addr.s_addr;
		}
	}
	freeifaddrs(ifa);
	return 0;
}

/* kn_cfg's load-time settings; a reload keeps the flows' hash seed. */
static int seed_cfg(struct kanary_bpf *skel, const struct kn_load_opts *o)
{
	int fd = bpf_map__fd(skel->maps.kn_cfg);
	struct kanary_cfg cfg;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -1;
	if (!cfg.reclaim_ns)
		cfg.reclaim_ns = KANARY_RECLAIM_NS_DEFAULT;
	cfg.head_max = o->head_max ? o->head_max : KANARY_L7_HEAD_DEFAULT;
	if (cfg.hash_seed) /* reused maps: keep the flows' seed */
		return bpf_map_update_elem(fd, &zero, &cfg, 0);
	if (getrandom(&cfg.hash_seed, sizeof(cfg.hash_seed), 0) !=
	    sizeof(cfg.hash_seed))
		return -1;
	cfg.hash_seed |= 1;
	return bpf_map_update_elem(fd, &zero, &cfg, 0);
}

static int check_reload(const struct kn_load_info *old,
			const struct kn_load_info *li)
{
	if (old->mode != li->mode)
		goto differ;
	for (int i = 0; i < old->n_ifaces; i++) {
		int found = 0;

		for (int j = 0; j < li->n_ifaces; j++)
			found |= !strcmp(old->ifaces[i].name,
					 li->ifaces[j].name);
		if (!found)
			goto differ;
	}
	return 0;
differ:
	fprintf(stderr,
		"kanary: already loaded at this pin dir in %s mode on other "
		"interfaces; run 'kanary unload' first\n",
		kn_mode_name(old->mode));
	return -1;
}

/*
 * The conntrack size: --flows, or on a reload the size of the pinned map,
 * which libbpf would otherwise refuse to reuse.
 */
static int pinned_flow_entries(const struct kn_load_opts *o, __u32 *flows)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[512];
	int fd;

	*flows = o->flow_entries;
	kn_pin_path(o->pin_dir, "kn_flows", path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return 0;
	}
	close(fd);
	if (o->flow_entries && o->flow_entries != info.max_entries) {
		fprintf(stderr,
			"kanary: the loaded conntrack has %u entries, not %u: "
			"unload first to change --flows\n",
			info.max_entries, o->flow_entries);
		return -1;
	}
	*flows = info.max_entries;
	return 0;
}

/* The interface as attached before this (re)load, or NULL. */
static const struct kn_iface *was_attached(const struct kn_load_info *old,
					   bool reload, const char *name)
{
	for (int i = 0; reload && i < old->n_ifaces; i++)
		if (!strcmp(old->ifaces[i].name, name))
			return &old->ifaces[i];
	return NULL;
}

/*
 * kn_tx_ports: the interfaces XDP may redirect frames to (see
 * kn_hook_takes_frames); XDP hands a packet for any other egress to tc
 * untouched. Rebuilt at every load: a reused pinned map may hold another
 * load's interfaces.
 */
static int fill_tx_ports(struct kanary_bpf *skel, const struct kn_load_info *li)
{
	int fd = bpf_map__fd(skel->maps.kn_tx_ports);
	__u32 key, next;

	while (!bpf_map_get_next_key(fd, NULL, &next))
		if (bpf_map_delete_elem(fd, &next))
			break;
	for (int i = 0; i < li->n_ifaces; i++) {
		struct bpf_devmap_val v = { .ifindex = li->ifaces[i].ifindex };

		if (!li->ifaces[i].takes_frames)
			continue;
		key = v.ifindex;
		if (bpf_map_update_elem(fd, &key, &v, 0)) {
			fprintf(stderr,
				"kanary: cannot add %s to kn_tx_ports: %s\n",
				li->ifaces[i].name, kn_strerror(errno));
			return -1;
		}
	}
	return 0;
}

static bool pin_exists(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	return !kn_pin_path(pin_dir, name, path, sizeof(path)) &&
	       !access(path, F_OK);
}

int kn_load(const struct kn_load_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	struct kn_load_info li = { .mode = o->mode }, old;
	bool reload = !kn_state_read_load(o->pin_dir, &old);
	int read_err = errno;
	struct kanary_bpf *skel;
	struct kn_upgrade up = { .old_fd = -1, .old_conns_fd = -1 };
	int tc_fd, xdp_fd, rc = -1;
	bool partial_csums = false, pinned = false, new_conns;
	__u32 flows = 0;

	/* Not "not loaded": a load state we may not read is not ours to
	 * replace. */
	if (!reload && kn_denied(read_err)) {
		fprintf(stderr, "kanary: %s: %s\n", o->pin_dir, KN_DENIED);
		return -1;
	}
	for (int i = 0; i < o->n_ifaces; i++) {
		struct kn_iface *it = &li.ifaces[li.n_ifaces++];
		struct kn_iface_facts facts;

		snprintf(it->name, sizeof(it->name), "%s", o->ifaces[i]);
		it->ifindex = if_nametoindex(o->ifaces[i]);
		if (!it->ifindex) {
			fprintf(stderr, "kanary: no interface %s\n",
				o->ifaces[i]);
			return -1;
		}
		kn_iface_probe(it->name, it->ifindex, &facts);
		if (kn_hook_choose(o->mode, &facts, it)) {
			fprintf(stderr, "kanary: --mode %s: %s\n",
				kn_mode_name(o->mode), it->why);
			return -1;
		}
		partial_csums |= kn_hook_may_see_partial(it, &facts);
		it->takes_frames = kn_hook_takes_frames(
			o->mode == KN_MODE_XDP_GENERIC ? KN_MODE_XDP_GENERIC :
							 KN_MODE_XDP,
			&facts);
		for (int j = 0; reload && j < old.n_ifaces; j++)
			if (!strcmp(old.ifaces[j].name, it->name))
				it->made_qdisc = old.ifaces[j].made_qdisc;
	}
	if (reload && check_reload(&old, &li))
		return -1;
	memcpy(li.vips, o->vips, sizeof(li.vips));
	li.n_vips = o->n_vips;
	if (!li.n_vips && iface_addrs(&li))
		return -1;
	if (kn_pins_prepare(o->pin_dir))
		return -1;

	skel = kanary_bpf__open_opts(&oo);
	if (!skel) {
		fprintf(stderr, "kanary: cannot open the BPF object: %s\n",
			kn_strerror(errno));
		return -1;
	}
	if (pinned_flow_entries(o, &flows))
		goto out;
	if (flows && bpf_map__set_max_entries(skel->maps.kn_flows, flows))
		goto out;
	skel->rodata->kn_xdp_partial_csums = partial_csums;
	/* Before kn_upgrade_check, which may unpin an older kn_flows. */
	new_conns = !pin_exists(o->pin_dir, "kn_conns") &&
		    pin_exists(o->pin_dir, "kn_flows");
	if (kn_upgrade_check(skel->obj, &up))
		goto out;
	if (kanary_bpf__load(skel)) {
		fprintf(stderr, "kanary: cannot load the BPF programs: %s\n",
			kn_load_strerror(errno, geteuid() == 0));
		kn_upgrade_end(&up, false);
		goto out;
	}
	pinned = true;
	/* Connections of an older kanary: now, and again once its programs
	 * are replaced (those it opened in between). */
	kn_upgrade_carry(&up, bpf_map__fd(skel->maps.kn_flows));
	/* kn_flows of a kanary without records, or with the records of
	 * another size carried into it: see KANARY_CONN_KN_FLOWS. */
	if ((new_conns || up.old_conns_fd >= 0) &&
	    kn_conns_mark_kn_flows(bpf_map__fd(skel->maps.kn_conns))) {
		fprintf(stderr, "kanary: cannot mark kn_conns: %s\n",
			strerror(errno));
		goto out;
	}
	if (seed_cfg(skel, o)) {
		fprintf(stderr, "kanary: cannot seed kn_cfg\n");
		goto out;
	}

	tc_fd = bpf_program__fd(skel->progs.kanary_tc);
	xdp_fd = bpf_program__fd(skel->progs.kanary_xdp);
	for (int i = 0; i < li.n_ifaces; i++) {
		struct kn_iface *it = &li.ifaces[i];
		const struct kn_iface *was =
			was_attached(&old, reload, it->name);
		int err;

		/* The hook changed since the last load (a veth's peer lost
		 * its XDP program, say): XDP goes, or comes, before tc. */
		if (was && was->hook != KN_MODE_TC && was->hook != it->hook)
			detach_xdp(o->pin_dir, was);
		err = attach_tc(it, tc_fd);
		if (!err && it->hook != KN_MODE_TC)
			err = attach_xdp(o->pin_dir, it, xdp_fd);
		if (err) {
			/* Leave nothing half-attached that the saved state
			 * does not know of. */
			for (int j = 0; j <= i; j++)
				if (!was_attached(&old, reload,
						  li.ifaces[j].name))
					detach(o->pin_dir, &li.ifaces[j]);
			goto out;
		}
	}
	if (up.old_fd >= 0 || up.old_conns_fd >= 0) {
		kn_upgrade_carry(&up, bpf_map__fd(skel->maps.kn_flows));
		fprintf(stderr,
			"kanary: carried %ld conntrack entries over from the "
			"older layout\n",
			up.carried);
	}
	kn_upgrade_end(&up, true);
	if (fill_tx_ports(skel, &li))
		goto out;
	for (int i = 0; i < li.n_ifaces; i++)
		warn_forwarding(&li.ifaces[i]);
	if (kn_state_save_load(o->pin_dir, &li)) {
		fprintf(stderr, "kanary: cannot save the load state: %s\n",
			kn_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	kn_upgrade_end(&up,
		       true); /* after a load, the new kn_flows is pinned */
	kanary_bpf__destroy(skel);
	/* A failed first load leaves no pins; pins it did not make (refused
	 * above, say) are not its to remove. */
	if (rc && !reload && pinned)
		kn_unload(o->pin_dir);
	else if (rc && !reload)
		rmdir(o->pin_dir); /* only if kn_pins_prepare made it empty */
	return rc;
}

int kn_unload(const char *pin_dir)
{
	struct kn_load_info li;
	char path[512];

	/*
	 * Without the privilege, stop before removing a pin or the state:
	 * programs left attached without them could not be unloaded again.
	 */
	if (!kn_state_read_load(pin_dir, &li)) {
		for (int i = 0; i < li.n_ifaces; i++)
			if (kn_denied(-detach(pin_dir, &li.ifaces[i])))
				goto denied;
	} else if (kn_denied(errno)) {
		goto denied;
	}
	for (int i = 0; i < KN_MAP_COUNT; i++)
		if (!kn_pin_path(pin_dir, kn_map_names[i], path, sizeof(path)))
			unlink(path);
	kn_state_remove(pin_dir);
	if (rmdir(pin_dir) && errno != ENOENT) {
		if (kn_denied(errno))
			fprintf(stderr, "kanary: %s: %s\n", pin_dir, KN_DENIED);
		else
			fprintf(stderr,
				"kanary: %s is not empty after unload: %s\n",
				pin_dir, strerror(errno));
		return -1;
	}
	return 0;
denied:
	fprintf(stderr, "kanary: %s: %s\n", pin_dir, KN_DENIED);
	return -1;
}
