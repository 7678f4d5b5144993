// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kanary data path: one source, two attach points (XDP and tc ingress).
 * Read handle() top to bottom as the life of a packet:
 *   parse -> conntrack hit? rewrite, count, forward.
 *   SYN to a VIP? choose an endpoint, create the flow, then as above
 *   (bind.h); to an L7 VIP, answer it and bind on the first segment
 *   (l7_bind.h), and splice once the endpoint has it (l7_pending.h).
 *   anything else passes untouched.
 * The steps live in the headers, one concern each (docs/DESIGN.md).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "kanary_abi.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "select.h"
#include "nat.h"
#include "forward.h"
#include "bind.h"
#include "reset.h"
#include "martian.h"
#include "rst_guard.h"
#include "l7_bind.h"
#include "l7_pending.h"
#include "outcome.h"

/*
 * May XDP see a TCP checksum left to offload? Set by the loader before
 * load: true while any interface with XDP is of a driver that carries the
 * local stack's packets (veth, tun); false where XDP only sees frames from
 * a wire, and then the verifier drops the check below as dead code.
 */
const volatile bool kn_xdp_partial_csums = true;

/*
 * tc: the endpoint's bare ACK (in skb) to the SYN of the L4 connection
 * whose to-client entry is f (at fk): the endpoint still holds an older
 * connection on the SNAT port, whose TIME_WAIT refused the SYN (PAWS).
 * Reset that connection (an RST at the ACK's ack, which TIME_WAIT takes,
 * unless the endpoint sets tcp_rfc1337), cloned out, then turn the packet
 * into the client's SYN again, from what f kept of it (craft_syn, as the
 * L7 path does). Otherwise the client would get the ACK, reset it itself
 * and send its SYN again 2 jiffies later (8 ms at HZ=250). Once per
 * connection: a second bare ACK goes to the client. L7_NEXT when nothing
 * was written (the ACK then goes to the client, as without this).
 */
static __noinline int l4_syn_again_tc(struct __sk_buff *skb,
				      const struct kanary_flow_key *fk,
				      struct kanary_flow *f)
{
	struct kanary_flow_key tk = {};
	struct kanary_synq q = {};
	struct kanary_flow *to_ep;
	struct pkt p;

	if (!f)
		return L7_NEXT;
	twin_key(f, &tk);
	to_ep = flow_find(&tk);
	/* Not this connection's, or its next hop not known yet. */
	if (!twin_of(to_ep, fk) || !to_ep->ifindex)
		return L7_NEXT;
	f->syn_flags |= KANARY_SYN_RESENT;
	q.client_isn = bpf_ntohl(to_ep->syn_seq);
	q.mss = f->syn_mss;
	q.wscale = f->syn_wscale;
	q.sack_ok = !!(f->syn_flags & KANARY_SYN_SACK);
	q.ts_ok = !!(f->syn_flags & KANARY_SYN_TS);
	q.window = f->syn_window;
	if (reparse(skb, true, &p))
		return V_PASS;
	/* Its seq is the ACK's ack (craft_rst). */
	if (reset_back(skb, true, &p))
		return V_DROP;
	if (bpf_clone_redirect(skb, skb->ifindex, 0))
		return V_DROP;
	if (craft_syn(skb, true, &q, f->syn_tsval, to_ep))
		return V_DROP;
	count_global(KANARY_G_L4_SYN_RESENT);
	return V_TX;
}

/*
 * The life of a packet p (tuple fk) after its conntrack lookup found f
 * (or made it: a new connection's SYN, with egress set if its next hop
 * is resolved on the way). l4only: f is in a record, which only L4
 * connections have. The L7 steps are then left out, so that the
 * verifier follows them for kn_flows' entries only: it follows this
 * function once per table, and each time through L7 doubled what it
 * processed (docs/conntrack-record.md).
 */
