/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Conntrack and full NAT. A connection is two entries, one per direction
 * (in one kn_conns record, or two kn_flows entries: conn.h), each
 * mapping the tuple a packet arrives with to the tuple it leaves with:
 *   client:cport -> vip:vport       =>  snat:sport -> endpoint:eport
 *   endpoint:eport -> snat:sport    =>  vip:vport  -> client:cport
 * Names, here and in every file that uses them: fk and f are the entry a
 * packet looked up (key, value), tk and twin the connection's other entry.
 */
#ifndef KANARY_BPF_NAT_H
#define KANARY_BPF_NAT_H

#include "maps.h"
#include "conn.h" /* twin_key, twin_of, flow_find, flow_delete */
#include "select.h" /* snat_draw_port, conn_port, conn_alt_slot */
#include "parse.h" /* TCP_FLAG_* */
#include "csum.h"
#include "clock.h"
#include "tcpopt.h" /* seg_tsval, syn_read */

#define SNAT_RANGE (KANARY_SNAT_PORT_MAX - KANARY_SNAT_PORT_MIN + 1)

/*
 * The endpoint holds old's connection in TIME_WAIT: both FINs seen, the
 * endpoint's first (or both at once), the client's acked.
 */
#define KANARY_FIN_TW_READY                                  \
	(KANARY_FIN_FROM_CLIENT | KANARY_FIN_FROM_ENDPOINT | \
	 KANARY_FIN_ENDPOINT_TW | KANARY_FIN_ACKED)

/*
 * Does the endpoint's TIME_WAIT of old take the SYN of the new connection
 * (f to the endpoint, twin to the client: its ISN and TSval) as a new
 * connection? As Linux decides (tcp_timewait_state_process): a SYN with a
 * TSval must pass PAWS and be newer than the TIME_WAIT's ts_recent, of
 * which old->tw_tsval is an upper bound; one without (or to a connection
 * that used none) must start after the old client's FIN, the TIME_WAIT's
 * rcv_nxt. A client's own next connection on the tuple passes (its TSval
 * offset and ISN clock are per tuple); another tuple's, about half the
 * time, even from the same host (Linux 6.18 draws a TSval offset per
 * connection: measured): the half that would get a bare ACK (PAWS) waits
 * or goes elsewhere.
 */
static __always_inline bool tw_takes_syn(const struct kanary_flow *old,
					 const struct kanary_flow *f,
					 const struct kanary_flow *twin)
{
	__u64 fin = old->fin;

	if ((fin & KANARY_FIN_TW_READY) != KANARY_FIN_TW_READY)
		return false;
	if (twin->syn_flags & KANARY_SYN_TS) {
		if (fin & KANARY_FIN_CLIENT_TS)
			return (__s32)(twin->syn_tsval - old->tw_tsval) > 0;
		/* The old client's TS option, if any, in a layout seg_tsval
		 * cannot read: PAWS may apply. */
		if (!(fin & KANARY_FIN_CLIENT_NO_TS))
			return false;
	} else if (!(twin->syn_flags & KANARY_SYN_NO_TS)) {
		return false; /* the SYN's own options unread */
	}
	return (__s32)(bpf_ntohl(f->syn_seq) - old->fin_seq) > 0;
}

/*
 * A port held by a connection closed (FIN or RST) longer ago than the
 * endpoint's TIME_WAIT, or by one still half-open KANARY_HALF_OPEN_NS
 * after its SYN (a spoofed SYN's; KANARY_HALF_OPEN_PRESSED_NS when
 * pressed), may be taken over: forget the old connection's to-client
 * entry (at k, holding the port) and its to-endpoint twin. Without this,
 * a port would stay taken until the LRU evicted it, which a table that
 * is not full never does. So may a closed one's sooner when the
 * endpoint's TIME_WAIT takes the new connection's SYN (f, twin) at once
 * (tw_takes_syn): counted.
 */
