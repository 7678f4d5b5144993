/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP/1.x request head matching for the L7 path. The first segment's
 * payload (kept in a kanary_hold) is scanned once, byte by byte, by a
 * bpf_loop callback: the request line gives method and URI, and the value
 * of every header whose name the table asks about is noted (first
 * occurrence). Then each condition is evaluated once, and the first block
 * whose conditions all hold wins.
 *
 * Strict on purpose: a request head that is not complete in the segment
 * (no blank line), that has bytes HTTP does not allow, bare LF line ends,
 * obsolete line folding, or a request line that is not "METHOD SP target
 * SP HTTP/1.x" is not matched at all: the connection takes the table's
 * default block. A guess from half a head could pick the wrong subset.
 */
#ifndef KANARY_BPF_HTTP_H
#define KANARY_BPF_HTTP_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kanary_abi.h"
#include "l7_host.h"

enum http_state {
	H_METHOD,
	H_TARGET,
	H_VERSION,
	H_REQ_LF,
	H_LINE, /* at the start of a header line, or of the blank line */
	H_NAME,
	H_OWS, /* after the colon */
	H_VALUE,
	H_HDR_LF,
	H_END_LF,
};

enum http_result {
	HTTP_MORE = 0, /* scanning */
	HTTP_DONE, /* a complete request head */
	HTTP_BAD,
};

/*
 * The scanner's variables live in a per-CPU map value, not on the stack:
 * the verifier does not track map memory, so every step of the loop
 * looks alike to it and the callback is verified in a few passes. On the
 * stack, each state constant would be a different path to explore.
 */
struct http_vars {
	__u32 len;
	__u32 state;
	__u32 result;
	__u32 mark; /* start of the token being read */
	__u32 name_end;
	__u32 val_start;
	__u32 val_end; /* one past the last non-blank byte */
	__u32 method_len;
	__u32 target_start;
	__u32 target_len;
	__u32 path_len; /* the target up to its query string */
	__u32 found; /* bit k: names[k] seen */
	__u32 dup; /* bit k: names[k] seen more than once */
	__u32 cand; /* bit k: the name being read may be names[k] */
	__u32 all; /* bit k set for each of the table's names */
	__u32 failed; /* bit b: a condition of block b does not hold */
	__u32 val_off[KANARY_L7_MAX_NAMES];
	__u32 val_len[KANARY_L7_MAX_NAMES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct http_vars);
} kn_http_vars SEC(".maps");

struct http_scan {
	const __u8 *buf;
	const struct kanary_l7_table *t;
	struct http_vars *v;
};

/* RFC 9110 tchar: what a method or a header name is made of. */
static __always_inline bool is_tchar(__u8 c)
{
	if (c >= 'a' && c <= 'z')
		return true;
	if (c >= 'A' && c <= 'Z')
		return true;
	if (c >= '0' && c <= '9')
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	}
	return false;
}

static __always_inline __u8 lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * buf[i], bounded. The 64-bit copy behind an empty asm keeps clang from
 * checking one register and indexing with another (its zero-extended
 * twin), which the verifier cannot follow.
 */
static __always_inline __u8 buf_at(const __u8 *buf, __u32 i)
{
	__u64 idx = i;

	asm volatile("" : "+r"(idx));
	if (idx >= KANARY_L7_HOLD_LEN)
		return 0;
	return buf[idx];
}

/* 1 when a != b, 0 when equal, for bytes: without a branch. */
static __always_inline __u32 differs(__u8 a, __u8 b)
{
	return ((__u32)(a ^ b) + 0xff) >> 8;
}

/*
 * Names are matched while they are read, against all of the table's
 * names at once: cand keeps the names still equal so far. Branch-free,
 * so that the verifier sees one path per byte, not one per name.
 */
static __always_inline void name_byte(struct http_scan *s, __u32 j, __u8 c)
{
	const struct kanary_l7_table *t = s->t;
	__u64 jj = j;
	int k;

	asm volatile("" : "+r"(jj)); /* see buf_at */
	if (jj >= KANARY_L7_NAME_LEN) {
		s->v->cand = 0;
		return;
	}
	c = lower(c);
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++)
		s->v->cand &= ~(differs((__u8)t->names[k][jj], c) << k);
}

static __always_inline void name_end(struct http_scan *s, __u32 nlen)
{
	const struct kanary_l7_table *t = s->t;
	int k;

	if (nlen >= KANARY_L7_NAME_LEN) {
		s->v->cand = 0;
		return;
	}
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++)
		s->v->cand &= ~(differs(t->name_len[k], nlen) << k);
}

