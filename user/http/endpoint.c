// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "endpoint.h"

struct kn_http {
	struct MHD_Daemon *mhd;
	const struct kn_http_path *paths;
	int n_paths;
};

static enum MHD_Result reply(struct MHD_Connection *conn, int status,
			     const char *type, char *body, size_t len,
			     const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result text(struct MHD_Connection *conn, int status,
			    const char *msg, const char *allow)
{
	char *body = strdup(msg);

	return reply(conn, status, "text/plain; charset=utf-8", body,
		     body ? strlen(body) : 0, allow);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct kn_http *h = cls;
	char *body = NULL;
	size_t len = 0;
	int status;

	/* A request body is never read: nothing here takes input. */
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed: this endpoint is read-only\n",
			    "GET, HEAD");
	for (int i = 0; i < h->n_paths; i++) {
		const struct kn_http_path *p = &h->paths[i];

		if (strcmp(url, p->path))
			continue;
		status = p->render(p->arg, &body, &len);
		if (!body)
			return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "cannot render\n", NULL);
		return reply(conn, status, p->content_type, body, len, NULL);
	}
	return text(conn, MHD_HTTP_NOT_FOUND, "not found\n", NULL);
}

struct kn_http *kn_http_start(const struct sockaddr_in *addr,
			      const struct kn_http_path *paths, int n_paths,
			      char *err, size_t err_len)
{
	struct kn_http *h = calloc(1, sizeof(*h));
	char a[INET_ADDRSTRLEN];

	if (!h) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	h->paths = paths;
	h->n_paths = n_paths;
	/*
	 * One polling thread: scrapes and probes are rare and cheap, and a
	 * thread per connection would let a slow client pin resources.
	 */
	h->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
		ntohs(addr->sin_port), NULL, NULL, handle, h,
		MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
		MHD_OPTION_END);
	if (!h->mhd) {
		snprintf(err, err_len, "cannot listen on %s:%u: %s",
			 inet_ntop(AF_INET, &addr->sin_addr, a, sizeof(a)),
			 ntohs(addr->sin_port), strerror(errno));
		free(h);
		return NULL;
	}
	return h;
}

void kn_http_stop(struct kn_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}
