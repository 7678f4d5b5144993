// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * One record per connection (bpf/conn.h): a new L4 connection takes the
 * record its client tuple hashes to, and the SNAT port that names the
 * same record from the endpoint's side; when that record is held, its
 * second record; when both are, two kn_flows entries instead (the
 * overflow).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flows.h"
#include "harness.h"

#define EP_ISN 9000

static struct kanary_flow_key client_key(uint16_t cport)
{
	return (struct kanary_flow_key){ .saddr = pkt_addr(CLIENT),
					 .daddr = pkt_addr(VIP),
					 .sport = htons(cport),
					 .dport = htons(80),
					 .proto = IPPROTO_TCP };
}

/* A client port after `after` (in 1024-65535, round), not cport,
 * whose first record is s. */
static uint16_t port_of_slot(uint32_t s, uint16_t cport, uint16_t after)
{
	for (uint32_t i = 1; i < 65536 - 1024; i++) {
		uint32_t p = 1024 + (after - 1024 + i) % (65536 - 1024);

		if (p != cport && client_slot(p) == s)
			return p;
	}
	cr_assert_fail("no client port's record is %u", s);
	return 0;
}

/* A client port after `after` whose record is cport's. */
static uint16_t colliding_port(uint16_t cport, uint16_t after)
{
	return port_of_slot(client_slot(cport), cport, after);
}

/* How many client ports (1024-65535) have each record as their first:
 * counts[s]; slots[p]: port p's first record. */
static void port_counts(uint32_t *counts, uint32_t *slots)
{
	memset(counts, 0, KANARY_CONN_SLOTS * sizeof(*counts));
	for (uint32_t p = 1024; p < 65536; p++) {
		slots[p] = client_slot(p);
		counts[slots[p]]++;
	}
}

/*
 * A client port from `from` whose first record is at least n client
 * ports' (itself included); with second, one whose second record is at
 * least n ports' first. The records are about as many as the client
 * ports of one address (kanary_abi.h), so not every record has company.
 */
static uint16_t crowded_port(uint32_t n, uint16_t from, bool second)
{
	static uint32_t counts[KANARY_CONN_SLOTS], slots[65536];

	port_counts(counts, slots);
	for (uint32_t p = from; p < 65536; p++)
		if (counts[second ? client_alt_slot(p) : slots[p]] >= n)
			return p;
	cr_assert_fail("no client port from %u has %u on its record", from, n);
	return 0;
}

static struct l4_conn syn(uint16_t cport, uint32_t isn)
{
	struct l4_conn c = { .cport = cport };
	struct pkt_buf out;

	cr_assert_eq(vip_syn(cport, isn, NULL, 0, &out), redirected(),
		     "SYN from %u", cport);
	cr_assert_eq(pkt_check(&out, &c.t), 0);
	return c;
}

static struct kanary_flow_key reply_key(const struct l4_conn *c)
{
	return (struct kanary_flow_key){ .saddr = c->t.daddr,
					 .daddr = c->t.saddr,
					 .sport = htons(c->t.dport),
					 .dport = htons(c->t.sport),
					 .proto = IPPROTO_TCP };
}

/* kn_flows' own entries (flow_count less the records'). */
static int lru_count(void)
{
	return flow_count() - record_count();
}

/* The record at slot s, mapped: kn_conns_unmap(recs) when done. */
static struct kanary_conn *record(uint32_t s, struct kanary_conn **recs)
{
	*recs = kn_conns_map(maps.fd[KN_MAP_CONNS]);
	cr_assert_not_null(*recs, "kn_conns: %s", strerror(errno));
	return &(*recs)[s];
}

/* How many clients the record at s counts in their second records. */
static uint64_t alt_count(uint32_t s)
{
	struct kanary_conn *recs, *r = record(s, &recs);
	uint64_t n = (r->claim & KANARY_CONN_ALT_MASK) >> KANARY_CONN_ALT_SHIFT;

	kn_conns_unmap(recs);
	return n;
}

