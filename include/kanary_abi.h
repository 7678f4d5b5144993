/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The ABI shared by the BPF data path and the userspace loader: map keys,
 * map values and limits. Every struct that crosses the user/kernel boundary
 * is declared here and only here.
 *
 * Byte order: addresses and ports are kept in network byte order (as they
 * stand in the packet); everything else is host order.
 *
 * Config is double-buffered: every config map is indexed by a slot (0 or 1).
 * The loader writes the inactive slot completely, then flips
 * kanary_cfg.active_slot; a packet reads the slot once, so it sees either
 * the old config or the new one, never half of each.
 */
#ifndef KANARY_ABI_H
#define KANARY_ABI_H

#ifdef __bpf__
#include "vmlinux.h"
#else
#include <linux/types.h>
#endif

#define KANARY_SLOTS 2

#define KANARY_MAX_IFACES 16 /* interfaces one load attaches to */
#define KANARY_MAX_VIPS 1024 /* (address, port) pairs, per slot */
#define KANARY_MAX_ROUTES 2048 /* per slot */
#define KANARY_MAX_DESTS 16 /* weighted destinations in one route */
#define KANARY_MAX_POOLS 4096 /* (service, subset, port) pools, per slot */
#define KANARY_MAX_ENDPOINTS 16384 /* per slot */
#define KANARY_MAX_POOL_ENDPOINTS 256 /* endpoints in one pool */
#define KANARY_MAX_STATS 4096 /* (VirtualService, subset) counter rows */
#define KANARY_NAME_LEN 64

/* Maglev lookup table size: prime, much larger than a pool's endpoints. */
#define KANARY_MAGLEV_SIZE 4093

/*
 * Source ports used for SNAT toward endpoints. Kept below the kernel's
 * default ephemeral range (32768-60999) so that the gateway's own
 * connections to an endpoint never take a port kanary hands out.
 */
#define KANARY_SNAT_PORT_MIN 10000
#define KANARY_SNAT_PORT_MAX 32767
#define KANARY_SNAT_TRIES 16
/*
 * Random draws after the KANARY_SNAT_TRIES keyed ones: those are the same
 * for every SYN of one client tuple (a retransmission, an L7 client's
 * first segment sent again), so a SYN refused because all 16 ports were
 * held would be refused again; these give its retries other ports.
 */
#define KANARY_SNAT_RANDOM_TRIES 4

/* kanary_cfg[0] */
struct kanary_cfg {
	__u32 active_slot; /* 0 or 1 */
	__u32 generation; /* bumped on every flip */
	__u32 hash_seed; /* keys the flow hash; random per load */
	/*
	 * L7: the longest request head (or TLS ClientHello) the gateway
	 * holds before it decides, in bytes; beyond it the client gets 431.
	 * Set by load (KANARY_L7_HEAD_DEFAULT, at most KANARY_L7_HEAD_CAP);
	 * 0, in maps of an older kanary, reads as the default.
	 */
	__u32 head_max;
	/* Rows of kn_endpoints in use per slot: apply clears only those. */
	__u32 slot_endpoints[KANARY_SLOTS];
	/*
	 * A closed connection's SNAT port may go to a new connection once
	 * this long has passed since its first FIN or RST: the endpoint's
	 * TIME_WAIT. Set by load (KANARY_RECLAIM_NS_DEFAULT).
	 */
	__u64 reclaim_ns;
};

#define KANARY_RECLAIM_NS_DEFAULT (60ULL * 1000000000ULL)

/*
 * A half-open L4 connection's port may be taken over this long after its
 * SYN: a handshake takes one round trip, and 1 s is a client's first
 * retransmission timeout (RFC 6298). Only a new connection that draws the
 * same port takes it, so an unhurried handshake is lost only then.
 */
#define KANARY_HALF_OPEN_NS (1000ULL * 1000000ULL)

/*
 * Under pressure (a new connection's first KANARY_SNAT_TRIES / 4 draws
 * all found their port taken: a spoofed SYN flood fills the port range
 * with half-open connections), the later draws take a half-open port
 * this long after its SYN: ~14000 usable ports per (gateway address,
 * endpoint) then hold a flood of about 56000 SYN/s per endpoint, where
 * 1 s held 14000. A real handshake slower than this may lose its port
 * while the pressure lasts (its client is then reset, and tries again).
 */
#define KANARY_HALF_OPEN_PRESSED_NS (250ULL * 1000000ULL)

/* kanary_vips: which (address, port) the gateway splits */
struct kanary_vip_key {
	__u32 slot;
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP */
	__u8 pad;
};

struct kanary_vip {
	__u32 route; /* index into the slot's routes (the L4 path) */
	/*
	 * KANARY_L7_NONE: the L4 path (route). Otherwise the port needs
	 * the request (match rules, or VirtualServices told apart by Host):
	 * every connection is bound late by the L7 path, and this is its
	 * row in kn_l7 (slot * MAX_L7 + l7).
	 */
	__u32 l7;
};

