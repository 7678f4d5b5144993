/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The packet tests' harness: see harness.c. */
#ifndef KANARY_TEST_HARNESS_H
#define KANARY_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "apply.h"
#include "compile.h"
#include "config.h"
#include "kanary.skel.h"
#include "kanary_hash.h" /* the data path's hashes, draws, record ports */
#include "pkt.h"

#define VIP "198.18.0.1"
#define CLIENT "198.18.0.2"
#define EP1 "198.18.1.2" /* resnet50 */
#define EP2 "198.18.2.2" /* resnet50 */
#define EP3 "198.18.3.2" /* resnet101 */
#define XDP_TX_ 3
#define XDP_REDIRECT_ 4
#define XDP_PASS_ 2
#define XDP_DROP_ 1
#define TC_ACT_OK_ 0
#define TC_ACT_SHOT_ 2
#define TC_ACT_REDIRECT_ 7

extern struct kanary_bpf *skel;
extern struct kn_maps maps;
extern bool use_tc;

void sh(const char *cmd);
void load(void);
void read_lab(struct kn_config *cfg, const char *vs_file);
int apply_config(struct kn_config *cfg, struct kn_err *err);
void apply_vs(const char *vs_file);
void apply_rules(const char *vs);
int apply_weights(char *w50, char *w101, const char *extra_yaml,
		  struct kn_err *err);
void setup_xdp(void);
void setup_tc(void);
void teardown(void);
int run_on(const char *ifname, struct pkt_buf *in, struct pkt_buf *out);
int run(struct pkt_buf *in, struct pkt_buf *out);
int redirected(void);
/* A frame sent back out of the interface it came in by: XDP_TX, or tc's
 * redirect to that interface. */
int sent_back(void);
/* run_on, as tc, whatever the test's mode (what XDP passes on). */
int run_tc_on(const char *ifname, struct pkt_buf *in, struct pkt_buf *out);
/* A frame the program sent, decoded; its checksums must be valid. */
void decode(const struct pkt_buf *b, struct pkt_seg *s);
/* A client's SYN (CLIENT:sport -> VIP:80, ISN isn, options opts of
 * optlen bytes, Linux's window) through the program: its verdict, and
 * what left in *out. */
int vip_syn(uint16_t sport, uint32_t isn, const uint8_t *opts, size_t optlen,
	    struct pkt_buf *out);
int passed(void);
int dropped(void);
void expect_frame_untouched(struct pkt_buf *in, const char *what);
__u64 global_counter(__u32 which);
/* Conntrack entries, in kn_flows and in kn_conns' records. */
int flow_count(void);
/* Live entries in records (two per whole connection). */
int record_count(void);
/* Whether a record holds an entry at k (flow_has: anywhere). */
bool record_has(const struct kanary_flow_key *k);
void empty_pools(void);
void set_ejected(const struct kanary_flow_key *k);
struct kanary_flow flow_at(const struct kanary_flow_key *k);
void flow_put(const struct kanary_flow_key *k, const struct kanary_flow *v);
/* An L4 connection on client port cport, as its SYN left: t. */
struct l4_conn {
	uint16_t cport;
	struct pkt_tuple t;
};

/* A segment of c through the program, from the client or from the
 * endpoint (payload bytes of data): its verdict; where the endpoint's
 * went, in *t if not NULL. */
int l4_client_seg(const struct l4_conn *c, uint8_t flags, uint32_t seq,
		  uint32_t ack, size_t payload);
int l4_endpoint_seg(const struct l4_conn *c, uint8_t flags, uint32_t seq,
		    uint32_t ack, size_t payload, struct pkt_tuple *t);
/* The flow hash of CLIENT:cport -> VIP:80 (its SNAT draws, its
 * endpoint), the record it takes (bpf/conn.h), and the ones it takes in
 * turn when that one is taken (conn_alt_slot: second, third). */
uint32_t client_hash(uint16_t cport);
uint32_t client_slot(uint16_t cport);
uint32_t client_alt_slot(uint16_t cport);
uint32_t client_third_slot(uint16_t cport);
/*
 * Hold the record at slot s with a connection that is neither closed,
 * nor half-open, nor idle (seen in the future) and holds no port: a new
 * connection cannot take it, and goes to its other record, or to
 * kn_flows. It counts as two live entries.
 */
void hold_record(uint32_t s);
/* Hold the three records of CLIENT:cport: its SYN goes to kn_flows
 * (six live entries). hold_other_records: its second and third only. */
void hold_records(uint16_t cport);
void hold_other_records(uint16_t cport);
/* Whether a record or kn_flows has an entry at k. */
bool flow_has(const struct kanary_flow_key *k);
void http_stats(uint32_t row, struct kanary_http_stats *sum);
uint64_t code_count(uint32_t row, uint32_t code);

void set_reclaim_ns(__u64 ns);
__u64 mono_ns(void);

#define BOTH(name)                                           \
	Test(xdp, name, .init = setup_xdp, .fini = teardown) \
	{                                                    \
		name();                                      \
	}                                                    \
	Test(tc, name, .init = setup_tc, .fini = teardown)   \
	{                                                    \
		name();                                      \
	}

#endif