/* The port a record's connection to the endpoint of t gets. */
static uint16_t record_port(uint32_t s, const struct pkt_tuple *t)
{
	return conn_port(s, t->daddr, t->saddr, htons(t->dport));
}

/* The endpoint's SYN-ACK to c, and the client's ACK: established. */
static void handshake(const struct l4_conn *c)
{
	cr_assert_eq(l4_endpoint_seg(c, 0x12, EP_ISN, 1001, 0, NULL),
		     redirected());
	cr_assert_eq(l4_client_seg(c, 0x10, 1001, EP_ISN + 1, 0), redirected());
}

/*
 * A SYN takes its record: both entries in it, none in kn_flows, the
 * port the one that names the record from the endpoint's side; the
 * endpoint's SYN-ACK finds the connection by it, and so does the
 * client's ACK.
 */
static void syn_takes_its_record(void)
{
	struct kanary_flow_key fk = client_key(46000);
	struct kanary_conn *recs, *r;
	struct pkt_tuple back;
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	c = syn(46000, 1000);
	cr_assert_eq(record_count(), 2);
	cr_assert_eq(lru_count(), 0);
	cr_assert_eq(c.t.sport, record_port(client_slot(46000), &c.t));
	r = record(client_slot(46000), &recs);
	cr_assert_eq(r->claim & (KANARY_CONN_LIVE | KANARY_CONN_BUSY),
		     KANARY_CONN_LIVE);
	cr_assert_eq(r->half[KANARY_DIR_TO_CLIENT].daddr, fk.saddr);
	cr_assert_eq(r->half[KANARY_DIR_TO_CLIENT].dport, fk.sport);
	kn_conns_unmap(recs);
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, &back),
		     redirected());
	cr_assert_eq(back.daddr, pkt_addr(CLIENT));
	cr_assert_eq(back.dport, 46000);
	cr_assert_eq(back.saddr, pkt_addr(VIP));
	cr_assert_eq(l4_client_seg(&c, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
}

/*
 * The records' ports go down to 1024 (kanary_abi.h), below the kn_flows
 * draws' 10000: SYNs from new client ports until one gets such a port
 * (a quarter of the records' ports are below 10000), and that
 * connection's SYN-ACK and ACK find it.
 */
static void record_port_below_the_draws(void)
{
	struct pkt_tuple back;
	struct l4_conn c;
	int i;

	apply_vs("virtualservice-weight-70.yaml");
	for (i = 0; i < 64; i++) {
		c = syn(46200 + i, 1000);
		if (c.t.sport < KANARY_SNAT_PORT_MIN)
			break;
	}
	cr_assert_lt(i, 64, "no record port below %d in 64 SYNs",
		     KANARY_SNAT_PORT_MIN);
	cr_assert_geq(c.t.sport, KANARY_CONN_PORT_MIN);
	cr_assert_eq(c.t.sport, record_port(client_slot(c.cport), &c.t));
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, &back),
		     redirected());
	cr_assert_eq(back.dport, c.cport);
	cr_assert_eq(l4_client_seg(&c, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
}

/*
 * A reply from an endpoint port of 32768 and up is tried as a client's
 * first (conn_slot's order), and found as a reply after. The lab's
 * endpoints serve on 8501: the connection's record is rewritten as one
 * to port 40000, at the record that port names.
 */
static void reply_from_a_client_like_port(void)
{
	struct kanary_conn *recs, *r, moved;
	struct pkt_tuple back;
	struct l4_conn c;
	uint32_t s, to;

	apply_vs("virtualservice-weight-70.yaml");
	c = syn(46300, 1000);
	s = client_slot(46300);
	c.t.dport = 40000;
	to = conn_port_slot(c.t.sport, c.t.daddr, c.t.saddr, htons(40000));
	r = record(s, &recs);
	moved = *r;
	moved.half[KANARY_DIR_TO_ENDPOINT].dport = htons(40000);
	r->claim &= ~(__u64)KANARY_CONN_LIVE;
	recs[to] = moved;
	kn_conns_unmap(recs);
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, &back),
		     redirected(), "the reply from port 40000 was not found");
	cr_assert_eq(back.daddr, pkt_addr(CLIENT));
	cr_assert_eq(back.dport, 46300);
}

