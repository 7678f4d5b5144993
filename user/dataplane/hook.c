// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/sockios.h>
#include <net/if.h>

#include "hook.h"

/* The netdev generic netlink family (<linux/netdev.h>, kernel 6.3+). */
#define NETDEV_FAMILY_NAME "netdev"
#define NETDEV_CMD_DEV_GET 1
#define NETDEV_A_DEV_IFINDEX 1
#define NETDEV_A_DEV_XDP_FEATURES 3

static int driver_name(const char *ifname, char *buf, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int fd, rc;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	rc = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	if (rc)
		return -1;
	info.driver[sizeof(info.driver) - 1] = '\0';
	snprintf(buf, len, "%s", info.driver);
	return 0;
}

struct genl_reply {
	int want; /* attribute type to find */
	bool found;
	uint64_t u64;
	uint16_t u16;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	struct genl_reply *r = data;

	if (mnl_attr_get_type(a) != r->want)
		return MNL_CB_OK;
	if (mnl_attr_get_payload_len(a) == sizeof(uint64_t))
		r->u64 = mnl_attr_get_u64(a);
	else if (mnl_attr_get_payload_len(a) == sizeof(uint16_t))
		r->u16 = mnl_attr_get_u16(a);
	else
		return MNL_CB_OK;
	r->found = true;
	return MNL_CB_OK;
}

static int msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, GENL_HDRLEN, attr_cb, data);
}

/* One generic netlink request with one u32 or string attribute. */
static int genl_ask(struct mnl_socket *nl, uint16_t family, uint8_t cmd,
		    uint16_t attr, const void *val, size_t val_len,
		    struct genl_reply *r)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;
	unsigned int seq = time(NULL), port = mnl_socket_get_portid(nl);
	int n;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = 1;
	mnl_attr_put(nlh, attr, val_len, val);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		n = mnl_cb_run(buf, n, seq, port, msg_cb, r);
		if (n <= MNL_CB_STOP)
			return n < 0 ? -1 : 0;
	}
	return -1;
}

static int xdp_features(int ifindex, uint64_t *features)
{
	struct genl_reply fam = { .want = CTRL_ATTR_FAMILY_ID };
	struct genl_reply dev = { .want = NETDEV_A_DEV_XDP_FEATURES };
	uint32_t idx = ifindex;
	struct mnl_socket *nl;
	int rc = -1;

	nl = mnl_socket_open(NETLINK_GENERIC);
	if (!nl)
		return -1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	if (genl_ask(nl, GENL_ID_CTRL, CTRL_CMD_GETFAMILY,
		     CTRL_ATTR_FAMILY_NAME, NETDEV_FAMILY_NAME,
		     sizeof(NETDEV_FAMILY_NAME), &fam) ||
	    !fam.found)
		goto out;
	if (genl_ask(nl, fam.u16, NETDEV_CMD_DEV_GET, NETDEV_A_DEV_IFINDEX,
		     &idx, sizeof(idx), &dev) ||
	    !dev.found)
		goto out;
	*features = dev.u64;
	rc = 0;
out:
	mnl_socket_close(nl);
	return rc;
}

int kn_iface_probe(const char *ifname, int ifindex,
		   struct kn_iface_facts *facts)
{
	memset(facts, 0, sizeof(*facts));
	driver_name(ifname, facts->driver, sizeof(facts->driver));
	facts->features_known = !xdp_features(ifindex, &facts->xdp_features);
	return 0;
}

/* Drivers whose frames come from a local stack, checksums unfinished. */
static bool hands_partial_csums(const struct kn_iface_facts *f)
{
	return !strcmp(f->driver, "veth") || !strcmp(f->driver, "tun");
}

bool kn_hook_may_see_partial(const struct kn_iface *it,
			     const struct kn_iface_facts *f)
{
	if (it->hook == KN_MODE_TC)
		return false;
	return !f->driver[0] || hands_partial_csums(f);
}

static bool has(const struct kn_iface_facts *f, uint64_t act)
{
	return f->features_known && (f->xdp_features & act) == act;
}

bool kn_hook_takes_frames(enum kn_mode ingress, const struct kn_iface_facts *f)
{
	if (ingress == KN_MODE_XDP_GENERIC)
		return true;
	return has(f, KN_XDP_ACT_NDO_XMIT);
}

static const char *drv(const struct kn_iface_facts *f)
{
	return f->driver[0] ? f->driver : "unknown driver";
}

#define WHY(it, ...) snprintf((it)->why, sizeof((it)->why), __VA_ARGS__)

/* The hook the user asked for, and where XDP then hands frames to tc. */
static void forced(enum kn_mode hook, const struct kn_iface_facts *f,
		   struct kn_iface *it)
{
	it->hook = hook;
	if (hook != KN_MODE_TC && hands_partial_csums(f))
		WHY(it, "--mode %s; %s: partial checksums go to tc",
		    kn_mode_name(hook), drv(f));
	else
		WHY(it, "--mode %s", kn_mode_name(hook));
}

static int choose_xdp(const struct kn_iface_facts *f, struct kn_iface *it)
{
	if (f->features_known && !has(f, KN_XDP_ACT_BASIC)) {
		WHY(it, "%s (%s) has no native XDP; use --mode auto or tc",
		    it->name, drv(f));
		return -1;
	}
	/* A veth sends XDP frames to its peer, which drops them unless it
	 * runs XDP too (the kernel then sets NDO_XMIT on this end). */
	if (hands_partial_csums(f) && f->features_known &&
	    !has(f, KN_XDP_ACT_NDO_XMIT)) {
		WHY(it,
		    "%s (%s): frames XDP sends out of it are lost until its "
		    "peer runs an XDP program; use --mode auto or tc",
		    it->name, drv(f));
		return -1;
	}
	forced(KN_MODE_XDP, f, it);
	return 0;
}

static void choose_auto(const struct kn_iface_facts *f, struct kn_iface *it)
{
	it->hook = KN_MODE_TC;
	if (hands_partial_csums(f))
		WHY(it,
		    "%s: packets from its peer may carry partial checksums, "
		    "which XDP cannot finish",
		    drv(f));
	else if (!f->features_known)
		WHY(it, "the kernel does not say which XDP features %s has",
		    drv(f));
	else if (!has(f, KN_XDP_ACT_BASIC))
		WHY(it, "%s has no native XDP", drv(f));
	else {
		it->hook = KN_MODE_XDP;
		WHY(it, "%s: native XDP, full checksums", drv(f));
	}
}

int kn_hook_choose(enum kn_mode requested, const struct kn_iface_facts *f,
		   struct kn_iface *it)
{
	switch (requested) {
	case KN_MODE_XDP:
		return choose_xdp(f, it);
	case KN_MODE_XDP_GENERIC:
	case KN_MODE_TC:
		forced(requested, f, it);
		return 0;
	case KN_MODE_AUTO:
	default:
		choose_auto(f, it);
		return 0;
	}
}
