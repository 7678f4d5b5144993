// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Endpoint health: the policy a pool gets, the state machine driven with
 * made-up times (threshold, readmission after base time x times ejected,
 * maxEjectionPercent, a pool whose every endpoint fails), the ejected set
 * in the state dir, the checks against sockets of this host, and the
 * checker thread end to end.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "health.h"
#include "helpers.h"
#include "state.h"

/* ------------------------------------------------------------------ */
/* Policy */

static const struct kn_resource *lab_dr(struct kn_config *cfg)
{
	const struct kn_resource *dr;

	t_read_lab(cfg, NULL);
	dr = kn_config_find(cfg, KN_DESTINATIONRULE, "default",
			    "image-classifier");
	cr_assert_not_null(dr);
	return dr;
}

Test(health_policy, defaults)
{
	struct kn_config cfg;
	const struct kn_resource *dr = lab_dr(&cfg);
	struct kn_health_policy p;

	kn_health_policy_of(dr, &dr->dr.subsets[0], &p);
	cr_assert_eq(p.interval_ms, 2000);
	cr_assert_eq(p.timeout_ms, 1000);
	cr_assert_eq(p.unhealthy_threshold, 3);
	cr_assert_eq(p.healthy_threshold, 1);
	cr_assert_eq(p.base_ejection_ms, 10000);
	cr_assert_eq(p.max_ejection_pct, 100);
	cr_assert_null(p.http_path);
	cr_assert_null(p.http_expect);
	kn_health_policy_of(NULL, NULL, &p);
	cr_assert_eq(p.unhealthy_threshold, 3);
	kn_config_free(&cfg);
}

Test(health_policy, subset_block_replaces_the_rules)
{
	struct kn_config cfg;
	struct kn_resource *dr = (struct kn_resource *)lab_dr(&cfg);
	struct kn_health_policy p;

	dr->dr.outlier = (struct kn_outlier){
		.set = true,
		.has_interval = true,
		.interval_ms = 500,
		.has_5xx_errors = true,
		.errors_5xx = 5,
		.has_gateway_errors = true,
		.gateway_errors = 2,
		.has_max_ejection = true,
		.max_ejection_pct = 50,
	};
	dr->dr.subsets[1].outlier = (struct kn_outlier){
		.set = true,
		.has_base_ejection = true,
		.base_ejection_ms = 30000,
	};
	dr->dr.check.http_path = strdup("/v1/models/image_classifier");
	dr->dr.check.timeout_ms = 300;
	dr->dr.check.healthy_threshold = 2;

	/* The rule's: the smaller of the two error counts. */
	kn_health_policy_of(dr, &dr->dr.subsets[0], &p);
	cr_assert_eq(p.interval_ms, 500);
	cr_assert_eq(p.unhealthy_threshold, 2);
	cr_assert_eq(p.max_ejection_pct, 50);
	cr_assert_eq(p.base_ejection_ms, 10000);
	cr_assert_str_eq(p.http_path, "/v1/models/image_classifier");
	cr_assert_eq(p.timeout_ms, 300);
	cr_assert_eq(p.healthy_threshold, 2);
	/* The subset's own block: the rule's fields do not leak in. */
	kn_health_policy_of(dr, &dr->dr.subsets[1], &p);
	cr_assert_eq(p.interval_ms, 2000);
	cr_assert_eq(p.unhealthy_threshold, 3);
	cr_assert_eq(p.max_ejection_pct, 100);
	cr_assert_eq(p.base_ejection_ms, 30000);
	/* The annotations are the rule's, for every subset. */
	cr_assert_str_eq(p.http_path, "/v1/models/image_classifier");
	kn_config_free(&cfg);
}

Test(health_policy, zero_errors_never_eject)
{
	struct kn_resource dr = { .kind = KN_DESTINATIONRULE };
	struct kn_health_policy p;

	dr.dr.outlier =
		(struct kn_outlier){ .set = true, .has_5xx_errors = true };
	kn_health_policy_of(&dr, NULL, &p);
	cr_assert_eq(p.unhealthy_threshold, 0);
	/* 0 disables one kind (Istio); the other still counts. */
	dr.dr.outlier.has_gateway_errors = true;
	dr.dr.outlier.gateway_errors = 4;
	kn_health_policy_of(&dr, NULL, &p);
	cr_assert_eq(p.unhealthy_threshold, 4);
}

