/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reading the per-subset counters back, for people and for scripts. */
#ifndef KANARY_STATS_H
#define KANARY_STATS_H

#include <stdbool.h>
#include <stdio.h>

#include "kanary_abi.h"
#include "pins.h"

/* Final responses with one status code, over all CPUs. */
struct kn_code_count {
	__u32 code;
	__u64 count;
};

/* Distinct status codes kept per row (a subset sees a handful). */
#define KN_ROW_CODES 64

struct kn_stat_row {
	char ns[KANARY_NAME_LEN];
	char vs[KANARY_NAME_LEN];
	char subset[KANARY_NAME_LEN];
	/* The destination's Service (its host's short name), as /metrics'
	 * destination_service_name; "" when the config no longer says. */
	char service[KANARY_NAME_LEN];
	char service_ns[KANARY_NAME_LEN]; /* the Service's namespace, or "" */
	int weight; /* configured now; -1 when no longer routed to */
	struct kanary_subset_stats sum; /* over all CPUs */
	struct kanary_http_stats http; /* over all CPUs */
	int n_codes;
	struct kn_code_count codes[KN_ROW_CODES]; /* ascending by code */
	__u64 codes_dropped; /* responses of codes past KN_ROW_CODES */
};

/* One http route of a VirtualService with match rules (the L7 path). */
struct kn_rule_row {
	char ns[KANARY_NAME_LEN];
	char vs[KANARY_NAME_LEN];
	char rule[KANARY_NAME_LEN]; /* the route's name, or "http[i]" */
	__u64 connections; /* over all CPUs */
};

/* Every counter row in use, summed over CPUs; *rows is malloc'ed. */
int kn_stats_read(const char *pin_dir, const struct kn_maps *m,
		  struct kn_stat_row **rows, int *n);
/* Every rule counter row in use, summed over CPUs; *rows is malloc'ed. */
int kn_rule_stats_read(const struct kn_maps *m, struct kn_rule_row **rows,
		       int *n);
/*
 * A table per subset, then one per rule when there are rules; or JSON:
 * {"virtualservices":[{"name","namespace","subsets":[...],"rules":[...]}]}
 */
void kn_stats_print(FILE *f, const struct kn_stat_row *rows, int n,
		    const struct kn_rule_row *rules, int n_rules, bool json);
/* A destination's configured weight, as Istio reads it (lone: 100). */
struct kn_http_route;
struct kn_destination;
int kn_dest_weight(const struct kn_http_route *hr, int d);
/* The same, for any route's n destinations (a tls route's). */
int kn_route_weight(int n, const struct kn_destination *route, int d);

/*
 * What each kn_global counter counts: id names it in /metrics
 * (kanary_datapath_packets_total{counter="id"}), text in `status`.
 */
struct kn_global_name {
	const char *id;
	const char *text;
};
extern const struct kn_global_name kn_global_names[KANARY_G_MAX];

/* The kn_global counters summed over CPUs. */
int kn_global_read(const struct kn_maps *m, __u64 out[KANARY_G_MAX]);

/* s as a JSON string, quoted and escaped. */
void kn_json_str(FILE *f, const char *s);

/* ,"key":v, or ,"key":null when v is negative (analysis' "none"). */
void kn_json_num(FILE *f, const char *key, double v);

/* v with prec decimals in buf, or "-" when negative; returns buf. */
const char *kn_num_text(char *buf, size_t len, double v, int prec);

#endif /* KANARY_STATS_H */
