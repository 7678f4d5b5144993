// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark rig for tests/bench/pktbench.c (not part of the data path).
 *
 * BPF_PROG_TEST_RUN with `repeat` runs a program again and again on one
 * buffer: from the second run on, a rewriting program would see its own
 * output and take another branch. The wrappers below restore the original
 * frame from bw_frame before every run (and, for the new-flow case, give
 * it a source address and port no run used before), then tail-call the
 * program under test in slot 0 of their PROG_ARRAY. Their own cost is
 * measured by tail-calling the trivial programs below and subtracted.
 *
 * The frame is a fixed BW_FRAME_LEN bytes: a 54-byte TCP segment padded
 * to the 64-byte Ethernet minimum (tot_len says 40; the padding follows).
 * The L7 cases' frames are longer, and one of them changes length: they
 * have wrappers of their own (bw_xdp_l7, bw_tc_l7, below), so that the
 * 64-byte cases run exactly the code they always did.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define BW_FRAME_LEN 64
#define BW_TAILCALL_FAILED_TC 100 /* not a TC_ACT_* value */

/* Offsets in an Ethernet + IPv4 (no options) + TCP frame. */
#define OFF_IP_CHECK 24
#define OFF_IP_SADDR 26
#define OFF_TCP_SPORT 34
#define OFF_TCP_CHECK 50

struct bw_frame {
	__u64 data[BW_FRAME_LEN / 8];
	__u32 vary; /* nonzero: new source address and port every run */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bw_frame);
} bw_frame SEC(".maps");

/* Runs so far, per CPU: the source of the varying address and port. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bw_counter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bw_xdp_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bw_tc_progs SEC(".maps");

/* RFC 1624 on raw (network order) 16-bit words: HC' = ~(~HC + ~m + m'). */
static __always_inline __u16 csum_fix(__u16 check, __u32 sum)
{
	sum += (__u16)~check;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/*
 * Give the frame at pkt (already restored) the run's own client: source
 * 198.18.0.(2 + c % 128), port 1024 + (c / 128) % 32768, unique for 4M
 * consecutive runs, and fix the IP and TCP checksums for it.
 */
static __always_inline void vary(__u8 *pkt)
{
	__u32 zero = 0, old_a, new_a, a_diff;
	__u16 old_p, new_p;
	__u64 *ctr, c;

	ctr = bpf_map_lookup_elem(&bw_counter, &zero);
	if (!ctr)
		return;
	c = (*ctr)++;

	old_a = *(__u32 *)(pkt + OFF_IP_SADDR);
	old_p = *(__u16 *)(pkt + OFF_TCP_SPORT);
	new_a = __builtin_bswap32(0xc6120002 + (__u32)(c & 127));
	new_p = __builtin_bswap16(1024 + (__u16)((c >> 7) & 0x7fff));

	a_diff = (__u16) ~(old_a & 0xffff) + (__u16) ~(old_a >> 16) +
		 (new_a & 0xffff) + (new_a >> 16);
	*(__u32 *)(pkt + OFF_IP_SADDR) = new_a;
	*(__u16 *)(pkt + OFF_TCP_SPORT) = new_p;
	*(__u16 *)(pkt + OFF_IP_CHECK) =
		csum_fix(*(__u16 *)(pkt + OFF_IP_CHECK), a_diff);
	*(__u16 *)(pkt + OFF_TCP_CHECK) =
		csum_fix(*(__u16 *)(pkt + OFF_TCP_CHECK),
			 a_diff + (__u16)~old_p + new_p);
}

/*
 * Copy the frame in with stores cut so that each header field kanary (or
 * a floor) reads lies inside one store: the load is then forwarded from
 * the store buffer, whatever the program under test, and the restore
 * costs the same for every case (which the subtraction assumes). With
 * plain aligned 8-byte stores, kanary's loads of daddr (bytes 30..33) and
 * seq (38..41) straddle two stores and stall.
 */
static __always_inline void restore(__u8 *d, const __u8 *s)
{
#define CP(T, off) (*(T *)(d + (off)) = *(const T *)(s + (off)))
	CP(__u32, 0); /* destination MAC */
	CP(__u16, 4);
	CP(__u32, 6); /* source MAC */
	CP(__u16, 10);
	CP(__u16, 12); /* ethertype */
	CP(__u64, 14); /* version .. frag_off */
	CP(__u64, 22); /* ttl .. saddr */
	CP(__u64, 30); /* daddr, ports */
	CP(__u64, 38); /* seq, ack_seq */
	CP(__u64, 46); /* doff, flags, window, check */
	CP(__u64, 54); /* urg_ptr, padding */
	CP(__u16, 62);
#undef CP
}

SEC("xdp")
int bw_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct bw_frame *fr;
	__u32 zero = 0;

	fr = bpf_map_lookup_elem(&bw_frame, &zero);
	if (!fr || data + BW_FRAME_LEN > data_end)
		return XDP_ABORTED;
	restore(data, (const __u8 *)fr->data);
	if (fr->vary)
		vary(data);
	bpf_tail_call(ctx, &bw_xdp_progs, 0);
	return XDP_ABORTED;
}

