// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kanary stats: the counters per VirtualService and subset, once, or as a
 * live view of what each subset did over the last interval (--watch).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "analysis.h"
#include "cli.h"
#include "stats.h"

const char kn_stats_usage[] =
	"usage: kanary stats [--json] [--pin-dir DIR]\n"
	"       kanary stats --watch [--interval SECONDS] [--count N] [--json]\n"
	"                    [--pin-dir DIR]\n"
	"Connections, packets, bytes, HTTP requests, responses by status code,\n"
	"success rate and request duration (p50, p99) per VirtualService and\n"
	"subset, and connections per http route of VirtualServices with match\n"
	"rules. Success: responses other than 5xx. Duration: from the request's\n"
	"first byte to the response's first byte, at the gateway.\n"
	"  --json          {\"virtualservices\":[{\"name\":...,\"subsets\":"
	"[...],\"rules\":[...]}]}\n"
	"  --watch         what each subset did over the last interval: weight,\n"
	"                  responses per second, success %, p50/p99 and its\n"
	"                  share of the VirtualService's responses; redrawn in\n"
	"                  place on a terminal, one frame after another\n"
	"                  otherwise, one JSON object per line with --json\n"
	"  --interval S    seconds between readings (default 1; 0.1 to 3600)\n"
	"  --count N       stop after N intervals (default: until Ctrl-C)\n" PIN_DIR_HELP;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

/* The counters at one moment. */
struct reading {
	struct kn_stat_row *rows;
	int n;
	struct timespec at; /* CLOCK_MONOTONIC */
};

static int read_rows(const char *pin_dir, const struct kn_maps *m,
		     struct reading *r)
{
	clock_gettime(CLOCK_MONOTONIC, &r->at);
	if (kn_stats_read(pin_dir, m, &r->rows, &r->n)) {
		fprintf(stderr, "kanary: cannot read the counters\n");
		return -1;
	}
	return 0;
}

static const struct kn_stat_row *find_row(const struct reading *r,
					  const struct kn_stat_row *like)
{
	for (int i = 0; i < r->n; i++)
		if (!strcmp(r->rows[i].ns, like->ns) &&
		    !strcmp(r->rows[i].vs, like->vs) &&
		    !strcmp(r->rows[i].subset, like->subset))
			return &r->rows[i];
	return NULL;
}

static bool same_vs(const struct kn_stat_row *a, const struct kn_stat_row *b)
{
	return !strcmp(a->ns, b->ns) && !strcmp(a->vs, b->vs);
}

/* The first row of its VirtualService: where its group is printed. */
static bool first_of_vs(const struct reading *r, int i)
{
	for (int j = 0; j < i; j++)
		if (same_vs(&r->rows[j], &r->rows[i]))
			return false;
	return true;
}

/* One interval, from before to now, as text or as one line of JSON. */
static void frame(FILE *f, const struct reading *before,
		  const struct reading *now, double interval, bool json)
{
	double secs = (now->at.tv_sec - before->at.tv_sec) +
		      (now->at.tv_nsec - before->at.tv_nsec) / 1e9;
	struct kn_window *w = calloc(now->n + 1, sizeof(*w));
	bool first_vs = true;
	char clock[16];
	time_t t = time(NULL);

	if (!w)
		return;
	for (int i = 0; i < now->n; i++)
		kn_window_between(find_row(before, &now->rows[i]),
				  &now->rows[i], secs, &w[i]);
	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&t));
	if (json)
		fprintf(f,
			"{\"time\":%lld,\"seconds\":%.3f,\"virtualservices\":[",
			(long long)t, secs);
	else
		fprintf(f, "every %gs, last %.2fs, at %s\n", interval, secs,
			clock);
	for (int i = 0; i < now->n; i++) {
		const struct kn_stat_row *vs = &now->rows[i];
		__u64 total = 0;
		bool first = true;

		if (!first_of_vs(now, i))
			continue;
		for (int j = i; j < now->n; j++)
			if (same_vs(&now->rows[j], vs))
				total += w[j].responses;
		if (json) {
			fprintf(f, "%s{\"name\":", first_vs ? "" : ",");
			kn_json_str(f, vs->vs);
			fprintf(f, ",\"namespace\":");
			kn_json_str(f, vs->ns);
			fprintf(f, ",\"subsets\":[");
		} else {
			fprintf(f, "\n%s/%s\n  %-16s %6s %9s %8s %9s %9s  %s\n",
				vs->ns, vs->vs, "SUBSET", "WEIGHT", "REQ/S",
				"SUCCESS%", "P50_MS", "P99_MS", "SHARE");
		}
		first_vs = false;
		for (int j = i; j < now->n; j++) {
			const struct kn_stat_row *r = &now->rows[j];
			double share = total ? 100.0 * w[j].responses / total :
					       -1;
			char weight[16], rps[16], ok[16], p50[16], p99[16];
			char bar[21], pct[16];
			int fill = share < 0 ? 0 : (int)(share / 5 + 0.5);

			if (!same_vs(r, vs))
				continue;
			if (json) {
				fprintf(f, "%s{\"name\":", first ? "" : ",");
				kn_json_str(f, r->subset);
				fprintf(f,
					",\"weight\":%d,\"requests\":%llu,"
					"\"responses\":%llu,\"errors\":%llu,"
					"\"rps\":%.6g",
					r->weight < 0 ? 0 : r->weight,
					w[j].requests, w[j].responses,
					w[j].errors, w[j].rps);
				kn_json_num(f, "success_pct", w[j].success_pct);
				kn_json_num(f, "p50_ms", w[j].p50_ms);
				kn_json_num(f, "p99_ms", w[j].p99_ms);
				kn_json_num(f, "share_pct", share);
				fputc('}', f);
				first = false;
				continue;
			}
			memset(bar, '#', fill);
			memset(bar + fill, '.', 20 - fill);
			bar[20] = '\0';
			if (r->weight < 0)
				snprintf(weight, sizeof(weight), "-");
			else
				snprintf(weight, sizeof(weight), "%d",
					 r->weight);
			fprintf(f, "  %-16s %6s %9s %8s %9s %9s  %s %6s%%\n",
				r->subset, weight,
				kn_num_text(rps, sizeof(rps), w[j].rps, 1),
				kn_num_text(ok, sizeof(ok), w[j].success_pct,
					    1),
				kn_num_text(p50, sizeof(p50), w[j].p50_ms, 2),
				kn_num_text(p99, sizeof(p99), w[j].p99_ms, 2),
				bar, kn_num_text(pct, sizeof(pct), share, 1));
		}
		if (json)
			fprintf(f, "]}");
	}
	if (json)
		fprintf(f, "]}\n");
	else if (!now->n)
		fprintf(f, "\n(no counter rows: apply a config first)\n");
	free(w);
}

