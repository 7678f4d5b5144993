/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Conntrack and full NAT. A connection is two kn_flows entries, one per
 * direction, each mapping the tuple a packet arrives with to the tuple it
 * leaves with:
 *   client:cport -> vip:vport       =>  snat:sport -> endpoint:eport
 *   endpoint:eport -> snat:sport    =>  vip:vport  -> client:cport
 */
#ifndef KANARY_BPF_NAT_H
#define KANARY_BPF_NAT_H

#include "maps.h"
#include "select.h" /* mix32 */

#define SNAT_RANGE (KANARY_SNAT_PORT_MAX - KANARY_SNAT_PORT_MIN + 1)

/*
 * Reserve a SNAT port by inserting the reply-direction entry with
 * BPF_NOEXIST: the map itself is the allocator, so two connections to one
 * endpoint never share a port, even when created on two CPUs at once.
 */
/* The key of a flow's other entry: its outgoing tuple, reversed. */
static __always_inline void twin_key(const struct kanary_flow *f,
				     struct kanary_flow_key *k)
{
	k->saddr = f->daddr;
	k->daddr = f->saddr;
	k->sport = f->dport;
	k->dport = f->sport;
	k->proto = IPPROTO_TCP;
}

/*
 * A port held by a connection closed (FIN or RST) longer ago than the
 * endpoint's TIME_WAIT may be taken over: forget the old connection's
 * to-client entry (rk, holding the port) and its to-endpoint twin.
 * Without this, a port would stay taken until the LRU evicted it, which a
 * table that is not full never does.
 */
static __always_inline bool reclaim_port(const struct kanary_flow_key *rk,
					 __u64 reclaim_ns)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *old, *twin;
	__u64 now;

	old = bpf_map_lookup_elem(&kn_flows, rk);
	if (!old || !old->closed_ns)
		return false;
	now = bpf_ktime_get_ns();
	if (now - old->closed_ns < reclaim_ns)
		return false;
	twin_key(old, &tk);
	twin = bpf_map_lookup_elem(&kn_flows, &tk);
	if (twin && twin->sport == rk->dport && twin->daddr == rk->saddr)
		bpf_map_delete_elem(&kn_flows, &tk);
	return true;
}

static __always_inline int create_flow(const struct kanary_flow_key *fk,
				       const struct kanary_endpoint *ep,
				       __u32 stats, __u32 hash, __u32 syn_seq,
				       __u64 reclaim_ns)
{
	struct kanary_flow_key rk = {
		.saddr = ep->addr,
		.daddr = ep->snat_addr,
		.sport = ep->port,
		.proto = IPPROTO_TCP,
	};
	struct kanary_flow rev = {
		.saddr = fk->daddr,
		.daddr = fk->saddr,
		.sport = fk->dport,
		.dport = fk->sport,
		.stats = stats,
		.dir = KANARY_DIR_TO_CLIENT,
	};
	struct kanary_flow fwd = {
		.saddr = ep->snat_addr,
		.daddr = ep->addr,
		.dport = ep->port,
		.stats = stats,
		.dir = KANARY_DIR_TO_ENDPOINT,
		.syn_seq = syn_seq,
	};
	int i;

	for (i = 0; i < KANARY_SNAT_TRIES; i++) {
		/*
		 * A fresh draw per try: a fixed stride is linear probing, whose
		 * busy clusters refused connections from ~43 % occupancy
		 * (measured); independent draws hold to ~63 %.
		 */
		__u32 h = i ? mix32(hash + i * 0x9e3779b9) : hash;
		__u16 port = KANARY_SNAT_PORT_MIN + h % SNAT_RANGE;

		rk.dport = bpf_htons(port);
		if (!bpf_map_update_elem(&kn_flows, &rk, &rev, BPF_NOEXIST))
			goto reserved;
		if (reclaim_port(&rk, reclaim_ns) &&
		    !bpf_map_update_elem(&kn_flows, &rk, &rev, BPF_ANY))
			goto reserved;
	}
	return KANARY_G_SNAT_EXHAUSTED;

reserved:
	fwd.sport = rk.dport;
	if (bpf_map_update_elem(&kn_flows, fk, &fwd, BPF_NOEXIST)) {
		/* Another CPU made this connection first: keep its entry. */
		bpf_map_delete_elem(&kn_flows, &rk);
	}
	return 0;
}

/*
 * Forget both entries of a connection, given its to-endpoint entry. The
 * to-client entry goes only if it is still this connection's: its port
 * may have been reclaimed by another one.
 */
static __always_inline void delete_flow(const struct kanary_flow_key *fk,
					const struct kanary_flow *f)
{
	struct kanary_flow_key rk = {};
	struct kanary_flow *rev;

	twin_key(f, &rk);
	rev = bpf_map_lookup_elem(&kn_flows, &rk);
	if (rev && rev->daddr == fk->saddr && rev->dport == fk->sport)
		bpf_map_delete_elem(&kn_flows, &rk);
	bpf_map_delete_elem(&kn_flows, fk);
}

/* First FIN or RST of a connection: stamp both of its entries. */
static __always_inline void mark_closed(struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;
	__u64 now = bpf_ktime_get_ns();

	f->closed_ns = now;
	twin_key(f, &tk);
	twin = bpf_map_lookup_elem(&kn_flows, &tk);
	if (twin && !twin->closed_ns)
		twin->closed_ns = now;
}

#endif /* KANARY_BPF_NAT_H */
