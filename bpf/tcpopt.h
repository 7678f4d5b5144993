/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TCP options. The L4 path reads Linux's layouts at fixed offsets (an
 * L4 SYN's offer, a closing segment's TSval: a few compares); the L7 path
 * reads the SYN's offer, finds the timestamp and SACK options of a
 * segment, and writes the options of the segments the gateway makes up
 * (SYN-ACK, SYN, replay).
 */
#ifndef KANARY_BPF_TCPOPT_H
#define KANARY_BPF_TCPOPT_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "ctx.h"
#include "parse.h"

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WS 3
#define TCPOPT_SACK_OK 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

#define TCP_MAX_OPTLEN 40
#define TCP_WSCALE_NONE 0xff

/* What a SYN or SYN-ACK offered. */
struct syn_opts {
	__u16 mss; /* 0: none */
	__u8 wscale; /* TCP_WSCALE_NONE: none */
	__u8 sack_ok;
	__u8 ts_ok;
	__u32 tsval;
};

/* Where the options of an established segment are, as offsets from tcp. */
struct seg_opts {
	__u16 ts; /* offset of the TS option's kind byte; 0: none */
	__u16 sack; /* offset of the SACK option's kind byte; 0: none */
	__u8 sack_len; /* its length byte */
};

static __always_inline __u32 load_be32(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) |
	       b[3];
}

static __always_inline void store_be32(__u8 *b, __u32 v)
{
	b[0] = v >> 24;
	b[1] = v >> 16;
	b[2] = v >> 8;
	b[3] = v;
}

/*
 * An established segment's TSval (host order) into *tsval: true if its
 * options start as every common stack lays them out (NOP, NOP, TS). Any
 * other layout reads as none. Fixed offsets: the L4 path's closing
 * packets pay a few compares, not an option walk (walk_opts, below).
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
	*tsval = load_be32(o + 4);
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
	f->syn_wscale = TCP_WSCALE_NONE;
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
		f->syn_tsval = load_be32(o + 8);
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

/* Options start here when the IP header has none (parse_tcp4 insists). */
#define TCP_OPT_OFF \
	(sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr))

struct opt_walk {
	__u8 b[64]; /* the options, copied out of the packet */
	__u32 off;
	__u32 len;
	struct syn_opts so;
	struct seg_opts eo;
};

/* Per-CPU, not on the stack: the L7 slow paths are short of stack, and
 * the verifier does not track map memory (see http.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct opt_walk);
} kn_opt_walk SEC(".maps");

/* bpf_loop's context must be on the stack: it points to the map value. */
struct opt_ref {
	struct opt_walk *w;
};

static __always_inline __u8 walk_byte(const struct opt_walk *w, __u32 i)
{
	i &= 63;
	asm volatile("" : "+r"(i));
	return w->b[i];
}

/*
 * One option per call, from bpf_loop: a bounded loop whose step depends
 * on the data would make the verifier walk every combination of kinds.
 * Malformed options end the walk; what was found before stays.
 */
static long opt_step(__u32 i, struct opt_ref *r)
{
	struct opt_walk *w = r->w;
	__u32 off = w->off, kind, len;

	if (off >= w->len)
		return 1;
	kind = walk_byte(w, off);
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		w->off = off + 1;
		return 0;
	}
	if (off + 1 >= w->len)
		return 1;
	len = walk_byte(w, off + 1);
	if (len < 2 || off + len > w->len)
		return 1;
	if (kind == TCPOPT_MSS && len == 4) {
		w->so.mss = ((__u16)walk_byte(w, off + 2) << 8) |
			    walk_byte(w, off + 3);
	} else if (kind == TCPOPT_WS && len == 3) {
		__u8 ws = walk_byte(w, off + 2);

		w->so.wscale = ws > 14 ? 14 : ws;
	} else if (kind == TCPOPT_SACK_OK && len == 2) {
		w->so.sack_ok = 1;
	} else if (kind == TCPOPT_TS && len == 10) {
		w->so.ts_ok = 1;
		w->so.tsval = ((__u32)walk_byte(w, off + 2) << 24) |
			      ((__u32)walk_byte(w, off + 3) << 16) |
			      ((__u32)walk_byte(w, off + 4) << 8) |
			      walk_byte(w, off + 5);
		w->eo.ts = sizeof(struct tcphdr) + off;
	} else if (kind == TCPOPT_SACK && len >= 10 && (len - 2) % 8 == 0) {
		w->eo.sack = sizeof(struct tcphdr) + off;
		w->eo.sack_len = len;
	}
	w->off = off + len;
	return 0;
}

