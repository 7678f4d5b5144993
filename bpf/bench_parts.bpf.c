// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark rig for tests/bench/pktbench.c (not part of the data path):
 * the operations of kanary's SYN path, one small XDP program each, so
 * that what each costs can be measured alone. Every program does the
 * floor's work (bounds check, MAC swap, XDP_TX: bpf/floor.bpf.c) plus one
 * operation, on the frame the wrapper (bpf/bench_wrap.bpf.c) restores;
 * pktbench reports each minus the floor.
 *
 * The operations are kanary's own, from its headers (bind.h and what it
 * includes), on kanary's own maps: pktbench hands this object the
 * maps of the kanary copy it loaded (bpf_map__reuse_fd on every kn_*
 * map, none pinned), configured with the lab's 70/30 split. The inserts
 * and the conntrack lookups go to maps of this object's own instead
 * (kp_flows*: kn_flows' key, value and size; pktbench clears them around
 * every window), so that kanary's kn_flows holds what its cases expect.
 *
 * A program whose operation does not come out as it does on kanary's SYN
 * path (a lookup that should miss hits, an insert fails, the FIB has no
 * answer...) counts it in kp_fail and returns XDP_ABORTED: pktbench checks
 * kp_fail after every measurement.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
/* bind_vip, bind_choose; select.h, nat.h (flow_scratch), martian.h,
 * forward.h (endpoint_next_hop, fib_next_hop, xdp_prepare_send),
 * rst_guard.h (track_seq), clock.h */
#include "bind.h"

#define KP_FRAME_LEN 54 /* Ethernet, IPv4 without options, TCP */

/* Set by pktbench before load: the lab's first endpoint (its index in
 * kn_endpoints and kn_ep_hops, address, port and SNAT address), the
 * interface a redirect goes to, and the VIP's route. */
const volatile __u32 kp_ep_idx;
const volatile __be32 kp_ep;
const volatile __be16 kp_ep_port;
const volatile __be32 kp_snat;
const volatile __u32 kp_tx_ifindex;
const volatile __u32 kp_route;

/* kn_flows' shape; max_entries as pktbench's kanary (set before load). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_flow);
} kp_flows SEC(".maps");

/* The same, with one LRU list per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_flow);
} kp_flows_nc SEC(".maps");

/* The same key with a 16-byte value (the size of Katran's). */
struct kp_small {
	__u64 a, b;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kp_small);
} kp_flows16 SEC(".maps");

/* The same shape in a plain hash, preallocated and not. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_flow);
} kp_flows_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_flow);
} kp_flows_np SEC(".maps");

/*
 * A port table: an array slot per (endpoint, SNAT port), found by a hash
 * and claimed with a compare-and-swap, holding a to-client entry. What
 * the reply direction would cost out of the hash map.
 */
#define KP_PORTS (1 << 18)

struct kp_port {
	__u64 claim;
	struct kanary_flow f;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KP_PORTS);
	__type(key, __u32);
	__type(value, struct kp_port);
} kp_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kp_fail SEC(".maps");

static __noinline int kp_failed(void)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&kp_fail, &zero);

	if (c)
		*c += 1;
	return XDP_ABORTED;
}

/*
 * The floor's work (MAC swap) on a frame of at least KP_FRAME_LEN bytes,
 * and the packet as parse_tcp4 would give it for the frames pktbench
 * uses (IPv4 without options, TCP): 0, or -1 for a short frame.
 */
static __always_inline int kp_start(struct xdp_md *ctx, struct pkt *p,
				    void **data_end)
{
	void *data = (void *)(long)ctx->data;
	unsigned char tmp[6];
	__u32 tot;

	*data_end = (void *)(long)ctx->data_end;
	if (data + KP_FRAME_LEN > *data_end)
		return -1;
	p->eth = data;
	p->ip = data + sizeof(struct ethhdr);
	p->tcp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	__builtin_memcpy(tmp, p->eth->h_dest, 6);
	__builtin_memcpy(p->eth->h_dest, p->eth->h_source, 6);
	__builtin_memcpy(p->eth->h_source, tmp, 6);
	tot = bpf_ntohs(p->ip->tot_len);
	p->len = *data_end - data;
	p->plen = tot - sizeof(struct iphdr) - p->tcp->doff * 4;
	p->flags = ((__u8 *)p->tcp)[13];
	return 0;
}

