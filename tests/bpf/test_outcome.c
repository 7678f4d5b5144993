// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * HTTP outcomes (bpf/outcome.h) on the L4 path: request heads and status
 * lines of crafted segments of one connection, counted in kn_http and
 * kn_codes, the waiting request's time in the to-client entry. (The L7
 * path's: test_l7.c.)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "harness.h"

/* One L4 connection through the gateway, as the endpoint sees it. */
struct l4c {
	uint16_t cport, snat_port;
	char ep[INET_ADDRSTRLEN], snat[INET_ADDRSTRLEN], ifname[8];
	struct kanary_flow_key to_client; /* its to-client entry's key */
	uint32_t row; /* its stats row */
};

static int send_seg(const char *ifname, struct pkt_spec *s)
{
	struct pkt_buf in, out;
	struct pkt_tuple t;
	int v;

	pkt_build(s, &in);
	v = run_on(ifname, &in, &out);
	cr_assert_eq(v, redirected(), "verdict %d", v);
	cr_assert_eq(pkt_check(&out, &t), 0, "bad checksum after rewrite");
	cr_assert_eq(out.len, in.len, "the frame changed length");
	return v;
}

/* The client's segment with len bytes of data (flags PSH+ACK, or a pure
 * ACK when len is 0). */
static void from_client(const struct l4c *c, const void *data, size_t len)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = c->cport,
			      .dport = 80,
			      .flags = len ? 0x18 : 0x10,
			      .seq = 1001,
			      .ack = 2001,
			      .data = data,
			      .payload = len };

	send_seg("c0", &s);
}

static void from_ep(const struct l4c *c, const void *data, size_t len)
{
	struct pkt_spec s = { .saddr = c->ep,
			      .daddr = c->snat,
			      .sport = 8501,
			      .dport = c->snat_port,
			      .flags = len ? 0x18 : 0x10,
			      .seq = 2001,
			      .ack = 1001,
			      .data = data,
			      .payload = len };

	send_seg(c->ifname, &s);
}

/* SYN and SYN-ACK through the gateway: an answered L4 connection. */
static void l4_open(struct l4c *c, uint16_t cport)
{
	struct kanary_flow_key fk = { .saddr = pkt_addr(CLIENT),
				      .daddr = pkt_addr(VIP),
				      .sport = htons(cport),
				      .dport = htons(80),
				      .proto = IPPROTO_TCP };
	struct pkt_spec syn = { .saddr = CLIENT,
				.daddr = VIP,
				.sport = cport,
				.dport = 80,
				.flags = 0x02,
				.seq = 1000 };
	struct pkt_buf in, out;
	struct pkt_tuple t;

	memset(c, 0, sizeof(*c));
	c->cport = cport;
	pkt_build(&syn, &in);
	cr_assert_eq(run(&in, &out), redirected());
	cr_assert_eq(pkt_check(&out, &t), 0);
	inet_ntop(AF_INET, &t.daddr, c->ep, sizeof(c->ep));
	inet_ntop(AF_INET, &t.saddr, c->snat, sizeof(c->snat));
	snprintf(c->ifname, sizeof(c->ifname), "e%u",
		 (ntohl(t.daddr) >> 8) & 0xff);
	c->snat_port = t.sport;
	c->to_client = (struct kanary_flow_key){ .saddr = t.daddr,
						 .daddr = t.saddr,
						 .sport = htons(8501),
						 .dport = htons(t.sport),
						 .proto = IPPROTO_TCP };
	c->row = flow_at(&fk).stats;

	struct pkt_spec sa = { .saddr = c->ep,
			       .daddr = c->snat,
			       .sport = 8501,
			       .dport = c->snat_port,
			       .flags = 0x12,
			       .seq = 2000,
			       .ack = 1001 };
	send_seg(c->ifname, &sa);
}

static uint64_t req_ns(const struct l4c *c)
{
	return flow_at(&c->to_client).req_ns;
}

static void set_req_ns(const struct l4c *c, uint64_t ns)
{
	struct kanary_flow v = flow_at(&c->to_client);

	v.req_ns = ns;
	flow_put(&c->to_client, &v);
}

/* bpf_ktime_get_ns's clock */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void str_client(const struct l4c *c, const char *s)
{
	from_client(c, s, strlen(s));
}

static void str_ep(const struct l4c *c, const char *s)
{
	from_ep(c, s, strlen(s));
}

