/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP outcomes per stats row (kn_http, kn_codes), on both paths, from
 * the first bytes of segments only:
 *  - toward the endpoint, a payload that starts with an HTTP/1.x method
 *    and a space is a request head: counted, and its time kept in the
 *    connection's to-client entry (req_ns);
 *  - toward the client, while a request waits (req_ns set), a payload
 *    that starts with "HTTP/1.x NNN " is its status line: 1xx is
 *    informational and leaves the request waiting; 200..599 is its final
 *    response: counted with its code and duration, and req_ns cleared.
 * A status line or request head that does not start a segment is not
 * seen (pipelining, a head split by a short first segment). Counting
 * never changes where a packet goes.
 * The L7 path's first request is held by the gateway and replayed: it is
 * counted when it binds the connection (l7_first), not on the replay.
 */
#ifndef KANARY_BPF_OUTCOME_H
#define KANARY_BPF_OUTCOME_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "ctx.h"
#include "nat.h"

/* "HTTP/1.1 200 ": what a status line needs to be counted. */
#define OUTCOME_STATUS_LEN 13
/* "OPTIONS ", the longest method with its space. */
#define OUTCOME_METHOD_LEN 8

/* Bytes as the BPF target (little-endian) loads them into a __u64. */
#define LE4(a, b, c, d)                                                      \
	((__u64)(__u8)(a) | (__u64)(__u8)(b) << 8 | (__u64)(__u8)(c) << 16 | \
	 (__u64)(__u8)(d) << 24)
#define LE8(a, b, c, d, e, f, g, h) (LE4(a, b, c, d) | LE4(e, f, g, h) << 32)

/* Do the n bytes in w (first byte lowest) start with a method and SP? */
static __always_inline bool is_request_head(__u64 w, __u32 n)
{
	__u64 want;
	__u32 len;

	switch ((__u32)w) {
	case LE4('G', 'E', 'T', ' '):
	case LE4('P', 'U', 'T', ' '):
		return n >= 4;
	case LE4('H', 'E', 'A', 'D'):
		want = LE8('H', 'E', 'A', 'D', ' ', 0, 0, 0);
		len = 5;
		break;
	case LE4('P', 'O', 'S', 'T'):
		want = LE8('P', 'O', 'S', 'T', ' ', 0, 0, 0);
		len = 5;
		break;
	case LE4('T', 'R', 'A', 'C'):
		want = LE8('T', 'R', 'A', 'C', 'E', ' ', 0, 0);
		len = 6;
		break;
	case LE4('P', 'A', 'T', 'C'):
		want = LE8('P', 'A', 'T', 'C', 'H', ' ', 0, 0);
		len = 6;
		break;
	case LE4('D', 'E', 'L', 'E'):
		want = LE8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0);
		len = 7;
		break;
	case LE4('C', 'O', 'N', 'N'):
		return n >= 8 &&
		       w == LE8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' ');
	case LE4('O', 'P', 'T', 'I'):
		return n >= 8 &&
		       w == LE8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' ');
	default:
		return false;
	}
	return n >= len && (w & ((1ULL << (len * 8)) - 1)) == want;
}

/*
 * The status code of the 13 bytes in w[0], w[1] if they are
 * "HTTP/1.0 NNN " or "HTTP/1.1 NNN ", else 0.
 */
static __always_inline __u32 status_code(const __u64 *w)
{
	__u32 d0, d1, d2;

	if (w[0] != LE8('H', 'T', 'T', 'P', '/', '1', '.', '1') &&
	    w[0] != LE8('H', 'T', 'T', 'P', '/', '1', '.', '0'))
		return 0;
	if ((w[1] & 0xff) != ' ' || ((w[1] >> 32) & 0xff) != ' ')
		return 0;
	d0 = ((w[1] >> 8) & 0xff) - '0';
	d1 = ((w[1] >> 16) & 0xff) - '0';
	d2 = ((w[1] >> 24) & 0xff) - '0';
	if (d0 > 9 || d1 > 9 || d2 > 9)
		return 0;
	return d0 * 100 + d1 * 10 + d2;
}

/* Istio's bucket (kanary_http_stats.duration) of a duration in ns. */
static __always_inline __u32 duration_bucket(__u64 ns)
{
	/* The ABI's bounds in ms, times 1e6. */
	static const __u64 bound_ns[KANARY_DURATION_BOUNDS] = {
		500000ULL,	  1000000ULL,	   5000000ULL,
		10000000ULL,	  25000000ULL,	   50000000ULL,
		100000000ULL,	  250000000ULL,	   500000000ULL,
		1000000000ULL,	  2500000000ULL,   5000000000ULL,
		10000000000ULL,	  30000000000ULL,  60000000000ULL,
		300000000000ULL,  600000000000ULL, 1800000000000ULL,
		3600000000000ULL,
	};
	__u32 i;

#pragma unroll
	for (i = 0; i < KANARY_DURATION_BOUNDS; i++)
		if (ns <= bound_ns[i])
			return i;
	return KANARY_DURATION_BOUNDS; /* +Inf */
}

/*
 * A request head toward the endpoint on the connection whose to-endpoint
 * entry is f (at fk): counted in f's row, its time kept in the to-client
 * entry. A new head always takes over req_ns: the request before it was
 * answered, or its status line did not start a segment and would
 * otherwise hold the connection's durations forever.
 */
