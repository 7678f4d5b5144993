// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_http.h"
#include "endpoint.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "state.h"

struct kn_agent_http {
	const char *pin_dir;
	struct kn_agent_status *st;
	struct kn_health *health;
	struct kn_http_path paths[3];
	struct kn_http *http;
};

static int render_healthz(void *arg, char **body, size_t *len)
{
	*body = strdup("ok\n");
	*len = *body ? strlen(*body) : 0;
	return 200;
}

/* The interfaces that are not attached, as " a b"; "" when all are. */
static void detached(const char *pin_dir, char *buf, size_t len)
{
	struct kn_load_info li;
	size_t n = 0;

	buf[0] = '\0';
	if (kn_state_read_load(pin_dir, &li)) {
		snprintf(buf, len, " (nothing loaded)");
		return;
	}
	for (int i = 0; i < li.n_ifaces && n < len; i++)
		if (kn_attached(pin_dir, &li.ifaces[i]) != 1)
			n += snprintf(buf + n, len - n, " %s",
				      li.ifaces[i].name);
}

static int render_readyz(void *arg, char **body, size_t *len)
{
	struct kn_agent_http *h = arg;
	struct kn_agent_status *st = h->st;
	char missing[256];
	FILE *f = open_memstream(body, len);
	int status = 200;

	if (!f)
		return 500;
	detached(h->pin_dir, missing, sizeof(missing));
	pthread_mutex_lock(&st->lock);
	if (!st->loaded || missing[0]) {
		fprintf(f, "not ready: not attached to%s\n", missing);
		status = 503;
	}
	if (!st->applied) {
		fprintf(f, "not ready: no config applied yet%s%s\n",
			st->last_error[0] ? ": " : "", st->last_error);
		status = 503;
	} else if (!st->last_ok) {
		fprintf(f,
			"not ready: the last config read was not applied (the "
			"one before it serves): %s\n",
			st->last_error);
		status = 503;
	}
	pthread_mutex_unlock(&st->lock);
	if (status == 200)
		fputs("ready\n", f);
	fclose(f);
	return status;
}

static void write_agent(FILE *f, struct kn_agent_status *st)
{
	pthread_mutex_lock(&st->lock);
	kn_metrics_family(f, "kanary_agent_config_last_apply_success", "gauge",
			  "1 when the last config set read was applied.");
	fprintf(f, "kanary_agent_config_last_apply_success %d\n", st->last_ok);
	kn_metrics_family(f, "kanary_agent_config_last_apply_timestamp_seconds",
			  "gauge", "When the last config set was read.");
	fprintf(f, "kanary_agent_config_last_apply_timestamp_seconds %.3f\n",
		st->last_time);
	kn_metrics_family(f, "kanary_agent_config_applies_total", "counter",
			  "Config sets read from the directory, by result.");
	fprintf(f,
		"kanary_agent_config_applies_total{result=\"ok\"} %llu\n"
		"kanary_agent_config_applies_total{result=\"error\"} %llu\n",
		(unsigned long long)st->applies_ok,
		(unsigned long long)st->applies_failed);
	kn_metrics_family(f, "kanary_agent_health_reapplies_total", "counter",
			  "Pool rebuilds after an ejection or readmission.");
	fprintf(f, "kanary_agent_health_reapplies_total %llu\n",
		(unsigned long long)st->health_changes);
	kn_metrics_family(f, "kanary_agent_conntrack_mark_sweeps_total",
			  "counter",
			  "Sweeps of the connection records' kn_flows marks.");
	fprintf(f, "kanary_agent_conntrack_mark_sweeps_total %llu\n",
		(unsigned long long)st->mark_sweeps);
	kn_metrics_family(
		f, "kanary_agent_conntrack_records_marked", "gauge",
		"Connection records whose claims look in kn_flows, after the "
		"last sweep.");
	fprintf(f, "kanary_agent_conntrack_records_marked %ld\n",
		st->records_marked);
	pthread_mutex_unlock(&st->lock);
}

static void endpoint_sample(FILE *f, const char *name,
			    const struct kn_health_row *r, long long v)
{
	char addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &r->addr, addr, sizeof(addr));
	fprintf(f, "%s{service=\"", name);
	kn_metrics_label(f, r->service);
	fputs("\",subset=\"", f);
	kn_metrics_label(f, r->subset);
	fprintf(f, "\",endpoint=\"%s:%u\",check=\"%s\"} %lld\n", addr,
		ntohs(r->port), r->http ? "http" : "tcp", v);
}

static void write_health(FILE *f, struct kn_health *health)
{
	struct kn_health_row *rows;
	int n;

	if (!health || kn_health_rows(health, &rows, &n))
		return;
	kn_metrics_family(f, "kanary_endpoint_healthy", "gauge",
			  "1 when the endpoint's last check passed.");
	for (int i = 0; i < n; i++)
		endpoint_sample(f, "kanary_endpoint_healthy", &rows[i],
				rows[i].healthy);
	kn_metrics_family(f, "kanary_endpoint_ejected", "gauge",
			  "1 while the endpoint gets no new connections.");
	for (int i = 0; i < n; i++)
		endpoint_sample(f, "kanary_endpoint_ejected", &rows[i],
				rows[i].ejected);
	kn_metrics_family(f, "kanary_endpoint_checks_total", "counter",
			  "Health checks run.");
	for (int i = 0; i < n; i++)
		endpoint_sample(f, "kanary_endpoint_checks_total", &rows[i],
				rows[i].checks);
	kn_metrics_family(f, "kanary_endpoint_check_failures_total", "counter",
			  "Health checks failed.");
	for (int i = 0; i < n; i++)
		endpoint_sample(f, "kanary_endpoint_check_failures_total",
				&rows[i], rows[i].failures);
	kn_metrics_family(f, "kanary_endpoint_ejections_total", "counter",
			  "Times the endpoint was ejected.");
	for (int i = 0; i < n; i++)
		endpoint_sample(f, "kanary_endpoint_ejections_total", &rows[i],
				rows[i].times_ejected);
	free(rows);
}

static int render_metrics(void *arg, char **body, size_t *len)
{
	struct kn_agent_http *h = arg;
	FILE *f = open_memstream(body, len);

	if (!f)
		return 500;
	kn_metrics_write_datapath(f, h->pin_dir);
	write_agent(f, h->st);
	write_health(f, h->health);
	fclose(f);
	return 200;
}

struct kn_agent_http *kn_agent_http_start(const struct sockaddr_in *addr,
					  const char *pin_dir,
					  struct kn_agent_status *st,
					  struct kn_health *health)
{
	struct kn_agent_http *h = calloc(1, sizeof(*h));
	char err[256];

	if (!h)
		return NULL;
	h->pin_dir = pin_dir;
	h->st = st;
	h->health = health;
	h->paths[0] = (struct kn_http_path){ "/healthz",
					     "text/plain; charset=utf-8",
					     render_healthz, h };
	h->paths[1] = (struct kn_http_path){ "/readyz",
					     "text/plain; charset=utf-8",
					     render_readyz, h };
	h->paths[2] = (struct kn_http_path){ "/metrics",
					     KN_METRICS_CONTENT_TYPE,
					     render_metrics, h };
	h->http = kn_http_start(addr, h->paths, 3, err, sizeof(err));
	if (!h->http) {
		kn_log("%s", err);
		free(h);
		return NULL;
	}
	return h;
}

void kn_agent_http_stop(struct kn_agent_http *h)
{
	if (!h)
		return;
	kn_http_stop(h->http);
	free(h);
}
