// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The checker: a thread that runs every endpoint's check on its interval
 * (check.c), feeds the results to the state machine (policy.c), and when
 * an endpoint is ejected or readmitted saves the ejected set in the state
 * dir and tells the agent (an eventfd), which re-applies: apply reads the
 * set and compiles without those endpoints.
 *
 * Everything the thread and the agent share (the endpoints, their state,
 * what waits for kn_health_after_apply) is under one mutex; the checks
 * themselves, and the state dir's lock, are never taken with it held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "check.h"
#include "compile.h"
#include "config_index.h"
#include "flows.h"
#include "health.h"
#include "log.h"
#include "state.h"

/* What the thread knows of an endpoint besides the state machine's. */
struct kn_hinfo {
	char service[KANARY_NAME_LEN];
	char subset[KANARY_NAME_LEN];
	uint32_t interval_ms, timeout_ms;
	char *http_path, *http_expect; /* owned */
	bool in_flight;
	uint64_t next_due; /* ms, monotonic */
	bool unreachable; /* the last failure was below HTTP */
	char last_error[128];
	int64_t ejected_wall; /* unix time of the ejection, for status */
};

struct kn_health {
	char pin_dir[512];
	int notify_fd;
	struct kn_checker *checker;
	pthread_t thread;

	pthread_mutex_t mu; /* everything below */
	bool stop;
	bool dirty; /* the ejected set differs from the saved one */
	struct kn_hset set;
	struct kn_hinfo *info; /* set.n_eps of them */
	/* Ejected as unreachable, waiting for kn_health_after_apply. */
	int n_mark;
	struct kn_cendpoint *mark;
	/* The saved set of a previous agent, until the first config. */
	int n_adopt;
	struct kn_ejected *adopt;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_free(struct kn_hset *s, struct kn_hinfo *info)
{
	for (int i = 0; i < s->n_pools; i++)
		free(s->pools[i].eps);
	free(s->pools);
	for (int i = 0; info && i < s->n_eps; i++) {
		free(info[i].http_path);
		free(info[i].http_expect);
	}
	free(info);
	free(s->eps);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------------ */
/* The endpoints of a config */

struct builder {
	struct kn_hset s;
	struct kn_hinfo *info;
	int cap_eps, cap_pools;
	/* Pools already made: (Service, subset, port) */
	const struct kn_resource **pool_svc;
	const char **pool_subset;
	uint16_t *pool_port;
};

static int find_ep(const struct kn_hset *s, uint32_t addr, uint16_t port)
{
	for (int i = 0; i < s->n_eps; i++)
		if (s->eps[i].addr == addr && s->eps[i].port == port)
			return i;
	return -1;
}

static void *grow(void *p, int *cap, int n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 8;
	return realloc(p, *cap * size);
}

static int add_ep(struct builder *b, uint32_t addr, uint16_t port,
		  const struct kn_health_policy *pol,
		  const struct kn_resource *svc, const char *subset)
{
	int i = find_ep(&b->s, addr, port), cap = b->cap_eps;
	struct kn_hinfo *in;
	struct kn_hep *e;
	void *p;

	if (i >= 0)
		return i;
	if (!(p = grow(b->s.eps, &cap, b->s.n_eps, sizeof(*b->s.eps))))
		return -1;
	b->s.eps = p;
	cap = b->cap_eps;
	if (!(p = grow(b->info, &cap, b->s.n_eps, sizeof(*b->info))))
		return -1;
	b->info = p;
	b->cap_eps = cap;
	i = b->s.n_eps++;
	e = memset(&b->s.eps[i], 0, sizeof(*e));
	in = memset(&b->info[i], 0, sizeof(*in));
	e->addr = addr;
	e->port = port;
	e->healthy = true;
	/* An endpoint in several pools is checked once, the first pool's
	 * way (config order). */
	e->unhealthy_threshold = pol->unhealthy_threshold;
	e->healthy_threshold = pol->healthy_threshold;
	e->base_ejection_ms = pol->base_ejection_ms;
	in->interval_ms = pol->interval_ms;
	in->timeout_ms = pol->timeout_ms;
	in->http_path = pol->http_path ? strdup(pol->http_path) : NULL;
	in->http_expect = pol->http_expect ? strdup(pol->http_expect) : NULL;
	if ((pol->http_path && !in->http_path) ||
	    (pol->http_expect && !in->http_expect))
		return -1;
	snprintf(in->service, sizeof(in->service), "%s/%s", svc->ns, svc->name);
	snprintf(in->subset, sizeof(in->subset), "%s", subset ? subset : "");
	return i;
}

/* The pool of one destination, as kn_compile builds it, once. */
static int add_pool(struct builder *b, const struct kn_config *cfg,
		    const struct kn_resource *vs,
		    const struct kn_destination *d)
{
	const struct kn_resource *svc, *dr;
	const struct kn_subset *subset = NULL;
	const struct kn_service_port *sp;
	struct kn_health_policy pol;
	struct kn_hpool *pool;
	int cap, n_wes;
	const int *wes;
	void *p;

	svc = kn_config_resolve_host(cfg, vs->ns, d->host);
	if (!svc || !(sp = kn_service_port(svc, d->port)))
		return 0; /* not compiled either */
	dr = kn_config_destrule_for(cfg, svc);
	for (int i = 0; d->subset && dr && i < dr->dr.n_subsets; i++)
		if (!strcmp(dr->dr.subsets[i].name, d->subset))
			subset = &dr->dr.subsets[i];
	if (d->subset && !subset)
		return 0;
	for (int i = 0; i < b->s.n_pools; i++)
		if (b->pool_svc[i] == svc && b->pool_port[i] == sp->port &&
		    (subset ? b->pool_subset[i] &&
				      !strcmp(b->pool_subset[i], subset->name) :
			      !b->pool_subset[i]))
			return 0;
	cap = b->cap_pools;
	if (!(p = grow(b->s.pools, &cap, b->s.n_pools, sizeof(*b->s.pools))))
		return -1;
	b->s.pools = p;
	cap = b->cap_pools;
	if (!(p = grow(b->pool_svc, &cap, b->s.n_pools, sizeof(*b->pool_svc))))
		return -1;
	b->pool_svc = p;
	cap = b->cap_pools;
	if (!(p = grow(b->pool_subset, &cap, b->s.n_pools,
		       sizeof(*b->pool_subset))))
		return -1;
	b->pool_subset = p;
	cap = b->cap_pools;
	if (!(p = grow(b->pool_port, &cap, b->s.n_pools,
		       sizeof(*b->pool_port))))
		return -1;
	b->pool_port = p;
	b->cap_pools = cap;
	b->pool_svc[b->s.n_pools] = svc;
	b->pool_subset[b->s.n_pools] = subset ? subset->name : NULL;
	b->pool_port[b->s.n_pools] = sp->port;
	pool = memset(&b->s.pools[b->s.n_pools++], 0, sizeof(*pool));

	kn_health_policy_of(dr, subset, &pol);
	pool->max_ejection_pct = pol.max_ejection_pct;
	wes = kn_index_endpoints(cfg, svc, &n_wes);
	pool->eps = calloc(n_wes ? n_wes : 1, sizeof(*pool->eps));
	if (!pool->eps)
		return -1;
	for (int i = 0; i < n_wes; i++) {
		const struct kn_resource *we = &cfg->res[wes[i]];
		uint16_t port;
		int ep;

		if (!kn_config_is_endpoint(svc, subset, we))
			continue;
		port = htons(kn_workloadentry_port(&we->we, sp));
		ep = add_ep(b, we->we.addr, port, &pol, svc,
			    subset ? subset->name : NULL);
		if (ep < 0)
			return -1;
		for (int j = 0; j < pool->n; j++)
			if (pool->eps[j] == ep)
				ep = -1;
		if (ep >= 0)
			pool->eps[pool->n++] = ep;
	}
	return 0;
}

static int build(struct builder *b, const struct kn_config *cfg)
{
	for (int i = 0; i < cfg->n_res; i++) {
		const struct kn_resource *vs = &cfg->res[i];
		const struct kn_http_route *l4;

		if (vs->kind != KN_VIRTUALSERVICE)
			continue;
		/* The routes kn_compile compiles, no more. */
		l4 = kn_vs_l4_route(vs);
		for (int h = 0; h < vs->vs.n_http; h++) {
			const struct kn_http_route *hr = &vs->vs.http[h];

			if (l4 && hr != l4)
				continue;
			for (int d = 0; d < hr->n_route; d++)
				if (add_pool(b, cfg, vs, &hr->route[d]))
					return -1;
		}
		for (int t = 0; t < vs->vs.n_tls; t++) {
			const struct kn_tls_route *tr = &vs->vs.tls[t];

			for (int d = 0; d < tr->n_route; d++)
				if (add_pool(b, cfg, vs, &tr->route[d]))
					return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Saving, notifying */

static void ejected_row(const struct kn_hep *e, const struct kn_hinfo *in,
			struct kn_ejected *x)
{
	memset(x, 0, sizeof(*x));
	x->addr = e->addr;
	x->port = e->port;
	x->since = in->ejected_wall;
	snprintf(x->service, sizeof(x->service), "%s", in->service);
	snprintf(x->subset, sizeof(x->subset), "%s", in->subset);
	snprintf(x->why, sizeof(x->why), "%s", in->last_error);
}

/* Save the ejected set if it changed; the mutex is not held. */
static int save(struct kn_health *h)
{
	struct kn_ejected *x = NULL;
	int n = 0, rc;

	pthread_mutex_lock(&h->mu);
	if (!h->dirty) {
		pthread_mutex_unlock(&h->mu);
		return 0;
	}
	h->dirty = false;
	x = calloc(h->set.n_eps ? h->set.n_eps : 1, sizeof(*x));
	for (int i = 0; x && i < h->set.n_eps; i++)
		if (h->set.eps[i].ejected)
			ejected_row(&h->set.eps[i], &h->info[i], &x[n++]);
	if (!x)
		h->dirty = true;
	pthread_mutex_unlock(&h->mu);
	if (!x)
		return -1;
	rc = kn_state_save_ejected(h->pin_dir, x, n);
	free(x);
	if (rc) {
		kn_log("health: cannot save the ejected "
		       "endpoints: %s",
		       strerror(errno));
		pthread_mutex_lock(&h->mu);
		h->dirty = true;
		pthread_mutex_unlock(&h->mu);
	}
	return rc;
}

static void notify(struct kn_health *h)
{
	uint64_t one = 1;

	if (h->notify_fd >= 0 &&
	    write(h->notify_fd, &one, sizeof(one)) != sizeof(one))
		kn_log("health: cannot notify: %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* The thread */

struct run_ctx {
	struct kn_health *h;
	bool changed;
};

static void log_change(const struct kn_hep *e, const struct kn_hinfo *in,
		       enum kn_health_change ch)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &e->addr, a, sizeof(a));
	if (ch == KN_HEALTH_EJECTED)
		kn_log("health: %s:%u (%s%s%s) ejected after %u "
		       "failed checks (%s), for %llu ms",
		       a, ntohs(e->port), in->service, in->subset[0] ? " " : "",
		       in->subset, e->fails, in->last_error,
		       (unsigned long long)(e->eject_until - e->since));
	else
		kn_log("health: %s:%u (%s%s%s) readmitted", a, ntohs(e->port),
		       in->service, in->subset[0] ? " " : "", in->subset);
}

static void on_done(void *arg, const struct kn_check_result *r)
{
	struct run_ctx *ctx = arg;
	struct kn_health *h = ctx->h;
	enum kn_health_change ch;
	struct kn_hinfo *in;
	uint64_t now = now_ms();
	int i;

	pthread_mutex_lock(&h->mu);
	i = find_ep(&h->set, r->addr, r->port);
	if (i < 0) /* left the config while it ran */
		goto out;
	in = &h->info[i];
	in->in_flight = false;
	in->next_due = now + in->interval_ms;
	if (!r->pass) {
		in->unreachable = r->unreachable;
		snprintf(in->last_error, sizeof(in->last_error), "%s",
			 r->error);
	} else {
		in->last_error[0] = '\0';
	}
	ch = kn_health_result(&h->set, i, r->pass, now);
	if (ch == KN_HEALTH_SAME)
		goto out;
	if (ch == KN_HEALTH_EJECTED) {
		in->ejected_wall = time(NULL);
		if (in->unreachable) {
			void *p = realloc(h->mark,
					  (h->n_mark + 1) * sizeof(*h->mark));

			if (p) {
				h->mark = p;
				h->mark[h->n_mark].addr = r->addr;
				h->mark[h->n_mark++].port = r->port;
			}
		}
	}
	log_change(&h->set.eps[i], in, ch);
	h->dirty = true;
	ctx->changed = true;
out:
	pthread_mutex_unlock(&h->mu);
}

/* Start what is due; returns how long until the next is, in ms. */
static int start_due(struct kn_health *h)
{
	uint64_t now = now_ms(), next = now + 1000;

	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < h->set.n_eps; i++) {
		struct kn_hinfo *in = &h->info[i];

		if (in->in_flight)
			continue;
		if (in->next_due <= now) {
			if (kn_checker_start(h->checker, h->set.eps[i].addr,
					     h->set.eps[i].port, in->http_path,
					     in->http_expect, in->timeout_ms)) {
				in->next_due = now + in->interval_ms;
				continue;
			}
			in->in_flight = true;
			continue;
		}
		if (in->next_due < next)
			next = in->next_due;
	}
	pthread_mutex_unlock(&h->mu);
	return next > now ? (int)(next - now) : 0;
}

static void *health_thread(void *arg)
{
	struct kn_health *h = arg;
	struct run_ctx ctx = { .h = h };
	bool pending = false; /* a change the agent was not told of */

	for (;;) {
		int wait;

		pthread_mutex_lock(&h->mu);
		if (h->stop) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		pthread_mutex_unlock(&h->mu);
		wait = start_due(h);
		ctx.changed = false;
		if (kn_checker_run(h->checker, wait, on_done, &ctx)) {
			kn_log("health: libcurl failed");
			usleep(100000);
		}
		/* Saved first: the re-apply reads what was saved. A save
		 * that failed is tried again, and told, next time round. */
		pending |= ctx.changed;
		if (!save(h) && pending) {
			notify(h);
			pending = false;
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The agent's side */

struct kn_health *kn_health_start(const char *pin_dir, int notify_fd)
{
	struct kn_health *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return NULL;
	snprintf(h->pin_dir, sizeof(h->pin_dir), "%s", pin_dir);
	h->notify_fd = notify_fd;
	if (kn_state_read_ejected(pin_dir, &h->adopt, &h->n_adopt)) {
		err = errno;
		goto bad;
	}
	/* Idempotent after the first call; the agent has no other user. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) ||
	    !(h->checker = kn_checker_new())) {
		err = ENOMEM;
		goto bad;
	}
	pthread_mutex_init(&h->mu, NULL);
	err = pthread_create(&h->thread, NULL, health_thread, h);
	if (err) {
		pthread_mutex_destroy(&h->mu);
		goto bad;
	}
	return h;
bad:
	kn_checker_free(h->checker);
	free(h->adopt);
	free(h);
	errno = err;
	return NULL;
}

int kn_health_set_config(struct kn_health *h, const struct kn_config *cfg)
{
	struct builder b = { 0 };
	uint64_t now = now_ms();
	bool changed = false;
	int rc = 0;

	if (build(&b, cfg)) {
		set_free(&b.s, b.info);
		rc = -1;
		goto out;
	}
	pthread_mutex_lock(&h->mu);
	for (int i = 0; i < b.s.n_eps; i++) {
		struct kn_hep *e = &b.s.eps[i];
		struct kn_hinfo *in = &b.info[i];
		int old = find_ep(&h->set, e->addr, e->port);

		if (old >= 0) {
			/* Same endpoint: its state and schedule go on; its
			 * policy is the new config's. */
			struct kn_hep st = h->set.eps[old];

			st.unhealthy_threshold = e->unhealthy_threshold;
			st.healthy_threshold = e->healthy_threshold;
			st.base_ejection_ms = e->base_ejection_ms;
			*e = st;
			in->in_flight = h->info[old].in_flight;
			in->next_due = h->info[old].next_due;
			in->unreachable = h->info[old].unreachable;
			in->ejected_wall = h->info[old].ejected_wall;
			memcpy(in->last_error, h->info[old].last_error,
			       sizeof(in->last_error));
			continue;
		}
		/* New: checked soon, spread over one interval. */
		in->next_due = now + (uint64_t)in->interval_ms * i /
					     (b.s.n_eps ? b.s.n_eps : 1);
		for (int j = 0; j < h->n_adopt; j++) {
			if (h->adopt[j].addr != e->addr ||
			    h->adopt[j].port != e->port)
				continue;
			kn_health_adopt(e, now);
			in->ejected_wall = h->adopt[j].since;
			snprintf(in->last_error, sizeof(in->last_error), "%s",
				 h->adopt[j].why);
		}
	}
	/* An ejected endpoint that left the config leaves the saved set. */
	for (int i = 0; i < h->set.n_eps; i++)
		if (h->set.eps[i].ejected &&
		    find_ep(&b.s, h->set.eps[i].addr, h->set.eps[i].port) < 0)
			changed = true;
	if (h->n_adopt) {
		changed = true;
		free(h->adopt);
		h->adopt = NULL;
		h->n_adopt = 0;
	}
	set_free(&h->set, h->info);
	h->set = b.s;
	h->info = b.info;
	h->dirty |= changed;
	pthread_mutex_unlock(&h->mu);
	kn_checker_wakeup(h->checker);
out:
	free(b.pool_svc);
	free(b.pool_subset);
	free(b.pool_port);
	return rc;
}

void kn_health_after_apply(struct kn_health *h, const struct kn_maps *m)
{
	struct kn_cendpoint *mark;
	int n, n_live = 0, marked;

	pthread_mutex_lock(&h->mu);
	mark = h->mark;
	n = h->n_mark;
	h->mark = NULL;
	h->n_mark = 0;
	/* Readmitted in the meantime: its flows may live. */
	for (int i = 0; i < n; i++) {
		int e = find_ep(&h->set, mark[i].addr, mark[i].port);

		if (e < 0 || !h->set.eps[e].ejected)
			mark[i].port = 0;
	}
	pthread_mutex_unlock(&h->mu);
	/* One walk of kn_flows for every endpoint to mark. */
	for (int i = 0; i < n; i++)
		if (mark[i].port)
			mark[n_live++] = mark[i];
	marked = m ? kn_flows_mark_ejected(m, mark, n_live) : 0;
	if (marked > 0)
		kn_log("health: %d connections to %d ejected endpoint%s "
		       "marked: their clients get a reset",
		       marked, n_live, n_live == 1 ? "" : "s");
	if (marked < 0)
		kn_log("health: cannot mark the flows of ejected endpoints: %s",
		       strerror(errno));
	free(mark);
}

int kn_health_rows(struct kn_health *h, struct kn_health_row **rows, int *n)
{
	struct kn_health_row *r;

	pthread_mutex_lock(&h->mu);
	r = calloc(h->set.n_eps ? h->set.n_eps : 1, sizeof(*r));
	if (!r) {
		pthread_mutex_unlock(&h->mu);
		return -1;
	}
	for (int i = 0; i < h->set.n_eps; i++) {
		const struct kn_hep *e = &h->set.eps[i];
		const struct kn_hinfo *in = &h->info[i];

		r[i].addr = e->addr;
		r[i].port = e->port;
		memcpy(r[i].service, in->service, sizeof(r[i].service));
		memcpy(r[i].subset, in->subset, sizeof(r[i].subset));
		r[i].http = in->http_path != NULL;
		r[i].healthy = e->healthy;
		r[i].ejected = e->ejected;
		r[i].consecutive_failures = e->fails;
		r[i].checks = e->checks;
		r[i].failures = e->failures;
		r[i].times_ejected = e->times_ejected;
		memcpy(r[i].last_error, in->last_error,
		       sizeof(r[i].last_error));
	}
	*n = h->set.n_eps;
	*rows = r;
	pthread_mutex_unlock(&h->mu);
	return 0;
}

void kn_health_stop(struct kn_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_mutex_unlock(&h->mu);
	kn_checker_wakeup(h->checker);
	pthread_join(h->thread, NULL);
	/* The ejected set stays saved: the next agent adopts it. */
	save(h);
	kn_checker_free(h->checker);
	pthread_mutex_destroy(&h->mu);
	set_free(&h->set, h->info);
	free(h->mark);
	free(h->adopt);
	free(h);
}

void kn_health_print_status(FILE *f, const char *pin_dir)
{
	char a[INET_ADDRSTRLEN];
	struct kn_ejected *e;
	time_t now = time(NULL);
	int n;

	if (kn_state_read_ejected(pin_dir, &e, &n)) {
		fprintf(f, "ejected endpoints: cannot read: %s\n",
			strerror(errno));
		return;
	}
	if (!n) {
		fprintf(f, "ejected endpoints: none\n");
		return;
	}
	fprintf(f, "ejected endpoints:\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "  %s:%u",
			inet_ntop(AF_INET, &e[i].addr, a, sizeof(a)),
			ntohs(e[i].port));
		if (e[i].service[0])
			fprintf(f, " %s%s%s", e[i].service,
				e[i].subset[0] ? " " : "", e[i].subset);
		if (e[i].since)
			fprintf(f, ", %llds ago",
				(long long)(now - e[i].since));
		if (e[i].why[0])
			fprintf(f, ": %s", e[i].why);
		fputc('\n', f);
	}
	free(e);
}
