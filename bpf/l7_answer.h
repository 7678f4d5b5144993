/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The gateway's own HTTP answer on the L7 path, where Envoy would answer
 * one: 404 when no route takes the request, 431 for a request head over
 * the limit, 400 for a malformed one. The connection is half-open (a
 * kn_synq entry, bound to no endpoint); the client's data segment is
 * turned around into the answer: status line, `connection: close`, and the
 * gateway's FIN in the same segment (l7_answer). Then a clean close, with
 * no timer: the entry remembers the answer (kanary_synq.answer), and the
 * client's own segments drive what is left (l7_answered):
 *
 *  client                          gateway
 *  request (seq c+1, n bytes) ->   answer: seq g+1, ack c+1+n, ACK|PSH|FIN
 *  ACK of the answer and FIN  ->   dropped (consumed)
 *  FIN (ack g+1+len+1)        ->   ACK (seq g+len+2, ack after the FIN),
 *                                  entry deleted
 *  request again (lost answer)->   the same answer again
 *  more data, answer acked    ->   ACK (bytes past the answer's ack are
 *                                  taken and thrown away)
 *  RST at c+1+n (or c+2+n)    ->   entry deleted; a blind RST changes nothing
 *
 * A client that closes before sending a byte (FIN at c+1) gets no HTTP
 * answer: the gateway's FIN alone (KANARY_L7_ANSWER_FIN, seq g+1, ack
 * c+2), the same again for its FIN again, and its ACK of that FIN, its
 * last segment, deletes the entry. A FIN that ends a head before its
 * blank line is acked by the 400 (ack c+1+n+1), and the client's ACK of
 * the answer is its last segment too (kanary_synq.answer_fin).
 *
 * Nothing of it survives the close: a late segment finds no entry and the
 * gateway's kernel resets it, as for any stray segment to the VIP.
 */
#ifndef KANARY_BPF_L7_ANSWER_H
#define KANARY_BPF_L7_ANSWER_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "forward.h"
#include "tcpopt.h"
#include "craft.h"

/*
 * The answers' bytes, fixed: no body (the status line says it all, and
 * Envoy's 404 for no route has none either), `server: kanary` so that an
 * operator can tell the gateway's 404 from an application's, no `date:`
 * (see docs/L7.md). Each text is zero past its length, to a multiple of 4
 * bytes: the checksum sums the whole buffer, the zeros add nothing.
 */
#define L7_ANSWER_TEXT_LEN 128
#define L7_ANSWER_HEAD(status)                                           \
	"HTTP/1.1 " status "\r\nserver: kanary\r\ncontent-length: 0\r\n" \
	"connection: close\r\n\r\n"
#define L7_ANSWER(status)                                                  \
	{                                                                  \
		sizeof(L7_ANSWER_HEAD(status)) - 1, L7_ANSWER_HEAD(status) \
	}

struct l7_answer_text {
	__u32 len;
	char text[L7_ANSWER_TEXT_LEN];
};

static const struct l7_answer_text l7_answer_texts[KANARY_L7_ANSWERS] = {
	[KANARY_L7_ANSWER_404] = L7_ANSWER("404 Not Found"),
	[KANARY_L7_ANSWER_431] =
		L7_ANSWER("431 Request Header Fields Too Large"),
	[KANARY_L7_ANSWER_400] = L7_ANSWER("400 Bad Request"),
	[KANARY_L7_ANSWER_FIN] = { 0 }, /* the FIN alone */
};

/* The answer's bytes: text (up to L7_ANSWER_TEXT_LEN), or none. */
struct l7_payload {
	const char *text;
	__u32 len;
};

/* answer_segment: the frame could not be resized and is untouched. */
#define ANSWER_UNTOUCHED 1

/*
 * Write the gateway's segment to the client over the client's segment in
 * p (of the half-open connection q): MACs, addresses and ports swapped,
 * seq, ack and flags as given, the window the SYN-ACK offered, the TS
 * option when the handshake agreed timestamps (TSval the gateway's
 * millisecond clock, as its SYN-ACK's; TSecr the segment's TSval), and
 * the payload pl. The frame is resized first, while nothing is written
 * yet: when it cannot be (XDP cannot grow a frame on every driver),
 * ANSWER_UNTOUCHED. 0, or -1 when it failed half written.
 */