static __always_inline enum verdict
forward_flow(void *ctx, const bool is_tc, bool l4only, struct pkt *p,
	     const struct kanary_flow_key *fk, struct kanary_flow *f, bool syn,
	     __u32 egress, __u32 len, __u32 in_ifindex, __u32 *out_ifindex,
	     void *data_end)
{
	__u32 d_l7 = 0;
	bool done = false;
	int rc;

	/*
	 * For a new connection's SYN, f is its entry as inserted, in per-CPU
	 * scratch (no lookup at all): it has seen this SYN already
	 * (bind_flow), and nothing below writes to an entry for a new
	 * flow's SYN that the map needs to keep.
	 */
	/*
	 * The flow's endpoint was ejected (userspace marks both entries):
	 * the client's segment is answered with an RST and the connection
	 * forgotten, not forwarded to an endpoint that no longer answers. One
	 * byte of the entry already loaded; the rest is out of line. Never an
	 * RST for an RST: the client's goes on its way as usual. The
	 * endpoint's packets are forwarded as usual too: it may be alive
	 * after all, and the client then reads what it sent.
	 */
	if (f->ejected && f->dir == KANARY_DIR_TO_ENDPOINT &&
	    !(p->flags & TCP_FLAG_RST))
		return reset_flow_call(ctx, is_tc, fk, f, in_ifindex,
				       KANARY_G_EJECTED_RESET);
	/*
	 * L4: the endpoint answers the client's SYN with a bare ACK (see
	 * l4_syn_again_tc), the first time. One byte of the entry already
	 * loaded: an answered connection pays nothing more. XDP passes the
	 * ACK to tc, which can send two packets.
	 */
	if (!f->answered && f->dir == KANARY_DIR_TO_CLIENT &&
	    (l4only || !f->l7) &&
	    (p->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST |
			 TCP_FLAG_FIN)) == TCP_FLAG_ACK &&
	    !p->plen &&
	    (f->syn_flags & (KANARY_SYN_KNOWN | KANARY_SYN_RESENT)) ==
		    KANARY_SYN_KNOWN) {
		if (!is_tc)
			return V_PASS;
		rc = l4_syn_again_tc(ctx, fk, f);
		if (rc != L7_NEXT)
			return rc;
	}
	/* An L7 connection not spliced yet has ways of its own. */
	if (!l4only && f->l7) {
		rc = l7_bound(ctx, is_tc, fk, f, p, syn, in_ifindex,
			      out_ifindex);
		if (rc != L7_NEXT)
			return rc;
	}
	/* L4, and L7 once spliced: each side's numbers as it sends them
	 * (rst_guard.h). */
	if (l4only || !f->l7 || f->l7 == KANARY_L7_SPLICED) {
		if (p->flags & TCP_FLAG_RST) {
			/* RFC 5961: a blind RST neither ends the flow nor
			 * passes. */
			if (!rst_acceptable(fk, f, p)) {
				count_global(KANARY_G_RST_BLIND);
				return V_DROP;
			}
		} else {
			track_seq(f, p);
			/* The client answers the endpoint's SYN-ACK: no
			 * longer half-open (L4 only: open_ns is 0 on L7). */
			if (f->open_ns && f->answered && !syn &&
			    f->dir == KANARY_DIR_TO_ENDPOINT)
				note_open(fk, f);
		}
	}

	/* Before anything is written: XDP may have to pass the packet on. */
	if (!f->ifindex && !egress &&
	    resolve_next_hop(ctx, f, p, in_ifindex, &egress)) {
		count_global(KANARY_G_FIB_PASS);
		/*
		 * The neighbour is not known yet. XDP cannot ask for it: it
		 * passes the packet as it came to kanary's tc program behind
		 * it, which sends it through the kernel's neighbour table.
		 * (The kernel's own forwarding would drop the rewritten
		 * packet: its source is the gateway's own address.)
		 */
		if (!is_tc)
			return V_PASS;
		if (!egress)
			return V_DROP; /* no route to the endpoint at all */
	}
	if (!is_tc && !xdp_prepare_send(f->ifindex, in_ifindex)) {
		count_global(KANARY_G_XDP_NO_TX);
		return V_PASS;
	}

	/* HTTP outcomes: here, once the packet is sure to leave by this
	 * program, and before the rewrite (tc's invalidates p). */
	count_outcome(ctx, is_tc, fk, f, p);
	if (!l4only && f->l7)
		d_l7 = l7_translate(ctx, is_tc, p, f, data_end);
	/* The endpoint's SYN-ACK: the connection is answered (see ABI). */
	if ((p->flags & TCP_FLAG_SYN) && !f->answered &&
	    f->dir == KANARY_DIR_TO_CLIENT)
		note_answered(f);
	/* Closing: from the first FIN or RST on, every packet is looked at. */
	if ((p->flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) || f->fin)
		done = note_close(f, p, data_end);
	count_flow(f, len);
	rewrite(ctx, is_tc, p, f, d_l7);
	*out_ifindex = egress ? egress : f->ifindex;
	if (done)
		forget_conn(fk, f);
	return egress ? V_RESOLVE : V_FORWARD;
}