/* All three records held: the connection goes to kn_flows, and works. */
static void held_records_overflow(void)
{
	struct kanary_flow_key fk = client_key(46010);
	struct pkt_tuple back;
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	hold_records(46010);
	c = syn(46010, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1);
	cr_assert_eq(lru_count(), 2);
	cr_assert_eq(record_count(), 6, "only the held records");
	cr_assert_eq(alt_count(client_slot(46010)), 0,
		     "the first record counts a second it did not get");
	cr_assert(flow_has(&fk));
	cr_assert_not(record_has(&fk));
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, &back),
		     redirected());
	cr_assert_eq(back.dport, 46010);
	cr_assert_eq(l4_client_seg(&c, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
}

/* The SYN of client port cport, its first record held. */
static struct l4_conn syn_first_held(uint16_t cport)
{
	apply_vs("virtualservice-weight-70.yaml");
	hold_record(client_slot(cport));
	return syn(cport, 1000);
}

/*
 * A held record: the SYN takes its client's second record, with the
 * port that names that one, and the first counts it (KANARY_CONN_ALT_ONE).
 * The endpoint's SYN-ACK and the client's ACK find the connection there;
 * nothing is in kn_flows.
 */
static void held_record_gives_the_second(void)
{
	struct kanary_flow_key fk = client_key(46090);
	uint32_t s = client_slot(46090), alt = client_alt_slot(46090);
	struct kanary_conn *recs, *r;
	struct pkt_tuple back;
	struct l4_conn c;

	c = syn_first_held(46090);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
	cr_assert_eq(lru_count(), 0);
	cr_assert_eq(record_count(), 4);
	cr_assert_eq(c.t.sport, record_port(alt, &c.t));
	cr_assert_eq(alt_count(s), 1);
	r = record(alt, &recs);
	cr_assert(r->claim & KANARY_CONN_SECOND);
	cr_assert_eq(r->half[KANARY_DIR_TO_CLIENT].dport, fk.sport);
	kn_conns_unmap(recs);
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, &back),
		     redirected());
	cr_assert_eq(back.dport, 46090);
	cr_assert_eq(l4_client_seg(&c, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
}

/*
 * The first and second records held: the SYN takes the third, with the
 * port that names it, counted by the first as the second would be; the
 * connection's packets find it there.
 */
static void held_records_give_the_third(void)
{
	uint32_t s = client_slot(46095), third = client_third_slot(46095);
	struct kanary_conn *recs, *r;
	struct pkt_tuple back;
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	hold_record(s);
	hold_record(client_alt_slot(46095));
	c = syn(46095, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
	cr_assert_eq(lru_count(), 0);
	cr_assert_eq(c.t.sport, record_port(third, &c.t));
	cr_assert_eq(alt_count(s), 1);
	r = record(third, &recs);
	cr_assert(r->claim & KANARY_CONN_SECOND);
	kn_conns_unmap(recs);
	handshake(&c);
	cr_assert_eq(l4_endpoint_seg(&c, 0x18, EP_ISN + 1, 1001, 10, &back),
		     redirected());
	cr_assert_eq(back.dport, 46095);
}

/*
 * The first record's mark outlives its claims: once its holder is gone
 * and another client has taken it, the connection in the second record
 * is still found by its client's packets.
 */
static void second_record_outlives_the_first_claim(void)
{
	uint16_t c1 = crowded_port(2, 46100, false);
	uint32_t s = client_slot(c1);
	uint16_t c2 = colliding_port(c1, c1);
	struct kanary_conn *recs, *r;
	struct l4_conn c;

	c = syn_first_held(c1);
	handshake(&c);
	r = record(s, &recs);
	r->claim &= ~(__u64)KANARY_CONN_LIVE; /* the holder is gone */
	kn_conns_unmap(recs);
	syn(c2, 1000);
	r = record(s, &recs);
	cr_assert_eq(r->half[KANARY_DIR_TO_CLIENT].dport, htons(c2),
		     "the first record went to another client");
	kn_conns_unmap(recs);
	cr_assert_eq(l4_client_seg(&c, 0x18, 1001, EP_ISN + 1, 10),
		     redirected(), "the second record's connection was lost");
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
}

/*
 * The first record counts a connection in the second until the second is
 * claimed again: then a lookup that misses the first reads it no more.
 */
static void second_record_claimed_again_is_uncounted(void)
{
	uint16_t c1 = crowded_port(1, 46110, true);
	uint32_t s = client_slot(c1), alt = client_alt_slot(c1);
	uint16_t c2 = port_of_slot(alt, c1, c1);
	struct l4_conn c;

	c = syn_first_held(c1);
	handshake(&c);
	cr_assert_eq(l4_client_seg(&c, 0x11, 1001, EP_ISN + 1, 0),
		     redirected());
	cr_assert_eq(l4_endpoint_seg(&c, 0x11, EP_ISN + 1, 1002, 0, NULL),
		     redirected());
	cr_assert_eq(l4_client_seg(&c, 0x10, 1002, EP_ISN + 2, 0),
		     redirected());
	cr_assert_eq(record_count(), 2, "only the held record");
	cr_assert_eq(alt_count(s), 1, "counted until claimed again");
	syn(c2, 1000);
	cr_assert_eq(alt_count(s), 0);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
}

/*
 * A record held by a half-open connection: a colliding SYN overflows
 * while the handshake is young, and takes the record once it is older
 * than KANARY_HALF_OPEN_NS; the old connection is then gone.
 */
static void half_open_record_is_taken(void)
{
	uint16_t c = crowded_port(3, 46020, false);
	uint16_t c2 = colliding_port(c, c);
	uint16_t c3 = colliding_port(c, c2);
	struct kanary_flow_key fk1 = client_key(c), rk1, fk3;
	struct kanary_flow v;
	struct l4_conn c1;

	apply_vs("virtualservice-weight-70.yaml");
	/* This is about the first record: the others' second ones held. */
	hold_other_records(c2);
	hold_other_records(c3);
	c1 = syn(c, 1000);
	rk1 = reply_key(&c1);
	syn(c2, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1,
		     "a young half-open record was taken");
	v = flow_at(&fk1);
	v.open_ns -= KANARY_HALF_OPEN_NS + 1000000;
	flow_put(&fk1, &v);
	v = flow_at(&rk1);
	v.open_ns -= KANARY_HALF_OPEN_NS + 1000000;
	flow_put(&rk1, &v);
	syn(c3, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1);
	fk3 = client_key(c3);
	cr_assert(record_has(&fk3));
	cr_assert_not(flow_has(&fk1));
	cr_assert_not(flow_has(&rk1));
}

/* Make the record at slot s look idle past KANARY_CONN_IDLE_NS. */
static void age_record(uint32_t s)
{
	struct kanary_conn *recs, *r = record(s, &recs);

	r->seen_ns = mono_ns() - KANARY_CONN_IDLE_NS - 1000000000ULL;
	kn_conns_unmap(recs);
}

/*
 * An established connection's record: kept while it is seen (a packet of
 * its own starts the idle clock again), taken by a colliding SYN once
 * idle past KANARY_CONN_IDLE_NS.
 */
static void idle_record_is_taken(void)
{
	uint16_t c = crowded_port(3, 46030, false);
	uint16_t c2 = colliding_port(c, c);
	uint16_t c3 = colliding_port(c, c2);
	struct kanary_flow_key fk3 = client_key(c3);
	struct kanary_conn *recs, *r;
	struct l4_conn c1;

	apply_vs("virtualservice-weight-70.yaml");
	hold_other_records(c2);
	hold_other_records(c3);
	c1 = syn(c, 1000);
	handshake(&c1);
	r = record(client_slot(c), &recs);
	cr_assert_eq(r->half[KANARY_DIR_TO_ENDPOINT].open_ns, 0);
	kn_conns_unmap(recs);
	age_record(client_slot(c));
	cr_assert_eq(l4_client_seg(&c1, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
	syn(c2, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1,
		     "a record seen a moment ago was taken");
	age_record(client_slot(c));
	syn(c3, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1);
	cr_assert(record_has(&fk3));
}

/* A passive close frees the record: nothing is left anywhere. */
static void close_frees_its_record(void)
{
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	c = syn(46040, 1000);
	handshake(&c);
	cr_assert_eq(l4_client_seg(&c, 0x11, 1001, EP_ISN + 1, 0),
		     redirected());
	cr_assert_eq(l4_endpoint_seg(&c, 0x11, EP_ISN + 1, 1002, 0, NULL),
		     redirected());
	cr_assert_eq(record_count(), 2);
	cr_assert_eq(l4_client_seg(&c, 0x10, 1002, EP_ISN + 2, 0),
		     redirected());
	cr_assert_eq(record_count(), 0);
	cr_assert_eq(flow_count(), 0);
}

/*
 * Hold every endpoint's port for the record at slot s in kn_flows, as
 * to-client entries (of an overflow connection, or carried over by an
 * upgrade) closed at closed_ns (0: open), and mark the records.
 */
static void block_record_ports(uint32_t s, uint64_t closed_ns)
{
	static const char *const eps[] = { EP1, EP2, EP3 };
	struct pkt_tuple t = {};

	for (int i = 0; i < 3; i++) {
		char gw[INET_ADDRSTRLEN];
		struct kanary_flow v = { .saddr = pkt_addr(VIP),
					 .daddr = pkt_addr("198.18.0.77"),
					 .sport = htons(80),
					 .dir = KANARY_DIR_TO_CLIENT,
					 .closed_ns = closed_ns };
		struct kanary_flow_key k = { .proto = IPPROTO_TCP };

		snprintf(gw, sizeof(gw), "198.18.%d.1", i + 1);
		t.daddr = pkt_addr(eps[i]);
		t.saddr = pkt_addr(gw);
		t.dport = 8501;
		k.saddr = t.daddr;
		k.daddr = t.saddr;
		k.sport = htons(8501);
		k.dport = htons(record_port(s, &t));
		v.dport = k.dport;
		cr_assert_eq(bpf_map_update_elem(maps.fd[KN_MAP_FLOWS], &k, &v,
						 BPF_NOEXIST),
			     0);
	}
	/* Entries the data path did not make: as after an upgrade. */
	cr_assert_eq(kn_conns_mark_kn_flows(maps.fd[KN_MAP_CONNS]), 0);
}

/* The SYN of client port cport, whose record's ports block_record_ports
 * held with entries closed at closed_ns. */
static struct l4_conn syn_on_blocked_record(uint16_t cport, uint64_t closed_ns)
{
	apply_vs("virtualservice-weight-70.yaml");
	block_record_ports(client_slot(cport), closed_ns);
	hold_other_records(cport); /* the first record's case */
	return syn(cport, 1000);
}

/*
 * A kn_flows entry of an open connection on the port a record would
 * give: the record is not taken, and the connection overflows to a port
 * of its own.
 */
static void kn_flows_port_keeps_the_record_free(void)
{
	uint32_t s = client_slot(46050);
	struct l4_conn c = syn_on_blocked_record(46050, 0);
	struct kanary_conn *recs, *r;

	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 1);
	cr_assert_eq(record_count(), 4, "only the held other records");
	cr_assert_neq(c.t.sport, record_port(s, &c.t));
	r = record(s, &recs);
	cr_assert_not(r->claim & KANARY_CONN_BUSY, "the record stayed busy");
	kn_conns_unmap(recs);
	cr_assert_eq(alt_count(s), 0, "counted a second it did not get");
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, NULL),
		     redirected());
}

/*
 * One closed past the endpoint's TIME_WAIT: the port may go, as a draw
 * would take it (reclaim_port), so the record is taken, and only that
 * endpoint's entry goes. Kept, it would hold the record until a draw
 * happened on its port: with an idle kn_flows, for ever.
 */
static void closed_kn_flows_port_gives_the_record(void)
{
	uint32_t s = client_slot(46080);
	struct l4_conn c = syn_on_blocked_record(46080, 1);

	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 0);
	cr_assert_eq(record_count(), 6, "its own and the two held");
	cr_assert_eq(c.t.sport, record_port(s, &c.t));
	cr_assert_eq(lru_count(), 2, "the other endpoints' entries stay");
	handshake(&c);
}