static __always_inline int answer_segment(void *ctx, const bool is_tc,
					  struct pkt *p,
					  const struct kanary_synq *q,
					  __u32 seq, __u32 ack, __u8 flags,
					  const struct l7_payload *pl)
{
	struct syn_opts so = { .wscale = TCP_WSCALE_NONE };
	__be32 saddr = p->ip->saddr, daddr = p->ip->daddr;
	__be16 sport = p->tcp->source, dport = p->tcp->dest;
	__u32 tcp_hlen, off, len = pl->len, sum = 0;
	__u8 smac[6], dmac[6];
	void *data, *data_end;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;

	if (len > L7_ANSWER_TEXT_LEN)
		return -1;
	if (q->ts_ok)
		walk_opts(ctx, is_tc, p->tcp, &so, NULL);
	__builtin_memcpy(smac, p->eth->h_source, 6);
	__builtin_memcpy(dmac, p->eth->h_dest, 6);
	tcp_hlen = sizeof(struct tcphdr) + (q->ts_ok ? 12 : 0);
	off = sizeof(struct ethhdr) + sizeof(struct iphdr) + tcp_hlen;
	if (ctx_resize(ctx, is_tc, off + len))
		return ANSWER_UNTOUCHED;
	if (len) {
		/* One register, bounded where the helper reads it. */
		__u64 n = len;

		asm volatile("" : "+r"(n));
		if (n < 1 || n > L7_ANSWER_TEXT_LEN)
			return -1;
		/* tc: bpf_skb_change_tail made the skb linear, so that the
		 * headers below are in reach. */
		if (is_tc ? bpf_skb_store_bytes(ctx, off, pl->text, n, 0) :
			    bpf_xdp_store_bytes(ctx, off, (void *)pl->text, n))
			return -1;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)pl->text,
				    L7_ANSWER_TEXT_LEN, 0);
	}

	ctx_bounds(ctx, is_tc, &data, &data_end);
	eth = data;
	ip = (void *)(eth + 1);
	tcp = (void *)(ip + 1);
	if ((void *)(tcp + 1) > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, smac, 6);
	__builtin_memcpy(eth->h_source, dmac, 6);
	ip->saddr = daddr;
	ip->daddr = saddr;
	__builtin_memset(tcp, 0, sizeof(*tcp));
	tcp->source = dport;
	tcp->dest = sport;
	tcp->seq = bpf_htonl(seq);
	tcp->ack_seq = bpf_htonl(ack);
	tcp->doff = tcp_hlen / 4;
	((__u8 *)tcp)[13] = flags;
	/* What the SYN-ACK offered, in the scale it agreed. */
	tcp->window = bpf_htons(q->wscale == TCP_WSCALE_NONE ?
					KANARY_L7_WINDOW :
					KANARY_L7_WINDOW >> KANARY_L7_WSCALE);
	if (q->ts_ok &&
	    put_ts_opt(tcp, data_end, bpf_ktime_get_ns() / 1000000, so.tsval))
		return -1;
	finish_headers(ip, tcp, tcp_hlen, len, sum, data_end,
		       ctx_csum_partial(ctx, is_tc));
	return 0;
}

/* The global counter of an answer. */
static __always_inline __u32 answer_counter(__u32 code)
{
	if (code == KANARY_L7_ANSWER_431)
		return KANARY_G_L7_ANSWER_431;
	if (code == KANARY_L7_ANSWER_400)
		return KANARY_G_L7_ANSWER_400;
	return KANARY_G_L7_ANSWER_404;
}

/* Bytes of the answer code; 0 for none. */
static __always_inline __u32 answer_len(__u32 code)
{
	if (code == KANARY_L7_ANSWER_NONE || code >= KANARY_L7_ANSWERS)
		return 0;
	return l7_answer_texts[code].len;
}

/*
 * Answer the client of the half-open L7 connection q, whose data segment
 * is in p (it came in by in_ifindex), with the HTTP answer code, instead
 * of binding the connection: the segment is turned around into the
 * answer, seq g+1, ack ack_seq (the end of every client byte the gateway
 * took), ACK|PSH|FIN, sent back to the client (V_TX), and q remembers it
 * for the close (l7_answered). Counted once per connection.
 *
 * In XDP, where the client's interface takes no XDP frames, or where the
 * frame cannot grow to the answer's size, the segment passes untouched,
 * with nothing changed, to the tc program behind (V_PASS), which answers
 * (as reset_client does). The caller changes nothing else on V_PASS.
 */
static __always_inline enum verdict
l7_answer(void *ctx, const bool is_tc, struct kanary_synq *q, struct pkt *p,
	  __u32 in_ifindex, __u32 ack_seq, enum kanary_l7_answer code)
{
	/* Read before answer_segment rewrites the packet under p. */
	bool fin_acked = (p->flags & TCP_FLAG_FIN) && ack_seq == seg_end(p);
	struct l7_payload pl;
	__u32 c = code;
	__u8 flags;
	int rc;

	if (c == KANARY_L7_ANSWER_NONE || c >= KANARY_L7_ANSWERS)
		return V_DROP;
	if (!is_tc && !xdp_prepare_send(in_ifindex, in_ifindex)) {
		count_global(KANARY_G_XDP_NO_TX);
		return V_PASS;
	}
	pl.text = l7_answer_texts[c].text;
	pl.len = l7_answer_texts[c].len;
	/* PSH only with bytes: a close (KANARY_L7_ANSWER_FIN) has none. */
	flags = TCP_FLAG_ACK | TCP_FLAG_FIN | (pl.len ? TCP_FLAG_PSH : 0);
	rc = answer_segment(ctx, is_tc, p, q, q->gw_isn + 1, ack_seq, flags,
			    &pl);
	if (rc == ANSWER_UNTOUCHED)
		return is_tc ? V_DROP : V_PASS;
	if (rc)
		return V_DROP;
	/* A close is no HTTP answer: not counted as one. */
	if (q->answer != c && c != KANARY_L7_ANSWER_FIN)
		count_global(answer_counter(c));
	/* The first answer says whether it acked the client's FIN; the same
	 * answer again (l7_answered) acks no more than it did. */
	if (q->answer == KANARY_L7_ANSWER_NONE)
		q->answer_fin = fin_acked;
	q->answer = c;
	q->answer_ack = ack_seq;
	return V_TX;
}

