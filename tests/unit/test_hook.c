// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Which hook rewrites on an interface (hook.c), as table rows: the mode
 * asked for and what the kernel says of the interface, in; the hook, or a
 * refusal, and words of the reason, out.
 */
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>

#include "hook.h"

#define FULL (KN_XDP_ACT_BASIC | KN_XDP_ACT_REDIRECT | KN_XDP_ACT_NDO_XMIT)
/* A veth whose peer runs no XDP: no NDO_XMIT (veth_set_xdp_features). */
#define VETH_ALONE (KN_XDP_ACT_BASIC | KN_XDP_ACT_REDIRECT)
#define REFUSED -1

struct hook_case {
	const char *what;
	enum kn_mode requested;
	const char *driver;
	bool known;
	unsigned long long features;
	int hook; /* enum kn_mode, or REFUSED */
	const char *why; /* words the reason must hold */
};

static const struct hook_case cases[] = {
	{ "auto, a NIC with native XDP", KN_MODE_AUTO, "ixgbe", true, FULL,
	  KN_MODE_XDP, "native XDP" },
	{ "auto, a NIC that only does XDP_TX", KN_MODE_AUTO, "nfp", true,
	  KN_XDP_ACT_BASIC, KN_MODE_XDP, "native XDP" },
	{ "auto, a veth, peer without XDP", KN_MODE_AUTO, "veth", true,
	  VETH_ALONE, KN_MODE_TC, "partial checksums" },
	{ "auto, a veth, peer with XDP", KN_MODE_AUTO, "veth", true, FULL,
	  KN_MODE_TC, "partial checksums" },
	{ "auto, a tun", KN_MODE_AUTO, "tun", true, FULL, KN_MODE_TC,
	  "partial checksums" },
	{ "auto, no native XDP", KN_MODE_AUTO, "dummy", true, 0, KN_MODE_TC,
	  "no native XDP" },
	{ "auto, a kernel that does not say", KN_MODE_AUTO, "ixgbe", false, 0,
	  KN_MODE_TC, "does not say" },
	{ "xdp, a NIC", KN_MODE_XDP, "ixgbe", true, FULL, KN_MODE_XDP,
	  "--mode xdp" },
	{ "xdp, a veth whose peer runs XDP", KN_MODE_XDP, "veth", true, FULL,
	  KN_MODE_XDP, "partial checksums go to tc" },
	{ "xdp, a veth whose peer runs none", KN_MODE_XDP, "veth", true,
	  VETH_ALONE, REFUSED, "lost until its peer runs an XDP program" },
	{ "xdp, no native XDP", KN_MODE_XDP, "dummy", true, 0, REFUSED,
	  "has no native XDP" },
	{ "xdp, a kernel that does not say: try", KN_MODE_XDP, "ixgbe", false,
	  0, KN_MODE_XDP, "--mode xdp" },
	{ "xdp-generic, anything", KN_MODE_XDP_GENERIC, "veth", true,
	  VETH_ALONE, KN_MODE_XDP_GENERIC, "xdp-generic" },
	{ "tc, anything", KN_MODE_TC, "ixgbe", true, FULL, KN_MODE_TC,
	  "--mode tc" },
};

Test(hook, chosen_per_interface)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct hook_case *c = &cases[i];
		struct kn_iface_facts f = { .features_known = c->known,
					    .xdp_features = c->features };
		struct kn_iface it = { .name = "if0", .hook = -1 };
		int rc;

		strcpy(f.driver, c->driver);
		rc = kn_hook_choose(c->requested, &f, &it);
		if (c->hook == REFUSED) {
			cr_expect_eq(rc, -1, "%s: not refused", c->what);
		} else {
			cr_expect_eq(rc, 0, "%s: refused (%s)", c->what,
				     it.why);
			cr_expect_eq((int)it.hook, c->hook, "%s: hook %d",
				     c->what, it.hook);
		}
		cr_expect(strstr(it.why, c->why), "%s: why is '%s'", c->what,
			  it.why);
	}
}

/*
 * kn_tx_ports: native XDP may redirect only to drivers that take frames;
 * generic XDP sends skbs, which any interface takes.
 */
Test(hook, takes_frames)
{
	struct kn_iface_facts nic = { .features_known = true,
				      .xdp_features = FULL };
	struct kn_iface_facts veth = { .features_known = true,
				       .xdp_features = VETH_ALONE };
	struct kn_iface_facts old = { .features_known = false };

	cr_expect(kn_hook_takes_frames(KN_MODE_XDP, &nic));
	cr_expect_not(kn_hook_takes_frames(KN_MODE_XDP, &veth));
	cr_expect_not(kn_hook_takes_frames(KN_MODE_XDP, &old));
	cr_expect(kn_hook_takes_frames(KN_MODE_XDP_GENERIC, &veth));
	cr_expect(kn_hook_takes_frames(KN_MODE_XDP_GENERIC, &old));
}
