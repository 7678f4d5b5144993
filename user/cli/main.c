// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kanary: the command line. Each command is one function below. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "cli.h"
#include "compile.h"
#include "flows.h"
#include "health.h"
#include "loader.h"
#include "pins.h"
#include "served.h"
#include "set_weight.h"
#include "state.h"
#include "stats.h"
#include "vhosts.h"

/* --pin-dir may also come before the command: kanary --pin-dir D stats */
const char *pin_dir_default = KN_DEFAULT_PIN_DIR;

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

int usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "kanary %s: %s (see 'kanary %s --help')\n", cmd, msg,
		cmd);
	return 2;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_WARN && getenv("KANARY_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG && getenv("KANARY_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

/* Parses the options every command shares; returns the next argv index. */
static int common_opts(int argc, char **argv, const char *cmd,
		       const char *usage, const char **pin_dir, bool *json)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*pin_dir = pin_dir_default;
	optind = 1;
	/* Options may follow the arguments (set-weight VS a=1 --pin-dir D). */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_PIN_DIR:
			*pin_dir = optarg;
			break;
		case 'j':
			if (!json)
				exit(usage_error(cmd, "no --json here"));
			*json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			exit(usage_error(cmd, "bad option"));
		}
	}
	return optind;
}

/*
 * After a (re)load, the accepted config goes through apply again: the VIPs
 * are the load's (--vip, interfaces), and they may have changed.
 */
static int reapply(const char *pin_dir)
{
	struct kn_config none = { 0 }, saved;
	struct kn_err err;
	int n;

	if (kn_state_read_config(pin_dir, &saved, &err))
		return 0;
	n = saved.n_res;
	kn_config_free(&saved);
	if (!n)
		return 0;
	if (kn_apply_config(pin_dir, &none, NULL, NULL, &err)) {
		fprintf(stderr,
			"kanary: loaded, but re-applying the config failed: %s\n",
			err.msg);
		return 1;
	}
	return 0;
}

static const char load_usage[] =
	"usage: kanary load --iface IF [--iface IF ...] [--mode MODE]\n"
	"                   [--vip ADDR ...] [--flows N]\n"
	"                   [--max-request-head BYTES] [--pin-dir DIR]\n"
	"Load the data path and attach it to each interface.\n" KN_CLI_LOAD_HELP
		PIN_DIR_HELP;

int kn_cli_load_opt(int c, const char *arg, struct kn_load_opts *o,
		    const char *cmd)
{
	unsigned long long n;
	char *end;

	switch (c) {
	case 'i':
		if (o->n_ifaces == KANARY_MAX_IFACES)
			return usage_error(cmd, "too many --iface");
		o->ifaces[o->n_ifaces++] = arg;
		return 0;
	case 'm':
		if (kn_mode_parse(arg, &o->mode))
			return usage_error(cmd, "unknown --mode");
		return 0;
	case 'v':
		if (o->n_vips == KN_MAX_VIP_ADDRS)
			return usage_error(cmd, "too many --vip");
		if (inet_pton(AF_INET, arg, &o->vips[o->n_vips++]) != 1)
			return usage_error(cmd, "--vip takes an IPv4 address");
		return 0;
	case OPT_FLOWS:
		errno = 0;
		n = strtoull(arg, &end, 10);
		if (errno || *end || *arg == '-' || n < 2 || n > (1ULL << 28))
			return usage_error(cmd, "--flows takes 2 to 268435456");
		o->flow_entries = n;
		return 0;
	case OPT_HEAD_MAX:
		errno = 0;
		n = strtoull(arg, &end, 10);
		if (errno || *end || *arg == '-' || n < 4096 ||
		    n > KANARY_L7_HEAD_CAP)
			return usage_error(cmd, "--max-request-head takes 4096 "
						"to 65160");
		o->head_max = n;
		return 0;
	case OPT_PIN_DIR:
		o->pin_dir = arg;
		return 0;
	}
	return usage_error(cmd, "bad option");
}

