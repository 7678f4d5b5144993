/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The maps of the data path. All are pinned by name under the pin dir. */
#ifndef KANARY_BPF_MAPS_H
#define KANARY_BPF_MAPS_H

#include "kanary_abi.h"

/* Default conntrack size in entries (two per connection); load can change it. */
#define KANARY_FLOWS_DEFAULT 524288

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kanary_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_VIPS));
	__type(key, struct kanary_vip_key);
	__type(value, struct kanary_vip);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_ROUTES));
	__type(key, __u32);
	__type(value, struct kanary_route);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_routes SEC(".maps");

/* Maglev tables are large and few are used: allocated on update only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_POOLS));
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct kanary_pool_key);
	__type(value, struct kanary_pool);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_pools SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_ENDPOINTS));
	__type(key, __u32);
	__type(value, struct kanary_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_FLOWS_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_flows SEC(".maps");

/* One record per connection (bpf/conn.h); kn_flows is its overflow.
 * Mmapable: health's ejection marks write one byte of a record. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KANARY_CONN_SLOTS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct kanary_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_conns SEC(".maps");

/* The epoch of the records' KANARY_CONN_KN_FLOWS marks (kanary_abi.h):
 * which of the two bits the data path sets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_mark_epoch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KANARY_MAX_STATS);
	__type(key, __u32);
	__type(value, struct kanary_subset_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_stats SEC(".maps");

/* HTTP outcomes, same rows as kn_stats (bpf/outcome.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KANARY_MAX_STATS);
	__type(key, __u32);
	__type(value, struct kanary_http_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_http SEC(".maps");

/* Final responses per (row, status code): a status code seen once in a
 * row keeps its entry until unload. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KANARY_MAX_CODES);
	__type(key, struct kanary_code_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_codes SEC(".maps");

/* L7 rule tables, double-buffered like the routes: slot * MAX_L7 + l7. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_L7));
	__type(key, __u32);
	__type(value, struct kanary_l7_table);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_l7 SEC(".maps");

/* Half-open L7 connections: LRU, so that a SYN flood costs bounded memory
 * and evicts only other half-open entries. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_SYNQ_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_synq);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_synq SEC(".maps");

/*
 * Request heads being read or waiting for the endpoint's ack (kn_head),
 * and their bytes (kn_hold, in chunks): from the client's first byte
 * until the splice, a round trip to the endpoint after the head is
 * complete. LRU: a client that never finishes its head loses it to newer
 * ones (and is reset if it comes back).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_HEAD_DEFAULT);
	__type(key, struct kanary_flow_key);
	__type(value, struct kanary_head);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_head SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KANARY_HOLD_DEFAULT);
	__type(key, struct kanary_hold_key);
	__type(value, struct kanary_hold);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_hold SEC(".maps");

/* Per-CPU scratch: one client segment's payload, read out of the packet
 * once (bigger than the BPF stack). */
struct l7_segment_buf {
	__u8 data[KANARY_L7_SEG_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_segment_buf);
} kn_scratch SEC(".maps");

/* Never written: what a new kn_hold chunk or kn_head entry starts from. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kanary_hold);
} kn_zero_chunk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kanary_head);
} kn_head_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KANARY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct kanary_rule_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_rule_stats SEC(".maps");

/* Written by userspace only; here so that it is pinned with BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KANARY_MAX_RULES);
	__type(key, __u32);
	__type(value, struct kanary_rule_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_rule_names SEC(".maps");

/* Written by userspace only; here so that it is pinned with BTF. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, KANARY_MAX_STATS);
	__type(key, __u32);
	__type(value, struct kanary_stat_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_stat_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KANARY_G_ROWS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} kn_global SEC(".maps");

/*
 * Not used by the programs: updating a map-in-map makes the kernel wait
 * for an RCU grace period (maybe_wait_bpf_programs), so apply updates
 * this one before it writes the inactive slot, and no packet that read
 * that slot before the previous flip can still be running.
 */
struct kn_sync_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct kn_sync_inner);
} kn_sync SEC(".maps");

/* FIB lookups' parameters, off the stack: a program and the subprograms
 * it calls share 512 bytes, and the L7 path needs them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_fib_lookup);
} kn_fib_scratch SEC(".maps");

/*
 * Next hops toward endpoints, learnt by the data path (forward.h,
 * endpoint_next_hop): a new connection takes its endpoint's from here
 * instead of asking the FIB on every SYN. Indexed as kn_endpoints; an
 * entry serves only the addresses it was learnt for, and for
 * EP_HOP_TTL_NS. Not pinned: a cache, made anew by every load.
 */
struct ep_hop {
	__u64 learnt; /* coarse_now() when the FIB gave it; 0: never */
	__be32 addr; /* the endpoint it was learnt for */
	__be32 snat_addr;
	__u32 ifindex;
	__u8 smac[6];
	__u8 dmac[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, (KANARY_SLOTS * KANARY_MAX_ENDPOINTS));
	__type(key, __u32);
	__type(value, struct ep_hop);
} kn_ep_hops SEC(".maps");

/*
 * The interfaces XDP may send frames out of (redirect, or XDP_TX): the
 * loader lists those whose driver takes XDP frames (a veth only when its
 * peer runs XDP). XDP hands a packet for any other egress to tc. Not
 * pinned: every load makes it anew for the programs it attaches (and the
 * kernel marks a devmap in a way libbpf would not reuse).
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, KANARY_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val);
} kn_tx_ports SEC(".maps");

static __always_inline void count_global(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&kn_global, &which);

	if (c)
		*c += 1;
}

#endif /* KANARY_BPF_MAPS_H */
