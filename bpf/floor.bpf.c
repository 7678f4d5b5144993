// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The benchmarks' floors: the least a program at each hook can do, so
 * that kanary's cost is read as a ratio to it in the same run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0

/* A bare pass: the fixed cost of one BPF_PROG_TEST_RUN (scale_tool). */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Swap source and destination MAC; false if the frame is too short. */
static __always_inline bool swap_macs(void *data, void *data_end)
{
	unsigned char *eth = data, tmp[6];

	if (data + 14 > data_end)
		return false;
	__builtin_memcpy(tmp, eth, 6);
	__builtin_memcpy(eth, eth + 6, 6);
	__builtin_memcpy(eth + 6, tmp, 6);
	return true;
}

/* pktbench's XDP floor: swap MACs and send the frame back. */
SEC("xdp")
int xdp_floor(struct xdp_md *ctx)
{
	if (!swap_macs((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_DROP;
	return XDP_TX;
}

/* pktbench's tc floor: swap MACs and go on. */
SEC("tc")
int tc_floor(struct __sk_buff *skb)
{
	if (!swap_macs((void *)(long)skb->data, (void *)(long)skb->data_end))
		return 2; /* TC_ACT_SHOT */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
