// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading Istio and Kubernetes YAML into the model of config.h.
 *
 * Input is parsed into trees (yaml_tree.c), then each document becomes one
 * kn_resource. Everything lands in a scratch config first and moves into
 * the caller's only once the whole input was good: a bad file never leaves
 * half a config behind.
 *
 * Fields are read through tables that list, for each map, every key of
 * its schema (Istio's CRDs, Kubernetes' Service) and how it is handled.
 * A field that changes what Istio does and that kanary does not implement
 * is skipped with a warning that says what Istio would do; a key not in
 * the schema at all is a typo, and warned about as one. Inside a match
 * both are errors: ignoring a condition would widen the match and send
 * traffic where the author did not want it. `apply --strict` refuses any
 * config that drew a warning (kn_config.n_warnings).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_read.h"
#include "yaml_tree.h"

/* Said of more than one field. */
#define KN_WHY_EXPORT                                                      \
	"Istio makes the resource visible only to the namespaces listed; " \
	"kanary does not restrict visibility"
#define KN_WHY_MIRROR \
	"Istio copies requests to the mirror; kanary does not mirror traffic"
#define KN_WHY_HEADERS                                     \
	"Istio adds, sets or removes the headers listed; " \
	"kanary forwards headers unchanged"
#define KN_WHY_LOCAL_ORIGIN                                               \
	"Istio counts local failures (timeouts, resets) apart from 5xx; " \
	"kanary's health checks do not"

struct kn_src kn_rd_src(const struct kn_rd *rd, const struct kn_yt_node *n)
{
	return (struct kn_src){ .file = rd->c.file, .line = n->line };
}

void kn_rd_warn(struct kn_rd *rd, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kn_yt_warn(&rd->c, line, "%s", msg);
	rd->cfg->n_warnings++;
}

/* "timeout: 5s" for a short scalar, else the key alone: what was set. */
static const char *kn_rd_setting(const struct kn_yt_node *k,
				 const struct kn_yt_node *v, char *buf,
				 size_t size)
{
	if (v->type != KN_YT_SCALAR || kn_yt_is_null(v) || strlen(v->str) > 32)
		return k->str;
	snprintf(buf, size, "%s: %s", k->str, v->str);
	return buf;
}

/*
 * Walk the keys of map, handling each as tab says. A key not in tab is
 * not in the schema: warned about as a typo when other is KN_RD_UNKNOWN,
 * an error when it is KN_RD_REFUSE. A null value means "not given", as in
 * Kubernetes, so handlers only ever see real values and required fields
 * are checked by the callers.
 */
int kn_rd_fields(struct kn_rd *rd, const struct kn_yt_node *map,
		 const char *what, const struct kn_rd_field *tab,
		 enum kn_rd_act other, void *obj)
{
	const struct kn_rd_field *f;
	const struct kn_yt_node *k, *v;
	char buf[80];
	int i;

	if (kn_yt_want(&rd->c, map, KN_YT_MAP, what))
		return -1;
	for (i = 0; i < map->n; i++) {
		k = kn_yt_key(map, i);
		v = kn_yt_val(map, i);
		for (f = tab; f->key && strcmp(f->key, k->str); f++)
			;
		if (!f->key && other == KN_RD_REFUSE)
			return kn_yt_error(
				&rd->c, k->line,
				"unknown field '%s' in %s (not in %s schema)",
				k->str, what, rd->schema);
		if (!f->key)
			kn_rd_warn(
				rd, k->line,
				"unknown field '%s' in %s, not in %s schema: ignored",
				k->str, what, rd->schema);
		else if (f->act == KN_RD_WARN)
			kn_rd_warn(rd, k->line, "'%s' is ignored: %s",
				   kn_rd_setting(k, v, buf, sizeof(buf)),
				   f->why);
		else if (f->act == KN_RD_REFUSE)
			return kn_yt_error(
				&rd->c, k->line,
				"'%s' is not supported by kanary%s%s", k->str,
				f->why ? ": " : "", f->why ? f->why : "");
		else if (f->act == KN_RD_USE && !kn_yt_is_null(v) &&
			 f->fn(rd, v, obj))
			return -1;
	}
	return 0;
}

/*
 * Read a list of objects: arr gets n zeroed items first, so that what a
 * failing item leaves behind is freed with the resource.
 */
int kn_rd_list(struct kn_rd *rd, const struct kn_yt_node *v, const char *what,
	       size_t size, int *n, void **arr, kn_rd_fn *item)
{
	int i;

	if (kn_yt_want(&rd->c, v, KN_YT_SEQ, what))
		return -1;
	*arr = kn_yt_xcalloc(v->n, size);
	*n = v->n;
	for (i = 0; i < v->n; i++)
		if (item(rd, &v->kids[i], (char *)*arr + i * size))
			return -1;
	return 0;
}

