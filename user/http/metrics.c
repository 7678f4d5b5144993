// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>

#include <bpf/bpf.h>

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
		write_subsets(f, rows, n);
	if (!kn_rule_stats_read(&m, &rules, &n_rules))
		write_rules(f, rules, n_rules);
	write_globals(f, &m);
	write_load(f, pin_dir, &m);
	free(rules);
	free(rows);
	kn_maps_close(&m);
	return 0;
}
