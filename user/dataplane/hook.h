/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Which hook rewrites packets on each interface, and why.
 *
 * Native XDP is the fastest hook, but it is correct only where the driver
 * hands it full checksums and can send the frames it returns: a veth (or
 * tun) carries packets of the local stack, whose TCP checksum may be left
 * to offload (CHECKSUM_PARTIAL: the field holds only the pseudo-header
 * sum), and XDP has no way to finish such a sum before XDP_TX or a
 * redirect. tc's checksum helpers see the skb and handle both. So the
 * choice is made per interface, from facts the kernel publishes: the
 * driver's name (ethtool) and its XDP features (the netdev netlink
 * family, kernel 6.3+).
 */
#ifndef KANARY_HOOK_H
#define KANARY_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

/* NETDEV_XDP_ACT_* of <linux/netdev.h> (kernel UAPI, 6.3+). */
#define KN_XDP_ACT_BASIC (1ULL << 0) /* PASS, DROP, TX, ABORTED */
#define KN_XDP_ACT_REDIRECT (1ULL << 1)
#define KN_XDP_ACT_NDO_XMIT (1ULL << 2) /* accepts redirected frames */

/* What the kernel says of one interface. */
struct kn_iface_facts {
	char driver[32]; /* "" when ethtool does not say */
	bool features_known; /* false on kernels without the netdev family */
	uint64_t xdp_features;
};

/* Read the driver name and XDP features of ifname/ifindex. */
int kn_iface_probe(const char *ifname, int ifindex,
		   struct kn_iface_facts *facts);

/*
 * Decide the hook of one interface for the requested mode: it->hook and
 * it->why (a short reason, for status). Returns 0, or -1 with a one-line
 * reason in it->why when the requested mode cannot be correct there (the
 * caller refuses to load).
 */
int kn_hook_choose(enum kn_mode requested, const struct kn_iface_facts *facts,
		   struct kn_iface *it);

/*
 * May XDP programs redirect frames to this interface (kn_tx_ports)?
 * Native XDP needs the driver to take frames (ndo_xdp_xmit: for a veth,
 * only once its peer runs XDP); generic XDP sends skbs and can always.
 */
bool kn_hook_takes_frames(enum kn_mode ingress, const struct kn_iface_facts *f);

/*
 * May the XDP program on it see TCP checksums left to offload (the data
 * path then passes those packets to tc)? Drivers of the local stack's
 * packets, or ones ethtool does not name; never where tc is the hook.
 */
bool kn_hook_may_see_partial(const struct kn_iface *it,
			     const struct kn_iface_facts *f);

#endif /* KANARY_HOOK_H */
