// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * A model of the per-packet work of Katran's XDP balancer, written for
 * tests/bench/pktbench.c (not part of the data path). It is not Katran's
 * code: it was written for this harness from a reading of what Katran's
 * balancer does for an IPv4 TCP packet, so that kanary's new-connection
 * path can be measured beside a Katran-like one in the same rounds, on
 * the same frames, behind the same wrapper and against the same floor.
 *
 * What it does, in Katran's order (maps named kb_* here):
 *  - parse Ethernet, IPv4 (options and fragments dropped), TCP or UDP
 *    ports and the SYN flag into a 40-byte flow key (IPv6-sized
 *    addresses, ports, protocol);
 *  - look the VIP up in a hash map (address, port, protocol -> flags and
 *    VIP number), again with port 0 on a miss; a miss then passes;
 *  - drop frames over 1514 bytes; count the packet (per-CPU stats);
 *  - pick this CPU's connection table: bpf_get_smp_processor_id() and an
 *    array-of-maps lookup; each inner map is an LRU hash of its own, made
 *    by userspace (pktbench: one per possible CPU, flags 0, as Katran
 *    makes them), with a small LRU to fall back on;
 *  - not a SYN: look the flow up in that table; a hit names the real;
 *  - a SYN, or a miss: count the miss; check the new-connection rate
 *    (per-CPU counter and bpf_ktime_get_ns; past 125000 a second the
 *    table is not updated); hash source address and ports (Bob Jenkins'
 *    lookup3 final mix, seeded) onto the VIP's ring of 65537 slots in one
 *    array of 512 rings; read the real from the reals array; insert the
 *    flow into the table (BPF_ANY; the access time only for UDP);
 *  - read the default router's MAC from a control array; count the
 *    packet for the VIP and for the real (per-CPU arrays, packets and
 *    bytes);
 *  - IPIP: bpf_xdp_adjust_head(-20), a new Ethernet header (destination:
 *    the router's MAC; source: the frame's old destination), a new IPv4
 *    header (the inner TOS, TTL 64, protocol 4, the real as destination,
 *    172.16.x.y with x.y taken from the client's address and port as
 *    source), its checksum summed over the header in an unrolled loop;
 *  - XDP_TX.
 *
 * What it leaves out: IPv6 (passed), ICMP (passed; Katran answers some),
 * QUIC connection-id routing, source-based routing (LPM), inline decap,
 * GUE, TCP server-id routing, the global LRU, flow debug, introspection
 * events, ICMP too-big generation, healthcheck programs, Maglev (the ring
 * is filled by userspace with any spread over the reals: the lookup's
 * cost does not depend on what the ring holds). The IP id is set to 0
 * (Katran leaves what the headroom held). None of these is on the path
 * of an IPv4 TCP packet to a plain VIP, which is what is measured.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench_katran_hash.h"

#define KB_ETH_P_IP 0x0800
#define KB_RING_SIZE 65537
#define KB_MAX_VIPS 512
#define KB_MAX_REALS 4096
#define KB_MAX_CPUS 128
#define KB_FALLBACK_LRU_SIZE 1000
#define KB_CTL_SIZE 16
#define KB_MAX_PCKT_SIZE 1514
#define KB_MAX_CONN_RATE 125000
#define KB_ONE_SEC 1000000000ULL
#define KB_UDP_TIMEOUT (30 * KB_ONE_SEC)
#define KB_TTL 64
/* 172.16/16 as the first two bytes of a network-order address */
#define KB_IPIP_SRC_PREFIX bpf_htonl(0xac100000)
#define KB_HASH_SEED (KB_MAX_VIPS * KB_RING_SIZE)

/* kb_stats rows past the per-VIP ones */
#define KB_CNT_LRU (KB_MAX_VIPS + 0) /* v1: VIP packets; v2: ring picks */
#define KB_CNT_LRU_MISS (KB_MAX_VIPS + 1) /* v1: SYN; v2: other TCP */
#define KB_CNT_CONN_RATE (KB_MAX_VIPS + 2) /* v1: count; v2: since (ns) */
#define KB_CNT_FALLBACK_LRU (KB_MAX_VIPS + 3) /* v1: no table for a CPU */

