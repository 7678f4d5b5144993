// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading TLS passthrough: a Gateway server's `tls` (Istio's
 * ServerTLSSettings) and a VirtualService's `tls` routes (TLSRoute,
 * TLSMatchAttributes). kanary never terminates TLS: it routes a
 * connection to a PASSTHROUGH server by the server name (SNI) of its
 * ClientHello, and forwards the bytes as they are.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_read.h"
#include "yaml_tree.h"

bool kn_gw_server_passthrough(const struct kn_gw_server *s)
{
	return s->tls_mode && !strcmp(s->tls_mode, "PASSTHROUGH") &&
	       s->protocol &&
	       (!strcasecmp(s->protocol, "TLS") ||
		!strcasecmp(s->protocol, "HTTPS"));
}

/* ------------------------------------------------------------------ */
/* Gateway: servers[].tls */

static int kn_rd_tls_mode(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	static const char *const modes[] = {
		"PASSTHROUGH",	    "SIMPLE",	    "MUTUAL",
		"AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL",
	};
	struct kn_gw_server *s = obj;
	size_t i;

	if (kn_yt_want(&rd->c, v, KN_YT_SCALAR, "tls.mode"))
		return -1;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(v->str, modes[i]))
			break;
	if (i == sizeof(modes) / sizeof(modes[0]))
		return kn_yt_error(
			&rd->c, v->line,
			"tls.mode: unsupported value '%s' (one of PASSTHROUGH, "
			"SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, "
			"OPTIONAL_MUTUAL)",
			v->str);
	free(s->tls_mode);
	s->tls_mode = kn_yt_xstrdup(v->str);
	if (!strcmp(v->str, "PASSTHROUGH"))
		return 0;
	if (!strcmp(v->str, "AUTO_PASSTHROUGH"))
		kn_rd_warn(rd, v->line,
			   "'tls.mode: AUTO_PASSTHROUGH' is ignored: Istio "
			   "routes by the service named in the SNI (multi-"
			   "cluster); kanary does not");
	else
		kn_rd_warn(rd, v->line,
			   "'tls.mode: %s' is ignored: Istio terminates TLS on "
			   "this server and routes the decrypted requests by "
			   "'http'; kanary does not terminate TLS, and "
			   "forwards the connections encrypted, by the 'http' "
			   "route's weights",
			   v->str);
	return 0;
}

static int kn_rd_tls_redirect(struct kn_rd *rd, const struct kn_yt_node *v,
			      void *obj)
{
	struct kn_gw_server *s = obj;

	if (kn_yt_want(&rd->c, v, KN_YT_SCALAR, "tls.httpsRedirect"))
		return -1;
	if (!strcmp(v->str, "true"))
		s->https_redirect = true;
	else if (strcmp(v->str, "false"))
		return kn_yt_error(
			&rd->c, v->line,
			"tls.httpsRedirect: expected true or false, got '%s'",
			v->str);
	if (s->https_redirect)
		kn_rd_warn(rd, v->line,
			   "'tls.httpsRedirect: true' is ignored: Istio "
			   "answers HTTP requests on this server with a 301 "
			   "to HTTPS; kanary forwards them");
	return 0;
}

/*
 * What configures TLS termination means nothing to a PASSTHROUGH server,
 * Istio's or kanary's; with another mode, the mode's warning covers it.
 */
static const struct kn_rd_field kn_rd_gw_tls_fields[] = {
	KN_USE("mode", kn_rd_tls_mode),
	KN_USE("httpsRedirect", kn_rd_tls_redirect),
	KN_SILENT("serverCertificate"),
	KN_SILENT("privateKey"),
	KN_SILENT("caCertificates"),
	KN_SILENT("caCrl"),
	KN_SILENT("credentialName"),
	KN_SILENT("credentialNames"),
	KN_SILENT("tlsCertificates"),
	KN_SILENT("subjectAltNames"),
	KN_SILENT("verifyCertificateSpki"),
	KN_SILENT("verifyCertificateHash"),
	KN_SILENT("minProtocolVersion"),
	KN_SILENT("maxProtocolVersion"),
	KN_SILENT("cipherSuites"),
	{},
};