SEC("tc")
int bw_tc(struct __sk_buff *skb)
{
	const struct bw_frame *fr;
	void *data, *data_end;
	__u32 zero = 0;

	fr = bpf_map_lookup_elem(&bw_frame, &zero);
	if (!fr || skb->len != BW_FRAME_LEN)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, fr->data, BW_FRAME_LEN, 0))
		return TC_ACT_SHOT;
	if (fr->vary) {
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + BW_FRAME_LEN > data_end)
			return TC_ACT_SHOT;
		vary(data);
	}
	bpf_tail_call(skb, &bw_tc_progs, 0);
	return BW_TAILCALL_FAILED_TC;
}

/*
 * bw_xdp for a program that encapsulates (pktbench's Katran model, which
 * puts an IPIP header in front with bpf_xdp_adjust_head): a test run does
 * not set the frame's start back between runs, so this wrapper moves it
 * back by what the last run added before it restores the frame as bw_xdp
 * does. The call is made on every run, with offset 0 when nothing moved
 * (nop), so that wrapped(nop) counts it too.
 */
SEC("xdp")
int bw_xdp_encap(struct xdp_md *ctx)
{
	const struct bw_frame *fr;
	void *data, *data_end;
	__u32 zero = 0;
	/* minus the current length, as in bw_xdp_l7 */
	long neg = (long)ctx->data - (long)ctx->data_end;

	asm volatile("" : "+r"(neg));
	if (bpf_xdp_adjust_head(ctx, (int)-neg - BW_FRAME_LEN))
		return XDP_ABORTED;
	fr = bpf_map_lookup_elem(&bw_frame, &zero);
	data = (void *)(long)*(volatile __u32 *)&ctx->data;
	data_end = (void *)(long)*(volatile __u32 *)&ctx->data_end;
	if (!fr || data + BW_FRAME_LEN > data_end)
		return XDP_ABORTED;
	restore(data, (const __u8 *)fr->data);
	if (fr->vary)
		vary(data);
	bpf_tail_call(ctx, &bw_xdp_progs, 0);
	return XDP_ABORTED;
}

/*
 * The L7 cases' wrappers: frames of any length from BW_FRAME_LEN to
 * BW_L7_FRAME_MAX (a SYN with options, an established segment with a
 * timestamp, a first segment with an HTTP request head), and, for the
 * first segment, its length set back too: kanary shrinks that frame into
 * the SYN it sends to the endpoint (bpf_xdp_adjust_tail in XDP, whose
 * test-run buffer has the tailroom to grow back; bpf_skb_change_tail in
 * tc). The 64-byte cases keep the wrappers above, unchanged.
 */
#define BW_L7_FRAME_MAX 512

struct bw_l7_frame {
	__u64 data[BW_L7_FRAME_MAX / 8];
	__u32 len; /* bytes of data: BW_FRAME_LEN + 1 .. BW_L7_FRAME_MAX */
	__u32 vary; /* nonzero: new source address and port every run */
	__u32 resize; /* nonzero: set the length back to len every run */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bw_l7_frame);
} bw_l7_frame SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bw_xdp_l7_progs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bw_tc_l7_progs SEC(".maps");