int kn_rd_port(struct kn_rd *rd, const struct kn_yt_node *v, const char *what,
	       uint16_t *out)
{
	long long n;

	if (kn_yt_int(&rd->c, v, what, 1, 65535, &n))
		return -1;
	*out = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Labels and other maps of strings */

static bool kn_rd_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* [-+]? then digits of base, with '_' between them as YAML 1.1 allows. */
static bool kn_rd_digits(const char *p, const char *digits)
{
	if (*p == '-' || *p == '+')
		p++;
	if (!*p || !strchr(digits, *p))
		return false;
	for (; *p; p++)
		if (*p != '_' && !strchr(digits, *p))
			return false;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, go-yaml's float. */
static bool kn_rd_float(const char *p)
{
	bool digits = false;

	if (*p == '-' || *p == '+')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits = true;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return !*p;
}

/*
 * What kubectl's YAML (go-yaml, YAML 1.1) makes of a plain scalar that is
 * not a string: "a number", "a boolean", or NULL for a string. yes, no,
 * on and off are booleans there, as 0x1f, 1_000 and 1e3 are numbers.
 */
static const char *kn_rd_yaml11_type(const struct kn_yt_node *v)
{
	static const char *const bools[] = {
		"y",  "Y",  "yes",  "Yes",  "YES",  "n",     "N",     "no",
		"No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON",   "off",  "Off",  "OFF",   NULL,
	};
	static const char *const floats[] = {
		".nan",	 ".NaN",  ".NAN",  ".inf",  ".Inf",  ".INF", "+.inf",
		"+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", NULL,
	};
	const char *p = v->str;

	if (v->type != KN_YT_SCALAR || !v->plain || kn_yt_is_null(v))
		return NULL;
	if (kn_rd_in(p, bools))
		return "a boolean";
	if (*p == '-' || *p == '+')
		p++;
	if ((!strncmp(p, "0x", 2) &&
	     kn_rd_digits(p + 2, "0123456789abcdefABCDEF")) ||
	    (!strncmp(p, "0b", 2) && kn_rd_digits(p + 2, "01")) ||
	    (!strncmp(p, "0o", 2) && kn_rd_digits(p + 2, "01234567")) ||
	    kn_rd_digits(v->str, "0123456789") || kn_rd_float(v->str) ||
	    kn_rd_in(v->str, floats))
		return "a number";
	return NULL;
}

/*
 * Label, selector and annotation values are strings to Kubernetes: an
 * unquoted 1 or true is refused by the API server, so it is here too.
 */
static int kn_rd_string_values(struct kn_rd *rd, const struct kn_yt_node *map,
			       const char *what)
{
	const struct kn_yt_node *v;
	const char *type;

	if (kn_yt_want(&rd->c, map, KN_YT_MAP, what))
		return -1;
	for (int i = 0; i < map->n; i++) {
		v = kn_yt_val(map, i);
		type = kn_rd_yaml11_type(v);
		if (type)
			return kn_yt_error(
				&rd->c, v->line,
				"%s: '%s': %s is %s, Kubernetes wants a string (write \"%s\")",
				what, kn_yt_key(map, i)->str, v->str, type,
				v->str);
	}
	return 0;
}

/* A label name or value: up to 63 of [A-Za-z0-9-_.], alphanumeric ends. */
static bool kn_rd_label_word(const char *s, size_t len, bool empty_ok)
{
	if (!len)
		return empty_ok;
	if (len > 63 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static bool kn_rd_dns_name(const char *s, size_t max, bool dots);

/* Kubernetes' label syntax: [prefix/]name = value. */
static int kn_rd_label_syntax(struct kn_rd *rd, const struct kn_yt_node *k,
			      const struct kn_yt_node *v, const char *what)
{
	const char *slash = strrchr(k->str, '/'), *name = k->str;
	const char *val = kn_yt_is_null(v) ? "" : v->str;

	if (slash) {
		char prefix[254];
		size_t len = slash - k->str;

		if (!len || len >= sizeof(prefix))
			goto bad_key;
		memcpy(prefix, k->str, len);
		prefix[len] = '\0';
		if (!kn_rd_dns_name(prefix, 253, true))
			goto bad_key;
		name = slash + 1;
	}
	if (!kn_rd_label_word(name, strlen(name), false))
		goto bad_key;
	if (!kn_rd_label_word(val, strlen(val), true))
		return kn_yt_error(
			&rd->c, v->line,
			"%s: bad label value '%s' for '%s' (at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
			what, val, k->str);
	return 0;
bad_key:
	return kn_yt_error(
		&rd->c, k->line,
		"%s: bad label key '%s' (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
		what, k->str);
}

/* Labels or a label selector, as Kubernetes would take them. */
static int kn_rd_labels(struct kn_rd *rd, const struct kn_yt_node *v,
			const char *what, struct kn_labels *out)
{
	if (kn_rd_string_values(rd, v, what))
		return -1;
	for (int i = 0; i < v->n; i++)
		if (kn_yt_val(v, i)->type == KN_YT_SCALAR &&
		    kn_rd_label_syntax(rd, kn_yt_key(v, i), kn_yt_val(v, i),
				       what))
			return -1;
	return out ? kn_yt_labels(&rd->c, v, what, out) : 0;
}

/* ------------------------------------------------------------------ */
/* Gateway */

static int kn_rd_gw_port_number(struct kn_rd *rd, const struct kn_yt_node *v,
				void *obj)
{
	return kn_rd_port(rd, v, "number", &((struct kn_gw_server *)obj)->port);
}

static int kn_rd_gw_port_name(struct kn_rd *rd, const struct kn_yt_node *v,
			      void *obj)
{
	struct kn_gw_server *s = obj;

	return kn_yt_string(&rd->c, v, "name", false, &s->port_name);
}

static int kn_rd_gw_port_protocol(struct kn_rd *rd, const struct kn_yt_node *v,
				  void *obj)
{
	struct kn_gw_server *s = obj;

	return kn_yt_string(&rd->c, v, "protocol", false, &s->protocol);
}

static const struct kn_rd_field kn_rd_gw_port_fields[] = {
	KN_USE("number", kn_rd_gw_port_number),
	KN_USE("name", kn_rd_gw_port_name),
	KN_USE("protocol", kn_rd_gw_port_protocol),
	KN_SILENT("targetPort"), /* ServiceEntry's, ignored by Gateways */
	{},
};

static int kn_rd_gw_port(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_gw_server *s = obj;

	if (kn_rd_fields(rd, v, "port", kn_rd_gw_port_fields, KN_RD_UNKNOWN, s))
		return -1;
	if (!s->port)
		return kn_yt_error(&rd->c, v->line, "missing port.number");
	if (!s->protocol)
		return kn_yt_error(&rd->c, v->line, "missing port.protocol");
	return 0;
}

static int kn_rd_gw_hosts(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	struct kn_gw_server *s = obj;

	return kn_yt_strings(&rd->c, v, "hosts", &s->n_hosts, &s->hosts);
}

static const struct kn_rd_field kn_rd_gw_server_fields[] = {
	KN_USE("port", kn_rd_gw_port),
	KN_USE("hosts", kn_rd_gw_hosts),
	KN_SILENT("name"),
	KN_USE("tls", kn_rd_gw_tls),
	KN_WARN("bind", "Istio listens on this address only; kanary serves "
			"the port on each of its VIPs"),
	KN_WARN("defaultEndpoint",
		"Istio forwards the server's traffic to this endpoint; kanary "
		"does not"),
	{},
};

static int kn_rd_gw_server(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_gw_server *s = obj;

	s->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "servers[]", kn_rd_gw_server_fields,
			 KN_RD_UNKNOWN, s))
		return -1;
	if (!s->port)
		return kn_yt_error(&rd->c, v->line, "missing 'port'");
	/* Istio's schema requires hosts: without, no route is exposed. */
	if (!s->n_hosts)
		return kn_yt_error(
			&rd->c, v->line,
			"missing 'hosts' (Istio requires at least one host per server)");
	return 0;
}

static int kn_rd_gw_servers(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_gateway *gw = obj;

	return kn_rd_list(rd, v, "servers", sizeof(*gw->servers),
			  &gw->n_servers, (void **)&gw->servers,
			  kn_rd_gw_server);
}

static int kn_rd_gw_selector(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_gateway *gw = obj;

	return kn_rd_labels(rd, v, "selector", &gw->selector);
}

static const struct kn_rd_field kn_rd_gw_fields[] = {
	KN_USE("selector", kn_rd_gw_selector),
	KN_USE("servers", kn_rd_gw_servers),
	{},
};

static int kn_rd_gateway(struct kn_rd *rd, const struct kn_yt_node *spec,
			 struct kn_resource *r)
{
	if (kn_rd_fields(rd, spec, "spec", kn_rd_gw_fields, KN_RD_UNKNOWN,
			 &r->gw))
		return -1;
	if (!r->gw.n_servers)
		return kn_yt_error(&rd->c, spec->line,
				   "Gateway has no servers");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Service */

static int kn_rd_svc_port_name(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	struct kn_service_port *p = obj;

	return kn_yt_string(&rd->c, v, "name", false, &p->name);
}

static int kn_rd_svc_port_port(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	return kn_rd_port(rd, v, "port",
			  &((struct kn_service_port *)obj)->port);
}

static int kn_rd_svc_target_port(struct kn_rd *rd, const struct kn_yt_node *v,
				 void *obj)
{
	struct kn_service_port *p = obj;
	long long n;

	/* targetPort is an IntOrString: any string names a container port. */
	if (v->type == KN_YT_SCALAR &&
	    (!v->plain || !kn_yt_parse_int(v->str, &n)))
		return kn_yt_error(
			&rd->c, v->line,
			"named targetPort '%s' is not supported (give the port number)",
			v->str);
	return kn_rd_port(rd, v, "targetPort", &p->target_port);
}

/* A value of one of Kubernetes' enums: case matters, as to the server. */
static int kn_rd_enum(struct kn_rd *rd, const struct kn_yt_node *v,
		      const char *what, const char *const *values,
		      const char *said)
{
	if (kn_yt_want(&rd->c, v, KN_YT_SCALAR, what))
		return -1;
	if (!kn_rd_in(v->str, values))
		return kn_yt_error(&rd->c, v->line,
				   "%s: unsupported value '%s' (one of %s)",
				   what, v->str, said);
	return 0;
}

static int kn_rd_svc_port_protocol(struct kn_rd *rd, const struct kn_yt_node *v,
				   void *obj)
{
	static const char *const protocols[] = { "TCP", "UDP", "SCTP", NULL };
	struct kn_service_port *p = obj;

	if (kn_rd_enum(rd, v, "protocol", protocols, "TCP, UDP, SCTP"))
		return -1;
	return kn_yt_string(&rd->c, v, "protocol", false, &p->protocol);
}

static const struct kn_rd_field kn_rd_svc_port_fields[] = {
	KN_USE("name", kn_rd_svc_port_name),
	KN_USE("port", kn_rd_svc_port_port),
	KN_USE("targetPort", kn_rd_svc_target_port),
	KN_USE("protocol", kn_rd_svc_port_protocol),
	KN_SILENT("appProtocol"),
	KN_SILENT("nodePort"),
	{},
};

static int kn_rd_svc_port(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	struct kn_service_port *p = obj;

	p->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "ports[]", kn_rd_svc_port_fields, KN_RD_UNKNOWN,
			 p))
		return -1;
	if (!p->port)
		return kn_yt_error(&rd->c, v->line, "missing 'port'");
	if (!p->target_port)
		p->target_port = p->port;
	if (!p->protocol)
		p->protocol = kn_yt_xstrdup("TCP");
	return 0;
}

static int kn_rd_svc_ports(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_service *svc = obj;

	return kn_rd_list(rd, v, "ports", sizeof(*svc->ports), &svc->n_ports,
			  (void **)&svc->ports, kn_rd_svc_port);
}

static int kn_rd_svc_selector(struct kn_rd *rd, const struct kn_yt_node *v,
			      void *obj)
{
	struct kn_service *svc = obj;

	return kn_rd_labels(rd, v, "selector", &svc->selector);
}

static int kn_rd_svc_type(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	static const char *const types[] = { "ClusterIP", "NodePort",
					     "LoadBalancer", "ExternalName",
					     NULL };

	return kn_rd_enum(rd, v, "type", types,
			  "ClusterIP, NodePort, LoadBalancer, ExternalName");
}

static int kn_rd_svc_affinity(struct kn_rd *rd, const struct kn_yt_node *v,
			      void *obj)
{
	static const char *const affinities[] = { "None", "ClientIP", NULL };

	if (kn_rd_enum(rd, v, "sessionAffinity", affinities, "None, ClientIP"))
		return -1;
	if (!strcmp(v->str, "ClientIP"))
		kn_rd_warn(rd, v->line,
			   "'sessionAffinity: ClientIP' is ignored: Kubernetes "
			   "keeps each client on one endpoint; kanary picks "
			   "the endpoint per connection");
	return 0;
}

static const struct kn_rd_field kn_rd_svc_fields[] = {
	KN_USE("ports", kn_rd_svc_ports),
	KN_USE("selector", kn_rd_svc_selector),
	KN_USE("type", kn_rd_svc_type),
	KN_USE("sessionAffinity", kn_rd_svc_affinity),
	/* How the cluster gives the Service an address and sends outside
	 * traffic to it: not kanary's job. */
	KN_SILENT("clusterIP"),
	KN_SILENT("clusterIPs"),
	KN_SILENT("ipFamilies"),
	KN_SILENT("ipFamilyPolicy"),
	KN_SILENT("externalIPs"),
	KN_SILENT("externalName"),
	KN_SILENT("externalTrafficPolicy"),
	KN_SILENT("internalTrafficPolicy"),
	KN_SILENT("trafficDistribution"),
	KN_SILENT("healthCheckNodePort"),
	KN_SILENT("loadBalancerIP"),
	KN_SILENT("loadBalancerSourceRanges"),
	KN_SILENT("loadBalancerClass"),
	KN_SILENT("allocateLoadBalancerNodePorts"),
	KN_SILENT("publishNotReadyAddresses"),
	KN_SILENT("sessionAffinityConfig"),
	{},
};

/* Kubernetes' own rules for several ports: named, and no repeats. */
static int kn_rd_svc_check_ports(struct kn_rd *rd, struct kn_service *svc)
{
	struct kn_service_port *p, *q;
	int i, j;

	for (i = 0; i < svc->n_ports && svc->n_ports > 1; i++) {
		p = &svc->ports[i];
		if (!p->name)
			return kn_yt_error(
				&rd->c, p->src.line,
				"a Service with several ports must name each of them");
		for (j = 0; j < i; j++) {
			q = &svc->ports[j];
			if (!strcmp(p->name, q->name))
				return kn_yt_error(
					&rd->c, p->src.line,
					"duplicate port name '%s' (first on line %d)",
					p->name, q->src.line);
			if (p->port == q->port &&
			    !strcmp(p->protocol, q->protocol))
				return kn_yt_error(
					&rd->c, p->src.line,
					"duplicate port %u (first on line %d)",
					p->port, q->src.line);
		}
	}
	return 0;
}

static int kn_rd_service(struct kn_rd *rd, const struct kn_yt_node *spec,
			 struct kn_resource *r)
{
	if (kn_rd_fields(rd, spec, "spec", kn_rd_svc_fields, KN_RD_UNKNOWN,
			 &r->svc))
		return -1;
	if (!r->svc.n_ports)
		return kn_yt_error(&rd->c, spec->line, "Service has no ports");
	return kn_rd_svc_check_ports(rd, &r->svc);
}

/* ------------------------------------------------------------------ */
/* DestinationRule */

static int kn_rd_subset_name(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_subset *s = obj;

	return kn_yt_string(&rd->c, v, "name", false, &s->name);
}

static int kn_rd_subset_labels(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	struct kn_subset *s = obj;

	return kn_rd_labels(rd, v, "labels", &s->labels);
}

/*
 * A protobuf Duration as Istio takes it in YAML, Go's time.ParseDuration
 * syntax ("500ms", "2s", "1m30s", "1.5s"), in whole milliseconds: at least
 * 1 ms (Istio's own minimum for these fields) and below 2^31 ms.
 */
static int kn_rd_duration(const struct kn_yt_ctx *c, const struct kn_yt_node *v,
			  const char *what, uint32_t *out_ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {
		/* Longest first: "ms" before "m". */
		{ "ns", 1e-6 }, { "us", 1e-3 },	 { "\u00b5s", 1e-3 },
		{ "ms", 1 },	{ "h", 3600e3 }, { "m", 60e3 },
		{ "s", 1e3 },
	};
	const char *p;
	double total = 0;

	if (kn_yt_want(c, v, KN_YT_SCALAR, what))
		return -1;
	p = v->str;
	if (!*p)
		goto bad;
	while (*p) {
		double num = 0, scale = 1;
		bool digits = false;
		size_t i, len;

		for (; *p >= '0' && *p <= '9'; p++, digits = true)
			num = num * 10 + (*p - '0');
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++, digits = true)
				num += (*p - '0') * (scale /= 10);
		if (!digits)
			goto bad;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			len = strlen(units[i].unit);
			if (!strncmp(p, units[i].unit, len))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			goto bad;
		p += len;
		total += num * units[i].ms;
		if (total >= 2147483648.0)
			return kn_yt_error(
				c, v->line,
				"%s: '%s' is too long (at most 596h)", what,
				v->str);
	}
	if (total < 1)
		return kn_yt_error(c, v->line, "%s: '%s' is below 1ms", what,
				   v->str);
	*out_ms = (uint32_t)total;
	return 0;
bad:
	return kn_yt_error(
		c, v->line,
		"%s: bad duration '%s' (a number and a unit: 500ms, 2s, 1m)",
		what, v->str);
}