/* One weighted destination of a route: a pool and its share. */
struct kanary_dest {
	__u32 pool; /* index into the slot's pools */
	__u32 cum_weight; /* chosen when hash % total < cum_weight */
	__u32 stats; /* row in kanary_stats */
	__u32 pad;
};

/* kanary_routes[slot * KANARY_MAX_ROUTES + route] */
struct kanary_route {
	__u32 n_dests;
	__u32 total_weight; /* > 0 for a valid route */
	struct kanary_dest dests[KANARY_MAX_DESTS];
};

/* kanary_pools, a hash keyed by (slot, pool): the pool's Maglev table */
struct kanary_pool_key {
	__u32 slot;
	__u32 pool;
};

struct kanary_pool {
	__u32 n_endpoints;
	__u32 table[KANARY_MAGLEV_SIZE]; /* endpoint index in the slot */
};

/* kanary_endpoints[slot * KANARY_MAX_ENDPOINTS + endpoint] */
struct kanary_endpoint {
	__be32 addr;
	__be32 snat_addr; /* the gateway's own address toward addr */
	__be16 port;
	__u16 pad;
};

/*
 * kanary_flows: LRU conntrack, two entries per connection. The key is the
 * packet's tuple as it arrives; the value is the tuple it leaves with. The
 * same rewrite serves both directions.
 */
struct kanary_flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

enum kanary_dir {
	KANARY_DIR_TO_ENDPOINT = 0, /* client -> endpoint (request) */
	KANARY_DIR_TO_CLIENT = 1, /* endpoint -> client (reply) */
};

struct kanary_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 stats; /* row in kanary_stats */
	__u32 ifindex; /* egress; 0 until the neighbour is known */
	__u8 smac[6];
	__u8 dmac[6];
	__u8 dir; /* enum kanary_dir */
	__u8 l7; /* enum kanary_l7_state; KANARY_L7_OFF: an L4 connection */
	__u8 ws_ep; /* L7: the endpoint's window scale */
	__u8 ws_gw; /* L7: the window scale the gateway gave the client */
	/*
	 * The client's ISN (to-endpoint entries, as in the packet): a SYN
	 * with the same ISN is a retransmission, one with another ISN reuses
	 * the port for a new connection and gets a fresh decision. L7
	 * to-client entries: the client sequence number (host order) the
	 * endpoint must ack before the held first segment is let go.
	 */
	__u32 syn_seq;
	/* When the first FIN or RST of the connection was seen, either way
	 * (both entries are marked; bpf_ktime_get_coarse_ns); 0 while it is
	 * open. */
	__u64 closed_ns;
	/*
	 * L7 connections only; both entries hold the same values. The
	 * gateway answered the client's SYN itself with its own ISN and
	 * TSval, so the endpoint's sequence and timestamp spaces differ from
	 * what the client knows by a constant:
	 *   to-client:   seq += seq_delta, TSval += ts_delta,
	 *                window = (window << ws_ep) >> ws_gw
	 *   to-endpoint: ack -= seq_delta, SACK blocks -= seq_delta,
	 *                TSecr -= ts_delta
	 */
	__u32 seq_delta;
	__u32 ts_delta;
	/* The client's sequence number after its FIN, in both entries: an
	 * endpoint FIN that acks it comes from a passive close. */
	__u32 fin_seq;
	/*
	 * The endpoint's SYN-ACK has passed (L4; L7 connections are answered
	 * once spliced). An RST before it (a client refusing an endpoint's
	 * TIME_WAIT ACK) keeps the entries, so that the client's resent SYN
	 * finds its connection instead of counting as a new one.
	 */
	__u8 answered;
	/*
	 * Set by userspace (kn_flows_mark_ejected), in both entries, when
	 * health checking ejected the endpoint because it no longer answers:
	 * the client's next segment is answered with an RST from the gateway
	 * and the connection forgotten, instead of being forwarded into the
	 * void. The data path reads it in the to-endpoint entry only.
	 *
	 * answered, ejected and pad_ej were one __u32 answered (0 or 1)
	 * before: same size and offsets, and on little-endian the old value
	 * reads as answered with ejected 0.
	 */
	__u8 ejected;
	__u16 pad_ej;
	/*
	 * KANARY_FIN_* seen so far, in both entries, set with an atomic OR:
	 * the two FINs of a simultaneous close are handled on two CPUs at
	 * once, and a plain read-modify-write lost one (measured). 64 bits:
	 * clang's BPF target has no 32-bit atomic OR before -mcpu=v3.
	 */
	__u64 fin;
	/*
	 * HTTP outcomes (bpf/outcome.h), in the to-client entry only: when
	 * the first byte of the request now waiting for its response reached
	 * the gateway (bpf_ktime_get_ns), 0 when none waits. Set by a request
	 * head toward the endpoint, read and cleared by the response's status
	 * line: the request's duration, as Envoy's upstream time to first
	 * byte.
	 */
	__u64 req_ns;
	/*
	 * L4 connections, in both entries: when the client's SYN made the
	 * connection (bpf_ktime_get_coarse_ns); 0 once the client has sent a segment
	 * after the endpoint's SYN-ACK (the handshake is complete). A port
	 * held by a connection still half-open KANARY_HALF_OPEN_NS after its
	 * SYN may go to a new connection (reclaim_port): the handshakes of a
	 * spoofed SYN flood never complete, so it cannot keep the SNAT ports.
	 */
	__u64 open_ns;
	/*
	 * L4 connections (bpf/rst_guard.h), each entry about the packets it
	 * carries: the ack number of the last one with an ACK, as in the
	 * packet (what the other side's RST must start at; 0: none yet), and
	 * the sequence number after the furthest byte or flag its sender has
	 * sent (host order; what the sender's own RST starts at; 0: none yet).
	 */
	__be32 ack_seq;
	__u32 seq_next;
	/*
	 * Once the connection is closing, in both entries: the newest TSval
	 * the client sent since the first FIN (host order; valid with
	 * KANARY_FIN_CLIENT_TS), at least the ts_recent of the endpoint's
	 * TIME_WAIT. A SYN with a newer TSval passes that TIME_WAIT's PAWS
	 * check and is taken as a new connection (Linux:
	 * tcp_timewait_state_process), so the port may go to it at once
	 * (bpf/nat.h: tw_takes_syn).
	 */
	__u32 tw_tsval;
	/*
	 * In the to-client entry, what the SYN sent to the endpoint offered
	 * (syn_flags: KANARY_SYN_*), read by tw_takes_syn: the client's own
	 * SYN (L4), or the one kanary made (L7: the client's first segment's
	 * TSval). L4 with KANARY_SYN_KNOWN (Linux's option layout): also its
	 * MSS, window field and window scale (host order; 0xff: none), so
	 * that a SYN an endpoint's TIME_WAIT answers with a bare ACK can be
	 * sent again at once (bpf/kanary.bpf.c: l4_syn_again_tc).
	 */
	__u32 syn_tsval;
	__u16 syn_mss;
	__u16 syn_window;
	__u8 syn_wscale;
	__u8 syn_flags;
	__u16 pad_syn;
	/*
	 * kanary_flow only grows, at its end: a load over the pins of an
	 * older kanary carries its entries into the new kn_flows, the new
	 * fields zero (user/dataplane/upgrade.c), so that an upgrade keeps
	 * the established connections.
	 */
};

