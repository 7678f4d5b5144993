// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>

#include <bpf/bpf.h>

#include "analysis.h"
#include "loader.h"
#include "metrics.h"
#include "pins.h"
#include "state.h"
#include "stats.h"

void kn_metrics_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void kn_metrics_family(FILE *f, const char *name, const char *type,
		       const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{namespace="..",virtualservice="..",subset=".."<extra>} value */
static void subset_sample(FILE *f, const char *name,
			  const struct kn_stat_row *r, const char *extra,
			  long long v)
{
	fprintf(f, "%s{namespace=\"", name);
	kn_metrics_label(f, r->ns);
	fputs("\",virtualservice=\"", f);
	kn_metrics_label(f, r->vs);
	fputs("\",subset=\"", f);
	kn_metrics_label(f, r->subset);
	fprintf(f, "\"%s} %lld\n", extra, v);
}

static void write_subsets(FILE *f, const struct kn_stat_row *rows, int n)
{
	kn_metrics_family(f, "kanary_subset_connections_total", "counter",
			  "New connections per VirtualService and subset.");
	for (int i = 0; i < n; i++)
		subset_sample(f, "kanary_subset_connections_total", &rows[i],
			      "", rows[i].sum.connections);
	kn_metrics_family(f, "kanary_subset_packets_total", "counter",
			  "Packets forwarded per VirtualService and subset.");
	for (int i = 0; i < n; i++) {
		subset_sample(f, "kanary_subset_packets_total", &rows[i],
			      ",direction=\"to_endpoint\"",
			      rows[i].sum.packets_to_endpoint);
		subset_sample(f, "kanary_subset_packets_total", &rows[i],
			      ",direction=\"to_client\"",
			      rows[i].sum.packets_to_client);
	}
	kn_metrics_family(f, "kanary_subset_bytes_total", "counter",
			  "Bytes forwarded per VirtualService and subset.");
	for (int i = 0; i < n; i++) {
		subset_sample(f, "kanary_subset_bytes_total", &rows[i],
			      ",direction=\"to_endpoint\"",
			      rows[i].sum.bytes_to_endpoint);
		subset_sample(f, "kanary_subset_bytes_total", &rows[i],
			      ",direction=\"to_client\"",
			      rows[i].sum.bytes_to_client);
	}
	kn_metrics_family(
		f, "kanary_subset_weight", "gauge",
		"Configured weight (-1: a counter row no longer routed to).");
	for (int i = 0; i < n; i++)
		subset_sample(f, "kanary_subset_weight", &rows[i], "",
			      rows[i].weight);
}

/*
 * The labels Istio's sidecars put on istio_requests_total, those that
 * canary queries select on. destination_workload is "<service>-<subset>",
 * as Istio's own samples name a version's Deployment (reviews-v2) and as
 * the lab's Deployments are named: Flagger's and Iter8's queries select on
 * it and on destination_workload_namespace.
 */
static void istio_labels(FILE *f, const struct kn_stat_row *r)
{
	const char *svc = r->service[0] ? r->service : "unknown";
	const char *ns = r->service_ns[0] ? r->service_ns : r->ns;

	fputs("reporter=\"kanary\",destination_service=\"", f);
	if (r->service[0]) {
		kn_metrics_label(f, svc);
		fputc('.', f);
		kn_metrics_label(f, ns);
		fputs(".svc.cluster.local", f);
	} else {
		fputs("unknown", f);
	}
	fputs("\",destination_service_name=\"", f);
	kn_metrics_label(f, svc);
	fputs("\",destination_service_namespace=\"", f);
	kn_metrics_label(f, ns);
	fputs("\",destination_workload=\"", f);
	kn_metrics_label(f, svc);
	fputc('-', f);
	kn_metrics_label(f, r->subset);
	fputs("\",destination_workload_namespace=\"", f);
	kn_metrics_label(f, ns);
	fputs("\",destination_version=\"", f);
	kn_metrics_label(f, r->subset);
	fputs("\",request_protocol=\"http\",virtualservice=\"", f);
	kn_metrics_label(f, r->ns);
	fputc('/', f);
	kn_metrics_label(f, r->vs);
	fputc('"', f);
}

#define DURATION "istio_request_duration_milliseconds"

/*
 * The kernel's histogram is per subset, not per response code: the
 * duration family has no response_code label.
 */
static void write_istio(FILE *f, const struct kn_stat_row *rows, int n)
{
	kn_metrics_family(f, "kanary_http_requests_total", "counter",
			  "HTTP request heads sent toward an endpoint per "
			  "VirtualService and subset.");
	for (int i = 0; i < n; i++)
		subset_sample(f, "kanary_http_requests_total", &rows[i], "",
			      rows[i].http.requests);
	kn_metrics_family(f, "istio_requests_total", "counter",
			  "Final HTTP responses per destination subset and "
			  "response code, counted by kanary's data path.");
	for (int i = 0; i < n; i++)
		for (int c = 0; c < rows[i].n_codes; c++) {
			fputs("istio_requests_total{", f);
			istio_labels(f, &rows[i]);
			fprintf(f, ",response_code=\"%u\"} %llu\n",
				rows[i].codes[c].code,
				(unsigned long long)rows[i].codes[c].count);
		}
	kn_metrics_family(f, DURATION, "histogram",
			  "From the request's first byte to the response's "
			  "first byte, per destination subset (all codes).");
	for (int i = 0; i < n; i++) {
		const struct kanary_http_stats *h = &rows[i].http;
		unsigned long long cum = 0;

		for (int b = 0; b < KANARY_DURATION_BUCKETS; b++) {
			char le[32];

			cum += h->duration[b];
			if (b < KANARY_DURATION_BOUNDS)
				/* %g: what Envoy and Go clients print */
				snprintf(le, sizeof(le), "%g",
					 kn_duration_bounds_ms[b]);
			else
				snprintf(le, sizeof(le), "+Inf");
			fputs(DURATION "_bucket{", f);
			istio_labels(f, &rows[i]);
			fprintf(f, ",le=\"%s\"} %llu\n", le, cum);
		}
		fputs(DURATION "_sum{", f);
		istio_labels(f, &rows[i]);
		fprintf(f, "} %.3f\n", h->duration_sum_us / 1000.0);
		/* the +Inf bucket, as Prometheus requires of _count */
		fputs(DURATION "_count{", f);
		istio_labels(f, &rows[i]);
		fprintf(f, "} %llu\n", cum);
	}
}

void kn_metrics_write_rows(FILE *f, const struct kn_stat_row *rows, int n)
{
	write_subsets(f, rows, n);
	write_istio(f, rows, n);
}

static void write_rules(FILE *f, const struct kn_rule_row *rules, int n)
{
	kn_metrics_family(f, "kanary_rule_connections_total", "counter",
			  "Connections each http route took (L7 path).");
	for (int i = 0; i < n; i++) {
		fputs("kanary_rule_connections_total{namespace=\"", f);
		kn_metrics_label(f, rules[i].ns);
		fputs("\",virtualservice=\"", f);
		kn_metrics_label(f, rules[i].vs);
		fputs("\",rule=\"", f);
		kn_metrics_label(f, rules[i].rule);
		fprintf(f, "\"} %llu\n",
			(unsigned long long)rules[i].connections);
	}
}

static void write_globals(FILE *f, const struct kn_maps *m)
{
	__u64 g[KANARY_G_MAX];

	if (kn_global_read(m, g))
		return;
	kn_metrics_family(f, "kanary_datapath_packets_total", "counter",
			  "Packets the data path handled other than by "
			  "forwarding them on a flow (see kanary status).");
	for (int i = 0; i < KANARY_G_MAX; i++)
		if (kn_global_names[i].id)
			fprintf(f,
				"kanary_datapath_packets_total{counter=\"%s\"} "
				"%llu\n",
				kn_global_names[i].id,
				(unsigned long long)g[i]);
}

static void write_load(FILE *f, const char *pin_dir, const struct kn_maps *m)
{
	struct kn_load_info li;
	struct kanary_cfg cfg;
	uint32_t zero = 0;

	if (!bpf_map_lookup_elem(m->fd[KN_MAP_CFG], &zero, &cfg)) {
		kn_metrics_family(f, "kanary_config_generation", "gauge",
				  "Config swaps into the data path since the "
				  "maps were created.");
		fprintf(f, "kanary_config_generation %u\n", cfg.generation);
	}
	if (kn_state_read_load(pin_dir, &li))
		return;
	kn_metrics_family(f, "kanary_interface_attached", "gauge",
			  "1 when the data path is attached to the interface "
			  "with the hook it chose.");
	for (int i = 0; i < li.n_ifaces; i++) {
		fputs("kanary_interface_attached{interface=\"", f);
		kn_metrics_label(f, li.ifaces[i].name);
		fprintf(f, "\",hook=\"%s\"} %d\n",
			kn_mode_name(li.ifaces[i].hook),
			kn_attached(pin_dir, &li.ifaces[i]) == 1);
	}
}

int kn_metrics_write_datapath(FILE *f, const char *pin_dir)
{
	struct kn_rule_row *rules = NULL;
	struct kn_stat_row *rows = NULL;
	int n = 0, n_rules = 0;
	struct kn_maps m;

	if (kn_maps_open(pin_dir, &m))
		return -1;
	if (!kn_stats_read(pin_dir, &m, &rows, &n))
		kn_metrics_write_rows(f, rows, n);
	if (!kn_rule_stats_read(&m, &rules, &n_rules))
		write_rules(f, rules, n_rules);
	write_globals(f, &m);
	write_load(f, pin_dir, &m);
	free(rules);
	free(rows);
	kn_maps_close(&m);
	return 0;
}
