/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ABI shared by the BPF data path and the userspace loader: map keys,
 * map values and limits. Every struct that crosses the user/kernel boundary
 * is declared here and only here.
 *
 * Byte order: addresses and ports are kept in network byte order (as they
 * stand in the packet); everything else is host order.
 *
 * Config is double-buffered: every config map is indexed by a slot (0 or 1).
 * The loader writes the inactive slot completely, then flips
 * kanary_cfg.active_slot; a packet reads the slot once, so it sees either
 * the old config or the new one, never half of each.
 */
#ifndef KANARY_ABI_H
#define KANARY_ABI_H

#ifdef __bpf__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

#define KANARY_SLOTS 2

#define KANARY_MAX_VIPS 1024 /* (address, port) pairs, per slot */
#define KANARY_MAX_ROUTES 2048 /* per slot */
#define KANARY_MAX_DESTS 16 /* weighted destinations in one route */
#define KANARY_MAX_POOLS 4096 /* (service, subset, port) pools, per slot */
#define KANARY_MAX_ENDPOINTS 16384 /* per slot */
#define KANARY_MAX_POOL_ENDPOINTS 256 /* endpoints in one pool */
#define KANARY_MAX_STATS 4096 /* (VirtualService, subset) counter rows */
#define KANARY_NAME_LEN 64

/* Maglev lookup table size: prime, much larger than a pool's endpoints. */
#define KANARY_MAGLEV_SIZE 4093

/*
 * Source ports used for SNAT toward endpoints. Kept below the kernel's
 * default ephemeral range (32768-60999) so that the gateway's own
 * connections to an endpoint never take a port kanary hands out.
 */
#define KANARY_SNAT_PORT_MIN 10000
#define KANARY_SNAT_PORT_MAX 32767
#define KANARY_SNAT_TRIES 16

/* kanary_cfg[0] */
struct kanary_cfg {
	__u32 active_slot; /* 0 or 1 */
	__u32 generation; /* bumped on every flip */
	__u32 hash_seed; /* keys the flow hash; random per load */
	__u32 pad;
	/* Rows of kn_endpoints in use per slot: apply clears only those. */
	__u32 slot_endpoints[KANARY_SLOTS];
	/*
	 * A closed connection's SNAT port may go to a new connection once
	 * this long has passed since its first FIN or RST: the endpoint's
	 * TIME_WAIT. Set by load (KANARY_RECLAIM_NS_DEFAULT).
	 */
	__u64 reclaim_ns;
};

#define KANARY_RECLAIM_NS_DEFAULT (60ULL * 1000000000ULL)

/* kanary_vips: which (address, port) the gateway splits */
struct kanary_vip_key {
	__u32 slot;
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP */
	__u8 pad;
};

struct kanary_vip {
	__u32 route; /* index into the slot's routes */
};

/* One weighted destination of a route: a pool and its share. */
struct kanary_dest {
	__u32 pool; /* index into the slot's pools */
	__u32 cum_weight; /* chosen when hash % total < cum_weight */
	__u32 stats; /* row in kanary_stats */
	__u32 pad;
};

/* kanary_routes[slot * KANARY_MAX_ROUTES + route] */
struct kanary_route {
	__u32 n_dests;
	__u32 total_weight; /* > 0 for a valid route */
	struct kanary_dest dests[KANARY_MAX_DESTS];
};

/* kanary_pools, a hash keyed by (slot, pool): the pool's Maglev table */
struct kanary_pool_key {
	__u32 slot;
	__u32 pool;
};

struct kanary_pool {
	__u32 n_endpoints;
	__u32 table[KANARY_MAGLEV_SIZE]; /* endpoint index in the slot */
};

/* kanary_endpoints[slot * KANARY_MAX_ENDPOINTS + endpoint] */
struct kanary_endpoint {
	__be32 addr;
	__be32 snat_addr; /* the gateway's own address toward addr */
	__be16 port;
	__u16 pad;
};

/*
 * kanary_flows: LRU conntrack, two entries per connection. The key is the
 * packet's tuple as it arrives; the value is the tuple it leaves with. The
 * same rewrite serves both directions.
 */
struct kanary_flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

enum kanary_dir {
	KANARY_DIR_TO_ENDPOINT = 0, /* client -> endpoint (request) */
	KANARY_DIR_TO_CLIENT = 1, /* endpoint -> client (reply) */
};

struct kanary_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 stats; /* row in kanary_stats */
	__u32 ifindex; /* egress; 0 until the neighbour is known */
	__u8 smac[6];
	__u8 dmac[6];
	__u8 dir; /* enum kanary_dir */
	__u8 pad[3];
	/*
	 * The client's ISN (to-endpoint entries): a SYN with the same ISN is
	 * a retransmission, one with another ISN reuses the port for a new
	 * connection and gets a fresh decision.
	 */
	__u32 syn_seq;
	/* When the first FIN or RST of the connection was seen, either way
	 * (both entries are marked); 0 while it is open. */
	__u64 closed_ns;
};

/* kanary_stats: per-CPU, one row per (VirtualService, subset) */
struct kanary_subset_stats {
	__u64 connections; /* new flows */
	__u64 packets_to_endpoint;
	__u64 bytes_to_endpoint;
	__u64 packets_to_client;
	__u64 bytes_to_client;
};

/* kanary_stat_names: which (VirtualService, subset) a stats row counts */
struct kanary_stat_name {
	char virtualservice[KANARY_NAME_LEN]; /* namespace/name */
	char subset[KANARY_NAME_LEN];
};

/*
 * kanary_global: per-CPU counters of the slow path and of what the data
 * path did not route. Forwarded packets are counted per subset only, so
 * that an established packet touches no other counter.
 */
enum kanary_global_counter {
	KANARY_G_PASS_NOT_TCP = 0, /* not IPv4 TCP, or malformed: passed */
	KANARY_G_PASS_NO_FLOW, /* TCP, no flow, not a SYN to a VIP: passed */
	KANARY_G_NEW_FLOW,
	KANARY_G_NO_ROUTE, /* SYN to a VIP with an empty route: dropped */
	KANARY_G_NO_ENDPOINT, /* pool empty or stale: dropped */
	KANARY_G_SNAT_EXHAUSTED, /* no free SNAT port: dropped */
	KANARY_G_FIB_PASS, /* neighbour unknown: resolved through the kernel */
	KANARY_G_MAX,
};

#endif /* KANARY_ABI_H */
