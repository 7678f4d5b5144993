// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * RSTs on the L4 path (bpf/rst_guard.h): one at a sequence number the
 * connection expects ends it, as before; a blind one is dropped and the
 * connection goes on, from either side.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define EP_ISN 9000

/* SYN (ISN 1000), SYN-ACK (EP_ISN), ACK, 100 bytes of request, and the
 * endpoint's ACK of them: the client is at 1101, the endpoint at 9001. */
static struct l4_conn established(uint16_t cport)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = cport,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1000 };
	struct l4_conn c = { .cport = cport };
	struct pkt_buf in, out;

	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), redirected());
	cr_assert_eq(pkt_check(&out, &c.t), 0);
	cr_assert_eq(l4_endpoint_seg(&c, 0x12, EP_ISN, 1001, 0, NULL),
		     redirected());
	cr_assert_eq(l4_client_seg(&c, 0x10, 1001, EP_ISN + 1, 0),
		     redirected());
	cr_assert_eq(l4_client_seg(&c, 0x18, 1001, EP_ISN + 1, 100),
		     redirected());
	cr_assert_eq(l4_endpoint_seg(&c, 0x10, EP_ISN + 1, 1101, 0, NULL),
		     redirected());
	return c;
}

static bool flow_exists(uint16_t cport)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(cport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };

	return flow_has(&fk);
}

static __u64 closed_ns(uint16_t cport)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(cport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };

	return flow_at(&fk).closed_ns;
}

/* Blind RSTs from the client's side: dropped, the connection untouched. */
static void blind_client_rst_is_dropped(void)
{
	static const uint32_t wrong[] = { 0, 5555, 1100, 1102, 1001 + 65535 };
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	c = established(47000);
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		cr_assert_eq(l4_client_seg(&c, 0x04, wrong[i], 0, 0), dropped(),
			     "RST at %u not dropped", wrong[i]);
		cr_assert_eq(l4_client_seg(&c, 0x14, wrong[i], EP_ISN + 1, 0),
			     dropped(), "RST+ACK at %u not dropped", wrong[i]);
	}
	cr_assert(flow_exists(47000), "a blind RST ended the flow");
	cr_assert_eq(closed_ns(47000), 0, "a blind RST marked the flow");
	cr_assert_eq(global_counter(KANARY_G_RST_BLIND), 10);
	/* The connection goes on both ways. */
	cr_assert_eq(l4_client_seg(&c, 0x18, 1101, EP_ISN + 1, 10),
		     redirected());
	cr_assert_eq(l4_endpoint_seg(&c, 0x18, EP_ISN + 1, 1111, 10, NULL),
		     redirected());
}

/* Blind RSTs from the endpoint's side: the same. */
static void blind_endpoint_rst_is_dropped(void)
{
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	c = established(47010);
	cr_assert_eq(l4_endpoint_seg(&c, 0x04, 12345, 0, 0, NULL), dropped());
	cr_assert_eq(l4_endpoint_seg(&c, 0x14, EP_ISN + 2, 1101, 0, NULL),
		     dropped());
	cr_assert(flow_exists(47010));
	cr_assert_eq(closed_ns(47010), 0);
	cr_assert_eq(l4_client_seg(&c, 0x10, 1101, EP_ISN + 1, 0),
		     redirected());
	/* The endpoint's abort, at its own next sequence number. */
	cr_assert_eq(l4_endpoint_seg(&c, 0x14, EP_ISN + 1, 1101, 0, NULL),
		     redirected());
	cr_assert_not(flow_exists(47010));
}

/* The RST at the exact sequence number ends the connection, as before. */
static void exact_rst_ends_flow(void)
{
	struct l4_conn c;

	apply_vs("virtualservice-weight-70.yaml");
	/* The client's abort: its next sequence number, which the
	 * endpoint acked. */
	c = established(47020);
	cr_assert_eq(l4_client_seg(&c, 0x14, 1101, EP_ISN + 1, 0),
		     redirected());
	cr_assert_not(flow_exists(47020), "the exact RST did not end it");
	cr_assert_eq(l4_endpoint_seg(&c, 0x10, EP_ISN + 1, 1101, 0, NULL),
		     passed(), "the reply entry outlived the RST");

	/* An abort with data in flight: the client's own next sequence
	 * number, past what the endpoint has acked. */
	c = established(47021);
	cr_assert_eq(l4_client_seg(&c, 0x18, 1101, EP_ISN + 1, 50),
		     redirected());
	cr_assert_eq(l4_client_seg(&c, 0x14, 1151, EP_ISN + 1, 0),
		     redirected());
	cr_assert_not(flow_exists(47021));

	/* The answer of a stack without the connection: the endpoint's
	 * last ack, though the client had sent more. */
	c = established(47022);
	cr_assert_eq(l4_client_seg(&c, 0x18, 1101, EP_ISN + 1, 50),
		     redirected());
	cr_assert_eq(l4_client_seg(&c, 0x04, 1101, 0, 0), redirected());
	cr_assert_not(flow_exists(47022));
	cr_assert_eq(global_counter(KANARY_G_RST_BLIND), 0);
}

/*
 * The endpoint refusing the SYN (port closed): RST+ACK of the client's
 * ISN, before the client has acked anything. Its seq is 0: only the ack
 * can tell it from a blind one.
 */
static void refused_syn_rst_passes(void)
{
	struct l4_conn c = { .cport = 47030 };
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = c.cport,
			      .dport = 80,
			      .flags = 0x02,
			      .seq = 1000 };
	struct pkt_buf in, out;

	apply_vs("virtualservice-weight-70.yaml");
	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), redirected());
	cr_assert_eq(pkt_check(&out, &c.t), 0);
	cr_assert_eq(l4_endpoint_seg(&c, 0x14, 0, 4242, 0, NULL), dropped(),
		     "an RST acking another ISN passed");
	cr_assert_eq(l4_endpoint_seg(&c, 0x04, 0, 0, 0, NULL), dropped());
	cr_assert_eq(l4_endpoint_seg(&c, 0x14, 0, 1001, 0, NULL), redirected(),
		     "the endpoint's refusal was not passed on");
	cr_assert_eq(global_counter(KANARY_G_RST_BLIND), 2);
}

BOTH(blind_client_rst_is_dropped)
BOTH(blind_endpoint_rst_is_dropped)
BOTH(exact_rst_ends_flow)
BOTH(refused_syn_rst_passes)