static __always_inline bool reclaim_port(const struct kanary_flow_key *k,
					 __u64 reclaim_ns, __u64 now,
					 bool pressed,
					 const struct kanary_flow *f,
					 const struct kanary_flow *twin)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *old, *old_twin;

	old = bpf_map_lookup_elem(&kn_flows, k);
	if (!old || !(old->closed_ns || old->open_ns))
		return false;
	if (old->closed_ns) {
		if (younger(now, old->closed_ns, reclaim_ns)) {
			if (!tw_takes_syn(old, f, twin))
				return false;
			count_global(KANARY_G_TW_TAKEOVER);
		}
	} else if (younger(now, old->open_ns,
			   pressed ? KANARY_HALF_OPEN_PRESSED_NS :
				     KANARY_HALF_OPEN_NS)) {
		return false;
	}
	twin_key(old, &tk);
	old_twin = bpf_map_lookup_elem(&kn_flows, &tk);
	if (twin_of(old_twin, k))
		bpf_map_delete_elem(&kn_flows, &tk);
	return true;
}

/*
 * create_flow's draw i found the port at tk taken: take it over if
 * reclaim_port may, inserting the new connection's to-client entry
 * twin. 1 if the port is now the new connection's. A function of its
 * own (global: verified once, not once per draw and caller), and only
 * called on a collision: the first draw of most SYNs finds its port free.
 */
__noinline int take_port(const struct kanary_flow_key *tk,
			 const struct kanary_flow *f,
			 const struct kanary_flow *twin, __u64 now, __u32 i)
{
	const struct kanary_cfg *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!tk || !f || !twin || !cfg)
		return 0;
	return reclaim_port(tk, cfg->reclaim_ns, now,
			    i >= KANARY_SNAT_TRIES / 4, f, twin) &&
	       !bpf_map_update_elem(&kn_flows, tk, twin, BPF_ANY);
}

/*
 * The two entries are built in per-CPU scratch, not on the stack: with
 * the L7 path's callers, two kanary_flow on the stack would pass the
 * 512 bytes a program and its subprograms may use together.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct kanary_flow);
} kn_flow_tmpl SEC(".maps");

/* A new entry whose packets leave as saddr:sport -> daddr:dport. */
static __always_inline void flow_init(struct kanary_flow *f, __be32 saddr,
				      __be32 daddr, __be16 sport, __be16 dport,
				      __u32 stats, __u8 dir, __u8 l7)
{
	__builtin_memset(f, 0, sizeof(*f));
	f->saddr = saddr;
	f->daddr = daddr;
	f->sport = sport;
	f->dport = dport;
	f->stats = stats;
	f->dir = dir;
	f->l7 = l7;
}

/*
 * A new connection's two entries, in per-CPU scratch, initialised for a
 * client at fk and endpoint ep: f to the endpoint (its source port, the
 * SNAT port, is set by create_flow), twin to the client. NULL if the
 * scratch is missing.
 */
static __always_inline struct kanary_flow *
flow_scratch(const struct kanary_flow_key *fk, const struct kanary_endpoint *ep,
	     __u32 stats, __u8 l7, struct kanary_flow **twin)
{
	struct kanary_flow *f;
	__u32 k0 = 0, k1 = 1;

	*twin = bpf_map_lookup_elem(&kn_flow_tmpl, &k0);
	f = bpf_map_lookup_elem(&kn_flow_tmpl, &k1);
	if (!*twin || !f)
		return NULL;
	flow_init(*twin, fk->daddr, fk->saddr, fk->dport, fk->sport, stats,
		  KANARY_DIR_TO_CLIENT, l7);
	flow_init(f, ep->snat_addr, ep->addr, 0, ep->port, stats,
		  KANARY_DIR_TO_ENDPOINT, l7);
	return f;
}

/* create_flow's answer when fk has an entry already: f's port is reserved
 * (f->sport set), or nothing is (0) */
#define CREATE_EXISTS (KANARY_G_MAX + 2)

