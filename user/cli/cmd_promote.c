// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* `kanary promote`: the command line; the work is in user/canary/promote.c. */
#include <stdio.h>

#include "cli.h"
#include "promote.h"

const char kn_promote_usage[] =
	"usage: kanary promote VIRTUALSERVICE --to SUBSET --steps W,W,...,100\n"
	"                      --interval DURATION [--min-success PCT]\n"
	"                      [--max-p99 DURATION] [--min-requests N]\n"
	"                      [--max-holds N] [--json] [--pin-dir DIR]\n"
	"Move a VirtualService's traffic to SUBSET step by step, as set-weight\n"
	"would (the other destination gets 100 - W), watching SUBSET's HTTP\n"
	"responses for one interval at each step; roll back to 0 as soon as a\n"
	"gate fails.\n"
	"  --to SUBSET         the canary; the route must have exactly two\n"
	"                      destinations, SUBSET and the stable one\n"
	"  --steps W,...       its weights, ascending, 0..100, ending at 100\n"
	"  --interval D        how long each step is watched (500ms, 30s, 1m)\n"
	"  --min-success PCT   non-5xx share of final responses (default 99);\n"
	"                      judged at every poll (100 ms) once the window\n"
	"                      has --min-requests responses: below it, roll\n"
	"                      back at once\n"
	"  --max-p99 D         p99 request duration (default 500ms), judged at\n"
	"                      the end of the interval\n"
	"  --min-requests N    responses a window needs to be judged (default\n"
	"                      20); fewer: the step is held, its window\n"
	"                      extended by another interval\n"
	"  --max-holds N       holds of one step before rolling back with\n"
	"                      \"not enough traffic to judge\" (default 5)\n"
	"  --json              one JSON object per line (per step and decision)\n" PIN_DIR_HELP
	"If anything else changes the weights meanwhile (apply, set-weight, the\n"
	"agent's config directory), it wins: promote stops and touches nothing.\n"
	"Exit: 0 promoted, 1 error, 2 usage, 3 rolled back, 4 another writer\n"
	"changed the weights, 130 interrupted (the last good weights are left).\n";

int kn_cmd_promote(int argc, char **argv)
{
	struct kn_promote_opts o;
	struct kn_err err;
	bool help;

	if (kn_promote_parse(argc, argv, pin_dir_default, &o, &help, &err)) {
		fprintf(stderr,
			"kanary promote: %s (see 'kanary promote --help')\n",
			err.msg);
		return 2;
	}
	if (help) {
		fputs(kn_promote_usage, stdout);
		return 0;
	}
	return kn_promote_run(&o);
}