/*
 * One record per connection (bpf/conn.h): kn_conns holds
 * KANARY_CONN_SLOTS records, both of a connection's entries in one. A
 * new connection takes the record its client tuple hashes to
 * (conn_first_slot, kanary_hash.h), and the SNAT port whose reply tuple
 * names the same record:
 *   port = KANARY_CONN_PORT_MIN + ((s - offset(endpoint)) mod SLOTS)
 * so that these ports are 1024-32767, every port below Linux's ephemeral
 * range but the privileged ones: one per record, to each endpoint. When
 * that record is taken, it tries a second and a third one,
 * conn_alt_slot, the same way; when all are, it takes two kn_flows
 * entries instead (the overflow), as every connection did before
 * kn_conns. (16384 records, ports 16384-32767, two choices, until
 * 2026-12-08: a window of 20000 new connections then overflowed for
 * 31 %, now for 6 %; docs/conntrack-record.md.)
 */
#define KANARY_CONN_PORT_MIN 1024
#define KANARY_CONN_SLOTS (KANARY_SNAT_PORT_MAX + 1 - KANARY_CONN_PORT_MIN)
/*
 * A record whose connection sent nothing for this long may go to a new
 * one (kn_flows entries are evicted by the LRU instead). Longer than
 * Linux's default keepalive time (2 h), so that a connection that keeps
 * itself alive keeps its record.
 */
#define KANARY_CONN_IDLE_NS (3ULL * 3600ULL * 1000000000ULL)

/* kanary_conn.claim: which entries are live (by enum kanary_dir), or a
 * record being written; the generation, bumped per claim, above. */