/*
 * An overflow marks its client's record (KANARY_CONN_KN_FLOWS): once the
 * record is free again, the client's retransmitted SYN still finds its
 * connection in kn_flows, instead of taking the record for a second one.
 */
static void overflow_marks_the_record(void)
{
	uint32_t s = client_slot(46070);
	struct kanary_conn *recs, *r;
	struct l4_conn c, again;

	apply_vs("virtualservice-weight-70.yaml");
	hold_records(46070);
	c = syn(46070, 1000);
	r = record(s, &recs);
	cr_assert(r->claim & KANARY_CONN_KN_FLOWS_ANY,
		  "the record was not marked");
	r->claim &= ~(__u64)KANARY_CONN_LIVE; /* the holder is gone */
	kn_conns_unmap(recs);
	again = syn(46070, 1000);
	cr_assert_eq(again.t.sport, c.t.sport, "a second connection");
	cr_assert_eq(again.t.daddr, c.t.daddr);
	cr_assert_eq(record_count(), 4, "only the held other records");
	cr_assert_eq(lru_count(), 2);
}

/* A SYN with another ISN on a record's client tuple: a new connection,
 * in the same record. */
static void new_isn_renews_the_record(void)
{
	struct kanary_flow_key fk = client_key(46060);

	apply_vs("virtualservice-weight-70.yaml");
	syn(46060, 1000);
	syn(46060, 777000);
	cr_assert_eq(record_count(), 2);
	cr_assert_eq(lru_count(), 0);
	cr_assert_eq(flow_at(&fk).syn_seq, htonl(777000));
}