/* The flow key kanary builds from the packet. */
static __always_inline void kp_key(const struct pkt *p,
				   struct kanary_flow_key *fk)
{
	fk->saddr = p->ip->saddr;
	fk->daddr = p->ip->daddr;
	fk->sport = p->tcp->source;
	fk->dport = p->tcp->dest;
}

/* (a) A kn_flows lookup that misses (the conntrack lookup of a SYN). */
SEC("xdp")
int part_lookup_miss(struct xdp_md *ctx)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	kp_key(&p, &fk);
	if (bpf_map_lookup_elem(&kp_flows, &fk))
		return kp_failed();
	return XDP_TX;
}

/* A kn_flows lookup that hits (the SYN's look-up of the entry it made). */
SEC("xdp")
int part_lookup_hit(struct xdp_md *ctx)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	kp_key(&p, &fk);
	if (!bpf_map_lookup_elem(&kp_flows, &fk))
		return kp_failed();
	return XDP_TX;
}

/* (b), (c) A BPF_NOEXIST insert of a new key, as create_flow's: the
 * value from per-CPU scratch (kn_flow_tmpl). */
static __always_inline int kp_insert(struct xdp_md *ctx, void *map)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct kanary_flow *f;
	__u32 zero = 0;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	f = bpf_map_lookup_elem(&kn_flow_tmpl, &zero);
	if (!f)
		return kp_failed();
	kp_key(&p, &fk);
	if (bpf_map_update_elem(map, &fk, f, BPF_NOEXIST))
		return kp_failed();
	return XDP_TX;
}

SEC("xdp")
int part_insert(struct xdp_md *ctx)
{
	return kp_insert(ctx, &kp_flows);
}

SEC("xdp")
int part_insert_nc(struct xdp_md *ctx)
{
	return kp_insert(ctx, &kp_flows_nc);
}

SEC("xdp")
int part_insert16(struct xdp_md *ctx)
{
	return kp_insert(ctx, &kp_flows16);
}

/* A port table slot claimed and filled from the scratch entry. The slot
 * is never freed: the claim moves from whatever it holds to the next
 * value, which costs what a claim of a free slot does. */
SEC("xdp")
int part_port_claim(struct xdp_md *ctx)
{
	struct kanary_flow *f;
	struct kp_port *slot;
	__u32 zero = 0, i;
	void *data_end;
	struct pkt p;
	__u64 old;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	f = bpf_map_lookup_elem(&kn_flow_tmpl, &zero);
	if (!f)
		return kp_failed();
	i = mix32(mix32(p.ip->saddr) ^ p.tcp->source) % KP_PORTS;
	slot = bpf_map_lookup_elem(&kp_ports, &i);
	if (!slot)
		return kp_failed();
	old = slot->claim;
	if (__sync_val_compare_and_swap(&slot->claim, old, old + 1) != old)
		return kp_failed();
	__builtin_memcpy(&slot->f, f, sizeof(*f));
	return XDP_TX;
}

SEC("xdp")
int part_insert_hash(struct xdp_md *ctx)
{
	return kp_insert(ctx, &kp_flows_hash);
}

SEC("xdp")
int part_insert_np(struct xdp_md *ctx)
{
	return kp_insert(ctx, &kp_flows_np);
}

/* The two entries set up in scratch before the inserts (bind_flow up to
 * create_flow; the copy of the next hop's MACs left out). */
SEC("xdp")
int part_flow_init(struct xdp_md *ctx)
{
	struct kanary_endpoint ep = { .addr = kp_ep,
				      .snat_addr = kp_snat,
				      .port = kp_ep_port };
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct kanary_flow *f, *twin;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	kp_key(&p, &fk);
	f = flow_scratch(&fk, &ep, 0, KANARY_L7_OFF, &twin);
	if (!f)
		return kp_failed();
	f->syn_seq = p.tcp->seq;
	twin->open_ns = f->open_ns = 1;
	track_seq(f, &p);
	return XDP_TX;
}

