/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Resetting the client instead of leaving it to retransmit into the void:
 *  - a segment on a flow whose endpoint health checking ejected
 *    (kanary_flow.ejected, set by userspace): reset, connection forgotten;
 *  - a new connection whose chosen pool has no endpoint (all ejected): the
 *    L4 SYN, or the L7 first segment, is reset;
 *  - an L7 first segment no rule takes (l7_bind.h).
 * The RST itself is craft_rst's (craft.h); here it is cut to size and sent
 * back out of the interface the segment came in by (V_TX), in XDP only
 * where that interface takes XDP frames.
 */
#ifndef KANARY_BPF_RESET_H
#define KANARY_BPF_RESET_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "nat.h"
#include "forward.h"
#include "craft.h"

#define RST_FRAME_LEN KANARY_HDR_LEN

/*
 * Turn the segment in p into the RST that answers it (craft_rst), and cut
 * the frame to the RST's own 54 bytes: the segment's payload must not go
 * back with it, and in tc bpf_skb_change_tail also drops a GSO skb's
 * segmentation state, which would otherwise cut the RST into segments on
 * its way out. 0, or -1 when the frame could not be cut (half written:
 * drop it).
 */
static __always_inline int reset_back(void *ctx, const bool is_tc,
				      struct pkt *p)
{
	void *data, *data_end;

	ctx_bounds(ctx, is_tc, &data, &data_end);
	craft_rst(p, data_end, ctx_csum_partial(ctx, is_tc));
	if (ctx_len(ctx, is_tc) > RST_FRAME_LEN &&
	    ctx_resize(ctx, is_tc, RST_FRAME_LEN))
		return -1;
	return 0;
}

/*
 * Reset the client whose segment is in p, counted as why: V_TX. XDP sends
 * frames only out of an interface that takes them (kn_tx_ports, as on the
 * established path); otherwise it passes the segment, untouched and with
 * nothing counted, to the tc program behind it, which resets the client
 * itself (V_PASS). The caller changes state only on V_TX.
 */
static __always_inline enum verdict reset_client(void *ctx, const bool is_tc,
						 struct pkt *p,
						 __u32 in_ifindex, __u32 why)
{
	if (!is_tc && !xdp_prepare_send(in_ifindex, in_ifindex)) {
		count_global(KANARY_G_XDP_NO_TX);
		return V_PASS;
	}
	if (reset_back(ctx, is_tc, p))
		return V_DROP;
	count_global(why);
	return V_TX;
}

/*
 * The client's segment on a flow (fk, f: its to-endpoint entry) to an
 * ejected endpoint, or a SYN whose pool has no endpoint (f NULL): reset
 * the client, and forget the flow. Deleted, not stamped closed: the
 * endpoint holds no TIME_WAIT on the SNAT port for a connection nobody
 * closed (reclaim_port's 60 s wait is for that alone), and deleting is
 * what an RST of an answered connection does (note_close). Should the
 * endpoint be alive after all, its next segment finds no flow and the
 * gateway's kernel (the SNAT address is its own) resets it; a late
 * segment of the client's meets the kernel's RST the same way.
 */
static __always_inline enum verdict reset_flow(void *ctx, const bool is_tc,
					       const struct kanary_flow_key *fk,
					       struct kanary_flow *f,
					       __u32 in_ifindex, __u32 why)
{
	enum verdict v;
	struct pkt p;

	if (reparse(ctx, is_tc, &p))
		return V_PASS;
	v = reset_client(ctx, is_tc, &p, in_ifindex, why);
	if (v == V_TX && f)
		forget_conn(fk, f);
	return v;
}

/* Out of line, one copy per attach point: the established path only
 * tests a byte of its flow and calls this. */
static __noinline int reset_flow_xdp(struct xdp_md *ctx,
				     const struct kanary_flow_key *fk,
				     struct kanary_flow *f, __u32 in_ifindex,
				     __u32 why)
{
	return reset_flow(ctx, false, fk, f, in_ifindex, why);
}

static __noinline int reset_flow_tc(struct __sk_buff *skb,
				    const struct kanary_flow_key *fk,
				    struct kanary_flow *f, __u32 in_ifindex,
				    __u32 why)
{
	return reset_flow(skb, true, fk, f, in_ifindex, why);
}

static __always_inline int reset_flow_call(void *ctx, const bool is_tc,
					   const struct kanary_flow_key *fk,
					   struct kanary_flow *f,
					   __u32 in_ifindex, __u32 why)
{
	return is_tc ? reset_flow_tc(ctx, fk, f, in_ifindex, why) :
		       reset_flow_xdp(ctx, fk, f, in_ifindex, why);
}

#endif /* KANARY_BPF_RESET_H */
