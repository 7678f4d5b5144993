/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * HTTP/1.x request head matching for the L7 path. The head is scanned as
 * its segments arrive, byte by byte, by a bpf_loop callback whose state
 * (struct kanary_http_parse, in the connection's kn_head entry) lasts from
 * one segment to the next: the request line gives method and URI, and the
 * value of every header whose name the table asks about is copied out
 * (first occurrence, first KANARY_L7_VALUE_LEN bytes). The same pass copies
 * each byte into the connection's kn_hold chunks, for the replay. Once the
 * blank line is in, each condition is evaluated once, and the first block
 * whose conditions all hold wins.
 *
 * Strict on purpose: bytes HTTP does not allow, bare LF line ends,
 * obsolete line folding, or a request line that is not "METHOD SP target
 * SP HTTP/1.x" make the head bad (the gateway answers 400): a guess could
 * pick the wrong subset.
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
	HTTP_BAD, /* not an HTTP/1.x request head */
};

/*
 * One call's view: the bytes (buf[from, from + n)), where each goes in
 * kn_hold (hold[0] takes the stream up to the chunk boundary at split,
 * hold[1] the rest; chunk offsets from pos), and the connection's state.
 * The scanner's variables live in a map value, not on the stack: the
 * verifier does not track map memory, so every step of the loop looks
 * alike to it and the callback is verified in a few passes. On the stack,
 * each state constant would be a different path to explore.
 */
struct http_scan {
	const __u8 *buf;
	__u8 *hold[2];
	__u32 pos; /* stream offset of buf[0] */
	__u32 n;
	__u32 split; /* stream offset where hold[1] starts */
	const struct kanary_l7_table *t;
	struct kanary_http_parse *v;
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
 * An index below bound, as the verifier can follow it: the 64-bit copy
 * behind an empty asm keeps clang from checking one register and indexing
 * with another (its zero-extended twin). bound when out of range.
 */
static __always_inline __u64 bounded(__u32 i, __u32 bound)
{
	__u64 idx = i;

	asm volatile("" : "+r"(idx));
	return idx < bound ? idx : bound;
}

/* A copied-out value's byte j (the caller keeps j below its length). */
static __always_inline void keep_byte(__u8 *to, __u32 j, __u8 c)
{
	__u64 idx = bounded(j, KANARY_L7_VALUE_LEN);

	if (idx < KANARY_L7_VALUE_LEN)
		to[idx] = c;
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
	__u64 jj = bounded(j, KANARY_L7_NAME_LEN);
	int k;

	if (jj >= KANARY_L7_NAME_LEN) {
		s->v->cand = 0;
		return;
	}
	c = lower(c);
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++)
		s->v->cand &= ~(differs((__u8)t->names[k][jj], c) << k);
}

/* The name is complete (nlen bytes): which of the table's is it? */
static __always_inline void name_end(struct http_scan *s, __u32 nlen)
{
	const struct kanary_l7_table *t = s->t;
	__u32 bit;
	int k;

	if (nlen >= KANARY_L7_NAME_LEN)
		s->v->cand = 0;
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++)
		s->v->cand &= ~(differs(t->name_len[k], nlen) << k);
	/* Names are distinct: one bit at most. */
	bit = s->v->cand & -s->v->cand;
	s->v->cur = bit;
#pragma unroll
	for (k = 0; k < KANARY_L7_MAX_NAMES; k++)
		if (bit == 1u << k)
			s->v->cur_k = k;
}

/* A value byte (the j-th after the leading blanks) of the current header:
 * copied out at its first occurrence. */
static __always_inline void value_byte(struct http_scan *s, __u32 j, __u8 c)
{
	__u64 k = bounded(s->v->cur_k, KANARY_L7_MAX_NAMES);

	if (!s->v->cur || (s->v->found & s->v->cur) ||
	    k >= KANARY_L7_MAX_NAMES || j >= KANARY_L7_VALUE_LEN)
		return;
	keep_byte(s->v->val[k], j, c);
}

/*
 * A header line is complete: note its value's length if its name is
 * asked for. A name seen again is marked: Envoy matches the values of a
 * repeated header joined by commas, which no exact value without a comma
 * equals.
 */
static __always_inline void note_header(struct http_scan *s)
{
	__u32 bit = s->v->cur;
	__u64 k = bounded(s->v->cur_k, KANARY_L7_MAX_NAMES);

	if (!bit || k >= KANARY_L7_MAX_NAMES)
		return;
	if (s->v->found & bit) {
		s->v->dup |= bit;
		return;
	}
	s->v->val_len[k] = s->v->val_end;
	s->v->found |= bit;
}

