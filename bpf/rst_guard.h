/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Blind resets on the L4 path (RFC 5961). An RST frees a connection's
 * entries, so one with any sequence number would let whoever knows the
 * client's port end the connection at the gateway while both ends keep
 * it. Each entry keeps what its packets said (kanary_flow.ack_seq and
 * seq_next: a store into the entry already loaded); an RST is checked
 * against them, and against its twin only then, which is rare.
 */
#ifndef KANARY_BPF_RST_GUARD_H
#define KANARY_BPF_RST_GUARD_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "nat.h" /* twin_key, twin_of */

/* A packet of an L4 connection other than an RST: note where its sender is. */
static __always_inline void track_seq(struct kanary_flow *f,
				      const struct pkt *p)
{
	__u32 end = seg_end(p);

	/* The furthest: a retransmission does not move SND.NXT back. */
	if (!f->seq_next || (__s32)(end - f->seq_next) > 0)
		f->seq_next = end;
	if (p->flags & TCP_FLAG_ACK)
		f->ack_seq = p->tcp->ack_seq;
}

/*
 * May this RST (arriving on f) end the connection? Only at a sequence
 * number its receiver expects exactly (RFC 5961 3.2), as far as the
 * gateway saw: the sender's own next one (an abort: SO_LINGER 0, close
 * with unread data), or the last ack of the other side (its RCV.NXT: the
 * answer of a stack with no socket to a segment, or to a challenge ACK).
 * Before the other side has acked anything it is in SYN-SENT, where an
 * RST counts only if it acks the SYN (RFC 9293 3.10.7.3). Anything else
 * is blind; the endpoint would ignore it, and so does the gateway.
 */
static __always_inline bool rst_acceptable(const struct kanary_flow_key *fk,
					   const struct kanary_flow *f,
					   const struct pkt *p)
{
	struct kanary_flow_key tk = {};
	struct kanary_flow *twin;

	twin_key(f, &tk);
	twin = flow_find(&tk);
	/*
	 * Gone, or its key another connection's: this one is half
	 * forgotten already, nothing is left to keep. Except a to-client
	 * entry kept for the endpoint's TIME_WAIT after the client moved
	 * on (lookup_flow): nobody is left to tell, the client's tuple may
	 * be its next connection's, and the port stays held until
	 * reclaim_port may take it. Its RSTs are dropped.
	 */
	if (!twin_of(twin, fk))
		return (f->fin & KANARY_FIN_TW_READY) != KANARY_FIN_TW_READY;
	if (f->seq_next && bpf_ntohl(p->tcp->seq) == f->seq_next)
		return true;
	if (twin->ack_seq) {
		__u32 ack = bpf_ntohl(twin->ack_seq);

		/* L7: the client acks the gateway's numbers, the endpoint's
		 * plus seq_delta (l7_splice.h). */
		if (f->l7 != KANARY_L7_OFF && f->dir == KANARY_DIR_TO_CLIENT)
			ack -= f->seq_delta;
		return bpf_ntohl(p->tcp->seq) == ack;
	}
	return (p->flags & TCP_FLAG_ACK) && twin->seq_next &&
	       bpf_ntohl(p->tcp->ack_seq) == twin->seq_next;
}

#endif /* KANARY_BPF_RST_GUARD_H */
