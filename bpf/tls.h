/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * TLS passthrough for the L7 path: the server name (SNI) of a client's
 * ClientHello, and the block of a TLS table (KANARY_L7_TLS) it selects.
 *
 * The scanner reads the stream byte by byte, in a bpf_loop callback like
 * http_step, and keeps all it knows in struct kanary_tls_parse, so that a
 * ClientHello cut anywhere (several TCP segments, several TLS records)
 * can be fed to it a piece at a time: tls_scan(buf, len, v) takes one
 * segment's payload, and v carries over to the next. Record headers are
 * read wherever they fall, so a ClientHello spread over several records
 * (rare; RFC 8446 5.1 allows it) is read as if it were in one.
 *
 *   record:    type 22 (handshake), version 3.x, length
 *   handshake: type 1 (ClientHello), 24-bit length
 *   ClientHello: client_version(2) random(32) session_id(1+n)
 *              cipher_suites(2+n) compression_methods(1+n)
 *              extensions(2+n): type(2) length(2) data
 *   server_name (type 0): list length(2), name_type(1) 0 = host_name,
 *              length(2), the name
 *
 * It stops as soon as it has the name (TLS_DONE), or knows there is none
 * (TLS_DONE, sni_len 0: no extensions, or none of them server_name, or a
 * first name that is not a host_name), or that the stream is not a
 * ClientHello at all (TLS_BAD: another record or handshake type, lengths
 * that do not nest). Until then it wants more bytes (TLS_MORE).
 */
#ifndef KANARY_BPF_TLS_H
#define KANARY_BPF_TLS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "kanary_abi.h"
#include "http.h" /* bounded, lower */

enum tls_result {
	TLS_MORE = 0,
	TLS_DONE,
	TLS_BAD,
};

/* The field being read; 0, a zeroed kanary_tls_parse, is the start. */
enum tls_state {
	T_HS_TYPE = 0, /* 1 byte: 1, ClientHello */
	T_HS_LEN, /* 3 */
	T_SID_LEN, /* 1, after version and random (skipped) */
	T_CS_LEN, /* 2 */
	T_COMP_LEN, /* 1 */
	T_EXTS_LEN, /* 2 */
	T_EXT_HDR, /* 4: type << 16 | length */
	T_SNI_LIST, /* 2: server_name_list length */
	T_SNI_ENTRY, /* 3: name_type << 16 | length */
	T_SNI_NAME, /* the name, a byte at a time */
};

#define TLS_RECORD_HDR 5
#define TLS_RECORD_MAX 16384 /* a plaintext record's bound (RFC 8446 5.1) */

_Static_assert(!(KANARY_L7_VALUE_LEN & (KANARY_L7_VALUE_LEN - 1)),
	       "kanary_tls_parse.sni is a ring: a power of 2");

struct tls_scan_ctx {
	const __u8 *buf;
	__u32 len;
	struct kanary_tls_parse *v;
};

/* A field of width bytes comes next (after skip bytes, if any). */
static __always_inline void tls_field(struct kanary_tls_parse *v, __u32 state,
				      __u32 width)
{
	v->state = state;
	v->more = width - 1;
	v->acc = 0;
}

/* A byte of a record header. */
static __always_inline void tls_record_byte(struct kanary_tls_parse *v, __u8 c)
{
	switch (v->rec_hdr++) {
	case 0:
		if (c != 22) /* handshake */
			v->result = TLS_BAD;
		break;
	case 1:
		if (c != 3)
			v->result = TLS_BAD;
		break;
	case 2:
		break;
	case 3:
		v->rec_left = (__u32)c << 8;
		break;
	default:
		v->rec_left |= c;
		if (!v->rec_left || v->rec_left > TLS_RECORD_MAX)
			v->result = TLS_BAD;
		break;
	}
}

/* A field is complete (its value in v->acc): what comes next. */
static __always_inline void tls_field_done(struct kanary_tls_parse *v)
{
	__u32 len = v->acc & 0xffff;

	switch (v->state) {
	case T_HS_TYPE:
		if (v->acc != 1)
			goto bad;
		tls_field(v, T_HS_LEN, 3);
		return;
	case T_HS_LEN:
		v->hs_end = v->hpos + v->acc;
		v->skip = 2 + 32; /* client_version, random */
		tls_field(v, T_SID_LEN, 1);
		return;
	case T_SID_LEN:
		if (v->acc > 32)
			goto bad;
		v->skip = v->acc;
		tls_field(v, T_CS_LEN, 2);
		return;
	case T_CS_LEN:
		v->skip = v->acc;
		tls_field(v, T_COMP_LEN, 1);
		return;
	case T_COMP_LEN:
		/* Nothing after the compression methods: no extensions. */
		if (v->hpos + v->acc >= v->hs_end)
			goto none;
		v->skip = v->acc;
		tls_field(v, T_EXTS_LEN, 2);
		return;
	case T_EXTS_LEN:
		v->ext_end = v->hpos + v->acc;
		if (v->ext_end > v->hs_end)
			goto bad;
		if (!v->acc)
			goto none;
		tls_field(v, T_EXT_HDR, 4);
		return;
	case T_EXT_HDR:
		if (v->hpos + len > v->ext_end)
			goto bad;
		if (!(v->acc >> 16)) { /* server_name */
			tls_field(v, T_SNI_LIST, 2);
			return;
		}
		/* The last extension, and not server_name: no need to
		 * read it. */
		if (v->hpos + len == v->ext_end)
			goto none;
		v->skip = len;
		tls_field(v, T_EXT_HDR, 4);
		return;
	case T_SNI_LIST:
		if (v->acc < 3)
			goto bad;
		tls_field(v, T_SNI_ENTRY, 3);
		return;
	case T_SNI_ENTRY:
		/* host_name is the only name type there is (RFC 6066). */
		if (v->acc >> 16 || !len)
			goto none;
		v->sni_len = len;
		v->sni_end = v->hpos + len;
		if (v->sni_end > v->ext_end)
			goto bad;
		v->state = T_SNI_NAME;
		return;
	}
bad:
	v->result = TLS_BAD;
	return;
none:
	v->result = TLS_DONE;
}