#define GET "GET /v1/models/resnet50 HTTP/1.1\r\nHost: x\r\n\r\n"
#define OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"

static void request_then_200(void)
{
	struct kanary_http_stats h;
	uint64_t before, t;
	struct l4c c;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46000);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 0);
	cr_assert_eq(req_ns(&c), 0, "a handshake is no request");

	before = now_ns();
	str_client(&c, GET);
	t = req_ns(&c);
	cr_assert(t >= before && t <= now_ns(), "req_ns %lu", (unsigned long)t);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 1);
	cr_assert_eq(h.responses, 0);

	str_ep(&c, OK);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 1);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(c.row, 200), 1);
	cr_assert_eq(req_ns(&c), 0, "the response did not clear req_ns");
	/* test_run is immediate: the first buckets (<= 5 ms, leaving room
	 * for a busy machine), and a sum that small. */
	uint64_t n = 0;

	for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
		n += h.duration[b];
	cr_assert_eq(n, 1, "one duration, in %lu buckets", (unsigned long)n);
	cr_assert_eq(h.duration[0] + h.duration[1] + h.duration[2], 1,
		     "an immediate response took more than 5 ms");
	cr_assert_lt(h.duration_sum_us, 5000);

	/* A second response without a request: not counted. */
	str_ep(&c, OK);
	http_stats(c.row, &h);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(c.row, 200), 1);
}

static void error_503_by_code(void)
{
	struct kanary_http_stats h;
	struct l4c c;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46001);
	str_client(&c, "POST /v1/models/x:predict HTTP/1.1\r\n\r\n");
	str_ep(&c, "HTTP/1.1 503 Service Unavailable\r\n\r\n");
	str_client(&c, GET);
	str_ep(&c, "HTTP/1.0 404 Not Found\r\n\r\n");
	str_client(&c, GET);
	str_ep(&c, "HTTP/1.1 599 \r\n\r\n");
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 3);
	cr_assert_eq(h.responses, 3);
	cr_assert_eq(code_count(c.row, 503), 1);
	cr_assert_eq(code_count(c.row, 404), 1);
	cr_assert_eq(code_count(c.row, 599), 1);
	cr_assert_eq(code_count(c.row, 200), 0);
}

static void continue_then_200(void)
{
	struct kanary_http_stats h;
	struct l4c c;
	uint64_t t;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46002);
	str_client(&c, "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
	t = req_ns(&c);
	str_ep(&c, "HTTP/1.1 100 Continue\r\n\r\n");
	cr_assert_eq(req_ns(&c), t, "100 Continue ended the request");
	http_stats(c.row, &h);
	cr_assert_eq(h.responses, 0);
	/* The body: not a request head. */
	str_client(&c, "{\"instances\": [1, 2, 3]}");
	cr_assert_eq(req_ns(&c), t);
	str_ep(&c, OK);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 1);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(c.row, 200), 1);
	cr_assert_eq(code_count(c.row, 100), 0);
}

static void response_without_request(void)
{
	struct kanary_http_stats h;
	struct l4c c;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46003);
	str_ep(&c, OK);
	str_ep(&c, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
	http_stats(c.row, &h);
	cr_assert_eq(h.responses, 0);
	cr_assert_eq(code_count(c.row, 200), 0);
	cr_assert_eq(code_count(c.row, 500), 0);
	/* The connection is counted all the same once a request comes. */
	str_client(&c, GET);
	str_ep(&c, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
	http_stats(c.row, &h);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(c.row, 500), 1);
}