/* ------------------------------------------------------------------ */
/* The state machine */

#define BASE 10000

static struct kn_hep eps[8];
static int pool_eps[8];
static struct kn_hpool pool;
static struct kn_hset set;

/* One pool of n endpoints, default thresholds. */
static void setup_pool(int n, uint32_t max_pct)
{
	memset(eps, 0, sizeof(eps));
	for (int i = 0; i < n; i++) {
		eps[i].addr = htonl(0xc6120100 + i);
		eps[i].port = htons(8501);
		eps[i].unhealthy_threshold = 3;
		eps[i].healthy_threshold = 1;
		eps[i].base_ejection_ms = BASE;
		eps[i].healthy = true;
		pool_eps[i] = i;
	}
	pool = (struct kn_hpool){ .max_ejection_pct = max_pct,
				  .n = n,
				  .eps = pool_eps };
	set = (struct kn_hset){
		.n_eps = n, .eps = eps, .n_pools = 1, .pools = &pool
	};
}

static enum kn_health_change fail(int i, uint64_t t)
{
	return kn_health_result(&set, i, false, t);
}

static enum kn_health_change pass(int i, uint64_t t)
{
	return kn_health_result(&set, i, true, t);
}

Test(health_sm, consecutive_failures_reach_the_threshold)
{
	setup_pool(2, 100);
	cr_assert_eq(fail(0, 0), KN_HEALTH_SAME);
	cr_assert_eq(fail(0, 1), KN_HEALTH_SAME);
	/* A pass in between starts the count again. */
	cr_assert_eq(pass(0, 2), KN_HEALTH_SAME);
	cr_assert_eq(fail(0, 3), KN_HEALTH_SAME);
	cr_assert_eq(fail(0, 4), KN_HEALTH_SAME);
	cr_assert(!eps[0].ejected);
	cr_assert_eq(fail(0, 5), KN_HEALTH_EJECTED);
	cr_assert(eps[0].ejected);
	cr_assert_eq(eps[0].times_ejected, 1);
	cr_assert_eq(eps[0].eject_until, 5 + BASE);
	/* Still failing: stays ejected, no second ejection. */
	cr_assert_eq(fail(0, 6), KN_HEALTH_SAME);
	cr_assert_eq(eps[0].times_ejected, 1);
	cr_assert_eq(eps[0].checks, 7);
	cr_assert_eq(eps[0].failures, 6);
	cr_assert(!eps[1].ejected);
}

Test(health_sm, readmitted_after_base_time_times_ejections)
{
	setup_pool(2, 100);
	for (int i = 0; i < 3; i++)
		fail(0, 0);
	cr_assert(eps[0].ejected);
	/* Passing before the ejection time is over: not yet. */
	cr_assert_eq(pass(0, BASE - 1), KN_HEALTH_SAME);
	cr_assert_eq(pass(0, BASE), KN_HEALTH_READMITTED);
	cr_assert(!eps[0].ejected);
	/* Ejected again at once: twice the base time. */
	for (int i = 0; i < 3; i++)
		fail(0, BASE + 1);
	cr_assert(eps[0].ejected);
	cr_assert_eq(eps[0].times_ejected, 2);
	cr_assert_eq(eps[0].eject_until, BASE + 1 + 2 * BASE);
	cr_assert_eq(pass(0, BASE + 1 + 2 * BASE - 1), KN_HEALTH_SAME);
	cr_assert_eq(pass(0, BASE + 1 + 2 * BASE), KN_HEALTH_READMITTED);
}

