/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The packets the L7 path makes up, each written over the packet that
 * came in: the SYN-ACK to a client, the SYN to an endpoint, the replay of
 * a held first segment, an RST. Turning a packet around (turn_around) and
 * the IP header and both checksums of a made-up packet (finish_headers)
 * are shared by all of them. Only bytes: what the connection's state
 * becomes is the callers' (l7_bind.h, l7_splice.h).
 */
#ifndef KANARY_BPF_CRAFT_H
#define KANARY_BPF_CRAFT_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "parse.h"
#include "ctx.h"
#include "csum.h"
#include "tcpopt.h"

#define TCP_FLAG_PSH 0x08
#define IP_DF 0x4000
#define L7_TTL 64

/* The SYN kanary sends to the endpoint: 20 bytes of options, NOP padded. */
#define L7_SYN_TCP_LEN (sizeof(struct tcphdr) + 20)
#define L7_SYN_FRAME_LEN \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + L7_SYN_TCP_LEN)

/*
 * Linux's timestamp option layout, NOP NOP TS(tsval, tsecr), at the start
 * of the options of a segment kanary makes up. -1 past data_end.
 */
static __always_inline int put_ts_opt(struct tcphdr *tcp, void *data_end,
				      __u32 tsval, __u32 tsecr)
{
	__u8 *o = (__u8 *)(tcp + 1);

	if ((void *)(o + 12) > data_end)
		return -1;
	o[0] = TCPOPT_NOP;
	o[1] = TCPOPT_NOP;
	o[2] = TCPOPT_TS;
	o[3] = 10;
	store_be32(o + 4, tsval);
	store_be32(o + 8, tsecr);
	return 0;
}

/* Sum the 16-bit words of a TCP header of hlen bytes in the packet. */
static __always_inline __u32 sum_tcp_header(struct tcphdr *tcp, __u32 hlen,
					    void *data_end)
{
	__u16 *w = (__u16 *)tcp;
	__u32 sum = 0;
	int i;

	for (i = 0; i < 30; i++) {
		if (i * 2 >= hlen)
			break;
		if ((void *)(w + i + 1) > data_end)
			break;
		sum += w[i];
	}
	return sum;
}

/*
 * Fill in the IP header of a packet kanary makes up (SYN-ACK, SYN,
 * replay, RST) and both checksums; the TCP header and payload are in
 * place, payload_sum is the payload's word sum. partial: the skb's TCP
 * checksum is left to offload (ctx_csum_partial), so the field gets the
 * pseudo-header sum alone, which the NIC finishes.
 */