/* kb_vip_meta.flags */
#define KB_F_HASH_NO_SRC_PORT (1 << 0)
#define KB_F_LRU_BYPASS (1 << 1)
#define KB_F_HASH_DPORT_ONLY (1 << 3)
/* kb_real.flags */
#define KB_F_IPV6 (1 << 0)
/* kb_pkt.flags */
#define KB_P_SYN (1 << 1)

/* Everything below is shared with pktbench (tests/bench/pktbench.c). */
struct kb_flow {
	__be32 src[4]; /* IPv4: src[0] */
	__be32 dst[4];
	union {
		__u32 ports; /* as in the packet: source port first */
		__be16 port[2];
	};
	__u8 proto;
	__u8 pad[3];
};

struct kb_vip_key {
	__be32 addr[4];
	__be16 port;
	__u8 proto;
	__u8 pad;
};

struct kb_vip_meta {
	__u32 flags;
	__u32 vip_num;
};

struct kb_lru_val {
	__u32 pos; /* index in kb_reals */
	__u64 atime; /* UDP only */
};

struct kb_real {
	__be32 dst[4];
	__u8 flags;
	__u8 pad[3];
};

struct kb_stat {
	__u64 v1;
	__u64 v2;
};

struct kb_ctl {
	__u8 mac[8]; /* the default router's, in the first six bytes */
};

/* A packet as parsed. */
struct kb_pkt {
	struct kb_flow flow;
	__u32 real;
	__u8 flags;
	__u8 tos;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KB_MAX_VIPS);
	__type(key, struct kb_vip_key);
	__type(value, struct kb_vip_meta);
} kb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KB_FALLBACK_LRU_SIZE);
	__type(key, struct kb_flow);
	__type(value, struct kb_lru_val);
} kb_fallback_lru SEC(".maps");

/* One connection table per CPU, put in by userspace. */
struct kb_lru_inner {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KB_FALLBACK_LRU_SIZE);
	__type(key, struct kb_flow);
	__type(value, struct kb_lru_val);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, KB_MAX_CPUS);
	__type(key, __u32);
	__array(values, struct kb_lru_inner);
} kb_lru_cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (KB_MAX_VIPS * KB_RING_SIZE));
	__type(key, __u32);
	__type(value, __u32);
} kb_rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct kb_real);
} kb_reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct kb_stat);
} kb_reals_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * KB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct kb_stat);
} kb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KB_CTL_SIZE);
	__type(key, __u32);
	__type(value, struct kb_ctl);
} kb_ctl SEC(".maps");

/* Past KB_MAX_CONN_RATE new connections in the current second (per CPU),
 * the table is left alone. *now: the clock, read here. */
static __always_inline bool kb_under_flood(__u64 *now)
{
	__u32 key = KB_CNT_CONN_RATE;
	struct kb_stat *rate = bpf_map_lookup_elem(&kb_stats, &key);

	if (!rate)
		return true;
	*now = bpf_ktime_get_ns();
	if (*now - rate->v2 > KB_ONE_SEC) {
		rate->v1 = 1;
		rate->v2 = *now;
		return false;
	}
	return ++rate->v1 > KB_MAX_CONN_RATE;
}