static __always_inline enum verdict handle(void *ctx, const bool is_tc,
					   void *data, void *data_end,
					   __u32 len, __u32 in_ifindex,
					   __u32 *out_ifindex)
{
	struct kanary_flow_key fk = { .proto = IPPROTO_TCP };
	struct kanary_flow *f;
	__u32 egress = 0;
	bool syn, in_record;
	struct pkt p;
	int rc;

	if (parse_tcp4(data, data_end, len, &p)) {
		count_global(KANARY_G_PASS_NOT_TCP);
		return V_PASS;
	}
	if (must_not_forward(ctx, is_tc, &p)) {
		count_global(KANARY_G_PASS_INVALID);
		return V_PASS;
	}
	/* XDP cannot finish a checksum left to offload: tc can. */
	if (!is_tc && kn_xdp_partial_csums && tcp_csum_partial(p.ip, p.tcp)) {
		count_global(KANARY_G_XDP_PARTIAL_CSUM);
		return V_PASS;
	}
	fk.saddr = p.ip->saddr;
	fk.daddr = p.ip->daddr;
	fk.sport = p.tcp->source;
	fk.dport = p.tcp->dest;

	syn = (p.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) ==
	      TCP_FLAG_SYN;
	/* A connection in a record (conn.h): L4, its own way through. */
	f = conn_find(&fk, NULL, 1);
	if (f && syn && reused_by(f, &p)) {
		forget_reused(&fk, f, true);
		f = NULL;
	}
	in_record = f;
	if (in_record)
		goto found;
	/*
	 * A SYN to an L4 VIP is bound (bind.h, new_flow), once kn_flows has
	 * no connection at fk. Everything else is looked up in kn_flows.
	 */
	rc = syn ? new_flow(ctx, is_tc, &fk, &p, data_end, in_ifindex, &egress,
			    &f) :
		   KANARY_G_PASS_NO_FLOW;
	if (rc == KANARY_G_PASS_NO_FLOW || rc == NEW_FLOW_L7) {
		f = lookup_flow(&fk, &p, syn);
		if (!f) {
			/* Only a SYN opens a connection; a stray segment
			 * passes, unless it belongs to a handshake the gateway
			 * answered. */
			if (!syn)
				return stray_segment(ctx, is_tc, &fk,
						     in_ifindex, out_ifindex);
			if (rc == NEW_FLOW_L7)
				return l7_syn_call(ctx, is_tc, &fk);
			count_global(rc);
			return V_PASS;
		}
	} else if (rc == KANARY_G_PASS_INVALID) {
		count_global(rc);
		return V_PASS;
	} else if (rc == KANARY_G_FIB_PASS) {
		/* See bind_next_hop: the neighbour is tc's to ask for. */
		count_global(rc);
		return is_tc ? V_DROP : V_PASS;
	} else if (rc == KANARY_G_NO_ENDPOINT) {
		/* The pool has no endpoint (health checking ejected them all):
		 * an RST+ACK tells the client now, where a drop would leave it
		 * resending its SYN for seconds. */
		return reset_flow_call(ctx, is_tc, &fk, NULL, in_ifindex, rc);
	} else if (rc) {
		count_global(rc);
		return V_DROP;
	} else if (egress) {
		count_global(KANARY_G_FIB_PASS);
	}
	if (!f)
		return V_DROP;
found:
	/* One copy, not one per table: the verifier knows in_record on
	 * each path, and leaves the L7 steps out of the record's. */
	return forward_flow(ctx, is_tc, in_record, &p, &fk, f, syn, egress, len,
			    in_ifindex, out_ifindex, data_end);
}

SEC("xdp")
int kanary_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 in = ctx->ingress_ifindex, out = 0;

	switch (handle(ctx, false, data, data_end, data_end - data, in, &out)) {
	case V_DROP:
		return XDP_DROP;
	case V_FORWARD:
		/* The redirect was set up before the packet was written. */
		return out == in ? XDP_TX : XDP_REDIRECT;
	case V_TX:
		return XDP_TX;
	default:
		return XDP_PASS;
	}
}

SEC("tc")
int kanary_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 out = 0;

	/* Headers may sit in paged data: make them linear, or pass. */
	if (data + KANARY_HDR_LEN > data_end) {
		if (bpf_skb_pull_data(skb, KANARY_HDR_LEN))
			return TC_ACT_OK;
		/* volatile: clang would otherwise reuse ctx+offset pointers,
		 * which the verifier refuses to dereference. */
		data = (void *)(long)*(volatile __u32 *)&skb->data;
		data_end = (void *)(long)*(volatile __u32 *)&skb->data_end;
	}
	/* The TCP options too: the L7 path translates timestamps and SACK. */
	if (data + KANARY_HDR_LEN <= data_end) {
		struct tcphdr *tcp =
			data + sizeof(struct ethhdr) + sizeof(struct iphdr);
		__u32 need = sizeof(struct ethhdr) + sizeof(struct iphdr) +
			     tcp->doff * 4;

		if (data + need > data_end && need <= skb->len) {
			if (bpf_skb_pull_data(skb, need))
				return TC_ACT_OK;
			data = (void *)(long)*(volatile __u32 *)&skb->data;
			data_end =
				(void *)(long)*(volatile __u32 *)&skb->data_end;
		}
	}

	switch (handle(skb, true, data, data_end, skb->len, skb->ifindex,
		       &out)) {
	case V_DROP:
		return TC_ACT_SHOT;
	case V_FORWARD:
		return bpf_redirect(out, 0);
	case V_RESOLVE:
		return bpf_redirect_neigh(out, NULL, 0, 0);
	case V_TX:
		return bpf_redirect(skb->ifindex, 0);
	default:
		return TC_ACT_OK;
	}
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
