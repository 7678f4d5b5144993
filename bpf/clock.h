/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The data path's clocks. */
#ifndef KANARY_BPF_CLOCK_H
#define KANARY_BPF_CLOCK_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/*
 * For stamps that only ever time out in milliseconds or more (a flow's
 * open_ns and closed_ns, a next hop's expiry): the clock as of the last
 * tick, at most a tick (1-4 ms) behind, for a fraction of the price of
 * bpf_ktime_get_ns, which a new connection's SYN paid for (docs/BENCHMARKS.md).
 * Durations (req_ns) keep bpf_ktime_get_ns.
 */
static __always_inline __u64 coarse_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* Less than age has passed since stamp (one coarse_now reading, now). A
 * stamp ahead of now (written from userspace's finer clock) is young. */
static __always_inline bool younger(__u64 now, __u64 stamp, __u64 age)
{
	return (__s64)(now - stamp) < (__s64)age;
}

#endif /* KANARY_BPF_CLOCK_H */
