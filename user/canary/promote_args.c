// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* promote's command line: the steps, the durations and the gates. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote.h"

/* Longest --interval: a step that long is a soak, not a canary. */
#define MAX_INTERVAL_MS (24 * 3600 * 1000.0)

int kn_promote_parse_steps(const char *s, int *steps, int *n,
			   struct kn_err *err)
{
	const char *p = s;

	*n = 0;
	if (!*s)
		return kn_err_set(err, "--steps is empty");
	for (;;) {
		char *end;
		long w;

		if (*p < '0' || *p > '9')
			return kn_err_set(err,
					  "--steps '%s': '%s' is not a weight",
					  s, p);
		errno = 0;
		w = strtol(p, &end, 10);
		if (errno || w > 100)
			return kn_err_set(
				err, "--steps '%s': weights are 0 to 100", s);
		if (*end && *end != ',')
			return kn_err_set(err,
					  "--steps '%s': '%s' is not a weight",
					  s, p);
		if (*n && w <= steps[*n - 1])
			return kn_err_set(
				err,
				"--steps '%s': weights must go up (%d, "
				"then %ld)",
				s, steps[*n - 1], w);
		steps[(*n)++] = w;
		if (!*end)
			break;
		p = end + 1;
	}
	if (steps[*n - 1] != 100)
		return kn_err_set(
			err,
			"--steps '%s': the last step must be 100 (for a "
			"partial split, use set-weight)",
			s);
	return 0;
}

int kn_promote_parse_duration(const char *s, double *ms, struct kn_err *err)
{
	size_t digits = strspn(s, "0123456789.");
	const char *unit = s + digits;
	char *end;
	double v;

	/* strtod alone would take "inf", "0x1p3" and " 5". */
	if (!digits || s[0] == '.')
		return kn_err_set(
			err, "'%s' is not a duration (e.g. 500ms, 30s, 1m)", s);
	errno = 0;
	v = strtod(s, &end);
	if (errno || end != unit)
		return kn_err_set(
			err, "'%s' is not a duration (e.g. 500ms, 30s, 1m)", s);
	if (!strcmp(unit, "ms"))
		*ms = v;
	else if (!strcmp(unit, "s"))
		*ms = v * 1000;
	else if (!strcmp(unit, "m"))
		*ms = v * 60000;
	else
		return kn_err_set(
			err, "'%s': give a unit, ms, s or m (e.g. 30s)", s);
	if (!(*ms > 0))
		return kn_err_set(err, "'%s': a duration must be more than 0",
				  s);
	return 0;
}

/* A whole number in lo..hi. */
static int parse_count(const char *opt, const char *s, long long lo,
		       long long hi, long long *v, struct kn_err *err)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	if (errno || end == s || *end || *s < '0' || *s > '9' || *v < lo ||
	    *v > hi)
		return kn_err_set(err,
				  "%s takes a whole number from %lld to %lld",
				  opt, lo, hi);
	return 0;
}

/* A percentage in 0..100, "%" optional. */
static int parse_pct(const char *opt, const char *s, double *v,
		     struct kn_err *err)
{
	size_t digits = strspn(s, "0123456789.");
	char *end;

	if (!digits || (s[digits] && strcmp(s + digits, "%")))
		return kn_err_set(err, "%s takes a percentage from 0 to 100",
				  opt);
	errno = 0;
	*v = strtod(s, &end);
	if (errno || end != s + digits || *v < 0 || *v > 100)
		return kn_err_set(err, "%s takes a percentage from 0 to 100",
				  opt);
	return 0;
}

enum {
	OPT_TO = 256,
	OPT_STEPS,
	OPT_INTERVAL,
	OPT_MIN_SUCCESS,
	OPT_MAX_P99,
	OPT_MIN_REQUESTS,
	OPT_MAX_HOLDS,
	OPT_PIN,
	OPT_JSON,
	OPT_HELP,
};

int kn_promote_parse(int argc, char **argv, const char *pin_dir,
		     struct kn_promote_opts *o, bool *help, struct kn_err *err)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "steps", required_argument, NULL, OPT_STEPS },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "min-success", required_argument, NULL, OPT_MIN_SUCCESS },
		{ "max-p99", required_argument, NULL, OPT_MAX_P99 },
		{ "min-requests", required_argument, NULL, OPT_MIN_REQUESTS },
		{ "max-holds", required_argument, NULL, OPT_MAX_HOLDS },
		{ "pin-dir", required_argument, NULL, OPT_PIN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->pin_dir = pin_dir;
	o->gates = (struct kn_promote_gates){
		.min_success_pct = 99,
		.max_p99_ms = 500,
		.min_requests = 20,
		.max_holds = 5,
	};
	*help = false;
	/* 0, not 1: glibc starts over (the unit tests parse many times). */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TO:
			if (!*optarg)
				return kn_err_set(err, "--to takes a subset");
			o->canary = optarg;
			break;
		case OPT_STEPS:
			if (kn_promote_parse_steps(optarg, o->steps,
						   &o->n_steps, err))
				return -1;
			break;
		case OPT_INTERVAL:
			if (kn_promote_parse_duration(optarg, &o->interval_ms,
						      err))
				return -1;
			if (o->interval_ms > MAX_INTERVAL_MS)
				return kn_err_set(err,
						  "--interval is at most 24h");
			break;
		case OPT_MIN_SUCCESS:
			if (parse_pct("--min-success", optarg,
				      &o->gates.min_success_pct, err))
				return -1;
			break;
		case OPT_MAX_P99:
			if (kn_promote_parse_duration(
				    optarg, &o->gates.max_p99_ms, err))
				return -1;
			break;
		case OPT_MIN_REQUESTS:
			if (parse_count("--min-requests", optarg, 1,
					1000000000000LL, &v, err))
				return -1;
			o->gates.min_requests = v;
			break;
		case OPT_MAX_HOLDS:
			if (parse_count("--max-holds", optarg, 0, 1000, &v,
					err))
				return -1;
			o->gates.max_holds = v;
			break;
		case OPT_PIN:
			o->pin_dir = optarg;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'h':
		case OPT_HELP:
			*help = true;
			return 0;
		case ':':
			return kn_err_set(err, "%s needs a value",
					  argv[optind - 1]);
		default:
			return kn_err_set(err, "bad option '%s'",
					  argv[optind - 1]);
		}
	}
	if (optind == argc)
		return kn_err_set(err, "give a VirtualService");
	if (argc - optind > 1)
		return kn_err_set(err, "unexpected argument '%s'",
				  argv[optind + 1]);
	o->vs = argv[optind];
	if (!o->canary)
		return kn_err_set(err, "give the canary subset with --to");
	if (!o->n_steps)
		return kn_err_set(err, "give the weights with --steps (e.g. "
				       "10,30,50,100)");
	if (!o->interval_ms)
		return kn_err_set(err,
				  "give how long each step is watched with "
				  "--interval (e.g. 30s)");
	return 0;
}