#define KANARY_CONN_TO_ENDPOINT 0x1
#define KANARY_CONN_TO_CLIENT 0x2
#define KANARY_CONN_BUSY 0x4
#define KANARY_CONN_LIVE (KANARY_CONN_TO_ENDPOINT | KANARY_CONN_TO_CLIENT)
/*
 * kn_flows may hold a connection whose client tuple hashes to this
 * record, or a port that names it: a claim looks there first. Set by the
 * data path on an overflow (its client's record) and on a kn_flows draw
 * (that port's record), and on every record by a load that finds
 * kn_flows entries of a kanary without kn_conns, or carries an older
 * kn_conns into kn_flows (user/dataplane/upgrade.c). Without it, a claim
 * costs no hash lookup at all.
 *
 * Two bits, one per mark epoch (kn_mark_epoch): the data path sets the
 * current epoch's and reads both. A sweep (kn_conns_sweep_marks,
 * user/dataplane/flows.c) turns the epoch, waits for the programs that
 * read the old one, marks the records of every kn_flows entry with the
 * new one and clears the old one everywhere: a mark outlives the entries
 * it was for by one sweep, not for ever. KANARY_CONN_KN_FLOWS is epoch
 * 0's (an older kanary's only mark).
 */
#define KANARY_CONN_KN_FLOWS 0x8
#define KANARY_CONN_KN_FLOWS_1 0x20
#define KANARY_CONN_KN_FLOWS_ANY (KANARY_CONN_KN_FLOWS | KANARY_CONN_KN_FLOWS_1)
#define KANARY_CONN_MARK(epoch) \
	((epoch)&1 ? KANARY_CONN_KN_FLOWS_1 : KANARY_CONN_KN_FLOWS)
/*
 * This record's connection is its client's second or third choice
 * (conn_alt_slot): the record its client's tuple hashes to counts it
 * (KANARY_CONN_ALT_ONE) until this record is claimed again.
 */
#define KANARY_CONN_SECOND 0x10
/*
 * How many connections whose client tuples hash to this record are in
 * their second or third records, or were and those are not claimed
 * again yet: a client's lookup that misses here looks there only while
 * this is not 0.
 * Kept across claims.
 */
#define KANARY_CONN_ALT_SHIFT 16
#define KANARY_CONN_ALT_ONE (1ULL << KANARY_CONN_ALT_SHIFT)
#define KANARY_CONN_ALT_MASK (0xffffULL << KANARY_CONN_ALT_SHIFT)
#define KANARY_CONN_GEN_SHIFT 32

struct kanary_conn {
	__u64 claim;
	/* When a packet of the connection was last seen, to the second
	 * (bpf_ktime_get_coarse_ns): KANARY_CONN_IDLE_NS. */
	__u64 seen_ns;
	/* Indexed by enum kanary_dir; an entry's key is the other one's
	 * outgoing tuple reversed (bpf/conn.h: twin_key). */
	struct kanary_flow half[2];
};

enum kanary_l7_state {
	KANARY_L7_OFF = 0, /* an L4 connection */
	KANARY_L7_SYN_SENT, /* SYN sent to the endpoint, first segment held */
	KANARY_L7_REPLAYED, /* held segment replayed, kept until acked */
	KANARY_L7_SPLICED, /* translate both ways */
};

/* kanary_flow.fin: which sides have sent a FIN, and which one first. */
#define KANARY_FIN_FROM_CLIENT 0x01
#define KANARY_FIN_FROM_ENDPOINT 0x02
/* The endpoint sent its FIN before it had the client's: it closed first,
 * or both did at once, and holds a TIME_WAIT on the SNAT port. */
#define KANARY_FIN_ENDPOINT_TW 0x04
/* A segment of the client's since the first FIN carried a TSval
 * (tw_tsval holds the newest), or carried no option at all. */
#define KANARY_FIN_CLIENT_TS 0x08
#define KANARY_FIN_CLIENT_NO_TS 0x10
/* The endpoint acked the client's FIN: its rcv_nxt is fin_seq. */
#define KANARY_FIN_ACKED 0x20

/*
 * kanary_flow.syn_flags: what the SYN sent to the endpoint offered. A
 * SYN with neither KANARY_SYN_TS nor KANARY_SYN_NO_TS had options in a
 * layout kanary does not read: whether it had a TSval is unknown.
 */
#define KANARY_SYN_TS 0x01 /* a TSval: syn_tsval */
#define KANARY_SYN_NO_TS 0x02 /* surely no TSval */
#define KANARY_SYN_KNOWN 0x04 /* L4: options in a layout craft_syn makes */
#define KANARY_SYN_SACK 0x08 /* L4: SACK permitted */
/* L4: the endpoint's bare ACK to it was answered once (RST, SYN again) */
#define KANARY_SYN_RESENT 0x10

/* kanary_stats: per-CPU, one row per (VirtualService, subset) */
struct kanary_subset_stats {
	__u64 connections; /* new flows */
	__u64 packets_to_endpoint;
	__u64 bytes_to_endpoint;
	__u64 packets_to_client;
	__u64 bytes_to_client;
};

/*
 * HTTP outcomes per (VirtualService, subset): kn_http has the same rows as
 * kn_stats. The duration buckets are Istio's for
 * istio_request_duration_milliseconds (Envoy's default histogram bounds):
 * 0.5 1 5 10 25 50 100 250 500 1000 2500 5000 10000 30000 60000 300000
 * 600000 1800000 3600000 ms, and +Inf. Each bucket counts the responses
 * whose duration is <= its bound and > the bound before (not cumulative;
 * /metrics sums them as Prometheus wants).
 */