int kn_rd_gw_tls(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_gw_server *s = obj;

	if (kn_rd_fields(rd, v, "tls", kn_rd_gw_tls_fields, KN_RD_UNKNOWN, s))
		return -1;
	/* Istio's default mode (the enum's 0). */
	if (!s->tls_mode)
		s->tls_mode = kn_yt_xstrdup("PASSTHROUGH");
	return 0;
}

/* ------------------------------------------------------------------ */
/* VirtualService: tls routes */

/*
 * An SNI host as Istio takes it: a DNS name, "*.name" (any name ending
 * in ".name"), or "*" (any name, and none). Lower-cased: server names are
 * compared without case.
 */
static int kn_rd_sni_host(struct kn_rd *rd, const struct kn_yt_node *n,
			  char *host)
{
	const char *name = host;
	char *p;

	for (p = host; *p; p++)
		*p = tolower((unsigned char)*p);
	if (!strcmp(host, "*"))
		return 0;
	if (!strncmp(host, "*.", 2))
		name = host + 2;
	if (!*name || strlen(host) > 253 || name[0] == '.' ||
	    name[strlen(name) - 1] == '.' || strstr(name, ".."))
		goto bad;
	for (p = (char *)name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			goto bad;
	return 0;
bad:
	return kn_yt_error(&rd->c, n->line,
			   "sniHosts: '%s' is not a host name, '*.' and a host "
			   "name, or '*'",
			   host);
}

static int kn_rd_tls_sni_hosts(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	struct kn_tls_match *m = obj;

	if (kn_yt_strings(&rd->c, v, "sniHosts", &m->n_sni_hosts,
			  &m->sni_hosts))
		return -1;
	for (int i = 0; i < m->n_sni_hosts; i++)
		if (kn_rd_sni_host(rd, &v->kids[i], m->sni_hosts[i]))
			return -1;
	return 0;
}

static int kn_rd_tls_port(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	return kn_rd_port(rd, v, "port", &((struct kn_tls_match *)obj)->port);
}

static const struct kn_rd_field kn_rd_tls_match_fields[] = {
	KN_USE("sniHosts", kn_rd_tls_sni_hosts),
	KN_USE("port", kn_rd_tls_port),
	/* Conditions kanary cannot check: ignoring one widens the match. */
	KN_REFUSE("destinationSubnets", NULL),
	KN_REFUSE("sourceLabels", NULL),
	KN_REFUSE("gateways", NULL),
	KN_REFUSE("sourceNamespace", NULL),
	{},
};

static int kn_rd_tls_match(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_tls_match *m = obj;

	m->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "tls match[]", kn_rd_tls_match_fields,
			 KN_RD_REFUSE, m))
		return -1;
	if (!m->n_sni_hosts)
		return kn_yt_error(&rd->c, v->line,
				   "missing 'sniHosts' (Istio requires at "
				   "least one per tls match)");
	return 0;
}

static int kn_rd_tls_matches(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_tls_route *t = obj;

	return kn_rd_list(rd, v, "match", sizeof(*t->match), &t->n_match,
			  (void **)&t->match, kn_rd_tls_match);
}

static int kn_rd_tls_route_dests(struct kn_rd *rd, const struct kn_yt_node *v,
				 void *obj)
{
	struct kn_tls_route *t = obj;

	return kn_rd_list(rd, v, "route", sizeof(*t->route), &t->n_route,
			  (void **)&t->route, kn_rd_route_dest);
}

static const struct kn_rd_field kn_rd_tls_fields[] = {
	KN_USE("match", kn_rd_tls_matches),
	KN_USE("route", kn_rd_tls_route_dests),
	{},
};

static int kn_rd_tls_route(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_tls_route *t = obj;

	t->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "tls[]", kn_rd_tls_fields, KN_RD_UNKNOWN, t))
		return -1;
	if (!t->n_match)
		return kn_yt_error(&rd->c, v->line,
				   "tls route without 'match' (Istio requires "
				   "sniHosts; '*' takes every connection)");
	if (!t->n_route)
		return kn_yt_error(&rd->c, v->line,
				   "tls route without 'route'");
	return 0;
}

int kn_rd_vs_tls(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_virtualservice *vs = obj;

	return kn_rd_list(rd, v, "tls", sizeof(*vs->tls), &vs->n_tls,
			  (void **)&vs->tls, kn_rd_tls_route);
}
