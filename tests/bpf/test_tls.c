// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TLS passthrough on the L7 path: ClientHellos made by a real TLS library
 * (python's ssl, OpenSSL, through tests/tools/client_hello.py) sent as the
 * first segment to a Gateway port in PASSTHROUGH mode, routed by their
 * server name (bpf/tls.h).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "harness.h"

#define CLIENT_ISN 3000000u
#define CLIENT_TS 555000u
#define TLS_PORT 443

/* The Gateway's TLS server, and VirtualService tls routes after it. */
#define TLS_HEAD                                              \
	"apiVersion: networking.istio.io/v1alpha3\n"          \
	"kind: Gateway\n"                                     \
	"metadata: {name: tls-gateway}\n"                     \
	"spec:\n"                                             \
	"  selector: {istio: ingressgateway}\n"               \
	"  servers:\n"                                        \
	"  - port: {number: 443, name: tls, protocol: TLS}\n" \
	"    hosts: ['*']\n"                                  \
	"    tls: {mode: PASSTHROUGH}\n"                      \
	"---\n"                                               \
	"apiVersion: networking.istio.io/v1alpha3\n"          \
	"kind: VirtualService\n"                              \
	"metadata: {name: image-classifier-tls}\n"            \
	"spec:\n"                                             \
	"  hosts: ['*']\n"                                    \
	"  gateways: [tls-gateway]\n"                         \
	"  tls:\n"
#define DEST(subset, port)                                            \
	"    - destination: {host: image-classifier, subset: " subset \
	", port: {number: " port "}}\n"

/*
 * The wildcard route first: Envoy still picks the exact name for
 * a.example (the most specific server name wins, not the first route).
 * Everything else, no name included, takes `*`, on the other port.
 */
static const char routing[] = TLS_HEAD
	"  - match: [{port: 443, sniHosts: ['*.example']}]\n"
	"    route:\n" DEST(
		"resnet50",
		"8501") "  - match: [{sniHosts: [a.example, long-name.example]}]\n"
			"    route:\n" DEST(
				"resnet101",
				"8501") "  - match: [{sniHosts: ['*']}]\n"
					"    route:\n" DEST("resnet50", "8500");

/* MSS 1460, SACK_PERM, TS (CLIENT_TS, 0), NOP, WS 7: Linux's SYN. */
static const uint8_t syn_opts[20] = {
	2,    4,    0x05, 0xb4, 4, 2, 8, 10, 0x00, 0x08,
	0x78, 0x38, 0,	  0,	0, 0, 1, 3,  3,	   7,
};

/* A ClientHello from python's ssl: client_hello.py with args. */
static size_t hello(const char *args, uint8_t *buf, size_t cap)
{
	char cmd[512];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "python3 tests/tools/client_hello.py %s",
		 args);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "%s", cmd);
	n = fread(buf, 1, cap, f);
	cr_assert_eq(pclose(f), 0, "%s", cmd);
	cr_assert(n > 5 && buf[0] == 22, "%s: not a TLS record", cmd);
	return n;
}

static void apply_tls(const char *yaml)
{
	struct kn_config cfg;
	struct kn_err err;

	read_lab(&cfg, NULL);
	cr_assert_eq(kn_config_read_buffer(&cfg, "tls.yaml", yaml, strlen(yaml),
					   &err),
		     0, "%s", err.msg);
	cr_assert_eq(apply_config(&cfg, &err), 0, "%s", err.msg);
}

/*
 * SYN, handshake, then data as the first segment from port sport (cut
 * bytes of it, then the rest, when cut is not 0); the verdict on the
 * last, and in o what the program made of it.
 */
static int segments(uint16_t sport, const void *data, size_t len, size_t cut,
		    struct pkt_buf *o)
{
	struct pkt_spec s = { .saddr = CLIENT,
			      .daddr = VIP,
			      .sport = sport,
			      .dport = TLS_PORT,
			      .flags = 0x02,
			      .seq = CLIENT_ISN,
			      .opts = syn_opts,
			      .optlen = sizeof(syn_opts),
			      .window = 64240 };
	uint8_t opts[12];
	struct pkt_buf in, out;
	struct pkt_seg synack;