static int kn_rd_od_interval(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_outlier *o = obj;

	o->has_interval = true;
	return kn_rd_duration(&rd->c, v, "interval", &o->interval_ms);
}

static int kn_rd_od_count(struct kn_rd *rd, const struct kn_yt_node *v,
			  const char *what, long long max, uint32_t *out)
{
	long long n;

	if (kn_yt_int(&rd->c, v, what, 0, max, &n))
		return -1;
	*out = n;
	return 0;
}

static int kn_rd_od_gateway(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_outlier *o = obj;

	o->has_gateway_errors = true;
	return kn_rd_od_count(rd, v, "consecutiveGatewayErrors", UINT32_MAX,
			      &o->gateway_errors);
}

static int kn_rd_od_5xx(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_outlier *o = obj;

	o->has_5xx_errors = true;
	return kn_rd_od_count(rd, v, "consecutive5xxErrors", UINT32_MAX,
			      &o->errors_5xx);
}

static int kn_rd_od_base(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_outlier *o = obj;

	o->has_base_ejection = true;
	return kn_rd_duration(&rd->c, v, "baseEjectionTime",
			      &o->base_ejection_ms);
}

static int kn_rd_od_max(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_outlier *o = obj;

	o->has_max_ejection = true;
	return kn_rd_od_count(rd, v, "maxEjectionPercent", 100,
			      &o->max_ejection_pct);
}

/*
 * What the active checks take from Istio's passive outlier detection.
 * minHealthPercent (Envoy's panic mode) and the local-origin fields are
 * warned about like every other field kanary does not do.
 */
static const struct kn_rd_field kn_rd_od_fields[] = {
	KN_USE("interval", kn_rd_od_interval),
	KN_USE("consecutiveGatewayErrors", kn_rd_od_gateway),
	KN_USE("consecutive5xxErrors", kn_rd_od_5xx),
	KN_USE("baseEjectionTime", kn_rd_od_base),
	KN_USE("maxEjectionPercent", kn_rd_od_max),
	KN_WARN("minHealthPercent",
		"Istio stops ejecting and uses every endpoint when fewer than "
		"this share are healthy; kanary has no such threshold"),
	KN_WARN("consecutiveErrors",
		"Istio ejects after this many 5xx (the deprecated name of "
		"consecutive5xxErrors); kanary reads consecutive5xxErrors only"),
	KN_WARN("splitExternalLocalOriginErrors", KN_WHY_LOCAL_ORIGIN),
	KN_WARN("consecutiveLocalOriginFailures", KN_WHY_LOCAL_ORIGIN),
	{},
};

static int kn_rd_outlier(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_outlier *o = obj;

	o->set = true;
	o->src = kn_rd_src(rd, v);
	return kn_rd_fields(rd, v, "outlierDetection", kn_rd_od_fields,
			    KN_RD_UNKNOWN, o);
}

/* Only outlierDetection: load balancing, TLS, pools... are Envoy's. */
static const struct kn_rd_field kn_rd_policy_fields[] = {
	KN_USE("outlierDetection", kn_rd_outlier),
	KN_WARN("loadBalancer",
		"Istio balances requests by this policy (LEAST_REQUEST by "
		"default); kanary spreads connections by a Maglev hash"),
	KN_WARN("connectionPool",
		"Istio limits connections and pending requests and rejects "
		"the excess; kanary sets no limits"),
	KN_WARN("tls", "Istio opens TLS (mutual or simple) to the endpoints; "
		       "kanary forwards connections as they are"),
	KN_WARN("portLevelSettings",
		"Istio applies these policies to the ports listed; kanary "
		"does not"),
	KN_WARN("tunnel",
		"Istio tunnels connections to the endpoints; kanary does not"),
	KN_WARN("proxyProtocol", "Istio sends a PROXY protocol header to the "
				 "endpoints; kanary does not"),
	KN_WARN("retryBudget", "Istio caps retries; kanary does not retry"),
	{},
};

static int kn_rd_policy(struct kn_rd *rd, const struct kn_yt_node *v,
			struct kn_outlier *o)
{
	return kn_rd_fields(rd, v, "trafficPolicy", kn_rd_policy_fields,
			    KN_RD_UNKNOWN, o);
}

static int kn_rd_subset_policy(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	return kn_rd_policy(rd, v, &((struct kn_subset *)obj)->outlier);
}

static const struct kn_rd_field kn_rd_subset_fields[] = {
	KN_USE("name", kn_rd_subset_name),
	KN_USE("labels", kn_rd_subset_labels),
	KN_USE("trafficPolicy", kn_rd_subset_policy),
	{},
};

static int kn_rd_subset(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_subset *s = obj;

	s->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "subsets[]", kn_rd_subset_fields, KN_RD_UNKNOWN,
			 s))
		return -1;
	if (!s->name)
		return kn_yt_error(&rd->c, v->line, "missing subset name");
	return 0;
}

static int kn_rd_dr_host(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_destrule *dr = obj;

	return kn_yt_string(&rd->c, v, "host", false, &dr->host);
}

static int kn_rd_dr_subsets(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_destrule *dr = obj;

	return kn_rd_list(rd, v, "subsets", sizeof(*dr->subsets),
			  &dr->n_subsets, (void **)&dr->subsets, kn_rd_subset);
}

static int kn_rd_dr_policy(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	return kn_rd_policy(rd, v, &((struct kn_destrule *)obj)->outlier);
}

static const struct kn_rd_field kn_rd_dr_fields[] = {
	KN_USE("host", kn_rd_dr_host),
	KN_USE("subsets", kn_rd_dr_subsets),
	KN_USE("trafficPolicy", kn_rd_dr_policy),
	KN_WARN("exportTo", KN_WHY_EXPORT),
	KN_WARN("workloadSelector",
		"Istio applies the rule only to the selected workloads; kanary "
		"applies it to every connection it routes"),
	{},
};