#define KANARY_DURATION_BOUNDS 19
#define KANARY_DURATION_BUCKETS (KANARY_DURATION_BOUNDS + 1) /* +Inf */

/* kn_http: per-CPU, one row per kn_stats row */
struct kanary_http_stats {
	__u64 requests; /* request heads sent toward the endpoint */
	__u64 responses; /* final responses (status >= 200) to a request */
	__u64 duration_sum_us; /* of the responses counted, microseconds */
	__u64 duration[KANARY_DURATION_BUCKETS];
};

/* kn_codes: per-CPU hash of __u64, final responses per status code */
struct kanary_code_key {
	__u32 stats; /* row in kanary_stats */
	__u32 code; /* 200..599 */
};

#define KANARY_MAX_CODES 16384 /* (row, status code) pairs counted */

/* kanary_stat_names: which (VirtualService, subset) a stats row counts */
struct kanary_stat_name {
	char virtualservice[KANARY_NAME_LEN]; /* namespace/name */
	char subset[KANARY_NAME_LEN];
};

/*
 * kanary_global: per-CPU counters of the slow path and of what the data
 * path did not route. Forwarded packets are counted per subset only, so
 * that an established packet touches no other counter.
 */
enum kanary_global_counter {
	KANARY_G_PASS_NOT_TCP = 0, /* not IPv4 TCP, or malformed: passed */
	KANARY_G_PASS_NO_FLOW, /* TCP, no flow, not a SYN to a VIP: passed */
	KANARY_G_NEW_FLOW,
	KANARY_G_NO_ROUTE, /* SYN to a VIP with an empty route: dropped */
	KANARY_G_NO_ENDPOINT, /* pool empty or stale: the client is reset */
	KANARY_G_SNAT_EXHAUSTED, /* no free SNAT port: dropped */
	KANARY_G_FIB_PASS, /* neighbour unknown: resolved through the kernel */
	KANARY_G_L7_SYN, /* SYN to an L7 VIP answered by the gateway */
	KANARY_G_L7_NO_SYN, /* segment for an L7 VIP with no half-open state */
	KANARY_G_L7_HEAD_ACKED, /* a segment of a request head not complete
				 * yet, held and acked by the gateway */
	/* No rule matched, no default: answered 404 (was: reset; the same
	 * event, so the same row across an upgrade). */
	KANARY_G_L7_ANSWER_404,
	KANARY_G_L7_EARLY, /* segment out of order, or past the head before
			    * the splice: dropped */
	KANARY_G_L7_REPLAY, /* held request head replayed to the endpoint */
	KANARY_G_L7_SYN_REFUSED, /* endpoint answered our SYN with a bare ACK
				  * (a TIME_WAIT on the port): reset it */
	KANARY_G_XDP_PARTIAL_CSUM, /* XDP: checksum left to offload: to tc */
	KANARY_G_XDP_NO_TX, /* XDP: egress takes no XDP frames: to tc */
	KANARY_G_EJECTED_RESET, /* client segment on a flow to an ejected
				 * endpoint: the client is reset */
	KANARY_G_PASS_INVALID, /* must not be forwarded (VLAN tag, TTL 0,
				* invalid flags; a SYN from a martian source
				* or with a bad checksum): passed */
	KANARY_G_RST_BLIND, /* L4: RST at a sequence number the connection
			     * does not expect: dropped, flow kept */
	KANARY_G_TW_TAKEOVER, /* SNAT port of a closed connection taken
			       * before reclaim_ns: the endpoint's TIME_WAIT
			       * takes the new SYN (TSval or ISN newer) */
	KANARY_G_L4_SYN_RESENT, /* L4: the endpoint answered the SYN with a
				 * bare ACK (a TIME_WAIT on the port): reset
				 * it, SYN sent again */
	KANARY_G_L7_ANSWER_431, /* request head over the limit: answered 431 */
	KANARY_G_L7_ANSWER_400, /* malformed request head: answered 400 */
	KANARY_G_L7_HOLD_LOST, /* L7: a held request head was lost (a chunk
				* evicted from kn_hold, or the config changed
				* while it was read): the client is reset */
	KANARY_G_L7_TLS_NO_ROUTE, /* TLS: no tls route takes the ClientHello,
				   * no `*` route (or it is over head_max):
				   * reset (not an HTTP answer) */
	KANARY_G_CONN_OVERFLOW, /* a new connection's record (kn_conns) was
				 * taken: it took two kn_flows entries */
	KANARY_G_SYN_RACE, /* a SYN dropped: another CPU was putting its
			    * connection in its record (that CPU sends it) */
	KANARY_G_MAX,
};

