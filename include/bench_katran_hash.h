/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Katran model's ring hash (bpf/bench_katran.bpf.c), shared with
 * pktbench, which computes it too to check the real the model picks.
 * Benchmark only: not part of kanary's ABI.
 */
#ifndef KANARY_BENCH_KATRAN_HASH_H
#define KANARY_BENCH_KATRAN_HASH_H

static inline __u32 kb_rol32(__u32 x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/*
 * Two words hashed with the final mix of Bob Jenkins' lookup3 (public
 * domain), set up as the kernel's jhash for two words does it.
 */
static inline __u32 kb_hash_2words(__u32 a, __u32 b, __u32 seed)
{
	__u32 c = seed + 0xdeadbeef + (2 << 2);

	a += c;
	b += c;
	c ^= b;
	c -= kb_rol32(b, 14);
	a ^= c;
	a -= kb_rol32(c, 11);
	b ^= a;
	b -= kb_rol32(a, 25);
	c ^= b;
	c -= kb_rol32(b, 16);
	a ^= c;
	a -= kb_rol32(c, 4);
	b ^= a;
	b -= kb_rol32(a, 14);
	c ^= b;
	c -= kb_rol32(b, 24);
	return c;
}

#endif /* KANARY_BENCH_KATRAN_HASH_H */