/*
 * May a new connection (f to endpoint ep, twin to the client) take the
 * record rec (claim: as read), which holds another connection? As
 * reclaim_port lets a port go: closed past the endpoint's TIME_WAIT, or
 * before when that TIME_WAIT takes the SYN, which it sees only when the
 * new connection is to the same endpoint (then it has the same port);
 * half-open past KANARY_HALF_OPEN_NS. And, records having no LRU, idle
 * past KANARY_CONN_IDLE_NS. 0: no; 1: yes; 2: yes, from a TIME_WAIT.
 */
static __always_inline int
conn_takeable(const struct kanary_conn *rec, __u64 claim,
	      const struct kanary_endpoint *ep, const struct kanary_flow *f,
	      const struct kanary_flow *twin, __u64 reclaim_ns, __u64 now)
{
	const struct kanary_flow *to_ep = &rec->half[KANARY_DIR_TO_ENDPOINT];
	const struct kanary_flow *old = to_ep;

	if (claim & KANARY_CONN_BUSY)
		return 0;
	if (!(claim & KANARY_CONN_LIVE))
		return 1;
	/* The live entry: a gone one missed the later stamps. */
	if (claim & KANARY_CONN_TO_CLIENT)
		old = &rec->half[KANARY_DIR_TO_CLIENT];
	if (old->closed_ns) {
		if (!younger(now, old->closed_ns, reclaim_ns))
			return 1;
		return to_ep->daddr == ep->addr && to_ep->dport == ep->port &&
				       to_ep->saddr == ep->snat_addr &&
				       tw_takes_syn(old, f, twin) ?
			       2 :
			       0;
	}
	if (old->open_ns)
		return !younger(now, old->open_ns, KANARY_HALF_OPEN_NS);
	return !younger(now, rec->seen_ns, KANARY_CONN_IDLE_NS);
}

/*
 * The connection record rec held was its client's second or third choice
 * (KANARY_CONN_SECOND), and rec is claimed anew: the client's first
 * record counts it no more. Its to-client entry, kept until now, names
 * the client.
 */
static __always_inline void conn_alt_put(const struct kanary_conn *rec,
					 __u32 seed)
{
	struct kanary_flow_key ck = {};
	struct kanary_conn *first;
	__u32 s;

	twin_key(&rec->half[KANARY_DIR_TO_CLIENT], &ck);
	s = conn_first_slot(flow_hash(&ck, seed));
	first = bpf_map_lookup_elem(&kn_conns, &s);
	/* 0 only if something else wrote the word (an older kanary's
	 * claim, after a downgrade): not below 0, into the generation. */
	if (first && (*(volatile __u64 *)&first->claim & KANARY_CONN_ALT_MASK))
		__sync_fetch_and_sub(&first->claim, KANARY_CONN_ALT_ONE);
}

/* conn_claim_at's record is not the client's first choice (BPF calls take
 * five arguments: this one rides with the slot). */
#define CLAIM_SECOND (1u << 31)

/*
 * Record at (a slot, with CLAIM_SECOND when it is the client's second
 * choice) for the client at fk: 0 once f and twin are in it, f's SNAT
 * port set; -1 when it is taken; CREATE_EXISTS, nothing reserved, when
 * it holds fk's connection. Global: verified once, and its stack is its
 * own.
 *
 * The claim is one compare-and-swap, to KANARY_CONN_BUSY, and the entries
 * are written before the record is published live. kn_flows may hold
 * the record's port (an overflow connection's draw, or one carried over
 * by an upgrade) only if the record is marked KANARY_CONN_KN_FLOWS_ANY: the
 * mark is in the claim word, so a draw marking it after the claim was
 * read fails the compare-and-swap, and one after it sees the claim
 * (port_in_record). Then kn_flows is looked at, and an entry there that
 * reclaim_port would let go is forgotten. Marks set while the record is
 * busy are kept: it is published by flipping bits, not by a store.
 */