/* The same in a second record: the first still counts one client. */
static void new_isn_renews_the_second_record(void)
{
	struct kanary_flow_key fk = client_key(46120);
	uint32_t s = client_slot(46120);
	struct l4_conn c;

	syn_first_held(46120);
	c = syn(46120, 777000);
	cr_assert_eq(record_count(), 4);
	cr_assert_eq(lru_count(), 0);
	cr_assert_eq(c.t.sport, record_port(client_alt_slot(46120), &c.t));
	cr_assert_eq(flow_at(&fk).syn_seq, htonl(777000));
	cr_assert_eq(alt_count(s), 1);
	cr_assert_eq(l4_client_seg(&c, 0x10, 777001, EP_ISN + 1, 0),
		     redirected());
}

/* Is the record at s marked (KANARY_CONN_KN_FLOWS_ANY)? */
static bool marked(uint32_t s)
{
	struct kanary_conn *recs, *r = record(s, &recs);
	bool m = r->claim & KANARY_CONN_KN_FLOWS_ANY;

	kn_conns_unmap(recs);
	return m;
}

static struct kn_sweep sweep(void)
{
	struct kn_sweep sw;

	cr_assert_eq(kn_conns_sweep_marks(&maps, &sw), 0, "sweep: %s",
		     strerror(errno));
	return sw;
}

