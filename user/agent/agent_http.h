/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The agent's HTTP endpoint: /healthz (the process answers), /readyz
 * (attached everywhere, a config set applied, and the last set read was
 * good) and /metrics (the data path's counters, the agent's config
 * results, endpoint health).
 */
#ifndef KANARY_AGENT_HTTP_H
#define KANARY_AGENT_HTTP_H

#include "agent.h"
#include "health.h"

struct kn_agent_http;

/* NULL, with the reason logged, when it cannot listen. */
struct kn_agent_http *kn_agent_http_start(const struct sockaddr_in *addr,
					  const char *pin_dir,
					  struct kn_agent_status *st,
					  struct kn_health *health);
void kn_agent_http_stop(struct kn_agent_http *h);

#endif /* KANARY_AGENT_HTTP_H */
