// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Active checks with libcurl's multi interface: every check of every
 * endpoint runs on the health thread without blocking it, each with its
 * own timeout, and curl_multi_poll() doubles as the thread's sleep (with
 * curl_multi_wakeup() to cut it short).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "check.h"

/* Enough for any model status answer; a longer body is cut here. */
#define KN_CHECK_BODY_MAX 65536

struct kn_check;

struct kn_checker {
	CURLM *multi;
	struct kn_check *running; /* a list, to abandon them at the end */
};

struct kn_check {
	struct kn_check *next, **pprev;
	CURL *easy;
	struct kn_check_result r;
	char *expect; /* NULL: any 2xx */
	bool http;
	char *body;
	size_t len;
	char errbuf[CURL_ERROR_SIZE];
};

struct kn_checker *kn_checker_new(void)
{
	struct kn_checker *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return NULL;
	}
	return c;
}

static void check_free(struct kn_check *k)
{
	if (k->easy)
		curl_easy_cleanup(k->easy);
	free(k->expect);
	free(k->body);
	free(k);
}

/* Off the running list and out of the multi handle, then freed. */
static void check_end(struct kn_checker *c, struct kn_check *k)
{
	if (k->pprev) {
		*k->pprev = k->next;
		if (k->next)
			k->next->pprev = k->pprev;
		curl_multi_remove_handle(c->multi, k->easy);
	}
	check_free(k);
}

void kn_checker_free(struct kn_checker *c)
{
	if (!c)
		return;
	/* Checks still running are abandoned. */
	while (c->running)
		check_end(c, c->running);
	curl_multi_cleanup(c->multi);
	free(c);
}

static size_t body_write(char *data, size_t size, size_t n, void *arg)
{
	struct kn_check *k = arg;
	size_t len = size * n, room = KN_CHECK_BODY_MAX - k->len;
	char *p;

	if (len > room)
		len = room;
	if (!len)
		return size * n;
	p = realloc(k->body, k->len + len + 1);
	if (!p)
		return 0;
	k->body = p;
	memcpy(k->body + k->len, data, len);
	k->len += len;
	k->body[k->len] = '\0';
	return size * n;
}

int kn_checker_start(struct kn_checker *c, uint32_t addr, uint16_t port,
		     const char *path, const char *expect, uint32_t timeout_ms)
{
	char a[INET_ADDRSTRLEN], url[2048];
	struct kn_check *k = calloc(1, sizeof(*k));
	CURL *e;

	if (!k)
		return -1;
	k->r.addr = addr;
	k->r.port = port;
	k->http = path != NULL;
	if (expect && !(k->expect = strdup(expect)))
		goto bad;
	e = k->easy = curl_easy_init();
	if (!e)
		goto bad;
	inet_ntop(AF_INET, &addr, a, sizeof(a));
	snprintf(url, sizeof(url), "http://%s:%u%s", a, ntohs(port),
		 path ? path : "/");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, k);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, k->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* The endpoint itself, never a proxy from the environment. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	/* A new connection each time: a check that rode a kept-alive
	 * connection would not see a server that stopped accepting. */
	curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kanary-health/1");
	if (k->http) {
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
	} else {
		curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
		goto bad;
	k->next = c->running;
	if (k->next)
		k->next->pprev = &k->next;
	k->pprev = &c->running;
	c->running = k;
	return 0;
bad:
	check_free(k);
	return -1;
}

static void verdict(struct kn_check *k, CURLcode code)
{
	struct kn_check_result *r = &k->r;
	long status = 0;

	if (code != CURLE_OK) {
		r->unreachable = true;
		snprintf(r->error, sizeof(r->error), "%.*s",
			 (int)sizeof(r->error) - 1,
			 k->errbuf[0] ? k->errbuf : curl_easy_strerror(code));
		return;
	}
	if (!k->http) {
		r->pass = true;
		return;
	}
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		snprintf(r->error, sizeof(r->error), "HTTP status %ld", status);
	else if (k->expect && (!k->body || !strstr(k->body, k->expect)))
		snprintf(r->error, sizeof(r->error),
			 "HTTP %ld without '%.60s' in the body", status,
			 k->expect);
	else
		r->pass = true;
}

int kn_checker_run(struct kn_checker *c, int wait_ms, kn_check_done_fn *done,
		   void *arg)
{
	int running, left;
	CURLMsg *msg;

	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -1;
	if (curl_multi_poll(c->multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
		return -1;
	if (curl_multi_perform(c->multi, &running) != CURLM_OK)
		return -1;
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		struct kn_check *k = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&k);
		verdict(k, msg->data.result);
		done(arg, &k->r);
		check_end(c, k);
	}
	return 0;
}

void kn_checker_wakeup(struct kn_checker *c)
{
	curl_multi_wakeup(c->multi);
}