/* A new flow: its real from the VIP's ring, remembered in the table. */
static __always_inline bool kb_pick_real(struct kb_real **real,
					 struct kb_pkt *pk,
					 const struct kb_vip_meta *vip,
					 void *lru)
{
	struct kb_lru_val v = {};
	bool flood;
	__u64 now = 0;
	__u32 *pos, key;

	flood = kb_under_flood(&now);
	if (vip->flags & KB_F_HASH_DPORT_ONLY) {
		pk->flow.port[0] = pk->flow.port[1];
		pk->flow.src[0] = 0;
	}
	key = KB_RING_SIZE * vip->vip_num +
	      kb_hash_2words(pk->flow.src[0], pk->flow.ports, KB_HASH_SEED) %
		      KB_RING_SIZE;
	pos = bpf_map_lookup_elem(&kb_rings, &key);
	if (!pos)
		return false;
	key = *pos;
	pk->real = key;
	*real = bpf_map_lookup_elem(&kb_reals, &key);
	if (!*real)
		return false;
	if (!(vip->flags & KB_F_LRU_BYPASS) && !flood) {
		if (pk->flow.proto == IPPROTO_UDP)
			v.atime = now;
		v.pos = key;
		bpf_map_update_elem(lru, &pk->flow, &v, BPF_ANY);
	}
	return true;
}

/* A known flow: its real from this CPU's table, or *real left NULL. */
static __always_inline void kb_conn_lookup(struct kb_real **real,
					   struct kb_pkt *pk, void *lru)
{
	struct kb_lru_val *v;
	__u32 key;

	v = bpf_map_lookup_elem(lru, &pk->flow);
	if (!v)
		return;
	if (pk->flow.proto == IPPROTO_UDP) {
		__u64 now = bpf_ktime_get_ns();

		if (now - v->atime > KB_UDP_TIMEOUT)
			return;
		v->atime = now;
	}
	key = v->pos;
	pk->real = key;
	*real = bpf_map_lookup_elem(&kb_reals, &key);
}

/* The IPv4 header's checksum over its ten 16-bit words (check 0). */
static __always_inline __u16 kb_ip_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < (int)sizeof(*ip) / 2; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* IPIP toward the real: a new outer IPv4 header in front of the frame. */
static __always_inline bool kb_encap_v4(struct xdp_md *ctx,
					const struct kb_ctl *ctl,
					const struct kb_pkt *pk,
					const struct kb_real *real,
					__u16 pkt_bytes)
{
	struct ethhdr *eth, *old_eth;
	void *data, *data_end;
	struct iphdr *ip;
	__u32 src;

	if (bpf_xdp_adjust_head(ctx, 0 - (int)sizeof(struct iphdr)))
		return false;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	ip = data + sizeof(*eth);
	old_eth = data + sizeof(*ip);
	if ((void *)(eth + 1) > data_end || (void *)(old_eth + 1) > data_end ||
	    (void *)(ip + 1) > data_end)
		return false;
	__builtin_memcpy(eth->h_dest, ctl->mac, 6);
	__builtin_memcpy(eth->h_source, old_eth->h_dest, 6);
	eth->h_proto = bpf_htons(KB_ETH_P_IP);

	src = ((__u32)bpf_ntohs(pk->flow.port[0]) << 16) ^ pk->flow.src[0];
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = pk->tos;
	ip->tot_len = bpf_htons(pkt_bytes + sizeof(*ip));
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = KB_TTL;
	ip->protocol = IPPROTO_IPIP;
	ip->check = 0;
	ip->saddr = (src & bpf_htonl(0x0000ffff)) | KB_IPIP_SRC_PREFIX;
	ip->daddr = real->dst[0];
	ip->check = kb_ip_csum(ip);
	return true;
}