/* The next hop of bind_next_hop: the coarse clock, then kn_ep_hops' entry
 * of the endpoint, fresh (the FIB is asked once a second per endpoint). */
SEC("xdp")
int part_next_hop(struct xdp_md *ctx)
{
	const struct kanary_endpoint *ep;
	const struct ep_hop *hop = NULL;
	__u32 idx = kp_ep_idx, egress;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	ep = bpf_map_lookup_elem(&kn_endpoints, &idx);
	if (!ep || endpoint_next_hop(ctx, ep, idx, bpf_ntohs(p.ip->tot_len),
				     ctx->ingress_ifindex, coarse_now(), &hop,
				     &egress) != BPF_FIB_LKUP_RET_SUCCESS)
		return kp_failed();
	return XDP_TX;
}

/* The selection of bind_choose: the keyed flow hash, the route's
 * destination by weight, its pool's Maglev slot, the endpoint (kn_cfg,
 * kn_routes, kn_pools, kn_endpoints as the lab's config left them). */
SEC("xdp")
int part_choose(struct xdp_md *ctx)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct binding b;
	__u32 zero = 0;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	b.cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!b.cfg)
		return kp_failed();
	b.slot = b.cfg->active_slot;
	kp_key(&p, &fk);
	if (bind_choose(&fk, &b, kp_route))
		return kp_failed();
	return XDP_TX;
}

/* (d) The FIB lookup (fib_next_hop, in kn_fib_scratch) toward an
 * endpoint whose neighbour is known: what endpoint_next_hop asks once a
 * second per endpoint, and resolve_next_hop for a flow without one. */
SEC("xdp")
int part_fib(struct xdp_md *ctx)
{
	struct bpf_fib_lookup *fib;
	__u32 zero = 0;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	fib = bpf_map_lookup_elem(&kn_fib_scratch, &zero);
	if (!fib)
		return kp_failed();
	if (fib_next_hop(ctx, fib, kp_snat, kp_ep, p.tcp->source, kp_ep_port,
			 bpf_ntohs(p.ip->tot_len),
			 ctx->ingress_ifindex) != BPF_FIB_LKUP_RET_SUCCESS)
		return kp_failed();
	return XDP_TX;
}

/* (e) The clocks: the fine one, which the SYN read before b8938b1, and
 * the coarse one it reads since (coarse_now, in bind_next_hop). */
SEC("xdp")
int part_ktime(struct xdp_md *ctx)
{
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end) || !bpf_ktime_get_ns())
		return kp_failed();
	return XDP_TX;
}

SEC("xdp")
int part_ktime_coarse(struct xdp_md *ctx)
{
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end) || !bpf_ktime_get_coarse_ns())
		return kp_failed();
	return XDP_TX;
}

/* (f) The VIP lookup of bind_vip (kn_cfg's slot, then kn_vips): a hit. */
SEC("xdp")
int part_vip(struct xdp_md *ctx)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct binding b;
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end))
		return kp_failed();
	kp_key(&p, &fk);
	if (!bind_vip(&fk, &b))
		return kp_failed();
	return XDP_TX;
}

/* (g) The SYN's TCP checksum, verified as martian.h does. */
SEC("xdp")
int part_syn_csum(struct xdp_md *ctx)
{
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end) ||
	    !syn_csum_ok(ctx, false, &p, data_end))
		return kp_failed();
	return XDP_TX;
}

/* All of martian.h's SYN checks: the source, the IP and TCP checksums. */
SEC("xdp")
int part_syn_martian(struct xdp_md *ctx)
{
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end) ||
	    syn_martian(ctx, false, &p, data_end))
		return kp_failed();
	return XDP_TX;
}

/* The redirect set up by xdp_prepare_send toward another interface. */
SEC("xdp")
int part_redirect(struct xdp_md *ctx)
{
	void *data_end;
	struct pkt p;

	if (kp_start(ctx, &p, &data_end) ||
	    !xdp_prepare_send(kp_tx_ifindex, ctx->ingress_ifindex))
		return kp_failed();
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