Test(health_sm, ejection_time_is_capped)
{
	uint64_t t = 0;

	setup_pool(1, 100);
	for (int k = 0; k < 40; k++) {
		for (int i = 0; i < 3; i++)
			fail(0, t);
		cr_assert(eps[0].ejected);
		cr_assert_leq(eps[0].eject_until - t,
			      KN_HEALTH_MAX_EJECTION_MS);
		t = eps[0].eject_until;
		cr_assert_eq(pass(0, t), KN_HEALTH_READMITTED);
	}
}

Test(health_sm, multiplier_decays_while_healthy)
{
	setup_pool(1, 100);
	for (int i = 0; i < 3; i++)
		fail(0, 0);
	pass(0, BASE); /* readmitted, multiplier 1 */
	/* A base time of passes earns it back. */
	pass(0, 2 * BASE);
	cr_assert_eq(eps[0].multiplier, 0);
	for (int i = 0; i < 3; i++)
		fail(0, 2 * BASE + 1);
	cr_assert_eq(eps[0].eject_until, 2 * BASE + 1 + BASE);
}

Test(health_sm, healthy_threshold_needs_consecutive_passes)
{
	setup_pool(1, 100);
	eps[0].healthy_threshold = 2;
	for (int i = 0; i < 3; i++)
		fail(0, 0);
	cr_assert_eq(pass(0, BASE), KN_HEALTH_SAME);
	cr_assert_eq(fail(0, BASE + 1), KN_HEALTH_SAME);
	cr_assert_eq(pass(0, BASE + 2), KN_HEALTH_SAME);
	cr_assert_eq(pass(0, BASE + 3), KN_HEALTH_READMITTED);
}

Test(health_sm, max_ejection_percent_per_pool)
{
	/* 4 endpoints, 50 %: two may go, the third may not. */
	setup_pool(4, 50);
	for (int e = 0; e < 4; e++)
		for (int i = 0; i < 3; i++)
			fail(e, 0);
	cr_assert(eps[0].ejected);
	cr_assert(eps[1].ejected);
	cr_assert(!eps[2].ejected);
	cr_assert(!eps[3].ejected);
	/* When one comes back, a still-failing one takes its place. */
	cr_assert_eq(pass(0, BASE), KN_HEALTH_READMITTED);
	cr_assert_eq(fail(2, BASE), KN_HEALTH_EJECTED);
	cr_assert_eq(fail(3, BASE), KN_HEALTH_SAME);
}

Test(health_sm, one_endpoint_is_always_ejectable)
{
	/* As in Envoy: 10 % of 2 endpoints is less than one; one goes. */
	setup_pool(2, 10);
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < 3; i++)
			fail(e, 0);
	cr_assert(eps[0].ejected);
	cr_assert(!eps[1].ejected);
}

Test(health_sm, every_endpoint_of_a_pool_failing)
{
	/* The default 100 %: an active check that cannot connect knows; the
	 * pool is emptied (compiled empty, or fallback). */
	setup_pool(3, 100);
	for (int e = 0; e < 3; e++)
		for (int i = 0; i < 3; i++)
			fail(e, 0);
	for (int e = 0; e < 3; e++)
		cr_assert(eps[e].ejected, "endpoint %d", e);
	/* They come back one by one, as their checks pass. */
	cr_assert_eq(pass(1, BASE), KN_HEALTH_READMITTED);
	cr_assert(eps[0].ejected && !eps[1].ejected && eps[2].ejected);
}

Test(health_sm, an_endpoint_in_two_pools_obeys_both)
{
	static int a_eps[] = { 0, 1 }, b_eps[] = { 1, 2 };
	struct kn_hpool pools[2] = {
		{ .max_ejection_pct = 100, .n = 2, .eps = a_eps },
		{ .max_ejection_pct = 50, .n = 2, .eps = b_eps },
	};

	setup_pool(3, 100);
	set.pools = pools;
	set.n_pools = 2;
	for (int i = 0; i < 3; i++)
		fail(2, 0);
	cr_assert(eps[2].ejected);
	/* Pool b already has its 50 % ejected. */
	for (int i = 0; i < 3; i++)
		fail(1, 0);
	cr_assert(!eps[1].ejected);
}

