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
static __always_inline int create_flow(const struct kanary_flow_key *fk,
				       const struct kanary_endpoint *ep,
				       __u32 stats, __u32 hash, __u32 syn_seq)
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

/* Forget both entries of a connection, given its to-endpoint entry. */
static __always_inline void delete_flow(const struct kanary_flow_key *fk,
					const struct kanary_flow *f)
{
	struct kanary_flow_key rk = {
		.saddr = f->daddr,
		.daddr = f->saddr,
		.sport = f->dport,
		.dport = f->sport,
		.proto = IPPROTO_TCP,
	};

	bpf_map_delete_elem(&kn_flows, &rk);
	bpf_map_delete_elem(&kn_flows, fk);
}

#endif /* KANARY_BPF_NAT_H */