/*
 * XDP: the first 64 bytes with restore()'s cut stores, the rest (from the
 * TCP options' 11th byte on) with one bpf_xdp_store_bytes. kanary reads
 * the options byte by byte. With resize, bpf_xdp_adjust_tail is called on
 * every run, also when the length is right already (nop: offset 0), so
 * that wrapped(nop) counts the call; only the growing itself (a memset of
 * the bytes added) is left in the case's figure.
 */
SEC("xdp")
int bw_xdp_l7(struct xdp_md *ctx)
{
	const struct bw_l7_frame *fr;
	void *data, *data_end;
	__u32 zero = 0, len;

	fr = bpf_map_lookup_elem(&bw_l7_frame, &zero);
	if (!fr)
		return XDP_ABORTED;
	len = fr->len;
	if (len <= BW_FRAME_LEN || len > BW_L7_FRAME_MAX)
		return XDP_ABORTED;
	if (fr->resize) {
		/* minus the current length: data - data_end, in that order
		 * (the verifier allows no arithmetic on data_end) */
		long neg = (long)ctx->data - (long)ctx->data_end;

		asm volatile("" : "+r"(neg));
		if (bpf_xdp_adjust_tail(ctx, (int)len + (int)neg))
			return XDP_ABORTED;
	}
	/* volatile: as in kanary's ctx_bounds(); otherwise clang merges
	 * these loads with the ones above, as 32-bit integers the verifier
	 * refuses to use as pointers. */
	data = (void *)(long)*(volatile __u32 *)&ctx->data;
	data_end = (void *)(long)*(volatile __u32 *)&ctx->data_end;
	if (data + BW_FRAME_LEN > data_end)
		return XDP_ABORTED;
	restore(data, (const __u8 *)fr->data);
	if (bpf_xdp_store_bytes(ctx, BW_FRAME_LEN,
				(void *)((const __u8 *)fr->data + BW_FRAME_LEN),
				len - BW_FRAME_LEN))
		return XDP_ABORTED;
	if (fr->vary) {
		data = (void *)(long)*(volatile __u32 *)&ctx->data;
		data_end = (void *)(long)*(volatile __u32 *)&ctx->data_end;
		if (data + BW_FRAME_LEN > data_end)
			return XDP_ABORTED;
		vary(data);
	}
	bpf_tail_call(ctx, &bw_xdp_l7_progs, 0);
	return XDP_ABORTED;
}

/* tc: bpf_skb_change_tail on every run with resize (as in XDP), then one
 * bpf_skb_store_bytes of the whole frame. */
SEC("tc")
int bw_tc_l7(struct __sk_buff *skb)
{
	const struct bw_l7_frame *fr;
	void *data, *data_end;
	__u32 zero = 0, len;

	fr = bpf_map_lookup_elem(&bw_l7_frame, &zero);
	if (!fr)
		return TC_ACT_SHOT;
	len = fr->len;
	if (len < BW_FRAME_LEN || len > BW_L7_FRAME_MAX)
		return TC_ACT_SHOT;
	if (fr->resize) {
		if (bpf_skb_change_tail(skb, len, 0))
			return TC_ACT_SHOT;
	} else if (skb->len != len) {
		return TC_ACT_SHOT;
	}
	if (bpf_skb_store_bytes(skb, 0, fr->data, len, 0))
		return TC_ACT_SHOT;
	if (fr->vary) {
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		if (data + BW_FRAME_LEN > data_end)
			return TC_ACT_SHOT;
		vary(data);
	}
	bpf_tail_call(skb, &bw_tc_l7_progs, 0);
	return BW_TAILCALL_FAILED_TC;
}

/* Trivial tail-call targets: what the wrappers cost is wrapped(nop) - nop. */
SEC("xdp")
int bw_xdp_nop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int bw_tc_nop(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
