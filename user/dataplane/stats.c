// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "analysis.h"
#include "compile.h"
#include "state.h"
#include "stats.h"

int kn_route_weight(int n, const struct kn_destination *route, int d)
{
	if (n == 1)
		return 100;
	return route[d].has_weight ? route[d].weight : 0;
}

int kn_dest_weight(const struct kn_http_route *hr, int d)
{
	return kn_route_weight(hr->n_route, hr->route, d);
}

/*
 * The Service a destination points at, as /metrics names it: resolved,
 * or else read from a Kubernetes host ("svc", "svc.ns", "svc.ns.svc...");
 * any other host (an external name) names no Service: "".
 */
static void set_service(struct kn_stat_row *row, const struct kn_resource *svc,
			const char *vs_ns, const char *host)
{
	if (svc) {
		snprintf(row->service, sizeof(row->service), "%s", svc->name);
		snprintf(row->service_ns, sizeof(row->service_ns), "%s",
			 svc->ns);
		return;
	}
	if (kn_host_split(host, vs_ns, row->service, sizeof(row->service),
			  row->service_ns, sizeof(row->service_ns)))
		row->service[0] = row->service_ns[0] = '\0';
}

/* Is the subset (or Service) row names among route's destinations? Then
 * row gets its weight and Service. */
static bool dest_of(const struct kn_config *cfg, const struct kn_resource *r,
		    int n, const struct kn_destination *route,
		    struct kn_stat_row *row)
{
	for (int d = 0; d < n; d++) {
		const struct kn_destination *dst = &route[d];
		const struct kn_resource *svc;
		const char *dname = dst->subset;

		svc = kn_config_resolve_host(cfg, r->ns, dst->host);
		if (!dname)
			dname = svc ? svc->name : dst->host;
		if (strcmp(dname, row->subset))
			continue;
		row->weight = kn_route_weight(n, route, d);
		set_service(row, svc, r->ns, dst->host);
		return true;
	}
	return false;
}

/*
 * The weight a (VirtualService, subset) row has in the accepted config,
 * and the Service its destination points at, read straight from the
 * config: compiling it (Maglev tables and all) only to print weights
 * costs seconds at 10000 endpoints. With match rules, every http route is
 * a route, and so is every tls route: the subset's weight in the first
 * route that has it.
 */
static void configured_dest(const struct kn_config *cfg, const char *vs,
			    struct kn_stat_row *row)
{
	row->weight = -1;
	for (int i = 0; i < cfg->n_res; i++) {
		const struct kn_resource *r = &cfg->res[i];
		char name[2 * KANARY_NAME_LEN];
		int n_http;

		if (r->kind != KN_VIRTUALSERVICE)
			continue;
		snprintf(name, sizeof(name), "%s/%s", r->ns, r->name);
		if (strcmp(name, vs))
			continue;
		n_http = kn_vs_is_l7(r) ? r->vs.n_http : !!r->vs.n_http;
		for (int h = 0; h < n_http; h++)
			if (dest_of(cfg, r, r->vs.http[h].n_route,
				    r->vs.http[h].route, row))
				return;
		for (int t = 0; t < r->vs.n_tls; t++)
			if (dest_of(cfg, r, r->vs.tls[t].n_route,
				    r->vs.tls[t].route, row))
				return;
	}
}

static void sum_cpus(const struct kanary_subset_stats *per_cpu, int ncpu,
		     struct kanary_subset_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < ncpu; i++) {
		sum->connections += per_cpu[i].connections;
		sum->packets_to_endpoint += per_cpu[i].packets_to_endpoint;
		sum->bytes_to_endpoint += per_cpu[i].bytes_to_endpoint;
		sum->packets_to_client += per_cpu[i].packets_to_client;
		sum->bytes_to_client += per_cpu[i].bytes_to_client;
	}
}

static void sum_http(const struct kanary_http_stats *per_cpu, int ncpu,
		     struct kanary_http_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (int i = 0; i < ncpu; i++) {
		sum->requests += per_cpu[i].requests;
		sum->responses += per_cpu[i].responses;
		sum->duration_sum_us += per_cpu[i].duration_sum_us;
		for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
			sum->duration[b] += per_cpu[i].duration[b];
	}
}