/* Sleeps seconds, or less when a signal asks to stop. */
static void pause_for(double seconds)
{
	struct timespec ts = { .tv_sec = (time_t)seconds };

	ts.tv_nsec = (long)((seconds - ts.tv_sec) * 1e9);
	while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int watch(const char *pin_dir, const struct kn_maps *m, double interval,
		 long count, bool json)
{
	struct sigaction sa = { .sa_handler = on_signal };
	bool tty = !json && isatty(STDOUT_FILENO);
	struct reading before, now;
	int rc = 0;

	/* No SA_RESTART: the signal cuts the sleep short. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (read_rows(pin_dir, m, &before))
		return 1;
	if (tty)
		fputs("\033[?25l", stdout); /* no cursor blinking over it */
	for (long k = 0; !stop && (count < 0 || k < count); k++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f;

		pause_for(interval);
		if (stop)
			break;
		if (read_rows(pin_dir, m, &now)) {
			rc = 1;
			break;
		}
		/* Built whole, then written at once: no half-drawn frame. */
		f = open_memstream(&buf, &len);
		if (f) {
			if (tty)
				fputs("\033[H\033[J", f);
			else if (k && !json)
				fputc('\n', f);
			frame(f, &before, &now, interval, json);
			fclose(f);
			fwrite(buf, 1, len, stdout);
			fflush(stdout);
			free(buf);
		}
		free(before.rows);
		before = now;
	}
	free(before.rows);
	if (tty) {
		fputs("\033[?25h", stdout);
		fflush(stdout);
	}
	return rc;
}

static int once(const char *pin_dir, const struct kn_maps *m, bool json)
{
	struct kn_rule_row *rules;
	struct kn_stat_row *rows;
	int n, n_rules;

	if (kn_stats_read(pin_dir, m, &rows, &n)) {
		fprintf(stderr, "kanary: cannot read the counters\n");
		return 1;
	}
	if (kn_rule_stats_read(m, &rules, &n_rules)) {
		fprintf(stderr, "kanary: cannot read the rule counters\n");
		free(rows);
		return 1;
	}
	kn_stats_print(stdout, rows, n, rules, n_rules, json);
	free(rules);
	free(rows);
	return 0;
}

int kn_cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = pin_dir_default;
	bool json = false, watching = false, timing = false;
	double interval = 1;
	long count = -1;
	struct kn_maps m;
	char *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			watching = true;
			break;
		case OPT_INTERVAL:
			errno = 0;
			interval = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(interval >= 0.1 && interval <= 3600))
				return usage_error(
					"stats",
					"--interval takes 0.1 to 3600 seconds");
			timing = true;
			break;
		case OPT_COUNT:
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || count < 1)
				return usage_error(
					"stats",
					"--count takes a whole number from 1");
			timing = true;
			break;
		case OPT_PIN_DIR:
			pin_dir = optarg;
			break;
		case 'h':
			fputs(kn_stats_usage, stdout);
			return 0;
		default:
			return usage_error("stats", "bad option");
		}
	}
	if (optind != argc)
		return usage_error("stats", "unexpected argument");
	if (timing && !watching)
		return usage_error("stats",
				   "--interval and --count go with --watch");
	if (kn_maps_open(pin_dir, &m))
		return 1; /* it said why */
	rc = watching ? watch(pin_dir, &m, interval, count, json) :
			once(pin_dir, &m, json);
	kn_maps_close(&m);
	return rc;
}