Test(health_sm, zero_threshold_never_ejects)
{
	setup_pool(1, 100);
	eps[0].unhealthy_threshold = 0;
	for (int i = 0; i < 10; i++)
		cr_assert_eq(fail(0, i), KN_HEALTH_SAME);
	cr_assert(!eps[0].healthy);
}

Test(health_sm, adopted_endpoint_readmitted_by_its_first_pass)
{
	setup_pool(1, 100);
	kn_health_adopt(&eps[0], 1000);
	cr_assert(eps[0].ejected);
	cr_assert_eq(fail(0, 1500), KN_HEALTH_SAME);
	cr_assert_eq(pass(0, 2000), KN_HEALTH_READMITTED);
}

/* ------------------------------------------------------------------ */
/* The state dir */

static char state_root[] = "/tmp/kanary-test-health-XXXXXX";

static void state_init(void)
{
	cr_assert_not_null(mkdtemp(state_root));
	setenv("KANARY_STATE_ROOT", state_root, 1);
}

static void state_fini(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state_root);
	cr_assert_eq(system(cmd), 0);
	unsetenv("KANARY_STATE_ROOT");
}

TestSuite(health_state, .init = state_init, .fini = state_fini);

Test(health_state, ejected_set_round_trips)
{
	struct kn_ejected in[2] = {
		{ .addr = inet_addr("198.18.1.2"),
		  .port = htons(8501),
		  .since = 1700000000,
		  .service = "default/image-classifier",
		  .subset = "resnet50",
		  .why = "Failed to connect\nto it" },
		{ .addr = inet_addr("10.0.0.9"), .port = htons(80) },
	};
	struct kn_ejected *out;
	int n;

	cr_assert_eq(kn_state_read_ejected("/sys/fs/bpf/t", &out, &n), 0);
	cr_assert_eq(n, 0, "no file: nothing ejected");
	cr_assert_eq(kn_state_save_ejected("/sys/fs/bpf/t", in, 2), 0);
	cr_assert_eq(kn_state_read_ejected("/sys/fs/bpf/t", &out, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(out[0].addr, in[0].addr);
	cr_assert_eq(out[0].port, in[0].port);
	cr_assert_eq(out[0].since, 1700000000);
	cr_assert_str_eq(out[0].service, "default/image-classifier");
	cr_assert_str_eq(out[0].subset, "resnet50");
	cr_assert_str_eq(out[0].why, "Failed to connect to it");
	cr_assert_eq(out[1].addr, in[1].addr);
	cr_assert_eq(out[1].port, htons(80));
	cr_assert_str_eq(out[1].subset, "");
	free(out);
	cr_assert_eq(kn_state_save_ejected("/sys/fs/bpf/t", in, 0), 0);
	cr_assert_eq(kn_state_read_ejected("/sys/fs/bpf/t", &out, &n), 0);
	cr_assert_eq(n, 0);
}

Test(health_state, status_lists_them)
{
	struct kn_ejected in = { .addr = inet_addr("198.18.3.2"),
				 .port = htons(8501),
				 .service = "default/image-classifier",
				 .subset = "resnet101",
				 .why = "HTTP status 503" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	kn_health_print_status(f, "/sys/fs/bpf/t");
	cr_assert_eq(kn_state_save_ejected("/sys/fs/bpf/t", &in, 1), 0);
	kn_health_print_status(f, "/sys/fs/bpf/t");
	fclose(f);
	cr_assert_str_eq(buf, "ejected endpoints: none\n"
			      "ejected endpoints:\n"
			      "  198.18.3.2:8501 default/image-classifier "
			      "resnet101: HTTP status 503\n");
	free(buf);
}

/* ------------------------------------------------------------------ */
/* The checks, against this host's own sockets */

static int listener(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = sa.sin_port;
	return fd;
}

struct server {
	int fd;
	const char *answer;
};

/* Answer one request with a canned response. */
static void *serve_one(void *arg)
{
	struct server *s = arg;
	char buf[4096];
	int c = accept(s->fd, NULL, NULL);

	if (c < 0)
		return NULL;
	if (read(c, buf, sizeof(buf)) > 0 &&
	    write(c, s->answer, strlen(s->answer)) < 0)
		perror("write");
	close(c);
	return NULL;
}

static void got(void *arg, const struct kn_check_result *r)
{
	*(struct kn_check_result *)arg = *r;
}

/* Run one check to its end. */
static struct kn_check_result check(uint16_t port, const char *path,
				    const char *expect)
{
	struct kn_check_result r = { .error = "not run" };
	struct kn_checker *c = kn_checker_new();

	cr_assert_not_null(c);
	cr_assert_eq(kn_checker_start(c, htonl(INADDR_LOOPBACK), port, path,
				      expect, 2000),
		     0);
	for (int i = 0; i < 50 && !strcmp(r.error, "not run"); i++)
		cr_assert_eq(kn_checker_run(c, 100, got, &r), 0);
	kn_checker_free(c);
	cr_assert_str_neq(r.error, "not run", "the check never ended");
	return r;
}

static struct kn_check_result http_check(const char *answer, const char *expect)
{
	struct server s = { .answer = answer };
	struct kn_check_result r;
	uint16_t port;
	pthread_t t;

	s.fd = listener(&port);
	cr_assert_eq(pthread_create(&t, NULL, serve_one, &s), 0);
	r = check(port, "/v1/models/image_classifier", expect);
	pthread_join(t, NULL);
	close(s.fd);
	return r;
}

#define OK_BODY "{\"model_version_status\": [{\"state\": \"AVAILABLE\"}]}"

Test(health_check, tcp_connect)
{
	struct kn_check_result r;
	uint16_t port;
	int fd = listener(&port);

	r = check(port, NULL, NULL);
	cr_assert(r.pass, "%s", r.error);
	cr_assert_eq(r.port, port);
	close(fd);
	/* Nobody listens any more: refused, and unreachable. */
	r = check(port, NULL, NULL);
	cr_assert(!r.pass);
	cr_assert(r.unreachable);
	cr_assert_str_neq(r.error, "");
}

Test(health_check, http_2xx_with_the_expected_body)
{
	struct kn_check_result r;

	r = http_check("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n"
		       "Connection: close\r\n\r\n" OK_BODY,
		       "AVAILABLE");
	cr_assert(r.pass, "%s", r.error);
}

Test(health_check, http_any_2xx_without_expect)
{
	struct kn_check_result r;

	r = http_check("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
		       NULL);
	cr_assert(r.pass, "%s", r.error);
}

Test(health_check, http_body_without_the_expected_string)
{
	struct kn_check_result r;

	r = http_check("HTTP/1.1 200 OK\r\nContent-Length: 22\r\n"
		       "Connection: close\r\n\r\n{\"state\": \"LOADING\"}\r\n",
		       "AVAILABLE");
	cr_assert(!r.pass);
	cr_assert(!r.unreachable, "it answered");
	cr_assert_str_eq(r.error, "HTTP 200 without 'AVAILABLE' in the body");
}

Test(health_check, http_error_status)
{
	struct kn_check_result r;

	r = http_check("HTTP/1.1 503 Service Unavailable\r\n"
		       "Content-Length: 0\r\nConnection: close\r\n\r\n",
		       NULL);
	cr_assert(!r.pass);
	cr_assert(!r.unreachable);
	cr_assert_str_eq(r.error, "HTTP status 503");
}

Test(health_check, http_timeout)
{
	struct kn_checker *c = kn_checker_new();
	struct kn_check_result r = { .error = "not run" };
	uint16_t port;
	int fd = listener(&port); /* accepts (backlog), never answers */

	cr_assert_eq(kn_checker_start(c, htonl(INADDR_LOOPBACK), port, "/",
				      NULL, 200),
		     0);
	for (int i = 0; i < 30 && !strcmp(r.error, "not run"); i++)
		kn_checker_run(c, 100, got, &r);
	cr_assert(!r.pass);
	cr_assert(r.unreachable);
	kn_checker_free(c);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* The checker thread, end to end */

TestSuite(health_thread, .init = state_init, .fini = state_fini);

/*
 * The lab's endpoints moved to 127.0.0.1-3 on a port bound and never
 * listened on (what the reader refuses, the checker takes): every check
 * is refused, every endpoint ejected, the set saved, the agent told.
 */
static int closed_port(struct kn_config *cfg, int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int k = 0;

	if (fd < 0) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	for (int i = 0; i < cfg->n_res; i++) {
		struct kn_workloadentry *we = &cfg->res[i].we;

		if (cfg->res[i].kind != KN_WORKLOADENTRY)
			continue;
		we->addr = htonl(INADDR_LOOPBACK + k++);
		we->ports[0].port = ntohs(sa.sin_port);
	}
	return fd;
}

Test(health_thread, failing_endpoints_are_ejected_saved_and_notified,
     .timeout = 20)
{
	struct kn_config cfg;
	struct kn_resource *dr;
	struct kn_health_row *rows;
	struct kn_ejected *ej;
	struct kn_health *h;
	struct pollfd pfd;
	uint64_t v;
	int efd, n, port_fd;

	t_read_lab(&cfg, "virtualservice-weight-70.yaml");
	port_fd = closed_port(&cfg, -1);
	dr = kn_config_find(&cfg, KN_DESTINATIONRULE, "default",
			    "image-classifier");
	dr->dr.outlier = (struct kn_outlier){ .set = true,
					      .has_interval = true,
					      .interval_ms = 100,
					      .has_5xx_errors = true,
					      .errors_5xx = 2 };
	dr->dr.check.timeout_ms = 200;
	efd = eventfd(0, EFD_CLOEXEC);
	cr_assert_geq(efd, 0);
	h = kn_health_start("/sys/fs/bpf/t", efd);
	cr_assert_not_null(h);
	cr_assert_eq(kn_health_set_config(h, &cfg), 0);
	cr_assert_eq(kn_health_rows(h, &rows, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(rows[0].service, "default/image-classifier");
	free(rows);

	/* Every endpoint ejected, within a few intervals. */
	for (int tries = 0; tries < 50; tries++) {
		pfd = (struct pollfd){ .fd = efd, .events = POLLIN };
		cr_assert_eq(poll(&pfd, 1, 5000), 1, "never notified");
		cr_assert_eq(read(efd, &v, sizeof(v)), sizeof(v));
		kn_health_after_apply(h, NULL);
		cr_assert_eq(kn_state_read_ejected("/sys/fs/bpf/t", &ej, &n),
			     0);
		free(ej);
		if (n == 3)
			break;
	}
	cr_assert_eq(n, 3);
	cr_assert_eq(kn_health_rows(h, &rows, &n), 0);
	for (int i = 0; i < n; i++) {
		cr_assert(rows[i].ejected);
		cr_assert(!rows[i].healthy);
		cr_assert_str_neq(rows[i].last_error, "");
	}
	free(rows);
	kn_health_stop(h);

	/* A new checker adopts them; an endpoint that left the config
	 * leaves the saved set. */
	h = kn_health_start("/sys/fs/bpf/t", -1);
	cr_assert_not_null(h);
	kn_config_free(&cfg);
	t_read_lab(&cfg, "virtualservice-weight-70.yaml");
	closed_port(&cfg, port_fd);
	/* 127.0.0.3 leaves: resnet101 without its endpoint. */
	for (int i = 0; i < cfg.n_res; i++)
		if (cfg.res[i].kind == KN_VIRTUALSERVICE)
			cfg.res[i].vs.http[0].n_route = 1;
	cr_assert_eq(kn_health_set_config(h, &cfg), 0);
	cr_assert_eq(kn_health_rows(h, &rows, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert(rows[0].ejected && rows[1].ejected);
	free(rows);
	kn_health_stop(h);
	cr_assert_eq(kn_state_read_ejected("/sys/fs/bpf/t", &ej, &n), 0);
	cr_assert_eq(n, 2);
	free(ej);
	close(efd);
	close(port_fd);
	kn_config_free(&cfg);
}
