/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The XDP/tc context layer: what differs between an xdp_md and an
 * __sk_buff (the packet's bounds and length, resizing it, copying bytes
 * out of it), behind one call each. is_tc is a constant wherever these
 * are inlined, so each attach point keeps only its own branch.
 */
#ifndef KANARY_BPF_CTX_H
#define KANARY_BPF_CTX_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "parse.h"

/* The packet's bounds, read anew: a helper that changes the packet (resize,
 * store, pull) invalidates every pointer into it. */
static __always_inline void ctx_bounds(void *ctx, const bool is_tc, void **data,
				       void **data_end)
{
	if (is_tc) {
		struct __sk_buff *skb = ctx;

		/* volatile: see kanary_tc */
		*data = (void *)(long)*(volatile __u32 *)&skb->data;
		*data_end = (void *)(long)*(volatile __u32 *)&skb->data_end;
	} else {
		struct xdp_md *xdp = ctx;

		*data = (void *)(long)*(volatile __u32 *)&xdp->data;
		*data_end = (void *)(long)*(volatile __u32 *)&xdp->data_end;
	}
}

/* The whole frame's length, paged data included (tc). */
static __always_inline __u32 ctx_len(void *ctx, const bool is_tc)
{
	void *data, *data_end;

	if (is_tc)
		return ((struct __sk_buff *)ctx)->len;
	ctx_bounds(ctx, is_tc, &data, &data_end);
	return data_end - data;
}

/* Parse the packet again (after a resize, or in a function of its own). */
static __always_inline int reparse(void *ctx, const bool is_tc, struct pkt *p)
{
	void *data, *data_end;

	ctx_bounds(ctx, is_tc, &data, &data_end);
	return parse_tcp4(data, data_end, ctx_len(ctx, is_tc), p);
}

/* Cut or grow the frame's tail to new_len bytes; 0 on success. */
static __always_inline int ctx_resize(void *ctx, const bool is_tc,
				      __u32 new_len)
{
	if (is_tc)
		return bpf_skb_change_tail(ctx, new_len, 0);
	return bpf_xdp_adjust_tail(ctx,
				   (int)new_len - (int)ctx_len(ctx, false));
}

/* Copy len bytes at offset off out of the packet; 0 on success. */
static __always_inline long ctx_load(void *ctx, const bool is_tc, __u32 off,
				     void *to, __u32 len)
{
	if (is_tc)
		return bpf_skb_load_bytes(ctx, off, to, len);
	return bpf_xdp_load_bytes(ctx, off, to, len);
}

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

#define CHECKSUM_PARTIAL 3

/*
 * tc only: is the skb's TCP checksum left to offload? A packet kanary
 * makes up over such an skb must then hold the pseudo-header sum in the
 * field, not a full checksum: the NIC (or the kernel, for a device
 * without checksum offload) finishes it from csum_start on. (The skb's
 * csum_start and csum_offset still point at the TCP header and its check
 * field: kanary keeps the Ethernet and IPv4 header sizes.) XDP never
 * makes packets over one: it passes those frames to tc.
 */
static __always_inline bool ctx_csum_partial(void *ctx, const bool is_tc)
{
	struct sk_buff *kskb;

	if (!is_tc)
		return false;
	kskb = bpf_cast_to_kern_ctx(ctx);
	return BPF_CORE_READ_BITFIELD(kskb, ip_summed) == CHECKSUM_PARTIAL;
}

#endif /* KANARY_BPF_CTX_H */