static long tls_step(__u32 i, struct tls_scan_ctx *s)
{
	struct kanary_tls_parse *v = s->v;
	__u64 at;
	__u8 c;

	at = bounded(i, KANARY_L7_SEG_MAX);
	if (i >= s->len || at >= KANARY_L7_SEG_MAX)
		return 1;
	c = s->buf[at];
	if (v->rec_hdr < TLS_RECORD_HDR) {
		tls_record_byte(v, c);
		return v->result != TLS_MORE;
	}
	/* A handshake byte; the next record's header after the last one. */
	if (!--v->rec_left)
		v->rec_hdr = 0;
	v->hpos++;
	if (v->skip) {
		v->skip--;
		return 0;
	}
	if (v->state == T_SNI_NAME) {
		at = v->hpos - 1 - (v->sni_end - v->sni_len);
		asm volatile("" : "+r"(at)); /* see bounded() */
		v->sni[at & (KANARY_L7_VALUE_LEN - 1)] = lower(c);
		if (v->hpos == v->sni_end)
			v->result = TLS_DONE;
		return v->result != TLS_MORE;
	}
	v->acc = v->acc << 8 | c;
	if (v->more) {
		v->more--;
		return 0;
	}
	tls_field_done(v);
	return v->result != TLS_MORE;
}

/*
 * Feed one segment's payload, buf[0..len), to the scanner whose state is
 * v (zeroed before the stream's first byte). Returns enum tls_result;
 * once DONE or BAD, more bytes change nothing.
 */
static __always_inline __u32 tls_scan(const __u8 *buf, __u32 len,
				      struct kanary_tls_parse *v)
{
	struct tls_scan_ctx s = {
		.buf = buf,
		.len = len,
		.v = v,
	};

	if (v->result == TLS_MORE)
		bpf_loop(KANARY_L7_SEG_MAX, tls_step, &s, 0);
	return v->result;
}

struct sni_cmp {
	const struct kanary_tls_parse *v;
	const char *value;
	__u32 off; /* where in the name value starts */
	__u32 len;
	bool eq;
};

static long sni_step(__u32 j, struct sni_cmp *c)
{
	__u64 vj = j, at = c->off + j;

	asm volatile("" : "+r"(vj)); /* see bounded() */
	asm volatile("" : "+r"(at));
	if (vj >= c->len || vj >= KANARY_L7_VALUE_LEN)
		return 1;
	if (c->v->sni[at & (KANARY_L7_VALUE_LEN - 1)] != (__u8)c->value[vj]) {
		c->eq = false;
		return 1;
	}
	return 0;
}

/* Does the name hold condition c: exactly it, or ending in it (a suffix
 * of at most KANARY_L7_VALUE_LEN bytes, still in the ring)? */
static __always_inline bool sni_holds(const struct kanary_tls_parse *v,
				      const struct kanary_l7_cond *c)
{
	struct sni_cmp cmp = {
		.v = v,
		.value = c->value,
		.len = c->len,
		.eq = true,
	};

	if (c->field != KANARY_L7_SNI || c->len > KANARY_L7_VALUE_LEN)
		return false;
	if (c->op == KANARY_L7_EXACT && v->sni_len != c->len)
		return false;
	if (c->op == KANARY_L7_SUFFIX && v->sni_len <= c->len)
		return false;
	if (c->op != KANARY_L7_EXACT && c->op != KANARY_L7_SUFFIX)
		return false;
	cmp.off = v->sni_len - c->len;
	bpf_loop(KANARY_L7_VALUE_LEN, sni_step, &cmp, 0);
	return cmp.eq;
}

struct tls_pick {
	const struct kanary_l7_table *t;
	const struct kanary_tls_parse *v;
	__u32 block; /* the best so far */
};

static long tls_cond(__u32 i, struct tls_pick *p)
{
	const struct kanary_l7_cond *c;
	__u64 ci = i;

	asm volatile("" : "+r"(ci)); /* see bounded() */
	if (ci >= p->t->n_conds || ci >= KANARY_L7_MAX_CONDS)
		return 1;
	c = &p->t->conds[ci];
	/* Conditions come in block order: none after this one wins. */
	if (c->block >= p->block)
		return 1;
	if (sni_holds(p->v, c)) {
		p->block = c->block;
		return 1;
	}
	return 0;
}

/*
 * The block of TLS table t that the scanned ClientHello v selects: the
 * first whose SNI condition holds (each block has one, the compiler
 * ordered them as Envoy ranks server names), else the default block (a
 * `*` route), which also takes a ClientHello without a name and a stream
 * that is not one. KANARY_L7_NONE when there is none: reset.
 */
static __always_inline __u32 tls_select(const struct kanary_l7_table *t,
					const struct kanary_tls_parse *v)
{
	struct tls_pick p = {
		.t = t,
		.v = v,
		.block = t->default_block,
	};

	if (v->result != TLS_DONE || !v->sni_len)
		return t->default_block;
	bpf_loop(KANARY_L7_MAX_CONDS, tls_cond, &p, 0);
	return p.block;
}

#endif /* KANARY_BPF_TLS_H */