/* The stream's byte at buf[i] goes to its kn_hold chunk too. */
static __always_inline void hold_byte(struct http_scan *s, __u32 i, __u8 c)
{
	__u32 at = s->pos + i;
	__u8 *to = at < s->split ? s->hold[0] : s->hold[1];
	__u64 idx = bounded(at % KANARY_L7_CHUNK, KANARY_L7_CHUNK);

	if (to && idx < KANARY_L7_CHUNK)
		to[idx] = c;
}

static long http_step(__u32 i, struct http_scan *s)
{
	__u32 tok;
	__u64 idx;
	__u8 c;

	if (i >= s->n)
		return 1;
	idx = bounded(i, KANARY_L7_SEG_MAX);
	if (idx >= KANARY_L7_SEG_MAX)
		return 1;
	c = s->buf[idx];
	hold_byte(s, i, c);
	/* Past the head (a body, a second request), or a ClientHello's
	 * bytes (no v: tls.h reads them): only held. */
	if (!s->v || s->v->result != HTTP_MORE)
		return 0;
	tok = s->v->tok++;

	switch (s->v->state) {
	case H_METHOD:
		if (c == ' ' && tok > 0) {
			s->v->method_len = tok;
			s->v->tok = 0;
			s->v->state = H_TARGET;
		} else if (!is_tchar(c)) {
			goto bad;
		} else {
			keep_byte(s->v->method, tok, c);
		}
		return 0;
	case H_TARGET:
		if (c == '?' && !s->v->path_len)
			s->v->path_len = tok;
		if (c == ' ' && tok > 0) {
			s->v->target_len = tok;
			if (!s->v->path_len)
				s->v->path_len = tok;
			s->v->tok = 0;
			s->v->state = H_VERSION;
		} else if (c <= ' ' || c >= 0x7f) {
			goto bad;
		} else {
			keep_byte(s->v->target, tok, c);
		}
		return 0;
	case H_VERSION:
		if (tok < 7) {
			/* "HTTP/1." as a little-endian constant */
			if (c != (__u8)(0x2e312f50545448ULL >> (tok * 8)))
				goto bad;
		} else if (tok == 7) {
			if (c < '0' || c > '9')
				goto bad;
		} else if (tok == 8 && c == '\r') {
			s->v->state = H_REQ_LF;
		} else {
			goto bad;
		}
		return 0;
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
			s->v->tok = 1;
			s->v->state = H_NAME;
			s->v->cand = s->v->all;
			name_byte(s, 0, c);
		} else {
			goto bad; /* includes obsolete line folding */
		}
		return 0;
	case H_NAME:
		if (c == ':') {
			name_end(s, tok);
			s->v->state = H_OWS;
		} else if (is_tchar(c)) {
			name_byte(s, tok, c);
		} else {
			goto bad;
		}
		return 0;
	case H_OWS:
		if (c == ' ' || c == '\t')
			return 0;
		s->v->tok = 0;
		s->v->val_end = 0;
		if (c == '\r') {
			s->v->state = H_HDR_LF;
			return 0;
		}
		s->v->state = H_VALUE;
		tok = s->v->tok++;
		/* fall through */
	case H_VALUE:
		if (c == '\r') {
			s->v->state = H_HDR_LF;
		} else if ((c < ' ' && c != '\t') || c == 0x7f) {
			goto bad;
		} else {
			value_byte(s, tok, c);
			if (c != ' ' && c != '\t')
				s->v->val_end = tok + 1;
		}
		return 0;
	case H_END_LF:
		if (c != '\n')
			goto bad;
		s->v->result = HTTP_DONE;
		return 0;
	}
bad:
	s->v->result = HTTP_BAD;
	return 0;
}

/*
 * Scan n more bytes of the connection's stream (buf, from stream offset
 * pos), copying them into the chunks at hold (see struct http_scan). With
 * no v, only copy them.
 */
static __always_inline void http_scan(struct kanary_http_parse *v,
				      const struct kanary_l7_table *t,
				      const __u8 *buf, __u32 pos, __u32 n,
				      __u8 *hold0, __u8 *hold1)
{
	struct http_scan s = {
		.buf = buf,
		.hold = { hold0, hold1 },
		.pos = pos,
		.n = n,
		.split = (pos / KANARY_L7_CHUNK + 1) * KANARY_L7_CHUNK,
		.t = t,
		.v = v,
	};

	bpf_loop(KANARY_L7_SEG_MAX, http_step, &s, 0);
}

