/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Parsing: find the IPv4 and TCP headers, or say the packet is not ours. */
#ifndef KANARY_BPF_PARSE_H
#define KANARY_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"

#define ETH_P_IP 0x0800
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* Ethernet + IPv4 without options + the fixed TCP header. */
#define KANARY_HDR_LEN \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))

struct pkt {
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 len; /* whole frame, for the byte counters */
	__u32 plen; /* TCP payload bytes */
	__u8 flags; /* TCP flags byte */
};

/*
 * Returns 0 for a well-formed IPv4 TCP packet kanary may look at. IP
 * options, fragments, truncated packets and anything that is not TCP are
 * refused: they are passed untouched, never rewritten.
 */
static __always_inline int parse_tcp4(void *data, void *data_end, __u32 len,
				      struct pkt *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 tot;

	if ((void *)(eth + 1) > data_end)
		return -1;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->version != 4 || ip->ihl != 5)
		return -1;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	if (ip->protocol != IPPROTO_TCP)
		return -1;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) + sizeof(*tcp) ||
	    tot > len - sizeof(struct ethhdr))
		return -1;
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;
	if (tcp->doff < 5 || tcp->doff * 4 > tot - sizeof(*ip))
		return -1;

	p->eth = eth;
	p->ip = ip;
	p->tcp = tcp;
	p->len = len;
	p->plen = tot - sizeof(*ip) - tcp->doff * 4;
	p->flags = ((__u8 *)tcp)[13];
	return 0;
}

/* The sequence number after the segment: its payload, and one each for
 * SYN and FIN. */
static __always_inline __u32 seg_end(const struct pkt *p)
{
	return bpf_ntohl(p->tcp->seq) + p->plen + !!(p->flags & TCP_FLAG_SYN) +
	       !!(p->flags & TCP_FLAG_FIN);
}

/* A big-endian 32-bit word at b. */
static __always_inline __u32 be32_at(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) |
	       b[3];
}

/*
 * An established segment's TSval (host order) into *tsval: true if its
 * options start as every common stack lays them out (NOP, NOP, TS). Any
 * other layout reads as none. Fixed offsets: the L4 path's closing
 * packets pay a few compares, not an option walk (tcpopt.h).
 */
static __always_inline bool seg_tsval(const struct pkt *p, void *data_end,
				      __u32 *tsval)
{
	__u8 *o = (void *)(p->tcp + 1);

	if (p->tcp->doff * 4 < sizeof(struct tcphdr) + 12 ||
	    (void *)(o + 12) > data_end)
		return false;
	if (o[0] != 1 || o[1] != 1 || o[2] != 8 || o[3] != 10)
		return false;
	*tsval = be32_at(o + 4);
	return true;
}

/* syn_read: NOP, WS at o + n (a constant); n + 4, or n if not. */
static __always_inline __u32 syn_ws_at(const __u8 *o, __u32 n, __u32 optlen,
				       void *data_end, struct kanary_flow *f)
{
	if (optlen < n + 4 || (void *)(o + n + 4) > data_end || o[n] != 1 ||
	    o[n + 1] != 3 || o[n + 2] != 3)
		return n;
	f->syn_wscale = o[n + 3] > 14 ? 14 : o[n + 3];
	return n + 4;
}

/*
 * An L4 SYN's options into f (kanary_flow.syn_*), if laid out as Linux
 * lays them out (tcp_options_write): MSS; then SACK_PERM and TS, or NOP
 * NOP TS, or NOP NOP SACK_PERM, or neither; then NOP WS, or not. Those
 * are the options craft_syn writes: KANARY_SYN_KNOWN says the SYN had
 * exactly them, and can be made again. No option at all reads as
 * KANARY_SYN_NO_TS alone; anything else (another order, TFO, MD5, MPTCP)
 * as nothing known, not even whether it had a TSval. Written straight
 * into f (map memory, which the verifier does not follow): the layouts'
 * paths join at the end instead of multiplying the SYN path's states.
 */
static __always_inline void syn_read(struct kanary_flow *f, const struct pkt *p,
				     void *data_end)
{
	__u8 *o = (void *)(p->tcp + 1);
	__u32 optlen = p->tcp->doff * 4 - sizeof(struct tcphdr), n;

	f->syn_window = bpf_ntohs(p->tcp->window);
	f->syn_wscale = 0xff;
	if (!optlen) {
		f->syn_flags = KANARY_SYN_NO_TS;
		return;
	}
	if (optlen < 4 || (void *)(o + 4) > data_end || o[0] != 2 || o[1] != 4)
		return;
	f->syn_mss = ((__u16)o[2] << 8) | o[3];
	if (optlen >= 16 && (void *)(o + 16) <= data_end && o[6] == 8 &&
	    o[7] == 10 &&
	    ((o[4] == 4 && o[5] == 2) || (o[4] == 1 && o[5] == 1))) {
		f->syn_flags = KANARY_SYN_TS |
			       (o[4] == 4 ? KANARY_SYN_SACK : 0);
		f->syn_tsval = be32_at(o + 8);
		n = syn_ws_at(o, 16, optlen, data_end, f);
	} else if (optlen >= 8 && (void *)(o + 8) <= data_end && o[4] == 1 &&
		   o[5] == 1 && o[6] == 4 && o[7] == 2) {
		f->syn_flags = KANARY_SYN_NO_TS | KANARY_SYN_SACK;
		n = syn_ws_at(o, 8, optlen, data_end, f);
	} else {
		f->syn_flags = KANARY_SYN_NO_TS;
		n = syn_ws_at(o, 4, optlen, data_end, f);
	}
	if (n == optlen)
		f->syn_flags |= KANARY_SYN_KNOWN;
	else
		f->syn_flags = 0;
}

#endif /* KANARY_BPF_PARSE_H */