__noinline int conn_claim_at(const struct kanary_flow_key *fk,
			     const struct kanary_endpoint *ep,
			     struct kanary_flow *f,
			     const struct kanary_flow *twin, __u32 at)
{
	__u64 second = at & CLAIM_SECOND ? KANARY_CONN_SECOND : 0;
	__u32 s = at & ~CLAIM_SECOND;
	struct kanary_flow_key rk = { .proto = IPPROTO_TCP };
	const struct kanary_cfg *cfg;
	struct kanary_conn *rec;
	__u64 claim, next, now;
	__u32 zero = 0;
	int take;

	if (!fk || !ep || !f || !twin)
		return -1;
	rec = bpf_map_lookup_elem(&kn_conns, &s);
	cfg = bpf_map_lookup_elem(&kn_cfg, &zero);
	if (!rec || !cfg)
		return -1;
	now = coarse_now();
	rk.saddr = ep->addr;
	rk.daddr = ep->snat_addr;
	rk.sport = ep->port;
	claim = *(volatile __u64 *)&rec->claim;
	/* Another CPU's, for the same SYN (new_flow looked fk up first). */
	if ((claim & KANARY_CONN_TO_ENDPOINT) &&
	    twin_of(&rec->half[KANARY_DIR_TO_CLIENT], fk))
		return CREATE_EXISTS;
	take = conn_takeable(rec, claim, ep, f, twin, cfg->reclaim_ns, now);
	if (!take)
		return -1;
	next = (((claim >> KANARY_CONN_GEN_SHIFT) + 1)
		<< KANARY_CONN_GEN_SHIFT) |
	       (claim & (KANARY_CONN_KN_FLOWS_ANY | KANARY_CONN_ALT_MASK));
	if (__sync_val_compare_and_swap(&rec->claim, claim,
					next | KANARY_CONN_BUSY) != claim)
		return -1;
	/* The old connection is gone, whether or not this one is kept. */
	if (claim & KANARY_CONN_SECOND)
		conn_alt_put(rec, cfg->hash_seed);
	rk.dport = bpf_htons(conn_port(s, ep->addr, ep->snat_addr, ep->port));
	/* A kn_flows entry on the record's port holds it only while
	 * reclaim_port would not let that port go to a draw. Else a closed
	 * one would hold the record until a draw landed on its port, which
	 * an idle kn_flows never makes. */
	if ((claim & KANARY_CONN_KN_FLOWS_ANY) &&
	    bpf_map_lookup_elem(&kn_flows, &rk)) {
		if (!reclaim_port(&rk, cfg->reclaim_ns, now, false, f, twin)) {
			__sync_fetch_and_and(&rec->claim,
					     ~(__u64)KANARY_CONN_BUSY);
			return -1;
		}
		bpf_map_delete_elem(&kn_flows, &rk);
	}
	if (take == 2)
		count_global(KANARY_G_TW_TAKEOVER);
	f->sport = rk.dport;
	__builtin_memcpy(&rec->half[KANARY_DIR_TO_ENDPOINT], f, sizeof(*f));
	__builtin_memcpy(&rec->half[KANARY_DIR_TO_CLIENT], twin, sizeof(*twin));
	rec->seen_ns = now;
	/*
	 * The entries, then the claim. The fetching form on purpose: clang
	 * drops an unused result, and the kernel orders only the fetching
	 * atomics (on x86 both are a locked instruction; on arm64 only
	 * those are). The readers' side has no acquire (docs/
	 * conntrack-record.md).
	 */
	claim = __sync_fetch_and_xor(
		&rec->claim, KANARY_CONN_BUSY | KANARY_CONN_LIVE | second);
	asm volatile("" ::"r"(claim));
	return 0;
}

/*
 * The records of the client at fk (hash: its flow hash, as the endpoint
 * choice's): its first, else its second, else its third (conn_alt_slot).
 * The first counts the client (KANARY_CONN_ALT_ONE) before the others
 * are claimed, so that the client's next packet, which comes after the
 * endpoint's answer, finds it; the count is taken back if neither is
 * claimed. As conn_claim_at answers, for whichever record answered.
 */
