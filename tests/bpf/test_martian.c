// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Packets kanary must not forward (bpf/martian.h): each passes to the
 * kernel byte for byte, takes no flow and no SNAT port, and is counted.
 * Valid SYNs around them still make connections, so that the checks are
 * seen to refuse only what they should.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

static const struct pkt_spec syn = { .saddr = CLIENT,
				     .daddr = VIP,
				     .sport = 46000,
				     .dport = 80,
				     .flags = 0x02,
				     .seq = 1000 };

/* Linux's SYN options: MSS, SACK_PERM, TS, NOP, WS. */
static const uint8_t linux_opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					0, 1, 0,    0,	  0, 0, 1, 3,  3, 7 };

/* The frame passes untouched and nothing is made of it. */
static void expect_refused(struct pkt_buf *in, const char *what)
{
	__u64 before = global_counter(KANARY_G_PASS_INVALID);

	expect_frame_untouched(in, what);
	cr_assert_eq(flow_count(), 0, "%s: a flow was made", what);
	cr_assert_eq(global_counter(KANARY_G_NEW_FLOW), 0, "%s", what);
	cr_assert_eq(global_counter(KANARY_G_PASS_INVALID), before + 1,
		     "%s: not counted", what);
}

static void expect_spec_refused(const struct pkt_spec *s, const char *what)
{
	struct pkt_buf in;

	pkt_build(s, &in);
	expect_refused(&in, what);
}

/* The IP header's checksum made right again after an edit. */
static void fix_ip_csum(struct pkt_buf *b)
{
	uint8_t *ip = b->data + 14;
	uint32_t sum = 0;

	ip[10] = ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (ip[i] << 8) | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;
}

/* A SYN that must open a connection: forwarded, one flow more. */
static void expect_forwarded(const struct pkt_spec *s, const char *what)
{
	struct pkt_buf in, out;
	struct pkt_tuple t;
	int n = flow_count();

	pkt_build(s, &in);
	cr_assert_eq(run(&in, &out), redirected(), "%s: not forwarded", what);
	cr_assert_eq(pkt_check(&out, &t), 0, "%s", what);
	cr_assert_eq(flow_count(), n + 2, "%s: no connection", what);
}

static void martian_sources_pass(void)
{
	static const char *const srcs[] = {
		"0.0.0.0",	   "0.1.2.3",	  "127.0.0.1", "127.9.9.9",
		"224.0.0.1",	   "239.255.0.1", "240.0.0.1", "254.1.2.3",
		"255.255.255.255", VIP,
	};
	struct pkt_spec s = syn;

	apply_vs("virtualservice-weight-70.yaml");
	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		s.saddr = srcs[i];
		expect_spec_refused(&s, srcs[i]);
	}
	/* Neighbours of each range are ordinary clients. */
	s.saddr = "1.0.0.1";
	expect_forwarded(&s, "1.0.0.1");
	s.saddr = "223.255.255.254";
	expect_forwarded(&s, "223.255.255.254");
}

static void invalid_flags_pass(void)
{
	static const struct {
		uint8_t flags;
		const char *what;
	} bad[] = {
		{ 0x03, "SYN+FIN" },	 { 0x06, "SYN+RST" },
		{ 0x13, "SYN+FIN+ACK" }, { 0x0b, "SYN+FIN+PSH" },
		{ 0x00, "no flags" },	 { 0x01, "FIN without ACK" },
		{ 0x29, "FIN+PSH+URG" }, { 0x08, "PSH alone" },
	};
	struct pkt_spec s = syn;

	apply_vs("virtualservice-weight-70.yaml");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.flags = bad[i].flags;
		expect_spec_refused(&s, bad[i].what);
	}
	s.flags = 0x02 | 0x40 | 0x80; /* SYN with ECE and CWR: ECN setup */
	expect_forwarded(&s, "SYN+ECE+CWR");
}