static int cmd_load(int argc, char **argv)
{
	static const struct option opts[] = {
		KN_CLI_LOAD_OPTIONS,
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct kn_load_opts o = { .pin_dir = pin_dir_default,
				  .mode = KN_MODE_AUTO };
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hi:m:", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(load_usage, stdout);
			return 0;
		}
		rc = kn_cli_load_opt(c, optarg, &o, "load");
		if (rc)
			return rc;
	}
	if (optind != argc)
		return usage_error("load", "unexpected argument");
	if (!o.n_ifaces)
		return usage_error("load", "give at least one --iface");
	if (kn_load(&o))
		return 1;
	return reapply(o.pin_dir);
}

static const char apply_usage[] =
	"usage: kanary apply -f FILE|DIR|- [-f ...] [--strict] [--pin-dir DIR]\n"
	"Read Istio/Kubernetes YAML (Gateway, Service, DestinationRule,\n"
	"VirtualService, WorkloadEntry), merge it with what was applied\n"
	"before, validate it, and swap it into the data path atomically.\n"
	"On any error nothing changes.\n"
	"  --strict  refuse the input if it draws any warning (fields Istio\n"
	"            acts on that kanary does not, unknown fields)\n" PIN_DIR_HELP;

static int cmd_apply(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filename", required_argument, NULL, 'f' },
		{ "strict", no_argument, NULL, 's' },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = pin_dir_default;
	struct kn_config upd = { 0 };
	bool strict = false;
	struct kn_err err;
	int c, n_files = 0, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hf:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (kn_config_read_path(&upd, optarg, &err)) {
				fprintf(stderr, "kanary: %s\n", err.msg);
				kn_config_free(&upd);
				return 1;
			}
			n_files++;
			break;
		case 's':
			strict = true;
			break;
		case OPT_PIN_DIR:
			pin_dir = optarg;
			break;
		case 'h':
			fputs(apply_usage, stdout);
			return 0;
		default:
			kn_config_free(&upd);
			return usage_error("apply", "bad option");
		}
	}
	if (optind != argc || !n_files) {
		kn_config_free(&upd);
		return usage_error("apply", "give files with -f");
	}
	/* Before anything is loaded or saved: nothing changes. */
	if (strict && upd.n_warnings) {
		fprintf(stderr,
			"kanary: --strict: %d warning%s above; nothing applied\n",
			upd.n_warnings, upd.n_warnings == 1 ? "" : "s");
		kn_config_free(&upd);
		return 1;
	}
	rc = kn_apply_config(pin_dir, &upd, NULL, NULL, &err);
	kn_config_free(&upd);
	if (rc) {
		fprintf(stderr, "kanary: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static const char set_weight_usage[] =
	"usage: kanary set-weight VIRTUALSERVICE SUBSET=WEIGHT ... "
	"[--pin-dir DIR]\n"
	"Change the weights of a VirtualService's route. New connections\n"
	"follow at once; established ones keep their endpoint.\n"
	"  e.g. kanary set-weight image-classifier resnet50=70 "
	"resnet101=30\n" PIN_DIR_HELP;

struct set_weight_args {
	const char *vs;
	int n;
	char **pairs;
};

static int edit_weights(struct kn_config *cfg, void *arg, struct kn_err *err)
{
	struct set_weight_args *a = arg;

	return kn_set_weights(cfg, a->vs, a->n, a->pairs, err);
}

static int cmd_set_weight(int argc, char **argv)
{
	struct kn_config none = { 0 };
	struct set_weight_args a;
	const char *pin_dir;
	struct kn_err err;
	int i = common_opts(argc, argv, "set-weight", set_weight_usage,
			    &pin_dir, NULL);

	if (argc - i < 2)
		return usage_error("set-weight",
				   "give a VirtualService and SUBSET=WEIGHT");
	a.vs = argv[i];
	a.n = argc - i - 1;
	a.pairs = argv + i + 1;
	if (kn_apply_config(pin_dir, &none, edit_weights, &a, &err)) {
		fprintf(stderr, "kanary: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static const char status_usage[] =
	"usage: kanary status [--json] [--pin-dir DIR]\n"
	"Where kanary is attached and which hook rewrites on each interface,\n"
	"its VIPs, its config, its flows and the data path's counters.\n"
	"  --json          one JSON object\n" PIN_DIR_HELP;

/* Entries of kn_flows, counted in batches (one syscall per 8192); those
 * of kn_conns' records are counted apart (kn_conns_entries). */
static long count_flows(int fd)
{
	enum { BATCH = 8192 };
	static struct kanary_flow_key keys[BATCH];
	static struct kanary_flow vals[BATCH];
	__u8 in[64], out[64]; /* opaque batch tokens */
	bool first = true;
	long n = 0;

	for (;;) {
		__u32 count = BATCH;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : in, out, keys,
					      vals, &count, NULL);

		if (rc && errno != ENOENT)
			return -1;
		n += count;
		if (rc)
			return n;
		memcpy(in, out, sizeof(in));
		first = false;
	}
}

static void print_dests(int n, const struct kn_destination *route)
{
	for (int d = 0; d < n; d++)
		printf(" %s=%d",
		       route[d].subset ? route[d].subset : route[d].host,
		       kn_route_weight(n, route, d));
	printf("\n");
}

/*
 * Each served VirtualService's weights, from the accepted config; with
 * match rules, one line per http route, named as its counters are, and
 * one per tls route. Then the ports and what nothing serves (served.c).
 */
static void print_routes(const struct kn_config *kc,
			 const struct kn_load_info *li)
{
	struct kn_ports ports;
	struct kn_err err;
	bool *unserved = calloc(kc->n_res + 1, sizeof(*unserved));

	if (!unserved || kn_ports_plan(kc, &ports, &err)) {
		free(unserved);
		return;
	}
	for (int i = 0; i < ports.n_unserved; i++)
		unserved[ports.unserved[i]] = true;
	kn_ports_free(&ports);
	for (int i = 0; i < kc->n_res; i++) {
		const struct kn_resource *r = &kc->res[i];
		const struct kn_http_route *hr = NULL;

		if (r->kind != KN_VIRTUALSERVICE || unserved[i])
			continue;
		hr = kn_vs_l4_route(r);
		if (hr) {
			printf("route:       %s/%s ->", r->ns, r->name);
			print_dests(hr->n_route, hr->route);
		}
		for (int h = 0; kn_vs_is_l7(r) && h < r->vs.n_http; h++) {
			char rule[KANARY_NAME_LEN];

			kn_vs_rule_name(r, h, rule);
			printf("route:       %s/%s %s (%s) ->", r->ns, r->name,
			       rule, r->vs.http[h].n_match ? "match" : "any");
			print_dests(r->vs.http[h].n_route, r->vs.http[h].route);
		}
		for (int t = 0; t < r->vs.n_tls; t++) {
			const struct kn_tls_route *tr = &r->vs.tls[t];

			printf("route:       %s/%s tls[%d] (sni", r->ns,
			       r->name, t);
			for (int m = 0; m < tr->n_match; m++)
				for (int k = 0; k < tr->match[m].n_sni_hosts;
				     k++)
					printf(" %s",
					       tr->match[m].sni_hosts[k]);
			printf(") ->");
			print_dests(tr->n_route, tr->route);
		}
	}
	free(unserved);
	kn_served_print(stdout, kc, li->vips, li->n_vips);
}

/* "ejected":[{"endpoint":"a:p","service","subset","since","why"}] */
static void print_ejected_json(const char *pin_dir)
{
	char addr[INET_ADDRSTRLEN], ep[INET_ADDRSTRLEN + 8];
	struct kn_ejected *e = NULL;
	int n = 0;

	kn_state_read_ejected(pin_dir, &e, &n);
	printf("\"ejected\":[");
	for (int i = 0; i < n; i++) {
		snprintf(ep, sizeof(ep), "%s:%u",
			 inet_ntop(AF_INET, &e[i].addr, addr, sizeof(addr)),
			 ntohs(e[i].port));
		printf("%s{\"endpoint\":", i ? "," : "");
		kn_json_str(stdout, ep);
		printf(",\"service\":");
		kn_json_str(stdout, e[i].service);
		printf(",\"subset\":");
		kn_json_str(stdout, e[i].subset);
		printf(",\"since\":%lld,\"why\":", (long long)e[i].since);
		kn_json_str(stdout, e[i].why);
		printf("}");
	}
	printf("]");
	free(e);
}

static void print_status_json(const char *pin_dir,
			      const struct kn_load_info *li,
			      const struct kanary_cfg *cfg, long flows,
			      const __u64 *g)
{
	char addr[INET_ADDRSTRLEN];
	struct kn_config kc;
	struct kn_err err;
	bool have_kc;

	printf("{\"pin_dir\":");
	kn_json_str(stdout, pin_dir);
	printf(",\"mode\":\"%s\",\"interfaces\":[", kn_mode_name(li->mode));
	for (int i = 0; i < li->n_ifaces; i++) {
		const struct kn_iface *it = &li->ifaces[i];

		printf("%s{\"name\":", i ? "," : "");
		kn_json_str(stdout, it->name);
		printf(",\"ifindex\":%d,\"attached\":%s,\"hook\":\"%s\","
		       "\"why\":",
		       it->ifindex, kn_attached(pin_dir, it) ? "true" : "false",
		       kn_mode_name(it->hook));
		kn_json_str(stdout, it->why);
		printf(",\"takes_xdp_frames\":%s}",
		       it->takes_frames ? "true" : "false");
	}
	printf("],\"vips\":[");
	for (int i = 0; i < li->n_vips; i++)
		printf("%s\"%s\"", i ? "," : "",
		       inet_ntop(AF_INET, &li->vips[i], addr, sizeof(addr)));
	printf("],\"generation\":%u,\"flows\":%ld,", cfg ? cfg->generation : 0,
	       flows);
	have_kc = !kn_state_read_config(pin_dir, &kc, &err);
	kn_served_print_json(stdout, have_kc ? &kc : NULL, li->vips,
			     li->n_vips);
	if (have_kc)
		kn_config_free(&kc);
	printf(",");
	print_ejected_json(pin_dir);
	printf(",\"counters\":[");
	for (int i = 0; g && i < KANARY_G_MAX; i++) {
		printf("%s{\"what\":", i ? "," : "");
		kn_json_str(stdout, kn_global_names[i].text ?
					    kn_global_names[i].text :
					    "(unnamed)");
		printf(",\"packets\":%llu}", (unsigned long long)g[i]);
	}
	printf("]}\n");
}

static void print_status(const char *pin_dir, const struct kn_load_info *li,
			 const struct kanary_cfg *cfg, long flows,
			 const __u64 *g)
{
	char addr[INET_ADDRSTRLEN];
	struct kn_config kc;
	struct kn_err err;

	printf("pin dir:     %s\nmode:        %s\ninterfaces: ", pin_dir,
	       kn_mode_name(li->mode));
	for (int i = 0; i < li->n_ifaces; i++)
		printf(" %s(%s)", li->ifaces[i].name,
		       kn_attached(pin_dir, &li->ifaces[i]) ? "attached" :
							      "NOT ATTACHED");
	printf("\n");
	for (int i = 0; i < li->n_ifaces; i++) {
		const struct kn_iface *it = &li->ifaces[i];

		printf("  %-10s rewrites in %s (%s)%s\n", it->name,
		       kn_mode_name(it->hook), it->why,
		       it->takes_frames ? "; takes XDP frames" : "");
	}
	printf("vip addrs:  ");
	for (int i = 0; i < li->n_vips; i++)
		printf(" %s",
		       inet_ntop(AF_INET, &li->vips[i], addr, sizeof(addr)));
	if (cfg)
		printf("\nconfig:      generation %u, slot %u\n",
		       cfg->generation, cfg->active_slot);
	printf("flows:       %ld conntrack entries (two per connection)\n",
	       flows);
	if (!kn_state_read_config(pin_dir, &kc, &err)) {
		print_routes(&kc, li);
		kn_config_free(&kc);
	}
	kn_health_print_status(stdout, pin_dir);
	for (int i = 0; g && i < KANARY_G_MAX; i++)
		printf("%-12s %llu %s\n",
		       i ? "" : "packets:", (unsigned long long)g[i],
		       kn_global_names[i].text ? kn_global_names[i].text :
						 "(unnamed)");
}

static int cmd_status(int argc, char **argv)
{
	struct kn_load_info li;
	struct kanary_cfg cfg;
	const char *pin_dir;
	__u64 g[KANARY_G_MAX];
	bool json = false, have_cfg, have_g;
	struct kn_maps m;
	uint32_t zero = 0;
	long flows;

	if (common_opts(argc, argv, "status", status_usage, &pin_dir, &json) !=
	    argc)
		return usage_error("status", "unexpected argument");
	if (kn_state_read_load(pin_dir, &li) || kn_maps_open(pin_dir, &m)) {
		fprintf(stderr,
			kn_denied(errno) ? "kanary: %s: " KN_DENIED "\n" :
					   "kanary: not loaded at %s\n",
			pin_dir);
		return 1;
	}
	have_cfg = !bpf_map_lookup_elem(m.fd[KN_MAP_CFG], &zero, &cfg);
	flows = count_flows(m.fd[KN_MAP_FLOWS]);
	if (flows >= 0) {
		long in_records = kn_conns_entries(m.fd[KN_MAP_CONNS]);

		flows = in_records < 0 ? -1 : flows + in_records;
	}
	have_g = !kn_global_read(&m, g);
	if (json)
		print_status_json(pin_dir, &li, have_cfg ? &cfg : NULL, flows,
				  have_g ? g : NULL);
	else
		print_status(pin_dir, &li, have_cfg ? &cfg : NULL, flows,
			     have_g ? g : NULL);
	kn_maps_close(&m);
	return 0;
}

static const char unload_usage[] =
	"usage: kanary unload [--pin-dir DIR]\n"
	"Detach from every interface, remove every pin and the saved "
	"config.\n" PIN_DIR_HELP;

static int cmd_unload(int argc, char **argv)
{
	const char *pin_dir;

	if (common_opts(argc, argv, "unload", unload_usage, &pin_dir, NULL) !=
	    argc)
		return usage_error("unload", "unexpected argument");
	return kn_unload(pin_dir) ? 1 : 0;
}

static const struct command commands[] = {
	{ "load", cmd_load, load_usage },
	{ "apply", cmd_apply, apply_usage },
	{ "set-weight", cmd_set_weight, set_weight_usage },
	{ "stats", kn_cmd_stats, kn_stats_usage },
	{ "metrics", kn_cmd_metrics, kn_metrics_usage },
	{ "status", cmd_status, status_usage },
	{ "unload", cmd_unload, unload_usage },
	{ "run", kn_cmd_run, kn_run_usage },
	{ "promote", kn_cmd_promote, kn_promote_usage },
};

static void usage(FILE *f)
{
	fputs("usage: kanary [--pin-dir DIR] COMMAND [OPTIONS]\n"
	      "A kernel-level traffic splitter for canary releases.\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].name);
	fputs("'kanary COMMAND --help' tells more.\n", f);
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	while (argc > 2 && !strcmp(argv[1], "--pin-dir")) {
		pin_dir_default = argv[2];
		argc -= 2;
		argv += 2;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kanary: unknown command '%s' (see 'kanary --help')\n",
		argv[1]);
	return 2;
}
