// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* kanary run: the node agent, in the foreground. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "cli.h"

const char kn_run_usage[] =
	"usage: kanary run --iface IF [--iface IF ...] --config-dir DIR\n"
	"                  [--listen ADDR:PORT|none] [--unload-on-exit]\n"
	"                  [--no-health] [--mode MODE] [--vip ADDR ...]\n"
	"                  [--flows N] [--max-request-head BYTES]\n"
	"                  [--pin-dir DIR]\n"
	"The node agent: attach as 'load' does (adopting what an earlier\n"
	"agent left pinned), apply every *.yaml and *.yml in the config\n"
	"directory as the whole config, and apply it again when it changes\n"
	"(a ConfigMap volume's ..data swap, or plain edits). A bad set is\n"
	"logged and the last good config keeps serving. Checks endpoint\n"
	"health. Logs to stderr. SIGHUP reads the directory again; SIGTERM\n"
	"exits and leaves the data path attached and pinned.\n"
	"  --config-dir DIR  the config (e.g. a ConfigMap volume)\n"
	"  --listen A:P      /healthz, /readyz, /metrics (default " KN_AGENT_LISTEN_DEFAULT
	"); none: no endpoint\n"
	"  --unload-on-exit  detach and remove the pins on SIGTERM\n"
	"  --no-health       no endpoint health checks\n" KN_CLI_LOAD_HELP
		PIN_DIR_HELP;

int kn_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		KN_CLI_LOAD_OPTIONS,
		{ "config-dir", required_argument, NULL, OPT_CONFIG_DIR },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "unload-on-exit", no_argument, NULL, OPT_UNLOAD_ON_EXIT },
		{ "no-health", no_argument, NULL, OPT_NO_HEALTH },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct kn_agent_opts o = {
		.load = { .pin_dir = pin_dir_default, .mode = KN_MODE_AUTO },
	};
	const char *listen = KN_AGENT_LISTEN_DEFAULT;
	struct stat st;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+hi:m:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(kn_run_usage, stdout);
			return 0;
		case OPT_CONFIG_DIR:
			o.config_dir = optarg;
			break;
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_UNLOAD_ON_EXIT:
			o.unload_on_exit = true;
			break;
		case OPT_NO_HEALTH:
			o.no_health = true;
			break;
		default:
			rc = kn_cli_load_opt(c, optarg, &o.load, "run");
			if (rc)
				return rc;
		}
	}
	if (optind != argc)
		return usage_error("run", "unexpected argument");
	if (!o.load.n_ifaces)
		return usage_error("run", "give at least one --iface");
	if (!o.config_dir)
		return usage_error("run", "give --config-dir");
	if (stat(o.config_dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "kanary run: %s is not a directory\n",
			o.config_dir);
		return 1;
	}
	if (strcmp(listen, "none") && kn_agent_parse_listen(listen, &o.listen))
		return usage_error("run",
				   "--listen takes IPv4ADDR:PORT or none");
	return kn_agent_run(&o);
}