__noinline int conn_claim(const struct kanary_flow_key *fk,
			  const struct kanary_endpoint *ep,
			  struct kanary_flow *f, const struct kanary_flow *twin,
			  __u32 hash)
{
	__u32 s = conn_first_slot(hash);
	struct kanary_conn *rec;
	int rc;

	rc = conn_claim_at(fk, ep, f, twin, s);
	if (rc != -1)
		return rc;
	rec = bpf_map_lookup_elem(&kn_conns, &s);
	if (!rec)
		return -1;
	__sync_fetch_and_add(&rec->claim, KANARY_CONN_ALT_ONE);
	rc = conn_claim_at(fk, ep, f, twin,
			   conn_alt_slot(hash, 1) | CLAIM_SECOND);
	if (rc == -1)
		rc = conn_claim_at(fk, ep, f, twin,
				   conn_alt_slot(hash, 2) | CLAIM_SECOND);
	if (rc)
		__sync_fetch_and_sub(&rec->claim, KANARY_CONN_ALT_ONE);
	return rc;
}

/*
 * Keep a connection's two entries, f at fk (to the endpoint) and its
 * twin (to the client), both filled in (flow_scratch) but for f's source
 * port: in the client's record (conn_claim; L4, l7 KANARY_L7_OFF), or,
 * when that is taken or for L7, in
 * kn_flows. There the SNAT port is reserved by inserting the twin with
 * BPF_NOEXIST: the map itself is the allocator, so two connections to
 * one endpoint never share a port, even when created on two CPUs at
 * once. 0 when f, as it is, is the connection's to-endpoint entry;
 * CREATE_EXISTS when fk has one already (a retransmitted SYN, a reused
 * client port, another CPU's), with f's port still reserved if
 * f->sport (see release_port); or a KANARY_G_* reason.
 */
static __always_inline int create_flow(const struct kanary_flow_key *fk,
				       const struct kanary_endpoint *ep,
				       struct kanary_flow *f,
				       const struct kanary_flow *twin,
				       __u32 hash, __u64 now, const __u8 l7)
{
	struct kanary_flow_key tk = {
		.saddr = ep->addr,
		.daddr = ep->snat_addr,
		.sport = ep->port,
		.proto = IPPROTO_TCP,
	};
	int i, rc;

	/* L7 connections stay in kn_flows: the L7 path never reads a
	 * record (handle). l7 is a constant: L7 callers carry no claim. */
	if (l7 == KANARY_L7_OFF) {
		rc = conn_claim(fk, ep, f, twin, hash);
		if (rc >= 0)
			return rc;
		count_global(KANARY_G_CONN_OVERFLOW);
		conn_hint(hash); /* fk is about to be in kn_flows */
	}
	for (i = 0; i < KANARY_SNAT_TRIES + KANARY_SNAT_RANDOM_TRIES; i++) {
		__u16 port;

		/* Keyed draws (snat_draw_port), the last ones random
		 * (KANARY_SNAT_RANDOM_TRIES). */
		if (i >= KANARY_SNAT_TRIES)
			port = KANARY_SNAT_PORT_MIN +
			       bpf_get_prandom_u32() % SNAT_RANGE;
		else
			port = snat_draw_port(hash, i);

		tk.dport = bpf_htons(port);
		if (bpf_map_update_elem(&kn_flows, &tk, twin, BPF_NOEXIST) &&
		    !take_port(&tk, f, twin, now, i))
			continue;
		/* Published, then checked: see conn_claim. */
		if (!port_in_record(&tk))
			goto reserved;
		bpf_map_delete_elem(&kn_flows, &tk);
	}
	return KANARY_G_SNAT_EXHAUSTED;

reserved:
	f->sport = tk.dport;
	if (bpf_map_update_elem(&kn_flows, fk, f, BPF_NOEXIST))
		return CREATE_EXISTS;
	return 0;
}

/* Let go of the SNAT port create_flow reserved for f (its twin entry),
 * if it reserved one: its CREATE_EXISTS. */
static __always_inline void release_port(const struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};

	if (!f->sport)
		return;
	twin_key(f, &tk);
	flow_delete(&tk);
}