/*
 * kn_global's size, with room to spare: a pinned map is reused by the next
 * load only if its definition is unchanged, so a counter added by a newer
 * kanary must not change max_entries (it did from 16 to 17 once, and an
 * agent upgraded over the old pins would have been refused).
 */
#define KANARY_G_ROWS 64
_Static_assert(KANARY_G_MAX <= KANARY_G_ROWS, "kn_global is too small");

/*
 * The L7 path (delayed binding). A VIP whose port needs the request
 * (match rules, virtual hosts) is answered by the gateway: SYN-ACK from kn_synq state,
 * first segment parsed and held in kn_hold, SYN to the chosen endpoint
 * with the client's ISN, held segment replayed on the endpoint's SYN-ACK.
 */
#define KANARY_L7_NONE 0xffffffffu
#define KANARY_MAX_L7 256 /* L7 VIP tables, per slot */
#define KANARY_L7_MAX_BLOCKS 16 /* match blocks (plus catch-all routes) */
#define KANARY_L7_MAX_CONDS 32 /* conditions in one table, all blocks */
#define KANARY_L7_MAX_NAMES 8 /* distinct header names in one table */
#define KANARY_L7_NAME_LEN 32
#define KANARY_L7_VALUE_LEN 64
#define KANARY_MAX_RULES 4096 /* kn_rule_stats rows */

/*
 * What the gateway offers the client in its SYN-ACK: this MSS, and a
 * receive window of two such segments. Linux senders cut segments to half
 * the largest window the peer offered (tcp_bound_to_half_wnd): with a
 * window of one MSS, a Linux client's first segment was 730 bytes
 * (measured). With two, it is a full segment. Until the head is complete,
 * the gateway acks each segment and offers what is left of head_max.
 */
#define KANARY_L7_MSS 1460
#define KANARY_L7_WINDOW (2 * KANARY_L7_MSS)
/* The largest client segment the gateway takes before it decides (one MSS
 * and room for options it did not offer); a bigger one (GRO) is dropped. */
#define KANARY_L7_SEG_MAX 1536
/*
 * A held request head is kept in kn_hold in chunks of this many bytes,
 * chunk k holding bytes [k * KANARY_L7_CHUNK, (k + 1) * KANARY_L7_CHUNK)
 * of the client's stream, and replayed to the endpoint one segment per
 * chunk: 1448 is an MSS of 1460 less the timestamp option.
 */
#define KANARY_L7_CHUNK 1448
#define KANARY_L7_MAX_CHUNKS 45
#define KANARY_L7_HEAD_CAP (KANARY_L7_MAX_CHUNKS * KANARY_L7_CHUNK) /* 65160 */
/* Envoy's default is 60 KiB; 16 KiB keeps a slow client's hold small and
 * is more than browsers send (cookies included). */
#define KANARY_L7_HEAD_DEFAULT 16384
#define KANARY_L7_WSCALE 7 /* the gateway's window scale toward clients */
#define KANARY_SYNQ_DEFAULT 262144 /* half-open connections kept (LRU) */
#define KANARY_HEAD_DEFAULT 16384 /* request heads being held (LRU) */
#define KANARY_HOLD_DEFAULT 32768 /* their chunks (LRU), 45 MiB */

enum kanary_l7_field {
	KANARY_L7_METHOD = 0,
	KANARY_L7_URI,
	KANARY_L7_HEADER, /* headers: the condition holds if the header does */
	KANARY_L7_WITHOUT_HEADER, /* withoutHeaders: holds if it does not */
	/* TLS tables: the ClientHello's server name, lower case (bpf/tls.h) */
	KANARY_L7_SNI,
};

enum kanary_l7_op {
	KANARY_L7_EXACT = 0,
	KANARY_L7_PREFIX,
	KANARY_L7_PRESENT, /* headers only: `{}` */
	/* SNI only: a wildcard `*.example.com` as ".example.com", which the
	 * name must end with, after at least one byte of its own */
	KANARY_L7_SUFFIX,
	/*
	 * The `host` header (a VirtualService's hosts), compared ignoring
	 * ASCII case and an optional ":port" suffix (digits after the last
	 * colon); value is lower case. HOST_EXACT: the host equals value.
	 * HOST_SUFFIX (hosts "*.example.com"): value is ".example.com", and
	 * the host ends with it after at least one byte. A host longer than
	 * KANARY_L7_VALUE_LEN bytes (port included) holds neither.
	 */
	KANARY_L7_HOST_EXACT,
	KANARY_L7_HOST_SUFFIX,
};

/* One condition; all conditions of a block must hold (AND). */
struct kanary_l7_cond {
	__u8 block; /* index into the table's blocks */
	__u8 field; /* enum kanary_l7_field */
	__u8 op; /* enum kanary_l7_op */
	__u8 name; /* headers: index into the table's names */
	__u32 len; /* bytes of value used */
	char value[KANARY_L7_VALUE_LEN]; /* case-sensitive, not terminated */
};

