/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The data path's hashes (bpf/select.h, bpf/conn.h, bpf/nat.h), shared
 * with the tests and the loader, which must know where the data path
 * puts a connection: its endpoint, its SNAT port draws, its records, a
 * record's port and its halves' keys.
 */
#ifndef KANARY_HASH_H
#define KANARY_HASH_H

#include "kanary_abi.h"
#ifndef __bpf__
#include <stdbool.h>
#include <netinet/in.h> /* IPPROTO_TCP */
#endif

/* Inlined in BPF too, where a call would be a subprogram of its own. */
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* murmur3's 32-bit finalizer: every input bit flips about half the output. */
static __always_inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/* A client tuple's keyed hash: kanary_cfg.hash_seed is random per load. */
static __always_inline __u32 flow_hash(const struct kanary_flow_key *k,
				       __u32 seed)
{
	__u32 h = seed;

	h = mix32(h ^ k->saddr);
	h = mix32(h ^ k->daddr);
	h = mix32(h ^ (((__u32)k->sport << 16) | k->dport));
	return h;
}

/*
 * The SNAT port of a kn_flows connection's keyed draw i (of
 * KANARY_SNAT_TRIES) from its flow hash. A fresh draw per try: a fixed
 * stride is linear probing, whose busy clusters refused connections
 * from ~43 % occupancy (measured); independent draws hold to ~63 %.
 */
static __always_inline __u16 snat_draw_port(__u32 hash, __u32 i)
{
	__u32 h = i ? mix32(hash + i * 0x9e3779b9) : hash;

	return KANARY_SNAT_PORT_MIN +
	       h % (KANARY_SNAT_PORT_MAX - KANARY_SNAT_PORT_MIN + 1);
}

/* x (any 32 bits) scaled to a record, 0..KANARY_CONN_SLOTS - 1: a
 * multiply, not a division (the count is not a power of two). */
static __always_inline __u32 conn_scale(__u32 x)
{
	return (__u32)(((__u64)x * KANARY_CONN_SLOTS) >> 32);
}

/* A client's first record, from its flow hash (its high bits). */
static __always_inline __u32 conn_first_slot(__u32 hash)
{
	return conn_scale(hash);
}

/*
 * A client's other records, from its flow hash, tried in turn when the
 * first is taken: n 1, the same hash turned by 16 bits (its low bits);
 * n 2, the hash mixed again. Neither is the first, and the third is not
 * the second. Three choices instead of one: a window of 20000 new
 * connections finds all taken for 6 % of them, where 26 % found the
 * first taken (simulated; docs/conntrack-record.md).
 */
static __always_inline __u32 conn_alt_slot(__u32 hash, __u32 n)
{
	__u32 first = conn_first_slot(hash);
	__u32 second = conn_scale(hash << 16 | hash >> 16), s;

	/* KANARY_CONN_SLOTS is a multiple of 4: s ^ 1, s ^ 2 are records. */
	if (second == first)
		second ^= 1;
	if (n == 1)
		return second;
	s = conn_scale(mix32(hash ^ 0x9e3779b9));
	if (s == first || s == second)
		s ^= 2;
	if (s == first || s == second)
		s ^= 1;
	return s;
}

/* Is port (host order) a record's SNAT port? */
static __always_inline bool conn_port_range(__u32 port)
{
	return port >= KANARY_CONN_PORT_MIN && port <= KANARY_SNAT_PORT_MAX;
}

/* The key of a flow's other entry: its outgoing tuple, reversed (for a
 * to-client entry, the client's tuple: kn_head's and kn_synq's key; for
 * a record's half, the key of the other half). */
static __always_inline void twin_key(const struct kanary_flow *f,
				     struct kanary_flow_key *k)
{
	k->saddr = f->daddr;
	k->daddr = f->saddr;
	k->sport = f->dport;
	k->dport = f->sport;
	k->proto = IPPROTO_TCP;
}

/* What an endpoint's tuple (as its replies carry it) adds to a SNAT
 * port's place in the records' ports to name a record (bpf/conn.h):
 * 0..KANARY_CONN_SLOTS - 1. */
static __always_inline __u32 conn_offset(__be32 ep_addr, __be32 snat_addr,
					 __be16 ep_port)
{
	return conn_scale(mix32(ep_addr ^ snat_addr ^ ((__u32)ep_port << 16)));
}

/* The SNAT port (host order) of record s's connection to an endpoint:
 * the one whose reply tuple names s again (conn_port_slot). */
static __always_inline __u16 conn_port(__u32 s, __be32 ep_addr,
				       __be32 snat_addr, __be16 ep_port)
{
	__u32 off = conn_offset(ep_addr, snat_addr, ep_port);

	return KANARY_CONN_PORT_MIN +
	       (s >= off ? s - off : s + KANARY_CONN_SLOTS - off);
}

/* The record a SNAT port (host order, KANARY_CONN_PORT_MIN to
 * KANARY_SNAT_PORT_MAX) names for the endpoint it goes to. */
static __always_inline __u32 conn_port_slot(__u32 port, __be32 ep_addr,
					    __be32 snat_addr, __be16 ep_port)
{
	__u32 s = port - KANARY_CONN_PORT_MIN +
		  conn_offset(ep_addr, snat_addr, ep_port);

	return s >= KANARY_CONN_SLOTS ? s - KANARY_CONN_SLOTS : s;
}

#endif /* KANARY_HASH_H */
