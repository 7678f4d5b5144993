/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Parsing: find the IPv4 and TCP headers, or say the packet is not ours. */
#ifndef KANARY_BPF_PARSE_H
#define KANARY_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

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

#endif /* KANARY_BPF_PARSE_H */