/*
 * A sweep takes back the marks of kn_flows entries that are gone (here
 * deleted, as the LRU evicts them): the client's record and the one its
 * port names no longer make claims look in kn_flows.
 */
static void sweep_clears_marks_of_entries_gone(void)
{
	struct kanary_flow_key fk = client_key(46400), rk;
	uint32_t s = client_slot(46400), ps;
	struct kn_sweep sw;
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	hold_records(46400);
	c = syn(46400, 1000);
	rk = reply_key(&c);
	ps = conn_port_slot(c.t.sport, c.t.daddr, c.t.saddr, htons(c.t.dport));
	cr_assert(marked(s) && marked(ps), "the overflow marked nothing");
	cr_assert_eq(bpf_map_delete_elem(maps.fd[KN_MAP_FLOWS], &fk), 0);
	cr_assert_eq(bpf_map_delete_elem(maps.fd[KN_MAP_FLOWS], &rk), 0);
	sw = sweep();
	cr_assert_not(marked(s), "the client's record is still marked");
	cr_assert_not(marked(ps), "the port's record is still marked");
	cr_assert_geq(sw.cleared, 2);
}

/*
 * Marks of entries still in kn_flows outlive any number of sweeps, those
 * set before a sweep and those set after it (the other epoch's bit): the
 * client's retransmitted SYN still finds its connection in kn_flows once
 * its record is free, instead of taking the record for a second one.
 */