/*
 * The client's first segment after the endpoint's SYN-ACK, on its
 * to-endpoint entry f (at fk): the handshake is complete, and the port no
 * longer reclaimable as half-open. Once per connection.
 */
static __always_inline void note_open(const struct kanary_flow_key *fk,
				      struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	f->open_ns = 0;
	twin_key(f, &tk);
	twin = flow_find(&tk);
	if (twin_of(twin, fk))
		twin->open_ns = 0;
}

/*
 * Forget both entries of a connection, given its to-endpoint entry. The
 * to-client entry goes only if it is still this connection's: its port
 * may have been reclaimed by another one.
 */
static __always_inline void delete_flow(const struct kanary_flow_key *fk,
					const struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	twin_key(f, &tk);
	twin = flow_find(&tk);
	if (twin_of(twin, fk))
		flow_delete(&tk);
	flow_delete(fk);
}

/* Set bits in the fin of f and of its twin (a TIME_WAIT's facts). */
static __always_inline void fin_or_both(struct kanary_flow *f, __u64 bits,
					bool tsval)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	if (bits)
		__sync_fetch_and_or(&f->fin, bits);
	twin_key(f, &tk);
	twin = flow_find(&tk);
	if (!twin)
		return;
	if (tsval)
		twin->tw_tsval = f->tw_tsval;
	if (bits)
		__sync_fetch_and_or(&twin->fin, bits);
}

/*
 * note_close, for a segment p other than an RST: what the endpoint's
 * TIME_WAIT will hold, for reclaim_port (tw_takes_syn). From the client:
 * its newest TSval (tw_tsval; KANARY_FIN_CLIENT_TS), or that it sends
 * none (KANARY_FIN_CLIENT_NO_TS: no option at all). From the endpoint:
 * that it acked the client's FIN (KANARY_FIN_ACKED). Both entries; a
 * twin lookup only when something changes, a few times per connection.
 */
static __always_inline void note_tw(struct kanary_flow *f, const struct pkt *p,
				    void *data_end)
{
	__u64 fin = f->fin;
	__u32 ts;

	if (f->dir == KANARY_DIR_TO_ENDPOINT) {
		if (seg_tsval(p, data_end, &ts)) {
			if ((fin & KANARY_FIN_CLIENT_TS) &&
			    (__s32)(ts - f->tw_tsval) <= 0)
				return;
			f->tw_tsval = ts;
			fin_or_both(f, ~fin & KANARY_FIN_CLIENT_TS, true);
		} else if (p->tcp->doff == 5 &&
			   !(fin & KANARY_FIN_CLIENT_NO_TS)) {
			fin_or_both(f, KANARY_FIN_CLIENT_NO_TS, false);
		}
		return;
	}
	if ((fin & (KANARY_FIN_FROM_CLIENT | KANARY_FIN_ACKED)) ==
		    KANARY_FIN_FROM_CLIENT &&
	    (p->flags & TCP_FLAG_ACK) &&
	    (__s32)(bpf_ntohl(p->tcp->ack_seq) - f->fin_seq) >= 0)
		fin_or_both(f, KANARY_FIN_ACKED, false);
}

/*
 * Closing. The first FIN or RST stamps both entries (closed_ns), and each
 * side's FIN is noted in both (fin). Returns true when the connection is
 * over and nobody needs its entries any more, so that the caller forgets
 * them once the packet is on its way:
 *  - an RST once the endpoint has answered: neither end keeps state for
 *    it (before, the client may still resend its SYN: see answered);
 *  - the client's ACK after both FINs, when the endpoint's FIN acked the
 *    client's (a passive close: the endpoint ends in CLOSED, the client
 *    holds the TIME_WAIT, on its own tuple, which kanary does not reuse).
 * When the endpoint closed first, or both at once, it holds a TIME_WAIT
 * on the SNAT port, so the entries stay until reclaim_port may take it;
 * what that TIME_WAIT will take is noted on the way (note_tw).
 */
