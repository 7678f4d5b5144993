/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A read-only HTTP endpoint (libmicrohttpd, in a thread of its own): a
 * fixed set of paths, each answered by a function that renders its body.
 * GET and HEAD only; nothing served here can change state.
 */
#ifndef KANARY_ENDPOINT_H
#define KANARY_ENDPOINT_H

#include <netinet/in.h>
#include <stddef.h>

/* Renders a body (malloc'ed, taken over) and returns the HTTP status. */
typedef int (*kn_http_render_fn)(void *arg, char **body, size_t *len);

struct kn_http_path {
	const char *path;
	const char *content_type;
	kn_http_render_fn render;
	void *arg;
};

struct kn_http;

/* paths must outlive the endpoint. NULL with err set on failure. */
struct kn_http *kn_http_start(const struct sockaddr_in *addr,
			      const struct kn_http_path *paths, int n_paths,
			      char *err, size_t err_len);
void kn_http_stop(struct kn_http *h);

#endif /* KANARY_ENDPOINT_H */
