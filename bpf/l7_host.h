/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The L7 path's host condition: does a request's Host header select a
 * VirtualService host (KANARY_L7_HOST_EXACT, KANARY_L7_HOST_SUFFIX)?
 * As Envoy compares domains: ASCII case ignored, and a ":port" suffix
 * (digits after the last colon; "[::1]" keeps its colons) left out. A
 * suffix ("*.example.com" as ".example.com") needs at least one byte
 * before it: Envoy's wildcard does not match the empty string.
 *
 * Self-contained: host_holds() reads only a captured copy of the value
 * (its first KANARY_L7_VALUE_LEN bytes) and the value's full length, so
 * that any head scanner can call it. A host longer than
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

struct host_scan {
	const __u8 *val;
	__u32 len;
	__u32 colon; /* the last colon */
	__u32 port; /* enum host_port after the last colon */
};

struct host_cmp {
	const __u8 *val;
	const char *value; /* lower case */
	__u32 start; /* of the host's bytes compared with value */
	__u32 n;
	bool eq;
};

static __always_inline __u8 host_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static long host_port_step(__u32 i, struct host_scan *s)
{
	__u64 ii = i;
	__u8 c;

	/* A 64-bit copy behind an empty asm: bounds-checked and indexed
	 * with one register (see http.h, buf_at). */
	asm volatile("" : "+r"(ii));
	if (ii >= s->len || ii >= KANARY_L7_VALUE_LEN)
		return 1;
	c = s->val[ii];
	if (c == ':') {
		s->colon = i;
		s->port = HP_COLON;
	} else if (c >= '0' && c <= '9') {
		if (s->port == HP_COLON)
			s->port = HP_DIGITS;
	} else {
		s->port = HP_NONE;
	}
	return 0;
}

static long host_cmp_step(__u32 j, struct host_cmp *h)
{
	__u64 jj = j, k;

	asm volatile("" : "+r"(jj));
	if (jj >= h->n || jj >= KANARY_L7_VALUE_LEN)
		return 1;
	k = h->start + jj;
	asm volatile("" : "+r"(k));
	if (k >= KANARY_L7_VALUE_LEN ||
	    host_lower(h->val[k]) != (__u8)h->value[jj]) {
		h->eq = false;
		return 1;
	}
	return 0;
}

/*
 * Does the Host value (val: its first KANARY_L7_VALUE_LEN bytes, at
 * least that many readable; len: its full length) hold host condition c?
 * val NULL holds nothing.
 */
static __always_inline bool host_holds(const __u8 *val, __u32 len,
				       const struct kanary_l7_cond *c)
{
	struct host_scan s = { .val = val, .len = len };
	struct host_cmp h = { .val = val, .value = c->value, .eq = true };
	__u32 host_len;

	if (!val || len > KANARY_L7_VALUE_LEN || c->len > KANARY_L7_VALUE_LEN)
		return false;
	bpf_loop(KANARY_L7_VALUE_LEN, host_port_step, &s, 0);
	host_len = s.port == HP_DIGITS ? s.colon : len;
	h.n = c->len;
	if (c->op == KANARY_L7_HOST_EXACT) {
		if (host_len != c->len)
			return false;
	} else {
		if (host_len <= c->len)
			return false;
		h.start = host_len - c->len;
	}
	bpf_loop(KANARY_L7_VALUE_LEN, host_cmp_step, &h, 0);
	return h.eq;
}

/*
 * Today's scanner notes a value as an offset into the segment's bytes:
 * host_capture copies its first KANARY_L7_VALUE_LEN bytes (bounded reads
 * of buf, KANARY_L7_HOLD_LEN bytes) into per-CPU memory for host_holds.
 * A scanner that captures values itself does not need it.
 */
struct host_value {
	__u8 b[KANARY_L7_VALUE_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct host_value);
} kn_host_value SEC(".maps");

struct host_copy {
	const __u8 *buf;
	__u8 *dst;
	__u32 off;
	__u32 len;
};

static long host_copy_step(__u32 j, struct host_copy *c)
{
	__u64 jj = j, k;

	asm volatile("" : "+r"(jj));
	if (jj >= c->len || jj >= KANARY_L7_VALUE_LEN)
		return 1;
	k = c->off + jj;
	asm volatile("" : "+r"(k));
	if (k >= KANARY_L7_HOLD_LEN)
		return 1;
	c->dst[jj] = c->buf[k];
	return 0;
}

static __always_inline const __u8 *host_capture(const __u8 *buf, __u32 off,
						__u32 len)
{
	struct host_copy c = { .buf = buf, .off = off, .len = len };
	__u32 zero = 0;
	struct host_value *v;

	v = bpf_map_lookup_elem(&kn_host_value, &zero);
	if (!v)
		return NULL;
	c.dst = v->b;
	bpf_loop(KANARY_L7_VALUE_LEN, host_copy_step, &c, 0);
	return v->b;
}

#endif /* KANARY_BPF_L7_HOST_H */
