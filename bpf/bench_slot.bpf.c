// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Benchmark rig for `pktbench --compare` (not part of the data path):
 * kanary whose SYN keeps a new connection in one record of an array,
 * claimed with a compare-and-swap, instead of two LRU entries. The SNAT
 * port is chosen so that the endpoint's replies find the same record
 * from their own tuple (docs/BENCHMARKS.md, "One record per
 * connection"). It measures what that design's SYN would cost beside
 * kanary's own and the Katran model's, in the same rounds.
 *
 * Only the SYN is the design's. Every other packet still reads
 * kn_flows, and the record is claimed without looking whether it is free
 * (as bench_parts.bpf.c's port-table part does), so that no window has to
 * clear the array. pktbench's own fixed connections (client ports 40000
 * and up), which its other cases then use from kn_flows, keep kanary's
 * path, and so does the L7 path (it reads kn_flows right after binding);
 * the new clients of the L4 SYN case (ports below 33792) take the record.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
/* kanary's own create_flow, under another name: the fallback. */
#define create_flow create_flow_lru
#include "nat.h"
#undef create_flow

/* 2^14 records; their ports 16384-32767, inside kanary's SNAT range and
 * below Linux's ephemeral ports (the gateway's own connections). */
#define SLOT_BITS 14
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define SLOT_PORT_MIN 16384

struct kanary_slot {
	__u64 claim;
	struct kanary_flow_key client;
	struct kanary_flow to_endpoint;
	struct kanary_flow to_client;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << SLOT_BITS);
	__type(key, __u32);
	__type(value, struct kanary_slot);
} kn_slots SEC(".maps");

/* What an endpoint's tuple adds to a port to name a record. */
static __always_inline __u32 endpoint_offset(const struct kanary_endpoint *ep)
{
	return mix32(ep->addr ^ ep->snat_addr ^ ((__u32)ep->port << 16));
}

/*
 * The record at the client's hash; the port the endpoint's replies come
 * back to is the one whose record, counted from the endpoint's offset,
 * is this one: (port - SLOT_PORT_MIN + offset) mod 2^14.
 */
static __always_inline int create_flow(const struct kanary_flow_key *fk,
				       const struct kanary_endpoint *ep,
				       struct kanary_flow *f,
				       const struct kanary_flow *twin,
				       __u32 hash, __u64 now)
{
	__u32 s = hash & SLOT_MASK;
	struct kanary_slot *slot = bpf_map_lookup_elem(&kn_slots, &s);
	__u64 old;

	if (!slot || f->l7 || bpf_ntohs(fk->sport) >= 40000)
		return create_flow_lru(fk, ep, f, twin, hash, now);
	old = slot->claim;
	if (__sync_val_compare_and_swap(&slot->claim, old, old + 1) != old)
		return create_flow_lru(fk, ep, f, twin, hash, now);
	f->sport = bpf_htons(SLOT_PORT_MIN +
			     ((s - endpoint_offset(ep)) & SLOT_MASK));
	slot->client = *fk;
	__builtin_memcpy(&slot->to_endpoint, f, sizeof(*f));
	__builtin_memcpy(&slot->to_client, twin, sizeof(*twin));
	return 0;
}

#include "kanary.bpf.c"