/*
 * Read the options of the packet's TCP header (doff already checked
 * against the packet) into so and eo (either may be NULL).
 */
static __always_inline void walk_opts(void *ctx, const bool is_tc,
				      struct tcphdr *tcp, struct syn_opts *so,
				      struct seg_opts *eo)
{
	__u32 optlen = tcp->doff * 4 - sizeof(*tcp), zero = 0;
	struct opt_walk *w;

	if (so) {
		__builtin_memset(so, 0, sizeof(*so));
		so->wscale = TCP_WSCALE_NONE;
	}
	if (eo)
		__builtin_memset(eo, 0, sizeof(*eo));
	if (optlen == 0 || optlen > TCP_MAX_OPTLEN)
		return;
	w = bpf_map_lookup_elem(&kn_opt_walk, &zero);
	if (!w)
		return;
	__builtin_memset(&w->so, 0, sizeof(w->so));
	__builtin_memset(&w->eo, 0, sizeof(w->eo));
	w->so.wscale = TCP_WSCALE_NONE;
	w->off = 0;
	w->len = optlen;
	if (ctx_load(ctx, is_tc, TCP_OPT_OFF, w->b, optlen))
		return;
	{
		struct opt_ref r = { .w = w };

		bpf_loop(TCP_MAX_OPTLEN, opt_step, &r, 0);
	}
	if (so)
		*so = w->so;
	if (eo)
		*eo = w->eo;
}

/*
 * Option bytes are built in a 32-byte stack buffer at offsets known only
 * at run time. The empty asm hides the offset's range from clang, which
 * would otherwise fold buf + n into buf | n: pointer arithmetic the
 * verifier refuses.
 */
static __always_inline void put4(__u8 *buf, __u32 n, __u8 a, __u8 b, __u8 c,
				 __u8 d)
{
	__u8 *o;

	n &= 28;
	asm volatile("" : "+r"(n));
	o = buf + n;
	o[0] = a;
	o[1] = b;
	o[2] = c;
	o[3] = d;
}

static __always_inline __u8 opt_byte(const __u8 *buf, __u32 i)
{
	i &= 31;
	asm volatile("" : "+r"(i));
	return buf[i];
}

/*
 * Write the options of a SYN or SYN-ACK offering so (only what is set)
 * into buf (32 bytes), padded with NOPs to a multiple of 4; returns their
 * length (at most 20). The layout is Linux's: MSS, SACK_PERM+TS, NOP+WS.
 */
static __always_inline __u32 put_syn_opts(__u8 *buf, const struct syn_opts *so,
					  __u32 tsval, __u32 tsecr, __u8 wscale)
{
	__u32 n = 0;

	if (so->mss) {
		put4(buf, n, TCPOPT_MSS, 4, so->mss >> 8, so->mss);
		n += 4;
	}
	if (so->ts_ok) {
		if (so->sack_ok)
			put4(buf, n, TCPOPT_SACK_OK, 2, TCPOPT_TS, 10);
		else
			put4(buf, n, TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TS, 10);
		put4(buf, n + 4, tsval >> 24, tsval >> 16, tsval >> 8, tsval);
		put4(buf, n + 8, tsecr >> 24, tsecr >> 16, tsecr >> 8, tsecr);
		n += 12;
	} else if (so->sack_ok) {
		put4(buf, n, TCPOPT_NOP, TCPOPT_NOP, TCPOPT_SACK_OK, 2);
		n += 4;
	}
	if (wscale != TCP_WSCALE_NONE) {
		put4(buf, n, TCPOPT_NOP, TCPOPT_WS, 3, wscale);
		n += 4;
	}
	return n;
}

/* Bytes put_syn_opts writes for so (with or without window scale). */
static __always_inline __u32 syn_opts_len(const struct syn_opts *so, bool ws)
{
	return (so->mss ? 4 : 0) +
	       (so->ts_ok   ? 12 :
		so->sack_ok ? 4 :
			      0) +
	       (ws ? 4 : 0);
}

#endif /* KANARY_BPF_TCPOPT_H */