static void bad_checksums_pass(void)
{
	struct pkt_spec s = syn;
	struct pkt_buf in;

	apply_vs("virtualservice-weight-70.yaml");
	pkt_build(&s, &in);
	in.data[14 + 10] ^= 0x01;
	expect_refused(&in, "bad IP checksum");

	pkt_build(&s, &in);
	in.data[14 + 20 + 16] ^= 0x40;
	expect_refused(&in, "bad TCP checksum");

	s.opts = linux_opts, s.optlen = sizeof(linux_opts);
	pkt_build(&s, &in);
	in.data[14 + 20 + 17] ^= 0x01;
	expect_refused(&in, "bad TCP checksum, with options");
	/* A byte of the options changed under the checksum. */
	pkt_build(&s, &in);
	in.data[14 + 20 + 20 + 3] ^= 0x10;
	expect_refused(&in, "options changed under the checksum");

	expect_forwarded(&s, "a Linux SYN, checksums right");
}

/* TTL 0 is never forwarded; TTL 1 is (kanary is the connection's end). */
static void ttl_zero_passes(void)
{
	struct pkt_spec s = syn;
	struct pkt_buf in, out;
	struct pkt_tuple t;

	apply_vs("virtualservice-weight-70.yaml");
	pkt_build(&s, &in);
	in.data[14 + 8] = 0;
	fix_ip_csum(&in);
	expect_refused(&in, "TTL 0");

	pkt_build(&s, &in);
	in.data[14 + 8] = 1;
	fix_ip_csum(&in);
	cr_assert_eq(run(&in, &out), redirected(), "TTL 1 not forwarded");
	cr_assert_eq(pkt_check(&out, &t), 0);
}

/* An 802.1Q-tagged SYN, the tag in the frame (as XDP, and tc's test run,
 * see it; the tag in the skb is the integration test's). */
static void vlan_tagged_syn_passes(void)
{
	struct pkt_buf in;

	apply_vs("virtualservice-weight-70.yaml");
	pkt_build(&syn, &in);
	memmove(in.data + 16, in.data + 12, in.len - 12);
	in.data[12] = 0x81, in.data[13] = 0x00; /* 802.1Q */
	in.data[14] = 0x00, in.data[15] = 0x07; /* VLAN 7 */
	in.len += 4;
	expect_frame_untouched(&in, "802.1Q-tagged SYN");
	cr_assert_eq(flow_count(), 0);
}

/*
 * An established flow: a segment with invalid flags or TTL 0 passes too,
 * and does not mark the connection closing (a FIN without ACK would).
 */
static void invalid_segment_on_flow_passes(void)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(syn.sport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct pkt_spec s = syn;
	struct pkt_buf in;

	apply_vs("virtualservice-weight-70.yaml");
	expect_forwarded(&s, "SYN");
	s.seq = 1001, s.ack = 9001;
	s.flags = 0x01; /* FIN without ACK */
	pkt_build(&s, &in);
	expect_frame_untouched(&in, "FIN without ACK on a flow");
	s.flags = 0x03; /* SYN+FIN */
	pkt_build(&s, &in);
	expect_frame_untouched(&in, "SYN+FIN on a flow");
	s.flags = 0x11; /* FIN+ACK, TTL 0 */
	pkt_build(&s, &in);
	in.data[14 + 8] = 0;
	fix_ip_csum(&in);
	expect_frame_untouched(&in, "TTL 0 on a flow");
	cr_assert_eq(flow_at(&fk).closed_ns, 0, "the flow was marked closing");
	cr_assert_eq(flow_at(&fk).fin, 0);
	cr_assert_eq(global_counter(KANARY_G_PASS_INVALID), 3);
}

BOTH(martian_sources_pass)
BOTH(invalid_flags_pass)
BOTH(bad_checksums_pass)
BOTH(ttl_zero_passes)
BOTH(vlan_tagged_syn_passes)
BOTH(invalid_segment_on_flow_passes)
