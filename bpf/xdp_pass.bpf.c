// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Test rig helper: a bare XDP_PASS. A veth only receives XDP_REDIRECTed
 * frames when its peer has an XDP program, so the lab's namespaces put
 * this one on the far end of every veth in xdp mode.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The floor for benchmarks: swap MACs and send the frame back. */
SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	unsigned char *eth = data, tmp[6];

	if (data + 14 > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth, 6);
	__builtin_memcpy(eth, eth + 6, 6);
	__builtin_memcpy(eth + 6, tmp, 6);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