/*
 * A header line is complete: note its value if its name is asked for.
 * A name seen again is marked: Envoy matches the values of a repeated
 * header joined by commas, which no exact value without a comma equals.
 */
static __always_inline void note_header(struct http_scan *s)
{
	__u32 bit = s->v->cand & -s->v->cand; /* the name that matched */
	int k;

	if (!bit)
		return;
	if (s->v->found & bit) {
		s->v->dup |= bit;
		return;
	}
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++) {
		if (bit == 1u << k) {
			s->v->val_off[k] = s->v->val_start;
			s->v->val_len[k] = s->v->val_end - s->v->val_start;
		}
	}
	s->v->found |= bit;
}

static long http_step(__u32 i, struct http_scan *s)
{
	__u8 c;

	if (i >= s->v->len || i >= KANARY_L7_HOLD_LEN)
		return 1;
	c = buf_at(s->buf, i);

	switch (s->v->state) {
	case H_METHOD:
		if (c == ' ' && i > 0) {
			s->v->method_len = i;
			s->v->target_start = i + 1;
			s->v->state = H_TARGET;
		} else if (!is_tchar(c)) {
			goto bad;
		}
		return 0;
	case H_TARGET:
		if (c == '?' && !s->v->path_len)
			s->v->path_len = i - s->v->target_start;
		if (c == ' ' && i > s->v->target_start) {
			s->v->target_len = i - s->v->target_start;
			if (!s->v->path_len)
				s->v->path_len = s->v->target_len;
			s->v->mark = i + 1;
			s->v->state = H_VERSION;
		} else if (c <= ' ' || c >= 0x7f) {
			goto bad;
		}
		return 0;
	case H_VERSION: {
		__u32 k = i - s->v->mark;

		if (k < 7) {
			/* "HTTP/1." as a little-endian constant */
			if (c != (__u8)(0x2e312f50545448ULL >> (k * 8)))
				goto bad;
		} else if (k == 7) {
			if (c < '0' || c > '9')
				goto bad;
		} else if (k == 8 && c == '\r') {
			s->v->state = H_REQ_LF;
		} else {
			goto bad;
		}
		return 0;
	}
	case H_REQ_LF:
	case H_HDR_LF:
		if (c != '\n')
			goto bad;
		if (s->v->state == H_HDR_LF)
			note_header(s);
		s->v->state = H_LINE;
		return 0;
	case H_LINE:
		if (c == '\r') {
			s->v->state = H_END_LF;
		} else if (is_tchar(c)) {
			s->v->mark = i;
			s->v->state = H_NAME;
			s->v->cand = s->v->all;
			name_byte(s, 0, c);
		} else {
			goto bad; /* includes obsolete line folding */
		}
		return 0;
	case H_NAME:
		if (c == ':') {
			s->v->name_end = i;
			name_end(s, i - s->v->mark);
			s->v->state = H_OWS;
		} else if (is_tchar(c)) {
			name_byte(s, i - s->v->mark, c);
		} else {
			goto bad;
		}
		return 0;
	case H_OWS:
		if (c == ' ' || c == '\t')
			return 0;
		s->v->val_start = i;
		s->v->val_end = i;
		if (c == '\r') {
			s->v->state = H_HDR_LF;
			return 0;
		}
		s->v->state = H_VALUE;
		/* fall through */
	case H_VALUE:
		if (c == '\r') {
			s->v->state = H_HDR_LF;
		} else if ((c < ' ' && c != '\t') || c == 0x7f) {
			goto bad;
		} else if (c != ' ' && c != '\t') {
			s->v->val_end = i + 1;
		}
		return 0;
	case H_END_LF:
		if (c != '\n')
			goto bad;
		s->v->result = HTTP_DONE;
		return 1;
	}
bad:
	s->v->result = HTTP_BAD;
	return 1;
}

struct span_cmp {
	const __u8 *buf;
	const char *value;
	__u32 off;
	__u32 len;
	bool eq;
};

static long span_step(__u32 j, struct span_cmp *c)
{
	__u64 vj = j;

	asm volatile("" : "+r"(vj)); /* see buf_at */
	if (vj >= c->len || vj >= KANARY_L7_VALUE_LEN)
		return 1;
	if (buf_at(c->buf, c->off + j) != (__u8)c->value[vj]) {
		c->eq = false;
		return 1;
	}
	return 0;
}

