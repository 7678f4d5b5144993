/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Incremental checksum updates (RFC 1624) for the NAT rewrite. */
#ifndef KANARY_BPF_CSUM_H
#define KANARY_BPF_CSUM_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

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

/* A 32-bit word as two 16-bit ones' complement terms. */
static __always_inline __u32 csum_word(__u32 w)
{
	return (w & 0xffff) + (w >> 16);
}

/*
 * What bpf_csum_diff(old, 8, new, 8, 0) returns for two address pairs,
 * computed inline: the helper call copies to a scratch buffer and costs
 * more than the sum itself (measured: ~18 ns of an established packet).
 */
static __always_inline __u32 csum_diff_addrs(__be32 old_s, __be32 old_d,
					     __be32 new_s, __be32 new_d)
{
	return csum_word(~old_s) + csum_word(~old_d) + csum_word(new_s) +
	       csum_word(new_d);
}

static __always_inline __u32 csum_diff_ports(__be16 old_s, __be16 old_d,
					     __be16 new_s, __be16 new_d)
{
	return (__u16)~old_s + (__u16)~old_d + new_s + new_d;
}

/* New checksum after the covered data changed by diff (a bpf_csum_diff). */
static __always_inline __u16 csum_update(__u16 check, __u32 diff)
{
	return csum_fold(csum_add(~check & 0xffff, diff));
}

/* The TCP pseudo-header's terms, for a checksum computed from scratch. */
static __always_inline __u32 csum_pseudo_tcp(__be32 saddr, __be32 daddr,
					     __u16 tcp_len)
{
	return csum_word(saddr) + csum_word(daddr) + bpf_htons(IPPROTO_TCP) +
	       bpf_htons(tcp_len);
}

/*
 * Is the TCP checksum left to offload (CHECKSUM_PARTIAL)? XDP cannot ask
 * the skb, but it can read the sign: the field then holds the folded
 * pseudo-header sum alone (Linux's __tcp_v4_send_check, and virtio's
 * NEEDS_CSUM), which a full checksum equals by chance once in 65535
 * packets. Those few take tc's path too, which is correct for both.
 */
static __always_inline bool tcp_csum_partial(const struct iphdr *ip,
					     const struct tcphdr *tcp)
{
	__u32 s = csum_pseudo_tcp(ip->saddr, ip->daddr,
				  bpf_ntohs(ip->tot_len) - sizeof(*ip));

	return tcp->check == (__u16)~csum_fold(s);
}

/* Sum of the 16-bit words of a 20-byte IPv4 header, check field included. */
static __always_inline __u16 ip_csum(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	int i;

	ip->check = 0;
	for (i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold(sum);
}

/*
 * A diff for a 32-bit field that moved from old to new at byte offset off
 * of the summed data: odd offsets see the field's bytes in the other half
 * of each 16-bit word, which swaps the bytes of the folded sum.
 */
static __always_inline __u32 csum_diff32_at(__u32 old, __u32 new, __u32 off)
{
	__u32 d = csum_word(~old) + csum_word(new);

	d = (d & 0xffff) + (d >> 16);
	d = (d & 0xffff) + (d >> 16);
	if (off & 1)
		d = ((d & 0xff) << 8) | (d >> 8);
	return d;
}

static __always_inline __u32 csum_diff16(__u16 old, __u16 new)
{
	return (__u16)~old + new;
}

#endif /* KANARY_BPF_CSUM_H */
