/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* What the commands share: the options of load (also run's), errors. */
#ifndef KANARY_CLI_H
#define KANARY_CLI_H

#include <getopt.h>

#include "loader.h"
#include "pins.h"

enum {
	OPT_PIN_DIR = 256,
	OPT_FLOWS,
	OPT_HEAD_MAX,
	OPT_CONFIG_DIR,
	OPT_LISTEN,
	OPT_UNLOAD_ON_EXIT,
	OPT_NO_HEALTH,
	OPT_INTERVAL,
	OPT_COUNT
};

#define PIN_DIR_HELP                                                                     \
	"  --pin-dir DIR   where maps and links are pinned (default " KN_DEFAULT_PIN_DIR \
	")\n"

/* clang-format off */
#define KN_CLI_LOAD_OPTIONS                                          \
	{ "iface", required_argument, NULL, 'i' },                   \
	{ "mode", required_argument, NULL, 'm' },                    \
	{ "vip", required_argument, NULL, 'v' },                     \
	{ "flows", required_argument, NULL, OPT_FLOWS },             \
	{ "max-request-head", required_argument, NULL, OPT_HEAD_MAX }, \
	{ "pin-dir", required_argument, NULL, OPT_PIN_DIR }
/* clang-format on */

#define KN_CLI_LOAD_HELP                                                        \
	"  --iface IF      interface to attach to (client and endpoint side)\n" \
	"  --mode MODE     auto (default): per interface, native XDP where\n"   \
	"                  the driver gives it full checksums, else tc;\n"      \
	"                  xdp (native XDP everywhere), xdp-generic or tc\n"    \
	"  --vip ADDR      IPv4 address to split (default: the addresses of\n"  \
	"                  the interfaces); repeat for several\n"               \
	"  --flows N       conntrack entries, two per connection (default "     \
	"524288)\n"                                                             \
	"  --max-request-head BYTES\n"                                          \
	"                  L7: the longest request head held before the\n"      \
	"                  gateway answers 431 (default 16384, 4096..65160)\n"

/* --pin-dir given before the command, or the default. */
extern const char *pin_dir_default;

/* "kanary CMD: msg (see ...)" on stderr; returns 2. */
int usage_error(const char *cmd, const char *msg);

/* One of KN_CLI_LOAD_OPTIONS into o: 0, or the exit status of an error. */
int kn_cli_load_opt(int c, const char *arg, struct kn_load_opts *o,
		    const char *cmd);

extern const char kn_run_usage[];
int kn_cmd_run(int argc, char **argv);
extern const char kn_stats_usage[];
int kn_cmd_stats(int argc, char **argv);
extern const char kn_metrics_usage[];
int kn_cmd_metrics(int argc, char **argv);

extern const char kn_promote_usage[];
int kn_cmd_promote(int argc, char **argv);

#endif /* KANARY_CLI_H */