/* A new head: nothing read, every one of the table's names asked for. */
static __always_inline void http_start(struct kanary_http_parse *v,
				       const struct kanary_l7_table *t)
{
	__builtin_memset(v, 0, sizeof(*v));
	if (t->n_names < KANARY_L7_MAX_NAMES)
		v->all = (1u << t->n_names) - 1;
	else
		v->all = (1u << KANARY_L7_MAX_NAMES) - 1;
}

/*
 * Do the first len bytes of a copied-out value (got) equal value's? A
 * loop of its own (cmp_step): inline, its 64 steps times the condition's
 * paths would exhaust the verifier. m: the comparison's context.
 */
static __always_inline bool span_eq(struct value_cmp *m, const __u8 *got,
				    const char *value, __u32 len)
{
	m->got = got;
	m->value = value;
	m->n = len;
	m->start = 0;
	m->fold = false;
	m->eq = true;
	bpf_loop(KANARY_L7_VALUE_LEN, cmp_step, m, 0);
	return m->eq;
}

struct http_eval {
	const struct kanary_l7_table *t;
	struct kanary_http_parse *v;
	__u32 failed; /* bit b: a condition of block b does not hold */
	struct value_cmp m; /* see struct value_cmp */
};

static long http_cond(__u32 i, struct http_eval *e)
{
	struct kanary_http_parse *v = e->v;
	const struct kanary_l7_cond *c;
	const __u8 *got;
	__u32 len;
	__u64 name = 0;
	bool found = true, holds;
	__u64 ci = bounded(i, KANARY_L7_MAX_CONDS);

	if (ci >= e->t->n_conds || ci >= KANARY_L7_MAX_CONDS)
		return 1;
	c = &e->t->conds[ci];
	if (c->block >= 32 || (e->failed & (1u << c->block)))
		return 0; /* the block failed already */

	switch (c->field) {
	case KANARY_L7_METHOD:
		got = v->method;
		len = v->method_len;
		break;
	case KANARY_L7_URI:
		/* Envoy: an exact path is matched without the query
		 * string, a prefix against the whole target. */
		got = v->target;
		len = c->op == KANARY_L7_EXACT ? v->path_len : v->target_len;
		break;
	default:
		name = bounded(c->name, KANARY_L7_MAX_NAMES);
		if (name >= KANARY_L7_MAX_NAMES)
			return 1;
		found = v->found & (1u << name);
		got = v->val[name];
		len = v->val_len[name];
		break;
	}

	if (!found)
		holds = false;
	else if (c->op == KANARY_L7_PRESENT)
		holds = true;
	else if (c->len > KANARY_L7_VALUE_LEN)
		holds = false;
	else if (c->op >= KANARY_L7_HOST_EXACT) /* bpf/l7_host.h */
		holds = !(v->dup & (1u << name)) &&
			host_holds(&e->m, got, len, c);
	else if (c->op == KANARY_L7_EXACT)
		holds = len == c->len &&
			!(c->field >= KANARY_L7_HEADER &&
			  (v->dup & (1u << name))) &&
			span_eq(&e->m, got, c->value, c->len);
	else /* KANARY_L7_PREFIX */
		holds = len >= c->len && span_eq(&e->m, got, c->value, c->len);
	if (c->field == KANARY_L7_WITHOUT_HEADER)
		holds = !holds;
	if (!holds)
		e->failed |= 1u << c->block;
	return 0;
}

/*
 * The block a complete request head (v: HTTP_DONE) selects, or
 * KANARY_L7_NONE when none does.
 */
static __always_inline __u32 http_select(struct kanary_http_parse *v,
					 const struct kanary_l7_table *t)
{
	struct http_eval e = {
		.t = t,
		.v = v,
	};
	int b;

	bpf_loop(KANARY_L7_MAX_CONDS, http_cond, &e, 0);
	for (b = 0; b < KANARY_L7_MAX_BLOCKS; b++) {
		if (b >= t->n_blocks)
			break;
		if (!(e.failed & (1u << b)))
			/* a stop block: the host's routes did not match */
			return t->blocks[b].route == KANARY_L7_NONE ?
				       KANARY_L7_NONE :
				       b;
	}
	return KANARY_L7_NONE;
}

#endif /* KANARY_BPF_HTTP_H */