	pkt_build(&s, &in);
	cr_assert_eq(run(&in, &out), use_tc ? TC_ACT_REDIRECT_ : XDP_TX_,
		     "the SYN to the TLS port is not answered");
	cr_assert_eq(pkt_decode(&out, &synack), 0);
	pkt_ts_opt(opts, CLIENT_TS + 5, synack.tsval);
	s.flags = 0x18;
	s.seq = CLIENT_ISN + 1;
	s.ack = synack.seq + 1;
	s.data = data;
	s.payload = cut ? cut : len;
	s.opts = opts;
	s.optlen = sizeof(opts);
	s.window = 502;
	pkt_build(&s, &in);
	if (!cut)
		return run(&in, o);
	/* A ClientHello not whole yet: acked, and waited for. */
	cr_assert_eq(run(&in, o), use_tc ? TC_ACT_REDIRECT_ : XDP_TX_);
	cr_assert_eq(pkt_decode(o, &synack), 0);
	cr_assert_eq(synack.t.flags, 0x10, "cut %zu: not an ACK: %#x", cut,
		     synack.t.flags);
	cr_assert_eq(synack.ack, CLIENT_ISN + 1 + cut);
	s.seq = CLIENT_ISN + 1 + cut;
	s.data = (const uint8_t *)data + cut;
	s.payload = len - cut;
	pkt_build(&s, &in);
	return run(&in, o);
}

/*
 * Where data's connection went: "101", "50", "50:8500", "reset", "acked"
 * (not whole: waited for), "?"; sent in two segments when cut is not 0.
 */
static const char *routed_cut(uint16_t sport, const void *data, size_t len,
			      size_t cut)
{
	struct pkt_buf o;
	struct pkt_seg s;
	int v = segments(sport, data, len, cut, &o);

	cr_assert_eq(pkt_decode(&o, &s), 0, "bad frame");
	if (s.t.flags == 0x10 && s.t.daddr == pkt_addr(CLIENT))
		return "acked";
	/* tc sends a reset back by redirect too */
	if (s.t.flags & 0x04)
		return s.t.daddr == pkt_addr(CLIENT) ? "reset" : "?";
	if (v != redirected())
		return "?";
	cr_assert_eq(s.t.flags, 0x02, "not the SYN to the endpoint");
	cr_assert_eq(s.seq, CLIENT_ISN, "not the client's ISN");
	if (s.t.daddr == pkt_addr(EP3))
		return s.t.dport == 8501 ? "101" : "?";
	if (s.t.daddr != pkt_addr(EP1) && s.t.daddr != pkt_addr(EP2))
		return "?";
	return s.t.dport == 8501 ? "50" : s.t.dport == 8500 ? "50:8500" : "?";
}

static const char *routed(uint16_t sport, const void *data, size_t len)
{
	return routed_cut(sport, data, len, 0);
}

/* The SNI bytes of a hello, made upper case in place (no checksum). */
static void upper_sni(uint8_t *buf, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(buf + i, name, n))
			continue;
		for (size_t j = 0; j < n; j++)
			if (buf[i + j] >= 'a' && buf[i + j] <= 'z')
				buf[i + j] -= 'a' - 'A';
		return;
	}
	cr_assert_fail("%s is not in the ClientHello", name);
}

static void sni_exact_and_wildcard(void)
{
	static const struct {
		const char *args, *want;
	} cases[] = {
		{ "--sni a.example", "101" }, /* exact, before *.example */
		{ "--sni long-name.example", "101" },
		{ "--sni b.example", "50" }, /* *.example */
		{ "--sni x.y.example", "50" }, /* any depth */
		{ "--sni xa.example", "50" }, /* not a.example */
		{ "--sni example", "50:8500" }, /* not *.example: * */
		{ "--sni a.example.org", "50:8500" },
		{ "--sni a.exampl", "50:8500" },
		{ "--sni a.example --small", "101" },
		/* One handshake message in three records (RFC 8446 5.1). */
		{ "--sni a.example --records 3", "101" },
		/* 69 bytes: past the 64 kept, the suffix still matches. */
		{ "--sni "
		  "a-name-longer-than-the-sixty-four-bytes-kept-of-it-0123456789"
		  ".example",
		  "50" },
	};
	uint8_t buf[2048];
	uint16_t port = 50000;

	apply_tls(routing);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = hello(cases[i].args, buf, sizeof(buf));
		const char *got = routed(port++, buf, n);

		cr_assert_str_eq(got, cases[i].want, "%s (%zu bytes): %s",
				 cases[i].args, n, got);
	}
}

/* Server names are compared without case (RFC 6066, 4343). */
static void sni_case_insensitive(void)
{
	uint8_t buf[2048];
	size_t n;

	apply_tls(routing);
	n = hello("--sni a.example", buf, sizeof(buf));
	upper_sni(buf, n, "a.example");
	cr_assert_str_eq(routed(50100, buf, n), "101");
	n = hello("--sni b.example", buf, sizeof(buf));
	upper_sni(buf, n, "b.example");
	cr_assert_str_eq(routed(50101, buf, n), "50");
}