static void every_method_and_nothing_else(void)
{
	static const char *const methods[] = {
		"GET / HTTP/1.1\r\n",
		"HEAD / HTTP/1.1\r\n",
		"POST / HTTP/1.1\r\n",
		"PUT / HTTP/1.1\r\n",
		"DELETE / HTTP/1.1\r\n",
		"CONNECT x:443 HTTP/1.1\r\n",
		"OPTIONS * HTTP/1.1\r\n",
		"TRACE / HTTP/1.1\r\n",
		"PATCH / HTTP/1.1\r\n",
		"GET ", /* 4 bytes: through the load helper */
	};
	static const char *const not [] = {
		"GETX / HTTP/1.1\r\n",
		"get / HTTP/1.1\r\n",
		"GET/ HTTP/1.1\r\n",
		"POSTS / HTTP/1.1\r\n",
		"OPTIONS", /* no space */
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
		" GET / HTTP/1.1\r\n",
		"DELET / HTTP/1.1\r\n",
		"CONNECTX",
		"PATCH",
		"G",
	};
	static const uint8_t binary[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
					  0x00, 0x01, 0xfc, 0x03, 0x03, 0x00,
					  0x47, 0x45, 0x54, 0x20 };
	struct kanary_http_stats h;
	struct l4c c;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46004);
	for (size_t i = 0; i < sizeof(not ) / sizeof(not [0]); i++) {
		str_client(&c, not [i]);
		http_stats(c.row, &h);
		cr_assert_eq(h.requests, 0, "'%s' counted as a request",
			     not [i]);
	}
	from_client(&c, binary, sizeof(binary));
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 0, "TLS counted as a request");
	cr_assert_eq(req_ns(&c), 0);

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		str_client(&c, methods[i]);
		http_stats(c.row, &h);
		cr_assert_eq(h.requests, i + 1, "'%s' not a request",
			     methods[i]);
	}
	cr_assert_neq(req_ns(&c), 0);
}

static void malformed_status_line(void)
{
	static const char *const bad[] = {
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/2 200 \r\n\r\n",
		"HTTP/1.1 200", /* 12 bytes, no space */
		"HTTP/1.1 200\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 099 X\r\n\r\n",
		"HTTP/1.1 600 X\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
	};
	struct kanary_http_stats h;
	struct l4c c;
	uint64_t t;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46005);
	str_client(&c, GET);
	t = req_ns(&c);
	cr_assert_neq(t, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		str_ep(&c, bad[i]);
		http_stats(c.row, &h);
		cr_assert_eq(h.responses, 0, "'%s' counted", bad[i]);
		cr_assert_eq(req_ns(&c), t, "'%s' cleared req_ns", bad[i]);
	}
	/* The shortest that counts: 13 bytes, through the load helper. */
	str_ep(&c, "HTTP/1.1 204 ");
	http_stats(c.row, &h);
	cr_assert_eq(h.responses, 1);
	cr_assert_eq(code_count(c.row, 204), 1);
}

static void pure_ack_touches_nothing(void)
{
	struct kanary_http_stats h;
	struct l4c c;
	uint64_t t;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46006);
	from_client(&c, NULL, 0);
	from_ep(&c, NULL, 0);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests + h.responses, 0);
	cr_assert_eq(req_ns(&c), 0);

	str_client(&c, GET);
	t = req_ns(&c);
	from_ep(&c, NULL, 0);
	from_client(&c, NULL, 0);
	cr_assert_eq(req_ns(&c), t);
	http_stats(c.row, &h);
	cr_assert_eq(h.requests, 1);
	cr_assert_eq(h.responses, 0);
}

/* Durations land in Istio's buckets: req_ns set back by a known time. */
static void duration_buckets(void)
{
	static const struct {
		uint64_t ago_ms;
		int bucket;
	} cases[] = {
		{ 3, 2 }, /* (1, 5] ms */
		{ 30, 5 }, /* (25, 50] */
		{ 2000, 10 }, /* (1000, 2500] */
		{ 4000000, 19 }, /* past 3600000: +Inf */
	};
	struct kanary_http_stats h;
	uint64_t sum_ms = 0;
	struct l4c c;

	apply_vs("virtualservice-weight-100.yaml");
	l4_open(&c, 46007);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		str_client(&c, GET);
		set_req_ns(&c, now_ns() - cases[i].ago_ms * 1000000ULL);
		str_ep(&c, OK);
		http_stats(c.row, &h);
		cr_assert_eq(h.duration[cases[i].bucket], 1,
			     "%lu ms not in bucket %d",
			     (unsigned long)cases[i].ago_ms, cases[i].bucket);
		sum_ms += cases[i].ago_ms;
	}
	cr_assert_eq(h.responses, 4);
	/* The sum in us: what was set, plus a little for the test's run. */
	cr_assert_geq(h.duration_sum_us, sum_ms * 1000);
	cr_assert_lt(h.duration_sum_us, sum_ms * 1000 + 20000);
}

BOTH(request_then_200)
BOTH(error_503_by_code)
BOTH(continue_then_200)
BOTH(response_without_request)
BOTH(every_method_and_nothing_else)
BOTH(malformed_status_line)
BOTH(pure_ack_touches_nothing)
BOTH(duration_buckets)