static void sweep_keeps_marks_of_live_entries(void)
{
	uint32_t s = client_slot(46410), s2 = client_slot(46420);
	struct kanary_conn *recs, *r;
	struct l4_conn c, c2, again;

	apply_vs("virtualservice-weight-70.yaml");
	hold_records(46410);
	c = syn(46410, 1000);
	sweep();
	hold_records(46420); /* marked in the new epoch */
	c2 = syn(46420, 1000);
	cr_assert_eq(global_counter(KANARY_G_CONN_OVERFLOW), 2);
	/* The data path marks with the epoch a sweep may not clear yet. */
	r = record(s2, &recs);
	cr_assert_eq(r->claim & KANARY_CONN_KN_FLOWS_ANY,
		     KANARY_CONN_KN_FLOWS_1, "not the new epoch's mark");
	kn_conns_unmap(recs);
	for (int i = 0; i < 3; i++) {
		sweep();
		cr_assert(marked(s) && marked(s2), "sweep %d took a mark", i);
	}
	r = record(s, &recs);
	r->claim &= ~(__u64)KANARY_CONN_LIVE; /* the holders are gone */
	recs[s2].claim &= ~(__u64)KANARY_CONN_LIVE;
	kn_conns_unmap(recs);
	again = syn(46410, 1000);
	cr_assert_eq(again.t.sport, c.t.sport, "a second connection");
	again = syn(46420, 1000);
	cr_assert_eq(again.t.sport, c2.t.sport, "a second connection");
}

BOTH(syn_takes_its_record)
BOTH(sweep_clears_marks_of_entries_gone)
BOTH(sweep_keeps_marks_of_live_entries)
BOTH(held_records_overflow)
BOTH(record_port_below_the_draws)
BOTH(reply_from_a_client_like_port)
BOTH(held_record_gives_the_second)
BOTH(held_records_give_the_third)
BOTH(second_record_outlives_the_first_claim)
BOTH(second_record_claimed_again_is_uncounted)
BOTH(half_open_record_is_taken)
BOTH(idle_record_is_taken)
BOTH(close_frees_its_record)
BOTH(kn_flows_port_keeps_the_record_free)
BOTH(closed_kn_flows_port_gives_the_record)
BOTH(new_isn_renews_the_record)
BOTH(new_isn_renews_the_second_record)
BOTH(overflow_marks_the_record)
