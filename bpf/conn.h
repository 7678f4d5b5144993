/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Where a connection's two entries live: one record of kn_conns, or,
 * when its record was taken, two kn_flows entries (the overflow). Every
 * user of an entry finds it by key (flow_find) and forgets it by key
 * (flow_delete), whichever table holds it.
 *
 * A record is the one its client tuple hashes to (the keyed flow hash,
 * as the endpoint choice uses), or a second one when that was taken
 * (conn_alt_slot, KANARY_CONN_ALT_ONE), and its SNAT port the one whose reply
 * tuple names the same record (kanary_abi.h: KANARY_CONN_PORT_MIN), so
 * that the endpoint's replies find it from their own tuple, without a
 * hash table: the SYN writes one record instead of inserting two LRU
 * entries (docs/BENCHMARKS.md, "One record per connection"). For one
 * endpoint, port and record are one to one, so two records never share
 * a port to one endpoint; kn_flows entries and records never share one
 * either (conn_claim, port_in_record).
 */
#ifndef KANARY_BPF_CONN_H
#define KANARY_BPF_CONN_H

#include "maps.h"
#include "select.h" /* flow_hash, conn_port_slot, twin_key */
#include "clock.h"

/*
 * Is t, found at the twin key of the entry at fk, that connection's
 * other entry? Only if it leaves by fk's tuple reversed: a to-client
 * entry kept for its endpoint's TIME_WAIT (lookup_flow) outlives its
 * twin, and the client's next connection, to the same endpoint, may be
 * at that key.
 */
static __always_inline bool twin_of(const struct kanary_flow *t,
				    const struct kanary_flow_key *fk)
{
	return t && t->saddr == fk->daddr && t->daddr == fk->saddr &&
	       t->sport == fk->dport && t->dport == fk->sport;
}

/* The record a reply tuple k names by its port (KANARY_CONN_PORT_MIN and
 * up: see kanary_abi.h). */
static __always_inline __u32 conn_reply_slot(const struct kanary_flow_key *k,
					     __u32 port)
{
	return conn_port_slot(port, k->saddr, k->daddr, k->sport);
}

/*
 * A tuple to a record's port may be a reply or a client's (a VIP's port
 * may be one too); both are tried, in the likelier order first, which
 * saves reading a record that does not hold it. An endpoint replies from
 * its service port; clients send from ephemeral ports, 32768 and up on
 * Linux, Windows and macOS alike.
 */
#define CONN_CLIENT_PORT_MIN 32768

/* A record's entry, found by key: where, and the claim it was found
 * live under (conn_drop compares it). */
struct conn_ref {
	struct kanary_conn *rec;
	__u64 claim;
	__u64 bit; /* KANARY_CONN_TO_* of the entry */
};

/*
 * Is the record's entry dir live and at key k (the other entry's
 * outgoing tuple reversed)? With seen (a packet's own lookup, not a twin
 * lookup), the connection is alive: its idle clock starts again
 * (KANARY_CONN_IDLE_NS; written once a second at most).
 */
static __always_inline bool conn_holds(struct kanary_conn *rec,
				       const struct kanary_flow_key *k,
				       __u32 dir, int seen)
{
	__u64 claim, now;

	if (!rec)
		return false;
	claim = *(volatile const __u64 *)&rec->claim;
	if (!(claim & (1ULL << dir)) || !twin_of(&rec->half[dir ^ 1], k))
		return false;
	if (!seen)
		return true;
	now = coarse_now();
	if (!younger(now, rec->seen_ns, 1000000000ULL))
		rec->seen_ns = now;
	return true;
}

/* conn_slot's answer for k as a reply to a record's port: the record
 * that port names, if its to-client entry is at k; else -1. */
static __always_inline int conn_reply_at(const struct kanary_flow_key *k,
					 __u32 port, int seen)
{
	__u32 s = conn_reply_slot(k, port);

	if (conn_holds(bpf_map_lookup_elem(&kn_conns, &s), k,
		       KANARY_DIR_TO_CLIENT, seen))
		return s << 1 | KANARY_DIR_TO_CLIENT;
	return -1;
}

/*
 * Which record entry is at k: (slot << 1 | enum kanary_dir), or -1 for
 * none. A reply tuple to a record's port names its record by the port;
 * any tuple may be a client's, whose record is its hash's, or, while
 * that one counts clients in their others, its second or third
 * (conn_alt_slot, KANARY_CONN_ALT_ONE). A tuple to a record's port is
 * tried as a reply first unless it comes from a client's port
 * (CONN_CLIENT_PORT_MIN).
 * seen: see conn_holds. Global, returning a number, not a pointer:
 * verified once, however many callers find entries.
 */
__noinline int conn_slot(const struct kanary_flow_key *k, int seen)
{
	const struct kanary_cfg *cfg;
	struct kanary_conn *rec;
	__u32 zero = 0, s, port, hash;
	bool reply, reply_first;
	int at;

	if (!k)
		return -1;
	port = bpf_ntohs(k->dport);
	reply = conn_port_range(port);
	reply_first = reply && bpf_ntohs(k->sport) < CONN_CLIENT_PORT_MIN;
	if (reply_first && (at = conn_reply_at(k, port, seen)) >= 0)
		return at;
	cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!cfg)
		return -1;
	hash = flow_hash(k, cfg->hash_seed);
	s = conn_first_slot(hash);
	rec = bpf_map_lookup_elem(&kn_conns, &s);
	if (conn_holds(rec, k, KANARY_DIR_TO_ENDPOINT, seen))
		return s << 1 | KANARY_DIR_TO_ENDPOINT;
	if (rec &&
	    (*(volatile const __u64 *)&rec->claim & KANARY_CONN_ALT_MASK)) {
		for (__u32 n = 1; n <= 2; n++) {
			s = conn_alt_slot(hash, n);
			if (conn_holds(bpf_map_lookup_elem(&kn_conns, &s), k,
				       KANARY_DIR_TO_ENDPOINT, seen))
				return s << 1 | KANARY_DIR_TO_ENDPOINT;
		}
	}
	return reply && !reply_first ? conn_reply_at(k, port, seen) : -1;
}

