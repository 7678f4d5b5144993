/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Packets kanary must not forward. They are passed to the kernel
 * untouched, which drops them or answers them by its own rules (martian
 * sources, bad checksums, a VLAN the gateway has no device for), and
 * they take no flow and no SNAT port.
 */
#ifndef KANARY_BPF_MARTIAN_H
#define KANARY_BPF_MARTIAN_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

#include "parse.h"
#include "csum.h"
#include "ctx.h"

/*
 * Any packet. An 802.1Q/802.1ad tag: tc sees it in the skb, not in the
 * frame (XDP sees it in the frame, which parse_tcp4 refuses); it belongs
 * to the VLAN's device, or to none, never to the interface kanary serves.
 * TTL 0: nobody may send it (RFC 1122 3.2.1.7); kanary, as the
 * connection's end, does not decrement the TTL, so it checks for 0 only.
 * Flags no stack sends: SYN with FIN or RST, and a segment with none of
 * SYN, ACK and RST (null, FIN alone, "Xmas"), which Linux discards in
 * every state.
 */
static __always_inline bool must_not_forward(void *ctx, const bool is_tc,
					     const struct pkt *p)
{
	if (is_tc && ((struct __sk_buff *)ctx)->vlan_present)
		return true;
	if (!p->ip->ttl)
		return true;
	if (p->flags & TCP_FLAG_SYN)
		return p->flags & (TCP_FLAG_FIN | TCP_FLAG_RST);
	return !(p->flags & (TCP_FLAG_ACK | TCP_FLAG_RST));
}

/*
 * Sources no connection comes from: 0/8 ("this network"), 127/8, 224/4
 * (multicast) and 240/4 (class E, 255.255.255.255 included), and the
 * destination itself. A subnet's directed broadcast is not known here
 * (the VIP's prefix is not in the config): the kernel's own checks and
 * the FIB lookup toward the client, which finds no unicast route, are
 * what stop a connection from it.
 */
static __always_inline bool martian_source(__be32 saddr, __be32 daddr)
{
	__u8 top = bpf_ntohl(saddr) >> 24;

	return top == 0 || top == 127 || top >= 224 || saddr == daddr;
}

/* The IPv4 header (20 bytes, checked by parse_tcp4) sums to all ones. */
static __always_inline bool ip_csum_ok(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 10; i++)
		sum += w[i];
	return csum_fold(sum) == 0;
}

/*
 * The TCP checksum of a SYN without data: its header and options, at
 * most 60 bytes. A SYN with data (TCP Fast Open) is not checked: the
 * endpoint's stack checks it. Nor is one whose checksum is left to
 * offload (tc: CHECKSUM_PARTIAL; XDP passed those to tc already): it
 * comes from this host's own stack, and holds no checksum yet.
 */
static __always_inline bool syn_csum_ok(void *ctx, const bool is_tc,
					const struct pkt *p, void *data_end)
{
	__u32 tcp_len = p->tcp->doff * 4, sum, i;
	const __u32 *w = (const __u32 *)p->tcp;

	if (p->plen)
		return true;
	if (ctx_csum_partial(ctx, is_tc))
		return true;
	sum = csum_pseudo_tcp(p->ip->saddr, p->ip->daddr, tcp_len);
	/* Unrolled, constant offsets: the verifier follows each bound. */
#pragma unroll
	for (i = 0; i < 15; i++) {
		if (i * 4 < tcp_len) {
			if ((void *)(w + i + 1) > data_end)
				return false;
			sum += csum_word(w[i]);
		}
	}
	return csum_fold(sum) == 0;
}

/* A SYN that would open a connection: may it? */
static __always_inline bool syn_martian(void *ctx, const bool is_tc,
					const struct pkt *p, void *data_end)
{
	return martian_source(p->ip->saddr, p->ip->daddr) ||
	       !ip_csum_ok(p->ip) || !syn_csum_ok(ctx, is_tc, p, data_end);
}

#endif /* KANARY_BPF_MARTIAN_H */