static __always_inline bool note_close(struct kanary_flow *f,
				       const struct pkt *p, void *data_end)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;
	__u8 flags = p->flags;
	__u64 fin = 0;
	__u32 fin_seq = 0;

	if (flags & TCP_FLAG_FIN) {
		if (f->dir == KANARY_DIR_TO_ENDPOINT) {
			fin = KANARY_FIN_FROM_CLIENT;
			/* seq + payload + the FIN itself */
			fin_seq = bpf_ntohl(p->tcp->seq) + p->plen + 1;
		} else {
			fin = KANARY_FIN_FROM_ENDPOINT;
			if (!(f->fin & KANARY_FIN_FROM_CLIENT) ||
			    !(flags & TCP_FLAG_ACK) ||
			    (__s32)(bpf_ntohl(p->tcp->ack_seq) - f->fin_seq) <
				    0)
				fin |= KANARY_FIN_ENDPOINT_TW;
		}
		if (f->fin & fin &
		    (KANARY_FIN_FROM_CLIENT | KANARY_FIN_FROM_ENDPOINT))
			fin = 0; /* a retransmitted FIN */
	}
	if (fin || ((flags & TCP_FLAG_RST) && !f->closed_ns)) {
		__u64 now = coarse_now();

		if (!f->closed_ns)
			f->closed_ns = now;
		if (fin_seq)
			f->fin_seq = fin_seq;
		if (fin)
			__sync_fetch_and_or(&f->fin, fin);
		twin_key(f, &tk);
		twin = flow_find(&tk);
		if (twin) {
			if (!twin->closed_ns)
				twin->closed_ns = now;
			if (fin_seq)
				twin->fin_seq = fin_seq;
			if (fin)
				__sync_fetch_and_or(&twin->fin, fin);
		}
	}
	if (flags & TCP_FLAG_RST)
		return f->answered || f->l7 != KANARY_L7_OFF;
	note_tw(f, p, data_end);
	return !(flags & TCP_FLAG_FIN) && (flags & TCP_FLAG_ACK) &&
	       f->dir == KANARY_DIR_TO_ENDPOINT &&
	       (f->fin & (KANARY_FIN_FROM_CLIENT | KANARY_FIN_FROM_ENDPOINT |
			  KANARY_FIN_ENDPOINT_TW)) ==
		       (KANARY_FIN_FROM_CLIENT | KANARY_FIN_FROM_ENDPOINT);
}

/* The endpoint answered the connection's SYN: mark both entries. */
static __always_inline void note_answered(struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	f->answered = 1;
	twin_key(f, &tk);
	twin = flow_find(&tk);
	if (twin)
		twin->answered = 1;
}

/*
 * Forget the request head held for the client at fk (an L7 connection's):
 * its chunks, then its kn_head entry. Without the entry (evicted), the
 * chunks up to the first missing one. Global: verified once, and kept out
 * of the established path that closes connections.
 */
__noinline int drop_head(const struct kanary_flow_key *fk)
{
	struct kanary_hold_key hk = {};
	const struct kanary_head *h;
	__u32 n = KANARY_L7_MAX_CHUNKS, k;

	if (!fk)
		return 0;
	hk.flow = *fk;
	h = bpf_map_lookup_elem(&kn_head, fk);
	if (h)
		n = (h->len + KANARY_L7_CHUNK - 1) / KANARY_L7_CHUNK;
	for (k = 0; k < KANARY_L7_MAX_CHUNKS; k++) {
		if (k >= n)
			break;
		hk.chunk = k;
		if (bpf_map_delete_elem(&kn_hold, &hk) && !h)
			break;
	}
	bpf_map_delete_elem(&kn_head, fk);
	return 0;
}

/*
 * Forget a connection given either entry: both entries, and its hold.
 * kn_flows is preallocated, kn_conns an array: an entry deleted on one
 * CPU can be reused at once for another connection while this CPU still holds a pointer to
 * it (two packets of a closing connection, one per CPU). So the entry is
 * looked up again by its key first: if it is gone or replaced, another
 * CPU has forgotten the connection already, and f must not be trusted.
 */