/*
 * No server name, not TLS at all: the `*` route. A ClientHello cut short
 * is acked and waited for.
 */
static void no_sni_and_not_tls_take_default(void)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
	uint8_t buf[2048];
	size_t n;

	apply_tls(routing);
	n = hello("", buf, sizeof(buf));
	cr_assert_str_eq(routed(50200, buf, n), "50:8500", "no SNI");
	cr_assert_str_eq(routed(50201, http, strlen(http)), "50:8500",
			 "plain HTTP");
	n = hello("--sni a.example", buf, sizeof(buf));
	cr_assert_str_eq(routed(50202, buf, 60), "acked", "cut short");
	buf[5] = 2; /* a ServerHello is not a ClientHello */
	cr_assert_str_eq(routed(50203, buf, n), "50:8500", "ServerHello");
}

/* A ClientHello over two segments, cut anywhere (in the record header,
 * in the server name), is routed by its name. */
static void sni_over_two_segments(void)
{
	uint8_t buf[2048];
	size_t n, cut[] = { 3, 60, 0 };
	char *name;

	apply_tls(routing);
	n = hello("--sni a.example", buf, sizeof(buf));
	name = memmem(buf, n, "a.example", 9);
	cr_assert_not_null(name);
	cut[2] = (uint8_t *)name - buf + 4;
	for (size_t i = 0; i < 3; i++)
		cr_assert_str_eq(routed_cut(50400 + i, buf, n, cut[i]), "101",
				 "cut at %zu", cut[i]);
	n = hello("--sni b.example", buf, sizeof(buf));
	cr_assert_str_eq(routed_cut(50410, buf, n, 60), "50");
}

/* Without a `*` route, what no route takes is reset, as on HTTP. */
static void no_default_resets(void)
{
	static const char yaml[] = TLS_HEAD
		"  - match: [{sniHosts: [a.example]}]\n"
		"    route:\n" DEST("resnet101", "8501");
	uint8_t buf[2048];
	uint64_t before;
	size_t n;

	apply_tls(yaml);
	before = global_counter(KANARY_G_L7_TLS_NO_ROUTE);
	n = hello("--sni a.example", buf, sizeof(buf));
	cr_assert_str_eq(routed(50300, buf, n), "101");
	n = hello("--sni b.example", buf, sizeof(buf));
	cr_assert_str_eq(routed(50301, buf, n), "reset");
	n = hello("", buf, sizeof(buf));
	cr_assert_str_eq(routed(50302, buf, n), "reset");
	cr_assert_str_eq(routed(50303, "GET / HTTP/1.0\r\n\r\n", 18), "reset");
	cr_assert_eq(global_counter(KANARY_G_L7_TLS_NO_ROUTE) - before, 3);
}

/* A tls route's weights split its connections, 70/30 here. */
static void sni_route_weights(void)
{
	static const char yaml[] = TLS_HEAD
		"  - match: [{sniHosts: [a.example]}]\n"
		"    route:\n" DEST(
			"resnet101",
			"8501") "  - match: [{sniHosts: [b.example]}]\n"
				"    route:\n" DEST("resnet50", "8501") "      weight: 70\n" DEST(
					"resnet101",
					"8501") "      weight: 30\n";
	uint8_t buf[2048];
	int n50 = 0, n101 = 0, total = 400;
	size_t n;

	apply_tls(yaml);
	n = hello("--sni b.example", buf, sizeof(buf));
	for (int i = 0; i < total; i++) {
		const char *got = routed(51000 + i, buf, n);

		n50 += !strcmp(got, "50");
		n101 += !strcmp(got, "101");
	}
	cr_assert_eq(n50 + n101, total);
	/* 70 % of 400 is 280, sigma 9.2: 5 sigma either way. */
	cr_assert(n50 >= 234 && n50 <= 326, "70/30 came out %d/%d", n50, n101);
	n = hello("--sni a.example", buf, sizeof(buf));
	for (int i = 0; i < 20; i++)
		cr_assert_str_eq(routed(52000 + i, buf, n), "101");
}

BOTH(sni_exact_and_wildcard)
BOTH(sni_case_insensitive)
BOTH(no_sni_and_not_tls_take_default)
BOTH(sni_over_two_segments)
BOTH(no_default_resets)
BOTH(sni_route_weights)