static __always_inline void finish_headers(struct iphdr *ip, struct tcphdr *tcp,
					   __u32 tcp_hlen, __u32 payload_len,
					   __u32 payload_sum, void *data_end,
					   bool partial)
{
	__u32 sum;

	ip->tot_len = bpf_htons(sizeof(*ip) + tcp_hlen + payload_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(IP_DF);
	ip->ttl = L7_TTL;
	ip->check = ip_csum(ip);

	tcp->check = 0;
	sum = csum_pseudo_tcp(ip->saddr, ip->daddr, tcp_hlen + payload_len);
	if (partial) {
		tcp->check = ~csum_fold(sum);
		return;
	}
	sum = csum_add(sum, sum_tcp_header(tcp, tcp_hlen, data_end));
	sum = csum_add(sum, payload_sum);
	tcp->check = csum_fold(sum);
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[6];

	__builtin_memcpy(tmp, eth->h_source, 6);
	__builtin_memcpy(eth->h_source, eth->h_dest, 6);
	__builtin_memcpy(eth->h_dest, tmp, 6);
}

/* Send the packet back where it came from: MACs, addresses and ports
 * swapped, in place. */
static __always_inline void turn_around(struct pkt *p)
{
	__be32 addr = p->ip->saddr;
	__be16 port = p->tcp->source;

	swap_macs(p->eth);
	p->ip->saddr = p->ip->daddr;
	p->ip->daddr = addr;
	p->tcp->source = p->tcp->dest;
	p->tcp->dest = port;
}

/*
 * Turn the segment in p around into the RST that answers it, as RFC 9293
 * (3.10.7.1) and Linux's tcp_v4_send_reset do: when it carries an ACK,
 * the RST's sequence number is that ACK's, which the sender accepts
 * whatever state it is in (for an L7 client, its ack is already in the
 * gateway's sequence space, the one it knows); without one (a SYN), seq
 * 0 and an ack of everything it sent, which a client in SYN-SENT
 * requires. The ack field is set either way: the segment's seq plus its
 * length (payload, SYN and FIN count). Used for a client no rule takes,
 * one whose pool has no endpoint, one on a flow to an ejected endpoint,
 * and an endpoint that answered kanary's SYN with an ACK of an older
 * connection. The frame keeps its length: see reset_back (reset.h).
 */
static __always_inline void craft_rst(struct pkt *p, void *data_end,
				      bool partial)
{
	struct tcphdr *tcp = p->tcp;
	__u32 seq = 0, ack;

	ack = seg_end(p);
	if (p->flags & TCP_FLAG_ACK)
		seq = bpf_ntohl(tcp->ack_seq);
	turn_around(p);
	tcp->seq = bpf_htonl(seq);
	tcp->ack_seq = bpf_htonl(ack);
	tcp->doff = 5;
	((__u8 *)tcp)[13] = TCP_FLAG_RST | TCP_FLAG_ACK;
	tcp->window = 0;
	tcp->urg_ptr = 0;
	finish_headers(p->ip, tcp, sizeof(*tcp), 0, 0, data_end, partial);
}

/*
 * Turn the client's SYN in p, which offered so, around into the gateway's
 * SYN-ACK for the half-open connection q. The options are rewritten into
 * the SYN's own option bytes: the gateway offers back only what the client
 * offered, so they fit (the rest is NOP). -1 if they do not. partial:
 * see finish_headers.
 */
static __always_inline int craft_syn_ack(struct pkt *p,
					 const struct syn_opts *so,
					 const struct kanary_synq *q,
					 void *data_end, bool partial)
{
	struct tcphdr *tcp = p->tcp;
	struct syn_opts ours = *so;
	__u32 optlen, n, i;
	__u8 opts[32] = {};

	if (ours.mss)
		ours.mss = KANARY_L7_MSS;
	n = put_syn_opts(opts, &ours, q->gw_tsval, so->tsval,
			 so->wscale == TCP_WSCALE_NONE ? TCP_WSCALE_NONE :
							 KANARY_L7_WSCALE);
	optlen = tcp->doff * 4 - sizeof(*tcp);
	if (n > optlen)
		return -1;
	for (i = 0; i < TCP_MAX_OPTLEN; i++) {
		__u8 *o = (__u8 *)(tcp + 1) + i;

		if (i >= optlen || (void *)(o + 1) > data_end)
			break;
		*o = i < n ? opt_byte(opts, i) : TCPOPT_NOP;
	}

	turn_around(p);
	tcp->seq = bpf_htonl(q->gw_isn);
	tcp->ack_seq = bpf_htonl(q->client_isn + 1);
	((__u8 *)tcp)[13] = TCP_FLAG_SYN | TCP_FLAG_ACK;
	/* Room for the first segment (see KANARY_L7_WINDOW). */
	tcp->window = bpf_htons(KANARY_L7_WINDOW);
	tcp->urg_ptr = 0;
	finish_headers(p->ip, tcp, tcp->doff * 4, 0, 0, data_end, partial);
	return 0;
}

/*
 * Cut the packet to L7_SYN_FRAME_LEN and write the SYN toward the
 * endpoint over it: the client's ISN and the options it offered (q), from
 * f's tuple. MACs from f when its next hop is known. -1 on failure.
 */
static __always_inline int craft_syn(void *ctx, const bool is_tc,
				     const struct kanary_synq *q, __u32 tsval,
				     const struct kanary_flow *f)
{
	struct syn_opts so = {
		.mss = q->mss,
		.sack_ok = q->sack_ok,
		.ts_ok = q->ts_ok,
	};
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	void *data, *data_end;
	__u8 opts[32] = {};
	__u32 n, i;

	if (ctx_resize(ctx, is_tc, L7_SYN_FRAME_LEN))
		return -1;
	ctx_bounds(ctx, is_tc, &data, &data_end);
	eth = data;
	ip = (void *)(eth + 1);
	tcp = (void *)(ip + 1);
	if ((void *)tcp + L7_SYN_TCP_LEN > data_end)
		return -1;

	if (f->ifindex) {
		__builtin_memcpy(eth->h_source, f->smac, 6);
		__builtin_memcpy(eth->h_dest, f->dmac, 6);
	}
	eth->h_proto = bpf_htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = f->saddr;
	ip->daddr = f->daddr;

	__builtin_memset(tcp, 0, sizeof(*tcp));
	tcp->source = f->sport;
	tcp->dest = f->dport;
	tcp->seq = bpf_htonl(q->client_isn);
	tcp->doff = L7_SYN_TCP_LEN / 4;
	((__u8 *)tcp)[13] = TCP_FLAG_SYN;
	tcp->window = bpf_htons(q->window);
	n = put_syn_opts(opts, &so, tsval, 0, q->wscale);
	for (i = 0; i < 20; i++)
		((__u8 *)(tcp + 1))[i] = i < n ? opt_byte(opts, i) : TCPOPT_NOP;
	finish_headers(ip, tcp, L7_SYN_TCP_LEN, 0, 0, data_end,
		       ctx_csum_partial(ctx, is_tc));
	return 0;
}

/*
 * Turn the client's segment in p around into the gateway's ACK of a
 * request head not complete yet (q: the handshake): seq after the
 * gateway's SYN, ack the byte after what it holds, a window of room
 * bytes in the client's scale, and the timestamps if agreed (tsecr: the
 * segment's TSval). The frame is cut to the headers. -1 on failure.
 */
static __always_inline int craft_head_ack(void *ctx, const bool is_tc,
					  struct pkt *p,
					  const struct kanary_synq *q,
					  __u32 ack, __u32 room, __u32 tsecr)
{
	__u32 tcp_hlen = sizeof(struct tcphdr) + (q->ts_ok ? 12 : 0);
	void *data, *data_end;
	struct tcphdr *tcp;
	struct iphdr *ip;
	__u32 w;

	turn_around(p);
	if (ctx_resize(ctx, is_tc,
		       sizeof(struct ethhdr) + sizeof(struct iphdr) + tcp_hlen))
		return -1;
	ctx_bounds(ctx, is_tc, &data, &data_end);
	ip = data + sizeof(struct ethhdr);
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;
	tcp->seq = bpf_htonl(q->gw_isn + 1);
	tcp->ack_seq = bpf_htonl(ack);
	tcp->doff = tcp_hlen / 4;
	((__u8 *)tcp)[13] = TCP_FLAG_ACK;
	/* Rounded up: a client left less than one unit of the scale still
	 * sends, and meets the limit (431), rather than waiting forever. */
	if (q->wscale == TCP_WSCALE_NONE)
		w = room;
	else
		w = (room + (1u << KANARY_L7_WSCALE) - 1) >> KANARY_L7_WSCALE;
	tcp->window = bpf_htons(w > 0xffff ? 0xffff : w);
	tcp->urg_ptr = 0;
	if (q->ts_ok && put_ts_opt(tcp, data_end, q->gw_tsval, tsecr))
		return -1;
	finish_headers(ip, tcp, tcp_hlen, 0, 0, data_end,
		       ctx_csum_partial(ctx, is_tc));
	return 0;
}

/* Word sum of a held chunk's first len bytes, in bpf_csum_diff's
 * 512-byte steps (the bytes after len are zero). */
static __always_inline __u32 chunk_sum(const struct kanary_hold *c, __u32 len)
{
	__u32 words = (len + 3) & ~3u, sum = 0;
	__u64 sz;
	int k;

	for (k = 0; k < 3; k++) {
		if (words <= k * 512)
			break;
		sz = words - k * 512;
		asm volatile("" : "+r"(sz)); /* one register, bounded below */
		if (sz > 512)
			sz = 512;
		if (sz > KANARY_L7_CHUNK - k * 512)
			sz = KANARY_L7_CHUNK - k * 512;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)(c->data + k * 512), sz,
				    sum);
	}
	return sum;
}