static __always_inline void forget_conn(const struct kanary_flow_key *fk,
					struct kanary_flow *f)
{
	/* The connection's to-endpoint entry (ek, to_ep): f or its twin.
	 * Its key is kn_head's too. */
	struct kanary_flow_key ek = *fk;
	struct kanary_flow *to_ep = f;
	bool l7;

	if (flow_find(fk) != f)
		return;
	l7 = f->l7 != KANARY_L7_OFF;

	/* From a to-client entry kept for its endpoint's TIME_WAIT, the
	 * client's key may hold the client's next connection (twin_of). */
	if (f->dir == KANARY_DIR_TO_CLIENT) {
		twin_key(f, &ek);
		to_ep = flow_find(&ek);
		if (!twin_of(to_ep, fk))
			to_ep = NULL;
	}
	if (to_ep)
		delete_flow(&ek, to_ep);
	else
		flow_delete(fk);
	/* Without its to-endpoint entry, the head at the client's key is
	 * not this connection's: the client's next one may be reading it. */
	if (l7 && to_ep)
		drop_head(&ek);
}

/*
 * A SYN found f, the to-endpoint entry at fk, with another ISN: a new
 * connection reusing the client's port (the old one is closed or dead).
 * The old one is forgotten, and the SYN decided again, under today's
 * config. When the endpoint holds the old one in TIME_WAIT, only its
 * to-endpoint entry goes: the to-client one keeps the SNAT port for
 * reclaim_port (or its record for conn_takeable), which gives it to a
 * SYN that TIME_WAIT takes (this client's own, usually: its keyed draws
 * are the old connection's, its record the same). Freed, the port would
 * look free to any SYN, and about half of them would meet PAWS.
 * in_record: f is in a record, not in kn_flows.
 */
static __always_inline void forget_reused(const struct kanary_flow_key *fk,
					  struct kanary_flow *f,
					  const bool in_record)
{
	if ((f->fin & KANARY_FIN_TW_READY) != KANARY_FIN_TW_READY) {
		forget_conn(fk, f);
		return;
	}
	if (f->l7 != KANARY_L7_OFF)
		drop_head(fk);
	if (in_record)
		flow_delete(fk);
	else
		bpf_map_delete_elem(&kn_flows, fk);
}

/* Is f, found by a SYN p, another connection's (forget_reused)? */
static __always_inline bool reused_by(const struct kanary_flow *f,
				      const struct pkt *p)
{
	return f->dir == KANARY_DIR_TO_ENDPOINT && f->syn_seq != p->tcp->seq;
}

/*
 * The kn_flows lookup of a packet with tuple fk (a connection without a
 * record: handle looks in kn_conns first). A SYN that finds another
 * connection forgets it (forget_reused).
 */
static __always_inline struct kanary_flow *
lookup_flow(const struct kanary_flow_key *fk, const struct pkt *p, bool syn)
{
	struct kanary_flow *f = bpf_map_lookup_elem(&kn_flows, fk);

	if (f && syn && reused_by(f, p)) {
		forget_reused(fk, f, false);
		f = NULL;
	}
	return f;
}

/*
 * Rewrite addresses and ports to the flow's outgoing tuple and fix the IP
 * and TCP checksums. tc uses the kernel's csum helpers, which also keep a
 * CHECKSUM_COMPLETE/PARTIAL skb consistent; XDP frames carry full sums.
 */
static __always_inline void rewrite(void *ctx, const bool is_tc, struct pkt *p,
				    const struct kanary_flow *f, __u32 d_l7)
{
	__u32 d_addr =
		csum_diff_addrs(p->ip->saddr, p->ip->daddr, f->saddr, f->daddr);
	__u32 d_port = csum_add(csum_diff_ports(p->tcp->source, p->tcp->dest,
						f->sport, f->dport),
				d_l7);

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

#endif /* KANARY_BPF_NAT_H */