static __always_inline void note_request(const struct kanary_flow_key *fk,
					 const struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_http_stats *s;
	struct kanary_flow *twin;
	__u32 row = f->stats;

	s = bpf_map_lookup_elem(&kn_http, &row);
	if (s)
		s->requests++;
	twin_key(f, &tk);
	twin = flow_find(&tk);
	/* Only if it is still this connection's (its port may be reused). */
	if (twin_of(twin, fk))
		twin->req_ns = bpf_ktime_get_ns();
}

/* A final response (code 200..599) to the request f->req_ns waits for,
 * f the to-client entry. */
static __always_inline void note_response(struct kanary_flow *f, __u32 code)
{
	struct kanary_code_key ck = { .stats = f->stats, .code = code };
	__u64 ns = bpf_ktime_get_ns() - f->req_ns, zero = 0, *c;
	struct kanary_http_stats *s;
	__u32 row = f->stats;

	f->req_ns = 0;
	s = bpf_map_lookup_elem(&kn_http, &row);
	if (s) {
		s->responses++;
		s->duration_sum_us += ns / 1000;
		s->duration[duration_bucket(ns)]++;
	}
	c = bpf_map_lookup_elem(&kn_codes, &ck);
	if (!c) {
		/* First of its code in the row. Another CPU may insert it at
		 * the same time: either insert does, then both count. */
		bpf_map_update_elem(&kn_codes, &ck, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&kn_codes, &ck);
		if (!c)
			return; /* the table is full: code not kept */
	}
	(*c)++;
}

/*
 * Copy the first n (1..16) payload bytes at off into w, the rest zero:
 * straight from the packet when its linear part holds 16 bytes there,
 * else through the helper (tc's paged data, XDP's fragments). 0 on
 * success.
 */
static __always_inline int peek(void *ctx, const bool is_tc, __u32 off,
				__u64 *w, __u32 n)
{
	void *data, *data_end;

	ctx_bounds(ctx, is_tc, &data, &data_end);
	off &= 0x7f; /* Ethernet, IPv4 and at most 60 bytes of TCP header */
	if (data + off + 16 <= data_end) {
		w[0] = *(__u64 *)(data + off);
		w[1] = *(__u64 *)(data + off + 8);
		return 0;
	}
	/* n as the verifier must see it, 1..16, in one register: clang
	 * would check a copy. The callers' n is 1..13, left as it is. */
	asm volatile("%0 -= 1; %0 &= 0xf; %0 += 1" : "+r"(n));
	return ctx_load(ctx, is_tc, off, w, n);
}

/*
 * A segment with plen bytes of payload at off on the connection entry f
 * (at fk). Out of line: the established path only checks lengths and,
 * toward the client, whether a request waits.
 */
static __always_inline void outcome(void *ctx, const bool is_tc,
				    const struct kanary_flow_key *fk,
				    struct kanary_flow *f, __u32 off,
				    __u32 plen)
{
	__u64 w[2] = {};
	__u32 code;

	if (f->dir == KANARY_DIR_TO_ENDPOINT) {
		if (plen > OUTCOME_METHOD_LEN)
			plen = OUTCOME_METHOD_LEN;
		if (peek(ctx, is_tc, off, w, plen))
			return;
		if (is_request_head(w[0], plen))
			note_request(fk, f);
		return;
	}
	if (plen < OUTCOME_STATUS_LEN ||
	    peek(ctx, is_tc, off, w, OUTCOME_STATUS_LEN))
		return;
	code = status_code(w);
	/* 1xx: informational (100 Continue), the final one is to come;
	 * anything else: not a status line kanary knows, not counted. */
	if (code >= 200 && code <= 599)
		note_response(f, code);
}

static __noinline int outcome_xdp(struct xdp_md *ctx,
				  const struct kanary_flow_key *fk,
				  struct kanary_flow *f, __u32 off, __u32 plen)
{
	outcome(ctx, false, fk, f, off, plen);
	return 0;
}

static __noinline int outcome_tc(struct __sk_buff *skb,
				 const struct kanary_flow_key *fk,
				 struct kanary_flow *f, __u32 off, __u32 plen)
{
	outcome(skb, true, fk, f, off, plen);
	return 0;
}

/*
 * The established path's part, for a packet p of entry f (at fk) that is
 * sure to be forwarded by this program (XDP's passes are counted by tc):
 * a segment without payload costs a length check, one toward the client
 * also a field of f when no request waits.
 */
static __always_inline void count_outcome(void *ctx, const bool is_tc,
					  const struct kanary_flow_key *fk,
					  struct kanary_flow *f,
					  const struct pkt *p)
{
	__u32 off =
		sizeof(struct ethhdr) + sizeof(struct iphdr) + p->tcp->doff * 4;

	if (!p->plen)
		return;
	if (f->dir == KANARY_DIR_TO_CLIENT && !f->req_ns)
		return;
	if (is_tc)
		outcome_tc(ctx, fk, f, off, p->plen);
	else
		outcome_xdp(ctx, fk, f, off, p->plen);
}

/*
 * The L7 path's first request: the segment held in h (len bytes) bound
 * the connection whose to-endpoint entry is f (at fk). Counted now, when
 * its first byte has reached the gateway, not on the replay.
 */
static __always_inline void count_held_request(const struct kanary_flow_key *fk,
					       const struct kanary_flow *f,
					       const __u8 *data, __u32 len)
{
	__u64 w;

	__builtin_memcpy(&w, data, sizeof(w));
	if (is_request_head(w, len))
		note_request(fk, f);
}

#endif /* KANARY_BPF_OUTCOME_H */
