// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * kanary metrics: the data path's /metrics without the agent (for a node
 * where `kanary load` attached it), or printed once for scripts.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "cli.h"
#include "endpoint.h"
#include "metrics.h"

const char kn_metrics_usage[] =
	"usage: kanary metrics [--listen ADDR:PORT] [--pin-dir DIR]\n"
	"The data path's counters in the Prometheus text format: kanary's own\n"
	"families and Istio's istio_requests_total and\n"
	"istio_request_duration_milliseconds (reporter=\"kanary\").\n"
	"Without --listen, print them once.\n"
	"  --listen A:P    serve GET /metrics on IPv4 address A, port P, in\n"
	"                  the foreground until SIGINT or SIGTERM; it answers\n"
	"                  503 while nothing is loaded\n" PIN_DIR_HELP;

static int render(void *arg, char **body, size_t *len)
{
	const char *pin_dir = arg;
	FILE *f = open_memstream(body, len);
	int status = 200;

	if (!f)
		return 500;
	if (kn_metrics_write_datapath(f, pin_dir)) {
		fprintf(f, "nothing loaded at %s\n", pin_dir);
		status = 503;
	}
	fclose(f);
	return status;
}

static int serve(const char *listen, const char *pin_dir)
{
	struct kn_http_path path = { "/metrics", KN_METRICS_CONTENT_TYPE,
				     render, (void *)pin_dir };
	struct sockaddr_in addr;
	struct kn_http *h;
	char err[256];
	sigset_t set;
	int sig;

	if (kn_agent_parse_listen(listen, &addr)) {
		fprintf(stderr,
			"kanary metrics: --listen takes IPv4ADDR:PORT, not "
			"'%s'\n",
			listen);
		return 1;
	}
	/* Blocked before the server's thread starts, so that it inherits. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	h = kn_http_start(&addr, &path, 1, err, sizeof(err));
	if (!h) {
		fprintf(stderr, "kanary metrics: %s\n", err);
		return 1;
	}
	fprintf(stderr, "kanary metrics: serving http://%s/metrics\n", listen);
	while (sigwait(&set, &sig))
		;
	kn_http_stop(h);
	return 0;
}

int kn_cmd_metrics(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "pin-dir", required_argument, NULL, OPT_PIN_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pin_dir = pin_dir_default, *listen = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			listen = optarg;
			break;
		case OPT_PIN_DIR:
			pin_dir = optarg;
			break;
		case 'h':
			fputs(kn_metrics_usage, stdout);
			return 0;
		default:
			return usage_error("metrics", "bad option");
		}
	}
	if (optind != argc)
		return usage_error("metrics", "unexpected argument");
	if (listen)
		return serve(listen, pin_dir);
	/* kn_maps_open says why when nothing is loaded */
	return kn_metrics_write_datapath(stdout, pin_dir) ? 1 : 0;
}