/*
 * The record entry at k, or NULL; ref, if not NULL, says where; seen: a
 * packet's own lookup (conn_holds). Its half is picked by index, not by
 * a branch: the verifier then follows one record pointer, not one per
 * half, through everything that uses the entry.
 */
static __always_inline struct kanary_flow *
conn_find(const struct kanary_flow_key *k, struct conn_ref *ref, int seen)
{
	struct kanary_conn *rec;
	int at = conn_slot(k, seen);
	__u32 s, dir;

	if (at < 0)
		return NULL;
	s = (__u32)at >> 1;
	dir = at & 1;
	rec = bpf_map_lookup_elem(&kn_conns, &s);
	if (!rec)
		return NULL;
	if (ref) {
		ref->rec = rec;
		ref->claim = *(volatile __u64 *)&rec->claim;
		ref->bit = 1ULL << dir;
	}
	return &rec->half[dir];
}

/* The entry at k, in a record or in kn_flows; NULL if none. */
static __always_inline struct kanary_flow *
flow_find(const struct kanary_flow_key *k)
{
	struct kanary_flow *f = conn_find(k, NULL, 0);

	return f ? f : bpf_map_lookup_elem(&kn_flows, k);
}

/*
 * Let the entry ref found go; the record is free once neither entry is
 * live. Only under the claim it was found with: if another CPU has
 * freed and claimed the record since, the new connection stays. The
 * other entry's going at once is the only change retried.
 */
static __always_inline void conn_drop(const struct conn_ref *ref)
{
	__u64 claim = ref->claim, seen;

	seen = __sync_val_compare_and_swap(&ref->rec->claim, claim,
					   claim & ~ref->bit);
	if (seen == claim ||
	    (seen >> KANARY_CONN_GEN_SHIFT) !=
		    (claim >> KANARY_CONN_GEN_SHIFT) ||
	    !(seen & ref->bit))
		return;
	__sync_val_compare_and_swap(&ref->rec->claim, seen, seen & ~ref->bit);
}

/* The mark the data path sets now: the current epoch's
 * (KANARY_CONN_KN_FLOWS_ANY). */
static __always_inline __u64 conn_mark(void)
{
	__u32 zero = 0;
	const __u32 *epoch = bpf_map_lookup_elem(&kn_mark_epoch, &zero);

	return KANARY_CONN_MARK(epoch ? *(volatile const __u32 *)epoch : 0);
}

/* May kn_flows hold a connection of the client whose flow hash is hash
 * (KANARY_CONN_KN_FLOWS_ANY on its record)? */
static __always_inline bool conn_hinted(__u32 hash)
{
	__u32 s = conn_first_slot(hash);
	const struct kanary_conn *rec = bpf_map_lookup_elem(&kn_conns, &s);

	return !rec || (*(volatile const __u64 *)&rec->claim &
			KANARY_CONN_KN_FLOWS_ANY);
}

/* Mark the record of the client whose flow hash is hash: its client
 * now has a connection in kn_flows. */
static __always_inline void conn_hint(__u32 hash)
{
	__u32 s = conn_first_slot(hash);
	struct kanary_conn *rec = bpf_map_lookup_elem(&kn_conns, &s);
	__u64 mark = conn_mark();

	if (rec && !(rec->claim & mark))
		__sync_fetch_and_or(&rec->claim, mark);
}

/* Forget the entry at k, in a record or in kn_flows. */
static __always_inline void flow_delete(const struct kanary_flow_key *k)
{
	struct conn_ref ref;

	if (conn_find(k, &ref, 0))
		conn_drop(&ref);
	else
		bpf_map_delete_elem(&kn_flows, k);
}

/*
 * Does a record hold the SNAT port of the reply tuple rk (a port a
 * kn_flows entry is about to take)? Live or being written: either way,
 * the port is the record's. If not, the record learns that kn_flows may
 * hold one of its ports (KANARY_CONN_KN_FLOWS_ANY), before its claim word
 * is read: a claim on another CPU then either sees the mark, or is seen
 * here. Global: create_flow asks once per draw.
 */
__noinline int port_in_record(const struct kanary_flow_key *rk)
{
	struct kanary_conn *rec;
	__u32 s, port;
	__u64 claim;

	if (!rk)
		return 0;
	port = bpf_ntohs(rk->dport);
	if (!conn_port_range(port))
		return 0;
	s = conn_reply_slot(rk, port);
	rec = bpf_map_lookup_elem(&kn_conns, &s);
	if (!rec)
		return 0;
	claim = __sync_fetch_and_or(&rec->claim, conn_mark());
	if (claim & KANARY_CONN_BUSY)
		return 1;
	/* Either entry live: the to-endpoint one sends from the port. */
	return (claim & KANARY_CONN_LIVE) &&
	       twin_of(&rec->half[KANARY_DIR_TO_ENDPOINT], rk);
}

#endif /* KANARY_BPF_CONN_H */
