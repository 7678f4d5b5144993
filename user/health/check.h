/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The checks themselves, many at once on one thread: libcurl's multi
 * interface, a TCP connect (CURLOPT_CONNECT_ONLY) or an HTTP GET whose 2xx
 * body may have to contain a string.
 */
#ifndef KANARY_CHECK_H
#define KANARY_CHECK_H

#include <stdbool.h>
#include <stdint.h>

struct kn_checker;

struct kn_check_result {
	uint32_t addr; /* network byte order, as started */
	uint16_t port; /* network byte order */
	bool pass;
	/* Failed below HTTP (refused, timed out, reset): flows to it are
	 * as dead as the check. An HTTP status or body that fails is not. */
	bool unreachable;
	char error[128]; /* "" on a pass */
};

typedef void kn_check_done_fn(void *arg, const struct kn_check_result *r);

struct kn_checker *kn_checker_new(void);
void kn_checker_free(struct kn_checker *c);
/*
 * Start one check of addr:port: HTTP GET of path when path is not NULL
 * (passing on 2xx whose body contains expect, if given), else a TCP
 * connect; it fails after timeout_ms.
 */
int kn_checker_start(struct kn_checker *c, uint32_t addr, uint16_t port,
		     const char *path, const char *expect, uint32_t timeout_ms);
/*
 * Drive the checks for up to wait_ms (less when one ends or on a
 * wakeup); done is called for each check that ended.
 */
int kn_checker_run(struct kn_checker *c, int wait_ms, kn_check_done_fn *done,
		   void *arg);
/* Make a kn_checker_run in another thread return now. */
void kn_checker_wakeup(struct kn_checker *c);

#endif /* KANARY_CHECK_H */