/*
 * Do len bytes of buf at off equal value (the first len bytes)? A loop
 * of its own: inline, its 64 steps times the condition's paths would
 * exhaust the verifier.
 */
static __always_inline bool span_eq(const __u8 *buf, __u32 off,
				    const char *value, __u32 len)
{
	struct span_cmp c = {
		.buf = buf,
		.value = value,
		.off = off,
		.len = len,
		.eq = true,
	};

	bpf_loop(KANARY_L7_VALUE_LEN, span_step, &c, 0);
	return c.eq;
}

static long http_cond(__u32 i, struct http_scan *s)
{
	const struct kanary_l7_cond *c;
	__u32 off, len;
	__u64 name = 0;
	bool found = true, holds;

	__u64 ci = i;

	asm volatile("" : "+r"(ci)); /* see buf_at */
	if (ci >= s->t->n_conds || ci >= KANARY_L7_MAX_CONDS)
		return 1;
	c = &s->t->conds[ci];
	if (c->block >= 32 || (s->v->failed & (1u << c->block)))
		return 0; /* the block failed already */

	switch (c->field) {
	case KANARY_L7_METHOD:
		off = 0;
		len = s->v->method_len;
		break;
	case KANARY_L7_URI:
		/* Envoy: an exact path is matched without the query
		 * string, a prefix against the whole target. */
		off = s->v->target_start;
		len = c->op == KANARY_L7_EXACT ? s->v->path_len :
						 s->v->target_len;
		break;
	default:
		name = c->name & (KANARY_L7_MAX_NAMES - 1);
		asm volatile("" : "+r"(name));
		if (name >= KANARY_L7_MAX_NAMES)
			return 1;
		found = s->v->found & (1u << name);
		off = s->v->val_off[name];
		len = s->v->val_len[name];
		break;
	}

	if (!found)
		holds = false;
	else if (c->op == KANARY_L7_PRESENT)
		holds = true;
	else if (c->op >= KANARY_L7_HOST_EXACT) /* bpf/l7_host.h */
		holds = !(s->v->dup & (1u << name)) &&
			host_holds(host_capture(s->buf, off, len), len, c);
	else if (c->op == KANARY_L7_EXACT)
		holds = len == c->len &&
			!(c->field >= KANARY_L7_HEADER &&
			  (s->v->dup & (1u << name))) &&
			span_eq(s->buf, off, c->value, c->len);
	else /* KANARY_L7_PREFIX */
		holds = len >= c->len && span_eq(s->buf, off, c->value, c->len);
	if (c->field == KANARY_L7_WITHOUT_HEADER)
		holds = !holds;
	if (!holds)
		s->v->failed |= 1u << c->block;
	return 0;
}

/*
 * The block the request head in buf[0..len) selects, the default block
 * when it is not a complete HTTP/1.x head, or KANARY_L7_NONE. *complete
 * tells which of the two it was.
 */
static __always_inline __u32 http_select(const __u8 *buf, __u32 len,
					 const struct kanary_l7_table *t,
					 bool *complete)
{
	struct http_scan s = {
		.buf = buf,
		.t = t,
	};
	struct http_vars *v;
	__u32 zero = 0, failed;
	int b;

	v = bpf_map_lookup_elem(&kn_http_vars, &zero);
	if (!v) {
		*complete = false;
		return t->default_block;
	}
	__builtin_memset(v, 0, sizeof(*v));
	v->len = len;
	if (t->n_names < KANARY_L7_MAX_NAMES)
		v->all = (1u << t->n_names) - 1;
	else
		v->all = (1u << KANARY_L7_MAX_NAMES) - 1;
	s.v = v;

	bpf_loop(KANARY_L7_HOLD_LEN, http_step, &s, 0);
	*complete = v->result == HTTP_DONE;
	if (!*complete)
		return t->default_block;

	bpf_loop(KANARY_L7_MAX_CONDS, http_cond, &s, 0);
	failed = v->failed;
	for (b = 0; b < KANARY_L7_MAX_BLOCKS; b++) {
		if (b >= t->n_blocks)
			break;
		if (!(failed & (1u << b)))
			/* a stop block: the host's routes did not match */
			return t->blocks[b].route == KANARY_L7_NONE ?
				       KANARY_L7_NONE :
				       b;
	}
	return KANARY_L7_NONE;
}

#endif /* KANARY_BPF_HTTP_H */
