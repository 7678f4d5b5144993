/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Gateway ports and virtual hosts: which VirtualServices each Gateway
 * port serves, which ports take the L7 path, and, on an L7 port, the
 * VirtualServices' hosts in the order Envoy picks virtual hosts. Shared
 * by the compiler and `kanary status`; pure, like the compiler.
 */
#ifndef KANARY_VHOSTS_H
#define KANARY_VHOSTS_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "kanary_abi.h"

/* How a VirtualService binds a port: the routes that serve it there. */
enum {
	KN_BY_HTTP = 1, /* its http routes: any server but PASSTHROUGH */
	KN_BY_TLS = 2, /* its tls routes, by SNI: a PASSTHROUGH server */
};

/* One port of the Gateways, and the VirtualServices it serves. */
struct kn_port {
	uint16_t port;
	/* The first server that binds it (tls: the first PASSTHROUGH one). */
	const struct kn_gw_server *server;
	const char *protocol; /* the server's, as written */
	/*
	 * TLS passthrough: its VirtualServices bind it by their tls routes,
	 * merged by SNI into one TLS table (KANARY_L7_TLS); l7 is true.
	 */
	bool tls;
	/*
	 * The L7 path: a TLS port, or an HTTP port with more than one
	 * VirtualService, or one with match rules, or one whose hosts are
	 * not "*"; all these need the request (its SNI, its Host, its
	 * headers). Else the L4 path.
	 */
	bool l7;
	int n_vs;
	int *vs; /* indices into cfg->res, in config order */
	int *by; /* for each of vs: KN_BY_HTTP, KN_BY_TLS, or both */
	/*
	 * For each of vs: the hosts it serves on this port, lower case, as
	 * Istio narrows them: each of its hosts (none: "*") met with each
	 * host of the port's servers of its Gateways that admit its
	 * namespace ("ns/host": ns "*", "." for the Gateway's, or a name).
	 */
	int *n_hosts;
	char ***hosts;
};

struct kn_ports {
	int n;
	struct kn_port *port; /* in the order the config binds them */
	int n_unserved;
	int *unserved; /* VirtualServices no Gateway port serves */
};

/*
 * The hosts both VirtualService host a and Gateway server host b (lower
 * case, without a namespace) take: the narrower of the two, or NULL when
 * they share none ("*.example.com" and "a.example.com": the latter).
 */
const char *kn_host_meet(const char *a, const char *b);

/*
 * The ports of the Gateways the config's VirtualServices bind. -1 with
 * err at file:line for what the data path cannot do: an unknown gateway,
 * two VirtualServices or match rules on a port that is neither HTTP nor
 * TLS passthrough, http routes on a port routed by SNI.
 */
int kn_ports_plan(const struct kn_config *cfg, struct kn_ports *out,
		  struct kn_err *err);
void kn_ports_free(struct kn_ports *p);

/* True when port p is HTTP: the only protocol the L7 path reads. */
bool kn_port_is_http(const struct kn_port *p);

/* True when tls match m applies to gateway port (it names none or it). */
bool kn_tls_match_applies(const struct kn_tls_match *m, uint16_t port);

/* One host of one VirtualService on an L7 port. */
struct kn_vhost {
	enum kn_host_kind kind;
	char host[KANARY_L7_VALUE_LEN + 1]; /* lower case; SUFFIX: ".x.y" */
	int vs; /* index into cfg->res */
};

/*
 * The hosts of port p's VirtualServices (kn_port.hosts) in the order
 * Envoy selects virtual hosts: exact hosts, then suffix wildcards longest
 * first, then "*"; one host's VirtualServices in config order. -1 with
 * err at the hosts' file:line for a host longer than KANARY_L7_VALUE_LEN.
 */
int kn_vhosts(const struct kn_config *cfg, const struct kn_port *p,
	      struct kn_vhost **out, int *n, struct kn_err *err);

/* True when a and b are the same virtual host (same kind and host). */
bool kn_vhost_same(const struct kn_vhost *a, const struct kn_vhost *b);

/*
 * True when a request that virtual host first selects could also be
 * selected by later, which Envoy only tries when first does not match.
 */
bool kn_vhost_overlaps(const struct kn_vhost *first,
		       const struct kn_vhost *later);

#endif /* KANARY_VHOSTS_H */