static __always_inline int kb_process(struct xdp_md *ctx, __u32 off)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct kb_real *real = NULL;
	struct kb_vip_key vk = {};
	struct kb_pkt pk = {};
	struct kb_vip_meta *vip;
	struct kb_stat *st, *cnt;
	struct kb_ctl *ctl;
	struct iphdr *ip;
	__u32 key, cpu, zero = 0;
	__u16 pkt_bytes;
	__be16 sport;
	void *lru;

	ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_DROP;
	if (ip->ihl != 5)
		return XDP_DROP;
	pk.tos = ip->tos;
	pk.flow.proto = ip->protocol;
	pkt_bytes = bpf_ntohs(ip->tot_len);
	if (ip->frag_off & bpf_htons(0x3fff))
		return XDP_DROP;
	if (pk.flow.proto == IPPROTO_ICMP)
		return XDP_PASS; /* not modelled */
	pk.flow.src[0] = ip->saddr;
	pk.flow.dst[0] = ip->daddr;

	if (pk.flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = data + off + sizeof(*ip);

		if ((void *)(tcp + 1) > data_end)
			return XDP_DROP;
		if (tcp->syn)
			pk.flags |= KB_P_SYN;
		pk.flow.port[0] = tcp->source;
		pk.flow.port[1] = tcp->dest;
	} else if (pk.flow.proto == IPPROTO_UDP) {
		struct udphdr *udp = data + off + sizeof(*ip);

		if ((void *)(udp + 1) > data_end)
			return XDP_DROP;
		pk.flow.port[0] = udp->source;
		pk.flow.port[1] = udp->dest;
	} else {
		return XDP_PASS;
	}

	vk.addr[0] = pk.flow.dst[0];
	vk.port = pk.flow.port[1];
	vk.proto = pk.flow.proto;
	vip = bpf_map_lookup_elem(&kb_vips, &vk);
	if (!vip) {
		/* A VIP for every port of the address? */
		vk.port = 0;
		vip = bpf_map_lookup_elem(&kb_vips, &vk);
		if (!vip)
			return XDP_PASS;
		if (!(vip->flags & KB_F_HASH_DPORT_ONLY))
			pk.flow.port[1] = 0;
	}
	if (data_end - data > KB_MAX_PCKT_SIZE)
		return XDP_DROP;

	key = KB_CNT_LRU;
	st = bpf_map_lookup_elem(&kb_stats, &key);
	if (!st)
		return XDP_DROP;
	st->v1 += 1;

	sport = pk.flow.port[0];
	if (vip->flags & KB_F_HASH_NO_SRC_PORT)
		pk.flow.port[0] = 0;
	cpu = bpf_get_smp_processor_id();
	lru = bpf_map_lookup_elem(&kb_lru_cpus, &cpu);
	if (!lru) {
		lru = &kb_fallback_lru;
		key = KB_CNT_FALLBACK_LRU;
		cnt = bpf_map_lookup_elem(&kb_stats, &key);
		if (!cnt)
			return XDP_DROP;
		cnt->v1 += 1;
	}
	if (!(pk.flags & KB_P_SYN) && !(vip->flags & KB_F_LRU_BYPASS))
		kb_conn_lookup(&real, &pk, lru);
	if (!real) {
		if (pk.flow.proto == IPPROTO_TCP) {
			key = KB_CNT_LRU_MISS;
			cnt = bpf_map_lookup_elem(&kb_stats, &key);
			if (!cnt)
				return XDP_DROP;
			if (pk.flags & KB_P_SYN)
				cnt->v1 += 1;
			else
				cnt->v2 += 1;
		}
		if (!kb_pick_real(&real, &pk, vip, lru))
			return XDP_DROP;
		st->v2 += 1;
	}

	ctl = bpf_map_lookup_elem(&kb_ctl, &zero);
	if (!ctl)
		return XDP_DROP;
	key = vip->vip_num;
	st = bpf_map_lookup_elem(&kb_stats, &key);
	if (!st)
		return XDP_DROP;
	st->v1 += 1;
	st->v2 += pkt_bytes;
	st = bpf_map_lookup_elem(&kb_reals_stats, &pk.real);
	if (!st)
		return XDP_DROP;
	st->v1 += 1;
	st->v2 += pkt_bytes;

	pk.flow.port[0] = sport;
	if (real->flags & KB_F_IPV6)
		return XDP_DROP; /* not modelled */
	if (!kb_encap_v4(ctx, ctl, &pk, real, pkt_bytes))
		return XDP_DROP;
	return XDP_TX;
}

SEC("xdp")
int katran_model(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	if (eth->h_proto == bpf_htons(KB_ETH_P_IP))
		return kb_process(ctx, sizeof(*eth));
	return XDP_PASS; /* IPv6 and the rest: not modelled */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