/* count more responses with code in row r, keeping codes ascending */
static void add_code(struct kn_stat_row *r, __u32 code, __u64 count)
{
	int i;

	for (i = 0; i < r->n_codes && r->codes[i].code < code; i++)
		;
	if (i < r->n_codes && r->codes[i].code == code) {
		r->codes[i].count += count;
		return;
	}
	if (r->n_codes == KN_ROW_CODES) {
		r->codes_dropped += count;
		return;
	}
	memmove(&r->codes[i + 1], &r->codes[i],
		(r->n_codes - i) * sizeof(r->codes[0]));
	r->codes[i].code = code;
	r->codes[i].count = count;
	r->n_codes++;
}

/* Every (row, code) of kn_codes, summed over CPUs, into the rows read. */
static int read_codes(const struct kn_maps *m, struct kn_stat_row *rows,
		      const int *row_of, int ncpu)
{
	struct kanary_code_key key, next, *prev = NULL;
	__u64 *per_cpu = calloc(ncpu, sizeof(*per_cpu));

	if (!per_cpu)
		return -1;
	while (!bpf_map_get_next_key(m->fd[KN_MAP_CODES], prev, &next)) {
		__u64 count = 0;

		key = next;
		prev = &key;
		if (key.stats >= KANARY_MAX_STATS || row_of[key.stats] < 0 ||
		    key.code < 100 || key.code > 599)
			continue;
		if (bpf_map_lookup_elem(m->fd[KN_MAP_CODES], &key, per_cpu))
			continue;
		for (int c = 0; c < ncpu; c++)
			count += per_cpu[c];
		if (count)
			add_code(&rows[row_of[key.stats]], key.code, count);
	}
	free(per_cpu);
	return 0;
}

/* "namespace/name", as counter rows name a VirtualService, in two parts. */
static void split_vs(const char *nsname, char *ns, size_t ns_len, char *vs,
		     size_t vs_len)
{
	const char *slash = strchr(nsname, '/');

	snprintf(ns, ns_len, "%.*s", slash ? (int)(slash - nsname) : 0, nsname);
	snprintf(vs, vs_len, "%s", slash ? slash + 1 : nsname);
}

int kn_stats_read(const char *pin_dir, const struct kn_maps *m,
		  struct kn_stat_row **rows, int *n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kanary_subset_stats *per_cpu;
	struct kanary_http_stats *http_cpu;
	struct kn_config cfg;
	struct kn_err err;
	int have_cfg, *row_of;

	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	http_cpu = calloc(ncpu, sizeof(*http_cpu));
	row_of = malloc(KANARY_MAX_STATS * sizeof(*row_of));
	*rows = calloc(KANARY_MAX_STATS, sizeof(**rows));
	if (!per_cpu || !http_cpu || !row_of || !*rows)
		goto bad;
	for (int i = 0; i < KANARY_MAX_STATS; i++)
		row_of[i] = -1;
	have_cfg = !kn_state_read_config(pin_dir, &cfg, &err);

	*n = 0;
	for (uint32_t i = 0; i < KANARY_MAX_STATS; i++) {
		struct kanary_stat_name name;
		struct kn_stat_row *r = &(*rows)[*n];

		if (bpf_map_lookup_elem(m->fd[KN_MAP_STAT_NAMES], &i, &name) ||
		    !name.virtualservice[0])
			continue;
		if (bpf_map_lookup_elem(m->fd[KN_MAP_STATS], &i, per_cpu))
			continue;
		sum_cpus(per_cpu, ncpu, &r->sum);
		if (!bpf_map_lookup_elem(m->fd[KN_MAP_HTTP], &i, http_cpu))
			sum_http(http_cpu, ncpu, &r->http);
		row_of[i] = *n;
		split_vs(name.virtualservice, r->ns, sizeof(r->ns), r->vs,
			 sizeof(r->vs));
		snprintf(r->subset, sizeof(r->subset), "%s", name.subset);
		r->weight = -1;
		if (have_cfg)
			configured_dest(&cfg, name.virtualservice, r);
		(*n)++;
	}
	if (have_cfg)
		kn_config_free(&cfg);
	if (read_codes(m, *rows, row_of, ncpu))
		goto bad;
	free(row_of);
	free(http_cpu);
	free(per_cpu);
	return 0;
bad:
	free(row_of);
	free(http_cpu);
	free(per_cpu);
	free(*rows);
	*rows = NULL;
	return -1;
}