static int kn_rd_destrule(struct kn_rd *rd, const struct kn_yt_node *spec,
			  struct kn_resource *r)
{
	if (kn_rd_fields(rd, spec, "spec", kn_rd_dr_fields, KN_RD_UNKNOWN,
			 &r->dr))
		return -1;
	if (!r->dr.host)
		return kn_yt_error(&rd->c, spec->line, "missing 'host'");
	return 0;
}

/* ------------------------------------------------------------------ */
/* VirtualService: matches */

/*
 * An Istio StringMatch: exactly one of exact, prefix, regex. An empty map
 * means "present" where presence makes sense (headers), so the caller
 * says whether it is allowed.
 */
static int kn_rd_strmatch(struct kn_rd *rd, const struct kn_yt_node *v,
			  const char *what, bool presence,
			  struct kn_str_match *m)
{
	static const char *const kinds[] = {
		[KN_MATCH_EXACT] = "exact",
		[KN_MATCH_PREFIX] = "prefix",
		[KN_MATCH_REGEX] = "regex",
	};
	const struct kn_yt_node *k, *val;
	int kind;

	if (kn_yt_want(&rd->c, v, KN_YT_MAP, what))
		return -1;
	m->src = kn_rd_src(rd, v);
	if (!v->n && presence) {
		m->kind = KN_MATCH_PRESENT;
		return 0;
	}
	if (v->n != 1)
		return kn_yt_error(
			&rd->c, v->line,
			"%s: needs exactly one of exact, prefix or regex",
			what);
	k = kn_yt_key(v, 0);
	val = kn_yt_val(v, 0);
	for (kind = KN_MATCH_EXACT; kind <= KN_MATCH_REGEX; kind++)
		if (!strcmp(k->str, kinds[kind]))
			break;
	if (kind > KN_MATCH_REGEX)
		return kn_yt_error(&rd->c, k->line,
				   "%s: '%s' is not supported by kanary", what,
				   k->str);
	/* Matching the empty string is a real condition: "" is kept. */
	if (kn_yt_is_null(val))
		return kn_yt_error(&rd->c, k->line, "%s: missing %s value",
				   what, k->str);
	if (kn_yt_string(&rd->c, val, k->str, true, &m->value))
		return -1;
	m->kind = kind;
	m->src = kn_rd_src(rd, k);
	return 0;
}

static int kn_rd_headers(struct kn_rd *rd, const struct kn_yt_node *v,
			 const char *what, int *n, struct kn_header_match **out)
{
	struct kn_header_match *h;
	const struct kn_yt_node *k;
	char *p;
	int i;

	if (kn_yt_want(&rd->c, v, KN_YT_MAP, what))
		return -1;
	*out = kn_yt_xcalloc(v->n, sizeof(**out));
	*n = v->n;
	for (i = 0; i < v->n; i++) {
		h = &(*out)[i];
		k = kn_yt_key(v, i);
		h->src = kn_rd_src(rd, k);
		if (!*k->str)
			return kn_yt_error(&rd->c, k->line,
					   "%s: empty header name", what);
		/* HTTP header names are case-insensitive: compare lowered. */
		h->name = kn_yt_xstrdup(k->str);
		for (p = h->name; *p; p++)
			*p = tolower((unsigned char)*p);
		if (kn_rd_strmatch(rd, kn_yt_val(v, i), k->str, true,
				   &h->match))
			return -1;
	}
	return 0;
}

static int kn_rd_match_headers(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	struct kn_http_match *m = obj;

	return kn_rd_headers(rd, v, "headers", &m->n_headers, &m->headers);
}

static int kn_rd_match_without(struct kn_rd *rd, const struct kn_yt_node *v,
			       void *obj)
{
	struct kn_http_match *m = obj;

	return kn_rd_headers(rd, v, "withoutHeaders", &m->n_without_headers,
			     &m->without_headers);
}

static int kn_rd_match_uri(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_http_match *m = obj;

	if (kn_rd_strmatch(rd, v, "uri", false, &m->uri))
		return -1;
	m->has_uri = true;
	return 0;
}

static int kn_rd_match_method(struct kn_rd *rd, const struct kn_yt_node *v,
			      void *obj)
{
	struct kn_http_match *m = obj;

	if (kn_rd_strmatch(rd, v, "method", false, &m->method))
		return -1;
	m->has_method = true;
	return 0;
}

static const struct kn_rd_field kn_rd_match_fields[] = {
	KN_USE("headers", kn_rd_match_headers),
	KN_USE("withoutHeaders", kn_rd_match_without),
	KN_USE("uri", kn_rd_match_uri),
	KN_USE("method", kn_rd_match_method),
	KN_SILENT("name"),
	KN_SILENT("statPrefix"),
	/* Conditions kanary cannot check: ignoring one widens the match. */
	KN_REFUSE("scheme", NULL),
	KN_REFUSE("authority", NULL),
	KN_REFUSE("port", NULL),
	KN_REFUSE("sourceLabels", NULL),
	KN_REFUSE("gateways", NULL),
	KN_REFUSE("queryParams", NULL),
	KN_REFUSE("ignoreUriCase", NULL),
	KN_REFUSE("sourceNamespace", NULL),
	{},
};

static int kn_rd_match(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_http_match *m = obj;

	m->src = kn_rd_src(rd, v);
	return kn_rd_fields(rd, v, "match[]", kn_rd_match_fields, KN_RD_REFUSE,
			    m);
}

/* ------------------------------------------------------------------ */
/* VirtualService: routes */

static int kn_rd_dest_host(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_destination *d = obj;

	return kn_yt_string(&rd->c, v, "host", false, &d->host);
}

static int kn_rd_dest_subset(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_destination *d = obj;

	return kn_yt_string(&rd->c, v, "subset", false, &d->subset);
}

static int kn_rd_dest_port_number(struct kn_rd *rd, const struct kn_yt_node *v,
				  void *obj)
{
	return kn_rd_port(rd, v, "number",
			  &((struct kn_destination *)obj)->port);
}

static const struct kn_rd_field kn_rd_dest_port_fields[] = {
	KN_USE("number", kn_rd_dest_port_number),
	{},
};

static int kn_rd_dest_port(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_destination *d = obj;

	if (kn_rd_fields(rd, v, "port", kn_rd_dest_port_fields, KN_RD_UNKNOWN,
			 d))
		return -1;
	if (!d->port)
		return kn_yt_error(&rd->c, v->line, "missing port.number");
	return 0;
}

static const struct kn_rd_field kn_rd_dest_fields[] = {
	KN_USE("host", kn_rd_dest_host),
	KN_USE("subset", kn_rd_dest_subset),
	KN_USE("port", kn_rd_dest_port),
	{},
};

static int kn_rd_destination(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_destination *d = obj;

	/* Validation errors about the destination point here. */
	d->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "destination", kn_rd_dest_fields, KN_RD_UNKNOWN,
			 d))
		return -1;
	if (!d->host)
		return kn_yt_error(&rd->c, v->line, "missing destination.host");
	return 0;
}

static int kn_rd_weight(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_destination *d = obj;
	long long w;

	if (kn_yt_int(&rd->c, v, "weight", LLONG_MIN, LLONG_MAX, &w))
		return -1;
	if (w < 0)
		return kn_yt_error(&rd->c, v->line,
				   "weight must be >= 0 (got %lld)", w);
	if (w > INT32_MAX)
		return kn_yt_error(&rd->c, v->line,
				   "weight %lld is too large (at most %d)", w,
				   INT32_MAX);
	d->weight = w;
	d->has_weight = true;
	return 0;
}

static const struct kn_rd_field kn_rd_route_dest_fields[] = {
	KN_USE("destination", kn_rd_destination),
	KN_USE("weight", kn_rd_weight),
	KN_WARN("headers", KN_WHY_HEADERS),
	{},
};

int kn_rd_route_dest(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_destination *d = obj;

	d->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "route[]", kn_rd_route_dest_fields,
			 KN_RD_UNKNOWN, d))
		return -1;
	if (!d->host && !kn_yt_get(v, "destination"))
		return kn_yt_error(&rd->c, v->line, "missing 'destination'");
	if (!d->host)
		return kn_yt_error(&rd->c, kn_yt_get(v, "destination")->line,
				   "missing destination.host");
	return 0;
}

static int kn_rd_http_match(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_http_route *h = obj;

	return kn_rd_list(rd, v, "match", sizeof(*h->match), &h->n_match,
			  (void **)&h->match, kn_rd_match);
}

static int kn_rd_http_route(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_http_route *h = obj;

	return kn_rd_list(rd, v, "route", sizeof(*h->route), &h->n_route,
			  (void **)&h->route, kn_rd_route_dest);
}

static int kn_rd_http_name(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_http_route *h = obj;

	/* Names the route's counters (kanary stats); free-form, as in Istio,
	 * where "" is the same as no name. */
	if (kn_yt_string(&rd->c, v, "name", true, &h->name))
		return -1;
	if (!*h->name) {
		free(h->name);
		h->name = NULL;
	}
	return 0;
}