/*
 * One match block of one http route, in config order; a route without
 * match is one block with no conditions (it matches everything). The
 * first block whose conditions all hold wins (OR between blocks).
 */
struct kanary_l7_block {
	/*
	 * Index into the slot's routes. KANARY_L7_NONE: a stop block, whose
	 * only condition is a host: the request's host picked a virtual
	 * host none of whose routes matched, and no less specific virtual
	 * host may take it (Envoy's 404); selecting it selects no block.
	 */
	__u32 route;
	/* Row in kn_rule_stats (one per http route with match rules, and
	 * per tls route); KANARY_L7_NONE: counted nowhere (weight-only
	 * routes, stop blocks). */
	__u32 rule;
};

/*
 * kanary_l7_table.flags. KANARY_L7_TLS: the port is a Gateway server in
 * TLS PASSTHROUGH mode; the head is read as a ClientHello and the blocks
 * are the VirtualService's `tls` routes, one SNI condition each (or none:
 * `*`), most specific first, as Envoy picks them.
 */
#define KANARY_L7_TLS 0x1

/*
 * kn_l7[slot * KANARY_MAX_L7 + vip.l7]: the rules of one Gateway port,
 * merging the VirtualServices it serves (a host condition per block); on
 * a TLS PASSTHROUGH port, one VirtualService's tls routes.
 */
struct kanary_l7_table {
	__u32 n_blocks;
	__u32 n_conds;
	/*
	 * n_names was a __u32 (at most KANARY_L7_MAX_NAMES): flags took its
	 * high half, so that the table keeps its size and a load over an
	 * older kanary's pins keeps kn_l7 (on little-endian, the old value
	 * reads as n_names with flags 0: HTTP).
	 */
	__u16 n_names;
	__u16 flags; /* KANARY_L7_TLS */
	/*
	 * The block taken when the first segment does not hold a complete
	 * HTTP/1.x request head (incomplete, binary, HTTP/2, TLS), or in a
	 * TLS table a ClientHello with a server name that no block takes, or
	 * none, or not a ClientHello: the first block without conditions.
	 * KANARY_L7_NONE: reset the connection.
	 */
	__u32 default_block;
	__u8 name_len[KANARY_L7_MAX_NAMES];
	char names[KANARY_L7_MAX_NAMES][KANARY_L7_NAME_LEN]; /* lower case */
	struct kanary_l7_block blocks[KANARY_L7_MAX_BLOCKS];
	struct kanary_l7_cond conds[KANARY_L7_MAX_CONDS];
};

/* kn_rule_names: which http route of which VirtualService a row counts */
struct kanary_rule_name {
	char virtualservice[KANARY_NAME_LEN]; /* namespace/name */
	char rule[KANARY_NAME_LEN]; /* the route's name, or "http[i]" */
};

/* kn_rule_stats: per-CPU, connections each http route took */
struct kanary_rule_stats {
	__u64 connections;
};

/*
 * kn_synq: half-open L7 connections, keyed by the client's tuple (as
 * kanary_flow_key). LRU-bounded: a SYN flood recycles this table only,
 * never kn_flows.
 */
struct kanary_synq {
	__u32 client_isn;
	__u32 gw_isn; /* random: the gateway's ISN in its SYN-ACK */
	__u32 gw_tsval; /* the gateway's TSval in its SYN-ACK */
	/*
	 * Once answered: the client's sequence number the answer acked
	 * (host order): where the client's FIN or RST must start, or,
	 * when the answer acked the client's FIN too (answer_fin), one
	 * past that FIN.
	 */
	__u32 answer_ack;
	/*
	 * Bytes of the request head the gateway has acked: it owes them to
	 * the endpoint. Should kn_head lose the head (LRU), the client is
	 * reset rather than left retransmitting into nothing.
	 */
	__u32 held;
	__u16 mss; /* the client's MSS option, host order; 0: none */
	__u8 wscale; /* the client's window scale; 0xff: none */
	__u8 sack_ok;
	__u8 ts_ok;
	/*
	 * enum kanary_l7_answer: the HTTP answer the gateway sent instead of
	 * binding the connection, or its FIN to a client that closed
	 * before its request (bpf/l7_answer.h); 0 while none.
	 */
	__u8 answer;
	__u16 window; /* the SYN's window field */
	/*
	 * The answer acked the client's FIN too (a FIN ended the head, or
	 * came before it): the client's ACK of the gateway's FIN is then its
	 * last segment, and deletes the entry.
	 */
	__u8 answer_fin;
	__u8 pad_synq[3];
};

/*
 * The gateway's own HTTP answers on the L7 path, as Envoy sends them, each
 * with `connection: close` and the gateway's FIN (bpf/l7_answer.h).
 */
