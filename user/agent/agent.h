/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The node agent (`kanary run`): attaches like `load`, applies the config
 * directory, follows it, checks endpoint health and serves /healthz,
 * /readyz and /metrics, in the foreground until SIGTERM. What it attached
 * and pinned outlives it, so that the next agent adopts it.
 */
#ifndef KANARY_AGENT_H
#define KANARY_AGENT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "loader.h"

#define KN_AGENT_LISTEN_DEFAULT "127.0.0.1:9901"

struct kn_agent_opts {
	struct kn_load_opts load;
	const char *config_dir;
	struct sockaddr_in listen; /* port 0: no HTTP endpoint */
	bool unload_on_exit; /* SIGTERM detaches and removes the pins */
	bool no_health; /* no endpoint checks (every endpoint stays in) */
};

/*
 * What /readyz and /metrics report about the agent, written by its main
 * thread and read by the HTTP thread, under lock.
 */
struct kn_agent_status {
	pthread_mutex_t lock;
	bool loaded; /* the data path is attached */
	bool applied; /* a config set from the directory is in the data path */
	bool last_ok; /* the last set read was applied */
	double last_time; /* when (Unix seconds) */
	char last_error[1024]; /* "file:line: problem", "" after a good one */
	uint64_t applies_ok, applies_failed;
	uint64_t health_changes; /* re-applies for endpoint health */
	/* Sweeps of the records' kn_flows marks (kn_conns_sweep_marks),
	 * and the records still marked after the last one. */
	uint64_t mark_sweeps;
	long records_marked;
};

/* Runs until SIGTERM or SIGINT; returns the process exit status. */
int kn_agent_run(const struct kn_agent_opts *o);

/* "ADDR:PORT" (IPv4) into sa; -1 when it is not one. */
int kn_agent_parse_listen(const char *s, struct sockaddr_in *sa);

#endif /* KANARY_AGENT_H */