static const struct kn_rd_field kn_rd_http_fields[] = {
	KN_USE("name", kn_rd_http_name),
	KN_USE("match", kn_rd_http_match),
	KN_USE("route", kn_rd_http_route),
	KN_REFUSE("redirect", "Istio answers with a redirect and forwards "
			      "nothing; kanary only forwards"),
	KN_REFUSE("directResponse", "Istio answers by itself and forwards "
				    "nothing; kanary only forwards"),
	KN_REFUSE("delegate", "Istio routes by the delegate VirtualService; "
			      "kanary does not follow delegates"),
	KN_WARN("rewrite", "Istio rewrites the path or authority before "
			   "forwarding; kanary forwards the request unchanged"),
	KN_WARN("timeout", "Istio fails the request with a 504 after this "
			   "long; kanary sets no request timeout"),
	KN_WARN("retries",
		"Istio retries failed requests (2 times unless set otherwise); "
		"kanary does not retry"),
	KN_WARN("fault", "Istio injects these delays and aborts; kanary "
			 "does not"),
	KN_WARN("mirror", KN_WHY_MIRROR),
	KN_WARN("mirrors", KN_WHY_MIRROR),
	KN_WARN("mirrorPercentage", KN_WHY_MIRROR),
	KN_WARN("mirrorPercent", KN_WHY_MIRROR),
	KN_WARN("mirror_percent", KN_WHY_MIRROR),
	KN_WARN("corsPolicy", "Istio answers CORS preflights and adds CORS "
			      "headers; kanary does not"),
	KN_WARN("headers", KN_WHY_HEADERS),
	{},
};

static int kn_rd_http(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_http_route *h = obj;

	h->src = kn_rd_src(rd, v);
	if (kn_rd_fields(rd, v, "http[]", kn_rd_http_fields, KN_RD_UNKNOWN, h))
		return -1;
	/* redirect, directResponse and delegate have no route: kanary can't. */
	if (!h->n_route)
		return kn_yt_error(
			&rd->c, v->line,
			"http route without 'route' (kanary only forwards)");
	return 0;
}

static int kn_rd_vs_hosts(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	struct kn_virtualservice *vs = obj;
	const char *why;

	vs->hosts_src = kn_rd_src(rd, v);
	if (kn_yt_strings(&rd->c, v, "hosts", &vs->n_hosts, &vs->hosts))
		return -1;
	/* The L7 path matches them against the request's Host. */
	for (int i = 0; i < vs->n_hosts; i++) {
		why = kn_host_invalid(vs->hosts[i]);
		if (why)
			return kn_yt_error(&rd->c, v->kids[i].line,
					   "bad host '%s': %s", vs->hosts[i],
					   why);
	}
	return 0;
}

static int kn_rd_vs_gateways(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_virtualservice *vs = obj;

	return kn_yt_strings(&rd->c, v, "gateways", &vs->n_gateways,
			     &vs->gateways);
}

static int kn_rd_vs_http(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_virtualservice *vs = obj;

	return kn_rd_list(rd, v, "http", sizeof(*vs->http), &vs->n_http,
			  (void **)&vs->http, kn_rd_http);
}

static const struct kn_rd_field kn_rd_vs_fields[] = {
	KN_USE("hosts", kn_rd_vs_hosts),
	KN_USE("gateways", kn_rd_vs_gateways),
	KN_USE("http", kn_rd_vs_http),
	KN_WARN("tcp", "Istio routes TCP connections by these rules; kanary "
		       "routes by 'http' and 'tls' only"),
	KN_USE("tls", kn_rd_vs_tls),
	KN_WARN("exportTo", KN_WHY_EXPORT),
	{},
};

/*
 * A VirtualService without gateways, or with only "mesh", is for the
 * sidecars (Istio's default) and no gateway serves it: kanary accepts it,
 * says so here and in `status`, and serves nothing for it. Not when
 * reading the saved state: it was said when it was applied.
 */
static void kn_rd_vs_unserved(struct kn_rd *rd, const struct kn_yt_node *spec,
			      const struct kn_resource *r)
{
	const struct kn_yt_node *g = kn_yt_get(spec, "gateways");

	if (rd->origins || r->kind != KN_VIRTUALSERVICE)
		return;
	for (int i = 0; i < r->vs.n_gateways; i++)
		if (strcmp(r->vs.gateways[i], "mesh"))
			return;
	if (r->vs.n_gateways)
		kn_rd_warn(rd, g ? g->line : r->src.line,
			   "VirtualService %s binds only 'mesh' (Istio's "
			   "sidecars); kanary serves Gateways, so nothing "
			   "serves it: not served",
			   r->name);
	else
		kn_rd_warn(rd, r->src.line,
			   "VirtualService %s has no 'gateways' (Istio applies "
			   "it to the sidecars, 'mesh'); kanary serves "
			   "Gateways, so nothing serves it: not served (add "
			   "gateways: [NAME] to serve it)",
			   r->name);
}

static int kn_rd_virtualservice(struct kn_rd *rd, const struct kn_yt_node *spec,
				struct kn_resource *r)
{
	if (kn_rd_fields(rd, spec, "spec", kn_rd_vs_fields, KN_RD_UNKNOWN,
			 &r->vs))
		return -1;
	if (!r->vs.n_http && !r->vs.n_tls)
		return kn_yt_error(
			&rd->c, spec->line,
			"no 'http' or 'tls' routes (kanary routes HTTP, and TLS "
			"by SNI, only)");
	return 0;
}

/* ------------------------------------------------------------------ */
/* WorkloadEntry */

static int kn_rd_we_address(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_workloadentry *we = obj;
	struct in_addr a;

	if (kn_yt_string(&rd->c, v, "address", false, &we->address))
		return -1;
	/* Endpoints are rewritten into IPv4 headers: nothing else will do. */
	if (inet_pton(AF_INET, we->address, &a) != 1)
		return kn_yt_error(
			&rd->c, v->line,
			"bad address '%s' (kanary needs a dotted IPv4 address)",
			we->address);
	/* Addresses no endpoint can have: this host, loopback, multicast,
	 * reserved and broadcast. */
	{
		uint32_t h = ntohl(a.s_addr);

		if ((h >> 24) == 0 || (h >> 24) == 127 || h >= 0xe0000000)
			return kn_yt_error(&rd->c, v->line,
					   "bad address '%s' (not a unicast "
					   "address an endpoint can have)",
					   we->address);
	}
	we->addr = a.s_addr;
	return 0;
}

static int kn_rd_we_labels(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_workloadentry *we = obj;

	return kn_rd_labels(rd, v, "labels", &we->labels);
}

static int kn_rd_we_ports(struct kn_rd *rd, const struct kn_yt_node *v,
			  void *obj)
{
	struct kn_workloadentry *we = obj;
	struct kn_we_port *p;
	int i;

	if (kn_yt_want(&rd->c, v, KN_YT_MAP, "ports"))
		return -1;
	we->ports = kn_yt_xcalloc(v->n, sizeof(*we->ports));
	we->n_ports = v->n;
	for (i = 0; i < v->n; i++) {
		p = &we->ports[i];
		p->name = kn_yt_xstrdup(kn_yt_key(v, i)->str);
		if (kn_rd_port(rd, kn_yt_val(v, i), p->name, &p->port))
			return -1;
	}
	return 0;
}

static const struct kn_rd_field kn_rd_we_fields[] = {
	KN_USE("address", kn_rd_we_address),
	KN_USE("labels", kn_rd_we_labels),
	KN_USE("ports", kn_rd_we_ports),
	KN_WARN("network", "Istio reaches the endpoint through its network's "
			   "gateway; kanary sends to the address directly"),
	KN_WARN("locality", "Istio prefers endpoints in the client's "
			    "locality; kanary does not"),
	KN_WARN("weight", "Istio gives the endpoint this share of its "
			  "service's traffic; kanary gives each endpoint an "
			  "equal share"),
	KN_SILENT("serviceAccount"), /* the identity for mTLS */
	{},
};

