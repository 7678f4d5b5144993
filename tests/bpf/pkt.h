/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Crafting and checking IPv4/TCP frames for BPF_PROG_TEST_RUN. */
#ifndef KANARY_TEST_PKT_H
#define KANARY_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 1600

struct pkt_spec {
	const char *saddr, *daddr;
	uint16_t sport, dport;
	uint8_t flags; /* TCP flags byte */
	uint32_t seq, ack;
	size_t payload; /* bytes of payload */
	uint8_t proto; /* 0: TCP */
	uint8_t ihl; /* 0: 5 */
	uint16_t frag_off; /* host order */
	int truncate; /* bytes cut off the end */
	const uint8_t *opts; /* TCP options, optlen bytes (a multiple of 4) */
	size_t optlen;
	const void *data; /* payload bytes (payload of them); NULL: a-z */
	uint16_t window; /* 0: 64240 */
};

struct pkt_buf {
	uint8_t data[PKT_MAX];
	size_t len;
};

void pkt_build(const struct pkt_spec *s, struct pkt_buf *b);

struct pkt_tuple {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* host order */
	uint8_t flags;
};

/* A TCP segment as the L7 checks read it, options decoded. */
struct pkt_seg {
	struct pkt_tuple t;
	uint32_t seq, ack;
	uint16_t window;
	uint8_t doff;
	int mss, ws, sack_ok; /* -1: absent */
	bool has_ts;
	uint32_t tsval, tsecr;
	uint32_t sack[8]; /* SACK block edges, in order */
	int n_sack;
	const uint8_t *payload; /* into the decoded buffer */
	size_t len;
};

/* Decode b into s; -1 when it is not IPv4/TCP with valid checksums and
 * well-formed options. */
int pkt_decode(const struct pkt_buf *b, struct pkt_seg *s);
/* NOP NOP TS(val, ecr): Linux's options on an established segment. */
void pkt_ts_opt(uint8_t o[12], uint32_t val, uint32_t ecr);

/* 0 when the frame is IPv4/TCP with a valid IP and TCP checksum. */
int pkt_check(const struct pkt_buf *b, struct pkt_tuple *t);
uint32_t pkt_addr(const char *dotted);
/*
 * Does b's TCP checksum read as one left to offload (the folded
 * pseudo-header sum alone)? A full checksum does by chance once in 65535
 * frames, and kanary's XDP program passes those to tc (bpf/csum.h).
 */
bool pkt_csum_looks_partial(const struct pkt_buf *b);

/* examples/lab, or $KANARY_LAB_DIR; run from the repository root. */
const char *pkt_lab_dir(void);

/*
 * Move the calling process into a network namespace of its own, with the
 * lab gateway's links: veths c0 (198.18.0.1/24) and e1..e3
 * (198.18.N.1/24), permanent neighbours for the client 198.18.0.2 and the
 * endpoints 198.18.N.2, and forwarding on, so that the kernel's FIB
 * answers the programs as on the lab's gateway. Gone when the process
 * exits. Returns 0, or -1 (needs root).
 */
int pkt_lab_netns(void);

/* kn_tx_ports (fd) as the loader fills it on the lab's gateway: every
 * link takes XDP frames. Returns 0, or -1. */
int pkt_fill_tx_ports(int fd);

#endif