/*
 * The window field of the replay. The endpoint reads windows unscaled if
 * it did not agree to the client's scale (eso: its SYN-ACK's options).
 */
static __always_inline __be16 replay_window(const struct kanary_head *h,
					    const struct syn_opts *eso)
{
	__u32 w = h->window;

	if (h->syn.wscale != TCP_WSCALE_NONE && eso->wscale == TCP_WSCALE_NONE)
		w <<= h->syn.wscale & 15;
	return bpf_htons(w > 0xffff ? 0xffff : w);
}

/* One segment of a replay: chunk k of the held head. */
struct replay_seg {
	__u32 k;
	__u32 ep_isn; /* the endpoint's ISN */
	__u32 ep_tsval; /* TSecr: the endpoint's TSval, when ts_on */
	bool ts_on;
	bool last; /* the head's last chunk: PSH, and the held FIN */
	__be16 window;
};

/*
 * tc only. Write chunk c (the k-th of the head h) over the packet, whose
 * headers already face the endpoint (addresses, ports, MACs): seq = c + 1
 * + k * KANARY_L7_CHUNK, ack = e + 1, the client's window, and with
 * timestamps the client's TSval and the endpoint's as TSecr. The frame is
 * resized to fit. -1 on failure.
 */
static __always_inline int craft_replay(struct __sk_buff *skb,
					const struct kanary_head *h,
					const struct kanary_hold *c,
					const struct replay_seg *r)
{
	__u32 hdr, tcp_hlen, off = r->k * KANARY_L7_CHUNK;
	__u64 len;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	void *data, *data_end;
	__u8 flags = TCP_FLAG_ACK;

	if (off >= h->len || r->k >= KANARY_L7_MAX_CHUNKS)
		return -1;
	len = h->len - off;
	if (len > KANARY_L7_CHUNK)
		len = KANARY_L7_CHUNK;
	asm volatile("" : "+r"(len)); /* one register, checked below */
	if (len < 1 || len > KANARY_L7_CHUNK)
		return -1;
	tcp_hlen = sizeof(struct tcphdr) + (r->ts_on ? 12 : 0);
	hdr = sizeof(struct ethhdr) + sizeof(struct iphdr) + tcp_hlen;
	/* Also makes the head writable again after a clone was sent. */
	if (bpf_skb_change_tail(skb, hdr + len, 0) ||
	    bpf_skb_pull_data(skb, hdr))
		return -1;
	if (bpf_skb_store_bytes(skb, hdr, c->data, len, 0))
		return -1;

	ctx_bounds(skb, true, &data, &data_end);
	eth = data;
	ip = (void *)(eth + 1);
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;
	{
		__be16 sport = tcp->source, dport = tcp->dest;

		__builtin_memset(tcp, 0, sizeof(*tcp));
		tcp->source = sport;
		tcp->dest = dport;
	}
	if (r->last)
		flags |= TCP_FLAG_PSH | (h->flags & TCP_FLAG_FIN);
	tcp->seq = bpf_htonl(h->syn.client_isn + 1 + off);
	tcp->ack_seq = bpf_htonl(r->ep_isn + 1);
	tcp->doff = tcp_hlen / 4;
	((__u8 *)tcp)[13] = flags;
	tcp->window = r->window;
	if (r->ts_on && put_ts_opt(tcp, data_end, h->tsval, r->ep_tsval))
		return -1;
	finish_headers(ip, tcp, tcp_hlen, len, chunk_sum(c, len), data_end,
		       ctx_csum_partial(skb, true));
	return 0;
}

#endif /* KANARY_BPF_CRAFT_H */
