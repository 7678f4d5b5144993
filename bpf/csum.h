/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Incremental checksum updates (RFC 1624) for the NAT rewrite. */
#ifndef KANARY_BPF_CSUM_H
#define KANARY_BPF_CSUM_H

#include "vmlinux.h"

static __always_inline __u32 csum_add(__u32 a, __u32 b)
{
	__u32 r = a + b;

	return r + (r < a);
}

static __always_inline __u16 csum_fold(__u32 c)
{
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

/* New checksum after the covered data changed by diff (a bpf_csum_diff). */
static __always_inline __u16 csum_update(__u16 check, __u32 diff)
{
	return csum_fold(csum_add(~check & 0xffff, diff));
}

#endif /* KANARY_BPF_CSUM_H */