static int kn_rd_workloadentry(struct kn_rd *rd, const struct kn_yt_node *spec,
			       struct kn_resource *r)
{
	if (kn_rd_fields(rd, spec, "spec", kn_rd_we_fields, KN_RD_UNKNOWN,
			 &r->we))
		return -1;
	if (!r->we.address)
		return kn_yt_error(&rd->c, spec->line, "missing 'address'");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Resources and documents */

/* Kubernetes names: DNS-1123 subdomains, namespaces DNS-1123 labels. */
static bool kn_rd_dns_name(const char *s, size_t max, bool dots)
{
	size_t len = strlen(s), i;
	char ch;

	if (!len || len > max)
		return false;
	for (i = 0; i < len; i++) {
		ch = s[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
			continue;
		if ((ch != '-' && !(dots && ch == '.')) || !i || i == len - 1)
			return false;
	}
	return true;
}

static int kn_rd_meta_name(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_resource *r = obj;

	if (kn_yt_string(&rd->c, v, "name", true, &r->name))
		return -1;
	if (!kn_rd_dns_name(r->name, 253, true))
		return kn_yt_error(
			&rd->c, v->line,
			"bad name '%s' (lower-case letters, digits, '-' and '.')",
			r->name);
	return 0;
}

static int kn_rd_meta_namespace(struct kn_rd *rd, const struct kn_yt_node *v,
				void *obj)
{
	struct kn_resource *r = obj;

	if (kn_yt_string(&rd->c, v, "namespace", true, &r->ns))
		return -1;
	if (!kn_rd_dns_name(r->ns, 63, false))
		return kn_yt_error(
			&rd->c, v->line,
			"bad namespace '%s' (lower-case letters, digits and '-')",
			r->ns);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Annotations: health.kanary.io/ on a DestinationRule */

#define KN_HEALTH_PREFIX "health.kanary.io/"

static int kn_rd_hc_path(struct kn_rd *rd, const struct kn_yt_node *v,
			 void *obj)
{
	struct kn_health_check *hc = obj;

	if (kn_yt_string(&rd->c, v, KN_HEALTH_PREFIX "http-path", false,
			 &hc->http_path))
		return -1;
	/* It becomes the request line: no blanks, no control bytes. */
	for (const char *p = hc->http_path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return kn_yt_error(&rd->c, v->line,
					   KN_HEALTH_PREFIX
					   "http-path: '%s' has a blank or a "
					   "control character",
					   hc->http_path);
	if (hc->http_path[0] != '/')
		return kn_yt_error(&rd->c, v->line,
				   KN_HEALTH_PREFIX
				   "http-path: '%s' does not start with '/'",
				   hc->http_path);
	return 0;
}

static int kn_rd_hc_expect(struct kn_rd *rd, const struct kn_yt_node *v,
			   void *obj)
{
	struct kn_health_check *hc = obj;

	return kn_yt_string(&rd->c, v, KN_HEALTH_PREFIX "http-expect", false,
			    &hc->http_expect);
}

static int kn_rd_hc_timeout(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_health_check *hc = obj;

	return kn_rd_duration(&rd->c, v, KN_HEALTH_PREFIX "timeout",
			      &hc->timeout_ms);
}

/* Annotation values are strings in Kubernetes: "3" and 3 alike. */
static int kn_rd_hc_healthy(struct kn_rd *rd, const struct kn_yt_node *v,
			    void *obj)
{
	struct kn_health_check *hc = obj;
	long long n;

	if (kn_yt_want(&rd->c, v, KN_YT_SCALAR,
		       KN_HEALTH_PREFIX "healthy-threshold"))
		return -1;
	if (!kn_yt_parse_int(v->str, &n) || n < 1 || n > 1000000)
		return kn_yt_error(&rd->c, v->line,
				   KN_HEALTH_PREFIX "healthy-threshold: '%s' "
						    "is not a count of checks "
						    "(1 or more)",
				   v->str);
	hc->healthy_threshold = n;
	return 0;
}

static int kn_rd_hc_fallback(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	struct kn_health_check *hc = obj;

	if (kn_yt_want(&rd->c, v, KN_YT_SCALAR, KN_HEALTH_PREFIX "fallback"))
		return -1;
	if (strcmp(v->str, "true") && strcmp(v->str, "false"))
		return kn_yt_error(&rd->c, v->line,
				   KN_HEALTH_PREFIX
				   "fallback: '%s' is neither \"true\" nor "
				   "\"false\"",
				   v->str);
	hc->fallback = !strcmp(v->str, "true");
	return 0;
}

static const struct kn_rd_field kn_rd_hc_fields[] = {
	KN_USE(KN_HEALTH_PREFIX "http-path", kn_rd_hc_path),
	KN_USE(KN_HEALTH_PREFIX "http-expect", kn_rd_hc_expect),
	KN_USE(KN_HEALTH_PREFIX "timeout", kn_rd_hc_timeout),
	KN_USE(KN_HEALTH_PREFIX "healthy-threshold", kn_rd_hc_healthy),
	KN_USE(KN_HEALTH_PREFIX "fallback", kn_rd_hc_fallback),
	{},
};

/*
 * Annotations are how Kubernetes attaches a vendor's settings to a
 * resource; Istio ignores ours. Other annotations are silently someone
 * else's; a health.kanary.io/ key kanary does not know is a typo worth a
 * warning, as is one on a resource that is not a DestinationRule.
 */
static int kn_rd_meta_annotations(struct kn_rd *rd, const struct kn_yt_node *v,
				  void *obj)
{
	struct kn_resource *r = obj;
	const struct kn_rd_field *f;
	const struct kn_yt_node *k;

	if (kn_rd_string_values(rd, v, "annotations"))
		return -1;
	for (int i = 0; i < v->n; i++) {
		k = kn_yt_key(v, i);
		if (strncmp(k->str, KN_HEALTH_PREFIX, strlen(KN_HEALTH_PREFIX)))
			continue;
		for (f = kn_rd_hc_fields; f->key && strcmp(f->key, k->str); f++)
			;
		if (!f->key || r->kind != KN_DESTINATIONRULE) {
			kn_rd_warn(
				rd, k->line, "'%s' is ignored by kanary%s",
				k->str,
				f->key ? " (it belongs on a DestinationRule)" :
					 "");
			continue;
		}
		if (!kn_yt_is_null(kn_yt_val(v, i)) &&
		    f->fn(rd, kn_yt_val(v, i), &r->dr.check))
			return -1;
	}
	return 0;
}

static int kn_rd_meta_labels(struct kn_rd *rd, const struct kn_yt_node *v,
			     void *obj)
{
	return kn_rd_labels(rd, v, "labels", NULL);
}

/* ObjectMeta: what kubectl writes back is Kubernetes' business. */
static const struct kn_rd_field kn_rd_meta_fields[] = {
	KN_USE("name", kn_rd_meta_name),
	KN_USE("namespace", kn_rd_meta_namespace),
	KN_USE("annotations", kn_rd_meta_annotations),
	KN_USE("labels", kn_rd_meta_labels),
	KN_SILENT("generateName"),
	KN_SILENT("uid"),
	KN_SILENT("resourceVersion"),
	KN_SILENT("generation"),
	KN_SILENT("creationTimestamp"),
	KN_SILENT("deletionTimestamp"),
	KN_SILENT("deletionGracePeriodSeconds"),
	KN_SILENT("ownerReferences"),
	KN_SILENT("finalizers"),
	KN_SILENT("managedFields"),
	KN_SILENT("selfLink"),
	{},
};

static int kn_rd_meta(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	return kn_rd_fields(rd, v, "metadata", kn_rd_meta_fields, KN_RD_UNKNOWN,
			    obj);
}

static int kn_rd_spec(struct kn_rd *rd, const struct kn_yt_node *v, void *obj)
{
	struct kn_resource *r = obj;

	switch (r->kind) {
	case KN_GATEWAY:
		return kn_rd_gateway(rd, v, r);
	case KN_SERVICE:
		return kn_rd_service(rd, v, r);
	case KN_DESTINATIONRULE:
		return kn_rd_destrule(rd, v, r);
	case KN_VIRTUALSERVICE:
		return kn_rd_virtualservice(rd, v, r);
	case KN_WORKLOADENTRY:
		return kn_rd_workloadentry(rd, v, r);
	default:
		return kn_yt_error(&rd->c, v->line, "unknown kind");
	}
}

static const struct kn_rd_field kn_rd_top_fields[] = {
	KN_SILENT("apiVersion"),
	KN_SILENT("kind"),
	KN_USE("metadata", kn_rd_meta),
	KN_USE("spec", kn_rd_spec),
	KN_SILENT("status"),
	{},
};

static struct kn_resource *kn_rd_new_resource(struct kn_config *cfg)
{
	struct kn_resource *r;

	kn_config_index_drop(cfg);
	cfg->res = kn_yt_xreallocarray(cfg->res, cfg->n_res + 1,
				       sizeof(*cfg->res));
	r = &cfg->res[cfg->n_res++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Remember name in cfg, once: kn_src points at the config's own copy. */
static const char *kn_rd_add_file(struct kn_config *cfg, const char *name)
{
	for (int i = cfg->n_files - 1; i >= 0; i--)
		if (!strcmp(cfg->files[i], name))
			return cfg->files[i];
	cfg->files = kn_yt_xreallocarray(cfg->files, cfg->n_files + 1,
					 sizeof(*cfg->files));
	cfg->files[cfg->n_files] = kn_yt_xstrdup(name);
	return cfg->files[cfg->n_files++];
}

struct kn_rd_origin {
	const char *file; /* owned by the scratch config */
	const char *lines; /* "12 0 14 ...", one per kn_src */
	int n; /* kn_srcs seen */
	bool bad;
};

static void kn_rd_count_src(struct kn_src *src, void *arg)
{
	((struct kn_rd_origin *)arg)->n++;
}

static void kn_rd_origin_src(struct kn_src *src, void *arg)
{
	struct kn_rd_origin *o = arg;
	char *end;
	long line;

	line = strtol(o->lines, &end, 10);
	o->lines = end;
	if (line > 0 && line <= INT_MAX) {
		src->file = o->file;
		src->line = line;
	}
}

/*
 * A resource of the saved config (kn_config_write_state) gets back the
 * file and lines it was applied from. When the lines do not fit the
 * resource (a hand-edited file), it keeps the saved file's.
 */
static void kn_rd_origin(struct kn_rd *rd, const struct kn_yt_node *root,
			 struct kn_resource *r)
{
	const struct kn_yt_node *ann, *file, *lines;
	struct kn_rd_origin o = { 0 };
	const char *p;
	int words = 0;

	ann = kn_yt_get(kn_yt_get(root, "metadata"), "annotations");
	file = kn_yt_get(ann, KN_SOURCE_ANNOTATION);
	lines = kn_yt_get(ann, KN_SOURCE_LINES_ANNOTATION);
	if (!file || !lines || file->type != KN_YT_SCALAR ||
	    lines->type != KN_YT_SCALAR || !*file->str)
		return;
	for (p = lines->str; *p; p++) {
		if (!isdigit((unsigned char)*p) && *p != ' ')
			return;
		words += isdigit((unsigned char)*p) &&
			 (p == lines->str || p[-1] == ' ');
	}
	kn_resource_srcs(r, kn_rd_count_src, &o);
	if (o.n != words)
		return;
	o.file = kn_rd_add_file(rd->cfg, file->str);
	o.lines = lines->str;
	kn_resource_srcs(r, kn_rd_origin_src, &o);
}

/*
 * The resource lives in the scratch config from the start, so whatever a
 * failed read leaves in it is freed with that config.
 */
static int kn_rd_resource(struct kn_rd *rd, const struct kn_yt_node *root,
			  enum kn_kind kind)
{
	const struct kn_yt_node *meta = kn_yt_get(root, "metadata");
	struct kn_resource *r = kn_rd_new_resource(rd->cfg);

	r->kind = kind;
	r->src = kn_rd_src(rd, root);
	rd->schema = kind == KN_SERVICE ? "Kubernetes'" : "Istio's";
	if (kn_rd_fields(rd, root, "document", kn_rd_top_fields, KN_RD_UNKNOWN,
			 r))
		return -1;
	if (!r->name)
		return kn_yt_error(&rd->c, meta ? meta->line : root->line,
				   "missing metadata.name");
	if (!kn_yt_get(root, "spec") || kn_yt_is_null(kn_yt_get(root, "spec")))
		return kn_yt_error(&rd->c, root->line, "%s %s: missing 'spec'",
				   kn_kind_name(kind), r->name);
	if (!r->ns)
		r->ns = kn_yt_xstrdup("default");
	kn_rd_vs_unserved(rd, kn_yt_get(root, "spec"), r);
	if (rd->origins)
		kn_rd_origin(rd, root, r);
	return 0;
}

/*
 * The kinds of the Kubernetes core group (apiVersion: v1) and of Istio's
 * API groups, with the versions each is served in (Istio 1.22 and later).
 * A document in one of these groups with another kind or version is one
 * the API server would refuse: an error here, not a skipped document.
 */
struct kn_rd_api {
	const char *group;
	const char *kind;
	const char *versions[4];
};

#define KN_ISTIO_NET_VERSIONS               \
	{                                   \
		"v1alpha3", "v1beta1", "v1" \
	}

static const struct kn_rd_api kn_rd_apis[] = {
	{ "", "Binding", { "v1" } },
	{ "", "ComponentStatus", { "v1" } },
	{ "", "ConfigMap", { "v1" } },
	{ "", "Endpoints", { "v1" } },
	{ "", "Event", { "v1" } },
	{ "", "LimitRange", { "v1" } },
	{ "", "Namespace", { "v1" } },
	{ "", "Node", { "v1" } },
	{ "", "PersistentVolume", { "v1" } },
	{ "", "PersistentVolumeClaim", { "v1" } },
	{ "", "Pod", { "v1" } },
	{ "", "PodTemplate", { "v1" } },
	{ "", "ReplicationController", { "v1" } },
	{ "", "ResourceQuota", { "v1" } },
	{ "", "Secret", { "v1" } },
	{ "", "Service", { "v1" } },
	{ "", "ServiceAccount", { "v1" } },
	{ "networking.istio.io", "DestinationRule", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "Gateway", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "ServiceEntry", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "Sidecar", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "VirtualService", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "WorkloadEntry", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "WorkloadGroup", KN_ISTIO_NET_VERSIONS },
	{ "networking.istio.io", "EnvoyFilter", { "v1alpha3" } },
	{ "networking.istio.io", "ProxyConfig", { "v1beta1" } },
	{ "security.istio.io", "AuthorizationPolicy", { "v1beta1", "v1" } },
	{ "security.istio.io", "PeerAuthentication", { "v1beta1", "v1" } },
	{ "security.istio.io", "RequestAuthentication", { "v1beta1", "v1" } },
	{ "telemetry.istio.io", "Telemetry", { "v1alpha1", "v1" } },
	{ "extensions.istio.io", "WasmPlugin", { "v1alpha1" } },
};

#define KN_RD_N_APIS (sizeof(kn_rd_apis) / sizeof(kn_rd_apis[0]))

/* Groups under istio.io that belong to Istio's installers: not checked. */
static const char *const kn_rd_istio_other[] = {
	"install.istio.io",
	"operator.istio.io",
	NULL,
};

static bool kn_rd_has_suffix(const char *s, const char *suffix);

/* Whose rules a group follows: checked, skipped or anybody's. */
static bool kn_rd_checked_group(const char *group)
{
	return !*group || ((!strcmp(group, "istio.io") ||
			    kn_rd_has_suffix(group, ".istio.io")) &&
			   !kn_rd_in(group, kn_rd_istio_other));
}

/* "networking.istio.io/v1alpha3, v1beta1 or v1", "v1" */
static void kn_rd_versions(const struct kn_rd_api *a, char *buf, size_t size)
{
	const char *sep;
	size_t off;
	int i, n = 0;

	while (n < 4 && a->versions[n])
		n++;
	off = snprintf(buf, size, "%s%s", a->group, *a->group ? "/" : "");
	for (i = 0; i < n && off < size; i++) {
		sep = i + 1 == n ? "" : i + 2 == n ? " or " : ", ";
		off += snprintf(buf + off, size - off, "%s%s", a->versions[i],
				sep);
	}
}

/* An unknown kind in group: say which one was meant, if it is clear. */
static int kn_rd_unknown_kind(struct kn_rd *rd, const struct kn_yt_node *kn,
			      const char *group, const char *api)
{
	const struct kn_rd_api *a, *same = NULL, *other = NULL;
	char where[128];
	size_t i;

	for (i = 0; i < KN_RD_N_APIS; i++) {
		a = &kn_rd_apis[i];
		if (!strcasecmp(a->kind, kn->str) && !strcmp(a->group, group))
			same = a;
		else if (!strcmp(a->kind, kn->str))
			other = a;
	}
	if (same)
		return kn_yt_error(&rd->c, kn->line,
				   "no kind '%s' in %s (did you mean %s?)",
				   kn->str, api, same->kind);
	if (other) {
		kn_rd_versions(other, where, sizeof(where));
		return kn_yt_error(&rd->c, kn->line,
				   "no kind '%s' in %s (%s is in %s)", kn->str,
				   api, other->kind, where);
	}
	return kn_yt_error(&rd->c, kn->line, "no kind '%s' in %s", kn->str,
			   api);
}

/* What kind of resource (apiVersion, kind) is: -1 to skip, -2 on error. */
static int kn_rd_kind(struct kn_rd *rd, const struct kn_yt_node *api,
		      const struct kn_yt_node *kn)
{
	const struct kn_rd_api *a = NULL;
	const char *slash = strchr(api->str, '/'), *version;
	char group[256], where[128];
	size_t i, len;
	int k;

	if (!slash && strchr(api->str, '.')) {
		kn_yt_error(&rd->c, api->line,
			    "apiVersion '%s' has no version (group/version)",
			    api->str);
		return -2;
	}
	len = slash ? (size_t)(slash - api->str) : 0;
	version = slash ? slash + 1 : api->str;
	if (len >= sizeof(group) || (slash && (!len || !*version))) {
		kn_yt_error(&rd->c, api->line, "bad apiVersion '%s'", api->str);
		return -2;
	}
	memcpy(group, api->str, len);
	group[len] = '\0';
	for (k = 0; k < KN_KIND_MAX; k++)
		if (!strcmp(kn->str, kn_kind_name(k)))
			break;
	if (!kn_rd_checked_group(group))
		return -1;
	for (i = 0; i < KN_RD_N_APIS && !a; i++)
		if (!strcmp(kn_rd_apis[i].group, group) &&
		    !strcmp(kn_rd_apis[i].kind, kn->str))
			a = &kn_rd_apis[i];
	if (!a) {
		for (i = 0; i < KN_RD_N_APIS; i++)
			if (!strcmp(kn_rd_apis[i].group, group))
				break;
		if (i == KN_RD_N_APIS)
			kn_yt_error(
				&rd->c, api->line,
				"unknown API group '%s' (Istio's are "
				"networking.istio.io, security.istio.io, "
				"telemetry.istio.io and extensions.istio.io)",
				group);
		else
			kn_rd_unknown_kind(rd, kn, group, api->str);
		return -2;
	}
	for (i = 0; i < 4 && a->versions[i]; i++)
		if (!strcmp(version, a->versions[i]))
			return k < KN_KIND_MAX ? k : -1;
	kn_rd_versions(a, where, sizeof(where));
	kn_yt_error(&rd->c, api->line,
		    "unsupported apiVersion '%s' for %s (want %s)", api->str,
		    kn->str, where);
	return -2;
}

static void kn_rd_skip(struct kn_rd *rd, const struct kn_yt_node *root,
		       const char *api, const char *kind)
{
	const struct kn_yt_node *name;
	bool ours = false;
	int k;

	name = kn_yt_get(kn_yt_get(root, "metadata"), "name");
	if (name && name->type != KN_YT_SCALAR)
		name = NULL;
	/*
	 * A Knative Service or a Gateway API Gateway is not the one kanary
	 * reads: name the apiVersion so the notice is not a riddle.
	 */
	for (k = 0; k < KN_KIND_MAX; k++)
		ours |= !strcmp(kind, kn_kind_name(k));
	fprintf(stderr,
		"kanary: %s:%d: skipping %s%s%s%s%s (not used for routing)\n",
		rd->c.file, root->line, ours ? api : "", ours ? " " : "", kind,
		name ? " " : "", name ? name->str : "");
}

static int kn_rd_doc(struct kn_rd *rd, const struct kn_yt_node *root);

/* kubectl's "kind: List": the resources are in items. */
static int kn_rd_items(struct kn_rd *rd, const struct kn_yt_node *root)
{
	const struct kn_yt_node *items = kn_yt_get(root, "items");
	int i;

	if (!items || kn_yt_is_null(items))
		return 0;
	if (kn_yt_want(&rd->c, items, KN_YT_SEQ, "items"))
		return -1;
	for (i = 0; i < items->n; i++) {
		if (kn_yt_is_null(&items->kids[i]))
			return kn_yt_want(&rd->c, &items->kids[i], KN_YT_MAP,
					  "items[]");
		if (kn_rd_doc(rd, &items->kids[i]))
			return -1;
	}
	return 0;
}

static int kn_rd_doc(struct kn_rd *rd, const struct kn_yt_node *root)
{
	const struct kn_yt_node *api, *kind;
	int k;

	if (kn_yt_is_null(root))
		return 0;
	if (root->type != KN_YT_MAP)
		return kn_yt_want(&rd->c, root, KN_YT_MAP, "document");
	api = kn_yt_get(root, "apiVersion");
	kind = kn_yt_get(root, "kind");
	if (!api || kn_yt_is_null(api))
		return kn_yt_error(&rd->c, root->line, "missing 'apiVersion'");
	if (!kind || kn_yt_is_null(kind))
		return kn_yt_error(&rd->c, root->line, "missing 'kind'");
	if (kn_yt_want(&rd->c, api, KN_YT_SCALAR, "apiVersion") ||
	    kn_yt_want(&rd->c, kind, KN_YT_SCALAR, "kind"))
		return -1;
	if (!strcmp(api->str, "v1") && !strcmp(kind->str, "List"))
		return kn_rd_items(rd, root);
	k = kn_rd_kind(rd, api, kind);
	if (k == -2)
		return -1;
	if (k < 0) {
		kn_rd_skip(rd, root, api->str, kind->str);
		return 0;
	}
	return kn_rd_resource(rd, root, k);
}

static int kn_rd_too_big(struct kn_err *err, const char *name, size_t max)
{
	return kn_err_set(err,
			  "%s: larger than %zu MiB, the most kanary reads "
			  "from one file",
			  name, max >> 20);
}

/*
 * The saved state is kanary's own file, in its state dir: as big as all
 * the files it was applied from together, each of them within
 * KN_CONFIG_MAX_INPUT. A generous bound all the same, so that nothing
 * read grows without end.
 */
#define KN_RD_STATE_MAX ((size_t)1 << 30)

static int kn_rd_buffer(struct kn_config *tmp, const char *name,
			const char *buf, size_t len, bool origins, size_t max,
			struct kn_err *err)
{
	struct kn_rd rd = { .cfg = tmp,
			    .c = { .err = err },
			    .origins = origins };
	struct kn_yt_stream st;
	int i, ret = 0;

	if (len > max)
		return kn_rd_too_big(err, name, max);
	rd.c.file = kn_rd_add_file(tmp, name);
	if (kn_yt_load(&st, &rd.c, buf, len))
		return -1;
	/* Zero bytes, blanks or only comments: surely not what was meant. */
	if (!st.n_docs) {
		kn_yt_stream_free(&st);
		return kn_yt_error(&rd.c, 1, "empty input");
	}
	for (i = 0; i < st.n_docs && !ret; i++)
		ret = kn_rd_doc(&rd, &st.docs[i]);
	kn_yt_stream_free(&st);
	return ret;
}

int kn_config_read_buffer(struct kn_config *cfg, const char *name,
			  const char *buf, size_t len, struct kn_err *err)
{
	struct kn_config tmp = { 0 };
	struct kn_err dummy;
	int ret;

	ret = kn_rd_buffer(&tmp, name, buf, len, false, KN_CONFIG_MAX_INPUT,
			   err ? err : &dummy);
	if (!ret)
		kn_config_append(cfg, &tmp);
	kn_config_free(&tmp);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Files, directories, stdin */

static int kn_rd_sys_error(struct kn_err *err, const char *path,
			   const char *what)
{
	snprintf(err->msg, sizeof(err->msg), "%s: %s%s%s", path,
		 what ? what : "", what ? ": " : "", strerror(errno));
	return -1;
}

/*
 * Read all of fd, at most max bytes: /dev/zero on stdin or a file still
 * being written must not grow the buffer without end.
 */
static int kn_rd_fd(struct kn_config *tmp, const char *name, int fd,
		    bool origins, size_t max, struct kn_err *err)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	ssize_t n;
	int ret;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = kn_yt_xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return kn_rd_sys_error(err, name, "read");
		}
		if (!n)
			break;
		len += n;
		if (len > max) {
			free(buf);
			return kn_rd_too_big(err, name, max);
		}
	}
	ret = kn_rd_buffer(tmp, name, buf, len, origins, max, err);
	free(buf);
	return ret;
}

/* "a FIFO", for "not a regular file (a FIFO)". */
static const char *kn_rd_file_type(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISDIR(mode))
		return "a directory";
	return "not a file";
}

/*
 * Regular files only: a FIFO would block until a writer comes, a device
 * like /dev/zero never ends. O_NONBLOCK keeps open() itself from waiting
 * for a FIFO's writer; the type is checked on what was opened, not on a
 * name that may have changed since.
 */
static int kn_rd_file(struct kn_config *tmp, const char *path, bool origins,
		      size_t max, struct kn_err *err)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return kn_rd_sys_error(err, path, NULL);
	if (fstat(fd, &st)) {
		ret = kn_rd_sys_error(err, path, NULL);
	} else if (!S_ISREG(st.st_mode)) {
		ret = kn_err_set(err,
				 "%s: not a regular file (%s); give a file, a "
				 "directory, or - for standard input",
				 path, kn_rd_file_type(st.st_mode));
	} else if ((uintmax_t)st.st_size > max) {
		ret = kn_rd_too_big(err, path, max);
	} else {
		ret = kn_rd_fd(tmp, path, fd, origins, max, err);
	}
	close(fd);
	return ret;
}

static bool kn_rd_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls > lx && !strcmp(s + ls - lx, suffix);
}

/* Hidden files are editors' swap and backup files, not manifests. */
int kn_config_yaml_entry(const struct dirent *d)
{
	return d->d_name[0] != '.' && (kn_rd_has_suffix(d->d_name, ".yaml") ||
				       kn_rd_has_suffix(d->d_name, ".yml"));
}

/* Byte order, not the locale's: the same directory reads the same way. */
int kn_config_name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int kn_rd_dir_entry(struct kn_config *tmp, const char *path, int *files,
			   struct kn_err *err)
{
	struct stat st;