enum kanary_l7_answer {
	KANARY_L7_ANSWER_NONE = 0,
	KANARY_L7_ANSWER_404, /* no route takes the request */
	KANARY_L7_ANSWER_431, /* request head over the limit */
	KANARY_L7_ANSWER_400, /* malformed request head */
	/*
	 * No HTTP answer: the client closed before the first byte of its
	 * request (a health check, wrk stopping), and the gateway closes
	 * too, with a FIN that acks the client's.
	 */
	KANARY_L7_ANSWER_FIN,
	KANARY_L7_ANSWERS,
};

/*
 * The request head scanner's state (bpf/http.h), kept per connection
 * between segments: the head is read as it arrives, byte by byte, and what
 * the rules ask about is copied out as it passes (the first
 * KANARY_L7_VALUE_LEN bytes of method, target and each asked-for header,
 * with their whole lengths), so that no segment is read twice.
 */
struct kanary_http_parse {
	__u32 state; /* enum http_state */
	__u32 result; /* enum http_result */
	__u32 tok; /* bytes of the token being read */
	__u32 val_end; /* value: its length up to the last non-blank byte */
	__u32 method_len;
	__u32 target_len;
	__u32 path_len; /* the target up to its query string */
	__u32 found; /* bit k: names[k] seen */
	__u32 dup; /* bit k: names[k] seen more than once */
	__u32 cand; /* bit k: the name being read may be names[k] */
	__u32 all; /* bit k set for each of the table's names */
	__u32 cur; /* the header being read is names[cur_k] (bit), or 0 */
	__u32 cur_k;
	__u32 pad;
	__u32 val_len[KANARY_L7_MAX_NAMES];
	__u8 method[KANARY_L7_VALUE_LEN];
	__u8 target[KANARY_L7_VALUE_LEN];
	__u8 val[KANARY_L7_MAX_NAMES][KANARY_L7_VALUE_LEN];
};

/*
 * The ClientHello scanner's state (bpf/tls.h), whole: a zeroed struct
 * starts a stream. Kept per connection, as the request head scanner's,
 * so that a ClientHello over several segments (and records) is read a
 * piece at a time. Positions count handshake bytes: record headers
 * excluded.
 */
struct kanary_tls_parse {
	__u32 result; /* enum tls_result */
	__u32 state; /* enum tls_state */
	__u32 rec_hdr; /* bytes of the record header read; 5: inside one */
	__u32 rec_left; /* bytes of the current record still to come */
	__u32 hpos; /* handshake bytes read */
	__u32 more; /* bytes of the field still to come after this one */
	__u32 acc; /* the field's value so far, big-endian */
	__u32 skip; /* bytes to pass over before the next field */
	__u32 hs_end; /* hpos at the ClientHello's end */
	__u32 ext_end; /* hpos at the extensions' end */
	__u32 sni_end; /* hpos at the host name's end */
	__u32 sni_len; /* the host name's length; 0: none */
	/* The host name's last KANARY_L7_VALUE_LEN bytes, lower case, byte i
	 * at [i % KANARY_L7_VALUE_LEN]: the whole name when it fits, else
	 * enough for any suffix a condition can hold. */
	__u8 sni[KANARY_L7_VALUE_LEN];
};

/*
 * kn_head: an L7 connection's request head while the gateway holds it,
 * keyed by the client's tuple: from its first byte until the endpoint
 * acks all of it (the splice). The bytes are in kn_hold.
 */
struct kanary_head {
	struct kanary_synq syn; /* what the handshake agreed with the client */
	__u32 len; /* bytes held: the client's stream [1, len] after its ISN */
	__u32 tsval; /* the last held segment's TSval (client clock) */
	__u16 window; /* the last held segment's window (client's scale) */
	__u8 flags; /* the last held segment's TCP flags (PSH, FIN) */
	__u8 ts_on; /* set by the replay: both ends agreed to timestamps */
	__u32 gen; /* kanary_cfg.generation when the head began */
	/* Set by the replay, for a replay again (l7_replay_again). */
	__u32 ep_isn; /* the endpoint's ISN */
	__u32 ep_tsval; /* its SYN-ACK's TSval */
	__be16 ep_window; /* the replay's window field */
	__u8 tls; /* a TLS port: the head is a ClientHello (hello) */
	__u8 pad;
	union {
		struct kanary_http_parse http;
		struct kanary_tls_parse hello; /* tls */
	};
};

/* kn_hold: one chunk of a held request head (see KANARY_L7_CHUNK). */
struct kanary_hold_key {
	struct kanary_flow_key flow; /* the client's tuple, as kn_head's */
	__u32 chunk;
};

struct kanary_hold {
	/* Bytes past the head's end stay zero: checksums sum whole words. */
	__u8 data[KANARY_L7_CHUNK];
};

#endif /* KANARY_ABI_H */