/*
 * A segment from the client of a connection the gateway answered (q, at
 * fk): see the top of this file. Only a segment that acks what the
 * gateway sent is taken (its ISN is random: nobody blind gets here).
 */
static __always_inline enum verdict
l7_answered(void *ctx, const bool is_tc, const struct kanary_flow_key *fk,
	    struct kanary_synq *q, __u32 in_ifindex)
{
	struct l7_payload none = {};
	__u32 seq, ack, alen, fin_end;
	struct pkt p;
	int rc;

	if (reparse(ctx, is_tc, &p))
		return V_PASS;
	seq = bpf_ntohl(p.tcp->seq);
	if (p.flags & TCP_FLAG_RST) {
		/* RFC 5961: at the sequence number the answer acked, or one
		 * past it (the client's FIN, not acked yet); with answer_fin,
		 * the client's RST is at answer_ack itself. */
		if (seq - q->answer_ack <= 1)
			bpf_map_delete_elem(&kn_synq, fk);
		return V_DROP;
	}
	/* What the gateway sent: the answer's bytes and its FIN. */
	alen = answer_len(q->answer);
	fin_end = q->gw_isn + 1 + alen + 1;
	ack = bpf_ntohl(p.tcp->ack_seq);
	if (!(p.flags & TCP_FLAG_ACK) || ack - (q->gw_isn + 1) > alen + 1)
		return V_DROP;
	/* Bytes past what the answer acked, in order (the rest of a head
	 * over the limit, a body): taken and thrown away, as a proxy's
	 * socket reads them, so that the client finishes sending and
	 * closes. */
	if (p.plen && (__s32)(seq - q->answer_ack) <= 0 &&
	    (__s32)(seq + p.plen - q->answer_ack) > 0)
		q->answer_ack = seq + p.plen;
	if ((p.flags & TCP_FLAG_FIN) && ack == fin_end &&
	    seq + p.plen == q->answer_ack) {
		/* The client has the whole answer and closes: ACK its FIN,
		 * and the connection is over. */
		if (!is_tc && !xdp_prepare_send(in_ifindex, in_ifindex)) {
			count_global(KANARY_G_XDP_NO_TX);
			return V_PASS;
		}
		rc = answer_segment(ctx, is_tc, &p, q, fin_end, seg_end(&p),
				    TCP_FLAG_ACK, &none);
		if (rc == ANSWER_UNTOUCHED)
			return is_tc ? V_DROP : V_PASS;
		if (rc)
			return V_DROP;
		bpf_map_delete_elem(&kn_synq, fk);
		return V_TX;
	}
	/* Data from a client that has the answer: acked, and nothing more. */
	if (p.plen && ack == fin_end) {
		if (!is_tc && !xdp_prepare_send(in_ifindex, in_ifindex)) {
			count_global(KANARY_G_XDP_NO_TX);
			return V_PASS;
		}
		rc = answer_segment(ctx, is_tc, &p, q, fin_end, q->answer_ack,
				    TCP_FLAG_ACK, &none);
		if (rc == ANSWER_UNTOUCHED)
			return is_tc ? V_DROP : V_PASS;
		return rc ? V_DROP : V_TX;
	}
	/* Data, or a FIN from a client without the answer: it was lost, and
	 * the client resends. The same answer again. */
	if (p.plen || (p.flags & TCP_FLAG_FIN))
		return l7_answer(ctx, is_tc, q, &p, in_ifindex, q->answer_ack,
				 q->answer);
	/* Its ACK of the answer (and of the gateway's FIN): consumed. When
	 * the answer acked the client's FIN already (answer_fin), it is the
	 * client's last segment: the entry goes. */
	if (q->answer_fin && ack == fin_end)
		bpf_map_delete_elem(&kn_synq, fk);
	return V_DROP;
}

/* One copy per attach point, out of line, as l7_first's. */
static __noinline int l7_answered_xdp(struct xdp_md *ctx,
				      const struct kanary_flow_key *fk,
				      struct kanary_synq *q, __u32 in_ifindex)
{
	return l7_answered(ctx, false, fk, q, in_ifindex);
}

static __noinline int l7_answered_tc(struct __sk_buff *skb,
				     const struct kanary_flow_key *fk,
				     struct kanary_synq *q, __u32 in_ifindex)
{
	return l7_answered(skb, true, fk, q, in_ifindex);
}

static __always_inline int l7_answered_call(void *ctx, const bool is_tc,
					    const struct kanary_flow_key *fk,
					    struct kanary_synq *q,
					    __u32 in_ifindex)
{
	return is_tc ? l7_answered_tc(ctx, fk, q, in_ifindex) :
		       l7_answered_xdp(ctx, fk, q, in_ifindex);
}

#endif /* KANARY_BPF_L7_ANSWER_H */