int kn_rule_stats_read(const struct kn_maps *m, struct kn_rule_row **rows,
		       int *n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct kanary_rule_stats *per_cpu;

	*rows = NULL;
	*n = 0;
	if (ncpu <= 0)
		return -1;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	*rows = calloc(KANARY_MAX_RULES, sizeof(**rows));
	if (!per_cpu || !*rows) {
		free(per_cpu);
		free(*rows);
		*rows = NULL;
		return -1;
	}
	for (uint32_t i = 0; i < KANARY_MAX_RULES; i++) {
		struct kn_rule_row *r = &(*rows)[*n];
		struct kanary_rule_name name;

		if (bpf_map_lookup_elem(m->fd[KN_MAP_RULE_NAMES], &i, &name) ||
		    !name.virtualservice[0])
			continue;
		if (bpf_map_lookup_elem(m->fd[KN_MAP_RULE_STATS], &i, per_cpu))
			continue;
		r->connections = 0;
		for (int c = 0; c < ncpu; c++)
			r->connections += per_cpu[c].connections;
		name.virtualservice[sizeof(name.virtualservice) - 1] = 0;
		name.rule[sizeof(name.rule) - 1] = 0;
		split_vs(name.virtualservice, r->ns, sizeof(r->ns), r->vs,
			 sizeof(r->vs));
		snprintf(r->rule, sizeof(r->rule), "%s", name.rule);
		(*n)++;
	}
	free(per_cpu);
	return 0;
}

/* s as a JSON string: route names are free-form text. */
void kn_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The VirtualServices of both kinds of rows, each once, in row order. */
struct vs_id {
	const char *ns, *vs;
};

static int collect_vs(const struct kn_stat_row *rows, int n,
		      const struct kn_rule_row *rules, int n_rules,
		      struct vs_id *out)
{
	int k = 0;

	for (int i = 0; i < n + n_rules; i++) {
		const char *ns = i < n ? rows[i].ns : rules[i - n].ns;
		const char *vs = i < n ? rows[i].vs : rules[i - n].vs;
		int j;

		for (j = 0; j < k; j++)
			if (!strcmp(out[j].ns, ns) && !strcmp(out[j].vs, vs))
				break;
		if (j == k)
			out[k++] = (struct vs_id){ .ns = ns, .vs = vs };
	}
	return k;
}

