// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kanary data path: one source, two attach points (XDP and tc ingress).
 * Read handle() top to bottom as the life of a packet:
 *   parse -> conntrack hit? rewrite, count, forward.
 *   SYN to a VIP? choose an endpoint, create the flow, then as above.
 *   anything else passes untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "select.h"
#include "nat.h"

#define AF_INET 2
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

enum verdict {
	V_PASS,
	V_DROP,
	V_FORWARD, /* redirect to out_ifindex, MACs already set */
	V_RESOLVE, /* tc: redirect to out_ifindex through the neighbour table */
};

static __always_inline void count_flow(const struct kanary_flow *f, __u32 len)
{
	struct kanary_subset_stats *s;
	__u32 row = f->stats;

	s = bpf_map_lookup_elem(&kn_stats, &row);
	if (!s)
		return;
	if (f->dir == KANARY_DIR_TO_ENDPOINT) {
		s->packets_to_endpoint++;
		s->bytes_to_endpoint += len;
	} else {
		s->packets_to_client++;
		s->bytes_to_client += len;
	}
}

/*
 * Learn the next hop of a flow once and keep it in the flow: established
 * packets then need no FIB lookup. Returns 0 when f->ifindex is usable;
 * otherwise *egress is the interface the route leaves by when only the
 * neighbour is missing, or 0 when there is no route.
 */
static __always_inline int resolve_next_hop(void *ctx, struct kanary_flow *f,
					    const struct pkt *p, __u32 ifindex,
					    __u32 *egress)
{
	struct bpf_fib_lookup fib;
	int rc;

	/* memset, then fields: with a designated initializer, clang 14's
	 * code made the helper see family 0 on this kernel (measured, both
	 * in BPF_PROG_TEST_RUN and on veths; cause not pinned down). */
	__builtin_memset(&fib, 0, sizeof(fib));
	fib.family = AF_INET;
	fib.l4_protocol = IPPROTO_TCP;
	fib.sport = f->sport;
	fib.dport = f->dport;
	fib.tot_len = bpf_ntohs(p->ip->tot_len);
	fib.ipv4_src = f->saddr;
	fib.ipv4_dst = f->daddr;
	fib.ifindex = ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	*egress = rc == BPF_FIB_LKUP_RET_NO_NEIGH ? fib.ifindex : 0;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	__builtin_memcpy(f->smac, fib.smac, 6);
	__builtin_memcpy(f->dmac, fib.dmac, 6);
	f->ifindex = fib.ifindex;
	return 0;
}

/*
 * Rewrite addresses and ports to the flow's outgoing tuple and fix the IP
 * and TCP checksums. tc uses the kernel's csum helpers, which also keep a
 * CHECKSUM_COMPLETE/PARTIAL skb consistent; XDP frames carry full sums.
 */
static __always_inline void rewrite(void *ctx, const bool is_tc, struct pkt *p,
				    const struct kanary_flow *f)
{
	__u32 d_addr =
		csum_diff_addrs(p->ip->saddr, p->ip->daddr, f->saddr, f->daddr);
	__u32 d_port = csum_diff_ports(p->tcp->source, p->tcp->dest, f->sport,
				       f->dport);

	p->ip->saddr = f->saddr;
	p->ip->daddr = f->daddr;
	p->tcp->source = f->sport;
	p->tcp->dest = f->dport;
	/* The IP header checksum has no offload: update it inline. */
	p->ip->check = csum_update(p->ip->check, d_addr);
	if (f->ifindex) {
		__builtin_memcpy(p->eth->h_source, f->smac, 6);
		__builtin_memcpy(p->eth->h_dest, f->dmac, 6);
	}

	if (is_tc) {
		struct __sk_buff *skb = ctx;
		__u32 tcp_check = sizeof(struct ethhdr) + sizeof(struct iphdr) +
				  offsetof(struct tcphdr, check);

		/* Invalidates p: nothing may touch the packet after this. */
		bpf_l4_csum_replace(skb, tcp_check, 0, d_addr,
				    BPF_F_PSEUDO_HDR);
		bpf_l4_csum_replace(skb, tcp_check, 0, d_port, 0);
	} else {
		p->tcp->check =
			csum_update(p->tcp->check, csum_add(d_addr, d_port));
	}
}

