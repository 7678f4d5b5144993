/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path's host condition: does a request's Host header select a
 * VirtualService host (KANARY_L7_HOST_EXACT, KANARY_L7_HOST_SUFFIX)?
 * As Envoy compares domains: ASCII case ignored, and a ":port" suffix
 * (digits after the last colon; "[::1]" keeps its colons) left out. A
 * suffix ("*.example.com" as ".example.com") needs at least one byte
 * before it: Envoy's wildcard does not match the empty string.
 *
 * host_holds() reads only the head scanner's copy of the value (its
 * first KANARY_L7_VALUE_LEN bytes) and the value's full length. A host longer than
 * KANARY_L7_VALUE_LEN bytes, port included, holds no host condition.
 */
#ifndef KANARY_BPF_L7_HOST_H
#define KANARY_BPF_L7_HOST_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kanary_abi.h"

/* Where the port starts: none seen, a colon, a colon and digits. */
enum host_port {
	HP_NONE,
	HP_COLON,
	HP_DIGITS,
};

/*
 * A copied-out value (got, len bytes in all, its first
 * KANARY_L7_VALUE_LEN readable) compared with a condition's (value): the
 * bpf_loop context of every comparison of the rules' evaluation. It lives
 * on the evaluation's stack (struct http_eval) and is passed down: the
 * callbacks' own frames, at the bottom of the L7 path's call chain, must
 * keep the chain's stacks within 512 bytes.
 */
struct value_cmp {
	const __u8 *got;
	const char *value;
	__u32 len; /* got's whole length */
	__u32 n; /* bytes compared */
	__u32 start; /* of got's bytes compared */
	__u32 colon; /* host: the last colon */
	__u32 port; /* host: enum host_port after the last colon */
	bool fold; /* got's ASCII case ignored (value is lower case) */
	bool eq;
};

static __always_inline __u8 host_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* got[start + j] against value[j], for j < n. */
static long cmp_step(__u32 j, struct value_cmp *m)
{
	__u64 jj = j, k;
	__u8 c;

	/* A 64-bit copy behind an empty asm: bounds-checked and indexed
	 * with one register (see http.h, bounded()). */
	asm volatile("" : "+r"(jj));
	if (jj >= m->n || jj >= KANARY_L7_VALUE_LEN)
		return 1;
	k = m->start + jj;
	asm volatile("" : "+r"(k));
	if (k >= KANARY_L7_VALUE_LEN) {
		m->eq = false;
		return 1;
	}
	c = m->got[k];
	if ((m->fold ? host_lower(c) : c) != (__u8)m->value[jj]) {
		m->eq = false;
		return 1;
	}
	return 0;
}

static long host_port_step(__u32 i, struct value_cmp *m)
{
	__u64 ii = i;
	__u8 c;

	asm volatile("" : "+r"(ii)); /* see cmp_step */
	if (ii >= m->len || ii >= KANARY_L7_VALUE_LEN)
		return 1;
	c = m->got[ii];
	if (c == ':') {
		m->colon = i;
		m->port = HP_COLON;
	} else if (c >= '0' && c <= '9') {
		if (m->port == HP_COLON)
			m->port = HP_DIGITS;
	} else {
		m->port = HP_NONE;
	}
	return 0;
}

/*
 * Does the Host value (val: its first KANARY_L7_VALUE_LEN bytes, at
 * least that many readable; len: its full length) hold host condition c?
 * m: the comparison's context (struct value_cmp). val NULL holds nothing.
 */
static __always_inline bool host_holds(struct value_cmp *m, const __u8 *val,
				       __u32 len,
				       const struct kanary_l7_cond *c)
{
	__u32 host_len;

	if (!val || len > KANARY_L7_VALUE_LEN || c->len > KANARY_L7_VALUE_LEN)
		return false;
	m->got = val;
	m->value = c->value;
	m->len = len;
	m->colon = 0;
	m->port = HP_NONE;
	bpf_loop(KANARY_L7_VALUE_LEN, host_port_step, m, 0);
	host_len = m->port == HP_DIGITS ? m->colon : len;
	m->n = c->len;
	m->start = 0;
	m->fold = true;
	m->eq = true;
	if (c->op == KANARY_L7_HOST_EXACT) {
		if (host_len != c->len)
			return false;
	} else {
		if (host_len <= c->len)
			return false;
		m->start = host_len - c->len;
	}
	bpf_loop(KANARY_L7_VALUE_LEN, cmp_step, m, 0);
	return m->eq;
}

#endif /* KANARY_BPF_L7_HOST_H */