void kn_json_num(FILE *f, const char *key, double v)
{
	if (v < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.6g", key, v);
}

/* The HTTP outcomes of a row over its lifetime, as subset fields. */
static void print_http_json(FILE *f, const struct kn_stat_row *r)
{
	struct kn_window w;

	kn_window_between(NULL, r, 0, &w);
	fprintf(f, ",\"requests\":%llu,\"responses\":%llu,\"codes\":{",
		r->http.requests, r->http.responses);
	for (int i = 0; i < r->n_codes; i++)
		fprintf(f, "%s\"%u\":%llu", i ? "," : "", r->codes[i].code,
			r->codes[i].count);
	fputc('}', f);
	kn_json_num(f, "success_pct", w.success_pct);
	kn_json_num(f, "p50_ms", w.p50_ms);
	kn_json_num(f, "p99_ms", w.p99_ms);
	fprintf(f, ",\"duration_sum_ms\":%.3f,\"duration_buckets\":[",
		r->http.duration_sum_us / 1000.0);
	for (int b = 0; b < KANARY_DURATION_BUCKETS; b++)
		fprintf(f, "%s%llu", b ? "," : "", r->http.duration[b]);
	fputc(']', f);
}

static void print_json(FILE *f, const struct kn_stat_row *rows, int n,
		       const struct kn_rule_row *rules, int n_rules)
{
	struct vs_id *vss = calloc(n + n_rules + 1, sizeof(*vss));
	int n_vs;

	if (!vss)
		return;
	n_vs = collect_vs(rows, n, rules, n_rules, vss);
	fprintf(f, "{\"virtualservices\":[");
	for (int i = 0; i < n_vs; i++) {
		bool first = true;

		fprintf(f, "%s{\"name\":", i ? "," : "");
		kn_json_str(f, vss[i].vs);
		fprintf(f, ",\"namespace\":");
		kn_json_str(f, vss[i].ns);
		fprintf(f, ",\"subsets\":[");
		for (int j = 0; j < n; j++) {
			const struct kanary_subset_stats *s = &rows[j].sum;

			if (strcmp(rows[j].ns, vss[i].ns) ||
			    strcmp(rows[j].vs, vss[i].vs))
				continue;
			fprintf(f, "%s{\"name\":", first ? "" : ",");
			kn_json_str(f, rows[j].subset);
			fprintf(f, ",\"service\":");
			kn_json_str(f, rows[j].service);
			fprintf(f,
				",\"weight\":%d,"
				"\"connections\":%llu,\"packets\":%llu,"
				"\"bytes\":%llu,\"packets_to_endpoint\":%llu,"
				"\"bytes_to_endpoint\":%llu,"
				"\"packets_to_client\":%llu,"
				"\"bytes_to_client\":%llu",
				rows[j].weight < 0 ? 0 : rows[j].weight,
				s->connections,
				s->packets_to_endpoint + s->packets_to_client,
				s->bytes_to_endpoint + s->bytes_to_client,
				s->packets_to_endpoint, s->bytes_to_endpoint,
				s->packets_to_client, s->bytes_to_client);
			print_http_json(f, &rows[j]);
			fputc('}', f);
			first = false;
		}
		fprintf(f, "],\"rules\":[");
		first = true;
		for (int j = 0; j < n_rules; j++) {
			if (strcmp(rules[j].ns, vss[i].ns) ||
			    strcmp(rules[j].vs, vss[i].vs))
				continue;
			fprintf(f, "%s{\"name\":", first ? "" : ",");
			kn_json_str(f, rules[j].rule);
			fprintf(f, ",\"connections\":%llu}",
				(unsigned long long)rules[j].connections);
			first = false;
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	free(vss);
}

static void print_rules(FILE *f, const struct kn_rule_row *rules, int n_rules)
{
	if (!n_rules)
		return;
	fprintf(f, "\n%-32s %-32s %12s\n", "VIRTUALSERVICE", "RULE",
		"CONNECTIONS");
	for (int i = 0; i < n_rules; i++) {
		char vs[2 * KANARY_NAME_LEN + 2];

		snprintf(vs, sizeof(vs), "%s/%s", rules[i].ns, rules[i].vs);
		fprintf(f, "%-32s %-32s %12llu\n", vs, rules[i].rule,
			(unsigned long long)rules[i].connections);
	}
}

const char *kn_num_text(char *buf, size_t len, double v, int prec)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

static void print_table(FILE *f, const struct kn_stat_row *rows, int n)
{
	fprintf(f, "%-32s %-16s %6s %12s %12s %14s %10s %10s %8s %9s %9s\n",
		"VIRTUALSERVICE", "SUBSET", "WEIGHT", "CONNECTIONS", "PACKETS",
		"BYTES", "REQUESTS", "RESPONSES", "SUCCESS%", "P50_MS",
		"P99_MS");
	for (int i = 0; i < n; i++) {
		const struct kanary_subset_stats *s = &rows[i].sum;
		char vs[2 * KANARY_NAME_LEN + 2], weight[16];
		char ok[16], p50[16], p99[16];
		struct kn_window w;

		kn_window_between(NULL, &rows[i], 0, &w);
		snprintf(vs, sizeof(vs), "%s/%s", rows[i].ns, rows[i].vs);
		if (rows[i].weight < 0)
			snprintf(weight, sizeof(weight), "-");
		else
			snprintf(weight, sizeof(weight), "%d", rows[i].weight);
		fprintf(f,
			"%-32s %-16s %6s %12llu %12llu %14llu %10llu %10llu "
			"%8s %9s %9s\n",
			vs, rows[i].subset, weight, s->connections,
			s->packets_to_endpoint + s->packets_to_client,
			s->bytes_to_endpoint + s->bytes_to_client,
			rows[i].http.requests, rows[i].http.responses,
			kn_num_text(ok, sizeof(ok), w.success_pct, 1),
			kn_num_text(p50, sizeof(p50), w.p50_ms, 2),
			kn_num_text(p99, sizeof(p99), w.p99_ms, 2));
	}
}

void kn_stats_print(FILE *f, const struct kn_stat_row *rows, int n,
		    const struct kn_rule_row *rules, int n_rules, bool json)
{
	if (json) {
		print_json(f, rows, n, rules, n_rules);
		return;
	}
	print_table(f, rows, n);
	print_rules(f, rules, n_rules);
}

int kn_global_read(const struct kn_maps *m, __u64 out[KANARY_G_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *per_cpu = calloc(ncpu, sizeof(*per_cpu));

	if (!per_cpu)
		return -1;
	for (uint32_t i = 0; i < KANARY_G_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(m->fd[KN_MAP_GLOBAL], &i, per_cpu))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[i] += per_cpu[c];
	}
	free(per_cpu);
	return 0;
}

const struct kn_global_name kn_global_names[KANARY_G_MAX] = {
	[KANARY_G_PASS_NOT_TCP] = { "pass_not_tcp",
				    "passed (not IPv4 TCP, or malformed)" },
	[KANARY_G_PASS_NO_FLOW] = { "pass_no_flow",
				    "passed (no flow, not a SYN to a VIP)" },
	[KANARY_G_NEW_FLOW] = { "new_flow", "new connections" },
	[KANARY_G_NO_ROUTE] = { "no_route",
				"dropped (route without destination)" },
	[KANARY_G_NO_ENDPOINT] = { "no_endpoint",
				   "reset (pool without endpoint, or a stale one)" },
	[KANARY_G_SNAT_EXHAUSTED] = { "snat_exhausted",
				      "dropped (no free SNAT port)" },
	[KANARY_G_FIB_PASS] = { "fib_pass",
				"neighbour unknown (XDP: passed to tc; tc: sent via the neighbour table)" },
	[KANARY_G_L7_SYN] = { "l7_syn", "L7: SYNs answered by the gateway" },
	[KANARY_G_L7_NO_SYN] = { "l7_no_syn",
				 "L7: segments for an L7 VIP with no half-open connection" },
	[KANARY_G_L7_HEAD_ACKED] = { "l7_head_acked",
				     "L7: segments of a request head not complete yet, held and acked" },
	[KANARY_G_L7_ANSWER_404] = { "l7_answer_404",
				     "L7: answered 404 (no rule takes the request)" },
	[KANARY_G_L7_EARLY] = { "l7_early",
				"L7: segments out of order, or past the head before the splice (dropped)" },
	[KANARY_G_L7_REPLAY] = { "l7_replay",
				 "L7: request heads replayed to the endpoint" },
	[KANARY_G_L7_SYN_REFUSED] = { "l7_syn_refused",
				      "L7: endpoint answered the SYN with an old ACK (reset it)" },
	[KANARY_G_XDP_PARTIAL_CSUM] = { "xdp_partial_csum",
					"XDP: passed to tc (TCP checksum left to offload)" },
	[KANARY_G_XDP_NO_TX] = { "xdp_no_tx",
				 "XDP: passed to tc (egress takes no XDP frames)" },
	[KANARY_G_EJECTED_RESET] = { "ejected_reset",
				     "reset (flow to an ejected endpoint)" },
	[KANARY_G_PASS_INVALID] = { "pass_invalid",
				    "passed (must not be forwarded: VLAN tag, TTL 0, bad flags, martian source, bad checksum)" },
	[KANARY_G_RST_BLIND] = { "rst_blind",
				 "dropped (RST at a sequence number the connection does not expect)" },
	[KANARY_G_TW_TAKEOVER] = { "tw_takeover",
				   "SNAT port taken from an endpoint's TIME_WAIT before 60 s (it takes the SYN: TSval or ISN newer)" },
	[KANARY_G_L4_SYN_RESENT] = { "l4_syn_resent",
				     "L4: endpoint answered the SYN with an old ACK (reset it, SYN sent again)" },
	[KANARY_G_L7_ANSWER_431] = { "l7_answer_431",
				     "L7: answered 431 (request head over the limit)" },
	[KANARY_G_L7_ANSWER_400] = { "l7_answer_400",
				     "L7: answered 400 (malformed request head)" },
	[KANARY_G_L7_HOLD_LOST] = { "l7_hold_lost",
				    "L7: held request head lost (evicted, or config changed while read): client reset" },
	[KANARY_G_L7_TLS_NO_ROUTE] = { "l7_tls_no_route",
				       "L7: TLS reset (no tls route takes the server name, no * route)" },
	[KANARY_G_CONN_OVERFLOW] = { "conn_overflow",
				     "new connection whose three records were taken (kept in two kn_flows entries)" },
	[KANARY_G_SYN_RACE] = { "syn_race",
				"dropped (a copy of a SYN another CPU was binding)" },
};