/* A SYN that matches no flow: is it for a VIP, and where does it go? */
static __always_inline int new_flow(const struct kanary_flow_key *fk,
				    __u32 syn_seq)
{
	struct kanary_vip_key vk = {
		.addr = fk->daddr,
		.port = fk->dport,
		.proto = IPPROTO_TCP,
	};
	const struct kanary_cfg *cfg;
	const struct kanary_vip *vip;
	struct choice c;
	__u32 zero = 0, hash;
	int rc;

	cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!cfg)
		return KANARY_G_PASS_NO_FLOW;
	/* Read the slot once: every lookup below sees one config. */
	vk.slot = cfg->active_slot;
	vip = bpf_map_lookup_elem(&kn_vips, &vk);
	if (!vip)
		return KANARY_G_PASS_NO_FLOW;

	hash = flow_hash(fk, cfg->hash_seed);
	rc = choose(vk.slot, vip->route, hash, &c);
	if (rc)
		return rc;
	rc = create_flow(fk, c.ep, c.stats, hash, syn_seq, cfg->reclaim_ns);
	if (rc)
		return rc;

	{
		struct kanary_subset_stats *s;
		__u32 row = c.stats;

		s = bpf_map_lookup_elem(&kn_stats, &row);
		if (s)
			s->connections++;
	}
	count_global(KANARY_G_NEW_FLOW);
	return 0;
}

static __always_inline enum verdict handle(void *ctx, const bool is_tc,
					   void *data, void *data_end,
					   __u32 len, __u32 in_ifindex,
					   __u32 *out_ifindex)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct kanary_flow *f;
	__u32 egress;
	struct pkt p;
	bool syn;
	int rc;

	if (parse_tcp4(data, data_end, len, &p)) {
		count_global(KANARY_G_PASS_NOT_TCP);
		return V_PASS;
	}
	fk.saddr = p.ip->saddr;
	fk.daddr = p.ip->daddr;
	fk.sport = p.tcp->source;
	fk.dport = p.tcp->dest;

	syn = (p.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) ==
	      TCP_FLAG_SYN;
	f = bpf_map_lookup_elem(&kn_flows, &fk);
	if (f && syn && f->dir == KANARY_DIR_TO_ENDPOINT &&
	    f->syn_seq != p.tcp->seq) {
		/* The client reuses the port for a new connection (the old
		 * one is closed or dead): decide again, under today's config. */
		delete_flow(&fk, f);
		f = NULL;
	}
	if (!f) {
		/* Only a SYN opens a connection; a stray segment passes. */
		if (!syn) {
			count_global(KANARY_G_PASS_NO_FLOW);
			return V_PASS;
		}
		rc = new_flow(&fk, p.tcp->seq);
		if (rc == KANARY_G_PASS_NO_FLOW) {
			count_global(rc);
			return V_PASS;
		}
		if (rc) {
			count_global(rc);
			return V_DROP;
		}
		f = bpf_map_lookup_elem(&kn_flows, &fk);
		if (!f)
			return V_DROP;
	}

	if ((p.flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) && !f->closed_ns)
		mark_closed(f);
	if (!f->ifindex && resolve_next_hop(ctx, f, &p, in_ifindex, &egress)) {
		count_global(KANARY_G_FIB_PASS);
		/*
		 * The neighbour is not known yet. XDP cannot ask for it: it
		 * passes the packet as it came to kanary's tc program behind
		 * it, which sends it through the kernel's neighbour table.
		 * (The kernel's own forwarding would drop the rewritten
		 * packet: its source is the gateway's own address.)
		 */
		if (!is_tc)
			return V_PASS;
		if (!egress)
			return V_DROP; /* no route to the endpoint at all */
		count_flow(f, len);
		rewrite(ctx, is_tc, &p, f);
		*out_ifindex = egress;
		return V_RESOLVE;
	}
	count_flow(f, len);
	rewrite(ctx, is_tc, &p, f);
	*out_ifindex = f->ifindex;
	return V_FORWARD;
}

SEC("xdp")
int kanary_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 in = ctx->ingress_ifindex, out = 0;

	switch (handle(ctx, false, data, data_end, data_end - data, in, &out)) {
	case V_DROP:
		return XDP_DROP;
	case V_FORWARD:
		if (out == in)
			return XDP_TX;
		return bpf_redirect(out, 0);
	default:
		return XDP_PASS;
	}
}

SEC("tc")
int kanary_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 out = 0;

	/* Headers may sit in paged data: make them linear, or pass. */
	if (data + KANARY_HDR_LEN > data_end) {
		if (bpf_skb_pull_data(skb, KANARY_HDR_LEN))
			return TC_ACT_OK;
		/* volatile: clang would otherwise reuse ctx+offset pointers,
		 * which the verifier refuses to dereference. */
		data = (void *)(long)*(volatile __u32 *)&skb->data;
		data_end = (void *)(long)*(volatile __u32 *)&skb->data_end;
	}

	switch (handle(skb, true, data, data_end, skb->len, skb->ifindex,
		       &out)) {
	case V_DROP:
		return TC_ACT_SHOT;
	case V_FORWARD:
		return bpf_redirect(out, 0);
	case V_RESOLVE:
		return bpf_redirect_neigh(out, NULL, 0, 0);
	default:
		return TC_ACT_OK;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