	if (stat(path, &st))
		return kn_rd_sys_error(err, path, NULL);
	/* Not recursive: a sub-directory is not a manifest. */
	if (S_ISDIR(st.st_mode))
		return 0;
	(*files)++;
	return kn_rd_file(tmp, path, false, KN_CONFIG_MAX_INPUT, err);
}

static int kn_rd_dir(struct kn_config *tmp, const char *dir, struct kn_err *err)
{
	struct dirent **names;
	bool slash = kn_rd_has_suffix(dir, "/");
	int i, n, ret = 0, files = 0;
	char *path;
	size_t len;

	n = scandir(dir, &names, kn_config_yaml_entry, kn_config_name_order);
	if (n < 0)
		return kn_rd_sys_error(err, dir, NULL);
	for (i = 0; i < n; i++) {
		/* After an error the names are only freed. */
		if (!ret) {
			len = strlen(dir) + strlen(names[i]->d_name) + 2;
			path = kn_yt_xcalloc(len, 1);
			snprintf(path, len, "%s%s%s", dir, slash ? "" : "/",
				 names[i]->d_name);
			ret = kn_rd_dir_entry(tmp, path, &files, err);
			free(path);
		}
		free(names[i]);
	}
	free(names);
	if (!ret && !files) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: no *.yaml or *.yml files", dir);
		ret = -1;
	}
	return ret;
}

int kn_config_read_path(struct kn_config *cfg, const char *path,
			struct kn_err *err)
{
	struct kn_config tmp = { 0 };
	struct kn_err dummy;
	struct stat st;
	int ret;

	if (!err)
		err = &dummy;
	if (!strcmp(path, "-"))
		ret = kn_rd_fd(&tmp, "<stdin>", STDIN_FILENO, false,
			       KN_CONFIG_MAX_INPUT, err);
	else if (stat(path, &st))
		ret = kn_rd_sys_error(err, path, NULL);
	else if (S_ISDIR(st.st_mode))
		ret = kn_rd_dir(&tmp, path, err);
	else
		ret = kn_rd_file(&tmp, path, false, KN_CONFIG_MAX_INPUT, err);
	if (!ret)
		kn_config_append(cfg, &tmp);
	kn_config_free(&tmp);
	return ret;
}

int kn_config_read_state(struct kn_config *cfg, const char *path,
			 struct kn_err *err)
{
	struct kn_config tmp = { 0 };
	int ret;

	ret = kn_rd_file(&tmp, path, true, KN_RD_STATE_MAX, err);
	if (!ret)
		kn_config_append(cfg, &tmp);
	kn_config_free(&tmp);
	return ret;
}
